"""Consultation hours: models."""
