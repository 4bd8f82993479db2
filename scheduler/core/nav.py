"""The main navigation, filled by each domain when its blueprint is registered."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy translated string
    roles: tuple[str, ...] = ()  # empty: everyone signed in
    description: object = ""
    order: int = 50


def add_nav(app, item: NavItem) -> None:
    items = app.extensions.setdefault("nav_items", [])
    items.append(item)
    items.sort(key=lambda i: i.order)


def nav_for_current_user() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    return [
        i for i in current_app.extensions.get("nav_items", [])
        if not i.roles or current_user.has_role(*i.roles)
    ]
