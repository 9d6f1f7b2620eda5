"""A bulletin's own wording per chosen item (heading and text; NULL prints the library's).

Revision ID: c7e1d2a9f3b4
Revises: 575621a9487d
Create Date: 2026-11-28 20:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e1d2a9f3b4'
down_revision = '575621a9487d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('bulletin_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('heading', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('bulletin_item', schema=None) as batch_op:
        batch_op.drop_column('text')
        batch_op.drop_column('heading')
