"""One access log for bookings and panel cases; erasure marks for retention

- access_log replaces panel_case_reads (its rows are carried over): every read of case content
  and every refused read, for bookings and panel cases; the user id is SET NULL when the account
  goes (never CASCADE) and the e-mail at the time stays.
- erased_dt on bookings, panel cases and outbox messages: when retention erased their content.
- panel_cases.child_age becomes nullable; child_age_band keeps the age band after erasure.

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('user_email', sa.String(length=254), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('object_type', sa.String(length=20), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('via', sa.String(length=10), nullable=False),
    sa.CheckConstraint("action IN ('read', 'refused')", name=op.f('ck_access_log_action')),
    sa.CheckConstraint("object_type IN ('booking', 'panel_case')", name=op.f('ck_access_log_object_type')),
    sa.CheckConstraint("via IN ('page', 'api')", name=op.f('ck_access_log_via')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_access_log_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_at_dt'), ['at_dt'], unique=False)
        batch_op.create_index('ix_access_log_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_user_id'), ['user_id'], unique=False)

    op.execute(
        "INSERT INTO access_log (at_dt, user_id, user_email, action, object_type, object_id, via) "
        "SELECT r.read_dt, r.user_id, u.email, 'read', 'panel_case', r.case_id, "
        "CASE WHEN r.via = 'api' THEN 'api' ELSE 'page' END "
        "FROM panel_case_reads r JOIN users u ON u.id = r.user_id ORDER BY r.id"
    )
    with op.batch_alter_table('panel_case_reads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_case_reads_user_id'))
        batch_op.drop_index(batch_op.f('ix_panel_case_reads_read_dt'))
        batch_op.drop_index(batch_op.f('ix_panel_case_reads_case_id'))
    op.drop_table('panel_case_reads')

    with op.batch_alter_table('consultation_bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('panel_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('child_age_band', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('erased_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.alter_column('child_age', existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('erased_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('erased_dt')
    # an erased case has no age any more: the band's lower bound is the closest value there is
    op.execute("UPDATE panel_cases SET child_age = CAST(substr(child_age_band, 1, instr(child_age_band, '-') - 1) AS INTEGER) "
               "WHERE child_age IS NULL AND child_age_band IS NOT NULL"
               if op.get_bind().dialect.name == "sqlite" else
               "UPDATE panel_cases SET child_age = CAST(split_part(child_age_band, '-', 1) AS INTEGER) "
               "WHERE child_age IS NULL AND child_age_band IS NOT NULL")
    op.execute("UPDATE panel_cases SET child_age = 0 WHERE child_age IS NULL")
    with op.batch_alter_table('panel_cases', schema=None) as batch_op:
        batch_op.alter_column('child_age', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('erased_dt')
        batch_op.drop_column('child_age_band')
    with op.batch_alter_table('consultation_bookings', schema=None) as batch_op:
        batch_op.drop_column('erased_dt')

    op.create_table('panel_case_reads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('read_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('via', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['panel_cases.id'], name=op.f('fk_panel_case_reads_case_id_panel_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_panel_case_reads_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_case_reads'))
    )
    with op.batch_alter_table('panel_case_reads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_case_reads_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_panel_case_reads_read_dt'), ['read_dt'], unique=False)
        batch_op.create_index(batch_op.f('ix_panel_case_reads_user_id'), ['user_id'], unique=False)
    # what the old table can hold: successful reads of existing cases by existing users
    op.execute(
        "INSERT INTO panel_case_reads (case_id, user_id, read_dt, via) "
        "SELECT a.object_id, a.user_id, a.at_dt, a.via FROM access_log a "
        "JOIN users u ON u.id = a.user_id JOIN panel_cases c ON c.id = a.object_id "
        "WHERE a.object_type = 'panel_case' AND a.action = 'read' ORDER BY a.id"
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_access_log_user_id'))
        batch_op.drop_index('ix_access_log_object')
        batch_op.drop_index(batch_op.f('ix_access_log_at_dt'))
    op.drop_table('access_log')
