"""Issue 18: staging through the store's bulk path, publish as one set-based merge, and the
planner statistics publish keeps fresh, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import time
import types

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.ingest import loads
from munihub.errors import StoreError
from munihub.ingest.publish import publish_staged

COLUMNS = ["load_id", "seq", "source_key", "record", "record_hash", "position"]


def _stage(engine, source: str, rows: list[tuple[str, dict]]) -> str:
    """A staged load of `rows` (key, record), in order, ready to publish."""
    load_id, _ = loads.begin_load(engine, types.SimpleNamespace(id=source, version="1.0.0"))
    staged = [(load_id, i, key, store.encode_json(rec), store.record_hash(rec), f"row {i}")
              for i, (key, rec) in enumerate(rows, 1)]
    with engine.begin() as conn:
        store.bulk_copy(conn, store.staged_rows, COLUMNS, staged)
    loads.mark_staged(engine, load_id, rows_in=len(rows))
    return load_id


def _published(engine, source: str) -> dict[str, tuple[dict, str]]:
    t = store.source_rows
    with engine.connect() as conn:
        return {k: (rec, lid) for k, rec, lid in conn.execute(
            sa.select(t.c.source_key, t.c.record, t.c.load_id).where(t.c.source == source))}


def test_bulk_copy_keeps_text_that_copy_must_escape(store_url):
    engine = store.open_store(store_url)
    awkward = ["tab\there", "line\nbreak\r\nend", "back\\slash \\N", "\\", "کد ملی\u200cها", ""]
    rows = [("L", i, key, store.encode_json({"v": key, "n": i}), "h" * 64, None if i % 2 else key)
            for i, key in enumerate(awkward, 1)]
    with engine.begin() as conn:
        store.bulk_copy(conn, store.staged_rows, COLUMNS, rows)
    s = store.staged_rows
    with engine.connect() as conn:
        got = conn.execute(sa.select(s.c.seq, s.c.source_key, s.c.record, s.c.position)
                           .where(s.c.load_id == "L").order_by(s.c.seq)).all()
    assert [tuple(r) for r in got] == [(i, key, {"v": key, "n": i}, None if i % 2 else key)
                                      for i, key in enumerate(awkward, 1)]


@pytest.mark.postgres
def test_bulk_copy_writes_in_the_connections_own_encoding(pg_url):
    # COPY's bytes are encoded by munihub, not the driver: a connection whose client encoding
    # is not UTF-8 (WIN1256, an Arabic code page with پ چ ژ گ) must still store the same text.
    engine = store.open_store(pg_url)
    arabic_page = sa.create_engine(pg_url, connect_args={"client_encoding": "WIN1256"})
    text = "پرچم گلها، ژاله ك ي"  # Arabic ي: WIN1256 has no Persian ی
    with arabic_page.begin() as conn:
        store.bulk_copy(conn, store.staged_rows, COLUMNS,
                        [("E", 1, text, store.encode_json({"v": text}), "h" * 64, text)])
    arabic_page.dispose()
    s = store.staged_rows
    with engine.connect() as conn:
        got = conn.execute(sa.select(s.c.source_key, s.c.record, s.c.position).where(s.c.load_id == "E")).one()
    assert tuple(got) == (text, {"v": text}, text)


def test_publish_merges_in_sql_last_copy_wins_and_unchanged_rows_are_not_rewritten(store_url):
    engine = store.open_store(store_url)
    first = _stage(engine, "t.src", [("a", {"n": "old"}), ("b", {"n": "b"}), ("a", {"n": "new"})])
    counts = publish_staged(engine, first, entity_type="person")
    # the earlier copy of a repeated key is no row: it counts as unchanged, and is kept for
    # person matching alone (store.earlier_copies)
    assert counts == {"rows_new": 2, "rows_changed": 0, "rows_unchanged": 1, "copies_kept": 1}
    assert _published(engine, "t.src") == {"a": ({"n": "new"}, first), "b": ({"n": "b"}, first)}

    second = _stage(engine, "t.src", [("a", {"n": "new"}), ("b", {"n": "b2"}), ("c", {"n": "c"})])
    counts = publish_staged(engine, second, entity_type="person")
    assert counts == {"rows_new": 1, "rows_changed": 1, "rows_unchanged": 1, "copies_dropped": 1}  # "a" once now
    # an unchanged row keeps the load that last changed it: the merge skipped it in SQL
    assert _published(engine, "t.src") == {"a": ({"n": "new"}, first), "b": ({"n": "b2"}, second),
                                           "c": ({"n": "c"}, second)}
    assert loads.load_row(engine, second)["status"] == "published"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(store.staged_rows)).scalar() == 0
        assert conn.execute(sa.select(store.cursors.c.load_id).where(store.cursors.c.source == "t.src")
                            ).scalar() == second


def _reltuples(engine, table: str) -> float:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"),
                            {"t": table}).scalar()


@pytest.mark.postgres
def test_publish_analyzes_a_table_it_changed_much_and_not_for_a_small_change(pg_url):
    engine = store.open_store(pg_url)
    assert _reltuples(engine, "source_rows") < 0  # never analyzed (PostgreSQL 14+)
    first = _stage(engine, "t.src", [(f"k{i}", {"n": i}) for i in range(200)])
    publish_staged(engine, first, entity_type="person")
    assert _reltuples(engine, "source_rows") == 200  # publish analyzed it: autovacuum may be off
    with engine.connect() as conn:
        analyzed = {a for (a,) in conn.execute(sa.text("SELECT attname FROM pg_stats WHERE tablename = 'source_rows'"))}
    assert {"source", "source_key", "entity_type", "load_id", "updated_at"} <= analyzed
    assert "record_hash" not in analyzed and "record" not in analyzed  # compared for inequality only; JSON

    second = _stage(engine, "t.src", [("k1", {"n": "changed"})] + [(f"n{i}", {"n": i}) for i in range(4)])
    publish_staged(engine, second, entity_type="person")
    assert _reltuples(engine, "source_rows") == 200  # 5 of 200 rows (2.5 %): not worth an ANALYZE
    assert store.keep_statistics(engine, store.source_rows, 0) is False
    assert store.keep_statistics(engine, store.source_rows, 150) is True
    assert _reltuples(engine, "source_rows") == 204


@pytest.mark.postgres
def test_a_small_change_is_merged_through_the_keys_not_by_scanning_the_table(pg_url):
    from munihub.ingest.publish import _latest

    engine = store.open_store(pg_url)
    publish_staged(engine, _stage(engine, "t.src", [(f"k{i}", {"n": i}) for i in range(20000)]),
                   entity_type="person")
    small = _stage(engine, "t.src", [(f"k{i}", {"n": "changed"}) for i in range(0, 20000, 1000)])
    latest, old = _latest(small).subquery(), store.source_rows.alias("old")
    query = sa.select(sa.func.count(old.c.source_key)).select_from(latest.outerjoin(
        old, sa.and_(old.c.source == "t.src", old.c.source_key == latest.c.source_key)))
    with engine.connect() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(line for (line,) in conn.exec_driver_sql("EXPLAIN " + sql))
    # source_rows is read through its key; staged_rows, vacuumed to nothing by the first
    # publish, now holds these 20 rows on one page, which the planner may rightly just scan.
    assert "Seq Scan on source_rows" not in plan and "source_rows_pkey" in plan, plan
    assert publish_staged(engine, small, entity_type="person")["rows_changed"] == 20


def test_publish_refuses_a_load_that_lost_staged_rows_and_moves_nothing(store_url):
    """staged_rows is unlogged on PostgreSQL: a server crash empties it.  Publishing the rows
    left would move the cursor past records never published."""
    engine = store.open_store(store_url)
    load_id = _stage(engine, "t.lost", [("a", {"n": 1}), ("b", {"n": 2}), ("c", {"n": 3})])
    s = store.staged_rows
    with engine.begin() as conn:  # what a crash of the server does to an unlogged table
        conn.execute(s.delete().where(s.c.load_id == load_id, s.c.source_key == "b"))
    with pytest.raises(StoreError, match="2 staged rows but its ledger counts 3"):
        publish_staged(engine, load_id, entity_type="person")
    assert _published(engine, "t.lost") == {}
    assert loads.load_row(engine, load_id)["status"] == "staged"
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.cursors).where(store.cursors.c.source == "t.lost")).first() is None


@pytest.mark.postgres
def test_staged_rows_write_no_wal_on_postgresql(pg_url):
    engine = store.open_store(pg_url)
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text("SELECT relname, relpersistence FROM pg_class "
                                          "WHERE relname IN ('staged_rows', 'source_rows')")).all())
    assert kinds == {"staged_rows": "u", "source_rows": "p"}


def _pages(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_relation_size(to_regclass(:t))"), {"t": table}).scalar()


@pytest.mark.postgres
def test_publish_gives_back_the_space_of_the_staged_rows_it_deleted(pg_url, monkeypatch):
    """Autovacuum may be off: without publish's VACUUM every load's staged rows stayed in the
    file as dead rows, and each later load's checks and merge read past them."""
    from munihub.store import stats

    monkeypatch.setattr(stats, "RECLAIM_MIN", 100)
    engine = store.open_store(pg_url)
    for n in range(2):
        publish_staged(engine, _stage(engine, "t.src", [(f"k{i}", {"n": i, "round": n}) for i in range(500)]),
                       entity_type="person")
        assert _pages(engine, "staged_rows") == 0  # every page emptied, the file truncated
    assert stats.reclaim(engine, store.staged_rows, 99) is False  # below the minimum: left alone


@pytest.mark.postgres
def test_a_small_load_does_not_analyze_staging_and_only_its_publish_waits_for_the_disk(pg_url, tmp_path, monkeypatch):
    """A load below STATISTICS_MIN staged rows leaves staged_rows' statistics alone (an ANALYZE
    at every small sync bought no other plan), and the writes before publish commit without
    waiting for the WAL flush (`store.async_commit`) while the publish, which moves the
    cursor, still waits for it."""
    from munihub.ingest.stage import STATISTICS_MIN, stage_batches
    from munihub.ingest.connector import Batch

    engine = store.open_store(pg_url)
    transactions, current = [], []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, params, context, executemany):
        current.append(statement)

    @sa.event.listens_for(engine, "commit")
    def _committed(conn):
        transactions.append(" | ".join(current))
        current.clear()

    contract = types.SimpleNamespace(id="t.small", version="1.0.0", key=["k"], record_id=None, fields=[])
    load_id, _ = loads.begin_load(engine, contract)
    batch = Batch(records=[{"k": str(i)} for i in range(50)], cursor={"n": 50})
    monkeypatch.setattr("munihub.ingest.stage.plan_for", lambda contract, errors_of: None)
    monkeypatch.setattr("munihub.ingest.stage.check_record",
                        lambda contract, raw, errors_of: (raw, raw["k"], [], []))
    counts = stage_batches(engine, contract, load_id, [batch], errors_of=lambda r: [])
    assert counts.staged == 50 < STATISTICS_MIN
    assert _reltuples(engine, "staged_rows") < 0  # never analyzed: 50 rows did not ask for it
    loads.mark_staged(engine, load_id)
    publish_staged(engine, load_id, entity_type="person")
    relaxed = "SET LOCAL synchronous_commit = off"
    staging = [t for t in transactions if "UPDATE loads SET rows_in" in t]
    publish = [t for t in transactions if "INSERT INTO source_rows" in t]
    assert staging and all(relaxed in t for t in staging)
    assert any(relaxed in t for t in transactions if "INSERT INTO loads" in t)  # begin_load
    assert len(publish) == 1 and relaxed not in publish[0] and "INTO cursors" in publish[0]
    assert store.keep_statistics(engine, store.staged_rows, STATISTICS_MIN - 1, minimum=STATISTICS_MIN) is False


@pytest.mark.postgres
def test_a_large_load_analyzes_staging_on_its_keys_with_a_small_sample(pg_url, monkeypatch):
    """A load of STATISTICS_MIN rows or more analyzes staged_rows, but only the columns its
    checks and publish filter, group and sort by, at STAGED_TARGET: the row count and the
    keys' distinctness, not a 30,000-row sample of hashes and positions."""
    from munihub.ingest.connector import Batch
    from munihub.ingest.stage import STAGED_TARGET, STATISTICS_MIN, stage_batches

    engine = store.open_store(pg_url)
    contract = types.SimpleNamespace(id="t.large", version="1.0.0", key=["k"], record_id=None, fields=[])
    load_id, _ = loads.begin_load(engine, contract)
    n = STATISTICS_MIN + 2_000
    batch = Batch(records=[{"k": str(i)} for i in range(n)], cursor={"n": n})
    monkeypatch.setattr("munihub.ingest.stage.plan_for", lambda contract, errors_of: None)
    monkeypatch.setattr("munihub.ingest.stage.check_record",
                        lambda contract, raw, errors_of: (raw, raw["k"], [], []))
    stage_batches(engine, contract, load_id, [batch], errors_of=lambda r: [])
    assert abs(_reltuples(engine, "staged_rows") - n) < 0.05 * n
    with engine.connect() as conn:
        found = dict(conn.execute(sa.text(
            "SELECT attname, coalesce(array_length(histogram_bounds::text::text[], 1), 0) FROM pg_stats "
            "WHERE tablename = 'staged_rows'")).all())
    assert set(found) == {"load_id", "seq", "source_key"}
    assert 0 < found["seq"] <= STAGED_TARGET + 1  # the small target, not the default 100
    with engine.connect() as conn:  # the setting was this ANALYZE's alone
        assert conn.exec_driver_sql("SHOW default_statistics_target").scalar() == "100"


@pytest.mark.postgres
def test_whether_a_loads_keys_are_distinct_is_asked_of_the_database_once(pg_url):
    # the checks, the record-id check and publish of one sync all ask; the staged rows of a
    # load never change, so the second answer comes from the process
    engine = store.open_store(pg_url)
    repeated = _stage(engine, "src.rep", [("k1", {"v": 1}), ("k1", {"v": 2})])
    distinct = _stage(engine, "src.dis", [("k1", {"v": 1}), ("k2", {"v": 2})])
    asked = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: asked.append(statement) if "hashtextextended" in statement else None)
    with engine.connect() as conn:
        answers = [loads.staged_keys_distinct(conn, load_id) for load_id in (repeated, distinct, repeated, distinct)]
    assert answers == [False, True, False, True] and len(asked) == 2


@pytest.mark.postgres
def test_a_sources_first_load_is_a_plain_insert_and_later_loads_merge(pg_url):
    engine = store.open_store(pg_url)
    statements = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda conn, cursor, statement, *a: statements.append(statement)
                    if statement.lstrip().upper().startswith(("INSERT INTO SOURCE_ROWS", "WITH MERGED")) else None)
    first = _stage(engine, "f.src", [("a", {"n": 1}), ("b", {"n": 2})])
    assert publish_staged(engine, first, entity_type="person") == {"rows_new": 2, "rows_changed": 0,
                                                                   "rows_unchanged": 0}
    assert len(statements) == 1 and "ON CONFLICT" not in statements[0].upper()
    second = _stage(engine, "f.src", [("a", {"n": 1}), ("b", {"n": 3}), ("c", {"n": 4})])
    assert publish_staged(engine, second, entity_type="person") == {"rows_new": 1, "rows_changed": 1,
                                                                    "rows_unchanged": 1}
    assert len(statements) == 2 and "ON CONFLICT" in statements[1].upper()
    assert _published(engine, "f.src") == {"a": ({"n": 1}, first), "b": ({"n": 3}, second), "c": ({"n": 4}, second)}


@pytest.mark.postgres
def test_a_first_load_that_meets_another_runs_rows_is_refused_whole(pg_url):
    # Two runs of one source publishing at once, both seeing it empty: the second's plain
    # INSERT waits on the first's keys, and when the first commits it is refused, not merged.
    import threading

    from munihub.errors import ConcurrentRunError

    engine = store.open_store(pg_url)
    mine = _stage(engine, "r.src", [("a", {"n": 1}), ("b", {"n": 2})])
    other = engine.connect()
    txn = other.begin()
    other.execute(store.source_rows.insert().values(
        source="r.src", source_key="b", entity_type="person", record={"n": 9}, record_hash="x" * 64,
        first_load_id="OTHER", load_id="OTHER", updated_at=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)))
    outcome = []

    def publish():
        try:
            outcome.append(publish_staged(engine, mine, entity_type="person"))
        except ConcurrentRunError as exc:
            outcome.append(exc)
    worker = threading.Thread(target=publish)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive()  # waiting on the other run's uncommitted key
    txn.commit()
    other.close()
    worker.join(10)
    assert isinstance(outcome[0], ConcurrentRunError)
    assert _published(engine, "r.src") == {"b": ({"n": 9}, "OTHER")}
    assert loads.load_row(engine, mine)["status"] == "staged"  # nothing of this run published


@pytest.mark.postgres
def test_publish_empties_staging_by_truncate_only_when_its_rows_are_all_there_is(pg_url, monkeypatch):
    """A publish whose load is all staged_rows holds, with no other run holding the table,
    empties it by TRUNCATE inside its transaction (no DELETE, no VACUUM after); beside another
    load's staged rows, or while another run has the table open, it deletes its own rows and
    leaves the others' alone, without waiting; a small load (no VACUUM would follow) deletes."""
    from munihub.store import stats

    monkeypatch.setattr(stats, "RECLAIM_MIN", 40)
    engine = store.open_store(pg_url)
    seen = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, params, context, executemany):
        seen.append(statement.split()[0].upper())

    def node():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT relfilenode FROM pg_class WHERE relname = 'staged_rows'")).scalar()

    alone = _stage(engine, "t.alone", [(f"k{i}", {"n": i}) for i in range(50)])
    before, seen[:] = node(), []
    publish_staged(engine, alone, entity_type="person")
    assert "TRUNCATE" in seen and "DELETE" not in seen and "VACUUM" not in seen and node() != before

    first = _stage(engine, "t.a", [(f"k{i}", {"n": i}) for i in range(50)])
    second = _stage(engine, "t.b", [(f"k{i}", {"n": i}) for i in range(45)])
    seen[:] = []
    publish_staged(engine, first, entity_type="person")
    assert "DELETE" in seen and "TRUNCATE" not in seen
    s = store.staged_rows
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s).where(s.c.load_id == second)).scalar() == 45
        assert conn.execute(sa.select(sa.func.count()).select_from(s)).scalar() == 45
    other = engine.connect()  # another run reading staged_rows, its transaction open
    other.execute(sa.select(sa.func.count()).select_from(s)).scalar()
    seen[:] = []
    # (the VACUUM after it would wait up to 5 s to shorten the file under the other's lock)
    monkeypatch.setattr(store, "reclaim", lambda *args, **kw: False)
    started = time.perf_counter()
    publish_staged(engine, second, entity_type="person")
    assert "DELETE" in seen and "TRUNCATE" not in seen and time.perf_counter() - started < 5
    other.close()
    assert set(_published(engine, "t.b")) == {f"k{i}" for i in range(45)}
    small = _stage(engine, "t.small", [(f"k{i}", {"n": i}) for i in range(39)])  # staging is empty but for it
    seen[:] = []
    publish_staged(engine, small, entity_type="person")
    assert "DELETE" in seen and "TRUNCATE" not in seen
