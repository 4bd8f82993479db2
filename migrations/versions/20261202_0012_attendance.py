"""Experts confirm attendance at a panel session

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02 02:00:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('panel_session_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('is_attending', sa.Boolean(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('answered_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['panel_sessions.id'], name=op.f('fk_panel_session_attendance_session_id_panel_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_panel_session_attendance_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_panel_session_attendance')),
    sa.UniqueConstraint('session_id', 'user_id', name=op.f('uq_panel_session_attendance_session_id_user_id'))
    )
    with op.batch_alter_table('panel_session_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_panel_session_attendance_session_id'), ['session_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_panel_session_attendance_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('panel_session_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_panel_session_attendance_user_id'))
        batch_op.drop_index(batch_op.f('ix_panel_session_attendance_session_id'))
    op.drop_table('panel_session_attendance')
