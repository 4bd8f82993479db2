"""Demo data for feeds, called by scheduler.demo.seed_demo inside its transaction."""

from __future__ import annotations


def seed(users: dict) -> None:
    """users: e-mail → User of the demo people (see scheduler/demo.py)."""
