"""Teams meetings (Microsoft Graph)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 06:45:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('teams_meetings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('meeting_key', sa.String(length=80), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('is_cancelled', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('graph_id', sa.String(length=512), nullable=True),
    sa.Column('join_url', sa.Text(), nullable=True),
    sa.Column('synced_subject', sa.String(length=200), nullable=True),
    sa.Column('synced_start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('synced_end_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('is_deleted_in_graph', sa.Boolean(), nullable=False),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams_meetings')),
    sa.UniqueConstraint('external_id', name=op.f('uq_teams_meetings_external_id')),
    sa.UniqueConstraint('meeting_key', name=op.f('uq_teams_meetings_meeting_key'))
    )


def downgrade():
    op.drop_table('teams_meetings')
