"""Violations remember the amendment that found or withdrew them.

An amendment to a submitted inspection re-evaluates its rules: a check it clears is withdrawn
(kept, never deleted), a check it breaks is added.

Revision ID: b9e29db68e43
Revises: 159a97c7b1a4
Create Date: 2026-11-28 18:24:40.609094

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b9e29db68e43'
down_revision = '159a97c7b1a4'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amendment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_by_amendment_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_violation_withdrawn_by_amendment_id_amendment'), 'amendment', ['withdrawn_by_amendment_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_violation_amendment_id_amendment'), 'amendment', ['amendment_id'], ['id'])


def downgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_violation_amendment_id_amendment'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_violation_withdrawn_by_amendment_id_amendment'), type_='foreignkey')
        batch_op.drop_column('withdrawn_by_amendment_id')
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('amendment_id')
