"""Rows keyed by a former record identity are moved, not left beside the new ones.

A contract that starts naming `recordId` (or changes it, or its primaryKey) keys its new
loads differently; the rows published under the former key would stay beside the new-key
rows, the same source record twice.  This revision adds what `munihub.ingest.identity` needs
to move them inside the publish that reads their records again: `source_rows.keyed_by` (the
identity each row's key was made by; NULL for rows published before this revision),
`staged_rows.former_key`, the per-source `source_identity`, `retired_rows` (rows no single
new key inherits, kept whole) and the ledger's `rows_rekeyed` / `rows_retired`.

Revision ID: 0009
"""
import sqlalchemy as sa

from munihub.store.migrations import add_columns, create_tables, drop_columns, drop_tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ["source_identity", "retired_rows"]
COLUMNS = [("source_rows", "keyed_by", sa.String(500)), ("staged_rows", "former_key", sa.String(500)),
           ("loads", "rows_rekeyed", sa.Integer), ("loads", "rows_retired", sa.Integer)]


def upgrade() -> None:
    add_columns(COLUMNS)
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
    drop_columns(COLUMNS)
