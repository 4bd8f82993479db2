from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory


def test_single_head(app):
    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    assert len(script.get_heads()) == 1


def test_models_match_migrations(app, db):
    """What `flask db check` does: the migrated schema equals the models."""
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, db.metadata)
    assert diff == []


def test_expertise_areas_are_reference_data(db):
    from scheduler.people.models import ExpertiseArea

    codes = {a.code for a in db.session.query(ExpertiseArea)}
    assert codes == {"legal", "therapeutic", "psychological", "psychiatric", "child_welfare", "disability",
                     "adult_social_work", "substance", "education", "criminal"}
