"""Venues: the 统一社会信用代码 of the unit running the venue.

A case opened against a venue proposes the unit as its party (name, address, operator as legal
representative and this code). Nullable: venues imported before this revision have none on
record, and some venues (a village, a building site) have no unit of their own.

Revision ID: c9d0e1f2a3b4
Revises: b8c9d0e1f2a3
Create Date: 2026-12-03 18:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9d0e1f2a3b4'
down_revision = 'b8c9d0e1f2a3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_code', sa.String(length=18), nullable=True))


def downgrade():
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_column('credit_code')
