"""Documents: numbered per issuing organ, and a short verification code printed on each.

A legal basis names its competent authority, so documents of one kind are issued by more than
one organ (公安机关, 疾病预防控制部门 …), each numbering its own series per year: `organ` joins the
document's unique key and the counter's primary key. Documents issued before this revision
were all issued by the organ recorded in their context (`authority`).

`verification_code` is the 核验码 printed beside a QR code on every issued document; documents
issued before this revision are given one here, as a reprint would show it.

Revision ID: a7b8c9d0e1f2
Revises: f6a7b8c9d0e1
Create Date: 2026-12-03 18:00:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7b8c9d0e1f2'
down_revision = 'f6a7b8c9d0e1'
branch_labels = None
depends_on = None

# The reveal codes' alphabet (Crockford base 32: no I, L, O, U), read aloud or typed from paper.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _new_code() -> str:
    symbols = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return "-".join(symbols[i:i + 4] for i in range(0, 12, 4))


def upgrade():
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.add_column(sa.Column('organ', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('verification_code', sa.String(length=16), nullable=True))

    document = sa.table('document', sa.column('id', sa.String()), sa.column('context', sa.JSON()),
                        sa.column('organ', sa.String()), sa.column('verification_code', sa.String()))
    connection = op.get_bind()
    for row in connection.execute(sa.select(document.c.id, document.c.context)).all():
        context = row.context or {}
        connection.execute(document.update().where(document.c.id == row.id).values(
            organ=str(context.get('authority') or ''), verification_code=_new_code()))

    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.alter_column('organ', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('verification_code', existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_document_kind_year_serial'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_document_kind_organ_year_serial'),
                                          ['kind', 'organ', 'year', 'serial'])
        batch_op.create_unique_constraint(batch_op.f('uq_document_verification_code'), ['verification_code'])

    # Each counter moves to the organ that issued its kind's documents that year, keeping its last
    # serial; a counter with no document behind it (the bulletins, which have their own table)
    # keeps the organ-less series ''.
    counter = sa.table('document_counter', sa.column('kind', sa.String()), sa.column('organ', sa.String()),
                       sa.column('year', sa.Integer()), sa.column('last_serial', sa.Integer()))
    old = connection.execute(sa.text("SELECT kind, year, last_serial FROM document_counter")).all()
    issued = connection.execute(sa.text("SELECT DISTINCT kind, organ, year FROM document")).all()
    op.drop_table('document_counter')
    op.create_table('document_counter',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('organ', sa.String(length=64), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'organ', 'year', name=op.f('pk_document_counter'))
    )
    for kind, year, last_serial in old:
        organs = sorted({row.organ for row in issued if (row.kind, row.year) == (kind, year)}) or ['']
        for organ in organs:
            connection.execute(counter.insert().values(kind=kind, organ=organ, year=year, last_serial=last_serial))


def downgrade():
    # One series per kind and year again: each keeps the highest serial any organ used. Going
    # back is refused while two organs have issued one kind in one year (their numbers collide).
    connection = op.get_bind()
    shared = connection.execute(sa.text(
        "SELECT kind, year FROM document GROUP BY kind, year HAVING COUNT(DISTINCT organ) > 1")).first()
    if shared is not None:
        raise RuntimeError(f"documents of kind {shared.kind} in {shared.year} were issued by more than one organ")
    old = connection.execute(sa.text(
        "SELECT kind, year, MAX(last_serial) FROM document_counter GROUP BY kind, year")).all()
    op.drop_table('document_counter')
    op.create_table('document_counter',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_serial', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'year', name=op.f('pk_document_counter'))
    )
    counter = sa.table('document_counter', sa.column('kind', sa.String()), sa.column('year', sa.Integer()),
                       sa.column('last_serial', sa.Integer()))
    for kind, year, last_serial in old:
        connection.execute(counter.insert().values(kind=kind, year=year, last_serial=last_serial))
    with op.batch_alter_table('document', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_document_verification_code'), type_='unique')
        batch_op.drop_constraint(batch_op.f('uq_document_kind_organ_year_serial'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_document_kind_year_serial'), ['kind', 'year', 'serial'])
        batch_op.drop_column('verification_code')
        batch_op.drop_column('organ')
