"""The CLI end to end: `sunbid log head|proof|verify` on a real database, and tampering by plain SQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings
from tests.support import rfc9162


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


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def _fill(platform: Platform, n: int) -> None:
    for i in range(n):
        with platform.uow() as uow:
            uow.audit("test:cli", subject_type="thing", subject_id=i, data={"i": i, "说明": "命令行"})
            uow.commit()


def test_untouched_database_verifies(platform: Platform, cli_env: dict[str, str]) -> None:
    _fill(platform, 9)
    code, out = _run("log", "verify", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ok"] is True and report["tree_size"] == 9 and report["audit_events_checked"] == 9


@pytest.mark.parametrize(
    ("sql", "what", "ident"),
    [
        ("UPDATE ledger_entries SET body = :body WHERE idx = 5", "ledger_entry", 5),
        ("UPDATE audit_events SET data = :data WHERE ledger_index = 5", "audit_event", None),
    ],
)
def test_one_changed_byte_fails_verify_naming_it(
    platform: Platform, cli_env: dict[str, str], sql: str, what: str, ident: int | None
) -> None:
    _fill(platform, 9)
    with platform.db.engine.begin() as conn:
        body = conn.execute(text("SELECT body FROM ledger_entries WHERE idx = 5")).scalar_one()
        audit_id = conn.execute(text("SELECT id FROM audit_events WHERE ledger_index = 5")).scalar_one()
        changed = bytes(body).replace(b'"i":5', b'"i":6')
        assert changed != bytes(body)
        params = {"body": changed, "data": json.dumps({"i": 6, "说明": "命令行"}, ensure_ascii=False)}
        conn.execute(text(sql), params)
    code, out = _run("log", "verify", "--json")
    assert code != 0
    report = json.loads(out)
    assert report["ok"] is False
    expected = ident if ident is not None else audit_id
    assert any(p["what"] == what and p["id"] == expected for p in report["problems"]), report


def test_head_and_proofs_verify_with_independent_code(platform: Platform, cli_env: dict[str, str]) -> None:
    _fill(platform, 11)
    code, out = _run("log", "head", "--json")
    assert code == 0
    head = json.loads(out)["head"]
    assert head["tree_size"] == 11
    code, out = _run("log", "proof", "--index", "4", "--json")
    assert code == 0
    p = json.loads(out)
    assert p["verified"] is True
    assert rfc9162.verify_inclusion(
        4,
        11,
        bytes.fromhex(p["leaf_hash"]),
        [bytes.fromhex(x) for x in p["proof"]],
        bytes.fromhex(head["root_hash"]),
    )
    code, out = _run("log", "proof", "--first", "6", "--json")
    assert code == 0
    c = json.loads(out)
    assert rfc9162.verify_consistency(
        6,
        11,
        bytes.fromhex(c["first_root"]),
        bytes.fromhex(c["second_root"]),
        [bytes.fromhex(x) for x in c["proof"]],
    )


def test_bad_proof_request_is_a_bilingual_error(platform: Platform, cli_env: dict[str, str]) -> None:
    _fill(platform, 3)
    result = CliRunner().invoke(app, ["log", "proof", "--index", "7"])
    assert result.exit_code == 1
    assert "条目序号 7 不在树大小 3 内" in result.output and "leaf index 7" in result.output


def test_a_deployment_switched_to_the_other_suite_gets_a_clear_error_not_a_traceback(
    platform: Platform, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(platform, 2)  # the log key now exists, made for the platform's suite
    other = "gm" if cli_env["SUNBID_CRYPTO_SUITE"] == "intl" else "intl"
    monkeypatch.setenv("SUNBID_CRYPTO_SUITE", other)
    result = CliRunner().invoke(app, ["log", "verify", "--json"])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)  # a handled error, not a traceback
    problem = json.loads(result.stdout)
    assert problem["code"] == "platform.suite_mismatch"
    assert "SUNBID_CRYPTO_SUITE" in problem["message_zh"] and cli_env["SUNBID_CRYPTO_SUITE"] in problem["message_en"]
