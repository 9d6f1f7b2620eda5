"""Upload progress lives on disk: a tus upload's offset is its temporary file's size and its
expiry is counted from the file's last write, so a chunk writes nothing to the database.

Revision ID: 575621a9487d
Revises: b41bf0e40a8e
Create Date: 2026-11-28 20:41:33.966343

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '575621a9487d'
down_revision = 'b41bf0e40a8e'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_upload_expires_at'))
        batch_op.drop_column('expires_at')
        batch_op.drop_column('upload_offset')


def downgrade():
    # Partial uploads come back at offset 0 and already expired: the cleaner removes them and
    # clients start those photos again, which loses nothing (clients keep photos until complete).
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('upload_offset', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False,
                                      server_default=sa.func.current_timestamp()))
        batch_op.create_index(batch_op.f('ix_upload_expires_at'), ['expires_at'], unique=False)
