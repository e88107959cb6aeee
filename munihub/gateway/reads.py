"""Where the gateway's reads come from: a pool without per-use pings or transactions, and one
connection per request.
"""
from __future__ import annotations

import sqlalchemy as sa

from munihub.config import Settings

__all__ = ["read_engine", "RequestConnection", "connection_dependency"]


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
