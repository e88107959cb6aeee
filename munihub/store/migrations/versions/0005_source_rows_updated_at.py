"""An index on source_rows.updated_at: an incremental resolution run reads only the rows
published since its last mark, and the newest mark, and both scanned every published row
(a million rows on the 100-subsystem municipality) without it.

Revision ID: 0005
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

NAME = "ix_source_rows_updated_at"


def upgrade() -> None:
    from munihub.store import tables as store

    # A store created at this revision already has it: 0001 creates tables as munihub.store defines them.
    index = next(i for i in store.source_rows.indexes if i.name == NAME)
    index.create(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    op.drop_index(NAME, table_name="source_rows")
