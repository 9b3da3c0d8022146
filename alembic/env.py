"""Alembic environment, driven by the package's own metadata.

Two ways in:
- ``Database().migrate()`` passes an open connection in
  ``config.attributes["connection"]``; we run on it and leave its transaction to
  the caller.
- The ``alembic`` command line (from a checkout) connects with the URL that
  ``Database()`` would use: ``DATABASE_URL``, ``POSTGRES_URL`` or the embedded server.
"""

from logging.config import fileConfig

from sqlalchemy.engine import Connection

import assistant_models.core.signing  # (defines the signing_keys table)
import assistant_models.models  # noqa: F401  (defines the tables on the metadata)
from alembic import context
from assistant_models._migrations import absent_extensions, include_object_for, render_item
from assistant_models._settings import migration_lock_timeout
from assistant_models.core.base import metadata

config = context.config


def run_on(connection: Connection) -> None:
    """Configure the context on ``connection`` and run the migrations."""
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # other apps' tables, and tables of an extension the database lacks, are left alone
        include_object=include_object_for(absent_extensions(connection)),
        compare_type=True,
        compare_server_default=True,
        render_item=render_item,  # types such as Vector write themselves and their import
    )
    with context.begin_transaction():
        # A migration waiting for a lock holds up every later query of the table: fail fast
        # instead (DB_MIGRATION_LOCK_TIMEOUT ms). Set after _migrations.run took its advisory
        # lock, so concurrent migrations still wait for each other.
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {migration_lock_timeout()}")
        context.run_migrations()


def main() -> None:
    """Run on the caller's connection, or open one the way ``Database()`` would."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    from assistant_models.database import Database

    db = Database()
    try:
        with db.engine.begin() as conn:
            run_on(conn)
    finally:
        db.dispose()


main()
