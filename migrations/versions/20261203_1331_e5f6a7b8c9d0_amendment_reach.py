"""Amendments that correct findings, penalties and notes as well as observations.

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
    pass


def downgrade():
    pass
