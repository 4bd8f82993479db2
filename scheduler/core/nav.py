"""The main navigation, filled by each domain when its blueprint is registered."""

from __future__ import annotations

from collections.abc import Callable
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
    # An extra test on the signed-in user (e.g. "is a member of a unit that can book"): the menu
    # and the home page show only what this person can actually do.
    when: Callable[[object], bool] | None = None


def add_nav(app, item: NavItem) -> None:
    items = app.extensions.setdefault("nav_items", [])
    items.append(item)
    items.sort(key=lambda i: i.order)


def nav_for_current_user() -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    return [
        i for i in current_app.extensions.get("nav_items", [])
        if (not i.roles or current_user.has_role(*i.roles)) and (i.when is None or i.when(current_user))
    ]


@dataclass(frozen=True)
class AdminLink:
    """A link on the administration index page (/admin/). Any domain may add its admin pages here
    with add_admin_link(app, AdminLink("outbox.index", _l("Mail outbox"), _l("…"))).
    Pages are still protected by their own `roles_required`; `roles` only decides who sees the link."""

    endpoint: str
    label: object
    description: object = ""
    order: int = 50
    roles: tuple[str, ...] = ("admin",)


def add_admin_link(app, link: AdminLink) -> None:
    links = app.extensions.setdefault("admin_links", [])
    links.append(link)
    links.sort(key=lambda i: i.order)


def admin_links_for_current_user() -> list[AdminLink]:
    """The admin index: registered admin links, plus any main-navigation item meant for admins only."""
    if not current_user.is_authenticated:
        return []
    links = [i for i in current_app.extensions.get("admin_links", []) if current_user.has_role(*i.roles)]
    known = {i.endpoint for i in links} | {"admin.index"}
    for item in current_app.extensions.get("nav_items", []):
        if item.roles == ("admin",) and item.endpoint not in known:
            links.append(AdminLink(item.endpoint, item.label, item.description, order=100 + item.order))
    return sorted(links, key=lambda i: i.order)
