"""Earlier copies of a re-used record id kept for person matching (issue 16).

A load that repeats a key with other values publishes the key's last copy only; the
citizens of the earlier copies (a permit case passed to a new owner) were lost to matching.
`earlier_copies` keeps those copies beside the published row, read by resolution alone, and
the ledger counts what each load kept (`copies_kept`) and dropped (`copies_dropped`: the
key published again without them, which makes the next resolution a full one).

Revision ID: 0014
"""
import sqlalchemy as sa

from munihub.store.migrations import add_columns, create_tables, drop_columns, drop_tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ["earlier_copies"]
COLUMNS = [("loads", "copies_kept", sa.Integer), ("loads", "copies_dropped", sa.Integer)]


def upgrade() -> None:
    add_columns(COLUMNS)
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
    drop_columns(COLUMNS)
