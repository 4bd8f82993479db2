"""Job runs: when each background job last succeeded, for readiness, metrics and alerts

Revision ID: 0010
Revises: 0012
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=80), nullable=False),
    sa.Column('last_started_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_duration_seconds', sa.Float(), nullable=True),
    sa.Column('last_failure_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('updated_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job_id', name=op.f('uq_job_runs_job_id'))
    )


def downgrade():
    op.drop_table('job_runs')
