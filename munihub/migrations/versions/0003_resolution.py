"""Entity resolution state: stored match features, models and the resolution run marks.

Revision ID: 0003
"""
from pathlib import Path

from alembic import op

from munihub import store

revision = "0003"
# Chains after the gateway revision when it is present (written in parallel), else after 0001.
down_revision = "0002" if any(Path(__file__).parent.glob("0002_*.py")) else "0001"
branch_labels = None
depends_on = None

TABLES = ["match_features", "match_models", "resolution_runs"]


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        store.metadata.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        store.metadata.tables[name].drop(bind, checkfirst=True)
