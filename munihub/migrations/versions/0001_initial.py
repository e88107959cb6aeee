"""The first store layout: ledger, cursors, staging, quarantine, source rows, entities, audit.

Revision ID: 0001
"""
from alembic import op

from munihub import store

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = ["loads", "cursors", "staged_rows", "quarantine", "source_rows", "entities",
          "entity_members", "match_decisions", "review_queue", "audit_log", "leases"]


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        store.metadata.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        store.metadata.tables[name].drop(bind, checkfirst=True)
