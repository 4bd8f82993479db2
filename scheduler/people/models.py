"""Units (services), people, roles, expertise areas, sign-in sessions and API tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.db import UTCDateTime, sql_in, utcnow
from ..extensions import db

UNIT_KINDS = ("child_welfare", "lanu", "substance", "education", "disability", "adult_social_work", "other")
ROLES = ("admin", "social_worker", "consultant", "secretary", "expert")
EXPERTISE_CODES = (
    "legal", "therapeutic", "psychological", "psychiatric", "child_welfare",
    "disability", "adult_social_work", "substance", "education", "criminal",
)
LANGUAGES = ("fi", "sv", "en")

UNIT_KIND_LABELS = {
    "child_welfare": _l("Child welfare"),
    "lanu": _l("Child and youth psychiatry (LANU)"),
    "substance": _l("Substance services"),
    "education": _l("Education and pupil welfare"),
    "disability": _l("Disability services"),
    "adult_social_work": _l("Adult social work"),
    "other": _l("Other"),
}
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "social_worker": _l("Social worker"),
    "consultant": _l("Consultant"),
    "secretary": _l("Panel secretary"),
    "expert": _l("Expert"),
}
LANGUAGE_LABELS = {"fi": "Suomi", "sv": "Svenska", "en": "English"}


def current_language() -> str:
    loc = get_locale()
    return loc.language if loc else "fi"


def localized(obj, field: str, lang: str | None = None) -> str:
    """Text people wrote in fi/sv/en: `field` is the Finnish (default) column, `field_sv` and
    `field_en` the optional translations; an empty translation falls back to the Finnish text."""
    lang = lang or current_language()
    if lang != "fi":
        text = getattr(obj, f"{field}_{lang}", None)
        if text:
            return text
    return getattr(obj, field, None) or ""


class LocalizedNameMixin:
    name_fi: Mapped[str]
    name_sv: Mapped[str]
    name_en: Mapped[str]

    def localized_name(self, lang: str | None = None) -> str:
        if lang is None:
            lang = current_language()
        return getattr(self, f"name_{lang}", None) or self.name_fi

    @property
    def name(self) -> str:
        return self.localized_name()


class Unit(LocalizedNameMixin, db.Model):
    __tablename__ = "units"
    __table_args__ = (CheckConstraint(f"kind IN ({sql_in(UNIT_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_fi: Mapped[str] = mapped_column(String(200))
    name_sv: Mapped[str] = mapped_column(String(200), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(30))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    members: Mapped[list[User]] = relationship(secondary="unit_memberships", back_populates="units", viewonly=True)

    @property
    def kind_label(self) -> str:
        return str(UNIT_KIND_LABELS.get(self.kind, self.kind))

    def __repr__(self) -> str:
        return f"<Unit {self.code} {self.kind}>"


class UnitMembership(db.Model):
    __tablename__ = "unit_memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), primary_key=True, index=True)


class UserRole(db.Model):
    __tablename__ = "user_roles"
    __table_args__ = (CheckConstraint(f"role IN ({sql_in(ROLES)})", name="role"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("entra_tenant_id", "entra_object_id"),
        CheckConstraint(f"language IN ({sql_in(LANGUAGES)})", name="language"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="fi")
    title: Mapped[str] = mapped_column(String(200), default="")
    organisation: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    entra_tenant_id: Mapped[str | None] = mapped_column(String(64))
    entra_object_id: Mapped[str | None] = mapped_column(String(64))
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list[UserRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    units: Mapped[list[Unit]] = relationship(secondary="unit_memberships", back_populates="members", lazy="selectin")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def roles(self) -> list[str]:
        return sorted(r.role for r in self.role_rows)

    def has_role(self, *roles: str) -> bool:
        mine = {r.role for r in self.role_rows}
        return bool(mine.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return self.has_role("admin")

    @property
    def unit_kinds(self) -> set[str]:
        return {u.kind for u in self.units}

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class ExpertiseArea(LocalizedNameMixin, db.Model):
    __tablename__ = "expertise_areas"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_fi: Mapped[str] = mapped_column(String(200))
    name_sv: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"<ExpertiseArea {self.code}>"


class ApiToken(db.Model):
    """A personal API token: the secret is shown once; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: no expiry

    user: Mapped[User] = relationship()

    def is_expired(self, now: datetime) -> bool:
        return self.expires_dt is not None and self.expires_dt <= now

    @property
    def last_valid_dt(self) -> datetime | None:
        """A moment on the last day the token works (expires_dt is the midnight after it)."""
        return self.expires_dt - timedelta(seconds=1) if self.expires_dt else None


class UserSession(db.Model):
    """A signed-in browser. The cookie holds a random id; only its SHA-256 is kept here, so
    signing out or disabling the account ends the session on the server."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(20), default="password")

    user: Mapped[User] = relationship()


class LoginThrottle(db.Model):
    """Failed sign-in counters, per account and address ("account:<email>|<ip>") and per address
    ("address:<ip>"), so a stranger cannot lock a colleague out from elsewhere.
    Kept in the database so the limit holds across worker processes and hosts."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)


PASSWORD_LINK_PURPOSES = ("welcome", "reset")


class PasswordToken(db.Model):
    """A one-time link to set a password: a welcome to a new local account, or a forgotten password.
    Only the SHA-256 of the secret is kept; a link is used once and expires (used_dt, expires_dt)."""

    __tablename__ = "password_tokens"
    __table_args__ = (CheckConstraint(f"purpose IN ({sql_in(PASSWORD_LINK_PURPOSES)})", name="purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_dt: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_dt: Mapped[datetime] = mapped_column(UTCDateTime)
    used_dt: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<PasswordToken {self.id} {self.purpose} user={self.user_id}>"
