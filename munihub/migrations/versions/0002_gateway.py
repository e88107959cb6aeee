"""The data-exchange gateway: agencies, hashed tokens, grants and pushed deliveries.

Revision ID: 0002
"""
from alembic import op

from munihub import store

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ["agencies", "agency_tokens", "grants", "push_deliveries"]


def upgrade() -> None:
    bind = op.get_bind()
    for name in TABLES:
        store.metadata.tables[name].create(bind, checkfirst=True)


def downgrade() -> None:
    bind = op.get_bind()
    for name in reversed(TABLES):
        store.metadata.tables[name].drop(bind, checkfirst=True)
