"""`flask seed-demo`: a believable demo region (one wellbeing services county, three services).

Each domain adds its part in seed_demo() below; all of it runs in one transaction."""

from __future__ import annotations

from sqlalchemy import func, select

from .extensions import db
from .feeds import demo as feeds_demo
from .panels import demo as panels_demo
from .people.auth import verify_password
from .people.models import User
from .people.services import create_unit, create_user

DEMO_PASSWORD = "demo-salasana-2027"  # noqa: S105  (printed demo login, refused in production)


class DemoRefused(Exception):
    pass


UNITS = [
    ("LS-ROI", "Rovaniemen lastensuojelu", "Rovaniemi barnskydd", "Rovaniemi child welfare", "child_welfare"),
    ("LANU-ROI", "Lasten ja nuorten psykiatrian poliklinikka (LANU)", "Barn- och ungdomspsykiatrin (LANU)",
     "Child and youth psychiatry outpatient team (LANU)", "lanu"),
    ("PAIHDE-ROI", "Päihde- ja riippuvuuspalvelut", "Missbruks- och beroendetjänster", "Substance and addiction services",
     "substance"),
    ("OPH-ROI", "Oppilashuolto", "Elevhälsa", "Pupil welfare", "education"),
]

# email, name, roles, units, language, description shown with the demo logins
PEOPLE = [
    ("admin@demo.fi", "Aino Ylläpitäjä", ["admin"], [], "fi", "admin"),
    ("sosiaalityontekija@demo.fi", "Sanna Sosiaalityöntekijä", ["social_worker", "consultant"], ["LS-ROI"], "fi",
     "social worker (child welfare); also hosts child welfare consultations"),
    ("socialarbetare@demo.fi", "Stina Socialarbetare", ["social_worker"], ["LS-ROI"], "sv", "social worker, Swedish"),
    ("lanu@demo.fi", "Lauri Lääkäri", ["consultant"], ["LANU-ROI"], "fi", "LANU consultant (psychiatrist)"),
    ("paihde@demo.fi", "Päivi Päihdetyöntekijä", ["consultant", "social_worker"], ["PAIHDE-ROI"], "fi",
     "substance services consultant; also books child welfare consultations"),
    ("sihteeri@demo.fi", "Seija Sihteeri", ["secretary"], ["LS-ROI"], "fi", "expert panel secretary"),
    ("juristi@demo.fi", "Jussi Juristi", ["expert"], [], "fi", "panel expert: legal"),
    ("psykologi@demo.fi", "Pia Psykologi", ["expert"], [], "fi", "panel expert: psychological"),
    ("opettaja@demo.fi", "Oskari Opettaja", ["expert"], ["OPH-ROI"], "fi", "panel expert: education"),
]


def seed_demo(*, production: bool) -> dict:
    if production:  # demo people with a printed password have no place in production, empty or not
        raise DemoRefused("Refusing to seed demo data: the settings are those of production (APP_ENV=production).")
    has_users = db.session.scalar(select(func.count(User.id))) or 0
    if has_users:
        raise DemoRefused("The database already has users; the demo is seeded only into an empty database.")
    for code, fi, sv, en, kind in UNITS:
        create_unit(code=code, name_fi=fi, name_sv=sv, name_en=en, kind=kind)
    users = {}
    for email, name, roles, units, lang, _what in PEOPLE:
        users[email] = create_user(email=email, name=name, roles=roles, unit_codes=units, language=lang,
                                   password=DEMO_PASSWORD)
    # Each domain adds its part, using `users` (e-mail → User).
    from .consultations import demo as consultations_demo

    consultations_demo.seed(users)
    panels_demo.seed(users)
    feeds_demo.seed(users)
    return demo_logins()


def demo_logins() -> dict:
    return {"password": DEMO_PASSWORD, "users": [(p[0], p[5]) for p in PEOPLE]}


def demo_present() -> bool:
    """The demo's administrator exists, still with the demo password (so printing it is true)."""
    user = db.session.execute(select(User).where(User.email == PEOPLE[0][0])).scalar_one_or_none()
    return user is not None and verify_password(user, DEMO_PASSWORD)
