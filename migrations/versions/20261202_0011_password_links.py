"""One-time links to set a password (welcome e-mail, forgotten password)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 01:00:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('password_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=10), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("purpose IN ('welcome', 'reset')", name=op.f('ck_password_tokens_purpose')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_password_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_password_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_password_tokens_token_hash'))
    )
    with op.batch_alter_table('password_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_password_tokens_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('password_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_password_tokens_user_id'))
    op.drop_table('password_tokens')
