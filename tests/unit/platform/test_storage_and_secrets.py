"""Local storage and the secret store: atomic writes, safe keys, private permissions."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.platform.secrets import SecretStore
from sunbid.platform.settings import Settings
from sunbid.platform.storage import LocalStorage


def test_local_storage_round_trip_returns_sha256(tmp_path: Path) -> None:
    st = LocalStorage(tmp_path)
    digest = st.put("projects/1/招标文件.pdf", b"%PDF-1.7 test")
    assert digest == hashlib.sha256(b"%PDF-1.7 test").hexdigest()
    assert st.get("projects/1/招标文件.pdf") == b"%PDF-1.7 test"
    assert st.exists("projects/1/招标文件.pdf")
    assert st.list("projects/") == ["projects/1/招标文件.pdf"]
    st.delete("projects/1/招标文件.pdf")
    assert not st.exists("projects/1/招标文件.pdf")
    with pytest.raises(NotFound):
        st.get("projects/1/招标文件.pdf")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "a/./b", "", "a\\b"])
def test_local_storage_refuses_keys_that_escape(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValidationFailed):
        LocalStorage(tmp_path).put(key, b"x")


def test_overwrite_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    st = LocalStorage(tmp_path)
    st.put("a/b", b"one")
    st.put("a/b", b"two")
    assert st.get("a/b") == b"two"
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]


def test_secret_is_created_once_with_0600(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "secrets")
    first = store.get_or_create("k", lambda: b"secret-1")
    second = store.get_or_create("k", lambda: b"secret-2")
    assert first == second == b"secret-1"
    mode = stat.S_IMODE((tmp_path / "secrets" / "k").stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


def test_settings_from_environment_and_masking(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SUNBID_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SUNBID_DATABASE_URL", "postgresql+psycopg://app:hunter2@db:5432/sunbid")
    monkeypatch.setenv("SUNBID_S3__SECRET_ACCESS_KEY", "s3cret")
    s = Settings()
    assert s.data_dir == tmp_path
    shown = s.public_dict()
    assert "hunter2" not in str(shown) and "s3cret" not in str(shown)
    assert shown["database_url"] == "postgresql+psycopg://app:***@db:5432/sunbid"


def test_default_database_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SUNBID_DATABASE_URL", raising=False)
    monkeypatch.setenv("SUNBID_DATA_DIR", str(tmp_path))
    assert Settings().resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'sunbid.db'}"


def test_settings_from_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tmp_path / "sunbid.toml"
    cfg.write_text('crypto_suite = "gm"\ncentre_name = "济南市公共资源交易中心"\n', encoding="utf-8")
    monkeypatch.setenv("SUNBID_CONFIG", str(cfg))
    monkeypatch.delenv("SUNBID_CRYPTO_SUITE", raising=False)
    s = Settings()
    assert s.crypto_suite == "gm" and s.centre_name == "济南市公共资源交易中心"


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extra"):
        Settings(data_dir=tmp_path, no_such_thing=1)  # type: ignore[call-arg]
