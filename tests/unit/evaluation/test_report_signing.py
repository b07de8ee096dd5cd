"""Signing the report PDF member by member (leader first) and verifying it offline: every signature, the chain
to the centre CA, the order, tampering and anything appended after the last signature."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from tests.unit.evaluation.report_support import EXPERTS, NOW, Committee, make_committee, sample_report

from sunbid.core.errors import Conflict, DomainError, Forbidden, IntegrityFailure, ValidationFailed
from sunbid.crypto.suite import get_suite
from sunbid.evaluation.pdfsign import Signer, pades_sign, sign_report, verify_report
from sunbid.evaluation.report import render_report_pdf


@pytest.fixture(scope="module")
def committee() -> Committee:
    return make_committee()


@pytest.fixture(scope="module")
def unsigned(committee: Committee) -> bytes:
    return render_report_pdf(sample_report(committee.fingerprints))


def _sign_all(pdf: bytes, committee: Committee, members: tuple[str, ...] = EXPERTS) -> bytes:
    for minute, member in enumerate(members):
        pdf = sign_report(
            pdf,
            committee.signers[member],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW + timedelta(minutes=10 + minute),
        )
    return pdf


@pytest.fixture(scope="module")
def signed(unsigned: bytes, committee: Committee) -> bytes:
    return _sign_all(unsigned, committee)


def _verify(pdf: bytes, committee: Committee) -> list[str]:
    return verify_report(pdf, ca_cert_pem=committee.ca.certificate_pem).codes()


def test_every_member_signs_in_order_and_all_signatures_verify(signed: bytes, committee: Committee) -> None:
    """Must-show: the report's signatures verify — five PAdES signatures, leader first, chained to the CA."""
    result = verify_report(signed, ca_cert_pem=committee.ca.certificate_pem)
    assert result.ok, result.codes()
    assert result.complete
    assert [s.member_id for s in result.signatures] == list(EXPERTS)
    assert all(s.intact and s.valid and s.trusted and s.ok for s in result.signatures)
    assert [s.coverage for s in result.signatures] == ["ENTIRE_REVISION"] * 4 + ["ENTIRE_FILE"]
    assert [s.certificate_fingerprint for s in result.signatures] == [committee.fingerprints[e] for e in EXPERTS]
    assert result.content_sha256 == sample_report(committee.fingerprints).content_sha256
    assert result.next_signer is None


def test_signing_times_come_from_the_platform_clock(signed: bytes, committee: Committee) -> None:
    result = verify_report(signed, ca_cert_pem=committee.ca.certificate_pem)
    assert [s.signed_at for s in result.signatures] == [NOW + timedelta(minutes=10 + i) for i in range(5)]
    assert b"/M (D\\07220261120021000Z)" in signed  # the signature dictionary's /M, ":" written as \072


def test_a_partly_signed_report_is_intact_but_not_complete(unsigned: bytes, committee: Committee) -> None:
    partial = _sign_all(unsigned, committee, ("e1", "e2"))
    result = verify_report(partial, ca_cert_pem=committee.ca.certificate_pem)
    assert result.ok
    assert not result.complete
    assert result.next_signer is not None
    assert result.next_signer["id"] == "e3"
    unsigned_result = verify_report(unsigned, ca_cert_pem=committee.ca.certificate_pem)
    assert unsigned_result.ok and not unsigned_result.signatures
    assert unsigned_result.next_signer is not None and unsigned_result.next_signer["leader"] is True


def test_a_member_cannot_sign_before_the_leader(unsigned: bytes, committee: Committee) -> None:
    with pytest.raises(Conflict) as exc:
        sign_report(unsigned, committee.signers["e2"], ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert exc.value.code == "report.wrong_order"
    assert "王建国" in exc.value.message_zh


def test_the_verifier_detects_signatures_in_the_wrong_order(unsigned: bytes, committee: Committee) -> None:
    """Signed behind sign_report's back (pyHanko directly): e2 first, then e1 — the verifier still says no."""
    pdf = unsigned
    for minute, member in enumerate(("e2", "e1")):
        pdf = pades_sign(
            pdf,
            committee.signers[member],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW + timedelta(minutes=minute),
            field_name=f"x{minute}",
        )
    result = verify_report(pdf, ca_cert_pem=committee.ca.certificate_pem)
    assert not result.ok
    assert result.codes() == ["report.wrong_order", "report.wrong_order"]
    assert [(s.member_id, s.expected_member_id, s.intact) for s in result.signatures] == [
        ("e2", "e1", True),
        ("e1", "e2", True),
    ]


def test_a_tampered_byte_fails_verification(signed: bytes, committee: Committee) -> None:
    """Must-show: change one byte inside the first page's content stream (same length, so the file still
    parses) — every signature covering it fails."""
    start = signed.index(b"stream\n", signed.index(b"/Type /Page")) + len(b"stream\n")
    offset = start + 40
    tampered = bytearray(signed)
    tampered[offset] ^= 0x01
    result = verify_report(bytes(tampered), ca_cert_pem=committee.ca.certificate_pem)
    assert not result.ok
    assert "report.signature_invalid" in result.codes()
    assert not any(s.intact for s in result.signatures)


def test_changing_the_recorded_content_hash_fails_verification(signed: bytes, committee: Committee) -> None:
    """Change the content hash recorded in the document's keywords (inside the signed bytes, same length)."""
    match = re.search(rb"content-sha256=([0-9a-f])", signed)
    assert match is not None
    tampered = bytearray(signed)
    tampered[match.start(1)] = ord("0") if match.group(1) != b"0" else ord("1")
    codes = _verify(bytes(tampered), committee)
    assert "report.signature_invalid" in codes or "report.content_hash_mismatch" in codes


def test_anything_appended_after_the_last_signature_is_detected(signed: bytes, committee: Committee) -> None:
    from pyhanko.pdf_utils.generic import pdf_string
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    writer.root["/Lang"] = pdf_string("en-US")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    result = verify_report(out.getvalue(), ca_cert_pem=committee.ca.certificate_pem)
    assert not result.ok
    assert "report.modified_after_signing" in result.codes()
    assert all(s.intact for s in result.signatures)


def test_signatures_do_not_verify_against_another_ca(signed: bytes) -> None:
    other = make_committee(members=("e1",))
    result = verify_report(signed, ca_cert_pem=other.ca.certificate_pem)
    assert not result.ok
    assert set(result.codes()) == {"report.certificate_untrusted"}


def test_a_certificate_of_another_ca_cannot_sign(unsigned: bytes, committee: Committee) -> None:
    stranger = make_committee(members=("e1",))
    with pytest.raises(DomainError) as exc:
        sign_report(unsigned, stranger.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert exc.value.code == "cert.wrong_issuer"


def test_a_certificate_of_the_ca_that_is_not_a_members_is_refused(unsigned: bytes, committee: Committee) -> None:
    suite = get_suite("intl")
    from sunbid.crypto.certificates import Subject

    pair = suite.generate_signing_keypair()
    pem = committee.ca.issue(
        Subject(common_name="王建国", organisation_name="冒名单位", uscc="91350100M000100Y43"),
        pair.public,
        "signing",
        999,
        NOW - timedelta(days=1),
        30,
    )
    with pytest.raises(Forbidden) as exc:
        sign_report(unsigned, Signer(pair.private, pem), ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert exc.value.code == "report.not_a_member"


def test_the_key_must_match_the_certificate(unsigned: bytes, committee: Committee) -> None:
    wrong = Signer(committee.signers["e2"].private_key, committee.signers["e1"].certificate_pem)
    with pytest.raises(ValidationFailed) as exc:
        sign_report(unsigned, wrong, ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert exc.value.code == "report.key_mismatch"


def test_an_expired_certificate_cannot_sign(unsigned: bytes, committee: Committee) -> None:
    with pytest.raises(DomainError) as exc:
        sign_report(
            unsigned, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW + timedelta(days=400)
        )
    assert exc.value.code == "cert.expired"


def test_signing_time_cannot_go_backwards(unsigned: bytes, committee: Committee) -> None:
    first = sign_report(unsigned, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    with pytest.raises(Conflict) as exc:
        sign_report(
            first, committee.signers["e2"], ca_cert_pem=committee.ca.certificate_pem, at=NOW - timedelta(seconds=1)
        )
    assert exc.value.code == "report.time_order"


def test_a_fully_signed_report_takes_no_more_signatures(signed: bytes, committee: Committee) -> None:
    with pytest.raises(Conflict) as exc:
        sign_report(signed, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW + timedelta(1))
    assert exc.value.code == "report.fully_signed"


def test_a_broken_report_is_not_signed_further(signed: bytes, unsigned: bytes, committee: Committee) -> None:
    partial = _sign_all(unsigned, committee, ("e1",))
    start = partial.index(b"stream\n", partial.index(b"/Type /Page")) + len(b"stream\n")
    tampered = bytearray(partial)
    tampered[start + 40] ^= 0x01
    with pytest.raises(IntegrityFailure) as exc:
        sign_report(
            bytes(tampered), committee.signers["e2"], ca_cert_pem=committee.ca.certificate_pem, at=NOW + timedelta(1)
        )
    assert exc.value.code == "report.not_intact"


def test_a_report_without_named_certificates_cannot_be_signed(committee: Committee) -> None:
    pdf = render_report_pdf(sample_report())
    with pytest.raises(ValidationFailed) as exc:
        sign_report(pdf, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert exc.value.code == "report.no_fingerprint"


def test_garbage_is_not_a_report(committee: Committee) -> None:
    assert _verify(b"%PDF-1.7\nnot really", committee) in (["report.unreadable"], ["report.no_content"])
    assert _verify(b"hello", committee) == ["report.unreadable"]


def test_a_signature_by_a_revoked_certificate_fails(signed: bytes, unsigned: bytes, committee: Committee) -> None:
    from sunbid.crypto.x509util import parse_pem

    serial = parse_pem(committee.signers["e3"].certificate_pem, "subject").serial
    result = verify_report(signed, ca_cert_pem=committee.ca.certificate_pem, revoked_serials={serial})
    assert result.codes() == ["report.certificate_revoked"]
    assert [s.ok for s in result.signatures] == [True, True, False, True, True]
    with pytest.raises(Forbidden) as exc:
        sign_report(
            unsigned,
            committee.signers["e1"],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW,
            revoked_serials={parse_pem(committee.signers["e1"].certificate_pem, "subject").serial},
        )
    assert exc.value.code == "report.certificate_revoked"


def test_the_verifier_detects_a_signature_by_no_member(unsigned: bytes, committee: Committee) -> None:
    outsider = make_committee(members=("x9",))
    pdf = pades_sign(
        unsigned, outsider.signers["x9"], ca_cert_pem=outsider.ca.certificate_pem, at=NOW, field_name="intruder"
    )
    codes = _verify(pdf, committee)
    assert "report.unknown_signer" in codes
    assert "report.certificate_untrusted" in codes


@pytest.mark.parametrize("ca", ["garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_an_unreadable_ca_certificate_is_a_clear_error(signed: bytes, ca: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        verify_report(signed, ca_cert_pem=ca)
    assert exc.value.code == "report.bad_ca"
