"""Migrations: they build exactly the schema the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from sunbid.platform import migrate
from sunbid.platform.container import Platform
from sunbid.platform.schema import metadata


def test_database_is_at_head(platform: Platform) -> None:
    assert migrate.current(platform.db) == migrate.head(platform.db)
    assert migrate.is_current(platform.db)


def test_models_and_migrations_agree(platform: Platform) -> None:
    with platform.db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models differ from migrations; write a migration: {diff}"


def test_upgrade_is_idempotent(platform: Platform) -> None:
    migrate.upgrade(platform.db)
    migrate.upgrade(platform.db)
    assert migrate.is_current(platform.db)
