"""The stewards' workbench: people who sign in (steward, viewer) and their sessions; on
PostgreSQL a GIN index on quarantine.reasons, so filtering 100k quarantined rows by rule or
field (JSONB containment) does not read every row.

Revision ID: 0007
"""
from alembic import op

from munihub.store.migrations import create_tables, drop_tables

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ["workbench_users", "workbench_sessions"]
REASONS_INDEX = "ix_quarantine_reasons_gin"


def upgrade() -> None:
    create_tables(TABLES)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX IF NOT EXISTS {REASONS_INDEX} ON quarantine USING gin (reasons jsonb_path_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {REASONS_INDEX}")
    drop_tables(TABLES)
