"""Units and people: the rules for creating and changing them. Pages, API and CLI call these."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select

from ..core.errors import NotFound, ValidationFailed
from ..core.privacy import identity_code_errors
from ..extensions import db
from .auth import MIN_PASSWORD_LENGTH, end_all_sessions, hash_password
from .models import LANGUAGES, ROLES, UNIT_KINDS, ExpertiseArea, Unit, UnitMembership, User, UserRole


def normalize_email(raw: str) -> str:
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationFailed(str(_l("Check the e-mail address.")), fields={"email": str(_l("Enter a valid e-mail address, e.g. name@example.fi."))}) from exc


def get_unit(code: str) -> Unit:
    unit = db.session.execute(select(Unit).where(func.lower(Unit.code) == (code or "").strip().lower())).scalar_one_or_none()
    if unit is None:
        raise NotFound(str(_l("No such unit: %(code)s", code=code)), fields={"unit": str(_l("Unknown unit code."))})
    return unit


def get_user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == (email or "").strip().lower())).scalar_one_or_none()


def _too_long(**values: str | None) -> dict[str, str]:
    """Field errors for texts over the 200 characters the columns hold."""
    return {k: str(_l("Use at most %(n)d characters.", n=200)) for k, v in values.items() if len((v or "").strip()) > 200}


def _check_unit_fields(code: str, name_fi: str, kind: str, name_sv: str = "", name_en: str = "") -> dict[str, str]:
    errors = _too_long(name_fi=name_fi, name_sv=name_sv, name_en=name_en)
    identity_code_errors(errors, name_fi=name_fi, name_sv=name_sv, name_en=name_en)
    if not code or len(code) > 40 or not all(c.isalnum() or c in "-_" for c in code):
        errors["code"] = str(_l("Use 1–40 letters, digits, hyphens or underscores."))
    if not (name_fi or "").strip():
        errors["name_fi"] = str(_l("Enter the name in Finnish."))
    if kind not in UNIT_KINDS:
        errors["kind"] = str(_l("Choose the kind of service."))
    return errors


def create_unit(*, code: str, name_fi: str, kind: str, name_sv: str = "", name_en: str = "") -> Unit:
    code = (code or "").strip()
    errors = _check_unit_fields(code, name_fi, kind, name_sv, name_en)
    if not errors and db.session.execute(select(Unit.id).where(func.lower(Unit.code) == code.lower())).first():
        errors["code"] = str(_l("A unit with this code exists already."))
    if errors:
        raise ValidationFailed(str(_l("Check the unit's details.")), fields=errors)
    unit = Unit(code=code, name_fi=name_fi.strip(), name_sv=(name_sv or "").strip(), name_en=(name_en or "").strip(), kind=kind)
    db.session.add(unit)
    db.session.flush()
    return unit


def update_unit(unit: Unit, *, name_fi: str, name_sv: str, name_en: str, kind: str, is_active: bool) -> Unit:
    errors = _check_unit_fields(unit.code, name_fi, kind, name_sv, name_en)
    if errors:
        raise ValidationFailed(str(_l("Check the unit's details.")), fields=errors)
    unit.name_fi, unit.name_sv, unit.name_en = name_fi.strip(), (name_sv or "").strip(), (name_en or "").strip()
    unit.kind, unit.is_active = kind, is_active
    db.session.flush()
    return unit


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            str(_l("The password is too short.")),
            fields={"password": str(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))},
        )


def _resolve_units(codes: list[str], cache: dict[str, Unit] | None = None) -> list[Unit]:
    """Units by code (case-insensitive). `cache` (lower-case code → Unit) spares a query per code."""
    units = []
    for code in codes:
        try:
            if cache is not None:
                unit = cache.get(code.strip().lower())
                if unit is None:
                    raise NotFound(str(_l("No such unit: %(code)s", code=code)))
                units.append(unit)
            else:
                units.append(get_unit(code))
        except NotFound as exc:
            raise ValidationFailed(exc.message, fields={"units": exc.message}) from exc
    return units


def _check_roles_language(roles: list[str], language: str) -> dict[str, str]:
    errors = {}
    if not roles or any(r not in ROLES for r in roles):
        errors["roles"] = str(_l("Choose at least one role from: %(roles)s.", roles=", ".join(ROLES)))
    if language not in LANGUAGES:
        errors["language"] = str(_l("Choose fi, sv or en."))
    return errors


def create_user(
    *,
    email: str,
    name: str,
    roles: list[str],
    unit_codes: list[str] = (),  # type: ignore[assignment]
    language: str = "fi",
    password: str | None = None,
    title: str = "",
    organisation: str = "",
    unit_cache: dict[str, Unit] | None = None,
    existing: dict[str, User] | None = None,
    flush: bool = True,
) -> User:
    """Create a user. `unit_cache`, `existing` (e-mail → User) and flush=False are for bulk imports."""
    email = normalize_email(email)
    errors = _check_roles_language(list(roles), language)
    errors.update(_too_long(name=name, title=title, organisation=organisation))
    identity_code_errors(errors, name=name, title=title, organisation=organisation)
    if not (name or "").strip():
        errors["name"] = str(_l("Enter the person's name."))
    if (email in existing) if existing is not None else get_user_by_email(email):
        errors["email"] = str(_l("A user with this e-mail address exists already."))
    if errors:
        raise ValidationFailed(str(_l("Check the user's details.")), fields=errors)
    units = _resolve_units(list(unit_codes), unit_cache)
    if password is not None:
        _check_password(password)
    user = User(email=email, name=name.strip(), language=language, title=title, organisation=organisation)
    user.password_hash = hash_password(password) if password else None
    user.role_rows = [UserRole(role=r) for r in dict.fromkeys(roles)]
    user.units = units
    db.session.add(user)
    if flush:
        db.session.flush()
    return user


def update_user(
    user: User, *, name: str, roles: list[str], unit_codes: list[str], language: str, is_active: bool,
    title: str = "", organisation: str = "", actor: User | None = None,
    unit_cache: dict[str, Unit] | None = None, flush: bool = True,
) -> User:
    """Change a user. With an actor (an administrator on the admin pages), the actor cannot lock
    themselves out: they keep their own administrator role and stay active."""
    errors = _check_roles_language(list(roles), language)
    errors.update(_too_long(name=name, title=title, organisation=organisation))
    identity_code_errors(errors, name=name, title=title, organisation=organisation)
    if not (name or "").strip():
        errors["name"] = str(_l("Enter the person's name."))
    if actor is not None and actor.id == user.id:
        if "admin" not in roles and user.is_admin:
            errors["roles"] = str(_l("You cannot remove your own administrator role."))
        if not is_active:
            errors["is_active"] = str(_l("You cannot disable your own account."))
    if errors:
        raise ValidationFailed(str(_l("Check the user's details.")), fields=errors)
    user.name, user.language = name.strip(), language
    user.title, user.organisation = (title or "").strip(), (organisation or "").strip()
    wanted = set(roles)
    user.role_rows = [r for r in user.role_rows if r.role in wanted] + [
        UserRole(role=r) for r in dict.fromkeys(roles) if r not in {x.role for x in user.role_rows}
    ]
    user.units = _resolve_units(list(unit_codes), unit_cache)
    if user.is_active and not is_active:
        end_all_sessions(user)
    user.is_active = is_active
    if flush:
        db.session.flush()
    return user


def set_password(user: User, password: str, *, end_sessions: bool = False) -> None:
    """Set a new password; with end_sessions (an administrator's reset) the user's browsers are
    signed out, so whoever knew the old password is out too."""
    _check_password(password)
    user.password_hash = hash_password(password)
    if end_sessions:
        end_all_sessions(user)
    db.session.flush()


def set_language(user: User, language: str) -> None:
    if language in LANGUAGES:
        user.language = language


def disable_user(user: User) -> None:
    user.is_active = False
    end_all_sessions(user)
    db.session.flush()


def search_users(*, query: str = "", role: str = "", unit_id: int | None = None, active: bool | None = None):
    """A SELECT of users matching a free-text query (name or e-mail), a role, a unit and a state,
    ordered by name. The caller pages it."""
    stmt = select(User)
    query = (query or "").strip()
    if query:
        # SQLite (and PostgreSQL under the C locale) fold only ASCII case: try the spellings a
        # person types (as typed, lower case, capitalised) so "äijälä" finds "Äijälä".
        variants = {query, query.lower(), query.capitalize(), query.title()}
        conditions = []
        for v in variants:
            pattern = "%" + v.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions += [User.name.ilike(pattern, escape="\\"), User.email.ilike(pattern, escape="\\")]
        stmt = stmt.where(or_(*conditions))
    if role:
        stmt = stmt.where(User.id.in_(select(UserRole.user_id).where(UserRole.role == role)))
    if unit_id:
        stmt = stmt.where(User.id.in_(select(UnitMembership.user_id).where(UnitMembership.unit_id == unit_id)))
    if active is not None:
        stmt = stmt.where(User.is_active.is_(active))
    return stmt.order_by(func.lower(User.name), User.id)


def update_expertise_area(area: ExpertiseArea, *, name_fi: str, name_sv: str, name_en: str, position: int) -> ExpertiseArea:
    errors = {}
    for lang, value, msg in [
        ("fi", name_fi, _l("Enter the name in Finnish.")),
        ("sv", name_sv, _l("Enter the name in Swedish.")),
        ("en", name_en, _l("Enter the name in English.")),
    ]:
        if not (value or "").strip():
            errors[f"name_{lang}"] = str(msg)
        elif len(value.strip()) > 200:
            errors[f"name_{lang}"] = str(_l("Use at most %(n)d characters.", n=200))
    identity_code_errors(errors, name_fi=name_fi, name_sv=name_sv, name_en=name_en)
    if not isinstance(position, int) or not 0 <= position <= 999:
        errors["position"] = str(_l("Enter a whole number from 0 to 999."))
    if errors:
        raise ValidationFailed(str(_l("Check the expertise area's details.")), fields=errors)
    area.name_fi, area.name_sv, area.name_en = name_fi.strip(), name_sv.strip(), name_en.strip()
    area.position = position
    db.session.flush()
    return area


# --- CSV import ---------------------------------------------------------------------------

CSV_COLUMNS = ("email", "name", "roles", "units", "language", "title", "organisation")


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    # (line, the value as written in the file, what to correct): the import page shows the bad value
    problems: list[tuple[int, str, str]] = field(default_factory=list)


def _split(value: str | None) -> list[str]:
    return [p for p in (value or "").replace(",", ";").replace(" ", ";").split(";") if p]


def import_users_csv(text: str) -> ImportResult:
    """Create or update users from CSV (columns: email,name,roles,units[,language,title,organisation];
    roles and units separated by ';'). All or nothing: any bad row and nothing is written."""
    result = ImportResult()
    sample = text[:2048]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), dialect=dialect)
    missing = {"email", "name", "roles"} - {(h or "").strip().lower() for h in (reader.fieldnames or [])}
    if missing:
        raise ValidationFailed(
            str(_l("The file needs the columns email, name and roles (units, language, title and organisation are optional).")),
            fields={"file": str(_l("Missing columns: %(cols)s", cols=", ".join(sorted(missing))))},
        )
    rows = [(lineno, {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k})
            for lineno, raw in enumerate(reader, start=2)]
    savepoint = db.session.begin_nested()
    # One query for the units and one per 500 addresses for the existing users, not several per line;
    # no autoflush and a single flush at the end: a county's few thousand lines take seconds.
    unit_cache = {u.code.lower(): u for u in db.session.execute(select(Unit)).scalars()}
    wanted: set[str] = set()
    for _, r in rows:
        wanted.add((r.get("email") or "").strip().lower())
        try:
            wanted.add(normalize_email(r.get("email", "")))
        except ValidationFailed:
            pass  # reported with its line below
    wanted_list = sorted(wanted)
    existing: dict[str, User] = {}
    for start in range(0, len(wanted_list), 500):
        chunk = wanted_list[start:start + 500]
        existing.update((u.email, u) for u in db.session.execute(select(User).where(User.email.in_(chunk))).scalars())
    seen: set[str] = set()
    with db.session.no_autoflush:
        for lineno, row in rows:
            try:
                email = normalize_email(row.get("email", ""))
                if email in seen:
                    raise ValidationFailed(str(_l("The e-mail address appears twice in the file.")))
                seen.add(email)
                roles = _split(row.get("roles"))
                units = _split(row.get("units"))
                language = (row.get("language") or "fi").lower()
                user = existing.get(email)
                if user is not None:
                    update_user(user, name=row.get("name", ""), roles=roles, unit_codes=units, language=language,
                                is_active=user.is_active, title=row.get("title", user.title),
                                organisation=row.get("organisation", user.organisation), unit_cache=unit_cache,
                                flush=False)
                    result.updated += 1
                else:
                    create_user(email=email, name=row.get("name", ""), roles=roles, unit_codes=units, language=language,
                                title=row.get("title", ""), organisation=row.get("organisation", ""),
                                unit_cache=unit_cache, existing=existing, flush=False)
                    result.created += 1
            except ValidationFailed as exc:
                detail = "; ".join(exc.fields.values()) or exc.message
                result.errors.append((lineno, detail))
                columns = [c for c in exc.fields if c in CSV_COLUMNS] or ["email"]
                value = "; ".join(f"{c}: {row.get(c, '')}" if len(columns) > 1 else row.get(c, "") for c in columns)
                result.problems.append((lineno, value, detail))
    if result.errors:
        savepoint.rollback()
        result.created = result.updated = 0
    else:
        db.session.flush()
        savepoint.commit()
    return result
