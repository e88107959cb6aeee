"""The ledger keeps what the dataset checks read of a load's staged rows (issue 18, sync
speed): `loads.staged_profile`, the rows staged, each contract field's nulls and the key
field's object values, counted by staging a batch at a time and written with each batch.
The checks read it instead of a pass over every staged row's JSON (a 1M-row load: 1.55 s of
PostgreSQL); a load without one (staged before this revision) is measured in SQL as before.

Revision ID: 0012
"""
from munihub.store.migrations import add_columns, drop_columns
from munihub.store.tables import JSON

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


COLUMNS = [("loads", "staged_profile", JSON)]


def upgrade() -> None:
    add_columns(COLUMNS)


def downgrade() -> None:
    drop_columns(COLUMNS)
