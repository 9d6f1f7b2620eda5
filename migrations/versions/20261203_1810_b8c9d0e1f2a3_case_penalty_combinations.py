"""Penalties as combinations; legal bases name their competent authority; detention hearings.

A case's proposed and decided penalty become a combination — the types decided together
(`*_penalty_types`, a JSON list), the fine in yuan (`*_amount`, unchanged) and the detention in
days (`*_detention_days`, new). An existing case's single type becomes a one-element list.

A discretion benchmark lists the combinations its article allows (`combinations`, a list of
lists) instead of types to choose one from: an existing benchmark's types become one
combination each, which is what they meant (the next `anfang reference load` writes the file's).

A legal basis names the kind of organ the law makes competent (`authority_kind`) and where it
says so (`authority_source`); existing rows get the kind of their law (the file's values replace
them on the next load). A hearing threshold may apply to minors only (`minors_only`).

Revision ID: b8c9d0e1f2a3
Revises: a7b8c9d0e1f2
Create Date: 2026-12-03 18:10:00.000000

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = 'b8c9d0e1f2a3'
down_revision = 'a7b8c9d0e1f2'
branch_labels = None
depends_on = None

# The competent authority of the rows the reference file held before this revision, by code; any
# other row (an admin's) by its law.
_AUTHORITY_BY_CODE = {
    'idpl2013_art42': ('人民政府', '本条：县级以上地方人民政府应当立即组织力量……'),
    'idpl2025_art111_1_1': ('疾病预防控制部门', '本条：由县级以上人民政府疾病预防控制部门责令改正，给予警告……'),
    'erl2024_art98': ('人民政府', '本条：不服从所在地人民政府及其有关部门依法发布的决定、命令……的，责令改正'),
}
_AUTHORITY_BY_LAW = {
    '中华人民共和国治安管理处罚法': ('公安机关', '《中华人民共和国治安管理处罚法》：治安管理处罚由县级以上人民政府公安机关决定'),
    '中华人民共和国突发事件应对法': ('公安机关', '本条：构成违反治安管理行为的，由公安机关依法给予处罚'),
    '中华人民共和国传染病防治法': ('疾病预防控制部门', '本条：由县级以上人民政府疾病预防控制部门……'),
}


# SQLite: no table here is rebuilt (batch mode's copy-and-drop). The app's connections enforce
# foreign keys, and dropping a table deletes its rows first: legal_basis would take its benchmarks
# with it (ON DELETE CASCADE), enforcement_case its violations and history, and a rectification
# order pointing at a case would refuse the drop. Columns are added and dropped in place instead
# (SQLite ≥ 3.35), and a NOT NULL column added with a default keeps it there (the models declare
# none; removing it would rebuild the table).


# A case's penalty types: JSONB on PostgreSQL (json has no equality, and whole case rows are
# selected DISTINCT).
_TYPES = sa.JSON().with_variant(postgresql.JSONB(), 'postgresql')


def _sqlite() -> bool:
    return op.get_bind().dialect.name == 'sqlite'


def _add_required(table: str, name: str, type_, default) -> None:
    op.add_column(table, sa.Column(name, type_, nullable=False, server_default=default))


def _drop_default(table: str, name: str, type_) -> None:
    if not _sqlite():
        op.alter_column(table, name, existing_type=type_, server_default=None)


def _drop_columns(table: str, *names: str) -> None:
    for name in names:
        if _sqlite():
            op.execute(f'ALTER TABLE {table} DROP COLUMN {name}')
        else:
            op.drop_column(table, name)


def upgrade():
    connection = op.get_bind()

    _add_required('legal_basis', 'authority_kind', sa.String(length=32), '')
    _add_required('legal_basis', 'authority_source', sa.String(length=256), '')
    basis = sa.table('legal_basis', sa.column('id', sa.Integer()), sa.column('code', sa.String()),
                     sa.column('law', sa.String()), sa.column('authority_kind', sa.String()),
                     sa.column('authority_source', sa.String()))
    for row in connection.execute(sa.select(basis.c.id, basis.c.code, basis.c.law)).all():
        kind, source = _AUTHORITY_BY_CODE.get(row.code) or _AUTHORITY_BY_LAW.get(row.law) or ('人民政府', row.law)
        connection.execute(basis.update().where(basis.c.id == row.id).values(authority_kind=kind,
                                                                             authority_source=source))
    _drop_default('legal_basis', 'authority_kind', sa.String(length=32))
    _drop_default('legal_basis', 'authority_source', sa.String(length=256))

    _add_required('discretion_benchmark', 'combinations', sa.JSON(), '[]')
    benchmark = sa.table('discretion_benchmark', sa.column('id', sa.Integer()), sa.column('penalty_types', sa.JSON()),
                         sa.column('combinations', sa.JSON()))
    for row in connection.execute(sa.select(benchmark.c.id, benchmark.c.penalty_types)).all():
        connection.execute(benchmark.update().where(benchmark.c.id == row.id).values(
            combinations=[[penalty_type] for penalty_type in row.penalty_types or []]))
    _drop_default('discretion_benchmark', 'combinations', sa.JSON())
    _drop_columns('discretion_benchmark', 'penalty_types')

    _add_required('hearing_threshold', 'minors_only', sa.Boolean(), sa.false())
    _drop_default('hearing_threshold', 'minors_only', sa.Boolean())

    for name, type_ in (('proposed_penalty_types', _TYPES), ('proposed_detention_days', sa.Integer()),
                        ('decided_penalty_types', _TYPES), ('decided_detention_days', sa.Integer())):
        op.add_column('enforcement_case', sa.Column(name, type_, nullable=True))
    case = sa.table('enforcement_case', sa.column('id', sa.Integer()),
                    sa.column('proposed_penalty_type', sa.String()), sa.column('decided_penalty_type', sa.String()),
                    sa.column('proposed_penalty_types', _TYPES), sa.column('decided_penalty_types', _TYPES))
    rows = connection.execute(sa.select(case.c.id, case.c.proposed_penalty_type, case.c.decided_penalty_type).where(
        sa.or_(case.c.proposed_penalty_type.is_not(None), case.c.decided_penalty_type.is_not(None)))).all()
    for row in rows:
        connection.execute(case.update().where(case.c.id == row.id).values(
            proposed_penalty_types=[row.proposed_penalty_type] if row.proposed_penalty_type else None,
            decided_penalty_types=[row.decided_penalty_type] if row.decided_penalty_type else None))
    _drop_columns('enforcement_case', 'proposed_penalty_type', 'decided_penalty_type')


def downgrade():
    # A combination of one type goes back as that type; of several, as its heaviest (the order of
    # the severity the service uses), the detention days being dropped — the old schema has no
    # place for them.
    connection = op.get_bind()
    severity = ['order_correction', 'warning', 'fine', 'suspend', 'detention']

    def single(types):
        if not types:
            return None
        return max(types, key=lambda t: severity.index(t) if t in severity else -1)

    op.add_column('enforcement_case', sa.Column('proposed_penalty_type', sa.String(length=16), nullable=True))
    op.add_column('enforcement_case', sa.Column('decided_penalty_type', sa.String(length=16), nullable=True))
    case = sa.table('enforcement_case', sa.column('id', sa.Integer()),
                    sa.column('proposed_penalty_type', sa.String()), sa.column('decided_penalty_type', sa.String()),
                    sa.column('proposed_penalty_types', _TYPES), sa.column('decided_penalty_types', _TYPES))
    for row in connection.execute(sa.select(case.c.id, case.c.proposed_penalty_types,
                                            case.c.decided_penalty_types)).all():
        connection.execute(case.update().where(case.c.id == row.id).values(
            proposed_penalty_type=single(row.proposed_penalty_types),
            decided_penalty_type=single(row.decided_penalty_types)))
    _drop_columns('enforcement_case', 'decided_detention_days', 'decided_penalty_types', 'proposed_detention_days',
                  'proposed_penalty_types')

    _drop_columns('hearing_threshold', 'minors_only')

    _add_required('discretion_benchmark', 'penalty_types', sa.JSON(), '[]')
    benchmark = sa.table('discretion_benchmark', sa.column('id', sa.Integer()), sa.column('penalty_types', sa.JSON()),
                         sa.column('combinations', sa.JSON()))
    for row in connection.execute(sa.select(benchmark.c.id, benchmark.c.combinations)).all():
        types = []
        for combination in row.combinations or []:
            types += [t for t in combination if t not in types]
        connection.execute(benchmark.update().where(benchmark.c.id == row.id).values(penalty_types=types))
    _drop_default('discretion_benchmark', 'penalty_types', sa.JSON())
    _drop_columns('discretion_benchmark', 'combinations')

    _drop_columns('legal_basis', 'authority_source', 'authority_kind')
