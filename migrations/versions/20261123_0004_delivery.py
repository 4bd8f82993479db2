"""Delivery: the outbox and calendar invitations

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 06:45:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'sent', 'failed')", name=op.f('ck_outbox_messages_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_messages_dedupe_key'))
    )
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_dt'], unique=False)

    op.create_table('calendar_invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('meeting_key', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('sends', sa.Integer(), nullable=False),
    sa.Column('start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("method IN ('REQUEST', 'CANCEL')", name=op.f('ck_calendar_invitations_method')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_invitations')),
    sa.UniqueConstraint('uid', 'email', name=op.f('uq_calendar_invitations_uid_email'))
    )
    with op.batch_alter_table('calendar_invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_invitations_meeting_key'), ['meeting_key'], unique=False)


def downgrade():
    with op.batch_alter_table('calendar_invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_invitations_meeting_key'))
    op.drop_table('calendar_invitations')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_due')
    op.drop_table('outbox_messages')
