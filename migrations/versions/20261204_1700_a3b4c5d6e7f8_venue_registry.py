"""Venue registry: closing a venue, its rooms with seats, and a version row per change.

A closed venue keeps its row (inspections and cases refer to it) with `closed_at` and the
reason, and is no longer drawn. `venue_room` holds the private rooms (包厢) and their seats;
`venue_version` every registered state of a venue (all values, not a diff).

Revision ID: a3b4c5d6e7f8
Revises: f2a3b4c5d6e7
Create Date: 2026-12-04 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a3b4c5d6e7f8'
down_revision = 'f2a3b4c5d6e7'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_reason', sa.String(length=256), nullable=True))

    op.create_table('venue_room',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_room_venue_id_venue'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_room')),
    sa.UniqueConstraint('venue_id', 'name', name=op.f('uq_venue_room_venue_id_name'))
    )
    with op.batch_alter_table('venue_room', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_room_venue_id'), ['venue_id'], unique=False)

    op.create_table('venue_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['changed_by_id'], ['user_account.id'],
                            name=op.f('fk_venue_version_changed_by_id_user_account')),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_venue_version_venue_id_venue'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_venue_version')),
    sa.UniqueConstraint('venue_id', 'version', name=op.f('uq_venue_version_venue_id_version'))
    )
    with op.batch_alter_table('venue_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_venue_version_venue_id'), ['venue_id'], unique=False)


def downgrade():
    with op.batch_alter_table('venue_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_version_venue_id'))
    op.drop_table('venue_version')
    with op.batch_alter_table('venue_room', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_venue_room_venue_id'))
    op.drop_table('venue_room')
    with op.batch_alter_table('venue', schema=None) as batch_op:
        batch_op.drop_column('closed_reason')
        batch_op.drop_column('closed_at')
