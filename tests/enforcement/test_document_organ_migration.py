"""The migration that numbers documents per organ and gives each a 核验码 (a7b8c9d0e1f2) keeps
every number issued before it: the documents get the organ their context names, the counters
carry on from their last serial, and the bulletins' series keeps its place."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from test_penalty_migration import insert, migrate

BEFORE, AFTER = "f6a7b8c9d0e1", "a7b8c9d0e1f2"
CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")


def test_issued_numbers_keep_their_series(empty_database_url):
    url = empty_database_url
    migrate(url, "upgrade", BEFORE)
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    tables = metadata.tables
    with engine.begin() as connection:
        for serial in (1, 2):
            insert(connection, tables["document"], id=f"00000000-0000-0000-0000-00000000000{serial}",
                   kind="penalty_decision", number=f"金公（治）行罚决字〔2026〕{serial}号", year=2026, serial=serial,
                   context={"authority": "金华市公安局"})
        connection.execute(tables["document_counter"].insert(), [
            {"kind": "penalty_decision", "year": 2026, "last_serial": 2},
            {"kind": "bulletin", "year": 2026, "last_serial": 5}])
    engine.dispose()

    migrate(url, "upgrade", AFTER)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        documents = connection.execute(sa.text("SELECT organ, verification_code FROM document")).all()
        assert [organ for organ, _ in documents] == ["金华市公安局", "金华市公安局"]
        codes = [code for _, code in documents]
        assert all(CODE.match(code) for code in codes) and len(set(codes)) == 2
        counters = set(connection.execute(sa.text("SELECT kind, organ, year, last_serial FROM document_counter")))
        assert counters == {("penalty_decision", "金华市公安局", 2026, 2), ("bulletin", "", 2026, 5)}
        # The next decision of the organ is number 3, not a second number 1.
        with pytest.raises(sa.exc.IntegrityError):
            connection.execute(sa.text("INSERT INTO document_counter (kind, organ, year, last_serial) "
                                       "VALUES ('penalty_decision', '金华市公安局', 2026, 0)"))
    engine.dispose()

    migrate(url, "downgrade", BEFORE)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        counters = set(connection.execute(sa.text("SELECT kind, year, last_serial FROM document_counter")))
        assert counters == {("penalty_decision", 2026, 2), ("bulletin", 2026, 5)}
        columns = {column["name"] for column in sa.inspect(connection).get_columns("document")}
        assert not {"organ", "verification_code"} & columns
    engine.dispose()

