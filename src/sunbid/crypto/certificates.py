"""The centre's own certificate authority (CA) for both suites, and certificate verification.

Every organisation holds two certificates (双证书): one for its signing key (key usage digitalSignature +
nonRepudiation) and one for its encryption key (keyAgreement for X25519; keyEncipherment + keyAgreement for
SM2). The organisation's 统一社会信用代码 (USCC) is the subject's ``serialNumber`` attribute (2.5.4.5).

* ``intl``: real X.509 built and signed by ``cryptography`` (Ed25519 CA; Ed25519 / X25519 subject keys).
* ``gm``: real X.509 assembled with ``asn1crypto`` and signed with SM2-with-SM3 (see ``x509util``).

Revocation is the caller's business (the database knows revoked serials); there are no CRLs here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509.oid import NameOID

from sunbid.core.clock import ensure_utc
from sunbid.core.errors import ValidationFailed
from sunbid.crypto import errors, sm2
from sunbid.crypto.bundle import KeyBundle, export_bundle, export_pkcs12, import_bundle
from sunbid.crypto.suite import CryptoSuite, resolve_suite
from sunbid.crypto.x509util import (
    KEY_ALGORITHM,
    NAME_FIELDS,
    SIGNATURE_OID,
    ParsedCertificate,
    build_name,
    build_sm2_certificate,
    der_to_pem,
    parse_pem,
    read_certificate_key,
    sm2_key_id,
    usage_of,
)

__all__ = [
    "USAGES",
    "CertificateAuthority",
    "CertificateInfo",
    "KeyBundle",
    "Subject",
    "Usage",
    "export_bundle",
    "export_pkcs12",
    "import_bundle",
    "is_valid_uscc",
    "read_certificate_key",
    "verify_certificate",
]

Usage = Literal["signing", "encryption"]
USAGES: tuple[Usage, ...] = ("signing", "encryption")

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MAX_SERIAL = 2**159 - 1
_NAME_OIDS = {
    "country": NameOID.COUNTRY_NAME,
    "province": NameOID.STATE_OR_PROVINCE_NAME,
    "locality": NameOID.LOCALITY_NAME,
    "organisation_name": NameOID.ORGANIZATION_NAME,
    "organisational_unit": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "common_name": NameOID.COMMON_NAME,
    "uscc": NameOID.SERIAL_NUMBER,
}


def is_valid_uscc(code: str) -> bool:
    """True if ``code`` is a well-formed 统一社会信用代码 with the right check character (GB 32100-2015)."""
    if len(code) != 18 or any(c not in _USCC_CHARS for c in code):
        return False
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31] == code[17]


def _bad_request(code: str, zh: str, en: str, **details: object) -> ValidationFailed:
    return errors.cert_invalid_request(code, zh, en, dict(details))


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a certificate names: an organisation and its USCC."""

    common_name: str
    organisation_name: str
    uscc: str
    country: str = "CN"
    province: str | None = None
    locality: str | None = None
    organisational_unit: str | None = None

    def validate(self) -> None:
        """``cert.bad_subject`` / ``cert.bad_uscc`` if the subject cannot go into a certificate."""
        if not is_valid_uscc(self.uscc):
            raise _bad_request(
                "cert.bad_uscc",
                "统一社会信用代码不正确",
                "The unified social credit code is invalid",
                uscc=self.uscc,
            )
        if len(self.country) != 2 or not (self.country.isascii() and self.country.isalpha() and self.country.isupper()):
            raise _bad_request("cert.bad_subject", "国家代码须为两位大写字母", "Country must be two capital letters")
        for attr in ("common_name", "organisation_name", "province", "locality", "organisational_unit"):
            value = getattr(self, attr)
            if value is None:
                continue
            if not value.strip() or len(value) > 64:
                raise _bad_request(
                    "cert.bad_subject",
                    f"证书主体字段 {attr} 须为 1–64 个字符",
                    f"Subject field {attr} must be 1-64 characters",
                    field=attr,
                )

    def name_fields(self) -> dict[str, str | None]:
        """The DN attributes, keyed by this class's field names."""
        return {ours: getattr(self, ours) for ours, _asn1 in NAME_FIELDS}


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What a verified certificate says."""

    suite: str
    serial: int
    subject: Subject
    usage: Usage
    public_key: bytes
    not_before: datetime
    not_after: datetime
    fingerprint: str
    """Hex suite hash (SHA-256 or SM3) of the DER certificate."""
    public_key_fingerprint: str
    """Hex suite hash of the raw public key (as :meth:`CryptoSuite.public_key_fingerprint`)."""


def _key_usage_bits(suite: str, usage: str) -> set[str]:
    if usage == "signing":
        return {"digital_signature", "non_repudiation"}
    if usage == "encryption":
        return {"key_agreement"} if suite == "intl" else {"key_encipherment", "key_agreement"}
    return {"key_cert_sign", "crl_sign"}


def _check_signature(suite: CryptoSuite, issuer_public: bytes, parsed: ParsedCertificate) -> bool:
    if suite.name == "gm":
        try:
            r, s = sm2.der_to_rs(parsed.signature)
        except ValueError:
            return False
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = parsed.signature
    return suite.verify(issuer_public, parsed.tbs, signature)


def _check_ca(suite: CryptoSuite, ca: ParsedCertificate) -> None:
    if (
        usage_of(ca) != "ca"
        or ca.signature_algorithm != SIGNATURE_OID[suite.name]
        or ca.key_algorithm != KEY_ALGORITHM[(suite.name, "ca")]
    ):
        raise errors.cert_error("cert.malformed", {"certificate": "ca", "reason": f"not a {suite.name} CA"})


def verify_certificate(
    suite: CryptoSuite | str,
    ca_cert_pem: str | bytes,
    cert_pem: str | bytes,
    *,
    now: datetime,
    usage: Usage | None = None,
) -> CertificateInfo:
    """Check that ``cert_pem`` was issued by the CA, is in force at ``now`` and is a signing/encryption cert.

    Raises a DomainError (kind UNAUTHENTICATED) with code ``cert.malformed``, ``cert.wrong_issuer``,
    ``cert.bad_signature``, ``cert.not_yet_valid``, ``cert.expired`` or ``cert.wrong_usage`` (also when
    ``usage`` is given and differs). Revocation is not checked here.
    """
    suite = resolve_suite(suite)
    now = ensure_utc(now)
    ca = parse_pem(ca_cert_pem, "ca")
    _check_ca(suite, ca)
    leaf = parse_pem(cert_pem, "subject")
    details: dict[str, object] = {"serial": leaf.serial}
    if leaf.issuer_der != ca.subject_der or (
        leaf.authority_key_id is not None and leaf.authority_key_id != ca.subject_key_id
    ):
        raise errors.cert_error("cert.wrong_issuer", details)
    if leaf.signature_algorithm != SIGNATURE_OID[suite.name]:
        raise errors.cert_error("cert.malformed", {**details, "reason": "signature algorithm of another suite"})
    if not _check_signature(suite, ca.public_key, leaf):
        raise errors.cert_error("cert.bad_signature", details)
    for which, cert in (("ca", ca), ("subject", leaf)):
        if now < cert.not_before:
            raise errors.cert_error("cert.not_yet_valid", {**details, "certificate": which})
        if now > cert.not_after:
            raise errors.cert_error("cert.expired", {**details, "certificate": which})
    found = usage_of(leaf)
    if found not in USAGES or (usage is not None and found != usage):
        raise errors.cert_error("cert.wrong_usage", {**details, "usage": found, "expected": usage})
    if leaf.key_algorithm != KEY_ALGORITHM[(suite.name, found)]:
        raise errors.cert_error("cert.malformed", {**details, "reason": "key algorithm does not fit the usage"})
    fields = leaf.subject
    if not all(fields.get(k) for k in ("common_name", "organisation_name", "uscc")):
        raise errors.cert_error("cert.malformed", {**details, "reason": "subject lacks CN, O or serialNumber"})
    subject = Subject(
        common_name=fields["common_name"],
        organisation_name=fields["organisation_name"],
        uscc=fields["uscc"],
        country=fields.get("country", ""),
        province=fields.get("province"),
        locality=fields.get("locality"),
        organisational_unit=fields.get("organisational_unit"),
    )
    return CertificateInfo(
        suite=suite.name,
        serial=leaf.serial,
        subject=subject,
        usage="signing" if found == "signing" else "encryption",
        public_key=leaf.public_key,
        not_before=leaf.not_before,
        not_after=leaf.not_after,
        fingerprint=suite.digest(leaf.der).hex(),
        public_key_fingerprint=suite.public_key_fingerprint(leaf.public_key),
    )


def _validity(now: datetime, validity_days: int) -> tuple[datetime, datetime]:
    if validity_days <= 0:
        raise _bad_request("cert.bad_validity", "有效期须大于零天", "Validity must be at least one day")
    start = ensure_utc(now).replace(microsecond=0)
    return start, start + timedelta(days=validity_days)


def _intl_name(fields: dict[str, str | None]) -> x509.Name:
    return x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(_NAME_OIDS[ours], value)])
            for ours, _asn1 in NAME_FIELDS
            if (value := fields.get(ours)) is not None
        ]
    )


def _random_serial() -> int:
    return int.from_bytes(os.urandom(16), "big") >> 1 | 1


@dataclass(frozen=True)
class CertificateAuthority:
    """The centre's CA: a private key and its self-signed certificate, for one suite."""

    suite: CryptoSuite
    _private_key: bytes = field(repr=False)
    certificate_pem: str
    _parsed: ParsedCertificate = field(repr=False, compare=False)

    @classmethod
    def create(
        cls,
        suite: CryptoSuite | str,
        common_name: str,
        *,
        now: datetime,
        validity_days: int,
        organisation_name: str | None = None,
    ) -> CertificateAuthority:
        """A new CA with a fresh key and a self-signed certificate (basicConstraints CA, pathLen 0)."""
        suite = resolve_suite(suite)
        for value in (common_name, organisation_name):
            if value is not None and (not value.strip() or len(value) > 64):
                raise _bad_request("cert.bad_subject", "CA 名称须为 1–64 个字符", "CA names must be 1-64 characters")
        start, end = _validity(now, validity_days)
        keypair = suite.generate_signing_keypair()
        fields: dict[str, str | None] = {
            "country": "CN",
            "organisation_name": organisation_name,
            "common_name": common_name,
        }
        usage_bits = _key_usage_bits(suite.name, "ca")
        serial = _random_serial()
        if suite.name == "intl":
            key = ed25519.Ed25519PrivateKey.from_private_bytes(keypair.private)
            name = _intl_name(fields)
            builder = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(start)
                .not_valid_after(end)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_intl_key_usage(usage_bits), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            )
            pem = builder.sign(key, algorithm=None).public_bytes(serialization.Encoding.PEM).decode("ascii")
        else:
            name_asn1 = build_name(fields)
            der = build_sm2_certificate(
                issuer=name_asn1,
                issuer_private=keypair.private,
                issuer_key_id=sm2_key_id(keypair.public),
                subject=name_asn1,
                subject_public=keypair.public,
                serial=serial,
                not_before=start,
                not_after=end,
                is_ca=True,
                key_usage=usage_bits,
            )
            pem = der_to_pem(der)
        return cls.load(suite, keypair.private, pem)

    @classmethod
    def load(cls, suite: CryptoSuite | str, private_key_bytes: bytes, cert_pem: str) -> CertificateAuthority:
        """Rebuild a CA from its stored private key and certificate; ``cert.key_mismatch`` if they differ."""
        suite = resolve_suite(suite)
        parsed = parse_pem(cert_pem, "ca")
        _check_ca(suite, parsed)
        if suite.signing_public_key(private_key_bytes) != parsed.public_key:
            raise _bad_request(
                "cert.key_mismatch",
                "CA 私钥与证书不匹配",
                "The CA private key does not match its certificate",
            )
        return cls(suite, private_key_bytes, cert_pem, parsed)

    def private_key_bytes(self) -> bytes:
        """The CA's raw private key (store it encrypted)."""
        return self._private_key

    @property
    def public_key(self) -> bytes:
        """The CA's raw public key."""
        return self._parsed.public_key

    @property
    def not_after(self) -> datetime:
        """When the CA certificate expires."""
        return self._parsed.not_after

    def issue(
        self,
        subject: Subject,
        public_key: bytes,
        usage: Usage,
        serial: int,
        now: datetime,
        validity_days: int,
    ) -> str:
        """Issue a signing or encryption certificate for ``public_key``; returns PEM.

        ``serial`` must be unique per CA (the caller allocates it). The certificate may not outlive the CA
        (``cert.outlives_ca``).
        """
        subject.validate()
        if usage not in USAGES:
            raise _bad_request("cert.bad_usage", "证书用途须为签名或加密", "Usage must be signing or encryption")
        if not 1 <= serial <= _MAX_SERIAL:
            raise _bad_request("cert.bad_serial", "证书序列号超出范围", "Certificate serial out of range")
        start, end = _validity(now, validity_days)
        if end > self._parsed.not_after or start < self._parsed.not_before:
            raise _bad_request(
                "cert.outlives_ca",
                "证书有效期超出 CA 证书有效期",
                "The certificate would outlive the CA certificate",
            )
        usage_bits = _key_usage_bits(self.suite.name, usage)
        if self.suite.name == "intl":
            return self._issue_intl(subject, public_key, usage, usage_bits, serial, start, end)
        if not sm2.is_valid_public(public_key):
            raise errors.bad_key("SM2 public key must be 64 bytes x ‖ y on the curve")
        der = build_sm2_certificate(
            issuer=asn1_x509.Name.load(self._parsed.subject_der),
            issuer_private=self._private_key,
            issuer_key_id=self._parsed.subject_key_id or sm2_key_id(self.public_key),
            subject=build_name(subject.name_fields()),
            subject_public=public_key,
            serial=serial,
            not_before=start,
            not_after=end,
            is_ca=False,
            key_usage=usage_bits,
        )
        return der_to_pem(der)

    def _issue_intl(
        self,
        subject: Subject,
        public_key: bytes,
        usage: Usage,
        usage_bits: set[str],
        serial: int,
        start: datetime,
        end: datetime,
    ) -> str:
        if len(public_key) != 32:
            raise errors.bad_key("Ed25519 / X25519 public keys are 32 bytes")
        subject_key: ed25519.Ed25519PublicKey | x25519.X25519PublicKey
        if usage == "signing":
            subject_key = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
        else:
            subject_key = x25519.X25519PublicKey.from_public_bytes(public_key)
        ca_cert = x509.load_pem_x509_certificate(self.certificate_pem.encode("ascii"))
        ca_key_id = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(_intl_name(subject.name_fields()))
            .issuer_name(ca_cert.subject)
            .public_key(subject_key)
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_intl_key_usage(usage_bits), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id), critical=False)
        )
        key = ed25519.Ed25519PrivateKey.from_private_bytes(self._private_key)
        return builder.sign(key, algorithm=None).public_bytes(serialization.Encoding.PEM).decode("ascii")


def _intl_key_usage(bits: set[str]) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature="digital_signature" in bits,
        content_commitment="non_repudiation" in bits,
        key_encipherment="key_encipherment" in bits,
        data_encipherment="data_encipherment" in bits,
        key_agreement="key_agreement" in bits,
        key_cert_sign="key_cert_sign" in bits,
        crl_sign="crl_sign" in bits,
        encipher_only=False,
        decipher_only=False,
    )
