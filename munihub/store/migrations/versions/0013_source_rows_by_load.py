"""No index of source_rows by load (issue 18, sync speed): every published row wrote an entry
into it (a 200k-row load's INSERT into source_rows 0.15 s of ~1.0 s), and its one reader,
`quarantine.close_reread`, now finds the rows a load published by their primary key, one
look-up per open quarantine entry of the source, instead of selecting the load's rows.

Revision ID: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

NAME = "ix_source_rows_load_id"


def upgrade() -> None:
    # A store created at this revision never had it: 0001 creates tables as munihub.store defines them.
    if NAME in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("source_rows")}:
        op.drop_index(NAME, table_name="source_rows")


def downgrade() -> None:
    op.create_index(NAME, "source_rows", ["load_id"])
