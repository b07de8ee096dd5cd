"""The centre's CA and certificate verification, for both suites."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID

from sunbid.core.errors import DomainError, ErrorKind, ValidationFailed
from sunbid.crypto import sm2
from sunbid.crypto.certificates import (
    CertificateAuthority,
    Subject,
    is_valid_uscc,
    read_certificate_key,
    verify_certificate,
)
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite
from sunbid.crypto.x509util import der_to_pem, pem_to_der

NOW = datetime(2026, 11, 23, 1, 0, 30, 123456, tzinfo=UTC)
SUBJECT = Subject(
    common_name="福州某某建设",
    organisation_name="福州某某建设工程有限公司",
    uscc="91350100M000100Y43",
    province="福建省",
    locality="福州市",
    organisational_unit="投标部",
)
SUITES = ["intl", "gm"]


class Org:
    def __init__(self, suite: CryptoSuite, ca: CertificateAuthority) -> None:
        self.signing: KeyPair = suite.generate_signing_keypair()
        self.encryption: KeyPair = suite.generate_encryption_keypair()
        self.signing_pem = ca.issue(SUBJECT, self.signing.public, "signing", 1001, NOW, 365)
        self.encryption_pem = ca.issue(SUBJECT, self.encryption.public, "encryption", 1002, NOW, 365)


@pytest.fixture(scope="module", params=SUITES)
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    return get_suite(request.param)


@pytest.fixture(scope="module")
def ca(suite: CryptoSuite) -> CertificateAuthority:
    return CertificateAuthority.create(
        suite,
        "某市公共资源交易中心 CA",
        now=NOW,
        validity_days=3650,
        organisation_name="某市公共资源交易中心",
    )


@pytest.fixture(scope="module")
def org(suite: CryptoSuite, ca: CertificateAuthority) -> Org:
    return Org(suite, ca)


def _cert_code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    assert exc.value.kind is ErrorKind.UNAUTHENTICATED
    assert exc.value.message_zh
    assert exc.value.message_en
    return exc.value.code


# --- issue and verify ----


def test_signing_certificate_verifies_and_reports_its_contents(
    suite: CryptoSuite, ca: CertificateAuthority, org: Org
) -> None:
    info = verify_certificate(suite, ca.certificate_pem, org.signing_pem, now=NOW + timedelta(days=1))
    assert info.suite == suite.name
    assert info.serial == 1001
    assert info.usage == "signing"
    assert info.subject == SUBJECT
    assert info.public_key == org.signing.public
    assert info.not_before == NOW.replace(microsecond=0)
    assert info.not_after == NOW.replace(microsecond=0) + timedelta(days=365)
    assert info.fingerprint == suite.digest(pem_to_der(org.signing_pem)).hex()
    assert info.public_key_fingerprint == suite.public_key_fingerprint(org.signing.public)


def test_encryption_certificate_verifies_with_encryption_usage(
    suite: CryptoSuite, ca: CertificateAuthority, org: Org
) -> None:
    info = verify_certificate(suite.name, ca.certificate_pem, org.encryption_pem, now=NOW, usage="encryption")
    assert info.usage == "encryption"
    assert info.serial == 1002
    assert info.public_key == org.encryption.public


def test_certificate_usage_is_checked_when_asked(suite: CryptoSuite, ca: CertificateAuthority, org: Org) -> None:
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, org.encryption_pem, now=NOW, usage="signing")
    assert _cert_code(exc) == "cert.wrong_usage"
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, org.signing_pem, now=NOW, usage="encryption")
    assert _cert_code(exc) == "cert.wrong_usage"


def test_ca_certificate_is_not_accepted_as_an_organisation_certificate(
    suite: CryptoSuite, ca: CertificateAuthority
) -> None:
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, ca.certificate_pem, now=NOW)
    assert _cert_code(exc) == "cert.wrong_usage"


def test_key_usage_bits_distinguish_signing_from_encryption(
    suite: CryptoSuite, ca: CertificateAuthority, org: Org
) -> None:
    signing = asn1_x509.Certificate.load(pem_to_der(org.signing_pem))
    encryption = asn1_x509.Certificate.load(pem_to_der(org.encryption_pem))
    assert signing.key_usage_value.native == {"digital_signature", "non_repudiation"}
    expected = {"key_agreement"} if suite.name == "intl" else {"key_encipherment", "key_agreement"}
    assert encryption.key_usage_value.native == expected
    assert signing.basic_constraints_value["ca"].native is False
    assert signing.authority_key_identifier == asn1_x509.Certificate.load(pem_to_der(ca.certificate_pem)).key_identifier


def test_uscc_is_the_subject_serial_number(org: Org) -> None:
    cert = x509.load_pem_x509_certificate(org.signing_pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == SUBJECT.uscc
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SUBJECT.common_name
    assert cert.serial_number == 1001


# --- time ----


def test_expired_certificate_is_rejected(suite: CryptoSuite, ca: CertificateAuthority, org: Org) -> None:
    end = NOW.replace(microsecond=0) + timedelta(days=365)
    assert verify_certificate(suite, ca.certificate_pem, org.signing_pem, now=end).serial == 1001
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, org.signing_pem, now=end + timedelta(seconds=1))
    assert _cert_code(exc) == "cert.expired"
    assert exc.value.details["serial"] == 1001


def test_not_yet_valid_certificate_is_rejected(suite: CryptoSuite, ca: CertificateAuthority) -> None:
    later = NOW + timedelta(days=30)
    pem = ca.issue(SUBJECT, suite.generate_signing_keypair().public, "signing", 77, later, 30)
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, pem, now=later - timedelta(seconds=1))
    assert _cert_code(exc) == "cert.not_yet_valid"
    assert verify_certificate(suite, ca.certificate_pem, pem, now=later).serial == 77


def test_naive_now_is_taken_as_utc(suite: CryptoSuite, ca: CertificateAuthority, org: Org) -> None:
    naive = NOW.replace(tzinfo=None) + timedelta(days=400)
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, org.signing_pem, now=naive)
    assert _cert_code(exc) == "cert.expired"


# --- issuer and integrity ----


def test_certificate_from_another_ca_with_the_same_name_is_wrong_issuer(
    suite: CryptoSuite, ca: CertificateAuthority, org: Org
) -> None:
    impostor = CertificateAuthority.create(
        suite,
        "某市公共资源交易中心 CA",
        now=NOW,
        validity_days=3650,
        organisation_name="某市公共资源交易中心",
    )
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, impostor.certificate_pem, org.signing_pem, now=NOW)
    assert _cert_code(exc) == "cert.wrong_issuer"
    forged = impostor.issue(SUBJECT, org.signing.public, "signing", 1001, NOW, 365)
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, forged, now=NOW)
    assert _cert_code(exc) == "cert.wrong_issuer"


def test_certificate_from_a_differently_named_ca_is_wrong_issuer(suite: CryptoSuite, org: Org) -> None:
    other = CertificateAuthority.create(suite, "另一个中心 CA", now=NOW, validity_days=3650)
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, other.certificate_pem, org.signing_pem, now=NOW)
    assert _cert_code(exc) == "cert.wrong_issuer"


def test_changed_subject_byte_breaks_the_signature(suite: CryptoSuite, ca: CertificateAuthority, org: Org) -> None:
    der = pem_to_der(org.signing_pem)
    index = der.index(SUBJECT.uscc.encode())
    tampered = der[:index] + b"8" + der[index + 1 :]
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, der_to_pem(tampered), now=NOW)
    assert _cert_code(exc) == "cert.bad_signature"


def test_changed_signature_byte_is_bad_signature(suite: CryptoSuite, ca: CertificateAuthority, org: Org) -> None:
    der = bytearray(pem_to_der(org.signing_pem))
    der[-1] ^= 0x01  # the last byte belongs to the signature value in both suites
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, der_to_pem(bytes(der)), now=NOW)
    assert _cert_code(exc) == "cert.bad_signature"


def test_every_single_byte_change_is_rejected(suite: CryptoSuite, ca: CertificateAuthority, org: Org) -> None:
    der = pem_to_der(org.signing_pem)
    codes = set()
    for index in range(len(der)):
        damaged = bytearray(der)
        damaged[index] ^= 0x04
        with pytest.raises(DomainError) as exc:
            verify_certificate(suite, ca.certificate_pem, der_to_pem(bytes(damaged)), now=NOW)
        codes.add(_cert_code(exc))
    assert "cert.bad_signature" in codes
    assert "cert.malformed" in codes
    assert codes <= {
        "cert.bad_signature",
        "cert.malformed",
        "cert.wrong_issuer",
        "cert.expired",
        "cert.not_yet_valid",
    }


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a certificate",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_garbage_is_malformed(suite: CryptoSuite, ca: CertificateAuthority, text: str) -> None:
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, ca.certificate_pem, text, now=NOW)
    assert _cert_code(exc) == "cert.malformed"


def test_certificate_of_the_other_suite_is_refused() -> None:
    intl_ca = CertificateAuthority.create("intl", "CA", now=NOW, validity_days=10)
    gm_ca = CertificateAuthority.create("gm", "CA", now=NOW, validity_days=10)
    with pytest.raises(DomainError) as exc:
        verify_certificate("intl", gm_ca.certificate_pem, gm_ca.certificate_pem, now=NOW)
    assert _cert_code(exc) == "cert.malformed"
    gm_pem = gm_ca.issue(SUBJECT, get_suite("gm").generate_signing_keypair().public, "signing", 5, NOW, 5)
    with pytest.raises(DomainError) as exc:
        verify_certificate("intl", intl_ca.certificate_pem, gm_pem, now=NOW)
    assert _cert_code(exc) == "cert.wrong_issuer"


def test_expired_ca_makes_its_certificates_fail(suite: CryptoSuite) -> None:
    short = CertificateAuthority.create(suite, "短期 CA", now=NOW, validity_days=2)
    pem = short.issue(SUBJECT, suite.generate_signing_keypair().public, "signing", 9, NOW, 1)
    with pytest.raises(DomainError) as exc:
        verify_certificate(suite, short.certificate_pem, pem, now=NOW + timedelta(days=3))
    assert _cert_code(exc) == "cert.expired"
    assert exc.value.details["certificate"] == "ca"


# --- the CA itself ----


def test_ca_certificate_is_a_self_signed_ca(suite: CryptoSuite, ca: CertificateAuthority) -> None:
    cert = asn1_x509.Certificate.load(pem_to_der(ca.certificate_pem))
    assert cert.basic_constraints_value["ca"].native is True
    assert cert.key_usage_value.native == {"key_cert_sign", "crl_sign"}
    assert cert.subject == cert.issuer
    assert cert.subject.native["common_name"] == "某市公共资源交易中心 CA"
    assert ca.public_key == suite.signing_public_key(ca.private_key_bytes())
    assert ca.not_after == NOW.replace(microsecond=0) + timedelta(days=3650)


def test_loaded_ca_issues_certificates_that_verify(suite: CryptoSuite, ca: CertificateAuthority) -> None:
    loaded = CertificateAuthority.load(suite, ca.private_key_bytes(), ca.certificate_pem)
    pair = suite.generate_signing_keypair()
    pem = loaded.issue(SUBJECT, pair.public, "signing", 4242, NOW, 10)
    assert verify_certificate(suite, ca.certificate_pem, pem, now=NOW).public_key == pair.public


def test_load_refuses_a_key_that_does_not_match(suite: CryptoSuite, ca: CertificateAuthority) -> None:
    with pytest.raises(ValidationFailed) as exc:
        CertificateAuthority.load(suite, suite.generate_signing_keypair().private, ca.certificate_pem)
    assert exc.value.code == "cert.key_mismatch"


def test_intl_certificates_verify_with_cryptography() -> None:
    ca = CertificateAuthority.create("intl", "CA", now=NOW, validity_days=3650)
    org = Org(get_suite("intl"), ca)
    issuer = x509.load_pem_x509_certificate(ca.certificate_pem.encode())
    for pem in (org.signing_pem, org.encryption_pem):
        x509.load_pem_x509_certificate(pem.encode()).verify_directly_issued_by(issuer)


def test_gm_certificate_structure_parses_back_with_asn1crypto() -> None:
    ca = CertificateAuthority.create("gm", "国密 CA", now=NOW, validity_days=3650)
    org = Org(get_suite("gm"), ca)
    cert = asn1_x509.Certificate.load(pem_to_der(org.signing_pem), strict=True)
    assert cert["signature_algorithm"]["algorithm"].dotted == "1.2.156.10197.1.501"
    assert cert["tbs_certificate"]["signature"]["algorithm"].dotted == "1.2.156.10197.1.501"
    spki = cert["tbs_certificate"]["subject_public_key_info"]
    assert spki["algorithm"]["algorithm"].dotted == "1.2.840.10045.2.1"
    assert spki["algorithm"]["parameters"].chosen.dotted == "1.2.156.10197.1.301"
    assert spki["public_key"].native == b"\x04" + org.signing.public
    r, s = sm2.der_to_rs(cert["signature_value"].native)
    tbs = cert["tbs_certificate"].dump()
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert get_suite("gm").verify(ca.public_key, tbs, raw)
    assert cert.serial_number == 1001
    assert cert.subject.native["serial_number"] == SUBJECT.uscc


def test_openssl_accepts_both_suites_certificates(tmp_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl command not installed")
    when = str(int((NOW + timedelta(days=1)).timestamp()))
    for name in SUITES:
        ca = CertificateAuthority.create(name, "Interop CA", now=NOW, validity_days=3650)
        org = Org(get_suite(name), ca)
        (tmp_path / f"{name}-ca.pem").write_text(ca.certificate_pem)
        for usage, pem in (("signing", org.signing_pem), ("encryption", org.encryption_pem)):
            (tmp_path / f"{name}-{usage}.pem").write_text(pem)
            args = [openssl, "verify", "-attime", when, "-CAfile", str(tmp_path / f"{name}-ca.pem")]
            if name == "gm":
                args += ["-vfyopt", "distid:1234567812345678"]
            result = subprocess.run(
                [*args, str(tmp_path / f"{name}-{usage}.pem")], capture_output=True, text=True, check=False
            )
            if name == "gm" and "distid" in result.stderr:
                pytest.skip("this openssl cannot verify SM2 certificates")
            assert result.returncode == 0, result.stdout + result.stderr
            assert ": OK" in result.stdout


# --- refusing bad requests ----


def test_issue_refuses_invalid_uscc(suite: CryptoSuite, ca: CertificateAuthority) -> None:
    bad = replace(SUBJECT, uscc="91350100M000100Y44")
    with pytest.raises(ValidationFailed) as exc:
        ca.issue(bad, suite.generate_signing_keypair().public, "signing", 3, NOW, 10)
    assert exc.value.code == "cert.bad_uscc"


@pytest.mark.parametrize(
    "changes",
    [{"common_name": ""}, {"organisation_name": "x" * 65}, {"country": "china"}, {"locality": "  "}],
)
def test_issue_refuses_bad_subject_fields(
    suite: CryptoSuite, ca: CertificateAuthority, changes: dict[str, str]
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        ca.issue(replace(SUBJECT, **changes), suite.generate_signing_keypair().public, "signing", 3, NOW, 10)
    assert exc.value.code == "cert.bad_subject"


@pytest.mark.parametrize(
    ("serial", "days", "usage", "code"),
    [
        (0, 10, "signing", "cert.bad_serial"),
        (2**159, 10, "signing", "cert.bad_serial"),
        (3, 0, "signing", "cert.bad_validity"),
        (3, 5000, "signing", "cert.outlives_ca"),
        (3, 10, "authentication", "cert.bad_usage"),
    ],
)
def test_issue_refuses_bad_requests(
    suite: CryptoSuite, ca: CertificateAuthority, serial: int, days: int, usage: str, code: str
) -> None:
    public = suite.generate_signing_keypair().public
    with pytest.raises(ValidationFailed) as exc:
        ca.issue(SUBJECT, public, usage, serial, NOW, days)  # type: ignore[arg-type]
    assert exc.value.code == code


@pytest.mark.parametrize("public", [b"", b"\x01" * 31, b"\x01" * 64])
def test_issue_refuses_malformed_public_keys(suite: CryptoSuite, ca: CertificateAuthority, public: bytes) -> None:
    if suite.name == "intl" and len(public) == 64:
        public = public[:33]
    with pytest.raises(ValidationFailed) as exc:
        ca.issue(SUBJECT, public, "signing", 3, NOW, 10)
    assert exc.value.code == "crypto.bad_key"


def test_read_certificate_key_reports_usage_without_verifying(
    suite: CryptoSuite, ca: CertificateAuthority, org: Org
) -> None:
    assert read_certificate_key(suite, org.signing_pem) == ("signing", org.signing.public)
    assert read_certificate_key(suite, org.encryption_pem) == ("encryption", org.encryption.public)
    assert read_certificate_key(suite, ca.certificate_pem) == ("ca", ca.public_key)


# --- USCC ----


@pytest.mark.parametrize(
    "code", ["91350100M000100Y43", "9144030071526726XG", "91440300708461136T", "91110000802100433B"]
)
def test_real_uscc_codes_are_valid(code: str) -> None:
    assert is_valid_uscc(code)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # too short
        "91350100M000100Y433",  # too long
        "91350100m000100Y43",  # lower case
        "91350100I000100Y43",  # I is not in the alphabet
        "",
    ],
)
def test_malformed_uscc_codes_are_invalid(code: str) -> None:
    assert not is_valid_uscc(code)
