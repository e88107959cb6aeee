"""Every source record kept: values set aside instead of whole records quarantined.

Adds the `set_aside` table (a value a field could not read, kept with its reason while the
record is published without it) and the ledger's per-field count `loads.values_set_aside`.
Rows already published keep their keys: they were keyed by the contract's primaryKey, which
was their record id then; a contract that now names `recordId` keys its new loads by it.
Existing loads set nothing aside, so their count is an empty map, not unknown.

Revision ID: 0006
"""
import sqlalchemy as sa
from alembic import op

from munihub.store.migrations import create_tables, drop_tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ["set_aside"]


def upgrade() -> None:
    from munihub.store import tables as store

    bind = op.get_bind()
    # A store created at this revision already has the column: 0001 builds `loads` as defined now.
    if "values_set_aside" not in {c["name"] for c in sa.inspect(bind).get_columns("loads")}:
        op.add_column("loads", sa.Column("values_set_aside", store.JSON))
    loads = store.loads
    bind.execute(loads.update().where(loads.c.values_set_aside.is_(None)).values(values_set_aside={}))
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
    with op.batch_alter_table("loads") as batch:
        batch.drop_column("values_set_aside")
