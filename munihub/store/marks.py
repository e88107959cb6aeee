"""Commit-ordered stamps, so the marks incremental resolution keeps are safe.

Incremental resolution reads the source rows stamped at or after its last mark (and the
steward decisions after theirs).  That is only right if a row committed after a run read
its mark never carries an older stamp, and a plain `now()` taken before a long publish
commits breaks it: a run that read a newer mark meanwhile (another source published) and
every run after it skip those rows.

PostgreSQL: writers hold an advisory lock shared and stamp with the server's clock after
taking it; resolution takes it exclusively while it reads its marks, so it waits for the
writers in flight, and any later writer stamps after it.  SQLite: a writer takes the single
write lock before stamping, so stamps follow commit order and resolution needs nothing.
"""
from __future__ import annotations

import datetime as dt
import logging

import sqlalchemy as sa

_PG_LOCK = 724244  # advisory lock id (724242: migrations, 724243: the audit writer)


def aware(value):
    """A stored mark as an aware UTC datetime (SQLite hands back naive UTC, or text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


def stamp(conn, table: sa.Table) -> dt.datetime:
    """Lock, then the time a writer's rows carry; `table` is one the writer writes to."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock_shared(:k)"), {"k": _PG_LOCK})
        return conn.execute(sa.text("SELECT clock_timestamp()")).scalar()
    if dialect == "sqlite":  # a write that matches no row takes the write lock now, not at the first insert
        column = next(iter(table.primary_key.columns))
        conn.execute(table.update().where(sa.false()).values({column.name: column}))
    return dt.datetime.now(dt.timezone.utc)


def read_lock(conn) -> None:
    """For resolution, in the transaction that reads its marks: writers in flight commit first.
    A wait is said on the log first: a source's first load published ahead holds the writers'
    lock from its first staged batch (`ingest.publish_ahead`), minutes for a large one."""
    if conn.dialect.name == "postgresql":
        if not conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _PG_LOCK}).scalar():
            logging.getLogger("munihub.store").info(
                "waiting for the publishes in flight to commit (a first load published ahead holds them "
                "until it is published)")
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
