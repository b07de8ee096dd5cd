"""The member's signing tool against a stand-in platform (httpx's mock transport): the key is made in the suite
of the platform's CA, certified, and used to sign the report in that suite — intl (Ed25519) or gm (SM2)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.unit.evaluation.report_support import NOW, USCC, sample_report

from sunbid.core.clock import FakeClock
from sunbid.core.errors import ValidationFailed
from sunbid.crypto.certificates import CertificateAuthority, Subject, verify_certificate
from sunbid.crypto.suite import get_suite
from sunbid.crypto.x509util import parse_pem
from sunbid.evaluation.member_tool import certify, sign_as_member, suite_of_ca
from sunbid.evaluation.pdfsign import verify_report
from sunbid.evaluation.report import render_report_pdf

PROJECT = 7


class FakePlatform:
    """Just the four endpoints the tool calls; the report names the member (e1, the leader) once certified."""

    def __init__(self, suite: str) -> None:
        self.suite = suite
        self.ca = CertificateAuthority.create(suite, "测试中心 CA", now=NOW - timedelta(days=30), validity_days=365)
        self.fingerprint = ""
        self.uploaded: bytes | None = None
        self.pdf = b""

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        base = f"/api/v1/projects/{PROJECT}/evaluation"
        if request.method == "GET" and path == "/api/v1/ca":
            return httpx.Response(200, json={"suite": self.suite, "certificate_pem": self.ca.certificate_pem})
        if request.method == "POST" and path == f"{base}/certificate":
            public = bytes.fromhex(json.loads(request.content)["public_key_hex"])
            subject = Subject(common_name="王建国", organisation_name="福建省综合评标专家库", uscc=USCC)
            pem = self.ca.issue(subject, public, "signing", 4242, NOW - timedelta(days=1), 30)
            self.fingerprint = verify_certificate(self.suite, self.ca.certificate_pem, pem, now=NOW).fingerprint
            others = dict.fromkeys(("e2", "e3", "e4", "e5"), "0" * 64)
            self.pdf = render_report_pdf(sample_report({"e1": self.fingerprint, **others}))
            return httpx.Response(200, json={"certificate_pem": pem, "ca_certificate_pem": self.ca.certificate_pem})
        if request.method == "GET" and path == f"{base}/report.pdf":
            return httpx.Response(200, content=self.pdf, headers={"Content-Type": "application/pdf"})
        if request.method == "PUT" and path == f"{base}/report.pdf":
            status = verify_report(request.content, ca_cert_pem=self.ca.certificate_pem, suite=self.suite)
            if not status.ok:
                return httpx.Response(422, json={"code": "evaluation.signature_refused", "message_en": "no"})
            self.uploaded = request.content
            return httpx.Response(200, json={"signatures": len(status.signatures), "complete": status.complete})
        return httpx.Response(404, json={"code": "http.404"})


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_the_member_key_follows_the_platforms_suite_and_signs_the_report(tmp_path: Path, suite: str) -> None:
    platform = FakePlatform(suite)
    key = tmp_path / "member.key"
    with httpx.Client(base_url="http://platform", transport=httpx.MockTransport(platform.handle)) as client:
        cert_pem, created = certify(client, PROJECT, key)
        assert created and oct(key.stat().st_mode & 0o777) == "0o600" and len(key.read_bytes()) == 32
        public = get_suite(suite).signing_public_key(key.read_bytes())
        assert parse_pem(cert_pem, "subject").public_key == public  # Ed25519 (32 bytes) or SM2 (64 bytes)
        assert len(public) == (64 if suite == "gm" else 32)
        assert suite_of_ca(key.with_name("member.key.ca.pem").read_text("ascii")) == suite
        done = sign_as_member(client, PROJECT, key, clock=FakeClock(NOW + timedelta(minutes=5)))
    assert done.answer == {"signatures": 1, "complete": False}
    assert platform.uploaded is not None
    result = verify_report(platform.uploaded, ca_cert_pem=platform.ca.certificate_pem, suite=suite)
    assert result.ok and [s.certificate_fingerprint for s in result.signatures] == [platform.fingerprint]
    other = "intl" if suite == "gm" else "gm"
    assert not verify_report(platform.uploaded, ca_cert_pem=platform.ca.certificate_pem, suite=other).ok


def test_an_unknown_suite_from_the_platform_is_refused_before_any_key_is_made(tmp_path: Path) -> None:
    def handle(request: httpx.Request) -> Any:
        return httpx.Response(200, json={"suite": "rsa", "certificate_pem": ""})

    key = tmp_path / "member.key"
    client = httpx.Client(base_url="http://platform", transport=httpx.MockTransport(handle))
    with client, pytest.raises(ValidationFailed) as exc:
        certify(client, PROJECT, key)
    assert exc.value.code == "report.unknown_suite"
    assert not key.exists()
