"""The first store layout: ledger, cursors, staging, quarantine, source rows, entities, audit.

Revision ID: 0001
"""
from munihub.store.migrations import create_tables, drop_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ["loads", "cursors", "staged_rows", "quarantine", "source_rows", "entities",
          "entity_members", "match_decisions", "review_queue", "audit_log", "leases"]


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
