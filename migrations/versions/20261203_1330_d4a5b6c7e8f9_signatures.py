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
    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('signer_name', sa.String(length=64), nullable=False),
    sa.Column('signer_user_id', sa.Integer(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refused', sa.Boolean(), nullable=False),
    sa.Column('witness_note', sa.Text(), nullable=True),
    sa.Column('png', sa.LargeBinary(), nullable=True),
    sa.Column('png_sha256', sa.String(length=64), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_signature_inspection_id_inspection'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['signer_user_id'], ['user_account.id'], name=op.f('fk_signature_signer_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature')),
    sa.UniqueConstraint('uuid', name=op.f('uq_signature_uuid'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_signer_user_id'), ['signer_user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signature_signer_user_id'))
        batch_op.drop_index(batch_op.f('ix_signature_inspection_id'))

    op.drop_table('signature')
