"""PKCS#12 key bundles for the bidder tool, both suites."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import pkcs12 as asn1_pkcs12
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, pkcs12

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.crypto import certificates
from sunbid.crypto.bundle import DEFAULT_ITERATIONS, KeyBundle, export_pkcs12, import_bundle, pkcs12_mac_key
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import get_suite

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SUBJECT = Subject("福州某某建设", "福州某某建设工程有限公司", "91350100M000100Y43")
PASSWORD = "投标口令 correct horse"
FAST = 1000  # iterations for tests that are not about the cost


def _bundle(name: str) -> KeyBundle:
    suite = get_suite(name)
    ca = CertificateAuthority.create(name, "交易中心 CA", now=NOW, validity_days=3650)
    signing = suite.generate_signing_keypair()
    encryption = suite.generate_encryption_keypair()
    return KeyBundle(
        suite=name,
        signing_private=signing.private,
        signing_public=signing.public,
        signing_cert_pem=ca.issue(SUBJECT, signing.public, "signing", 11, NOW, 365),
        encryption_private=encryption.private,
        encryption_public=encryption.public,
        encryption_cert_pem=ca.issue(SUBJECT, encryption.public, "encryption", 12, NOW, 365),
        ca_cert_pem=ca.certificate_pem,
    )


def _export(bundle: KeyBundle, password: str = PASSWORD, **options: Any) -> bytes:
    return export_pkcs12(
        bundle.suite,
        password=password,
        signing_private=bundle.signing_private,
        signing_cert_pem=bundle.signing_cert_pem,
        encryption_private=bundle.encryption_private,
        encryption_cert_pem=bundle.encryption_cert_pem,
        ca_cert_pem=bundle.ca_cert_pem,
        **options,
    )


@pytest.fixture(scope="module", params=["intl", "gm"])
def bundle(request: pytest.FixtureRequest) -> KeyBundle:
    return _bundle(request.param)


@pytest.fixture(scope="module")
def exported(bundle: KeyBundle) -> bytes:
    return _export(bundle, iterations=FAST)


def test_bundle_round_trips(bundle: KeyBundle, exported: bytes) -> None:
    loaded = import_bundle(exported, PASSWORD)
    assert loaded == bundle
    suite = get_suite(loaded.suite)
    assert suite.verify(loaded.signing.public, b"m", suite.sign(loaded.signing.private, b"m"))
    wrapped = suite.wrap_key(loaded.encryption.public, b"k" * 16, b"c")
    assert suite.unwrap_key(loaded.encryption.private, wrapped, b"c") == b"k" * 16


def test_names_used_by_the_identity_cli_are_exported_from_certificates(bundle: KeyBundle) -> None:
    data = certificates.export_bundle(
        bundle.suite,
        password=PASSWORD,
        signing_private=bundle.signing_private,
        signing_cert_pem=bundle.signing_cert_pem,
        encryption_private=bundle.encryption_private,
        encryption_cert_pem=bundle.encryption_cert_pem,
        ca_cert_pem=bundle.ca_cert_pem,
        iterations=FAST,
    )
    loaded = certificates.import_bundle(data, PASSWORD)
    assert loaded.signing_private == bundle.signing_private
    assert loaded.signing_cert_pem == bundle.signing_cert_pem


def test_bundle_round_trips_with_default_cost(bundle: KeyBundle) -> None:
    data = _export(bundle)
    pfx = asn1_pkcs12.Pfx.load(data)
    assert pfx["mac_data"]["iterations"].native == DEFAULT_ITERATIONS
    assert import_bundle(data, PASSWORD) == bundle


def test_wrong_password_is_refused(exported: bytes) -> None:
    for wrong in ("投标口令 correct horsE", "", PASSWORD + " "):
        with pytest.raises(ValidationFailed) as exc:
            import_bundle(exported, wrong)
        assert exc.value.code == "cert.bad_password"
        assert exc.value.message_zh
        assert exc.value.message_en


def test_every_tampered_byte_is_refused(exported: bytes) -> None:
    step = max(1, len(exported) // 150)
    for index in range(0, len(exported), step):
        damaged = bytearray(exported)
        damaged[index] ^= 0x10
        with pytest.raises(ValidationFailed) as exc:
            import_bundle(bytes(damaged), PASSWORD)
        assert exc.value.code in {"cert.bad_password", "cert.bad_bundle"}, index


@pytest.mark.parametrize("data", [b"", b"not a pkcs12", b"\x30\x03\x02\x01\x03"])
def test_garbage_is_a_bad_bundle(data: bytes) -> None:
    with pytest.raises(ValidationFailed) as exc:
        import_bundle(data, PASSWORD)
    assert exc.value.code == "cert.bad_bundle"


def test_short_password_is_refused(bundle: KeyBundle) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _export(bundle, "1234567", iterations=FAST)
    assert exc.value.code == "cert.weak_password"


def test_key_that_does_not_match_its_certificate_is_refused(bundle: KeyBundle) -> None:
    suite = get_suite(bundle.suite)
    stranger = suite.generate_signing_keypair()
    for broken in (
        replace(bundle, signing_private=stranger.private),
        replace(bundle, encryption_private=bundle.signing_private),
        replace(bundle, signing_cert_pem=bundle.encryption_cert_pem),
    ):
        with pytest.raises(DomainError) as exc:
            _export(broken, iterations=FAST)
        assert exc.value.code == "cert.key_mismatch"


def test_organisation_certificate_is_not_accepted_as_the_ca(bundle: KeyBundle) -> None:
    with pytest.raises(ValidationFailed) as exc:
        _export(replace(bundle, ca_cert_pem=bundle.signing_cert_pem), iterations=FAST)
    assert exc.value.code == "cert.bad_bundle"


def test_bundle_uses_the_suite_algorithms(bundle: KeyBundle, exported: bytes) -> None:
    pfx = asn1_pkcs12.Pfx.load(exported)
    mac_oid = pfx["mac_data"]["mac"]["digest_algorithm"]["algorithm"].dotted
    safes = asn1_pkcs12.AuthenticatedSafe.load(pfx["auth_safe"]["content"].native)
    key_bags = [
        bag
        for safe in safes
        for bag in asn1_pkcs12.SafeContents.load(safe["content"].native)
        if bag["bag_id"].native == "pkcs8_shrouded_key_bag"
    ]
    assert len(key_bags) == 2
    params = key_bags[0]["bag_value"]["encryption_algorithm"]["parameters"]
    prf = params["key_derivation_func"]["parameters"]["prf"]["algorithm"].dotted
    cipher = params["encryption_scheme"]["algorithm"].dotted
    if bundle.suite == "intl":
        assert (mac_oid, prf, cipher) == (
            "2.16.840.1.101.3.4.2.1",
            "1.2.840.113549.2.9",
            "2.16.840.1.101.3.4.1.42",
        )
    else:
        assert (mac_oid, prf, cipher) == (
            "1.2.156.10197.1.401",
            "1.2.156.10197.1.401.2",
            "1.2.156.10197.1.104.2",
        )


def test_cryptography_reads_the_intl_bundle() -> None:
    bundle = _bundle("intl")
    loaded = pkcs12.load_pkcs12(_export(bundle, iterations=FAST), PASSWORD.encode())
    assert isinstance(loaded.key, ed25519.Ed25519PrivateKey)
    assert loaded.key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()) == bundle.signing.private
    assert loaded.cert is not None
    assert loaded.cert.friendly_name == b"sunbid signing"
    assert len(loaded.additional_certs) == 2


def test_openssl_reads_both_keys_of_the_intl_bundle(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    path = tmp_path / "bundle.p12"
    path.write_bytes(_export(_bundle("intl"), iterations=FAST))
    result = subprocess.run(
        [openssl, "pkcs12", "-in", str(path), "-passin", f"pass:{PASSWORD}", "-nodes"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("BEGIN PRIVATE KEY") == 2
    assert result.stdout.count("BEGIN CERTIFICATE") == 3


def test_openssl_accepts_the_sm3_mac_of_the_gm_bundle(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    path = tmp_path / "bundle.p12"
    path.write_bytes(_export(_bundle("gm"), iterations=FAST))
    result = subprocess.run(
        [openssl, "pkcs12", "-in", str(path), "-passin", f"pass:{PASSWORD}", "-nokeys", "-info"],
        capture_output=True,
        text=True,
        check=False,
    )
    if "MAC: sm3" not in result.stderr + result.stdout:
        pytest.skip("this openssl does not know SM3")
    assert "Mac verify error" not in result.stderr
    assert result.stdout.count("BEGIN CERTIFICATE") == 3


def test_pkcs12_mac_key_depends_on_password_salt_and_iterations() -> None:
    def sha256(data: bytes) -> bytes:
        return hashlib.sha256(data).digest()

    base = pkcs12_mac_key(sha256, "password", b"salt", 3)
    assert len(base) == 32
    assert pkcs12_mac_key(sha256, "passwore", b"salt", 3) != base
    assert pkcs12_mac_key(sha256, "password", b"salu", 3) != base
    assert pkcs12_mac_key(sha256, "password", b"salt", 4) == sha256(base)
