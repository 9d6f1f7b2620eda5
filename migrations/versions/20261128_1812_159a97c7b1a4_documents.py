"""Documents: issued official documents (number, rendered context, content and PDF hashes, who
issued them) and the per-kind, per-year serial counters their numbers are allocated from.

Revision ID: 159a97c7b1a4
Revises: fa4452fff7a2
Create Date: 2026-11-28 18:12:39.580720

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '159a97c7b1a4'
down_revision = 'fa4452fff7a2'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('document_counter',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'year', name=op.f('pk_document_counter'))
    )
    op.create_table('document',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('serial', sa.Integer(), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('pdf_size', sa.BigInteger(), nullable=False),
    sa.Column('pdf_path', sa.String(length=255), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_document_issued_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('kind', 'year', 'serial', name=op.f('uq_document_kind_year_serial')),
    sa.UniqueConstraint('number', name=op.f('uq_document_number'))
    )
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_issued_by_id'), ['issued_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_document_pdf_sha256'), ['pdf_sha256'], unique=False)
        batch_op.create_index('ix_document_subject', ['subject_type', 'subject_id'], unique=False)


def downgrade():
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_index('ix_document_subject')
        batch_op.drop_index(batch_op.f('ix_document_pdf_sha256'))
        batch_op.drop_index(batch_op.f('ix_document_issued_by_id'))

    op.drop_table('document')
    op.drop_table('document_counter')
