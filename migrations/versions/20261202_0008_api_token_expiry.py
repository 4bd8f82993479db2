"""API tokens expire (a year by default)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02 01:30:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    # existing tokens keep working until someone revokes them (NULL: no expiry)
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_dt')
