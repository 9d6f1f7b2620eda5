"""Draws: a seed contribution no one in the office can know, and visible cancellations.

A draw now waits (`awaiting`) after committing to the office's seed and the snapshots until the
contribution named by the policy is entered; only then are the assignments formed and the result
digest set, so `result_digest` may be empty. A cancelled draw keeps its reason, who and when, and
a later draw over an overlapping scope points at the one it replaces. A rectification order points
at its re-inspection's draw from the moment it is made, before the draw has an assignment. Existing draws keep their
meaning: no contribution, their seed is the office's seed alone (docs/draw-algorithm.md §1).

Revision ID: e1f2a3b4c5d6
Revises: d0e1f2a3b4c5
Create Date: 2026-12-04 15:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e1f2a3b4c5d6'
down_revision = 'd0e1f2a3b4c5'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contribution', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('contribution_source', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('contributed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('contributed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cancel_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cancelled_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('replaces_id', sa.Integer(), nullable=True))
        batch_op.alter_column('result_digest', existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index(batch_op.f('ix_draw_replaces_id'), ['replaces_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_draw_contributed_by_id_user_account'), 'user_account',
                                    ['contributed_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_draw_cancelled_by_id_user_account'), 'user_account',
                                    ['cancelled_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_draw_replaces_id_draw'), 'draw', ['replaces_id'], ['id'])
    with op.batch_alter_table('rectification_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reinspection_draw_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_rectification_order_reinspection_draw_id'), ['reinspection_draw_id'],
                              unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_rectification_order_reinspection_draw_id_draw'), 'draw',
                                    ['reinspection_draw_id'], ['id'])


def downgrade():
    with op.batch_alter_table('rectification_order', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_rectification_order_reinspection_draw_id_draw'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_rectification_order_reinspection_draw_id'))
        batch_op.drop_column('reinspection_draw_id')
    with op.batch_alter_table('draw', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_draw_replaces_id_draw'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_draw_cancelled_by_id_user_account'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_draw_contributed_by_id_user_account'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_draw_replaces_id'))
        batch_op.alter_column('result_digest', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('replaces_id')
        batch_op.drop_column('cancelled_by_id')
        batch_op.drop_column('cancelled_at')
        batch_op.drop_column('cancel_reason')
        batch_op.drop_column('contributed_by_id')
        batch_op.drop_column('contributed_at')
        batch_op.drop_column('contribution_source')
        batch_op.drop_column('contribution')
