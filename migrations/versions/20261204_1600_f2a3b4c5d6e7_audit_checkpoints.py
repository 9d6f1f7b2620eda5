"""Audit chain anchored outside: auditors' keys, signed checkpoints, the head on issued documents.

An auditor's Ed25519 public key is registered (`audit_auditor_key`); a chain head they signed on
their own machine is stored with its signature (`audit_checkpoint`). Each issued document keeps
the chain head at its issue (`document.audit_head_seq`, `audit_head_hash`), which it also prints;
documents issued before have none.

Revision ID: f2a3b4c5d6e7
Revises: e1f2a3b4c5d6
Create Date: 2026-12-04 16:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'f2a3b4c5d6e7'
down_revision = 'e1f2a3b4c5d6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_auditor_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.String(length=44), nullable=False),
    sa.Column('fingerprint', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=64), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['registered_by_id'], ['user_account.id'],
                            name=op.f('fk_audit_auditor_key_registered_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_auditor_key')),
    sa.UniqueConstraint('public_key', name=op.f('uq_audit_auditor_key_public_key'))
    )
    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('signed_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('public_key', sa.String(length=44), nullable=False),
    sa.Column('signature', sa.String(length=88), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['added_by_id'], ['user_account.id'],
                            name=op.f('fk_audit_checkpoint_added_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint')),
    sa.UniqueConstraint('seq', 'public_key', name=op.f('uq_audit_checkpoint_seq_public_key'))
    )
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_checkpoint_seq'), ['seq'], unique=False)
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_head_seq', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('audit_head_hash', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_column('audit_head_hash')
        batch_op.drop_column('audit_head_seq')
    with op.batch_alter_table('audit_checkpoint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_checkpoint_seq'))
    op.drop_table('audit_checkpoint')
    op.drop_table('audit_auditor_key')
