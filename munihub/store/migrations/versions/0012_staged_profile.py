"""The ledger keeps what the dataset checks read of a load's staged rows (issue 18, sync
speed): `loads.staged_profile`, the rows staged, each contract field's nulls and the key
field's object values, counted by staging a batch at a time and written with each batch.
The checks read it instead of a pass over every staged row's JSON (a 1M-row load: 1.55 s of
PostgreSQL); a load without one (staged before this revision) is measured in SQL as before.

Revision ID: 0012
"""
import sqlalchemy as sa
from alembic import op

from munihub.store.tables import JSON

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A store created at this revision already has it: 0001 builds tables as defined now.
    if "staged_profile" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("loads")}:
        op.add_column("loads", sa.Column("staged_profile", JSON))


def downgrade() -> None:
    with op.batch_alter_table("loads") as batch:
        batch.drop_column("staged_profile")
