"""Store migrations: a store made by an older munihub upgrades in place, on every engine."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from alembic import command

from munihub.store import migrations
from munihub import store

T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def _head() -> str:
    from alembic.script import ScriptDirectory
    return ScriptDirectory(str(migrations.HERE)).get_current_head()


def _one_row(conn) -> None:
    """A published row, for the revisions that must keep the rows they find."""
    conn.execute(store.source_rows.insert().values(
        source="s", source_key="1", entity_type="person", record={"n": "علی"}, record_hash="h",
        first_load_id="L1", load_id="L1", updated_at=T0))


def _indexes(engine, table: str) -> set[str]:
    return {i["name"] for i in sa.inspect(engine).get_indexes(table)}


def test_a_store_at_0004_gains_the_updated_at_index_and_keeps_its_rows(store_url):
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0004")
    with engine.begin() as conn:  # 0001 builds tables from munihub.store, which now has the index
        conn.exec_driver_sql("DROP INDEX ix_source_rows_updated_at")
        _one_row(conn)
    assert "ix_source_rows_updated_at" not in _indexes(engine, "source_rows")
    engine.dispose()

    engine = store.open_store(store_url)  # what every start does
    assert migrations.current_revision(engine) == _head()
    assert "ix_source_rows_updated_at" in _indexes(engine, "source_rows")
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.source_rows.c.record)).scalar_one() == {"n": "علی"}

    with engine.begin() as conn:  # and back: the revision's downgrade drops only its index
        command.downgrade(migrations._config(conn), "0004")
    assert "ix_source_rows_updated_at" not in _indexes(engine, "source_rows")
    engine.dispose()


def test_a_fresh_store_has_the_index_once(store_url):
    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == _head()
    assert "ix_source_rows_updated_at" in _indexes(engine, "source_rows")
    assert "ix_source_rows_load_id" not in _indexes(engine, "source_rows")  # 0013
    store.open_store(store_url).dispose()  # a second start finds nothing to do
    engine.dispose()


def test_a_store_at_0005_gains_set_aside_values_and_keeps_its_loads(store_url):
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0005")
    with engine.begin() as conn:  # 0001 builds `loads` from munihub.store, which now has the column
        conn.exec_driver_sql("ALTER TABLE loads DROP COLUMN values_set_aside")
        conn.exec_driver_sql("DROP TABLE IF EXISTS set_aside")  # 0001 lists only its own tables
        conn.exec_driver_sql("INSERT INTO loads (load_id, source, status, started_at, rows_in) "
                             "VALUES ('L1', 's', 'published', '2024-05-01 00:00:00', 3)")
    engine.dispose()

    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == _head()
    assert "set_aside" in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.loads.c.rows_in, store.loads.c.values_set_aside)).one()
    assert tuple(row) == (3, {})  # an old load set nothing aside: an empty count, not unknown

    with engine.begin() as conn:
        command.downgrade(migrations._config(conn), "0005")
    assert "set_aside" not in sa.inspect(engine).get_table_names()
    assert "values_set_aside" not in {c["name"] for c in sa.inspect(engine).get_columns("loads")}
    engine.dispose()


def test_a_store_at_0008_gains_source_identity_and_keeps_its_rows(store_url):
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0008")
    with engine.begin() as conn:  # 0001 builds tables from munihub.store, which now has the columns
        for table, column in (("source_rows", "keyed_by"), ("staged_rows", "former_key"),
                              ("loads", "rows_rekeyed"), ("loads", "rows_retired")):
            conn.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS source_identity")
        conn.exec_driver_sql("DROP TABLE IF EXISTS retired_rows")
        conn.exec_driver_sql("INSERT INTO source_rows (source, source_key, entity_type, record, record_hash, "
                             "first_load_id, load_id, updated_at) VALUES ('s', '1', 'person', '{\"n\": 1}', 'h', "
                             "'L1', 'L1', '2024-05-01 00:00:00')")
    engine.dispose()

    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == _head()
    assert {"source_identity", "retired_rows"} <= set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:  # an old row: its identity unknown until a publish recognises it
        row = conn.execute(sa.select(store.source_rows.c.record, store.source_rows.c.keyed_by)).one()
    assert tuple(row) == ({"n": 1}, None)

    with engine.begin() as conn:
        command.downgrade(migrations._config(conn), "0008")
    assert "source_identity" not in sa.inspect(engine).get_table_names()
    assert "keyed_by" not in {c["name"] for c in sa.inspect(engine).get_columns("source_rows")}
    engine.dispose()


def test_a_store_at_0009_gains_the_kept_request_groups_and_keeps_its_runs(store_url):
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0009")
    with engine.begin() as conn:  # 0001 and 0008 build tables from munihub.store, which now has these
        conn.exec_driver_sql("DROP INDEX ix_entity_members_assigned_at")
        conn.exec_driver_sql("ALTER TABLE indicator_runs DROP COLUMN fact_version")
        conn.exec_driver_sql("INSERT INTO indicator_runs (indicator_id, definition_hash, mode, computed_at) "
                             "VALUES ('137.requests', 'h', 'full', '2024-05-01 00:00:00')")
    engine.dispose()

    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == _head()
    kept = {"indicator_request_groups", "indicator_group_members", "indicator_facts", "indicator_fact_days"}
    assert kept <= set(sa.inspect(engine).get_table_names())
    assert "ix_entity_members_assigned_at" in _indexes(engine, "entity_members")
    with engine.connect() as conn:  # an old run read no kept fact: its next refresh is a full one
        row = conn.execute(sa.select(store.indicator_runs.c.indicator_id, store.indicator_runs.c.fact_version)).one()
    assert tuple(row) == ("137.requests", None)

    with engine.begin() as conn:
        command.downgrade(migrations._config(conn), "0009")
    assert not kept & set(sa.inspect(engine).get_table_names())
    assert "ix_entity_members_assigned_at" not in _indexes(engine, "entity_members")
    assert "fact_version" not in {c["name"] for c in sa.inspect(engine).get_columns("indicator_runs")}
    engine.dispose()


def test_the_head_read_from_the_files_is_alembics():
    assert migrations.head_revision() == _head()


_OPEN_IN_A_FRESH_PROCESS = """
import sys
from munihub import store
from munihub.store import migrations
engine = store.open_store(sys.argv[1])
print(migrations.current_revision(engine) if "alembic" in sys.modules else "no alembic")
"""


def _open_in_a_fresh_process(url: str) -> str:
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _OPEN_IN_A_FRESH_PROCESS, url], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_store_at_head_opens_without_importing_alembic_and_an_older_one_still_upgrades(store_url):
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0009")
    engine.dispose()
    # First use of an older store: Alembic runs and brings it to head.
    assert _open_in_a_fresh_process(store_url) == _head()
    # Every later start: one query of the version table, Alembic never imported.
    assert _open_in_a_fresh_process(store_url) == "no alembic"
    engine = sa.create_engine(store_url)
    assert migrations.current_revision(engine) == _head()
    engine.dispose()


def test_a_store_at_0012_loses_the_index_of_source_rows_by_load_and_keeps_its_rows(store_url):
    """0013: nothing reads source_rows by load (`quarantine.close_reread` finds a load's rows by
    their primary key), and every published row wrote an entry into that index."""
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0012")
    with engine.begin() as conn:  # 0001 builds tables from munihub.store, which no longer has it
        conn.exec_driver_sql("CREATE INDEX ix_source_rows_load_id ON source_rows (load_id)")
        _one_row(conn)
    engine.dispose()

    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == _head()
    assert "ix_source_rows_load_id" not in _indexes(engine, "source_rows")
    assert "ix_source_rows_updated_at" in _indexes(engine, "source_rows")
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.source_rows.c.load_id)).scalar_one() == "L1"
    with engine.begin() as conn:  # and back: the revision's downgrade makes it again
        command.downgrade(migrations._config(conn), "0012")
    assert "ix_source_rows_load_id" in _indexes(engine, "source_rows")
    engine.dispose()


def test_a_store_at_0014_gains_the_index_of_set_aside_by_key(store_url):
    """0015: a publish looks up the set-aside entries of the keys it read again
    (`quarantine.close_set_aside_reread`) by source, key and load."""
    engine = sa.create_engine(store_url)
    migrations.upgrade(engine, "0014")
    with engine.begin() as conn:  # 0001 builds tables from munihub.store, which now has it
        conn.exec_driver_sql("DROP INDEX ix_set_aside_key")
        _one_row(conn)
    engine.dispose()

    engine = store.open_store(store_url)
    assert migrations.current_revision(engine) == _head()
    assert "ix_set_aside_key" in _indexes(engine, "set_aside")
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.source_rows.c.load_id)).scalar_one() == "L1"
    with engine.begin() as conn:  # and back: the revision's downgrade drops only its index
        command.downgrade(migrations._config(conn), "0014")
    assert "ix_set_aside_key" not in _indexes(engine, "set_aside")
    engine.dispose()
