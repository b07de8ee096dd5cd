"""Signing and verifying the evaluation report PDF (SPEC E-5): every committee member, group leader first.

Each member signs with their own signing key and certificate from the centre CA; each signature is a PAdES
(``ETSI.CAdES.detached``) signature made by pyHanko in its own incremental update, so earlier signatures stay
valid. The signing time is the platform clock's (``at``), written both as the CMS ``signingTime`` and the
signature dictionary's ``/M``; there is no external time-stamp authority (see ``docs/evaluation-report.md``).

:func:`verify_report` checks, offline, with only the CA certificate:

* the attached content (``evaluation-report.json``) is present, canonical, and hashes to the value named in the
  document's keywords (the footer prints the same hash);
* every signature is intact (the signed byte ranges hash to the signed digest) and cryptographically valid;
* every signer's certificate chains to the given CA, is a signing certificate, and was in force when it signed;
* the *i*-th signature is by the *i*-th member of the signing order (leader first) — matched by the certificate
  fingerprint the report names for each member;
* signing times never go backwards, each later revision only adds signatures (pyHanko's difference analysis),
  and nothing was appended after the last signature.

Suites: ``intl`` certificates (Ed25519 keys) are signed and validated by pyHanko. ``gm`` (SM2) certificates are
signed the same way — same incremental updates, fields, times and checks — with an SM2-with-SM3 CMS in an
``adbe.pkcs7.detached`` signature dictionary (:mod:`sunbid.evaluation.pdfsign_gm`): pyHanko has no SM2, so the
CMS signature, the SM3 ``messageDigest`` and the certificate are checked there, while the ``/ByteRange``
coverage and the difference analysis are pyHanko's, as for intl.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from asn1crypto import keys as asn1_keys
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sunbid.core.clock import ensure_utc
from sunbid.core.errors import Conflict, DomainError, Forbidden, IntegrityFailure, ValidationFailed
from sunbid.crypto import gm_asn1
from sunbid.crypto.certificates import CertificateInfo, verify_certificate
from sunbid.crypto.suite import resolve_suite
from sunbid.evaluation.report_model import ATTACHMENT_NAME, FORMAT, KEYWORD_PREFIX, canonical_json, content_sha256

__all__ = [
    "SUPPORTED_SUITES",
    "Problem",
    "ReportVerification",
    "SignatureCheck",
    "Signer",
    "sign_report",
    "verify_report",
]

SUPPORTED_SUITES: Final = frozenset({"intl", "gm"})
gm_asn1.register()  # before any CMS is parsed: pyHanko reads the digest algorithm's name (``sm3``) at parse time
MAX_REPORT_BYTES: Final = 64 << 20
_FIELD_PREFIX: Final = "sunbid-signature-"


@dataclass(frozen=True, slots=True)
class Signer:
    """A member's signing key (raw, as in their key bundle) and signing certificate (PEM)."""

    private_key: bytes = field(repr=False)
    certificate_pem: str


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason the report does not verify."""

    code: str
    message_zh: str
    message_en: str
    signature: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "signature": self.signature,
        }


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What was found about one signature (``index`` counts from 1, in file order)."""

    index: int
    field_name: str
    signer_name: str
    certificate_fingerprint: str
    member_id: str | None
    expected_member_id: str | None
    signed_at: datetime | None
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modification: str
    ok: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field_name,
            "signer": self.signer_name,
            "certificate_fingerprint": self.certificate_fingerprint,
            "member": self.member_id,
            "expected_member": self.expected_member_id,
            "signed_at": None if self.signed_at is None else self.signed_at.isoformat(),
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            "coverage": self.coverage,
            "modification": self.modification,
            "ok": self.ok,
        }


@dataclass(slots=True)
class ReportVerification:
    """The verdict on a report PDF: ``ok`` (no problem), ``complete`` (ok and every member has signed)."""

    ok: bool = True
    content_sha256: str | None = None
    project_code: str | None = None
    signing_order: list[dict[str, Any]] = field(default_factory=list)
    signatures: list[SignatureCheck] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.ok and bool(self.signing_order) and len(self.signatures) == len(self.signing_order)

    @property
    def next_signer(self) -> dict[str, Any] | None:
        """The member who signs next (None when complete or broken)."""
        if not self.ok or len(self.signatures) >= len(self.signing_order):
            return None
        return self.signing_order[len(self.signatures)]

    def add(self, code: str, zh: str, en: str, signature: int | None = None) -> None:
        self.ok = False
        self.problems.append(Problem(code, zh, en, signature))

    def codes(self) -> list[str]:
        return [p.code for p in self.problems]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "complete": self.complete,
            "content_sha256": self.content_sha256,
            "project_code": self.project_code,
            "signing_order": self.signing_order,
            "signatures": [s.to_dict() for s in self.signatures],
            "problems": [p.to_dict() for p in self.problems],
        }


# --- helpers -------------------------------------------------------------------------------------------


def _refuse_suite(suite: str) -> ValidationFailed:
    return ValidationFailed(
        "report.suite_unsupported",
        f"评标报告的 PDF 签名不支持证书体系 {suite}（可用：intl、gm）",
        f"PDF signatures of the evaluation report do not support the suite {suite} (use intl or gm)",
        details={"suite": suite},
    )


def _asn1_cert(pem: str | bytes) -> asn1_x509.Certificate:
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    if asn1_pem.detect(data):
        _, _, data = asn1_pem.unarmor(data)
    return asn1_x509.Certificate.load(data)


def _pem(cert: asn1_x509.Certificate) -> str:
    armored: bytes = asn1_pem.armor("CERTIFICATE", cert.dump())
    return armored.decode("ascii")


def _reader(pdf: bytes) -> Any:
    from pyhanko.pdf_utils.reader import PdfFileReader

    return PdfFileReader(io.BytesIO(pdf), strict=False)


def _text(value: Any) -> str:
    return str(value) if value is not None else ""


def _read_content(reader: Any, revision: int | None) -> tuple[dict[str, Any], bytes, str] | None:
    """(content, canonical bytes, keywords) from the given revision (the latest if None), or None."""
    try:
        if revision is None:
            root = reader.root
            info = reader.trailer_view.get("/Info")
        else:
            root = reader.get_historical_root(revision)
            resolver = reader.get_historical_resolver(revision)
            info = resolver.trailer_view.get("/Info")
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
        data: bytes | None = None
        for i in range(0, len(names) - 1, 2):
            if _text(names[i]) == ATTACHMENT_NAME:
                data = names[i + 1].get_object()["/EF"]["/F"].get_object().data
                break
        if data is None:
            return None
        content = json.loads(data.decode("utf-8"))
        keywords = _text(info.get_object().get("/Keywords")) if info is not None else ""
    except (KeyError, TypeError, ValueError, AttributeError, UnicodeDecodeError):
        return None
    if not isinstance(content, dict):
        return None
    return content, data, keywords


def _check_content(result: ReportVerification, reader: Any, revision: int | None) -> None:
    found = _read_content(reader, revision)
    if found is None:
        result.add(
            "report.no_content",
            f"PDF 中没有可读的评标报告内容（附件 {ATTACHMENT_NAME}）",
            f"the PDF has no readable report content (attachment {ATTACHMENT_NAME})",
        )
        return
    content, data, keywords = found
    digest = content_sha256(data)
    result.content_sha256 = digest
    project = content.get("project")
    result.project_code = project.get("code") if isinstance(project, dict) else None
    if content.get("format") != FORMAT or canonical_json(content) != data:
        result.add("report.no_content", "报告内容格式不正确", "the report content is not in the expected format")
        return
    if f"{KEYWORD_PREFIX}{digest}" not in keywords.split():
        result.add(
            "report.content_hash_mismatch",
            "报告内容的摘要与文档记载的摘要不一致",
            "the report content does not hash to the value the document records",
        )
    committee = {m.get("id"): m for m in content.get("committee", []) if isinstance(m, dict)}
    for member_id in content.get("signing_order", []):
        m = committee.get(member_id)
        if m is None:
            result.add("report.no_content", "签署顺序中的成员不在委员会名单中", "a signer is not on the committee")
            return
        result.signing_order.append(
            {
                "id": member_id,
                "name": m.get("name", ""),
                "leader": bool(m.get("leader")),
                "certificate_fingerprint": m.get("certificate_fingerprint", ""),
            }
        )


def _gm_status(embedded: Any, ca: asn1_x509.Certificate, moment: datetime) -> Any:
    from sunbid.evaluation.pdfsign_gm import gm_signature_status

    return gm_signature_status(embedded, _pem(ca), moment)


def _validate(embedded: Any, ca: asn1_x509.Certificate, moment: datetime) -> Any:
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(trust_roots=[ca], moment=moment, allow_fetching=False, revocation_mode="soft-fail")
    return validate_pdf_signature(embedded, signer_validation_context=context)


# --- verification --------------------------------------------------------------------------------------


def verify_report(
    pdf: bytes, *, ca_cert_pem: str | bytes, suite: str = "intl", revoked_serials: Collection[int] = ()
) -> ReportVerification:
    """Check the report's content and every signature against the centre CA (see the module docstring).

    ``revoked_serials``: serial numbers of certificates the CA has revoked (the platform's certificate table
    knows them; offline, a list from the centre) — a signature by one of them is ``report.certificate_revoked``.
    """
    result = ReportVerification()
    if suite not in SUPPORTED_SUITES:
        err = _refuse_suite(suite)
        result.add(err.code, err.message_zh, err.message_en)
        return result
    try:
        ca = _asn1_cert(ca_cert_pem)
        _ = ca.public_key
    except (ValueError, TypeError) as exc:
        raise ValidationFailed(
            "report.bad_ca", "CA 证书无法读取", f"the CA certificate is unreadable ({exc})"
        ) from None
    try:
        reader = _reader(pdf)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # pyHanko raises many kinds for a damaged file
        result.add("report.unreadable", "无法解析 PDF 文件", f"the PDF cannot be parsed ({type(exc).__name__})")
        return result
    first = embedded[0].signed_revision if embedded else None
    _check_content(result, reader, first)
    if not result.ok:
        return result
    order = result.signing_order
    by_fingerprint = {m["certificate_fingerprint"]: m for m in order if m["certificate_fingerprint"]}
    if len(embedded) > len(order):
        result.add(
            "report.too_many_signatures",
            f"签名数 {len(embedded)} 多于委员会人数 {len(order)}",
            f"{len(embedded)} signatures for {len(order)} members",
        )
    previous: datetime | None = None
    for index, sig in enumerate(embedded, start=1):
        check = _check_signature(
            result,
            sig,
            index,
            ca,
            suite,
            order,
            by_fingerprint,
            frozenset(revoked_serials),
            last=index == len(embedded),
        )
        if check.signed_at is not None and previous is not None and check.signed_at < previous:
            result.add(
                "report.time_order",
                f"第 {index} 个签名的时间早于前一个签名",
                f"signature {index} is dated before the previous one",
                index,
            )
        previous = check.signed_at or previous
        result.signatures.append(check)
    return result


def _check_signature(
    result: ReportVerification,
    sig: Any,
    index: int,
    ca: asn1_x509.Certificate,
    suite: str,
    order: Sequence[dict[str, Any]],
    by_fingerprint: dict[str, dict[str, Any]],
    revoked: frozenset[int],
    *,
    last: bool,
) -> SignatureCheck:
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    problems_before = len(result.problems)
    expected = order[index - 1] if index <= len(order) else None
    field_name = _text(sig.field_name)
    try:
        cert = sig.signer_cert
        cert_pem = _pem(cert)
        claimed = sig.self_reported_timestamp
    except Exception:  # a malformed CMS structure
        result.add("report.signature_invalid", f"第 {index} 个签名无法解析", f"signature {index} is malformed", index)
        return SignatureCheck(index, field_name, "", "", None, None, None, False, False, False, "", "", False)
    signed_at = ensure_utc(claimed) if claimed is not None else None
    fingerprint = resolve_suite(suite).digest(cert.dump()).hex()
    signer_name = _text(cert.subject.native.get("common_name"))
    intact = valid = trusted = False
    coverage = modification = ""
    if signed_at is None:
        result.add("report.no_signing_time", f"第 {index} 个签名没有签署时间", f"signature {index} has no time", index)
    else:
        try:
            status = _gm_status(sig, ca, signed_at) if suite == "gm" else _validate(sig, ca, signed_at)
            intact, valid, trusted = bool(status.intact), bool(status.valid), bool(status.trusted)
            coverage = status.coverage.name if status.coverage is not None else ""
            level = status.modification_level
            modification = level.name if level is not None else ""
        except Exception as exc:
            result.add(
                "report.signature_invalid",
                f"第 {index} 个签名验证出错",
                f"signature {index} could not be validated ({type(exc).__name__})",
                index,
            )
            level = None
            status = None
        if status is not None:
            if not (intact and valid):
                result.add(
                    "report.signature_invalid",
                    f"第 {index} 个签名无效：签名后文件内容被改动，或签名本身不正确",
                    f"signature {index} is invalid: the signed bytes changed, or the signature is wrong",
                    index,
                )
            elif not trusted:
                reason = getattr(status, "certificate_problem", None)  # gm: what verify_certificate said
                result.add(
                    "report.certificate_untrusted",
                    f"第 {index} 个签名的证书不能验证到本中心 CA"
                    + (f"：{reason.message_zh}" if isinstance(reason, DomainError) else ""),
                    f"the certificate of signature {index} does not chain to the centre CA"
                    + (f": {reason.message_en}" if isinstance(reason, DomainError) else ""),
                    index,
                )
            if level is None or level > ModificationLevel.FORM_FILLING:
                result.add(
                    "report.modified_after_signing",
                    f"第 {index} 个签名之后，文件有签名以外的改动",
                    f"after signature {index} the file was changed by more than adding signatures",
                    index,
                )
            if last and status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
                result.add(
                    "report.modified_after_signing",
                    "最后一个签名之后文件又被追加了内容",
                    "content was appended after the last signature",
                    index,
                )
        if trusted:
            try:
                info: CertificateInfo = verify_certificate(suite, _pem(ca), cert_pem, now=signed_at, usage="signing")
                fingerprint = info.fingerprint
            except DomainError as exc:
                result.add(
                    "report.certificate_untrusted",
                    f"第 {index} 个签名的证书不可用：{exc.message_zh}",
                    f"the certificate of signature {index} is not usable: {exc.message_en}",
                    index,
                )
    if cert.serial_number in revoked:
        result.add(
            "report.certificate_revoked",
            f"第 {index} 个签名的证书已被吊销",
            f"the certificate of signature {index} is revoked",
            index,
        )
    member = by_fingerprint.get(fingerprint)
    if expected is None:
        pass
    elif member is None:
        result.add(
            "report.unknown_signer",
            f"第 {index} 个签名的证书不属于任何评标委员会成员",
            f"signature {index} is by a certificate of no committee member",
            index,
        )
    elif member["id"] != expected["id"]:
        result.add(
            "report.wrong_order",
            f"第 {index} 个签名应由 {expected['name']} 签署，实为 {member['name']}（组长须首先签署，其后按名单顺序）",
            f"signature {index} should be by {expected['name']} but is by {member['name']} "
            "(the group leader signs first, then the members in order)",
            index,
        )
    return SignatureCheck(
        index=index,
        field_name=field_name,
        signer_name=signer_name,
        certificate_fingerprint=fingerprint,
        member_id=None if member is None else member["id"],
        expected_member_id=None if expected is None else expected["id"],
        signed_at=signed_at,
        intact=intact,
        valid=valid,
        trusted=trusted,
        coverage=coverage,
        modification=modification,
        ok=len(result.problems) == problems_before,
    )


# --- signing -------------------------------------------------------------------------------------------


def _private_key_info(private_key: bytes) -> asn1_keys.PrivateKeyInfo:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(private_key)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return asn1_keys.PrivateKeyInfo.load(der)


def pades_sign(
    pdf: bytes, signer: Signer, *, ca_cert_pem: str | bytes, at: datetime, field_name: str, suite: str = "intl"
) -> bytes:
    """Append one signature (an incremental update) — no checks of who signs; use :func:`sign_report`.

    ``intl``: a PAdES signature (``ETSI.CAdES.detached``) by pyHanko's own signer. ``gm``: an
    ``adbe.pkcs7.detached`` signature whose CMS is SM2 with SM3 (:class:`~sunbid.evaluation.pdfsign_gm.Sm2CmsSigner`).
    """
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    moment = ensure_utc(at)

    class _ClockedSigner(signers.PdfSigner):
        """pyHanko's signer, with the platform clock's time instead of the machine's."""

        def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
            session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
            session.system_time = moment
            return session

    ca = _asn1_cert(ca_cert_pem)
    cms_signer: signers.Signer
    if suite == "gm":
        from sunbid.evaluation.pdfsign_gm import Sm2CmsSigner

        cms_signer = Sm2CmsSigner(signer.private_key, _asn1_cert(signer.certificate_pem), ca, moment)
        md_algorithm: str | None = "sm3"
        subfilter = fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED
    else:
        cms_signer = signers.SimpleSigner(
            signing_cert=_asn1_cert(signer.certificate_pem),
            signing_key=_private_key_info(signer.private_key),
            cert_registry=SimpleCertificateStore.from_certs([ca]),  # type: ignore[no-untyped-call]
        )
        md_algorithm = None
        subfilter = fields.SigSeedSubFilter.PADES
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=md_algorithm,
        subfilter=subfilter,
        reason="评标报告签署 / evaluation report signature",
        location="sunbid",
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = io.BytesIO()
    _ClockedSigner(meta, signer=cms_signer).sign_pdf(writer, output=out)
    return out.getvalue()


def sign_report(
    pdf: bytes,
    signer: Signer,
    *,
    ca_cert_pem: str | bytes,
    at: datetime,
    suite: str = "intl",
    revoked_serials: Collection[int] = (),
) -> bytes:
    """Add the next member's signature, refusing anyone out of turn.

    The report must verify so far (``report.not_intact``) and still need signatures (``report.fully_signed``);
    the certificate must be a valid signing certificate of the CA at ``at`` (``cert.*``), be the one the report
    names for the next member in the signing order (``report.wrong_order`` if it is a later member's,
    ``report.not_a_member`` otherwise), and match the private key (``report.key_mismatch``); ``at`` may not be
    before the previous signature (``report.time_order``); a certificate in ``revoked_serials`` is
    ``report.certificate_revoked``.
    """
    if suite not in SUPPORTED_SUITES:
        raise _refuse_suite(suite)
    if len(pdf) > MAX_REPORT_BYTES:
        raise ValidationFailed("report.too_large", "评标报告文件过大", "the report file is too large")
    at = ensure_utc(at)
    status = verify_report(pdf, ca_cert_pem=ca_cert_pem, suite=suite, revoked_serials=revoked_serials)
    if not status.ok:
        problems = "；".join(p.message_zh for p in status.problems)
        raise IntegrityFailure(
            "report.not_intact",
            f"评标报告未通过校验，不能继续签署：{problems}",
            "the report does not verify and cannot be signed: " + "; ".join(p.message_en for p in status.problems),
            details={"problems": [p.to_dict() for p in status.problems]},
        )
    nxt = status.next_signer
    if nxt is None:
        raise Conflict("report.fully_signed", "评标委员会全体成员均已签署", "every committee member has signed")
    if not nxt["certificate_fingerprint"]:
        raise ValidationFailed(
            "report.no_fingerprint",
            f"评标报告未载明 {nxt['name']} 的签名证书，无法签署",
            f"the report names no signing certificate for {nxt['name']}",
        )
    ca_pem = ca_cert_pem.decode("ascii") if isinstance(ca_cert_pem, bytes) else ca_cert_pem
    info = verify_certificate(suite, ca_pem, signer.certificate_pem, now=at, usage="signing")
    if info.serial in set(revoked_serials):
        raise Forbidden("report.certificate_revoked", "该签名证书已被吊销", "this signing certificate is revoked")
    if info.fingerprint != nxt["certificate_fingerprint"]:
        member = next((m for m in status.signing_order if m["certificate_fingerprint"] == info.fingerprint), None)
        if member is not None:
            raise Conflict(
                "report.wrong_order",
                f"现在应由 {nxt['name']} 签署，{member['name']} 须按顺序等待（组长首先签署）",
                f"{nxt['name']} signs next; {member['name']} must wait for their turn (the leader signs first)",
                details={"next": nxt["id"], "signer": member["id"]},
            )
        raise Forbidden(
            "report.not_a_member",
            "该证书不属于本评标委员会的成员",
            "this certificate is not a committee member's",
        )
    if resolve_suite(suite).signing_public_key(signer.private_key) != info.public_key:
        raise ValidationFailed("report.key_mismatch", "签名私钥与证书不匹配", "the private key does not match")
    last = status.signatures[-1].signed_at if status.signatures else None
    if last is not None and at < last:
        raise Conflict("report.time_order", "签署时间早于上一个签名", "the signing time is before the previous one")
    field_name = f"{_FIELD_PREFIX}{len(status.signatures) + 1}"
    return pades_sign(pdf, signer, ca_cert_pem=ca_cert_pem, at=at, field_name=field_name, suite=suite)
