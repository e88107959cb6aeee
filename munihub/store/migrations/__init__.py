"""Schema migrations of the store (Alembic), applied in-process by `open_store`.

Revisions live in `versions/`.  The first revision creates the tables as defined in
`munihub.store`; from then on every change to a table gets its own revision.
"""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent


def _config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the store at `engine` up to `revision`; safe to call on every start."""
    from alembic import command

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Two processes migrating one fresh database at once would both create tables.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(724242)"))
        command.upgrade(_config(conn), revision)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": "munihub_alembic_version"}).get_current_revision()


def create_tables(names: list[str]) -> None:
    """For a revision's upgrade(): create these tables of `munihub.store` (skipping existing ones)."""
    from alembic import op

    from munihub.store import tables as store

    bind = op.get_bind()
    for name in names:
        store.metadata.tables[name].create(bind, checkfirst=True)


def drop_tables(names: list[str]) -> None:
    """For a revision's downgrade(): drop these tables, in reverse order."""
    from alembic import op

    from munihub.store import tables as store

    bind = op.get_bind()
    for name in reversed(names):
        store.metadata.tables[name].drop(bind, checkfirst=True)
