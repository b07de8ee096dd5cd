"""Shared fixtures: a platform on a clean database (SQLite, or PostgreSQL in CI's second pass)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sunbid.core.clock import FakeClock
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings
from tests.support.db import TemplateDb, pg_url

# Tests move a fake clock to the bid deadline and expect bidding to close right then; the settling time a real
# deployment waits for in-flight submissions is tested where it matters (it is set explicitly there).
os.environ.setdefault("SUNBID_SUBMISSION_SETTLE_SECONDS", "0")


def pytest_report_header(config: pytest.Config) -> str:
    url = pg_url()
    where = f"PostgreSQL {url}" if url else "SQLite (set SUNBID_TEST_DATABASE_URL for PostgreSQL)"
    return f"sunbid database: {where}"


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateDb]:
    t = TemplateDb(tmp_path_factory.mktemp("template"))
    yield t
    t.drop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["intl"])
def suite_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, template_db: TemplateDb, suite_name: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=template_db.fresh_url(tmp_path),
        crypto_suite=suite_name,
        embedded_worker=False,
        log_json=False,
    )


@pytest.fixture
def platform(settings: Settings, clock: FakeClock) -> Iterator[Platform]:
    p = Platform(settings, clock=clock)
    yield p
    p.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    from sunbid.app import create_app

    app = create_app(platform, start_worker=False)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def requires_postgres() -> None:
    if not pg_url():
        pytest.skip("needs PostgreSQL: set SUNBID_TEST_DATABASE_URL (CI's second pass does)")


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real argon2id, with cheap parameters so that the suite stays fast."""
    from argon2 import PasswordHasher

    from sunbid.identity import passwords

    monkeypatch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
