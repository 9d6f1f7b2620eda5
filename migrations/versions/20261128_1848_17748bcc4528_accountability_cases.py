"""Accountability cases: a period and optional county traced along the four-party responsibility,
reviewed by the office and issued as a numbered report (findings stored at issue).

Revision ID: 17748bcc4528
Revises: 56e437a128ce
Create Date: 2026-11-28 18:48:51.962461

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '17748bcc4528'
down_revision = '56e437a128ce'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('accountability_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('date_from', sa.Date(), nullable=False),
    sa.Column('date_to', sa.Date(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('review_note', sa.Text(), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('document_id', sa.String(length=36), nullable=True),
    sa.Column('findings', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f('fk_accountability_case_county_id_county')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_accountability_case_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_accountability_case_document_id_document')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_accountability_case_issued_by_id_user_account')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_accountability_case_reviewed_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accountability_case')),
    sa.UniqueConstraint('document_id', name=op.f('uq_accountability_case_document_id'))
    )
    with op.batch_alter_table('accountability_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accountability_case_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_accountability_case_state'), ['state'], unique=False)



def downgrade():
    with op.batch_alter_table('accountability_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accountability_case_state'))
        batch_op.drop_index(batch_op.f('ix_accountability_case_county_id'))

    op.drop_table('accountability_case')
