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
from alembic import op

from munihub.store.migrations import create_tables, drop_tables

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ["source_identity", "retired_rows"]
COLUMNS = [("source_rows", "keyed_by", lambda: sa.String(500)), ("staged_rows", "former_key", lambda: sa.String(500)),
           ("loads", "rows_rekeyed", sa.Integer), ("loads", "rows_retired", sa.Integer)]


def upgrade() -> None:
    inspect = sa.inspect(op.get_bind())
    for table, column, kind in COLUMNS:
        # A store created at this revision already has them: 0001 builds tables as defined now.
        if column not in {c["name"] for c in inspect.get_columns(table)}:
            op.add_column(table, sa.Column(column, kind()))
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
    for table, column, _ in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
