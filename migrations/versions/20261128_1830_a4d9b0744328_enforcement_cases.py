"""Enforcement cases: penalty cases (party, facts, penalties, deadlines, service, execution, two
officers with certificate numbers, optimistic version), their violations (at most one live case
per violation, by a unique (violation_id, live) pair), declined violations, and the transition history.

Revision ID: a4d9b0744328
Revises: b9e29db68e43
Create Date: 2026-11-28 18:08:34.729728

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a4d9b0744328'
down_revision = 'b9e29db68e43'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('enforcement_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('party_kind', sa.String(length=16), nullable=False),
    sa.Column('party_name', sa.String(length=64), nullable=True),
    sa.Column('party_id_number', sa.String(length=32), nullable=True),
    sa.Column('party_unit_name', sa.String(length=128), nullable=True),
    sa.Column('party_credit_code', sa.String(length=18), nullable=True),
    sa.Column('party_legal_representative', sa.String(length=64), nullable=True),
    sa.Column('party_address', sa.String(length=256), nullable=True),
    sa.Column('party_phone', sa.String(length=32), nullable=True),
    sa.Column('facts', sa.Text(), nullable=False),
    sa.Column('evidence_summary', sa.Text(), nullable=True),
    sa.Column('circumstance', sa.String(length=16), nullable=False),
    sa.Column('act_date', sa.Date(), nullable=False),
    sa.Column('proposed_penalty_type', sa.String(length=16), nullable=True),
    sa.Column('proposed_amount', sa.Integer(), nullable=True),
    sa.Column('proposed_basis_code', sa.String(length=64), nullable=True),
    sa.Column('notified_on', sa.Date(), nullable=True),
    sa.Column('statement_deadline', sa.Date(), nullable=True),
    sa.Column('hearing_offered', sa.Boolean(), nullable=False),
    sa.Column('hearing_request_deadline', sa.Date(), nullable=True),
    sa.Column('hearing_requested', sa.Boolean(), nullable=False),
    sa.Column('hearing_held_on', sa.Date(), nullable=True),
    sa.Column('statement_waived', sa.Boolean(), nullable=False),
    sa.Column('statement_note', sa.Text(), nullable=True),
    sa.Column('decided_penalty_type', sa.String(length=16), nullable=True),
    sa.Column('decided_amount', sa.Integer(), nullable=True),
    sa.Column('decided_basis_code', sa.String(length=64), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('served_on', sa.Date(), nullable=True),
    sa.Column('service_method', sa.String(length=16), nullable=True),
    sa.Column('execution_outcome', sa.String(length=16), nullable=True),
    sa.Column('paid_amount', sa.Integer(), nullable=True),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('executed_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sa.Text(), nullable=True),
    sa.Column('officer1_id', sa.Integer(), nullable=False),
    sa.Column('officer1_certificate_no', sa.String(length=32), nullable=False),
    sa.Column('officer2_id', sa.Integer(), nullable=False),
    sa.Column('officer2_certificate_no', sa.String(length=32), nullable=False),
    sa.Column('opened_by_id', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f('fk_enforcement_case_county_id_county')),
    sa.ForeignKeyConstraint(['officer1_id'], ['user_account.id'], name=op.f('fk_enforcement_case_officer1_id_user_account')),
    sa.ForeignKeyConstraint(['officer2_id'], ['user_account.id'], name=op.f('fk_enforcement_case_officer2_id_user_account')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user_account.id'], name=op.f('fk_enforcement_case_opened_by_id_user_account')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_enforcement_case_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enforcement_case'))
    )
    with op.batch_alter_table('enforcement_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enforcement_case_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_case_officer1_id'), ['officer1_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_case_officer2_id'), ['officer2_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_case_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_enforcement_case_venue_id'), ['venue_id'], unique=False)

    op.create_table('case_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_case_transition_actor_id_user_account')),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], name=op.f('fk_case_transition_case_id_enforcement_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_transition'))
    )
    with op.batch_alter_table('case_transition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_transition_case_id'), ['case_id'], unique=False)

    op.create_table('case_violation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('violation_id', sa.Integer(), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['enforcement_case.id'], name=op.f('fk_case_violation_case_id_enforcement_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['violation_id'], ['violation.id'], name=op.f('fk_case_violation_violation_id_violation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_violation')),
    sa.UniqueConstraint('case_id', 'violation_id', name=op.f('uq_case_violation_case_id_violation_id')),
    sa.UniqueConstraint('violation_id', 'live', name=op.f('uq_case_violation_violation_id_live'))
    )
    with op.batch_alter_table('case_violation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_violation_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_violation_violation_id'), ['violation_id'], unique=False)

    op.create_table('violation_decline',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('violation_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('declined_by_id', sa.Integer(), nullable=False),
    sa.Column('declined_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['declined_by_id'], ['user_account.id'], name=op.f('fk_violation_decline_declined_by_id_user_account')),
    sa.ForeignKeyConstraint(['violation_id'], ['violation.id'], name=op.f('fk_violation_decline_violation_id_violation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violation_decline')),
    sa.UniqueConstraint('violation_id', name=op.f('uq_violation_decline_violation_id'))
    )


def downgrade():
    op.drop_table('violation_decline')
    with op.batch_alter_table('case_violation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_violation_violation_id'))
        batch_op.drop_index(batch_op.f('ix_case_violation_case_id'))

    op.drop_table('case_violation')
    with op.batch_alter_table('case_transition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_transition_case_id'))

    op.drop_table('case_transition')
    with op.batch_alter_table('enforcement_case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_enforcement_case_venue_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_case_state'))
        batch_op.drop_index(batch_op.f('ix_enforcement_case_officer2_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_case_officer1_id'))
        batch_op.drop_index(batch_op.f('ix_enforcement_case_county_id'))

    op.drop_table('enforcement_case')
