"""Schema migrations of the store (Alembic), applied in-process by `open_store`.

Revisions live in `versions/`.  The first revision creates the tables as defined in
`munihub.store`; from then on every change to a table gets its own revision.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "munihub_alembic_version"  # Airflow keeps its own alembic_version
_REVISION_LINE = re.compile(r"""^(down_)?revision\s*=\s*(?:None|["']([^"']*)["'])""", re.M)


def _config(connection):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision in `versions/`, read from the files' text; None unless exactly one head.

    Importing Alembic and building its script directory costs ~0.1 s of CPU, most of a
    small sync's start-up; every start of a store already at head needs only this and one
    query.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (HERE / "versions").glob("*.py"):
        for down, name in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            if name:
                (parents if down else revisions).add(name)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_head(engine: sa.Engine) -> bool:
    """Whether the store's recorded revision is the head, by one query and without Alembic.

    Any doubt (no version table yet, several rows, an unreadable versions folder) answers
    False, so the caller runs Alembic's own upgrade, which decides.
    """
    head = head_revision()
    if head is None:
        return False
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    except sa.exc.DBAPIError:
        return False
    return rows == [head]


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the store at `engine` up to `revision`; safe to call on every start."""
    if revision == "head" and at_head(engine):
        return
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
            conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


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


def add_columns(columns: list[tuple[str, str, object]]) -> None:
    """For a revision's upgrade(): add these (table, column, type) columns, each only where it
    is missing: a store created at this revision already has them (0001 builds tables as
    defined now)."""
    from alembic import op

    inspect = sa.inspect(op.get_bind())
    for table, column, kind in columns:
        if column not in {c["name"] for c in inspect.get_columns(table)}:
            op.add_column(table, sa.Column(column, kind))


def drop_columns(columns: list[tuple[str, str, object]]) -> None:
    """For a revision's downgrade(): drop the columns `add_columns` added, in reverse order
    (a batch per column: SQLite rebuilds the table)."""
    from alembic import op

    for table, column, _ in reversed(columns):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
