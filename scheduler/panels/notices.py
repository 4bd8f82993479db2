"""The panel secretaries' notice when an expert leaves the pool (issue 12). Nothing of the cases
leaves: the e-mail names the panel, the expert and each case's number, session time and link,
never a case reference or any of its text.

(To be folded into panels/notifications.py with the panel's other notices.)"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from ..core.timefmt import format_range
from ..delivery.mail import queue_email, render_email
from ..people.models import User
from .models import Panel, PanelCase


def _link(endpoint: str, **values) -> str:
    """An absolute link into the app that works without a request (jobs, CLI)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["BASE_URL"].rstrip("/") + path


def _lang(user: User) -> str:
    return user.language if user.language in current_app.config["LANGUAGES"] else current_app.config["BABEL_DEFAULT_LOCALE"]


def notify_expert_left(panel: Panel, expert: User, cases: list[PanelCase]) -> None:
    """Tell each secretary which cases lost an expert and need another one (through the outbox)."""
    for secretary in panel.secretaries:
        if not secretary.is_active:
            continue
        lang = _lang(secretary)
        with force_locale(lang):
            subject = _("Cases need another expert") + " – " + panel.name
            lines = [_("%(name)s is no longer in the panel's expert pool and was taken off the cases below. "
                       "Choose another expert for each of them in the service.", name=expert.name)]
            facts = []
            for case in cases:
                when = format_range(case.start_dt, case.end_dt, lang) if case.start_dt and case.end_dt \
                    else _("waiting for a session")
                left = _("experts left: %(n)d", n=len(case.experts))
                facts.append((_("Case %(n)d", n=case.id),
                              " · ".join([when, left, _link("panels.case_detail", case_id=case.id)])))
            link_label = _("Open the secretary's page")
        text, html = render_email("notice", lang, subject=subject, lines=lines, facts=facts,
                                  url=_link("panels.secretary"), link_label=link_label)
        queue_email(secretary.email, subject, text, html, language=lang)
