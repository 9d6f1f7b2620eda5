"""Material library (典型材料: items from notes, findings or photos, with per-photo redaction
rectangles) and numbered bulletins (简报 第N期) with their chosen items.

Revision ID: b41bf0e40a8e
Revises: 17748bcc4528
Create Date: 2026-11-28 18:47:44.842110

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b41bf0e40a8e'
down_revision = '17748bcc4528'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bulletin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('editorial', sa.Text(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('serial', sa.Integer(), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('context', sa.JSON(), nullable=True),
    sa.Column('pdf_path', sa.String(length=255), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('pdf_size', sa.BigInteger(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('approved_by_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['approved_by_id'], ['user_account.id'], name=op.f('fk_bulletin_approved_by_id_user_account')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_bulletin_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['published_by_id'], ['user_account.id'], name=op.f('fk_bulletin_published_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletin')),
    sa.UniqueConstraint('year', 'serial', name=op.f('uq_bulletin_year_serial'))
    )
    with op.batch_alter_table('bulletin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletin_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulletin_state'), ['state'], unique=False)

    op.create_table('material_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('example_note_id', sa.Integer(), nullable=True),
    sa.Column('finding_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('venue_display', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('flagged_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['example_note_id'], ['example_note.id'], name=op.f('fk_material_item_example_note_id_example_note')),
    sa.ForeignKeyConstraint(['finding_id'], ['finding.id'], name=op.f('fk_material_item_finding_id_finding')),
    sa.ForeignKeyConstraint(['flagged_by_id'], ['user_account.id'], name=op.f('fk_material_item_flagged_by_id_user_account')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'], name=op.f('fk_material_item_inspection_id_inspection')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['user_account.id'], name=op.f('fk_material_item_reviewed_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_item')),
    sa.UniqueConstraint('example_note_id', name=op.f('uq_material_item_example_note_id'))
    )
    with op.batch_alter_table('material_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_item_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_material_item_flagged_by_id'), ['flagged_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_material_item_inspection_id'), ['inspection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_material_item_state'), ['state'], unique=False)

    op.create_table('bulletin_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bulletin_id', sa.Integer(), nullable=False),
    sa.Column('material_item_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['bulletin_id'], ['bulletin.id'], name=op.f('fk_bulletin_item_bulletin_id_bulletin'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['material_item_id'], ['material_item.id'], name=op.f('fk_bulletin_item_material_item_id_material_item')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bulletin_item')),
    sa.UniqueConstraint('bulletin_id', 'material_item_id', name=op.f('uq_bulletin_item_bulletin_id_material_item_id'))
    )
    with op.batch_alter_table('bulletin_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bulletin_item_bulletin_id'), ['bulletin_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_bulletin_item_material_item_id'), ['material_item_id'], unique=False)

    op.create_table('material_photo',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('photo_id', sa.Integer(), nullable=False),
    sa.Column('boxes', sa.JSON(), nullable=False),
    sa.Column('boxes_version', sa.Integer(), nullable=False),
    sa.Column('boxes_updated_by_id', sa.Integer(), nullable=True),
    sa.Column('boxes_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['boxes_updated_by_id'], ['user_account.id'], name=op.f('fk_material_photo_boxes_updated_by_id_user_account')),
    sa.ForeignKeyConstraint(['item_id'], ['material_item.id'], name=op.f('fk_material_photo_item_id_material_item'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['photo_id'], ['photo.id'], name=op.f('fk_material_photo_photo_id_photo')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_photo')),
    sa.UniqueConstraint('item_id', 'photo_id', name=op.f('uq_material_photo_item_id_photo_id')),
    sa.UniqueConstraint('item_id', 'position', name=op.f('uq_material_photo_item_id_position'))
    )
    with op.batch_alter_table('material_photo', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_photo_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_material_photo_photo_id'), ['photo_id'], unique=False)



def downgrade():
    with op.batch_alter_table('material_photo', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_photo_photo_id'))
        batch_op.drop_index(batch_op.f('ix_material_photo_item_id'))

    op.drop_table('material_photo')
    with op.batch_alter_table('bulletin_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletin_item_material_item_id'))
        batch_op.drop_index(batch_op.f('ix_bulletin_item_bulletin_id'))

    op.drop_table('bulletin_item')
    with op.batch_alter_table('material_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_item_state'))
        batch_op.drop_index(batch_op.f('ix_material_item_inspection_id'))
        batch_op.drop_index(batch_op.f('ix_material_item_flagged_by_id'))
        batch_op.drop_index(batch_op.f('ix_material_item_finding_id'))

    op.drop_table('material_item')
    with op.batch_alter_table('bulletin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bulletin_state'))
        batch_op.drop_index(batch_op.f('ix_bulletin_created_by_id'))

    op.drop_table('bulletin')
