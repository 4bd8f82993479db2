"""Delivery: models."""
