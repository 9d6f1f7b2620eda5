"""Draws and assignments: draw policy, verifiable draws, sealed assignments, teams, transitions.

Revision ID: 74f1b0d7b264
Revises: e0d863ae05ac
Create Date: 2026-11-28 15:50:33.464268

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '74f1b0d7b264'
down_revision = 'e0d863ae05ac'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('draw_policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw_policy')),
    sa.UniqueConstraint('code', name=op.f('uq_draw_policy_code'))
    )
    op.create_table('draw',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('sealed_seed', sa.LargeBinary(), nullable=False),
    sa.Column('revealed_seed', sa.String(length=64), nullable=True),
    sa.Column('parameters_digest', sa.String(length=64), nullable=False),
    sa.Column('venues_digest', sa.String(length=64), nullable=False),
    sa.Column('inspectors_digest', sa.String(length=64), nullable=False),
    sa.Column('result_digest', sa.String(length=64), nullable=False),
    sa.Column('venues_snapshot', sa.LargeBinary(), nullable=False),
    sa.Column('inspectors_snapshot', sa.LargeBinary(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_draw_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_draw_created_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_draw')),
    sa.UniqueConstraint('uuid', name=op.f('uq_draw_uuid'))
    )
    op.create_table('assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('draw_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('visit_date', sa.Date(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('meeting_point', sa.String(length=256), nullable=True),
    sa.Column('may_propose_penalties', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('envelope', sa.LargeBinary(), nullable=True),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=False),
    sa.Column('wrapped_reveal_code', sa.LargeBinary(), nullable=True),
    sa.Column('dispatched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatched_by_id', sa.Integer(), nullable=True),
    sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dispatched_by_id'], ['user_account.id'], name=op.f('fk_assignment_dispatched_by_id_user_account')),
    sa.ForeignKeyConstraint(['draw_id'], ['draw.id'], name=op.f('fk_assignment_draw_id_draw')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_assignment_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment')),
    sa.UniqueConstraint('draw_id', 'position', name=op.f('uq_assignment_draw_id_position')),
    sa.UniqueConstraint('uuid', name=op.f('uq_assignment_uuid'))
    )
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_draw_id'), ['draw_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_venue_id'), ['venue_id'], unique=False)

    op.create_table('assignment_member',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_leader', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_assignment_member_assignment_id_assignment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_assignment_member_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_member')),
    sa.UniqueConstraint('assignment_id', 'user_id', name=op.f('uq_assignment_member_assignment_id_user_id'))
    )
    with op.batch_alter_table('assignment_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_member_assignment_id'), ['assignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignment_member_user_id'), ['user_id'], unique=False)

    op.create_table('assignment_transition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_assignment_transition_actor_id_user_account')),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_assignment_transition_assignment_id_assignment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignment_transition'))
    )
    with op.batch_alter_table('assignment_transition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignment_transition_assignment_id'), ['assignment_id'], unique=False)



def downgrade():
    with op.batch_alter_table('assignment_transition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_transition_assignment_id'))

    op.drop_table('assignment_transition')
    with op.batch_alter_table('assignment_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_member_user_id'))
        batch_op.drop_index(batch_op.f('ix_assignment_member_assignment_id'))

    op.drop_table('assignment_member')
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignment_venue_id'))
        batch_op.drop_index(batch_op.f('ix_assignment_status'))
        batch_op.drop_index(batch_op.f('ix_assignment_draw_id'))

    op.drop_table('assignment')
    op.drop_table('draw')
    op.drop_table('draw_policy')
