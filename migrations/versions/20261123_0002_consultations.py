"""Consultation hours

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:45:00

"""
from alembic import op
import sqlalchemy as sa
import scheduler.core.db


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('consultation_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rrule', sa.String(length=200), nullable=False),
    sa.Column('first_start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('until', sa.Date(), nullable=True),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('slots_per_occurrence', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('modality', sa.String(length=20), nullable=False),
    sa.Column('location', sa.String(length=300), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('open_to', sa.JSON(), nullable=False),
    sa.Column('min_notice_hours', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('skip_holidays', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("modality IN ('teams', 'in_person', 'phone')", name=op.f('ck_consultation_series_modality')),
    sa.CheckConstraint('min_notice_hours >= 0 AND horizon_days > 0', name=op.f('ck_consultation_series_window')),
    sa.CheckConstraint('slot_minutes > 0 AND slots_per_occurrence > 0 AND capacity > 0', name=op.f('ck_consultation_series_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_consultation_series_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_consultation_series_unit_id_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_series'))
    )
    with op.batch_alter_table('consultation_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_series_unit_id'), ['unit_id'], unique=False)

    op.create_table('consultation_occurrence_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('original_start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('new_start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['users.id'], name=op.f('fk_consultation_occurrence_changes_changed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['consultation_series.id'], name=op.f('fk_consultation_occurrence_changes_series_id_consultation_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_occurrence_changes')),
    sa.UniqueConstraint('series_id', 'original_start_dt', name=op.f('uq_consultation_occurrence_changes_series_id_original_start_dt'))
    )
    with op.batch_alter_table('consultation_occurrence_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_occurrence_changes_series_id'), ['series_id'], unique=False)

    op.create_table('consultation_series_consultants',
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['consultation_series.id'], name=op.f('fk_consultation_series_consultants_series_id_consultation_series'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consultation_series_consultants_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('series_id', 'user_id', name=op.f('pk_consultation_series_consultants'))
    )
    with op.batch_alter_table('consultation_series_consultants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_series_consultants_user_id'), ['user_id'], unique=False)

    op.create_table('consultation_slots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0 AND booked <= capacity', name=op.f('ck_consultation_slots_within_capacity')),
    sa.ForeignKeyConstraint(['series_id'], ['consultation_series.id'], name=op.f('fk_consultation_slots_series_id_consultation_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_slots')),
    sa.UniqueConstraint('series_id', 'start_dt', name=op.f('uq_consultation_slots_series_id_start_dt'))
    )
    op.create_table('consultation_bookings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slot_id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('booker_id', sa.Integer(), nullable=False),
    sa.Column('start_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('case_ref', sa.String(length=60), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('participants', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('ical_uid', sa.String(length=80), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('join_url', sa.String(length=2000), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=False),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('created_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_dt', scheduler.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('confirmed', 'cancelled')", name=op.f('ck_consultation_bookings_status')),
    sa.ForeignKeyConstraint(['booker_id'], ['users.id'], name=op.f('fk_consultation_bookings_booker_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_consultation_bookings_cancelled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['series_id'], ['consultation_series.id'], name=op.f('fk_consultation_bookings_series_id_consultation_series'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['slot_id'], ['consultation_slots.id'], name=op.f('fk_consultation_bookings_slot_id_consultation_slots'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_bookings')),
    sa.UniqueConstraint('ical_uid', name=op.f('uq_consultation_bookings_ical_uid'))
    )
    with op.batch_alter_table('consultation_bookings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_bookings_booker_id'), ['booker_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consultation_bookings_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consultation_bookings_slot_id'), ['slot_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consultation_bookings_start_dt'), ['start_dt'], unique=False)



def downgrade():
    with op.batch_alter_table('consultation_bookings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_bookings_start_dt'))
        batch_op.drop_index(batch_op.f('ix_consultation_bookings_slot_id'))
        batch_op.drop_index(batch_op.f('ix_consultation_bookings_series_id'))
        batch_op.drop_index(batch_op.f('ix_consultation_bookings_booker_id'))

    op.drop_table('consultation_bookings')
    op.drop_table('consultation_slots')
    with op.batch_alter_table('consultation_series_consultants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_series_consultants_user_id'))

    op.drop_table('consultation_series_consultants')
    with op.batch_alter_table('consultation_occurrence_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_occurrence_changes_series_id'))

    op.drop_table('consultation_occurrence_changes')
    with op.batch_alter_table('consultation_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_series_unit_id'))

    op.drop_table('consultation_series')
