"""The committee member's side of signing the evaluation report (E-5), against a running platform.

A member signs on their own machine; the private key never leaves it:

1. the member's signing key lives in a local file (created with 0600 permissions on first use) — an Ed25519
   key for an ``intl`` centre, an SM2 key for a ``gm`` one: the tool asks the platform which suite its CA uses
   (``GET /api/v1/ca``) before it creates the key, and later reads it from the CA certificate kept beside it;
2. before the report is built, its public key is certified by the centre for this project
   (``POST …/evaluation/certificate`` → the member's signing certificate and the centre CA certificate, kept
   beside the key file): the report names each member's certificate;
3. at the member's turn, the current report is fetched (``GET …/evaluation/report.pdf``), checked (it must
   verify so far and be this member's turn, group leader first), signed locally
   (:func:`sunbid.evaluation.pdfsign.sign_report`, in the CA's suite) and uploaded
   (``PUT …/evaluation/report.pdf``), where the platform verifies it again before accepting it.

Used by ``sunbid calc sign-member``. The platform's refusals come back as ``ValidationFailed`` carrying its own
code and messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from sunbid.core.clock import Clock, SystemClock
from sunbid.core.errors import ValidationFailed
from sunbid.crypto.suite import SUITE_NAMES, get_suite
from sunbid.crypto.x509util import SIGNATURE_OID, parse_pem
from sunbid.evaluation.pdfsign import Signer, sign_report

API = "/api/v1"
KEY_SIZE = 32


@dataclass(frozen=True, slots=True)
class Signed:
    """What one signing did: the platform's answer and the signed PDF's size."""

    answer: dict[str, Any]
    size: int
    key_created: bool


def suite_of_ca(ca_cert_pem: str) -> str:
    """``intl`` or ``gm``: the suite whose signature algorithm signed the CA certificate (``cert.malformed``)."""
    algorithm = parse_pem(ca_cert_pem, "ca").signature_algorithm
    for name in SUITE_NAMES:
        if SIGNATURE_OID[name] == algorithm:
            return name
    raise ValidationFailed(
        "report.unknown_suite",
        "无法识别中心 CA 证书的算法体系",
        "the centre CA certificate is of no known suite",
    )


def load_or_create_key(path: Path, suite: str = "intl") -> tuple[bytes, bool]:
    """The member's raw signing key from ``path``, created (0600, never overwritten) if the file is missing.

    A new key is a ``suite`` signing key (Ed25519 for intl, SM2 for gm; both 32 bytes raw).
    """
    if path.exists():
        raw = path.read_bytes()
        if len(raw) != KEY_SIZE:
            raise ValidationFailed(
                "report.bad_key_file",
                f"签名密钥文件 {path} 无效（应为 {KEY_SIZE} 字节）",
                f"the signing key file {path} is not a {KEY_SIZE}-byte key",
            )
        return raw, False
    private = get_suite(suite).generate_signing_keypair().private
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, private)
        os.fsync(fd)
    finally:
        os.close(fd)
    return private, True


def _raise_problem(r: httpx.Response) -> None:
    if r.status_code < 400:
        return
    try:
        body = r.json()
    except ValueError:
        body = {}
    code = str(body.get("code") or f"http.{r.status_code}")
    zh = str(body.get("message_zh") or f"平台拒绝：HTTP {r.status_code}")
    en = str(body.get("message_en") or f"the platform refused: HTTP {r.status_code}")
    raise ValidationFailed(code, zh, en, details={"status": r.status_code})


def _cert_paths(key_path: Path) -> tuple[Path, Path]:
    return key_path.with_name(key_path.name + ".cert.pem"), key_path.with_name(key_path.name + ".ca.pem")


def certify(client: httpx.Client, project_id: int, key_path: Path) -> tuple[str, bool]:
    """Step 1, before the report is built: have the centre certify the member's key for this project.

    The certificate and the CA certificate are kept beside the key file (``KEY.cert.pem``, ``KEY.ca.pem``);
    returns the certificate and whether the key was created now.
    """
    r = client.get(f"{API}/ca")
    _raise_problem(r)
    suite = str(r.json().get("suite", ""))
    if suite not in SUITE_NAMES:
        raise ValidationFailed(
            "report.unknown_suite", f"平台的证书体系 {suite} 无法识别", f"the platform's suite {suite} is unknown"
        )
    private, created = load_or_create_key(key_path, suite)
    public = get_suite(suite).signing_public_key(private)
    r = client.post(f"{API}/projects/{project_id}/evaluation/certificate", json={"public_key_hex": public.hex()})
    _raise_problem(r)
    certs = r.json()
    cert_path, ca_path = _cert_paths(key_path)
    cert_path.write_text(certs["certificate_pem"], encoding="ascii")
    ca_path.write_text(certs["ca_certificate_pem"], encoding="ascii")
    return str(certs["certificate_pem"]), created


def sign_as_member(client: httpx.Client, project_id: int, key_path: Path, *, clock: Clock | None = None) -> Signed:
    """Step 2, when it is this member's turn: fetch the report, sign it here and upload it."""
    private, _ = load_or_create_key(key_path) if key_path.exists() else (b"", False)
    cert_path, ca_path = _cert_paths(key_path)
    if not private or not cert_path.exists() or not ca_path.exists():
        raise ValidationFailed(
            "report.not_certified",
            "尚未登记签名证书：请在评标报告生成前先运行 --certify",
            "no certified key here: run with --certify before the report is built",
        )
    r = client.get(f"{API}/projects/{project_id}/evaluation/report.pdf")
    _raise_problem(r)
    now = (clock or SystemClock()).now()
    signer = Signer(private, cert_path.read_text(encoding="ascii"))
    ca_pem = ca_path.read_text(encoding="ascii")
    signed = sign_report(r.content, signer, ca_cert_pem=ca_pem, at=now, suite=suite_of_ca(ca_pem))
    r = client.put(
        f"{API}/projects/{project_id}/evaluation/report.pdf",
        content=signed,
        headers={"Content-Type": "application/pdf"},
    )
    _raise_problem(r)
    return Signed(r.json(), len(signed), False)


__all__ = ["Signed", "certify", "load_or_create_key", "sign_as_member", "suite_of_ca"]
