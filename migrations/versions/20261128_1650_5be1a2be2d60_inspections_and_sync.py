"""Inspections and sync: field records (inspections, observations, findings, photos, penalties,
example notes, amendments), violations, the applied sync operations and the pulled change log.

Revision ID: 5be1a2be2d60
Revises: b06aa4953ef9
Create Date: 2026-11-28 16:50:36.843296

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5be1a2be2d60'
down_revision = 'b06aa4953ef9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sync_operation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('op_id', sa.String(length=36), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=200), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('device_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('skew_seconds', sa.Float(), nullable=False),
    sa.Column('skew_flagged', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_sync_operation_user_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_operation')),
    sa.UniqueConstraint('op_id', name=op.f('uq_sync_operation_op_id'))
    )
    with op.batch_alter_table('sync_operation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_operation_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_operation_user_id'), ['user_id'], unique=False)

    op.create_table('inspection',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=36), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submission_received_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_inspection_assignment_id_assignment')),
    sa.ForeignKeyConstraint(['inspector_id'], ['user_account.id'], name=op.f('fk_inspection_inspector_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspection')),
    sa.UniqueConstraint('assignment_id', name=op.f('uq_inspection_assignment_id')),
    sa.UniqueConstraint('uuid', name=op.f('uq_inspection_uuid'))
    )
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspection_inspector_id'), ['inspector_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspection_status'), ['status'], unique=False)

    op.create_table('sync_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('entity', sa.String(length=32), nullable=False),
    sa.Column('entity_id', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['assignment.id'], name=op.f('fk_sync_change_assignment_id_assignment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_change'))
    )
    with op.batch_alter_table('sync_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_change_assignment_id'), ['assignment_id'], unique=False)

    op.create_table('amendment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_amendment_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_amendment')),
    sa.UniqueConstraint('uuid', name=op.f('uq_amendment_uuid'))
    )
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_amendment_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('example_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_example_note_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_example_note')),
    sa.UniqueConstraint('uuid', name=op.f('uq_example_note_uuid'))
    )
    with op.batch_alter_table('example_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_example_note_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('finding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('rule_code', sa.String(length=16), nullable=False),
    sa.Column('check_code', sa.String(length=64), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_finding_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding')),
    sa.UniqueConstraint('uuid', name=op.f('uq_finding_uuid'))
    )
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('item_code', sa.String(length=64), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_observation_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_observation')),
    sa.UniqueConstraint('inspection_id', 'item_code', name=op.f('uq_observation_inspection_id_item_code'))
    )
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_observation_inspection_id'), ['inspection_id'], unique=False)

    op.create_table('penalty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=True),
    sa.Column('basis_code', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_penalty_finding_id_finding'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_penalty')),
    sa.UniqueConstraint('uuid', name=op.f('uq_penalty_uuid'))
    )
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_penalty_finding_id'), ['finding_id'], unique=False)

    op.create_table('photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('original_name', sa.String(length=255), nullable=True),
    sa.Column('media_type', sa.String(length=32), nullable=True),
    sa.Column('caption', sa.Text(), nullable=True),
    sa.Column('exif_time', sa.String(length=32), nullable=True),
    sa.Column('exif_latitude', sa.Float(), nullable=True),
    sa.Column('exif_longitude', sa.Float(), nullable=True),
    sa.Column('exif_orientation', sa.Integer(), nullable=True),
    sa.Column('taken_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evidence_file_id', sa.Integer(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['evidence_file_id'], ['evidence_file.id'], name=op.f('fk_photo_evidence_file_id_evidence_file')),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_photo_finding_id_finding')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_photo_inspection_id_inspection'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_photo')),
    sa.UniqueConstraint('uuid', name=op.f('uq_photo_uuid'))
    )
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_photo_evidence_file_id'), ['evidence_file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_photo_sha256'), ['sha256'], unique=False)

    op.create_table('violation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('finding_id', sa.Integer(), nullable=True),
    sa.Column('rule_code', sa.String(length=16), nullable=False),
    sa.Column('check_code', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('venue_id', sa.Integer(), nullable=False),
    sa.Column('county_id', sa.Integer(), nullable=False),
    sa.Column('department_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f('fk_violation_county_id_county')),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_violation_finding_id_finding')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_violation_inspection_id_inspection'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['venue_id'], ['venue.id'], name=op.f('fk_violation_venue_id_venue')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_violation')),
    sa.UniqueConstraint('inspection_id', 'rule_code', 'check_code', name=op.f('uq_violation_inspection_id_rule_code_check_code'))
    )
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_violation_county_id'), ['county_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_rule_code'), ['rule_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_violation_venue_id'), ['venue_id'], unique=False)



def downgrade():
    with op.batch_alter_table('violation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_violation_venue_id'))
        batch_op.drop_index(batch_op.f('ix_violation_rule_code'))
        batch_op.drop_index(batch_op.f('ix_violation_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_violation_finding_id'))
        batch_op.drop_index(batch_op.f('ix_violation_county_id'))

    op.drop_table('violation')
    with op.batch_alter_table('photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_photo_sha256'))
        batch_op.drop_index(batch_op.f('ix_photo_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_photo_finding_id'))
        batch_op.drop_index(batch_op.f('ix_photo_evidence_file_id'))

    op.drop_table('photo')
    with op.batch_alter_table('penalty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_penalty_finding_id'))

    op.drop_table('penalty')
    with op.batch_alter_table('observation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_observation_inspection_id'))

    op.drop_table('observation')
    with op.batch_alter_table('finding', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_inspection_id'))

    op.drop_table('finding')
    with op.batch_alter_table('example_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_example_note_inspection_id'))

    op.drop_table('example_note')
    with op.batch_alter_table('amendment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_amendment_inspection_id'))

    op.drop_table('amendment')
    with op.batch_alter_table('sync_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_change_assignment_id'))

    op.drop_table('sync_change')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspection_status'))
        batch_op.drop_index(batch_op.f('ix_inspection_inspector_id'))

    op.drop_table('inspection')
    with op.batch_alter_table('sync_operation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_operation_user_id'))
        batch_op.drop_index(batch_op.f('ix_sync_operation_device_id'))

    op.drop_table('sync_operation')
