"""Planner statistics the store keeps fresh itself: many PostgreSQL servers (managed ones
among them) run with autovacuum off, and a table never analyzed is planned as if it were
tiny or huge at random.  Measured before this existed: a 1% incremental whose publish
scanned source_rows 20 times; one ANALYZE of 0.3 s halved the run."""
from __future__ import annotations

import sqlalchemy as sa

SHARE = 0.1  # a load that changed at least this share of a table re-analyzes it
RECLAIM_MIN = 10_000  # fewer dead rows than this are left to the next large load


def large_share(conn, name: str, rows: int, share: float = SHARE) -> bool:
    """Whether `rows` rows are at least `share` of what the planner believes table `name`
    holds, or the table was never analyzed (PostgreSQL's reltuples)."""
    known = conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": name}).scalar()
    return known is None or known < 0 or rows >= share * known


def keep_statistics(engine: sa.Engine, table: sa.Table, rows_changed: int, share: float = SHARE,
                    minimum: int = 1, columns: list[str] | None = None, target: int | None = None) -> bool:
    """ANALYZE `table` after a load wrote `rows_changed` rows to it, when they are at least
    `minimum` and a large share of what the planner believes it holds (or it was never
    analyzed); True if it did.  `columns`: only these (default every non-JSON column);
    `target`: a statistics target for this ANALYZE alone (PostgreSQL samples 300 rows per unit
    of it), for a table whose plans need no more than its row count and which keys repeat.
    Only PostgreSQL: SQLite plans these look-ups by its primary keys without statistics."""
    if engine.dialect.name != "postgresql" or rows_changed < max(1, minimum):
        return False
    quote = engine.dialect.identifier_preparer.quote
    with engine.begin() as conn:
        if not large_share(conn, table.name, rows_changed, share):
            return False
        # The columns queries filter, join and sort by; a JSON column's statistics serve no
        # query here and sampling its documents was most of the cost (200k staged rows 1.2 s,
        # without the record 0.5 s).
        kept = [quote(c.name) for c in table.columns if not isinstance(c.type, sa.JSON)
                and (columns is None or c.name in columns)]
        if target is not None:
            conn.exec_driver_sql(f"SET LOCAL default_statistics_target = {int(target)}")
        conn.exec_driver_sql(f"ANALYZE {quote(table.name)} ({', '.join(kept)})")
    return True


def reclaim(engine: sa.Engine, table: sa.Table, rows_dead: int, share: float = SHARE,
            minimum: int | None = None) -> bool:
    """VACUUM `table` after a load left `rows_dead` dead rows in it (rows deleted or updated),
    when they are at least `minimum` and a large share of what the table holds; True if it did.
    Without autovacuum nothing else gives their space back: staged_rows grew by every load's
    size for ever, and the checks' and publish's scans of it with it.  SKIP_LOCKED: when
    another sync's publish is vacuuming the same table, that one does the work.  Only
    PostgreSQL (SQLite's deleted pages go to its free list and are reused)."""
    if engine.dialect.name != "postgresql" or rows_dead < (RECLAIM_MIN if minimum is None else minimum):
        return False
    # VACUUM refuses a transaction: the whole look runs on an autocommit connection.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not large_share(conn, table.name, rows_dead, share):
            return False
        conn.exec_driver_sql(f"VACUUM (SKIP_LOCKED) {engine.dialect.identifier_preparer.quote(table.name)}")
    return True
