"""Legal basis versions and hearing thresholds: legal_basis gains the provision key shared by
versions of one article, the article's own penalty types and maxima, and the admin-edit mark;
discretion_benchmark gains detention ranges and a note; hearing_threshold holds when a penalty
gives the right to a hearing, with validity periods.

Revision ID: fa4452fff7a2
Revises: 5be1a2be2d60
Create Date: 2026-11-28 18:09:07.885324

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fa4452fff7a2'
down_revision = '5be1a2be2d60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('hearing_threshold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('penalty_type', sa.String(length=32), nullable=False),
    sa.Column('min_amount', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_hearing_threshold')),
    sa.UniqueConstraint('code', name=op.f('uq_hearing_threshold_code'))
    )
    with op.batch_alter_table('discretion_benchmark', schema=None) as batch_op:
        batch_op.add_column(sa.Column('min_detention_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_detention_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('note', sa.String(length=256), nullable=True))

    with op.batch_alter_table('legal_basis', schema=None) as batch_op:
        batch_op.add_column(sa.Column('provision', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('penalty_types', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('max_fine_individual', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('max_fine_unit', sa.Numeric(precision=12, scale=2), nullable=True))
        batch_op.add_column(sa.Column('max_detention_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('admin_edited_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_legal_basis_provision'), ['provision'], unique=False)

    # Rows loaded before this revision become one-version provisions keyed by their code; the next
    # `anfang reference load` fills in the real provision keys and statutory limits.
    op.execute("UPDATE legal_basis SET provision = code, penalty_types = '[]'")
    with op.batch_alter_table('legal_basis', schema=None) as batch_op:
        batch_op.alter_column('provision', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('penalty_types', existing_type=sa.JSON(), nullable=False)


def downgrade():
    with op.batch_alter_table('legal_basis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_basis_provision'))
        batch_op.drop_column('admin_edited_at')
        batch_op.drop_column('max_detention_days')
        batch_op.drop_column('max_fine_unit')
        batch_op.drop_column('max_fine_individual')
        batch_op.drop_column('penalty_types')
        batch_op.drop_column('provision')

    with op.batch_alter_table('discretion_benchmark', schema=None) as batch_op:
        batch_op.drop_column('note')
        batch_op.drop_column('max_detention_days')
        batch_op.drop_column('min_detention_days')

    op.drop_table('hearing_threshold')
