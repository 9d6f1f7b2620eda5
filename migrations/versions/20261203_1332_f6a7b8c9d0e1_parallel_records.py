"""Parallel records: a second device of one team keeps its own record of the assignment.

`inspection.assignment_id` is no longer unique: `is_primary` (True, or NULL for a parallel
record) with a unique (assignment_id, is_primary) keeps exactly one primary record per
assignment in the database itself (NULLs never collide). Records held before this revision are
each their assignment's only record, hence primary. `record_adoption` holds the office's
decisions to adopt another record.

Revision ID: f6a7b8c9d0e1
Revises: e5f6a7b8c9d0
Create Date: 2026-12-03 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f6a7b8c9d0e1'
down_revision = 'e5f6a7b8c9d0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_primary', sa.Boolean(), nullable=True))
    inspection = sa.table('inspection', sa.column('is_primary', sa.Boolean()))
    op.execute(inspection.update().values(is_primary=True))
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_inspection_assignment_id'), type_='unique')
        batch_op.create_index(batch_op.f('ix_inspection_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_inspection_assignment_id_is_primary'),
                                          ['assignment_id', 'is_primary'])
        batch_op.create_check_constraint(batch_op.f('ck_inspection_primary_true_or_null'),
                                         'is_primary IS NULL OR is_primary')

    op.create_table('record_adoption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('adopted_id', sa.Integer(), nullable=False),
    sa.Column('replaced_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['adopted_id'], ['inspection.id'], name=op.f('fk_record_adoption_adopted_id_inspection')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_record_adoption_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_record_adoption_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['replaced_id'], ['inspection.id'], name=op.f('fk_record_adoption_replaced_id_inspection')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_adoption'))
    )
    with op.batch_alter_table('record_adoption', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_adoption_adopted_id'), ['adopted_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_record_adoption_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_record_adoption_replaced_id'), ['replaced_id'], unique=False)


def downgrade():
    # The older schema holds one record per assignment: going back would have to drop what a
    # team member recorded, so it is refused while any parallel record exists.
    parallel = op.get_bind().scalar(sa.text('SELECT count(*) FROM inspection WHERE is_primary IS NULL'))
    if parallel:
        raise RuntimeError(f'数据库中有 {parallel} 份并行督查记录，旧结构每个任务只能保存一份记录，不能降级。')
    with op.batch_alter_table('record_adoption', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_adoption_replaced_id'))
        batch_op.drop_index(batch_op.f('ix_record_adoption_assignment_id'))
        batch_op.drop_index(batch_op.f('ix_record_adoption_adopted_id'))

    op.drop_table('record_adoption')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_inspection_primary_true_or_null'), type_='check')
        batch_op.drop_constraint(batch_op.f('uq_inspection_assignment_id_is_primary'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_inspection_assignment_id'))
        batch_op.create_unique_constraint(batch_op.f('uq_inspection_assignment_id'), ['assignment_id'])
        batch_op.drop_column('is_primary')
