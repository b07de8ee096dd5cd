"""The admin and certificate CLI end to end, and the demo seed: a bidder gets a bundle and logs in with it."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.core.clock import FakeClock
from sunbid.identity.domain import make_uscc
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUNBID_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUNBID_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SUNBID_CRYPTO_SUITE", settings.crypto_suite)
    monkeypatch.setenv("T_PASSWORD", "Passw0rd-cli")
    monkeypatch.setenv("T_BUNDLE", "bundle-pass-1")


def run(*args: str) -> dict:  # type: ignore[type-arg]
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_admin_and_cert_commands_then_certificate_login(
    cli_env: None, platform: Platform, client: TestClient, tmp_path: Path, clock: FakeClock
) -> None:
    clock.set(datetime.now(UTC) + timedelta(minutes=1))  # the CLI issues certificates by the real clock
    run(
        "admin",
        "create-centre",
        "--name",
        "昭通市公共资源交易中心",
        "--uscc",
        make_uscc(1, region_code="530600"),
        "--region",
        "530600",
    )
    uscc = make_uscc(2, region_code="530600")
    org = run(
        "admin",
        "create-org",
        "--name",
        "昭通市建工集团",
        "--uscc",
        uscc,
        "--kind",
        "bidder",
        "--region",
        "530602",
        "--sector",
        "engineering",
    )
    assert org["kind"] == "bidder" and org["sectors"] == ["engineering"]
    run(
        "admin",
        "create-user",
        "--username",
        "zt_bidder",
        "--name",
        "投标员",
        "--org",
        uscc,
        "--role",
        "bidder",
        "--password-env",
        "T_PASSWORD",
    )
    bundle = tmp_path / "zt.p12"
    issued = run("cert", "issue", "--org", uscc, "--out", str(bundle), "--password-env", "T_BUNDLE")
    assert [c["usage"] for c in issued["certificates"]] == ["signing", "encryption"]
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    listed = run("cert", "list", "--org", uscc)
    assert {c["serial"] for c in listed} == {c["serial"] for c in issued["certificates"]}

    ch = client.post("/api/v1/auth/challenge").json()
    signed = run(
        "cert",
        "sign-challenge",
        "--bundle",
        str(bundle),
        "--message",
        ch["message"],
        "--password-env",
        "T_BUNDLE",
    )
    r = client.post(
        "/api/v1/auth/certificate-login",
        json={
            "certificate_pem": signed["certificate_pem"],
            "nonce": ch["nonce"],
            "signature_b64": signed["signature_b64"],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["user"]["username"] == "zt_bidder"

    serial = issued["certificates"][0]["serial"]
    assert run("cert", "revoke", serial, "--reason", "CA锁遗失")["status"] == "revoked"
    ch = client.post("/api/v1/auth/challenge").json()
    signed = run(
        "cert",
        "sign-challenge",
        "--bundle",
        str(bundle),
        "--message",
        ch["message"],
        "--password-env",
        "T_BUNDLE",
    )
    client.cookies.clear()
    r = client.post(
        "/api/v1/auth/certificate-login",
        json={
            "certificate_pem": signed["certificate_pem"],
            "nonce": ch["nonce"],
            "signature_b64": signed["signature_b64"],
        },
    )
    assert r.status_code == 401 and r.json()["code"] == "cert.revoked"


def test_cli_errors_are_bilingual_and_non_zero(cli_env: None, platform: Platform) -> None:
    r = CliRunner().invoke(
        app,
        [
            "admin",
            "create-org",
            "--name",
            "x",
            "--uscc",
            "91340000MA2TEST01X",
            "--kind",
            "bidder",
            "--region",
            "341700",
        ],
    )
    assert r.exit_code == 1
    assert "统一社会信用代码" in r.output and "credit code" in r.output.lower()
    r = CliRunner().invoke(app, ["cert", "export", "--serial", "deadbeef"])
    assert r.exit_code == 1 and "证书 deadbeef 不存在" in r.output


def test_demo_seed_is_idempotent_and_bidders_can_use_their_bundles(cli_env: None, platform: Platform) -> None:
    first = run("demo", "--no-serve")
    assert first["created"] is True and len(first["bundles"]) == 5
    second = run("demo", "--no-serve")
    assert second["created"] is False
    bundle = Path(first["bundles"][0])
    from sunbid.crypto.certificates import import_bundle

    loaded = import_bundle(bundle.read_bytes(), first["bundle_password"])
    assert loaded.suite == platform.suite.name
    verify = run("log", "verify")
    assert verify["ok"] is True and verify["audit_events_checked"] > 20
