"""Every source record kept: values set aside instead of whole records quarantined.

Adds the `set_aside` table (a value a field could not read, kept with its reason while the
record is published without it) and the ledger's per-field count `loads.values_set_aside`.
Rows already published keep their keys: they were keyed by the contract's primaryKey, which
was their record id then; a contract that now names `recordId` keys its new loads by it.
Existing loads set nothing aside, so their count is an empty map, not unknown.

Revision ID: 0006
"""
from alembic import op

from munihub.store.migrations import add_columns, create_tables, drop_columns, drop_tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ["set_aside"]


def upgrade() -> None:
    from munihub.store import tables as store

    bind = op.get_bind()
    add_columns([("loads", "values_set_aside", store.JSON)])
    loads = store.loads
    bind.execute(loads.update().where(loads.c.values_set_aside.is_(None)).values(values_set_aside={}))
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
    drop_columns([("loads", "values_set_aside", None)])
