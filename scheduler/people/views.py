"""Sign-in, sign-out and the user's own profile (language, password, API tokens)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..core.errors import DomainError
from ..core.nav import NavItem, add_nav
from ..core.views import safe_next
from ..extensions import db
from . import auth
from .forms import ForgotPasswordForm, LanguageForm, NewPasswordForm, PasswordForm, SignInForm, TokenForm
from .models import LANGUAGE_LABELS, LANGUAGES, ApiToken

bp = Blueprint("people", __name__)


def register_nav(app) -> None:
    add_nav(app, NavItem("people.profile", _l("My profile"), description=_l("Language, password, calendar and API tokens."), order=90))


def sign_in_user(user, method: str) -> None:
    """Start a server-side session for user in this browser (a fresh cookie: no fixation)."""
    lang = session.get("lang")
    session.clear()
    raw = auth.start_session(user, method)
    session["sid"] = raw
    if lang and not user.language:
        user.language = lang
    login_user(user)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    if current_user.is_authenticated:
        return redirect(url_for("core.home"))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        try:
            user = auth.authenticate(form.email.data, form.password.data, request.remote_addr)
        except DomainError as exc:
            db.session.commit()  # keep the failure counters
            error = exc.message
            status = exc.status
        else:
            sign_in_user(user, "password")
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), url_for("core.home")))
        return render_template("people/sign_in.html", form=form, error=error,
                               entra=current_app.config["ENTRA_ENABLED"]), status
    status = 422 if form.errors else 200
    return render_template("people/sign_in.html", form=form, error=error,
                           entra=current_app.config["ENTRA_ENABLED"]), status


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    auth.end_session(session.get("sid"))
    db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_l("You have signed out."), "info")
    return redirect(url_for("people.sign_in"))


# --- forgotten password and one-time links ----------------------------------------------------------

@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    from . import password_links

    form = ForgotPasswordForm()
    status, error = 200, None
    if form.validate_on_submit():
        try:
            password_links.request_reset(form.email.data, request.remote_addr)
        except DomainError as exc:
            error, status = exc.message, exc.status
        db.session.commit()  # the counters (and the e-mail, if any)
        if error is None:
            # the same answer whether or not the address has an account
            flash(_l("If the address has an account here, a link to set a new password is on its way. "
                     "The link works once and expires in 24 hours."), "info")
            return redirect(url_for("people.sign_in"))
    elif request.method == "POST":
        status = 422
    return render_template("people/forgot_password.html", form=form, error=error), status


@bp.route("/set-password/<token>", methods=["GET", "POST"])
def set_password(token: str):
    from . import password_links

    form = NewPasswordForm()
    try:
        link = password_links.find_link(token)
    except DomainError as exc:
        return render_template("people/set_password.html", form=None, error=exc.message, link=None), 410
    status, error = 200, None
    if form.validate_on_submit():
        try:
            user = password_links.use_link(token, form.new.data)
        except DomainError as exc:
            db.session.rollback()
            error, status = exc.message, exc.status
            if "password" in exc.fields:
                form.new.errors = [*list(form.new.errors or []), exc.fields["password"]]
                error = None
        else:
            db.session.commit()
            if current_user.is_authenticated:
                logout_user()
                session.clear()
            flash(_l("Your password is set. Sign in with your e-mail address %(email)s and the new password.",
                     email=user.email), "success")
            return redirect(url_for("people.sign_in"))
    elif request.method == "POST":
        status = 422
    return render_template("people/set_password.html", form=form, error=error, link=link), status


# --- profile -------------------------------------------------------------------------------------

def _language_form() -> LanguageForm:
    form = LanguageForm()
    form.language.choices = [(code, LANGUAGE_LABELS[code]) for code in LANGUAGES]
    if request.method == "GET" or form.language.data is None:
        form.language.data = current_user.language or "fi"
    return form


@bp.route("/profile", methods=["GET"])
@login_required
def profile():
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_dt.is_(None)).order_by(ApiToken.created_dt)
    ).scalars().all()
    new_token = session.pop("new_token", None)
    return render_template("people/profile.html", password_form=PasswordForm(), token_form=TokenForm(),
                           tokens=tokens, new_token=new_token, language_form=_language_form())


@bp.route("/profile/language", methods=["POST"])
@login_required
def change_language():
    """The language of the pages and of the e-mails, invitations and reminders this person gets."""
    form = _language_form()
    if form.validate_on_submit():
        current_user.language = form.language.data
        session["lang"] = form.language.data
        db.session.commit()
        flash(_l("Your language was saved."), "success")
        return redirect(url_for("people.profile"))
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_dt.is_(None))
    ).scalars().all()
    return render_template("people/profile.html", password_form=PasswordForm(), token_form=TokenForm(),
                           tokens=tokens, new_token=None, language_form=form), 422


@bp.route("/profile/password", methods=["POST"])
@login_required
def change_password():
    from .services import set_password

    form = PasswordForm()
    if form.validate_on_submit():
        if not auth.verify_password(current_user, form.current.data):
            form.current.errors = [str(_l("The current password is wrong."))]
        else:
            set_password(current_user, form.new.data)
            db.session.commit()
            flash(_l("Your password has been changed."), "success")
            return redirect(url_for("people.profile"))
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_dt.is_(None))
    ).scalars().all()
    return render_template("people/profile.html", password_form=form, token_form=TokenForm(), tokens=tokens,
                           new_token=None, language_form=_language_form()), 422


@bp.route("/profile/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        raw = auth.create_api_token(current_user, form.label.data or "")
        db.session.commit()
        session["new_token"] = raw  # shown once on the next page, then gone
        flash(_l("A new API token was created. Copy it now: it is not shown again."), "success")
    else:  # nothing was created: say why
        errors = form.label.errors or [_l("The form had expired. Please try again.")]
        flash(errors[0], "error")
    return redirect(url_for("people.profile") + "#tokens")


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    if auth.revoke_api_token(current_user, token_id):
        db.session.commit()
        flash(_l("The token was revoked."), "success")
    return redirect(url_for("people.profile") + "#tokens")
