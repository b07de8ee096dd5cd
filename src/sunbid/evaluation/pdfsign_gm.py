"""国密 (gm) signatures of the report PDF: SM2 with SM3 in a detached CMS ``SignedData``.

The PDF side is exactly the intl one — pyHanko adds each signature in its own incremental update, in an ordinary
signature dictionary (``/Filter /Adobe.PPKLite``, ``/SubFilter /adbe.pkcs7.detached``, ``/ByteRange``,
``/Contents``, ``/M``) — only the CMS inside ``/Contents`` differs (see ``docs/evaluation-report.md``, 国密):

* ``ContentInfo`` / ``SignedData`` / ``encapContentInfo`` use the RFC 5652 content types (``id-signedData``,
  ``id-data``), which every PDF tool parses — not the GB/T 35275 ones (1.2.156.10197.6.1.4.2.x);
* ``digestAlgorithm`` = SM3 (1.2.156.10197.1.401); ``messageDigest`` = SM3 over the ``/ByteRange``;
* signed attributes: ``contentType`` (data), ``signingTime`` (the platform clock), ``messageDigest`` and
  ``signingCertificateV2`` (the SM3 hash of the signer's certificate, RFC 5035);
* ``signatureAlgorithm`` = SM2-with-SM3 (1.2.156.10197.1.501); the signature is SM2 over the DER ``SET OF``
  signed attributes with the default signer id ``1234567812345678`` (GB/T 35276), encoded
  ``SEQUENCE { r, s }``. The verifier also accepts the bare SM2-1 OID (1.2.156.10197.1.301.1) there.

SM2 and SM3 come from :mod:`sunbid.crypto.sm2` (GmSSL); pyHanko has no SM2, so it only builds the CMS around
our signature (a custom :class:`pyhanko.sign.signers.Signer`) and, when verifying, computes the ``/ByteRange``
digest, the coverage and the difference analysis — :func:`gm_signature_status` does the cryptographic checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign import attributes
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import Signer as PyHankoSigner
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator.registry import SimpleCertificateStore

from sunbid.core.errors import DomainError
from sunbid.crypto import gm_asn1, sm2
from sunbid.crypto.certificates import verify_certificate
from sunbid.crypto.x509util import MalformedCertificate, der_to_pem, parse_certificate

__all__ = ["ACCEPTED_SIGNATURE_OIDS", "GmSignatureStatus", "Sm2CmsSigner", "gm_signature_status"]

ACCEPTED_SIGNATURE_OIDS: Final = frozenset({sm2.SM2_SM3_SIGNATURE_OID, gm_asn1.SM2_1_SIGNATURE_OID})
_DATA: Final = "data"
_CONTENT_TYPE_OID: Final = "1.2.840.113549.1.9.3"
_MESSAGE_DIGEST_OID: Final = "1.2.840.113549.1.9.4"
_MAX_SIGNATURE_DER: Final = 72


def _signing_certificate_v2(cert: asn1_x509.Certificate) -> tsp.SigningCertificateV2:
    """RFC 5035 ``SigningCertificateV2`` naming the certificate by its SM3 hash."""
    return tsp.SigningCertificateV2(
        {
            "certs": [
                tsp.ESSCertIDv2(
                    {
                        "hash_algorithm": algos.DigestAlgorithm({"algorithm": gm_asn1.SM3_NAME}),
                        "cert_hash": sm2.sm3(cert.dump()),
                        "issuer_serial": {
                            "issuer": [asn1_x509.GeneralName({"directory_name": cert.issuer})],
                            "serial_number": cert["tbs_certificate"]["serial_number"],
                        },
                    }
                )
            ]
        }
    )


class _SigningCertificateSm3(attributes.CMSAttributeProvider):
    attribute_type: str = "signing_certificate_v2"

    def __init__(self, cert: asn1_x509.Certificate) -> None:
        self.cert = cert

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return _signing_certificate_v2(self.cert)


class _GmSignedAttributes(attributes.SignedAttributeProviderSpec):
    """signingTime and signingCertificateV2 (SM3); pyHanko's Signer adds contentType and messageDigest."""

    def __init__(self, cert: asn1_x509.Certificate, signing_time: datetime) -> None:
        self.cert = cert
        self.signing_time = signing_time

    def signed_attr_providers(
        self, data_digest: bytes, digest_algorithm: str
    ) -> Iterable[attributes.CMSAttributeProvider]:
        yield attributes.SigningTimeProvider(timestamp=self.signing_time)
        yield _SigningCertificateSm3(self.cert)


class Sm2CmsSigner(PyHankoSigner):
    """A pyHanko signer whose raw signature is SM2 with SM3 (GmSSL), over the DER signed attributes."""

    def __init__(
        self,
        private_key: bytes,
        signing_cert: asn1_x509.Certificate,
        ca: asn1_x509.Certificate,
        signing_time: datetime,
    ) -> None:
        super().__init__(
            signing_cert=signing_cert,
            cert_registry=SimpleCertificateStore.from_certs([ca]),  # type: ignore[no-untyped-call]
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": gm_asn1.SM2_SM3_NAME}),
        )
        self._private = private_key
        self._public = sm2.public_from_private(private_key)
        self.signed_attr_prov_spec = _GmSignedAttributes(signing_cert, signing_time)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != gm_asn1.SM3_NAME:
            raise SigningError(f"SM2 signatures here use SM3, not {digest_algorithm}")
        if dry_run:
            return bytes(_MAX_SIGNATURE_DER)
        return sm2.sign_digest_der(self._private, sm2.message_digest(self._public, data))


@dataclass(frozen=True, slots=True)
class GmSignatureStatus:
    """The same indicators pyHanko's ``PdfSignatureStatus`` gives the intl path."""

    intact: bool
    valid: bool
    trusted: bool
    coverage: SignatureCoverageLevel | None
    modification_level: ModificationLevel | None
    certificate_problem: DomainError | None = None


_SIGNING_CERTIFICATE_V2_OID: Final = "1.2.840.113549.1.9.16.2.47"
_ALGORITHM_PROTECTION_OID: Final = "1.2.840.113549.1.9.52"


def _attribute_values(signed_attrs: cms.CMSAttributes, oid: str) -> list[Any]:
    return [attr["values"] for attr in signed_attrs if attr["type"].dotted == oid]


def _unique_attribute(signed_attrs: cms.CMSAttributes, oid: str) -> Any:
    values = _attribute_values(signed_attrs, oid)
    if len(values) != 1 or len(values[0]) != 1:
        return None
    return values[0][0]


def _modification_level(sig: Any) -> ModificationLevel | None:
    """As ``PdfSignatureStatus.modification_level``."""
    if sig.diff_result is None:
        if sig.coverage == SignatureCoverageLevel.ENTIRE_REVISION:
            return None
        return ModificationLevel.NONE if sig.coverage == SignatureCoverageLevel.ENTIRE_FILE else ModificationLevel.OTHER
    if isinstance(sig.diff_result, DiffResult):
        level: ModificationLevel = sig.diff_result.modification_level
        return level
    return ModificationLevel.OTHER


def _names_certificate(signed_attrs: cms.CMSAttributes, cert: asn1_x509.Certificate) -> bool:
    """False when a signingCertificateV2 attribute names another certificate (absent: nothing to check)."""
    value = _unique_attribute(signed_attrs, _SIGNING_CERTIFICATE_V2_OID)
    if value is None:
        return not _attribute_values(signed_attrs, _SIGNING_CERTIFICATE_V2_OID)
    try:
        certs = tsp.SigningCertificateV2.load(value.dump())["certs"]
    except (ValueError, TypeError):
        return False
    if len(certs) == 0:
        return False
    first = certs[0]
    algorithm = first["hash_algorithm"]["algorithm"].native
    der = cert.dump()
    if algorithm == gm_asn1.SM3_NAME:
        digest = sm2.sm3(der)
    elif algorithm in hashlib.algorithms_guaranteed:
        digest = hashlib.new(algorithm, der).digest()
    else:
        return False
    return bytes(first["cert_hash"].native) == digest


def _algorithms_protected(signed_attrs: cms.CMSAttributes, signer_info: cms.SignerInfo) -> bool:
    """False when a CMSAlgorithmProtection attribute (RFC 6211) names other algorithms than the SignerInfo."""
    value = _unique_attribute(signed_attrs, _ALGORITHM_PROTECTION_OID)
    if value is None:
        return not _attribute_values(signed_attrs, _ALGORITHM_PROTECTION_OID)
    try:
        protection = cms.CMSAlgorithmProtection.load(value.dump())
        digest: str = protection["digest_algorithm"]["algorithm"].dotted
        signature = protection["signature_algorithm"]
        named: str | None = None if signature is core.VOID else signature["algorithm"].dotted
    except (ValueError, TypeError, KeyError):
        return False
    expected: tuple[str, str] = (
        signer_info["digest_algorithm"]["algorithm"].dotted,
        signer_info["signature_algorithm"]["algorithm"].dotted,
    )
    return (digest, named) == expected


def _signature_valid(signer_info: cms.SignerInfo, cert: asn1_x509.Certificate) -> bool:
    if signer_info["signature_algorithm"]["algorithm"].dotted not in ACCEPTED_SIGNATURE_OIDS:
        return False
    try:
        parsed = parse_certificate(cert.dump())
    except MalformedCertificate:
        return False
    if parsed.key_algorithm != "sm2":
        return False
    signed_data = signer_info["signed_attrs"].untag().dump()
    signature = bytes(signer_info["signature"].native)
    return sm2.verify_digest_der(parsed.public_key, sm2.message_digest(parsed.public_key, signed_data), signature)


def gm_signature_status(sig: Any, ca_cert_pem: str, moment: datetime) -> GmSignatureStatus:
    """Check one embedded gm signature (a pyHanko ``EmbeddedPdfSignature``) offline against the centre CA.

    * intact — the digest algorithm is SM3, the signed attributes hold exactly one ``contentType`` (data) and one
      ``messageDigest``, equal to SM3 over the ``/ByteRange``, any ``signingCertificateV2`` names the signer's
      certificate and any ``CMSAlgorithmProtection`` names the SignerInfo's algorithms;
    * valid — the SM2 signature over the signed attributes verifies with the certificate's public key;
    * trusted — the certificate was issued by the CA, is a signing certificate and was in force at ``moment``
      (:func:`sunbid.crypto.certificates.verify_certificate`; revocation is the caller's);
    * coverage and modification level — pyHanko's, exactly as for intl signatures.
    """
    sig.compute_integrity_info()
    coverage: SignatureCoverageLevel | None = sig.coverage
    level = _modification_level(sig)
    signer_info: cms.SignerInfo = sig.signer_info
    cert: asn1_x509.Certificate = sig.signer_cert
    signed_attrs = signer_info["signed_attrs"]
    if signed_attrs is core.VOID or not isinstance(signed_attrs, cms.CMSAttributes):
        return GmSignatureStatus(False, False, False, coverage, level)
    content_type = _unique_attribute(signed_attrs, _CONTENT_TYPE_OID)
    embedded = _unique_attribute(signed_attrs, _MESSAGE_DIGEST_OID)
    intact = (
        sig.md_algorithm == gm_asn1.SM3_NAME
        and content_type is not None
        and content_type.native == _DATA
        and embedded is not None
        and bytes(embedded.native) == sig.compute_digest()
        and _names_certificate(signed_attrs, cert)
        and _algorithms_protected(signed_attrs, signer_info)
    )
    valid = _signature_valid(signer_info, cert)
    problem: DomainError | None = None
    try:
        verify_certificate("gm", ca_cert_pem, der_to_pem(cert.dump()), now=moment, usage="signing")
    except DomainError as exc:
        problem = exc
    return GmSignatureStatus(intact, valid, problem is None, coverage, level, problem)
