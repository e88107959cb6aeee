"""Entity resolution state: stored match features, models and the resolution run marks.

Revision ID: 0003
"""

from alembic import op

from munihub import store

revision = "0003"
down_revision = "0002"
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
