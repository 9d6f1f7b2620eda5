"""Rectification orders: the order (venue, optional case, requirements, deadline, issuer, the
re-inspection assignment, result, escalation), the violations it covers (at most one open order
per violation, by a unique (violation_id, open) pair), and `draw.purpose` (sample | reinspection).

Revision ID: 56e437a128ce
Revises: a4d9b0744328
Create Date: 2026-11-28 18:32:50.848730

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '56e437a128ce'
down_revision = 'a4d9b0744328'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rectification_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=24), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('requirements', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('issuing_authority', sa.String(length=128), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_by_id', sa.Integer(), nullable=False),
    sa.Column('reinspection_assignment_id', sa.Integer(), nullable=True),
    sa.Column('reinspection_scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reinspection_inspection_id', sa.Integer(), nullable=True),
    sa.Column('result_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result_note', sa.Text(), nullable=True),
    sa.Column('escalated_case_id', sa.Integer(), nullable=True),
    sa.Column('withdrawn_reason', sa.Text(), nullable=True),
    sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], name=op.f('fk_rectification_order_case_id_enforcement_case')),
    sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f('fk_rectification_order_county_id_county')),
    sa.ForeignKeyConstraint(['escalated_case_id'], ['enforcement_case.id'], name=op.f('fk_rectification_order_escalated_case_id_enforcement_case')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['user_account.id'], name=op.f('fk_rectification_order_issued_by_id_user_account')),
    sa.ForeignKeyConstraint(['reinspection_assignment_id'], ['assignment.id'], name=op.f('fk_rectification_order_reinspection_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['reinspection_inspection_id'], ['inspection.id'], name=op.f('fk_rectification_order_reinspection_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_rectification_order_venue_id_venue')),
    sa.ForeignKeyConstraint(['withdrawn_by_id'], ['user_account.id'], name=op.f('fk_rectification_order_withdrawn_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_order'))
    )
    with op.batch_alter_table('rectification_order', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_order_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_escalated_case_id'), ['escalated_case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_reinspection_assignment_id'), ['reinspection_assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_venue_id'), ['venue_id'], unique=False)

    op.create_table('rectification_order_violation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('violation_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('open', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['rectification_order.id'], name=op.f('fk_rectification_order_violation_order_id_rectification_order'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['violation_id'], ['violation.id'], name=op.f('fk_rectification_order_violation_violation_id_violation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectification_order_violation')),
    sa.UniqueConstraint('order_id', 'violation_id', name=op.f('uq_rectification_order_violation_order_id_violation_id')),
    sa.UniqueConstraint('violation_id', 'open', name=op.f('uq_rectification_order_violation_violation_id_open'))
    )
    with op.batch_alter_table('rectification_order_violation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectification_order_violation_order_id'), ['order_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_rectification_order_violation_violation_id'), ['violation_id'], unique=False)

    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purpose', sa.String(length=16), server_default='sample', nullable=False))
        batch_op.create_index(batch_op.f('ix_draw_purpose'), ['purpose'], unique=False)



def downgrade():
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_draw_purpose'))
        batch_op.drop_column('purpose')

    with op.batch_alter_table('rectification_order_violation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_order_violation_violation_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_violation_order_id'))

    op.drop_table('rectification_order_violation')
    with op.batch_alter_table('rectification_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectification_order_venue_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_state'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_reinspection_assignment_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_escalated_case_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_deadline'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_county_id'))
        batch_op.drop_index(batch_op.f('ix_rectification_order_case_id'))

    op.drop_table('rectification_order')
