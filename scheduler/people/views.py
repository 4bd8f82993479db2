"""Sign-in, sign-out and the user's own profile (language, password, API tokens)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from ..core.errors import DomainError
from ..core.forms import FORM_REFUSALS, apply_errors
from ..core.nav import NavItem, add_nav
from ..core.timefmt import parse_date
from ..core.transactions import run_atomically
from ..core.views import safe_next
from ..extensions import db
from . import auth, password_links
from .forms import ForgotPasswordForm, LanguageForm, NewPasswordForm, PasswordForm, SignInForm, TokenForm
from .models import LANGUAGE_LABELS, LANGUAGES
from .services import set_password as store_password

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
    run_atomically(lambda: auth.end_session(session.get("sid")))
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


def _profile_page(*, password_form=None, token_form=None, language_form=None, new_token=None, status=200):
    return render_template("people/profile.html", password_form=password_form or PasswordForm(),
                           token_form=token_form or TokenForm(), tokens=auth.active_api_tokens(current_user),
                           language_form=language_form or _language_form(), new_token=new_token), status


@bp.route("/profile", methods=["GET"])
@login_required
def profile():
    return _profile_page()


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
    return _profile_page(language_form=form, status=422)


@bp.route("/profile/password", methods=["POST"])
@login_required
def change_password():

    form = PasswordForm()
    if form.validate_on_submit():
        if not auth.verify_password(current_user, form.current.data):
            form.current.errors = [str(_l("The current password is wrong."))]
        else:
            def work():
                store_password(current_user, form.new.data)
                # whoever knew the old password is signed out everywhere else; this browser stays in
                auth.end_all_sessions(current_user, keep=session.get("sid"))

            run_atomically(work)
            flash(_l("Your password has been changed. You were signed out on your other devices."), "success")
            return redirect(url_for("people.profile"))
    return _profile_page(password_form=form, status=422)


@bp.route("/profile/tokens", methods=["POST"])
@login_required
def create_token():
    """The new token is shown once, in this response: it is never kept in the session cookie
    (which is only signed, not encrypted) nor anywhere else."""
    form = TokenForm()
    if not form.validate_on_submit():
        if not form.errors:
            flash(_l("The form had expired. Please try again."), "error")
        return _profile_page(token_form=form, status=422)
    expires = None
    if (form.expires.data or "").strip() and not form.never_expires.data:
        try:
            expires = parse_date(form.expires.data)
        except ValueError:
            form.expires.errors = [str(_l("Write the date as d.m.yyyy, e.g. 5.1.2027."))]
            return _profile_page(token_form=form, status=422)
    try:
        raw = run_atomically(lambda: auth.create_api_token(current_user, form.label.data or "", expires=expires,
                                                           never_expires=bool(form.never_expires.data)))
    except FORM_REFUSALS as exc:
        db.session.rollback()
        rest = apply_errors(form, exc)
        if rest or not exc.fields:
            flash(" ".join([exc.message, *rest.values()]), "error")
        return _profile_page(token_form=form, status=exc.status)
    flash(_l("A new API token was created. Copy it now: it is not shown again."), "success")
    resp = render_template("people/profile.html", password_form=PasswordForm(), token_form=TokenForm(formdata=None),
                           tokens=auth.active_api_tokens(current_user), new_token=raw,
                           language_form=_language_form(), page_ok=True)
    return resp, 201, {"Cache-Control": "no-store"}


@bp.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id: int):
    if auth.revoke_api_token(current_user, token_id):
        db.session.commit()
        flash(_l("The token was revoked."), "success")
    return redirect(url_for("people.profile") + "#tokens")
