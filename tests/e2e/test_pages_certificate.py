"""Certificate login (CA锁) through the page: sign the challenge at home, paste certificate and signature."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from fastapi.testclient import TestClient
from sqlalchemy import select

from sunbid.crypto.suite import KeyPair
from sunbid.identity import certs
from sunbid.identity.models import LoginSession
from sunbid.platform.container import Platform
from tests.support.world import build_world


@dataclass
class Holder:
    """A bidder organisation's signing key (kept "at home") and its certificate."""

    keys: KeyPair
    serial: str
    pem: str


def _holder(platform: Platform) -> Holder:
    world = build_world(platform)
    keys = platform.suite.generate_signing_keypair()
    enc = platform.suite.generate_encryption_keypair()
    with platform.uow() as uow:
        sc, _ec = certs.issue_certificates(uow, world.orgs["bidder_a"].id, keys.public, enc.public)
        uow.commit()
    return Holder(keys, sc.serial, sc.pem)


def _challenge(client: TestClient) -> tuple[str, str]:
    page = client.get("/login?tab=cert").text
    m = re.search(r'id="challenge-message">([^<]+)</pre>', page)
    n = re.search(r'name="nonce" value="([0-9a-f]+)"', page)
    assert m is not None and n is not None
    return m.group(1), n.group(1)


def test_certificate_login_with_a_signed_challenge(platform: Platform, client: TestClient) -> None:
    holder = _holder(platform)
    message, nonce = _challenge(client)
    signature = platform.suite.sign(holder.keys.private, message.encode())
    r = client.post(
        "/login/certificate",
        data={
            "nonce": nonce,
            "certificate_pem": holder.pem,
            "signature_b64": base64.b64encode(signature).decode(),
            "csrf_token": client.cookies["sunbid_csrf"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with platform.db.read() as s:
        sess = s.scalars(select(LoginSession)).one()
    assert (sess.method, sess.certificate_serial) == ("certificate", holder.serial)
    home = client.get("/").text
    assert 'data-role="bidder"' in home and "甲建筑公司用户" in home
    assert "数字证书" in client.get("/me").text


def test_bad_signature_is_refused_in_chinese_with_a_new_challenge(platform: Platform, client: TestClient) -> None:
    holder = _holder(platform)
    message, nonce = _challenge(client)
    other = platform.suite.generate_signing_keypair()
    r = client.post(
        "/login/certificate",
        data={
            "nonce": nonce,
            "certificate_pem": holder.pem,
            "signature_b64": base64.b64encode(platform.suite.sign(other.private, message.encode())).decode(),
            "csrf_token": client.cookies["sunbid_csrf"],
        },
    )
    assert r.status_code == 401
    assert "签名验证失败" in r.text and "Traceback" not in r.text
    assert "-----BEGIN CERTIFICATE-----" in r.text  # the pasted certificate is kept
    m = re.search(r'name="nonce" value="([0-9a-f]+)"', r.text)
    assert m is not None and m.group(1) != nonce  # the used challenge is replaced
    assert "sunbid_session" not in client.cookies


def test_revoked_certificate_is_refused_in_english(platform: Platform, client: TestClient) -> None:
    holder = _holder(platform)
    with platform.uow() as uow:
        certs.revoke_certificate(uow, holder.serial, "key lost")
        uow.commit()
    client.cookies.set("sunbid_lang", "en")
    message, nonce = _challenge(client)
    r = client.post(
        "/login/certificate",
        data={
            "nonce": nonce,
            "certificate_pem": holder.pem,
            "signature_b64": base64.b64encode(platform.suite.sign(holder.keys.private, message.encode())).decode(),
            "csrf_token": client.cookies["sunbid_csrf"],
        },
    )
    assert r.status_code == 401
    assert "This certificate has been revoked." in r.text and "已被吊销" not in r.text


def test_certificate_login_needs_the_csrf_token_and_valid_base64(platform: Platform, client: TestClient) -> None:
    holder = _holder(platform)
    message, nonce = _challenge(client)
    signature = base64.b64encode(platform.suite.sign(holder.keys.private, message.encode())).decode()
    r = client.post(
        "/login/certificate",
        data={"nonce": nonce, "certificate_pem": holder.pem, "signature_b64": signature},
    )
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.post(
        "/login/certificate",
        data={
            "nonce": nonce,
            "certificate_pem": holder.pem,
            "signature_b64": "%%% not base64 %%%",
            "csrf_token": client.cookies["sunbid_csrf"],
        },
    )
    assert r.status_code == 422 and "签名不是合法的 Base64。" in r.text
    assert "sunbid_session" not in client.cookies
