"""Publish ahead: a source's first load written into source_rows while it is being staged.

A publish on PostgreSQL is a second pass over the load, after staging: one INSERT … SELECT
from staged_rows into source_rows and its indexes (1M rows: ~6 s of wall, PostgreSQL alone,
the hub idle).  For a source's first load (no row of it published yet) that INSERT needs
nothing but the staged rows, so it can run batch by batch while the hub maps the next ones:
as each batch commits into staged_rows, one transaction of its own (T, its own connection and
thread) inserts that batch into source_rows.  Nothing T writes is visible before it commits,
and it commits only in the publish, which does in T what it does after its merge anyway
(earlier copies, quarantine entries read again, cursor, ledger, audit).  Anything else
(the checks holding the load, a key repeated in the load, which the plain INSERT refuses, an
error, a crash) rolls T back, and the publish runs as it always does from staged_rows, which
staging wrote as it always does.

T takes the commit-ordered stamp (`store.marks`) when it opens: its rows carry it, so it holds
the writers' shared lock from the first batch to the publish, and a resolution or indicator
refresh started meanwhile waits for it, as it waits for any publish in flight.

Only within one process, for one load (`pipeline.sync_source`); SQLite and a load staged in one
task and published in another (Airflow) publish as before.
"""
from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from munihub import store
from munihub.ingest.overlap import WriteBehind
from munihub.ingest.publish import SOURCE_ROW_COLUMNS, has_rows, staged_as_source_rows
from munihub.store import marks

log = logging.getLogger("munihub.pipeline")


class PublishAhead:
    """The first load's rows inserted into source_rows in an open transaction, batch by batch.
    Empty (`active` False) until `open` finds a first load on PostgreSQL."""

    def __init__(self) -> None:
        self.conn = None
        self.load_id: str | None = None
        self.written = 0  # staged rows inserted into source_rows so far (by seq: 1 … written)
        self.inserted = 0  # the rows those INSERTs said they wrote
        self.moved: dict[str, int] = {}  # `identity.settle`'s counts, settled in T when it opened
        self.failed: BaseException | None = None
        self.now = None
        self._writer: WriteBehind | None = None
        self._insert = None

    @property
    def active(self) -> bool:
        return self.conn is not None and self.failed is None

    def open(self, engine: sa.Engine, source: str, load_id: str, entity_type: str, identity: dict[str, Any]) -> bool:
        """Begin T for `load_id` if it is `source`'s first load on PostgreSQL; True if it did.
        The source's identity is settled in T now (`identity.settle`: with no row of the source
        it only records it), as the publish would before its merge: after a million rows were
        inserted, its look for rows keyed before identities were recorded scanned them all (0.8 s)."""
        from munihub.ingest.identity import settle, signature

        if engine.dialect.name != "postgresql" or self.conn is not None:
            return False
        r = store.source_rows
        conn = engine.connect()
        try:
            conn.begin()
            if has_rows(conn, source):
                conn.rollback()
                conn.close()
                return False
            self.now = marks.stamp(conn, r)
            self.moved = settle(conn, source, load_id, identity, self.now)
        except BaseException:
            conn.close()
            raise
        keyed_by = signature(identity)
        self.conn, self.load_id = conn, load_id
        s = store.staged_rows
        lo, hi = sa.bindparam("lo"), sa.bindparam("hi")
        rows = staged_as_source_rows(s, source, load_id, entity_type, self.now, keyed_by
                                     ).where(s.c.load_id == load_id, s.c.seq > lo, s.c.seq <= hi)
        self._insert = sa.insert(r).from_select(SOURCE_ROW_COLUMNS, rows)
        self._writer = WriteBehind()
        return True

    def staged(self, before: int, after: int) -> None:
        """Staged rows `before`+1 … `after` are committed: insert them into source_rows in T (in
        T's thread; waits while the batch before is still being inserted)."""
        if self.active and after > before:
            self._writer.submit(self._write, before, after)

    def _write(self, before: int, after: int) -> None:
        if self.failed is not None or before != self.written:
            return
        try:
            self.inserted += self.conn.execute(self._insert, {"lo": before, "hi": after}).rowcount
        except BaseException as exc:  # noqa: BLE001 - the publish falls back to staged_rows
            self.failed = exc
            log.info("load %s: publishing ahead stopped (%s); the publish reads staged_rows", self.load_id,
                     str(exc).splitlines()[0])
            return
        self.written = after

    def take(self, engine: sa.Engine, load_id: str):
        """T's connection, its transaction open, when it inserted every row the ledger says
        `load_id` staged (its INSERTs wrote that many rows, seq 1 … that count) and nothing
        failed; else None (T rolled back: the publish reads staged_rows)."""
        if self.conn is None or load_id != self.load_id:
            return None
        self._drain()
        t = store.loads
        with engine.connect() as conn:
            read, quarantined = conn.execute(sa.select(t.c.rows_in, t.c.rows_quarantined)
                                             .where(t.c.load_id == load_id)).one()
        staged = (read or 0) - (quarantined or 0)
        if self.failed is None and self.written == staged == self.inserted and self._alive():
            conn, self.conn = self.conn, None  # the publish commits or rolls it back, and closes it
            return conn
        self.close()
        return None

    def _alive(self) -> bool:
        """Whether T is still there: a server restart (which also empties the unlogged
        staged_rows) or an idle-in-transaction timeout ends it while the checks run."""
        try:
            self.conn.exec_driver_sql("SELECT 1")
        except sa.exc.DBAPIError as exc:
            self.failed = exc
            return False
        return True

    def _drain(self) -> None:
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.__exit__(None, None, None)

    def close(self) -> None:
        """Roll T back (unless the publish took it) and release its connection."""
        self._drain()
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                conn.rollback()
            except sa.exc.DBAPIError:  # T is gone already (the server ended it): nothing to undo
                pass
            finally:
                conn.close()

    def __enter__(self) -> PublishAhead:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
