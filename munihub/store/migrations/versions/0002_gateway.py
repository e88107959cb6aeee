"""The data-exchange gateway: agencies, hashed tokens, grants and pushed deliveries.

Revision ID: 0002
"""
from munihub.store.migrations import create_tables, drop_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ["agencies", "agency_tokens", "grants", "push_deliveries"]


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
