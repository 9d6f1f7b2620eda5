"""Amendments that correct findings, penalties and notes as well as observations.

Findings, penalties and notes remember the amendment that added or withdrew them (withdrawn
rows are kept, never deleted). Inspections and photos keep their check-in checks: the distance
to the venue and the flags shown to the office.

Revision ID: e5f6a7b8c9d0
Revises: d4a5b6c7e8f9
Create Date: 2026-12-03 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5f6a7b8c9d0'
down_revision = 'd4a5b6c7e8f9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amendment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_amendment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_finding_amendment_id_amendment'), 'amendment', ['amendment_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_finding_withdrawn_by_amendment_id_amendment'), 'amendment', ['withdrawn_by_amendment_id'], ['id'])

    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amendment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_amendment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_penalty_amendment_id_amendment'), 'amendment', ['amendment_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_penalty_withdrawn_by_amendment_id_amendment'), 'amendment', ['withdrawn_by_amendment_id'], ['id'])

    with op.batch_alter_table('example_note', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amendment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_amendment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_example_note_amendment_id_amendment'), 'amendment', ['amendment_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_example_note_withdrawn_by_amendment_id_amendment'), 'amendment', ['withdrawn_by_amendment_id'], ['id'])

    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_distance_m', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('checkin_flags', sa.JSON(), nullable=True))
        # Records held before the checks existed are simply not flagged.
        batch_op.add_column(sa.Column('checkin_flagged', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_inspection_checkin_flagged'), ['checkin_flagged'], unique=False)

    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('distance_m', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('position_flag', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_column('position_flag')
        batch_op.drop_column('distance_m')

    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_checkin_flagged'))
        batch_op.drop_column('checkin_flagged')
        batch_op.drop_column('checkin_flags')
        batch_op.drop_column('checkin_distance_m')

    for table in ('example_note', 'penalty', 'finding'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_withdrawn_by_amendment_id_amendment'), type_='foreignkey')
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_amendment_id_amendment'), type_='foreignkey')
            batch_op.drop_column('withdrawn_by_amendment_id')
            if table != 'finding':
                batch_op.drop_column('withdrawn_at')
            batch_op.drop_column('amendment_id')
