"""Login by certificate signature (the software CA lock), on both crypto suites, through the HTTP API."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from sunbid.core.clock import FakeClock
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import KeyPair
from sunbid.identity import certs
from sunbid.identity.models import Certificate
from sunbid.platform.container import Platform
from tests.support.world import World, build_world

pytestmark = pytest.mark.parametrize("suite_name", ["intl", "gm"], indirect=True)


def _issue(platform: Platform, world: World, who: str) -> tuple[KeyPair, Certificate, Certificate]:
    kp = platform.suite.generate_signing_keypair()
    enc = platform.suite.generate_encryption_keypair()
    with platform.uow() as uow:
        sc, ec = certs.issue_certificates(uow, world.orgs[who].id, kp.public, enc.public)
        uow.commit()
    return kp, sc, ec


def _challenge(client: TestClient) -> dict[str, str]:
    r = client.post("/api/v1/auth/challenge")
    assert r.status_code == 200, r.text
    body: dict[str, str] = r.json()
    assert body["message"].endswith(body["nonce"])
    return body


def _login(client: TestClient, platform: Platform, key: bytes, pem: str, ch: dict[str, str], **extra: str):  # type: ignore[no-untyped-def]
    sig = platform.suite.sign(key, ch["message"].encode())
    return client.post(
        "/api/v1/auth/certificate-login",
        json={
            "certificate_pem": pem,
            "nonce": ch["nonce"],
            "signature_b64": base64.b64encode(sig).decode(),
            **extra,
        },
    )


def test_bidder_logs_in_by_signing_the_challenge(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    kp, sc, _ = _issue(platform, world, "bidder_a")
    r = _login(client, platform, kp.private, sc.pem, _challenge(client))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["username"] == "bidder_a"
    me = client.get("/api/v1/me").json()
    assert me["auth_method"] == "certificate" and me["username"] == "bidder_a"


def test_challenge_cannot_be_replayed(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    kp, sc, _ = _issue(platform, world, "bidder_a")
    ch = _challenge(client)
    assert _login(client, platform, kp.private, sc.pem, ch).status_code == 200
    client.cookies.clear()
    r = _login(client, platform, kp.private, sc.pem, ch)
    assert r.status_code == 401 and r.json()["code"] == "auth.challenge_invalid"


def test_expired_challenge_is_refused(platform: Platform, client: TestClient, clock: FakeClock) -> None:
    world = build_world(platform)
    kp, sc, _ = _issue(platform, world, "bidder_a")
    ch = _challenge(client)
    clock.advance(timedelta(minutes=6))
    r = _login(client, platform, kp.private, sc.pem, ch)
    assert r.status_code == 401 and r.json()["code"] == "auth.challenge_invalid"


def test_signature_by_another_key_is_refused(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    _, sc, _ = _issue(platform, world, "bidder_a")
    thief = platform.suite.generate_signing_keypair()
    r = _login(client, platform, thief.private, sc.pem, _challenge(client))
    assert r.status_code == 401 and r.json()["code"] == "auth.bad_signature"
    assert "签名验证失败" in r.json()["message_zh"]
    assert client.get("/api/v1/me").status_code == 401


def test_revoked_certificate_is_refused_and_its_sessions_end(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    kp, sc, _ = _issue(platform, world, "bidder_a")
    assert _login(client, platform, kp.private, sc.pem, _challenge(client)).status_code == 200
    assert client.get("/api/v1/me").status_code == 200
    with platform.uow() as uow:
        certs.revoke_certificate(uow, sc.serial, "CA锁遗失")
        uow.commit()
    assert client.get("/api/v1/me").status_code == 401  # the session opened with it is gone
    client.cookies.clear()
    r = _login(client, platform, kp.private, sc.pem, _challenge(client))
    assert r.status_code == 401 and r.json()["code"] == "cert.revoked"
    assert r.json()["message_zh"] == "该证书已被吊销，不能登录。"


def test_certificate_from_another_ca_is_refused(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    _issue(platform, world, "bidder_a")
    rogue = CertificateAuthority.create(platform.suite, "伪造CA", now=platform.clock.now(), validity_days=365)
    kp = platform.suite.generate_signing_keypair()
    org = world.orgs["bidder_a"]
    pem = rogue.issue(
        Subject(common_name=org.name, organisation_name=org.name, uscc=org.uscc),
        kp.public,
        usage="signing",
        serial=12345,
        now=platform.clock.now(),
        validity_days=30,
    )
    r = _login(client, platform, kp.private, pem, _challenge(client))
    assert r.status_code == 401
    assert r.json()["code"] in ("cert.wrong_issuer", "cert.bad_signature")


def test_encryption_certificate_cannot_log_in(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    kp, _, ec = _issue(platform, world, "bidder_a")
    r = _login(client, platform, kp.private, ec.pem, _challenge(client))
    assert r.status_code == 401 and r.json()["code"] == "cert.wrong_usage"


def test_garbage_certificate_is_a_clear_error(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    ch = _challenge(client)
    r = client.post(
        "/api/v1/auth/certificate-login",
        json={
            "certificate_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "nonce": ch["nonce"],
            "signature_b64": "AAAA",
        },
    )
    assert r.status_code == 401 and r.json()["code"] == "cert.malformed"
