"""Store migrations: a store made by an older munihub upgrades in place, on every engine."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from alembic import command

from munihub.store import migrations
from munihub import store

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def _indexes(engine, table: str) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes(table)}


def test_a_store_at_0004_gains_the_updated_at_index_and_keeps_its_rows(store_url):
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0004")
    with engine.begin() as conn:  # 0001 builds tables from munihub.store, which now has the index
        conn.exec_driver_sql("DROP INDEX ix_source_rows_updated_at")
        conn.execute(store.source_rows.insert().values(
            source="s", source_key="1", entity_type="person", record={"n": "علی"}, record_hash="h",
            first_load_id="L1", load_id="L1", updated_at=T0))
    assert "ix_source_rows_updated_at" not in _indexes(engine, "source_rows")
    engine.dispose()

    engine = store.open_store(store_url)  # what every start does
    assert migrations.current_revision(engine) == "0007"
    assert "ix_source_rows_updated_at" in _indexes(engine, "source_rows")
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.source_rows.c.record)).scalar_one() == {"n": "علی"}

    with engine.begin() as conn:  # and back: the revision's downgrade drops only its index
        command.downgrade(migrations._config(conn), "0004")
    assert "ix_source_rows_updated_at" not in _indexes(engine, "source_rows")
    engine.dispose()


def test_a_fresh_store_has_the_index_once(store_url):
    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == "0007"
    assert "ix_source_rows_updated_at" in _indexes(engine, "source_rows")
    store.open_store(store_url).dispose()  # a second start finds nothing to do
    engine.dispose()
