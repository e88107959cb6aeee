"""The hash-chained audit log: appends from many writers stay one chain; tampering is named."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from munihub.store import audit
from munihub import store
from munihub.errors import StoreError


def filled(url: str, n: int = 6) -> sa.Engine:
    engine = store.open_store(url)
    for i in range(n):
        with engine.begin() as conn:
            audit.append(conn, "pipeline", "sync", f"registry.citizens#{i}", "published", {"rows": i, "نام": "علی"})
    return engine


def test_a_clean_chain_verifies_on_every_engine(store_url):
    engine = filled(store_url)
    assert audit.verify(engine) == []
    assert audit.head(engine)["seq"] == 6


def test_concurrent_writers_keep_one_chain(store_url):
    engine = filled(store_url, 1)
    errors = []

    def write(i):
        for j in range(15):
            try:
                with engine.begin() as conn:
                    audit.append(conn, f"w{i}", "api.get", "/x", "200", {"j": j})
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and audit.verify(engine) == [] and audit.head(engine)["seq"] == 61


def test_an_entry_rolled_back_with_its_action_leaves_no_trace(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}", 2)
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            audit.append(conn, "admin", "grant", "x", "ok", {})
            raise RuntimeError("the audited action failed")
    assert audit.head(engine)["seq"] == 2 and audit.verify(engine) == []


def test_edited_detail_is_caught(store_url):
    engine = filled(store_url)
    with engine.begin() as conn:
        conn.execute(sa.update(store.audit_log).where(store.audit_log.c.seq == 3).values(detail={"rows": 999}))
    problems = audit.verify(engine)
    assert problems == ["entry 3: content does not match its hash (edited: sync registry.citizens#2 by pipeline)"]


# A changed value for each column of the table: a column added later and left out of the
# hash fails here until it is given an edit (and the hash covers it).
EDITS = {"seq": 99, "ts": dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "actor": "eve",
         "action": "grant", "target": "registry.other#0", "outcome": "failed", "detail": {"rows": 999},
         "prev_hash": "f" * 64, "hash": "e" * 64}


def test_every_column_of_an_entry_is_covered(store_url):
    assert set(EDITS) == {c.name for c in store.audit_log.columns}
    t = store.audit_log
    engine = filled(store_url, 3)
    with engine.connect() as conn:
        original = dict(conn.execute(sa.select(t).where(t.c.seq == 2)).mappings().one())
    for column, value in EDITS.items():
        with engine.begin() as conn:
            conn.execute(sa.update(t).where(t.c.seq == 2).values({column: value}))
        problems = audit.verify(engine)
        assert any(p.startswith(("entry 2:", "entry 3:", "entry 2 missing")) for p in problems), \
            f"editing {column} of entry 2 verified clean: {problems}"
        with engine.begin() as conn:  # put it back for the next column
            conn.execute(sa.update(t).where(t.c.seq == (value if column == "seq" else 2))
                         .values({column: original[column]}))
        assert audit.verify(engine) == [], column


def test_an_edited_target_is_named(store_url):
    engine = filled(store_url)
    with engine.begin() as conn:
        conn.execute(sa.update(store.audit_log).where(store.audit_log.c.seq == 2).values(target="registry.other"))
    assert audit.verify(engine) == ["entry 2: content does not match its hash (edited: sync registry.other "
                                    "by pipeline)"]


def test_deleted_entry_is_caught(store_url):
    engine = filled(store_url)
    with engine.begin() as conn:
        conn.execute(sa.delete(store.audit_log).where(store.audit_log.c.seq == 4))
    problems = audit.verify(engine)
    assert any("entry 4 missing before entry 5" in p for p in problems)
    assert any("entry 5: prev_hash" in p for p in problems)


def test_reordered_entries_are_caught(store_url):
    engine = filled(store_url)
    t = store.audit_log
    with engine.begin() as conn:  # swap the numbers of entries 2 and 3
        conn.execute(sa.update(t).where(t.c.seq == 2).values(seq=-2))
        conn.execute(sa.update(t).where(t.c.seq == 3).values(seq=2))
        conn.execute(sa.update(t).where(t.c.seq == -2).values(seq=3))
    problems = audit.verify(engine)
    assert any(p.startswith("entry 2:") for p in problems) and any(p.startswith("entry 3:") for p in problems)


def test_rewritten_hash_is_caught_by_the_next_entry(store_url):
    engine = filled(store_url)
    t = store.audit_log
    with engine.connect() as conn:
        row = dict(conn.execute(sa.select(t).where(t.c.seq == 2)).mappings().one())
    row["outcome"] = "failed"
    forged = audit.entry_hash(row["prev_hash"], row)  # a careful forger recomputes this entry's hash
    with engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.seq == 2).values(outcome="failed", hash=forged))
    assert audit.verify(engine) == ["entry 3: prev_hash does not match the entry before it "
                                    "(an entry was deleted, inserted or reordered)"]


def test_append_fails_loudly_when_the_table_is_gone(tmp_path):
    engine = filled(f"sqlite:///{tmp_path / 's.db'}", 1)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE audit_log"))
    with pytest.raises(StoreError, match="cannot write the audit entry"):
        with engine.begin() as conn:
            audit.append(conn, "x", "y", "z", "ok")


def test_cli_audit_verify_exits_1_on_tampering(tmp_path, monkeypatch, capsys):
    from munihub.cli.main import main
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path))
    monkeypatch.setenv("MUNIHUB_STORE_URL", url)
    assert main(["agencies", "add", "police", "--by", "tester"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) > 30
    assert main(["agencies", "grant", "police", "registry.citizens", "--fields", "first_name"]) == 0
    assert main(["audit", "verify"]) == 0 and "intact: 2 entries" in capsys.readouterr().out
    with store.open_store(url).begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET actor = 'eve' WHERE seq = 1"))
    assert main(["audit", "verify"]) == 1
    assert "entry 1: content does not match its hash" in capsys.readouterr().out


def test_group_commit_chains_concurrent_entries_in_shared_transactions(store_url):
    engine = filled(store_url, 1)
    commits = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    writer = audit.GroupCommit(engine)
    futures = [writer.submit(f"agency{i % 3}", "api.get", "/v1/x", "200", {"i": i}) for i in range(60)]
    seqs = [f.result(timeout=60) for f in futures]
    assert seqs == list(range(2, 62))  # submission order is chain order
    with engine.connect() as conn:  # a future completes only once its entry is committed
        assert conn.execute(sa.select(sa.func.count()).select_from(store.audit_log)).scalar() == 61
    assert audit.verify(engine) == []
    assert 1 <= len(commits) < 60, "every entry took its own transaction"
    writer.close()
    with pytest.raises(StoreError, match="closed"):
        writer.submit("x", "api.get", "/v1/x", "200")


def test_group_commit_refuses_every_waiting_entry_when_the_log_is_unwritable(store_url):
    engine = filled(store_url, 1)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_moved"))
    writer = audit.GroupCommit(engine)
    futures = [writer.submit("police", "api.get", "/v1/x", "200") for _ in range(5)]
    for f in futures:
        with pytest.raises(StoreError, match="audit"):
            f.result(timeout=60)
    writer.close()


@pytest.mark.postgres
def test_group_commit_survives_its_connection_being_killed(pg_url):
    """A database restart kills the writer's held connection: the next batch reconnects."""
    engine = filled(pg_url, 1)
    writer = audit.GroupCommit(engine)
    assert writer.submit("a", "api.get", "/x", "200").result(timeout=60) == 2
    with engine.connect() as conn:
        killed = conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
    assert killed
    assert writer.submit("a", "api.get", "/x", "200").result(timeout=60) == 3
    writer.close()
    assert audit.verify(engine) == []


# ---------------------------------------------------------------- the event-loop writer (PostgreSQL)

@pytest.mark.postgres
def test_the_event_loop_writer_chains_concurrent_entries_in_shared_transactions(pg_url, monkeypatch):
    import asyncio
    engine = filled(pg_url, 1)
    writer = audit.group_commit(engine)
    assert isinstance(writer, audit.AsyncGroupCommit)
    batches, real = [], audit._append_async

    async def counted(conn, entries):
        batches.append(len(entries))
        return await real(conn, entries)
    monkeypatch.setattr(audit, "_append_async", counted)

    async def run():
        seqs = await asyncio.gather(*(writer.write(f"agency{i % 3}", "api.get", "/v1/x", "200",
                                                   {"i": i, "نام": "علی", "at": dt.date(2024, 1, i % 28 + 1)})
                                      for i in range(60)))
        await writer.aclose()
        return seqs
    seqs = asyncio.run(run())
    assert seqs == list(range(2, 62))  # submission order is chain order
    assert sum(batches) == 60 and len(batches) < 60, "every entry took its own transaction"
    with engine.connect() as conn:  # each write returned only once its entry was committed
        assert conn.execute(sa.select(sa.func.count()).select_from(store.audit_log)).scalar() == 61
        details = conn.execute(sa.select(store.audit_log.c.detail).order_by(store.audit_log.c.seq)).scalars().all()
    assert details[1] == {"i": 0, "نام": "علی", "at": "2024-01-01"}
    assert audit.verify(engine) == []
    with pytest.raises(StoreError, match="closed"):
        asyncio.run(writer.write("x", "api.get", "/v1/x", "200"))
    engine.dispose()


@pytest.mark.postgres
def test_the_event_loop_writer_refuses_every_waiting_entry_when_the_log_is_unwritable(pg_url):
    import asyncio
    engine = filled(pg_url, 1)
    writer = audit.AsyncGroupCommit(engine)

    async def run():
        assert await writer.write("police", "api.get", "/v1/x", "200") == 2
        await asyncio.to_thread(_rename_log, engine)
        return await asyncio.gather(*(writer.write("police", "api.get", "/v1/x", "200") for _ in range(5)),
                                    return_exceptions=True)
    results = asyncio.run(run())
    assert len(results) == 5 and all(isinstance(r, StoreError) and "audit" in str(r) for r in results)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log_moved RENAME TO audit_log"))
    assert audit.head(engine)["seq"] == 2 and audit.verify(engine) == []  # nothing half-written
    engine.dispose()


def _rename_log(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE audit_log RENAME TO audit_log_moved"))


@pytest.mark.postgres
def test_the_event_loop_writer_survives_its_connection_being_killed(pg_url):
    import asyncio
    engine = filled(pg_url, 1)
    writer = audit.AsyncGroupCommit(engine)

    def kill():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                        "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()

    async def run():
        first = await writer.write("a", "api.get", "/x", "200")
        assert (await asyncio.to_thread(audit.head, engine))["seq"] == first  # committed when write returns
        assert await asyncio.to_thread(kill)
        second = await writer.write("a", "api.get", "/x", "200")
        await writer.aclose()
        return first, second
    assert asyncio.run(run()) == (2, 3)
    assert audit.verify(engine) == []
    engine.dispose()


@pytest.mark.postgres
def test_the_event_loop_writer_returns_only_once_the_commit_is_acknowledged(pg_url):
    """A commit made slow on purpose (a deferred trigger sleeps at COMMIT): a write that returned
    before the acknowledgement would find its entry not yet visible to another session."""
    import asyncio
    engine = filled(pg_url, 1)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$"))
        conn.execute(sa.text("CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON audit_log "
                             "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()"))
    writer = audit.AsyncGroupCommit(engine)

    async def run():
        seq = await writer.write("a", "api.get", "/x", "200")
        seen = (await asyncio.to_thread(audit.head, engine))["seq"]
        await writer.aclose()
        return seq, seen
    assert asyncio.run(run()) == (2, 2)
    engine.dispose()


@pytest.mark.postgres
def test_the_event_loop_writer_does_not_hold_an_entry_behind_a_batch_in_flight(pg_url, monkeypatch):
    """A second batch starts on a connection of its own while the first is still in its round trip
    (its flush made slow here on purpose): the second entry is committed, and returned, first, and
    the chain stays whole."""
    import asyncio
    engine = filled(pg_url, 1)
    slow_first = "SELECT pg_sleep(0.5) WHERE current_setting('munihub.audit_last') = '2'; "
    monkeypatch.setattr(audit, "_PG_FLUSH", audit._PG_FLUSH.replace("BEGIN; ", "BEGIN; " + slow_first, 1))
    writer = audit.AsyncGroupCommit(engine)

    async def run():
        returned = []

        async def one(i):
            returned.append(await writer.write("a", "api.get", "/x", "200", {"i": i}))
        first = asyncio.create_task(one(0))
        await asyncio.sleep(0.1)  # the first batch is in flight
        await one(1)
        await first
        for i in range(5):
            await one(2 + i)
        kept = len(writer._idle)  # each writer's connection kept for the next batches, no new one per batch
        await writer.aclose()
        return returned, kept
    assert asyncio.run(run()) == ([3, 2, 4, 5, 6, 7, 8], 2)
    assert audit.verify(engine) == []
    engine.dispose()


@pytest.mark.postgres
def test_the_event_loop_writer_returns_only_once_the_entry_is_flushed(pg_url):
    """The batch commits without waiting for its fsync (so the chain's lock is not held across it),
    then a second transaction forces the flush: when a write returns, the WAL holding its entry
    is on disk (the heap page's LSN is at or below the flushed position)."""
    import asyncio
    engine = filled(pg_url, 1)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        except sa.exc.DBAPIError:
            pytest.skip("the pageinspect extension is not available")
    writer = audit.AsyncGroupCommit(engine)
    flushed = sa.text("SELECT pg_current_wal_flush_lsn() >= (SELECT lsn FROM page_header(get_raw_page('audit_log', "
                      "(SELECT (ctid::text::point)[0]::int FROM audit_log WHERE seq = :seq))))")

    async def run():
        seen = []
        with engine.connect() as conn:
            for i in range(10):
                seq = await writer.write("a", "api.get", "/x", "200", {"i": i})
                seen.append(conn.execute(flushed, {"seq": seq}).scalar())
        await writer.aclose()
        return seen
    assert asyncio.run(run()) == [True] * 10
    assert audit.verify(engine) == []
    engine.dispose()
