"""psycopg2 connections in its asynchronous mode, awaited on an asyncio event loop.

The gateway's hot path (a page query, an audit batch) waits on the database socket through
the loop instead of handing each call to a worker thread and back; psycopg2 already ships
with the store, so this needs no second driver.  Such connections are always in autocommit:
a transaction is spelled out (`BEGIN; ...` then `...; COMMIT`).
"""
from __future__ import annotations

import asyncio

import sqlalchemy as sa

__all__ = ["supported", "connect", "ready", "discard"]


def supported(engine: sa.Engine) -> bool:
    """True when `engine` is PostgreSQL through psycopg2."""
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg2"


async def connect(engine: sa.Engine):
    """A new asynchronous connection to `engine`'s database, JSON decoded by msgspec."""
    import msgspec
    import psycopg2
    from psycopg2.extras import register_default_json, register_default_jsonb
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    conn = psycopg2.connect(*args, **kwargs, async_=True)
    try:
        await ready(conn)
    except BaseException:
        discard(conn)
        raise
    register_default_json(conn, loads=msgspec.json.decode)
    register_default_jsonb(conn, loads=msgspec.json.decode)
    return conn


async def ready(conn) -> None:
    """Wait, without blocking the loop, until `conn` has finished what it was sent.

    A page's answer arrives in several chunks, each a turn of this loop; the socket is watched
    from the first wait to the last rather than watched and unwatched per chunk (two system
    calls each)."""
    from psycopg2.extensions import POLL_OK, POLL_READ
    state = conn.poll()
    if state == POLL_OK:
        return
    loop = asyncio.get_running_loop()
    fd = conn.fileno()
    waiter = None

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
    reading = False
    try:
        while state != POLL_OK:
            waiter = loop.create_future()
            if state == POLL_READ:
                if not reading:
                    loop.add_reader(fd, wake)
                    reading = True
                await waiter
            else:  # POLL_WRITE: a query larger than the socket's buffer
                loop.add_writer(fd, wake)
                try:
                    await waiter
                finally:
                    loop.remove_writer(fd)
            state = conn.poll()
    finally:
        if reading:
            loop.remove_reader(fd)


def discard(conn) -> None:
    """Close `conn`, which may already be broken."""
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - a broken connection may fail to close too
        pass
