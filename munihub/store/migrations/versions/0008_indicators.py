"""Indicators for city managers: computed figures with their history, computation runs and
the Jalali calendar the SQL groups by (munihub.indicators, issue 20).

Revision ID: 0008
"""

from munihub.store.migrations import create_tables, drop_tables

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ["indicator_values", "indicator_runs", "indicator_calendar"]


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
