"""Publish ahead (`ingest.publish_ahead`): a source's first load written into source_rows while
it is staged, in a transaction only the publish commits; anything else rolls it back and the
publish runs from staged_rows as before.  Results are the same as SQLite's, which never
publishes ahead."""
from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from munihub import pipeline, store
from munihub.errors import QualityGateError
from munihub.ingest.publish_ahead import PublishAhead
from test_pipeline import ROWS, national_id
from test_pipeline import setup as _setup


@pytest.fixture
def citizens(tmp_path, store_url, monkeypatch):
    """test_pipeline's source and settings (batches of 2 rows): (settings, source file)."""
    return _setup.__wrapped__(tmp_path, store_url, monkeypatch)


def _state(settings) -> dict:
    """What a sync leaves, without ids and clocks: rows, cursor, quarantine, the ledger's counts."""
    with store.engine_for(settings).connect() as conn:
        rows = sorted((r.source, r.source_key, r.record_hash, r.first_load_id == r.load_id)
                      for r in conn.execute(sa.select(store.source_rows)))
        cursors = [(c.source, c.cursor, c.version) for c in conn.execute(sa.select(store.cursors))]
        quarantine = sorted((q.position, q.status) for q in conn.execute(sa.select(store.quarantine)))
        copies = sorted((e.source_key, e.record_hash) for e in conn.execute(sa.select(store.earlier_copies)))
        ledger = [(r.status, r.rows_in, r.rows_new, r.rows_changed, r.rows_unchanged, r.rows_quarantined)
                  for r in conn.execute(sa.select(store.loads).order_by(store.loads.c.started_at))]
        staged = conn.execute(sa.select(sa.func.count()).select_from(store.staged_rows)).scalar()
        identity = [(i.source, i.identity, i.former, i.former_rows) for i in conn.execute(sa.select(store.source_identity))]
    return {"identity": identity, "rows": rows, "cursors": cursors, "quarantine": quarantine, "copies": copies, "ledger": ledger,
            "staged": staged}


def _spy(monkeypatch) -> list:
    """Whether each publish ran in the transaction published ahead (True) or merged (False)."""
    taken = []
    real = PublishAhead.take

    def take(self, engine, load_id):
        conn = real(self, engine, load_id)
        taken.append(conn is not None)
        return conn
    monkeypatch.setattr(PublishAhead, "take", take)
    return taken


def _no_open_transaction(settings) -> None:
    """Nothing of the run is left holding a transaction: the writers' stamp lock is free."""
    engine = store.engine_for(settings)
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        idle = conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND state LIKE 'idle in transaction%'")).scalar()
        free = conn.execute(sa.text("SELECT pg_try_advisory_lock(724244)")).scalar()
        conn.execute(sa.text("SELECT pg_advisory_unlock_all()"))
    assert (idle, free) == (0, True)


def _sqlite_twin(tmp_path, settings):
    """The same settings on a SQLite store of its own (the engine that never publishes ahead)."""
    import dataclasses
    return dataclasses.replace(settings, store_url=f"sqlite:///{tmp_path / 'twin.db'}", home=tmp_path / "twin")


def _add(src, rows) -> None:
    with sqlite3.connect(src) as db:
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", rows)


def test_a_first_load_is_published_ahead_on_postgresql_with_sqlites_results(citizens, tmp_path, monkeypatch):
    settings, src = citizens
    taken = _spy(monkeypatch)
    first = pipeline.sync_source("testreg.citizens", settings)
    postgres = settings.store_url.startswith("postgresql")
    assert taken == [postgres]  # SQLite keeps today's publish
    assert (first["rows_in"], first["rows_new"], first["rows_quarantined"]) == (6, 4, 2)
    assert _state(settings)["identity"] == [("testreg.citizens", {"by": "primaryKey", "fields": ["national_id"]},
                                             None, 0)]  # recorded by the first publish, as on SQLite
    _add(src, [(7, national_id("445566778"), "رضا", "موسوی", "1361/01/01", None, "2024-02-01 00:00:00")])
    second = pipeline.sync_source("testreg.citizens", settings)  # not a first load: merged
    assert taken == [postgres, False] and second["rows_new"] == 1
    _no_open_transaction(settings)
    twin = _sqlite_twin(tmp_path, settings)
    monkeypatch.setattr(PublishAhead, "take", lambda self, engine, load_id: None)
    with sqlite3.connect(src) as db:
        db.execute("DELETE FROM citizens WHERE id = 7")
    pipeline.sync_source("testreg.citizens", twin)
    _add(src, [(7, national_id("445566778"), "رضا", "موسوی", "1361/01/01", None, "2024-02-01 00:00:00")])
    pipeline.sync_source("testreg.citizens", twin)
    assert _state(settings) == _state(twin)


def test_a_held_first_load_leaves_nothing_published_and_no_transaction_open(citizens, monkeypatch):
    settings, src = citizens
    taken = _spy(monkeypatch)
    _add(src, [(10 + i, national_id(f"4{i:02d}123456"), "نام", None, None, None, "2024-03-01 00:00:00")
               for i in range(5)])  # last names missing in more than half the rows: held
    with pytest.raises(QualityGateError, match="lname|last_name"):
        pipeline.sync_source("testreg.citizens", settings)
    state = _state(settings)
    assert (state["rows"], state["cursors"], state["staged"]) == ([], [], 0)
    assert [r[0] for r in state["ledger"]] == ["held"] and taken == []
    _no_open_transaction(settings)
    with sqlite3.connect(src) as db:  # fixed at the source: the next first load publishes
        db.execute("UPDATE citizens SET lname = 'کریمی' WHERE lname IS NULL")
    assert pipeline.sync_source("testreg.citizens", settings)["rows_new"] == 9


def test_a_first_load_repeating_a_key_falls_back_to_the_merge(citizens, tmp_path, monkeypatch):
    """The plain INSERT refuses the repeated key: T is rolled back and the merge publishes the
    key's last copy and keeps the earlier one, as on SQLite."""
    settings, src = citizens
    taken = _spy(monkeypatch)
    again = ROWS[0][1]
    _add(src, [(8, again, "محمد", "احمدی", "1365/02/11", None, "2024-01-03 00:00:00")])
    result = pipeline.sync_source("testreg.citizens", settings)
    assert taken == [False]  # PostgreSQL: its INSERT refused; SQLite: never ahead
    assert (result["rows_in"], result["rows_new"], result["rows_unchanged"], result["rows_quarantined"]) == (7, 4, 1, 2)
    _no_open_transaction(settings)
    monkeypatch.setattr(PublishAhead, "take", lambda self, engine, load_id: None)
    twin = _sqlite_twin(tmp_path, settings)
    pipeline.sync_source("testreg.citizens", twin)
    assert _state(settings) == _state(twin)
    # the repeated key's earlier copy, and the citizen of the row quarantined for its id's check digit
    assert sorted(k for k, _ in _state(settings)["copies"]) == sorted([again, ROWS[4][1]])


def test_a_first_load_failing_while_staged_rolls_back_what_it_wrote_ahead(citizens, monkeypatch):
    """A read failing after some batches were written ahead: the load fails, nothing is
    published, T is gone (the writers' stamp lock with it), and the next run publishes whole."""
    from munihub.ingest import extract

    settings, _ = citizens
    real = extract.read_batches
    written = []

    def failing(conn, cursor):
        for n, batch in enumerate(real(conn, cursor)):
            if n == 2:
                raise RuntimeError("the source went away")
            yield batch
    monkeypatch.setattr(extract, "read_batches", failing)
    real_staged = PublishAhead.staged

    def staged(self, before, after):
        real_staged(self, before, after)
        written.append(self.active)
    monkeypatch.setattr(PublishAhead, "staged", staged)
    with pytest.raises(RuntimeError, match="went away"):
        pipeline.sync_source("testreg.citizens", settings)
    assert any(written) == settings.store_url.startswith("postgresql")
    state = _state(settings)
    assert (state["rows"], state["cursors"]) == ([], [])
    _no_open_transaction(settings)
    monkeypatch.setattr(extract, "read_batches", real)
    assert pipeline.sync_source("testreg.citizens", settings)["rows_new"] == 4


def test_a_transaction_the_server_ended_before_the_publish_falls_back_to_the_merge(citizens, monkeypatch):
    """T ended by the server while the checks ran (an idle-in-transaction timeout, a restart):
    the publish merges from staged_rows instead of failing."""
    settings, _ = citizens
    if not settings.store_url.startswith("postgresql"):
        pytest.skip("SQLite writes nothing ahead")
    taken = _spy(monkeypatch)
    real_check = pipeline.check_load

    def check_then_end_t(load_id, settings=None, crash_hook=None, early=None):
        status = real_check(load_id, settings, crash_hook, early)
        pid = early.conn.connection.dbapi_connection.get_backend_pid()
        with store.engine_for(settings).connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
        return status
    monkeypatch.setattr(pipeline.sync, "check_load", check_then_end_t)
    result = pipeline.sync_source("testreg.citizens", settings)
    assert taken == [False] and (result["rows_new"], result["rows_quarantined"]) == (4, 2)
    assert len(_state(settings)["rows"]) == 4
    _no_open_transaction(settings)


@pytest.mark.postgres
def test_resolution_says_it_waits_for_a_publish_in_flight_then_reads_after_it(pg_url, caplog):
    """A first load published ahead holds the writers' lock from its first batch: the reader of
    marks (resolution, indicators) says on the log that it waits, and goes on once it commits."""
    import logging
    import threading

    from munihub.store import marks

    engine = sa.create_engine(pg_url)
    writer = engine.connect()
    writer.begin()
    marks.stamp(writer, store.source_rows)  # the shared lock, as T holds it
    done = threading.Event()

    def read() -> None:
        with engine.begin() as conn:
            marks.read_lock(conn)
        done.set()

    with caplog.at_level(logging.INFO, logger="munihub.store"):
        reader = threading.Thread(target=read)
        reader.start()
        assert not done.wait(0.5)  # held
        writer.commit()
        reader.join(10)
    writer.close()
    engine.dispose()
    assert done.is_set()
    assert any("waiting for the publishes in flight" in r.getMessage() for r in caplog.records)
