"""Entity resolution state: stored match features, models and the resolution run marks.

Revision ID: 0003
"""

from munihub.store.migrations import create_tables, drop_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ["match_features", "match_models", "resolution_runs"]


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
