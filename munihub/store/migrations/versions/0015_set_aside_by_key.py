"""An index of set_aside by (source, source_key, load_id): a publish closes the entries of the
keys it read again (`quarantine.close_set_aside_reread`): an earlier load's entry of a key it
published anew, and its own entry repeating the value of an unchanged row's load.  Each is
one look-up per entry; with only the load index, a look-up scanned the whole earlier load's.

Revision ID: 0015
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

NAME = "ix_set_aside_key"


def upgrade() -> None:
    # A store created at this revision has it: 0001 creates tables as munihub.store defines them.
    if NAME not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("set_aside")}:
        op.create_index(NAME, "set_aside", ["source", "source_key", "load_id"])


def downgrade() -> None:
    op.drop_index(NAME, table_name="set_aside")
