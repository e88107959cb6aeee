"""Alembic environment: runs on the connection handed over by munihub.store.migrations.upgrade."""
from alembic import context

from munihub.store.migrations import VERSION_TABLE
from munihub.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  version_table=VERSION_TABLE,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
