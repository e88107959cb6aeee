"""The tamper-evident audit log: append-only rows, each hash covering the previous row's hash.

`append` writes one entry inside the caller's transaction, so an audited action and its
entry commit or vanish together.  `GroupCommit` is for the gateway, where every request
writes an entry: one writer thread per process chains all the entries waiting at that moment
in one transaction, and each request waits for the commit of its own batch, so concurrent
requests share a commit instead of queueing on the chain one by one (`AsyncGroupCommit` does
the same from the event loop on PostgreSQL, without a thread).  Writers are serialized
(PostgreSQL: a transaction-scoped advisory lock; SQLite: the database write lock, taken
before the last row is read), and `seq` is the primary key, so two writers can never fork
the chain.  An entry's hash covers every column of its row (the previous hash by chaining),
so `verify` names every edited, deleted or reordered entry.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import secrets
import threading
import weakref
from typing import Any

import sqlalchemy as sa

from munihub.store import tables as store
from munihub.errors import StoreError

GENESIS = "0" * 64
_PG_LOCK = 724243  # advisory lock id of the audit writer (724242 is the migration lock)
# Every column but the two hashes is hashed as content; prev_hash is covered by the chaining.
CONTENT = tuple(c.name for c in store.audit_log.columns if c.name not in ("hash", "prev_hash"))
__all__ = ["append", "append_many", "verify", "head", "entry_hash", "GroupCommit", "AsyncGroupCommit", "group_commit",
           "GENESIS", "CONTENT"]
log = logging.getLogger("munihub.store.audit")


def _utc_text(ts: dt.datetime) -> str:
    """One spelling of a timestamp on every engine: SQLite returns it naive, PostgreSQL aware."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.timezone.utc)
    return ts.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(content: dict[str, Any]) -> str:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _content(row: dict[str, Any], seq: Any) -> dict[str, Any]:
    content = {name: row[name] for name in CONTENT if name not in ("seq", "ts")}
    content["seq"], content["ts"] = seq, _utc_text(row["ts"])
    return content


def entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """sha256(prev_hash + canonical JSON of every content column of the entry)."""
    blob = _canonical(_content(row, int(row["seq"])))
    return hashlib.sha256((prev_hash + blob).encode("utf-8")).hexdigest()


def _lock_writer(conn: sa.Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    elif dialect == "sqlite":
        # A no-op write takes SQLite's write lock now, so the last row read below is still
        # the last row when we insert (a plain SELECT would not lock anything).
        conn.execute(sa.update(store.audit_log).where(store.audit_log.c.seq == -1)
                     .values(seq=store.audit_log.c.seq))


_PLAIN = (str, int, float, bool, type(None))


def _entry(actor: str, action: str, target: str | None, outcome: str, detail: dict[str, Any] | None) -> dict:
    detail = detail or {}
    if not all(k.__class__ is str and v.__class__ in _PLAIN for k, v in detail.items()):
        # hashed as the database will give it back (JSON types, str for the rest); a flat detail of
        # plain values (every gateway request's) is that already
        detail = json.loads(json.dumps(detail, ensure_ascii=False, default=str))
    return {"actor": str(actor)[:200], "action": str(action)[:100],
            "target": None if target is None else str(target)[:500], "outcome": str(outcome)[:40],
            "detail": dict(detail)}


def _chain(entries: list[dict[str, Any]], last) -> list[dict[str, Any]]:
    """`entries` as rows chained after `last` (seq, hash) or after the genesis."""
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    now, rows = dt.datetime.now(dt.timezone.utc), []
    for entry in entries:
        seq += 1
        row = {**entry, "seq": seq, "ts": now, "prev_hash": prev}
        row["hash"] = prev = entry_hash(prev, row)
        rows.append(row)
    return rows


# The chain on PostgreSQL in two plain statements: the gateway writes an entry per request,
# and the lock, the read and the insert built by SQLAlchemy Core cost ~450 us of CPU.
# The lock and the read of the last entry go in one round trip: under READ COMMITTED each
# statement of the string takes its own snapshot, so the SELECT, run once the lock is
# granted, sees every entry committed by the writer that held it before.
_PG_LAST = (f"SELECT pg_advisory_xact_lock({_PG_LOCK}); "
            f"SELECT seq, hash FROM {store.audit_log.name} ORDER BY seq DESC LIMIT 1")
_PG_INSERT = (f"INSERT INTO {store.audit_log.name} ({', '.join(c.name for c in store.audit_log.columns)}) "
              "VALUES ")
_PG_ROW = "(" + ", ".join("%s" for _ in store.audit_log.columns) + ")"


def _append_postgresql(conn: sa.Connection, entries: list[dict[str, Any]]) -> list[int]:
    rows = _chain(entries, conn.exec_driver_sql(_PG_LAST).first())
    names = [c.name for c in store.audit_log.columns]
    conn.exec_driver_sql(_PG_INSERT + ", ".join([_PG_ROW] * len(rows)),
                         tuple(json.dumps(r[n], ensure_ascii=False) if n == "detail" else r[n]
                               for r in rows for n in names))
    return [r["seq"] for r in rows]


def append_many(conn: sa.Connection, entries: list[dict[str, Any]]) -> list[int]:
    """Chain `entries` (actor, action, target, outcome, detail) in the caller's transaction; their seqs."""
    t = store.audit_log
    try:
        if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
            return _append_postgresql(conn, entries)
        _lock_writer(conn)
        query = sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)
        if conn.dialect.name not in ("postgresql", "sqlite"):
            query = query.with_for_update()
        rows = _chain(entries, conn.execute(query).first())
        conn.execute(t.insert(), rows)
        return [r["seq"] for r in rows]
    except sa.exc.SQLAlchemyError as exc:
        first = entries[0] if entries else {}
        raise StoreError(f"cannot write the audit entry {first.get('action')} {first.get('target')}"
                         f"{f' (and {len(entries) - 1} more)' if len(entries) > 1 else ''}: "
                         f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}", where="audit_log",
                         hint="the action was refused; check the store is writable") from exc


def append(conn: sa.Connection, actor: str, action: str, target: str | None, outcome: str,
           detail: dict[str, Any] | None = None) -> int:
    """Append one entry in the caller's transaction; returns its seq.  StoreError if it cannot."""
    return append_many(conn, [_entry(actor, action, target, outcome, detail)])[0]


class GroupCommit:
    """Chains the entries of concurrent requests together: one transaction per batch.

    `submit` returns a future that completes when the entry's transaction has committed (its
    seq) or failed (StoreError): a caller that waits for it never answers before its entry is
    durable.  One writer thread per process, started on first use (after a server forks).
    """

    def __init__(self, engine: sa.Engine, max_batch: int = 500):
        self.engine, self.max_batch = engine, max_batch
        self._pending: list[tuple[dict, concurrent.futures.Future]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._conn: sa.Connection | None = None  # held by the writer: no checkout (and ping) per batch

    def submit(self, actor: str, action: str, target: str | None, outcome: str,
               detail: dict[str, Any] | None = None) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        entry = _entry(actor, action, target, outcome, detail)
        with self._wake:
            if self._closed:
                raise StoreError("the audit writer is closed", where="audit_log", hint="the server is stopping")
            self._pending.append((entry, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="munihub-audit-writer", daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    async def write(self, actor: str, action: str, target: str | None, outcome: str,
                    detail: dict[str, Any] | None = None) -> int:
        """`submit` awaited on an event loop: the entry's seq once committed, or StoreError."""
        return await asyncio.wrap_future(self.submit(actor, action, target, outcome, detail))

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self, timeout: float = 10) -> None:
        """Write what is waiting, then stop the writer thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closed:
                    self._wake.wait()
                if not self._pending:
                    if self._conn is not None:
                        self._conn.close()
                    return
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            self._write(batch)

    def _write(self, batch: list[tuple[dict, concurrent.futures.Future]]) -> None:
        entries = [entry for entry, _ in batch]
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = self.engine.connect()
                with self._conn.begin():
                    seqs = append_many(self._conn, entries)
                break
            except Exception as exc:  # noqa: BLE001 - every waiting request is refused with the cause
                conn, self._conn = self._conn, None  # the next attempt starts on a fresh connection
                if conn is not None:
                    with contextlib.suppress(Exception):  # a dead connection may fail to close too
                        conn.close()
                # The held connection may have died with a database restart: one retry, on a new one.
                if attempt == 1 and getattr(exc.__cause__ or exc, "connection_invalidated", False):
                    continue
                err = exc if isinstance(exc, StoreError) else StoreError(
                    f"cannot write {len(batch)} audit entries: {exc.__class__.__name__}: {str(exc)[:200]}",
                    where="audit_log", hint="the requests were refused; check the store is writable")
                log.error("%s", err)
                for _, future in batch:
                    future.set_exception(err)
                return
        for (_, future), seq in zip(batch, seqs):
            future.set_result(seq)


class AsyncGroupCommit:
    """GroupCommit on the event loop, for PostgreSQL through psycopg2 (`munihub.store.pgasync`).

    The same batches and chain as GroupCommit, written by tasks of the loop on connections of
    their own in one round trip each (see `_PG_CHAIN`), so a request's entry costs no thread
    hand-off.  `write` returns once the batch is committed and its WAL flushed (durable;
    the chain's lock is not held during the flush) and raises StoreError if it could not be.

    Up to `writers` batches are in flight at once, each on its own connection: an entry arriving
    while a batch is being written starts the next batch at once instead of waiting for that
    one's round trip and flush (with one writer, about half the entries of a worker serving two
    clients waited so, 1-2 ms at the median on a shared two-core machine).  The chain's lock still orders the batches; entries arriving while every
    writer is busy wait and go together in the next batch.
    """

    def __init__(self, engine: sa.Engine, max_batch: int = 500, writers: int = 2):
        self.engine, self.max_batch, self.writers = engine, max_batch, writers
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._tasks: list[asyncio.Task] = []
        self._idle: list = []  # writer connections not in use
        self._closed = False

    async def write(self, actor: str, action: str, target: str | None, outcome: str,
                    detail: dict[str, Any] | None = None) -> int:
        if self._closed:
            raise StoreError("the audit writer is closed", where="audit_log", hint="the server is stopping")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((_entry(actor, action, target, outcome, detail), future))
        # Writer tasks of this loop only (a test client may run each request on a loop of its own).
        tasks = [t for t in self._tasks if not t.done() and t.get_loop() is loop]
        if len(tasks) < self.writers:
            tasks.append(loop.create_task(self._run()))
        self._tasks = tasks
        return await future

    async def warm(self) -> None:
        """Have a writer connection open before the first entry (a server's start-up calls this)."""
        from munihub.store import pgasync
        if not self._idle:
            self._idle.append(await pgasync.connect(self.engine))

    async def aclose(self) -> None:
        """Write what is waiting, then close the connections."""
        self._closed = True
        loop = asyncio.get_running_loop()
        for task in self._tasks:
            if not task.done() and task.get_loop() is loop:
                await task
        from munihub.store import pgasync
        while self._idle:
            pgasync.discard(self._idle.pop())

    async def _run(self) -> None:
        conn = self._idle.pop() if self._idle else None
        while self._pending:
            batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
            conn = await self._write(batch, conn)  # if cancelled, `_write` has discarded the connection
        if conn is not None:
            self._idle.append(conn)

    async def _write(self, batch: list[tuple[dict, asyncio.Future]], conn):
        """Write `batch` on `conn` (or a new connection); the connection to keep, or None."""
        import psycopg2

        from munihub.store import pgasync
        entries = [entry for entry, _ in batch]
        for attempt in (1, 2):
            held = conn is not None
            try:
                if conn is None:
                    conn = await pgasync.connect(self.engine)
                seqs = await _append_async(conn, entries)
                break
            except BaseException as exc:  # noqa: BLE001 - every waiting request is refused with the cause
                if conn is not None:  # mid-transaction or dead: never reused
                    pgasync.discard(conn)
                    conn = None
                if not isinstance(exc, Exception):  # the writer task itself was cancelled (shutdown)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(StoreError("the audit writer stopped before this entry "
                                                            "was committed", where="audit_log",
                                                            hint="the request was refused"))
                    raise
                # A held connection may have died with a database restart: one retry, on a new one.
                if attempt == 1 and held and isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
                    continue
                err = StoreError(f"cannot write {len(batch)} audit entries: {exc.__class__.__name__}: "
                                 f"{str(exc).strip()[:200]}", where="audit_log",
                                 hint="the requests were refused; check the store is writable")
                log.error("%s", err)
                for _, future in batch:
                    if not future.done():  # a request cancelled meanwhile no longer waits
                        future.set_exception(err)
                return None
        for (_, future), seq in zip(batch, seqs):
            if not future.done():
                future.set_result(seq)
        return conn


# One round trip for a batch on the event loop: the lock, then PostgreSQL itself chains the
# entries onto the last one (a recursive CTE computing the same sha256 as `entry_hash`: the
# canonical JSON is built here with the seq left out, and the server splices in each seq),
# then COMMIT.  That COMMIT does not wait for its WAL flush (synchronous_commit off for that
# transaction), so the chain's lock is released as soon as the rows are in and the other
# workers chain their batches meanwhile.  The flush is then forced by a second transaction
# (`_PG_FLUSH`) that writes one WAL record (a transactional logical message, prefix
# `munihub.audit`, read by nothing unless a logical decoding slot asks) and commits
# synchronously: its COMMIT returns once the WAL up to and past the batch is flushed (and
# replicated, under synchronous replication).  So no answer leaves before its entry is
# durable, the fsync no longer holds the lock, and the workers' flushes merge into one.  A
# crash before that flush loses only unanswered entries, and always the chain's tail (the
# WAL is sequential).  The last seq comes back through a session setting, because only the
# final statement's rows are returned.
_SEQ_MARK = "seq-" + secrets.token_hex(16)  # stands for the seq while the JSON is built
_PG_CHAIN = f"""WITH RECURSIVE e(i, ts, actor, action, target, outcome, detail, head, tail) AS (VALUES {{values}}),
c(i, seq, hash) AS (
    SELECT 0, COALESCE(l.seq, 0), COALESCE(l.hash, {{genesis}})
    FROM (SELECT 1) AS one LEFT JOIN (SELECT seq, hash FROM {store.audit_log.name} ORDER BY seq DESC LIMIT 1) AS l ON true
    UNION ALL
    SELECT e.i, c.seq + 1, encode(sha256(convert_to(c.hash || e.head || (c.seq + 1) || e.tail, 'UTF8')), 'hex')
    FROM c JOIN e ON e.i = c.i + 1),
ins AS (
    INSERT INTO {store.audit_log.name} (seq, ts, actor, action, target, outcome, detail, prev_hash, hash)
    SELECT c.seq, e.ts, e.actor, e.action, e.target, e.outcome, e.detail, p.hash, c.hash
    FROM e JOIN c ON c.i = e.i JOIN c AS p ON p.i = e.i - 1
    RETURNING seq)
SELECT set_config('munihub.audit_last', max(seq)::text, false) FROM ins"""
_PG_ROUND_TRIP = (f"BEGIN; SET LOCAL synchronous_commit TO off; SELECT pg_advisory_xact_lock({_PG_LOCK}); "
                  "EXECUTE {name}({args}); COMMIT; {flush}SELECT current_setting('munihub.audit_last')")
_PG_FLUSH = "BEGIN; SELECT pg_logical_emit_message(true, 'munihub.audit', ''); COMMIT; "
_PG_TYPES = ("int", "timestamptz", "text", "text", "text", "text", "jsonb", "text", "text")
# The chaining statement is prepared once per batch size on each writer connection (parsing and
# planning it cost the server more than running it), with a generic plan.
_PREPARED: "weakref.WeakKeyDictionary[Any, set[int]]" = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=64)
def _prepare_statement(n: int) -> str:
    """PREPARE of the chaining statement for a batch of `n` entries (parameters $1.. in rows of 9,
    then the genesis hash)."""
    rows = ", ".join("(" + ", ".join(f"${9 * k + j + 1}::{t}" for j, t in enumerate(_PG_TYPES)) + ")"
                     for k in range(n))
    return (f"PREPARE munihub_audit_chain_{n} AS "
            + _PG_CHAIN.replace("{values}", rows).replace("{genesis}", f"${9 * n + 1}::text") + "; ")


async def _append_async(conn, entries: list[dict[str, Any]]) -> list[int]:
    from munihub.store import pgasync
    now, mark, params = dt.datetime.now(dt.timezone.utc), json.dumps(_SEQ_MARK), []
    for i, entry in enumerate(entries, 1):
        head, found, tail = _canonical(_content({**entry, "ts": now}, _SEQ_MARK)).partition(mark)
        if not found or mark in tail:
            raise StoreError("an audit entry's JSON held the seq placeholder", where="audit_log",
                             hint="report this; the request was refused")
        params += [i, now, entry["actor"], entry["action"], entry["target"], entry["outcome"],
                   json.dumps(entry["detail"], ensure_ascii=False), head, tail]
    n = len(entries)
    prepared = _PREPARED.setdefault(conn, set())
    first = "" if prepared else "SET plan_cache_mode TO force_generic_plan; "
    sql = (first + ("" if n in prepared else _prepare_statement(n))
           + _PG_ROUND_TRIP.format(name=f"munihub_audit_chain_{n}", args=", ".join(["%s"] * (9 * n + 1)),
                                   flush=_PG_FLUSH))
    cursor = conn.cursor()
    cursor.execute(sql, [*params, GENESIS])
    await pgasync.ready(conn)
    prepared.add(n)
    last = int(cursor.fetchone()[0])
    cursor.close()
    return list(range(last - len(entries) + 1, last + 1))


def group_commit(engine: sa.Engine):
    """The group-commit writer for `engine`: on the event loop for PostgreSQL through psycopg2,
    else a writer thread."""
    from munihub.store import pgasync
    return AsyncGroupCommit(engine) if pgasync.supported(engine) else GroupCommit(engine)


def verify(engine: sa.Engine) -> list[str]:
    """Every problem in the chain, oldest first: edited, deleted or reordered entries.

    Deleting the newest entries leaves a shorter valid chain; compare `head(engine)` with
    a copy kept elsewhere to catch that.
    """
    t = store.audit_log
    problems: list[str] = []
    expected_seq, prev = 1, GENESIS
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.seq)).mappings()
        for row in rows:
            seq = row["seq"]
            if seq != expected_seq:
                gap = f"{expected_seq}" if seq == expected_seq + 1 else f"{expected_seq}..{seq - 1}"
                problems.append(f"entry {gap} missing before entry {seq} (deleted or renumbered)")
            if row["prev_hash"] != prev:
                problems.append(f"entry {seq}: prev_hash does not match the entry before it "
                                "(an entry was deleted, inserted or reordered)")
            if entry_hash(row["prev_hash"], row) != row["hash"]:
                problems.append(f"entry {seq}: content does not match its hash (edited: "
                                f"{row['action']} {row['target']} by {row['actor']})")
            expected_seq, prev = seq + 1, row["hash"]
    return problems


def head(engine: sa.Engine) -> dict[str, Any]:
    """The newest entry's seq and hash: keep a copy elsewhere to detect a truncated tail."""
    t = store.audit_log
    with engine.connect() as conn:
        last = conn.execute(sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
    return {"seq": last.seq, "hash": last.hash} if last else {"seq": 0, "hash": GENESIS}
