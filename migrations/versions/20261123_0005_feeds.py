"""Calendar subscription feeds

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:45:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('feed_render_cache',
    sa.Column('cache_key', sa.String(length=160), nullable=False),
    sa.Column('version', sa.String(length=40), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('rendered_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('cache_key', name=op.f('pk_feed_render_cache'))
    )
    op.create_table('feed_tokens',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_feed_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_feed_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_feed_tokens_token_hash'))
    )
    op.create_table('feed_tombstones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('item_key', sa.String(length=80), nullable=False),
    sa.Column('uid', sa.String(length=120), nullable=False),
    sa.Column('start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('panel_name', sa.String(length=200), nullable=False),
    sa.Column('cancelled_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_feed_tombstones_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_tombstones')),
    sa.UniqueConstraint('user_id', 'item_key', name=op.f('uq_feed_tombstones_user_id_item_key'))
    )
    with op.batch_alter_table('feed_tombstones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_tombstones_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('feed_tombstones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_tombstones_user_id'))
    op.drop_table('feed_tombstones')
    op.drop_table('feed_tokens')
    op.drop_table('feed_render_cache')
