"""Admin pages: units, users (with CSV import), expertise areas. Administrators only; every change
is a POST with a CSRF token. Validation errors come back with status 422, an error summary at the
top and the field errors under the labels."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from ..core.errors import ValidationFailed
from ..core.forms import FORM_REFUSALS, choices, error_message
from ..core.nav import AdminLink, NavItem, add_admin_link, add_nav, admin_links_for_current_user
from ..core.permissions import roles_required
from ..core.transactions import run_atomically
from ..extensions import db
from . import services
from .forms import ExpertiseForm, ImportForm, SetPasswordForm, UnitForm, UserForm
from .models import (
    LANGUAGE_LABELS,
    LANGUAGES,
    ROLE_LABELS,
    ROLES,
    UNIT_KIND_LABELS,
    UNIT_KINDS,
    ExpertiseArea,
    Unit,
    UnitMembership,
    User,
)
from .password_links import issue_link

bp = Blueprint("admin", __name__, url_prefix="/admin")

USERS_PER_PAGE = 50
MAX_PAGE = 100_000  # a page number beyond any list; larger ones would overflow the query's OFFSET
MAX_CSV_BYTES = 2 * 1024 * 1024


def init_app(app) -> None:
    """Register the admin blueprint and its navigation."""
    app.register_blueprint(bp)
    add_nav(app, NavItem("admin.index", _l("Administration"), roles=("admin",),
                         description=_l("Units, users, expertise areas and the CSV import of users."), order=95))
    for link in [
        AdminLink("admin.users", _l("Users"), _l("Find, add and change users; set passwords; disable accounts."), order=10),
        AdminLink("admin.import_users", _l("Import users from a CSV file"), _l("Add or update many users at once."), order=15),
        AdminLink("admin.units", _l("Units"), _l("The services that host and book consultations."), order=20),
        AdminLink("admin.expertise", _l("Expertise areas"), _l("The areas of expertise on the expert panel, in three languages."), order=30),
    ]:
        add_admin_link(app, link)


@bp.before_request
@roles_required("admin")
def _admins_only():
    return None


@bp.route("/")
def index():
    counts = {
        "users": db.session.scalar(select(func.count(User.id)).where(User.is_active.is_(True))) or 0,
        "units": db.session.scalar(select(func.count(Unit.id)).where(Unit.is_active.is_(True))) or 0,
    }
    return render_template("admin/index.html", links=admin_links_for_current_user(), counts=counts,
                           mail_mode="smtp" if current_app.config.get("SMTP_HOST") else "files",
                           teams=current_app.config.get("GRAPH_ENABLED"), sso=current_app.config.get("ENTRA_ENABLED"))


# --- units -------------------------------------------------------------------------------------

def _unit_form(unit: Unit | None = None) -> UnitForm:
    form = UnitForm(obj=unit)
    form.kind.choices = choices([("", _l("Choose…"))] + [(k, UNIT_KIND_LABELS[k]) for k in UNIT_KINDS])
    return form


@bp.route("/units")
def units():
    rows = db.session.execute(
        select(Unit, func.count(UnitMembership.user_id))
        .outerjoin(UnitMembership, UnitMembership.unit_id == Unit.id)
        .group_by(Unit.id)
        .order_by(Unit.is_active.desc(), Unit.code)
    ).all()
    return render_template("admin/units.html", rows=rows)


@bp.route("/units/new", methods=["GET", "POST"])
def unit_new():
    form = _unit_form()
    message = None
    if form.validate_on_submit():
        try:
            def work():
                unit = services.create_unit(code=form.code.data, name_fi=form.name_fi.data, name_sv=form.name_sv.data,
                                            name_en=form.name_en.data, kind=form.kind.data)
                unit.is_active = bool(form.is_active.data)
                return unit

            unit = run_atomically(work)
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(form, exc)
        else:
            flash(_l("The unit %(code)s was created.", code=unit.code), "success")
            return redirect(url_for("admin.units"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/unit_form.html", form=form, unit=None, message=message), status


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
def unit_edit(unit_id: int):
    unit = db.get_or_404(Unit, unit_id)
    form = _unit_form(unit)
    form.code.data = unit.code  # the code is fixed once created
    message = None
    if form.validate_on_submit():
        try:
            run_atomically(lambda: services.update_unit(unit, name_fi=form.name_fi.data, name_sv=form.name_sv.data,
                                                        name_en=form.name_en.data, kind=form.kind.data,
                                                        is_active=bool(form.is_active.data)))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(form, exc)
        else:
            flash(_l("The unit %(code)s was saved.", code=unit.code), "success")
            return redirect(url_for("admin.units"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/unit_form.html", form=form, unit=unit, message=message), status


# --- users -------------------------------------------------------------------------------------

def _user_form(user: User | None = None, formdata=None) -> UserForm:
    form = UserForm() if user is None else UserForm(obj=user)
    form.roles.choices = choices((r, ROLE_LABELS[r]) for r in ROLES)
    units = db.session.execute(select(Unit).order_by(Unit.is_active.desc(), Unit.code)).scalars().all()
    form.units.choices = choices(
        (u.code, f"{u.name} ({u.code})" + ("" if u.is_active else " – " + str(_l("not in use")))) for u in units
    )
    form.language.choices = choices((code, LANGUAGE_LABELS[code]) for code in LANGUAGES)
    if user is not None and request.method == "GET":
        form.roles.data = user.roles
        form.units.data = [u.code for u in user.units]
    if user is not None:
        del form.email  # the e-mail address identifies the account; it is not edited here
        del form.password  # passwords are set with their own form
        del form.send_link  # a link is sent with its own button
    elif request.method == "GET":
        # with the organisation's Microsoft sign-in, most people need no password of their own
        form.send_link.data = not current_app.config.get("ENTRA_ENABLED")
    return form


@bp.route("/users")
def users():
    query = request.args.get("q", "").strip()[:200]
    role = request.args.get("role", "")
    role = role if role in ROLES else ""
    state = request.args.get("state", "")
    active = {"active": True, "disabled": False}.get(state)
    unit_code = request.args.get("unit", "")
    unit = db.session.execute(select(Unit).where(Unit.code == unit_code)).scalar_one_or_none() if unit_code else None
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), MAX_PAGE)
    stmt = services.search_users(query=query, role=role, unit_id=unit.id if unit else None, active=active)
    pagination = db.paginate(stmt, page=max(page, 1), per_page=USERS_PER_PAGE, error_out=False)
    all_units = db.session.execute(select(Unit).order_by(Unit.code)).scalars().all()
    args = {k: v for k, v in {"q": query, "role": role, "state": state, "unit": unit.code if unit else ""}.items() if v}
    return render_template("admin/users.html", pagination=pagination, query=query, role=role, state=state,
                           unit=unit, all_units=all_units, args=args)


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = _user_form()
    message = None
    if form.validate_on_submit():
        try:
            def work():
                user = services.create_user(
                    email=form.email.data, name=form.name.data, roles=list(form.roles.data or []),
                    unit_codes=list(form.units.data or []), language=form.language.data or "fi",
                    password=form.password.data or None, title=form.title.data or "",
                    organisation=form.organisation.data or "",
                )
                user.is_active = bool(form.is_active.data)
                link_sent = False
                if form.send_link.data and user.is_active:

                    issue_link(user, "welcome")
                    link_sent = True
                return user, link_sent

            user, link_sent = run_atomically(work)
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(form, exc)
        else:
            flash(_l("The user %(email)s was created.", email=user.email), "success")
            if link_sent:
                flash(_l("A welcome e-mail with a link to set a password is on its way to %(email)s.",
                         email=user.email), "info")
            elif not form.password.data:
                flash(_no_way_in_warning(user), "warning")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None, message=message,
                           password_form=None), status


def _no_way_in_warning(user: User) -> str:
    if current_app.config.get("ENTRA_ENABLED"):
        return str(_l("%(email)s has no password and got no link to set one: they can sign in only with the "
                      "organisation's Microsoft account. If they need a local account, send them a link below.",
                      email=user.email))
    return str(_l("%(email)s has no password and got no link to set one, so they cannot sign in yet. Send them a "
                  "link or set a password below.", email=user.email))


@bp.route("/users/<int:user_id>/password-link", methods=["POST"])
def user_password_link(user_id: int):
    """Send the person a one-time link to set their own password (a welcome before their first
    sign-in, a reset after it)."""

    user = db.get_or_404(User, user_id)  # CSRF: checked for every POST (CSRFProtect)
    if not user.is_active:
        flash(_l("The account is disabled: no link was sent."), "error")
        return redirect(url_for("admin.user_edit", user_id=user.id))
    issue_link(user, "reset" if user.password_hash or user.last_login_dt else "welcome")
    db.session.commit()
    flash(_l("A link to set a password is on its way to %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = _user_form(user)
    message = None
    if form.validate_on_submit():
        try:
            run_atomically(lambda: services.update_user(
                user, name=form.name.data, roles=list(form.roles.data or []), unit_codes=list(form.units.data or []),
                language=form.language.data or "fi", is_active=bool(form.is_active.data),
                title=form.title.data or "", organisation=form.organisation.data or "", actor=current_user,
            ))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(form, exc)
        else:
            flash(_l("The user %(email)s was saved.", email=user.email), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=user, message=message,
                           password_form=SetPasswordForm()), status


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id: int):
    user = db.get_or_404(User, user_id)
    password_form = SetPasswordForm()
    message = None
    if password_form.validate_on_submit():
        try:
            run_atomically(lambda: services.set_password(user, password_form.new_password.data,
                                                         end_sessions=user.id != current_user.id))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(password_form, exc, aliases={"password": "new_password"})
        else:
            flash(_l("A new password was set for %(email)s.", email=user.email), "success")
            return redirect(url_for("admin.user_edit", user_id=user.id))
    return render_template("admin/user_form.html", form=_user_form(user), user=user, message=message,
                           password_form=password_form), 422


# --- CSV import --------------------------------------------------------------------------------

def _decode(raw: bytes) -> str:
    """UTF-8 (with or without Excel's BOM), else Windows-1252, which Excel in Finland writes."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


@bp.route("/users/import", methods=["GET", "POST"])
def import_users():
    form = ImportForm()
    line_errors: list[tuple[int, str, str]] = []
    message = None
    if form.validate_on_submit():
        raw = form.file.data.read(MAX_CSV_BYTES + 1)
        try:
            if len(raw) > MAX_CSV_BYTES:
                raise ValidationFailed(str(_l("The file is too large.")),
                                       fields={"file": str(_l("The file may be at most 2 MB."))})
            if not raw.strip():
                raise ValidationFailed(str(_l("The file is empty.")), fields={"file": str(_l("The file is empty."))})
            result = services.import_users_csv(_decode(raw))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(form, exc)
        else:
            if result.errors:
                db.session.rollback()  # all or nothing
                line_errors = result.problems
                message = str(_l("Nothing was imported. Correct the lines below and upload the file again."))
            elif result.created == 0 and result.updated == 0:
                db.session.rollback()
                message = str(_l("The file has no users in it."))
                form.file.errors = [*list(form.file.errors or []), message]
            else:
                db.session.commit()
                flash(_l("Import done: %(created)d created, %(updated)d updated.", created=result.created,
                         updated=result.updated), "success")
                return redirect(url_for("admin.users"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/import.html", form=form, line_errors=line_errors, message=message,
                           columns=services.CSV_COLUMNS, roles=ROLES), status


# --- expertise areas ----------------------------------------------------------------------------

@bp.route("/expertise")
def expertise():
    areas = db.session.execute(select(ExpertiseArea).order_by(ExpertiseArea.position, ExpertiseArea.code)).scalars().all()
    return render_template("admin/expertise.html", areas=areas)


@bp.route("/expertise/<code>", methods=["GET", "POST"])
def expertise_edit(code: str):
    area = db.get_or_404(ExpertiseArea, code)
    form = ExpertiseForm(obj=area)
    message = None
    if form.validate_on_submit():
        try:
            run_atomically(lambda: services.update_expertise_area(area, name_fi=form.name_fi.data, name_sv=form.name_sv.data,
                                                                  name_en=form.name_en.data, position=form.position.data))
        except FORM_REFUSALS as exc:
            db.session.rollback()
            message = error_message(form, exc)
        else:
            flash(_l("The expertise area was saved."), "success")
            return redirect(url_for("admin.expertise"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/expertise_form.html", form=form, area=area, message=message), status
