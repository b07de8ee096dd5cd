"""Alembic environment: runs against the connection sunbid passes in, or the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sunbid.platform.db import Database
from sunbid.platform.schema import metadata

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        user_module_prefix="sunbid.platform.db.",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    from sunbid.platform.settings import Settings

    url = config.get_main_option("sqlalchemy.url") or Settings().resolved_database_url
    db = Database(url)
    with db.engine.connect() as conn:
        run(conn)
        conn.commit()
    db.dispose()
