"""The stewards' workbench: people who sign in (steward, viewer) and their sessions.

Revision ID: 0007
"""
from munihub.store.migrations import create_tables, drop_tables

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ["workbench_users", "workbench_sessions"]


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
