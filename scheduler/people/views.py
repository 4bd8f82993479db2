"""Sign-in, sign-out and the user's own profile (language, password, API tokens)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..core.errors import DomainError
from ..core.nav import NavItem, add_nav
from ..core.transactions import run_atomically
from ..core.views import safe_next
from ..extensions import db
from . import auth
from .forms import PasswordForm, SignInForm, TokenForm
from .models import ApiToken

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


@bp.route("/profile", methods=["GET"])
@login_required
def profile():
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_dt.is_(None)).order_by(ApiToken.created_dt)
    ).scalars().all()
    new_token = session.pop("new_token", None)
    return render_template("people/profile.html", password_form=PasswordForm(), token_form=TokenForm(),
                           tokens=tokens, new_token=new_token)


@bp.route("/profile/password", methods=["POST"])
@login_required
def change_password():
    from .services import set_password

    form = PasswordForm()
    if form.validate_on_submit():
        if not auth.verify_password(current_user, form.current.data):
            form.current.errors = [str(_l("The current password is wrong."))]
        else:
            run_atomically(lambda: set_password(current_user, form.new.data))
            flash(_l("Your password has been changed."), "success")
            return redirect(url_for("people.profile"))
    tokens = db.session.execute(
        select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.revoked_dt.is_(None))
    ).scalars().all()
    return render_template("people/profile.html", password_form=form, token_form=TokenForm(), tokens=tokens,
                           new_token=None), 422


@bp.route("/profile/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        raw = run_atomically(lambda: auth.create_api_token(current_user, form.label.data or ""))
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
