"""The CLI end to end: `sunbid archive build-log` on a real database, then `sunbid archive verify` offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "SUNBID_DATA_DIR": str(settings.data_dir),
        "SUNBID_DATABASE_URL": settings.resolved_database_url,
        "SUNBID_CRYPTO_SUITE": settings.crypto_suite,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _fill(platform: Platform, n: int) -> None:
    for i in range(n):
        with platform.uow() as uow:
            uow.audit("test:cli", subject_type="thing", subject_id=i, data={"i": i, "说明": "档案"})
            uow.commit()


@pytest.fixture
def archive(platform: Platform, cli_env: dict[str, str], tmp_path: Path) -> Path:
    _fill(platform, 10)
    out = tmp_path / "审计档案.zip"
    code, stdout, _ = _run("archive", "build-log", "--index", "2", "--index", "7", "--out", str(out), "--json")
    assert code == 0, stdout
    built = json.loads(stdout)
    assert built["ok"] is True and built["entries"] == [2, 7] and built["tree_size"] == 10
    assert built["log_public_key"] == platform.log_keypair.public.hex()
    assert out.stat().st_size == built["size"]
    return out


def test_built_archive_verifies_offline(archive: Path, platform: Platform) -> None:
    code, stdout, _ = _run("archive", "verify", str(archive), "--json")
    assert code == 0, stdout
    report = json.loads(stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["entries_checked"] == 2 and report["tree_size"] == 10
    assert report["trusted"] is False  # no key given: internal consistency only
    code, stdout, _ = _run(
        "archive", "verify", str(archive), "--trusted-key", platform.log_keypair.public.hex(), "--json"
    )
    assert code == 0 and json.loads(stdout)["trusted"] is True


def test_verify_needs_no_database(archive: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUNBID_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, stdout, _ = _run("archive", "verify", str(archive), "--json")
    assert code == 0, stdout


def test_one_flipped_byte_fails_naming_the_problem(archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    position = data.index(b'"index":7') + len(b'"index":')
    data[position] = ord("6")
    archive.write_bytes(bytes(data))
    code, stdout, _ = _run("archive", "verify", str(archive), "--json")
    assert code == 1
    report = json.loads(stdout)
    assert report["ok"] is False
    assert report["problems"][0]["code"] == "archive.unreadable_member"
    assert report["problems"][0]["path_or_index"] == "manifest.json"


def test_another_key_is_not_trusted(archive: Path) -> None:
    code, stdout, _ = _run("archive", "verify", str(archive), "--trusted-key", "ab" * 32, "--json")
    assert code == 1
    assert [p["code"] for p in json.loads(stdout)["problems"]] == ["archive.untrusted_key"]


def test_human_output_names_problems_in_both_languages(archive: Path) -> None:
    data = bytearray(archive.read_bytes())
    data[-30] ^= 0x01  # inside the central directory: still a zip, but not the canonical bytes
    archive.write_bytes(bytes(data))
    result = CliRunner().invoke(app, ["archive", "verify", str(archive)])
    assert result.exit_code == 1
    assert "校验失败" in result.output and "verification FAILED" in result.output


def test_unreadable_file_is_a_bilingual_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["archive", "verify", str(tmp_path / "无此文件.zip")])
    assert result.exit_code == 1
    assert "无法读取文件" in result.output and "cannot read file" in result.output
    code, stdout, _ = _run("archive", "verify", str(tmp_path), "--json")
    assert code == 1 and json.loads(stdout)["code"] == "archive.unreadable"


def test_bad_trusted_key_is_a_bilingual_error(archive: Path) -> None:
    result = CliRunner().invoke(app, ["archive", "verify", str(archive), "--trusted-key", "not-hex"])
    assert result.exit_code == 1
    assert "十六进制" in result.output and "in hex" in result.output


def test_build_log_refuses_an_index_outside_the_log(
    platform: Platform, cli_env: dict[str, str], tmp_path: Path
) -> None:
    _fill(platform, 3)
    out = tmp_path / "a.zip"
    result = CliRunner().invoke(app, ["archive", "build-log", "--index", "5", "--out", str(out)])
    assert result.exit_code == 1
    assert "日志条目序号 5" in result.output and "log entry index 5" in result.output
    assert not out.exists()


def test_build_log_does_not_overwrite_without_force(archive: Path) -> None:
    before = archive.read_bytes()
    code, stdout, _ = _run("archive", "build-log", "--index", "1", "--out", str(archive), "--json")
    assert code == 1 and json.loads(stdout)["code"] == "archive.out_exists"
    assert archive.read_bytes() == before
    code, stdout, _ = _run("archive", "build-log", "--index", "1", "--out", str(archive), "--force", "--json")
    assert code == 0, stdout
    assert archive.read_bytes() != before
    assert json.loads(stdout)["entries"] == [1]
