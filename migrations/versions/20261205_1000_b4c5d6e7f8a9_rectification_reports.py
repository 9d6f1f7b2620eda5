"""Rectification reports: the county or department says an order is put right, the office decides.

`rectification_report` is one report (整改完成报告) with its note and who made it, as 属地 or
部门; the office confirms it or sends it back with a reason. `pending` is True while it waits
for the office and NULL otherwise: with the unique (order_id, pending) pair an order has at most
one report waiting, enforced by the database. `rectification_report_photo` links the report's
photos, kept in the evidence store by SHA-256 like every other photo. A confirmed report makes
the order due for its re-inspection before the deadline (`rectification_order.rectification_confirmed_at`).

Revision ID: b4c5d6e7f8a9
Revises: a3b4c5d6e7f8
Create Date: 2026-12-05 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b4c5d6e7f8a9'
down_revision = 'a3b4c5d6e7f8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rectification_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('pending', sa.Boolean(), nullable=True),
    sa.Column('reported_as', sa.String(length=16), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=False),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('return_reason', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'],
                            name=op.f('fk_rectification_report_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['order_id'], ['rectification_order.id'],
                            name=op.f('fk_rectification_report_order_id_rectification_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['user_account.id'],
                            name=op.f('fk_rectification_report_reported_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_report')),
    sa.UniqueConstraint('order_id', 'pending', name=op.f('uq_rectification_report_order_id_pending'))
    )
    with op.batch_alter_table('rectification_report', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_report_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_report_state'), ['state'], unique=False)

    op.create_table('rectification_report_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('evidence_file_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['evidence_file_id'], ['evidence_file.id'],
                            name=op.f('fk_rectification_report_photo_evidence_file_id_evidence_file')),
    sa.ForeignKeyConstraint(['report_id'], ['rectification_report.id'],
                            name=op.f('fk_rectification_report_photo_report_id_rectification_report'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_report_photo')),
    sa.UniqueConstraint('report_id', 'evidence_file_id',
                        name=op.f('uq_rectification_report_photo_report_id_evidence_file_id'))
    )
    with op.batch_alter_table('rectification_report_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_report_photo_evidence_file_id'), ['evidence_file_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_report_photo_report_id'), ['report_id'], unique=False)

    with op.batch_alter_table('rectification_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rectification_confirmed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('rectification_order', schema=None) as batch_op:
        batch_op.drop_column('rectification_confirmed_at')
    with op.batch_alter_table('rectification_report_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_report_photo_report_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_report_photo_evidence_file_id'))
    op.drop_table('rectification_report_photo')
    with op.batch_alter_table('rectification_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_report_state'))
        batch_op.drop_index(batch_op.f('ix_rectification_report_order_id'))
    op.drop_table('rectification_report')
