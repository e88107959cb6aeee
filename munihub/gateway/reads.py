"""Where the gateway's reads come from: a pool without per-use pings or transactions, and one
connection per request.
"""
from __future__ import annotations

import sqlalchemy as sa

from munihub.config import Settings

__all__ = ["read_engine", "RequestConnection", "connection_dependency", "AsyncPages", "async_pages"]


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
    """Page queries on PostgreSQL awaited on the event loop: psycopg2 connections in its
    asynchronous mode (always autocommit), whose sockets the loop watches, so a page costs no
    hop to a worker thread and back (with its lock hand-offs, a tenth of a page's CPU).

    Connections are opened on first use and kept up to `size` idle; at most `limit` are open
    (callers beyond that wait for one to come back).  A connection whose query failed or was
    cancelled is closed, not reused.  Queries come compiled from SQLAlchemy Core (see
    `compile_query`), so every engine runs the same statement.
    """

    def __init__(self, engine: sa.Engine, size: int = 10, limit: int = 30):
        import psycopg2
        self._connect_args = engine.dialect.create_connect_args(engine.url)
        self._psycopg2, self.size, self.limit = psycopg2, size, limit
        self._idle: list = []
        self.open = 0

    async def fetch(self, sql: str, params: dict) -> list[tuple]:
        """All rows of one query."""
        conn = await self._checkout()
        try:
            cursor = conn.cursor()
            cursor.execute(sql, params)
            await self._ready(conn)
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

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())

    async def _checkout(self):
        import asyncio
        while not self._idle and self.open >= self.limit:
            await asyncio.sleep(0.002)  # every connection is busy: a page query is ~1 ms
        if self._idle:
            return self._idle.pop()
        import msgspec
        from psycopg2.extras import register_default_json, register_default_jsonb
        args, kwargs = self._connect_args
        self.open += 1
        try:
            conn = self._psycopg2.connect(*args, **kwargs, async_=True)
            await self._ready(conn)
        except BaseException:
            self.open -= 1
            raise
        register_default_json(conn, loads=msgspec.json.decode)
        register_default_jsonb(conn, loads=msgspec.json.decode)
        return conn

    def _discard(self, conn) -> None:
        self.open -= 1
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - a broken connection may fail to close too
            pass

    async def _ready(self, conn) -> None:
        """Wait, without blocking the loop, until `conn` has finished what it was sent."""
        import asyncio
        ext = self._psycopg2.extensions
        loop = asyncio.get_running_loop()
        while True:
            state = conn.poll()
            if state == ext.POLL_OK:
                return
            waiter = loop.create_future()
            fd = conn.fileno()
            watch, unwatch = ((loop.add_reader, loop.remove_reader) if state == ext.POLL_READ
                              else (loop.add_writer, loop.remove_writer))
            watch(fd, lambda: waiter.done() or waiter.set_result(None))
            try:
                await waiter
            finally:
                unwatch(fd)


def async_pages(engine: sa.Engine) -> AsyncPages | None:
    """An AsyncPages for `engine` when it is PostgreSQL through psycopg2, else None (the pages
    then go through `engine` on a worker thread)."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg2":
        return AsyncPages(engine)
    return None
