"""Signatures on site: each inspector and the venue's person in charge, or a refusal with a witness note.

Revision ID: d4a5b6c7e8f9
Revises: c7e1d2a9f3b4
Create Date: 2026-12-03 13:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4a5b6c7e8f9'
down_revision = 'c7e1d2a9f3b4'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
