"""Where the gateway's reads come from: a pool without per-use pings or transactions, and one
connection per request.
"""
from __future__ import annotations

import functools

import sqlalchemy as sa

from munihub.config import Settings

__all__ = ["read_engine", "RequestConnection", "connection_dependency", "AsyncPages", "async_pages", "rows_statement",
           "decode_records"]


def read_engine(settings: Settings) -> sa.Engine:
    """The engine page queries use: the store's, or on PostgreSQL a pool of its own in autocommit
    (a read needs no transaction, so no BEGIN and no ROLLBACK on return) without a ping before
    each checkout (a connection the server dropped fails one request and the pool is renewed)."""
    import msgspec

    from munihub.store import engine_for
    writes = engine_for(settings)  # opens (and migrates) the store
    if writes.dialect.name != "postgresql":
        return writes
    return sa.create_engine(writes.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, pool_size=10,
                            max_overflow=20, pool_recycle=1800, json_deserializer=msgspec.json.decode)


class RequestConnection:
    """The request's one read connection, opened on first use: the token lookup on a cache miss
    and the page query share it, and a request with a cached token opens it only for its page."""

    def __init__(self, engine: sa.Engine):
        self.engine, self.conn = engine, None

    def get(self) -> sa.Connection:
        if self.conn is None:
            self.conn = self.engine.connect()
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            self.conn, conn = None, self.conn
            conn.close()  # back to the pool (autocommit on PostgreSQL: nothing is sent)


def connection_dependency(engine: sa.Engine):
    """A FastAPI dependency (use with scope="function") yielding the request's RequestConnection and
    giving it back right after the handler, before the answer waits on its audit entry."""
    async def request_connection():
        held = RequestConnection(engine)
        try:
            yield held
        finally:
            held.close()
    return request_connection


class AsyncPages:
    """Page queries on PostgreSQL awaited on the event loop (`munihub.store.pgasync`), so a
    page costs no hop to a worker thread and back (with its lock hand-offs, a tenth of a
    page's CPU).

    Connections are opened on first use and kept up to `size` idle; at most `limit` are open
    (callers beyond that wait for one to come back).  A connection whose query failed or was
    cancelled is closed, not reused: a connection the server dropped fails one request.
    """

    def __init__(self, engine: sa.Engine, size: int = 10, limit: int = 30):
        self.engine, self.size, self.limit = engine, size, limit
        self._idle: list = []
        self.open = 0

    async def fetch(self, sql: str, params: dict) -> list[tuple]:
        """All rows of one query (`sql` in the driver's paramstyle)."""
        from munihub.store import pgasync
        conn = await self._checkout()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            await pgasync.ready(conn)
            rows = cursor.fetchall()
            cursor.close()
        except BaseException:  # a failed or cancelled query leaves the connection in no known state
            self._discard(conn)
            raise
        if len(self._idle) < self.size:
            self._idle.append(conn)
        else:
            self._discard(conn)
        return rows

    async def warm(self) -> None:
        """Have one connection open and idle before the first page (connecting is most of a
        worker's first page: 5-15 ms under load)."""
        self._idle.append(await self._checkout())

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())

    async def _checkout(self):
        import asyncio

        from munihub.store import pgasync
        while not self._idle and self.open >= self.limit:
            await asyncio.sleep(0.002)  # every connection is busy: a page query takes about a millisecond
        if self._idle:
            return self._idle.pop()
        self.open += 1
        try:
            return await pgasync.connect(self.engine)
        except BaseException:
            self.open -= 1
            raise

    def _discard(self, conn) -> None:
        from munihub.store import pgasync
        self.open -= 1
        pgasync.discard(conn)


def async_pages(engine: sa.Engine) -> AsyncPages | None:
    """An AsyncPages for `engine` when it is PostgreSQL through psycopg2, else None (the pages
    then go through `engine` on a worker thread)."""
    from munihub.store import pgasync
    return AsyncPages(engine) if pgasync.supported(engine) else None


@functools.lru_cache(maxsize=8)
def rows_statement(dialect: sa.Dialect, has_start: bool, stamps_as_text: bool = False) -> str:
    """The unfiltered page of a dataset's rows as the driver's SQL text, compiled once per shape
    (compiling costs more than running it); parameters `source`, `start` and `n`.  The record
    comes as its JSON text, for the caller to decode the page's records in one C loop
    (`decode_records`): psycopg2 would call a Python function per record to decode it.  With
    `stamps_as_text`, `updated_at` comes as PostgreSQL's text too (`shaped.stamp_iso`)."""
    from munihub import store
    t = store.source_rows
    stamp = sa.cast(t.c.updated_at, sa.Text).label("updated_at") if stamps_as_text else t.c.updated_at
    q = sa.select(t.c.source_key, sa.cast(t.c.record, sa.Text).label("record"), t.c.load_id,
                  stamp).where(t.c.source == sa.bindparam("source"))
    if has_start:
        q = q.where(t.c.source_key > sa.bindparam("start"))
    return str(q.order_by(t.c.source_key).limit(sa.bindparam("n")).compile(dialect=dialect))


def decode_records(texts) -> list:
    """The JSON texts of `rows_statement`'s records, decoded."""
    import msgspec
    return list(map(msgspec.json.decode, texts))
