"""Test databases: a migrated SQLite file copied per test, or a PostgreSQL schema truncated per test.

The suite runs once on SQLite and once on PostgreSQL (``SUNBID_TEST_DATABASE_URL`` set), as CI does.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from sunbid.identity.service import ensure_regions
from sunbid.platform import migrate
from sunbid.platform.db import Database
from sunbid.platform.schema import metadata

PG_URL_ENV = "SUNBID_TEST_DATABASE_URL"


def pg_url() -> str | None:
    return os.environ.get(PG_URL_ENV) or None


def with_search_path(url: str, schema: str) -> str:
    u = make_url(url)
    return u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


class TemplateDb:
    """One migrated, region-seeded database per test session; each test gets a clean copy of it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.base_url = pg_url()
        if self.base_url:
            self.schema = f"t_{os.getpid()}_{secrets.token_hex(3)}"
            admin = Database(self.base_url)
            with admin.engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
            self.url = with_search_path(self.base_url, self.schema)
        else:
            self.file = workdir / "template.db"
            self.url = f"sqlite:///{self.file}"
        db = Database(self.url)
        migrate.upgrade(db)
        with db.session() as s:
            ensure_regions(s)
            s.commit()
        db.dispose()

    @property
    def is_postgres(self) -> bool:
        return self.base_url is not None

    def fresh_url(self, tmp_path: Path) -> str:
        """A clean database for one test."""
        if self.base_url is None:
            target = tmp_path / "sunbid.db"
            shutil.copyfile(self.file, target)
            return f"sqlite:///{target}"
        db = Database(self.url)
        keep = {"regions", "alembic_version"}
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name not in keep)
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.dispose()
        return self.url

    def drop(self) -> None:
        if self.base_url is not None:
            admin = Database(self.base_url)
            with admin.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
            admin.dispose()
