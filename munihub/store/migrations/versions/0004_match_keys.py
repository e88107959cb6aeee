"""The blocking index in the store (match_keys), so incremental resolution reads only the
blocks new records fall in.  Existing stores get it filled by their next resolution run,
which runs in full once (see munihub.resolve.run).

Revision ID: 0004
"""

from munihub.store.migrations import create_tables, drop_tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ["match_keys"]


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
