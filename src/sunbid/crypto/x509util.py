"""X.509 plumbing on ``asn1crypto``: parsing for both suites, and building SM2 certificates.

``cryptography`` builds the international certificates; it cannot sign with SM2, so 国密 certificates are
assembled here as plain X.509 v3 DER:

* subject public key: ``id-ecPublicKey`` (1.2.840.10045.2.1) with named curve ``sm2p256v1``
  (1.2.156.10197.1.301) and the uncompressed point ``04 ‖ x ‖ y``;
* signature algorithm ``SM2-with-SM3`` (1.2.156.10197.1.501, parameters absent) and the signature value
  ``SEQUENCE { r INTEGER, s INTEGER }`` (GB/T 35276), computed over the DER ``TBSCertificate`` with the
  default user id ``1234567812345678``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import core, keys, pem
from asn1crypto import x509 as asn1_x509

from sunbid.crypto import errors, sm2
from sunbid.crypto.suite import CryptoSuite, resolve_suite

ED25519_OID = "1.3.101.112"
X25519_OID = "1.3.101.110"
EC_PUBLIC_KEY_OID = "1.2.840.10045.2.1"

SIGNATURE_OID = {"intl": ED25519_OID, "gm": sm2.SM2_SM3_SIGNATURE_OID}
KEY_ALGORITHM = {
    ("intl", "signing"): "ed25519",
    ("intl", "encryption"): "x25519",
    ("intl", "ca"): "ed25519",
    ("gm", "signing"): "sm2",
    ("gm", "encryption"): "sm2",
    ("gm", "ca"): "sm2",
}
_ENCRYPTION_BITS = frozenset({"key_encipherment", "key_agreement", "data_encipherment"})

# The subject attributes sunbid writes, in the order they appear in the DN.
NAME_FIELDS: tuple[tuple[str, str], ...] = (
    ("country", "country_name"),
    ("province", "state_or_province_name"),
    ("locality", "locality_name"),
    ("organisation_name", "organization_name"),
    ("organisational_unit", "organizational_unit_name"),
    ("common_name", "common_name"),
    ("uscc", "serial_number"),
)
_PRINTABLE = {"country_name", "serial_number"}


class MalformedCertificate(ValueError):
    """The bytes are not a certificate sunbid can read."""


@dataclass(frozen=True, slots=True)
class ParsedCertificate:
    """The parts of a certificate the verifier needs (nothing here is verified yet)."""

    der: bytes
    tbs: bytes
    signature_algorithm: str
    signature: bytes
    serial: int
    issuer_der: bytes
    subject_der: bytes
    subject: dict[str, str]
    not_before: datetime
    not_after: datetime
    key_algorithm: str  # "ed25519" | "x25519" | "sm2"
    public_key: bytes
    is_ca: bool
    key_usage: frozenset[str]
    subject_key_id: bytes | None
    authority_key_id: bytes | None


def pem_to_der(text: str | bytes) -> bytes:
    """The DER inside a single ``CERTIFICATE`` PEM block."""
    data = text.encode("ascii", "strict") if isinstance(text, str) else text
    if not pem.detect(data):
        raise MalformedCertificate("not PEM")
    kind, _headers, der = pem.unarmor(data)
    if kind != "CERTIFICATE":
        raise MalformedCertificate(f"PEM block is {kind}, not CERTIFICATE")
    return bytes(der)


def der_to_pem(der: bytes) -> str:
    """Armor DER as a ``CERTIFICATE`` PEM block."""
    return bytes(pem.armor("CERTIFICATE", der)).decode("ascii")


def _as_utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise MalformedCertificate("bad time")
    return value.astimezone(UTC)


def _public_key(spki: keys.PublicKeyInfo) -> tuple[str, bytes]:
    algorithm = spki["algorithm"]["algorithm"].dotted
    bits = bytes(spki["public_key"].contents)
    if not bits or bits[0] != 0:
        raise MalformedCertificate("public key BIT STRING has unused bits")
    raw = bits[1:]
    if algorithm in (ED25519_OID, X25519_OID):
        if len(raw) != 32 or spki["algorithm"]["parameters"].native is not None:
            raise MalformedCertificate("bad curve25519 public key")
        return ("ed25519" if algorithm == ED25519_OID else "x25519"), raw
    if algorithm == EC_PUBLIC_KEY_OID:
        params = spki["algorithm"]["parameters"]
        if params.name != "named" or params.chosen.dotted != sm2.CURVE_OID:
            raise MalformedCertificate("EC key is not on sm2p256v1")
        if len(raw) != 65 or raw[0] != 4 or not sm2.is_valid_public(raw[1:]):
            raise MalformedCertificate("bad SM2 public key point")
        return "sm2", raw[1:]
    raise MalformedCertificate(f"unsupported public key algorithm {algorithm}")


def _subject_fields(name: asn1_x509.Name) -> dict[str, str]:
    wanted = {asn1: ours for ours, asn1 in NAME_FIELDS}
    fields: dict[str, str] = {}
    for rdn in name.chosen:
        for attribute in rdn:
            ours = wanted.get(attribute["type"].native)
            if ours is None:
                continue
            if ours in fields:
                raise MalformedCertificate(f"repeated subject attribute {ours}")
            value = attribute["value"].native
            if not isinstance(value, str):
                raise MalformedCertificate(f"subject attribute {ours} is not a string")
            fields[ours] = value
    return fields


def parse_certificate(der: bytes) -> ParsedCertificate:
    """Parse a DER certificate of either suite; :class:`MalformedCertificate` if unreadable."""
    try:
        cert = asn1_x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        if tbs["version"].native != "v3":
            raise MalformedCertificate("not an X.509 v3 certificate")
        signature_bits = bytes(cert["signature_value"].contents)
        if not signature_bits or signature_bits[0] != 0:
            raise MalformedCertificate("signature BIT STRING has unused bits")
        outer_alg = cert["signature_algorithm"]["algorithm"].dotted
        if tbs["signature"]["algorithm"].dotted != outer_alg:
            raise MalformedCertificate("inner and outer signature algorithms differ")
        key_algorithm, public_key = _public_key(tbs["subject_public_key_info"])
        unknown_critical = set(cert.critical_extensions) - {"basic_constraints", "key_usage"}
        if unknown_critical:
            raise MalformedCertificate(f"unsupported critical extensions {sorted(map(str, unknown_critical))}")
        basic = cert.basic_constraints_value
        key_usage = cert.key_usage_value
        ski = cert.key_identifier_value
        aki = cert.authority_key_identifier_value
        return ParsedCertificate(
            der=der,
            tbs=tbs.dump(),
            signature_algorithm=outer_alg,
            signature=signature_bits[1:],
            serial=int(tbs["serial_number"].native),
            issuer_der=tbs["issuer"].dump(),
            subject_der=tbs["subject"].dump(),
            subject=_subject_fields(tbs["subject"]),
            not_before=_as_utc(tbs["validity"]["not_before"].native),
            not_after=_as_utc(tbs["validity"]["not_after"].native),
            key_algorithm=key_algorithm,
            public_key=public_key,
            is_ca=bool(basic is not None and basic["ca"].native),
            key_usage=frozenset(key_usage.native) if key_usage is not None else frozenset(),
            subject_key_id=bytes(ski.native) if ski is not None else None,
            authority_key_id=(
                bytes(aki["key_identifier"].native)
                if aki is not None and aki["key_identifier"].native is not None
                else None
            ),
        )
    except MalformedCertificate:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        raise MalformedCertificate(str(exc)) from exc


# --- building SM2 certificates ----


def build_name(fields: dict[str, str | None]) -> asn1_x509.Name:
    """A DN, one attribute per RDN in :data:`NAME_FIELDS` order (PrintableString for C and serialNumber)."""
    rdns = []
    for ours, asn1 in NAME_FIELDS:
        value = fields.get(ours)
        if value is None:
            continue
        kind = "printable_string" if asn1 in _PRINTABLE else "utf8_string"
        directory = asn1_x509.DirectoryString(name=kind, value=value)
        rdns.append(asn1_x509.RelativeDistinguishedName([{"type": asn1, "value": directory}]))
    return asn1_x509.Name(name="", value=asn1_x509.RDNSequence(rdns))


def _time(when: datetime) -> asn1_x509.Time:
    when = when.astimezone(UTC)
    return asn1_x509.Time(name="utc_time" if when.year < 2050 else "general_time", value=when)


def sm2_spki(public: bytes) -> keys.PublicKeyInfo:
    """``SubjectPublicKeyInfo`` for an SM2 public key ``x ‖ y``."""
    algorithm = keys.PublicKeyAlgorithm(
        {
            "algorithm": EC_PUBLIC_KEY_OID,
            "parameters": keys.ECDomainParameters(name="named", value=sm2.CURVE_OID),
        }
    )
    return keys.PublicKeyInfo({"algorithm": algorithm, "public_key": b"\x04" + public})


def sm2_key_id(public: bytes) -> bytes:
    """Key identifier of an SM2 key: the first 20 bytes of SM3 over ``04 ‖ x ‖ y``."""
    return sm2.sm3(b"\x04" + public)[:20]


def build_sm2_certificate(
    *,
    issuer: asn1_x509.Name,
    issuer_private: bytes,
    issuer_key_id: bytes,
    subject: asn1_x509.Name,
    subject_public: bytes,
    serial: int,
    not_before: datetime,
    not_after: datetime,
    is_ca: bool,
    key_usage: set[str],
) -> bytes:
    """A DER X.509 v3 certificate signed with SM2-with-SM3 by ``issuer_private``."""
    signature_algorithm = {"algorithm": sm2.SM2_SM3_SIGNATURE_OID}
    extensions: list[dict[str, Any]] = [
        {
            "extn_id": "basic_constraints",
            "critical": True,
            "extn_value": {"ca": True, "path_len_constraint": 0} if is_ca else {"ca": False},
        },
        {"extn_id": "key_usage", "critical": True, "extn_value": key_usage},
        {"extn_id": "key_identifier", "critical": False, "extn_value": sm2_key_id(subject_public)},
    ]
    if not is_ca:
        extensions.append(
            {
                "extn_id": "authority_key_identifier",
                "critical": False,
                "extn_value": {"key_identifier": issuer_key_id},
            }
        )
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": signature_algorithm,
            "issuer": issuer,
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": subject,
            "subject_public_key_info": sm2_spki(subject_public),
            "extensions": extensions,
        }
    )
    tbs_der = tbs.dump()
    issuer_public = sm2.public_from_private(issuer_private)
    signature = sm2.sign_digest_der(issuer_private, sm2.message_digest(issuer_public, tbs_der))
    certificate = asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": signature_algorithm,
            "signature_value": core.OctetBitString(signature),
        }
    )
    return bytes(certificate.dump())


# --- reading certificates ----


def usage_of(parsed: ParsedCertificate) -> str | None:
    """``"ca"``, ``"signing"``, ``"encryption"`` or None, from basicConstraints and key usage bits."""
    bits = parsed.key_usage
    if parsed.is_ca or "key_cert_sign" in bits:
        return "ca"
    if "digital_signature" in bits and not bits & _ENCRYPTION_BITS:
        return "signing"
    if bits & {"key_encipherment", "key_agreement"} and "digital_signature" not in bits:
        return "encryption"
    return None


def parse_pem(cert_pem: str | bytes, which: str) -> ParsedCertificate:
    """Parse a PEM certificate; ``cert.malformed`` (naming ``which`` certificate) if unreadable."""
    try:
        return parse_certificate(pem_to_der(cert_pem))
    except (MalformedCertificate, ValueError, UnicodeError) as exc:
        raise errors.cert_error("cert.malformed", {"certificate": which, "reason": str(exc)}) from exc


def read_certificate_key(suite: CryptoSuite | str, cert_pem: str | bytes) -> tuple[str, bytes]:
    """``(usage, raw public key)`` of a certificate, **without verifying it** (for bundles and display).

    ``usage`` is ``"signing"``, ``"encryption"`` or ``"ca"``; ``cert.malformed`` if unreadable or of another
    suite.
    """
    suite = resolve_suite(suite)
    parsed = parse_pem(cert_pem, "subject")
    found = usage_of(parsed)
    if (
        found is None
        or parsed.signature_algorithm != SIGNATURE_OID[suite.name]
        or parsed.key_algorithm != KEY_ALGORITHM[(suite.name, found)]
    ):
        raise errors.cert_error("cert.malformed", {"reason": f"not a {suite.name} certificate sunbid issues"})
    return found, parsed.public_key
