"""Series titles, descriptions and places, and panel names, in Swedish and English

The existing columns stay the Finnish (default) text; the new ones are optional and fall back to it.

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-02 02:15:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('consultation_series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('title_sv', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('title_en', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('description_sv', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('description_en', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('location_sv', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('location_en', sa.String(length=300), nullable=True))
    with op.batch_alter_table('panels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_sv', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('name_en', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('panels', schema=None) as batch_op:
        batch_op.drop_column('name_en')
        batch_op.drop_column('name_sv')
    with op.batch_alter_table('consultation_series', schema=None) as batch_op:
        batch_op.drop_column('location_en')
        batch_op.drop_column('location_sv')
        batch_op.drop_column('description_en')
        batch_op.drop_column('description_sv')
        batch_op.drop_column('title_en')
        batch_op.drop_column('title_sv')
