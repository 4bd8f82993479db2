"""PostgreSQL wakes the outbox worker itself: NOTIFY "outbox" after every INSERT into outbox_messages

Before, the request that queued a message sent `SELECT pg_notify('outbox', '')` as a statement of its
own: a round trip in every booking. A statement-level trigger does the same inside the INSERT.
PostgreSQL delivers the notification only when (and if) the transaction commits, and folds several
in one transaction into one. SQLite has no NOTIFY: its worker polls.

The channel name is `scheduler.delivery.outbox.NOTIFY_CHANNEL`; the jobs process LISTENs on it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 05:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("""
        CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('outbox', '');
            RETURN NULL;
        END
        $$
    """)
    op.execute("CREATE TRIGGER outbox_notify AFTER INSERT ON outbox_messages "
               "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox_messages")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
