"""Opening the store: an engine tuned per engine kind, migrated on open, one per URL per process."""
from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa

from munihub.config import Settings, load_settings
from munihub.errors import StoreError


def create_engine(url: str) -> sa.Engine:
    """An engine tuned for the store: SQLite waits on locks instead of failing at once."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL lets report readers run beside a sync
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def async_commit(conn) -> None:
    """Let the current transaction commit without waiting for its WAL to reach the disk
    (PostgreSQL's `synchronous_commit = off` for this transaction only; elsewhere nothing).
    For the writes of a load before its publish only: a server crash may lose the last
    ~0.6 s of them, which costs that load nothing it does not already survive (its staged
    rows are unlogged and lost in a crash anyway, so the publish refuses it and the next run
    reads the same records again), and visibility to other sessions and a client's own
    crash are unchanged.  Each flush waited ~4 ms here: 5 of a small sync's 9 commits,
    and one per batch of a large one.  The publish, which moves the cursor, stays durable."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")


def open_store(url: str, *, migrate: bool = True) -> sa.Engine:
    """Open the store at `url`, applying pending migrations first."""
    try:
        engine = create_engine(url)
        if migrate:
            from munihub.store.migrations import upgrade
            upgrade(engine)
        return engine
    except sa.exc.SQLAlchemyError as exc:
        safe = sa.engine.make_url(url).render_as_string(hide_password=True)
        raise StoreError(f"cannot open the store: {exc.__class__.__name__}: {str(exc).splitlines()[0]}",
                         where=safe, hint="check MUNIHUB_STORE_URL and that the database server is up") from exc


@functools.lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    return open_store(url)


def engine_for(settings: Settings | None = None) -> sa.Engine:
    """The (migrated) store engine for `settings`, shared within the process."""
    return _engine((settings or load_settings()).store_url)


def forget_engines() -> None:
    """Drop the process's shared engines (tests and forked workers open fresh ones)."""
    _engine.cache_clear()
