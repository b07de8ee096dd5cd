"""The report PDF signed under the 国密 (gm) suite: SM2-with-SM3 CMS signatures in ordinary ``adbe.pkcs7.detached``
signature dictionaries, member by member (leader first), verified offline — the same rules as the intl path
(test_report_signing.py), plus a check of every signature with parsing and SM2/SM3 that do not go through
pyHanko or sunbid's own verifier."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import gmssl_pyx
import pytest
from asn1crypto import algos, cms, tsp
from tests.unit.evaluation.report_support import EXPERTS, NOW, Committee, make_committee, sample_report

from sunbid.core.errors import Conflict, DomainError, Forbidden, IntegrityFailure, ValidationFailed
from sunbid.crypto.certificates import Subject
from sunbid.crypto.suite import get_suite
from sunbid.crypto.x509util import parse_pem
from sunbid.evaluation.pdfsign import Signer, pades_sign, sign_report, verify_report
from sunbid.evaluation.pdfsign_gm import (
    _algorithms_protected,
    _names_certificate,
    _signature_valid,
    _signing_certificate_v2,
)
from sunbid.evaluation.report import render_report_pdf

GM = "gm"
SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
DATA_OID = "1.2.840.113549.1.7.1"
SM3_OID = "1.2.156.10197.1.401"
SM2_SM3_OID = "1.2.156.10197.1.501"


@pytest.fixture(scope="module")
def committee() -> Committee:
    return make_committee(GM)


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
            suite=GM,
        )
    return pdf


@pytest.fixture(scope="module")
def signed(unsigned: bytes, committee: Committee) -> bytes:
    return _sign_all(unsigned, committee)


def _verify(pdf: bytes, committee: Committee, **kwargs: object) -> list[str]:
    return verify_report(pdf, ca_cert_pem=committee.ca.certificate_pem, suite=GM, **kwargs).codes()  # type: ignore[arg-type]


def _tamper_first_page(pdf: bytes) -> bytes:
    start = pdf.index(b"stream\n", pdf.index(b"/Type /Page")) + len(b"stream\n")
    tampered = bytearray(pdf)
    tampered[start + 40] ^= 0x01
    return bytes(tampered)


# --- independent parsing: regular expressions over the PDF bytes, asn1crypto, GmSSL ----------------------------


def _raw_signatures(pdf: bytes) -> list[tuple[list[int], bytes]]:
    """(ByteRange, CMS DER) of every signature dictionary, in file order, found by scanning the bytes."""
    found = []
    for m in re.finditer(rb"/ByteRange \[\s*(\d+) (\d+) (\d+) (\d+)\s*\]", pdf):
        byte_range = [int(g) for g in m.groups()]
        a, b, c, _ = byte_range
        hex_contents = pdf[a + b : c]
        assert hex_contents[:1] == b"<" and hex_contents[-1:] == b">"
        padded = bytes.fromhex(hex_contents[1:-1].decode("ascii"))
        found.append((byte_range, cms.ContentInfo.load(padded).dump()))  # the DER, without the zero padding
    return found


def test_every_member_signs_in_order_and_all_signatures_verify(signed: bytes, committee: Committee) -> None:
    """Must-show: five SM2 signatures, leader first, each intact, valid and chained to the centre's SM2 CA."""
    result = verify_report(signed, ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert result.ok, result.codes()
    assert result.complete
    assert [s.member_id for s in result.signatures] == list(EXPERTS)
    assert all(s.intact and s.valid and s.trusted and s.ok for s in result.signatures)
    assert [s.coverage for s in result.signatures] == ["ENTIRE_REVISION"] * 4 + ["ENTIRE_FILE"]
    assert [s.modification for s in result.signatures] == ["FORM_FILLING"] * 4 + ["NONE"]
    assert [s.certificate_fingerprint for s in result.signatures] == [committee.fingerprints[e] for e in EXPERTS]
    assert result.content_sha256 == sample_report(committee.fingerprints).content_sha256
    assert result.next_signer is None


def test_signing_times_come_from_the_platform_clock(signed: bytes, committee: Committee) -> None:
    result = verify_report(signed, ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert [s.signed_at for s in result.signatures] == [NOW + timedelta(minutes=10 + i) for i in range(5)]
    assert b"/M (D\\07220261120021000Z)" in signed


def test_the_signature_dictionaries_are_ordinary_pkcs7_detached_ones(signed: bytes) -> None:
    assert signed.count(b"/Filter /Adobe.PPKLite") == 5
    assert signed.count(b"/SubFilter /adbe.pkcs7.detached") == 5
    assert b"ETSI.CAdES.detached" not in signed


def test_each_signature_checks_out_without_pyhanko(signed: bytes, committee: Committee) -> None:
    """Must-show: scan the bytes for each /ByteRange and /Contents, parse the CMS with asn1crypto and check it with
    GmSSL directly: RFC 5652 containers, SM3 messageDigest over the ByteRange, SM2 signature (GmSSL computes the
    signer-id hash itself) by the member whose turn it was, and each ByteRange covering the whole file up to its
    own revision — the last one the whole file."""
    raw = _raw_signatures(signed)
    assert len(raw) == 5
    eof_offsets = [m.end() for m in re.finditer(rb"%%EOF\r?\n?", signed)]
    for i, (byte_range, der) in enumerate(raw):
        a, b, c, d = byte_range
        assert a == 0
        assert c + d in eof_offsets  # the signed bytes end exactly where a revision ends
        info = cms.ContentInfo.load(der)
        assert info["content_type"].dotted == SIGNED_DATA_OID
        signed_data = info["content"]
        assert signed_data["encap_content_info"]["content_type"].dotted == DATA_OID
        assert signed_data["encap_content_info"]["content"].native is None  # detached
        [signer_info] = list(signed_data["signer_infos"])
        assert signer_info["digest_algorithm"]["algorithm"].dotted == SM3_OID
        assert signer_info["signature_algorithm"]["algorithm"].dotted == SM2_SM3_OID
        attrs = {attr["type"].dotted: attr["values"][0] for attr in signer_info["signed_attrs"]}
        assert attrs["1.2.840.113549.1.9.3"].dotted == DATA_OID  # contentType
        covered = signed[a : a + b] + signed[c : c + d]
        assert bytes(attrs["1.2.840.113549.1.9.4"].native) == gmssl_pyx.sm3_hash(covered)  # messageDigest
        serial = signer_info["sid"].chosen["serial_number"].native
        [cert] = [ch.chosen for ch in signed_data["certificates"] if ch.chosen.serial_number == serial]
        assert cert.dump() == parse_pem(committee.signers[EXPERTS[i]].certificate_pem, "s").der
        public = bytes(cert.public_key["public_key"].native)[1:]
        signature = bytes(signer_info["signature"].native)
        message = signer_info["signed_attrs"].untag().dump()
        assert gmssl_pyx.sm2_verify(public, message, signature)
        assert not gmssl_pyx.sm2_verify(public, message + b"\0", signature)
    assert raw[-1][0][2] + raw[-1][0][3] == len(signed)


def test_a_partly_signed_report_is_intact_but_not_complete(unsigned: bytes, committee: Committee) -> None:
    partial = _sign_all(unsigned, committee, ("e1", "e2"))
    result = verify_report(partial, ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert result.ok
    assert not result.complete
    assert result.next_signer is not None and result.next_signer["id"] == "e3"


def test_a_member_cannot_sign_before_the_leader(unsigned: bytes, committee: Committee) -> None:
    with pytest.raises(Conflict) as exc:
        sign_report(unsigned, committee.signers["e2"], ca_cert_pem=committee.ca.certificate_pem, at=NOW, suite=GM)
    assert exc.value.code == "report.wrong_order"
    assert "王建国" in exc.value.message_zh


def test_the_verifier_detects_signatures_in_the_wrong_order(unsigned: bytes, committee: Committee) -> None:
    pdf = unsigned
    for minute, member in enumerate(("e2", "e1")):
        pdf = pades_sign(
            pdf,
            committee.signers[member],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW + timedelta(minutes=minute),
            field_name=f"x{minute}",
            suite=GM,
        )
    result = verify_report(pdf, ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert result.codes() == ["report.wrong_order", "report.wrong_order"]
    assert [(s.member_id, s.expected_member_id, s.intact, s.valid) for s in result.signatures] == [
        ("e2", "e1", True, True),
        ("e1", "e2", True, True),
    ]


def test_a_tampered_byte_fails_verification(signed: bytes, committee: Committee) -> None:
    """Must-show: one byte of the first page changed — the SM3 digest of every signature's ByteRange differs."""
    result = verify_report(_tamper_first_page(signed), ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert not result.ok
    assert "report.signature_invalid" in result.codes()
    assert not any(s.intact for s in result.signatures)
    assert all(s.valid for s in result.signatures)  # the signed attributes themselves are untouched


def test_a_forged_sm2_signature_value_fails(signed: bytes, committee: Committee) -> None:
    """Change one bit of the third signature's SM2 value inside /Contents: its digest still matches but its
    signature fails; the fourth and fifth signatures, whose ByteRange covers that /Contents, are not intact."""
    _byte_range, der = _raw_signatures(signed)[2]
    signature = bytes(cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native)
    forged = bytearray(signature)
    forged[20] ^= 0x04
    old_hex, new_hex = signature.hex().encode(), bytes(forged).hex().encode()
    if signed.count(old_hex) != 1:  # the writer's choice of hex digits' case
        old_hex, new_hex = old_hex.upper(), new_hex.upper()
    assert signed.count(old_hex) == 1
    result = verify_report(signed.replace(old_hex, new_hex), ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert result.codes() == ["report.signature_invalid"] * 3
    assert [(s.intact, s.valid) for s in result.signatures] == [
        (True, True),
        (True, True),
        (True, False),
        (False, True),
        (False, True),
    ]


def test_changing_the_recorded_content_hash_fails_verification(signed: bytes, committee: Committee) -> None:
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
    result = verify_report(out.getvalue(), ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert not result.ok
    assert "report.modified_after_signing" in result.codes()
    assert all(s.intact and s.valid for s in result.signatures)


def test_a_non_signature_update_between_signatures_is_detected(unsigned: bytes, committee: Committee) -> None:
    """Leader signs, someone changes the document, the next member signs: the leader's signature flags it."""
    from pyhanko.pdf_utils.generic import pdf_string
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    first = _sign_all(unsigned, committee, ("e1",))
    writer = IncrementalPdfFileWriter(io.BytesIO(first), strict=False)
    writer.root["/Lang"] = pdf_string("en-US")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(IntegrityFailure) as exc:
        sign_report(
            out.getvalue(),
            committee.signers["e2"],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW + timedelta(1),
            suite=GM,
        )
    assert exc.value.code == "report.not_intact"
    second = pades_sign(
        out.getvalue(),
        committee.signers["e2"],
        ca_cert_pem=committee.ca.certificate_pem,
        at=NOW + timedelta(1),
        field_name="sunbid-signature-2",
        suite=GM,
    )
    result = verify_report(second, ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert [p.code for p in result.problems] == ["report.modified_after_signing"]
    assert [p.signature for p in result.problems] == [1]


def test_signatures_do_not_verify_against_another_ca(signed: bytes) -> None:
    other = make_committee(GM, members=("e1",))
    result = verify_report(signed, ca_cert_pem=other.ca.certificate_pem, suite=GM)
    assert not result.ok
    assert set(result.codes()) == {"report.certificate_untrusted"}
    assert "证书不是由本中心 CA 签发的" in result.problems[0].message_zh
    assert all(s.intact and s.valid and not s.trusted for s in result.signatures)


def test_a_certificate_of_another_ca_cannot_sign(unsigned: bytes, committee: Committee) -> None:
    stranger = make_committee(GM, members=("e1",))
    with pytest.raises(DomainError) as exc:
        sign_report(unsigned, stranger.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW, suite=GM)
    assert exc.value.code == "cert.wrong_issuer"


def test_a_certificate_of_the_ca_that_is_not_a_members_is_refused(unsigned: bytes, committee: Committee) -> None:
    pair = get_suite(GM).generate_signing_keypair()
    pem = committee.ca.issue(
        Subject(common_name="王建国", organisation_name="冒名单位", uscc="91350100M000100Y43"),
        pair.public,
        "signing",
        999,
        NOW - timedelta(days=1),
        30,
    )
    with pytest.raises(Forbidden) as exc:
        sign_report(unsigned, Signer(pair.private, pem), ca_cert_pem=committee.ca.certificate_pem, at=NOW, suite=GM)
    assert exc.value.code == "report.not_a_member"


def test_the_key_must_match_the_certificate(unsigned: bytes, committee: Committee) -> None:
    wrong = Signer(committee.signers["e2"].private_key, committee.signers["e1"].certificate_pem)
    with pytest.raises(ValidationFailed) as exc:
        sign_report(unsigned, wrong, ca_cert_pem=committee.ca.certificate_pem, at=NOW, suite=GM)
    assert exc.value.code == "report.key_mismatch"


def test_an_expired_certificate_cannot_sign(unsigned: bytes, committee: Committee) -> None:
    with pytest.raises(DomainError) as exc:
        sign_report(
            unsigned,
            committee.signers["e1"],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW + timedelta(days=400),
            suite=GM,
        )
    assert exc.value.code == "cert.expired"


def test_a_signature_made_after_the_certificate_expired_fails(unsigned: bytes, committee: Committee) -> None:
    """Signed behind sign_report's back at a time the certificate had expired: the verifier says untrusted."""
    pdf = pades_sign(
        unsigned,
        committee.signers["e1"],
        ca_cert_pem=committee.ca.certificate_pem,
        at=NOW + timedelta(days=400),
        field_name="late",
        suite=GM,
    )
    result = verify_report(pdf, ca_cert_pem=committee.ca.certificate_pem, suite=GM)
    assert result.codes() == ["report.certificate_untrusted"]
    [check] = result.signatures
    assert check.intact and check.valid and not check.trusted
    assert "expired" in result.problems[0].message_en


def test_signing_time_cannot_go_backwards(unsigned: bytes, committee: Committee) -> None:
    first = sign_report(unsigned, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW, suite=GM)
    with pytest.raises(Conflict) as exc:
        sign_report(
            first,
            committee.signers["e2"],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW - timedelta(seconds=1),
            suite=GM,
        )
    assert exc.value.code == "report.time_order"


def test_a_fully_signed_report_takes_no_more_signatures(signed: bytes, committee: Committee) -> None:
    with pytest.raises(Conflict) as exc:
        sign_report(
            signed, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW + timedelta(1), suite=GM
        )
    assert exc.value.code == "report.fully_signed"


def test_a_broken_report_is_not_signed_further(unsigned: bytes, committee: Committee) -> None:
    partial = _tamper_first_page(_sign_all(unsigned, committee, ("e1",)))
    with pytest.raises(IntegrityFailure) as exc:
        sign_report(
            partial, committee.signers["e2"], ca_cert_pem=committee.ca.certificate_pem, at=NOW + timedelta(1), suite=GM
        )
    assert exc.value.code == "report.not_intact"


def test_a_signature_by_a_revoked_certificate_fails(signed: bytes, unsigned: bytes, committee: Committee) -> None:
    serial = parse_pem(committee.signers["e3"].certificate_pem, "subject").serial
    result = verify_report(signed, ca_cert_pem=committee.ca.certificate_pem, suite=GM, revoked_serials={serial})
    assert result.codes() == ["report.certificate_revoked"]
    assert [s.ok for s in result.signatures] == [True, True, False, True, True]
    with pytest.raises(Forbidden) as exc:
        sign_report(
            unsigned,
            committee.signers["e1"],
            ca_cert_pem=committee.ca.certificate_pem,
            at=NOW,
            suite=GM,
            revoked_serials={parse_pem(committee.signers["e1"].certificate_pem, "subject").serial},
        )
    assert exc.value.code == "report.certificate_revoked"


def test_the_verifier_detects_a_signature_by_no_member(unsigned: bytes, committee: Committee) -> None:
    outsider = make_committee(GM, members=("x9",))
    pdf = pades_sign(
        unsigned,
        outsider.signers["x9"],
        ca_cert_pem=outsider.ca.certificate_pem,
        at=NOW,
        field_name="intruder",
        suite=GM,
    )
    codes = _verify(pdf, committee)
    assert "report.unknown_signer" in codes
    assert "report.certificate_untrusted" in codes


def test_suites_do_not_mix(unsigned: bytes, signed: bytes, committee: Committee) -> None:
    """An intl certificate cannot sign as gm, an SM2 certificate cannot sign as intl, and a gm report does not
    verify as intl (nor an intl one as gm)."""
    intl = make_committee("intl")
    intl_pdf = render_report_pdf(sample_report(intl.fingerprints))
    with pytest.raises(DomainError) as exc:
        sign_report(intl_pdf, intl.signers["e1"], ca_cert_pem=intl.ca.certificate_pem, at=NOW, suite=GM)
    assert exc.value.code == "cert.malformed"
    with pytest.raises(DomainError) as exc:
        sign_report(unsigned, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert exc.value.code == "cert.malformed"
    assert not verify_report(signed, ca_cert_pem=committee.ca.certificate_pem).ok
    intl_signed = sign_report(intl_pdf, intl.signers["e1"], ca_cert_pem=intl.ca.certificate_pem, at=NOW)
    result = verify_report(intl_signed, ca_cert_pem=intl.ca.certificate_pem, suite=GM)
    assert not result.ok and "report.signature_invalid" in result.codes()


def test_an_unknown_suite_is_refused(unsigned: bytes, committee: Committee) -> None:
    with pytest.raises(ValidationFailed) as exc:
        sign_report(unsigned, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW, suite="rsa")
    assert exc.value.code == "report.suite_unsupported"
    assert verify_report(unsigned, ca_cert_pem=committee.ca.certificate_pem, suite="rsa").codes() == [
        "report.suite_unsupported"
    ]


def test_the_bare_sm2_1_oid_is_accepted_and_other_algorithms_are_not(signed: bytes, committee: Committee) -> None:
    """GM/T 0010 implementations also name the signature 1.2.156.10197.1.301.1 (SM2-1); ECDSA is not SM2."""
    _byte_range, der = _raw_signatures(signed)[0]
    signed_data = cms.ContentInfo.load(der)["content"]
    signer_info = signed_data["signer_infos"][0]
    cert = signed_data["certificates"][0].chosen
    if cert.serial_number != signer_info["sid"].chosen["serial_number"].native:
        cert = signed_data["certificates"][1].chosen
    assert _signature_valid(signer_info, cert)
    bare = cms.SignerInfo.load(signer_info.dump())
    bare["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "1.2.156.10197.1.301.1"})
    assert _signature_valid(bare, cert)
    ecdsa = cms.SignerInfo.load(signer_info.dump())
    ecdsa["signature_algorithm"] = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    assert not _signature_valid(ecdsa, cert)


def test_a_signing_certificate_attribute_must_name_the_signer(committee: Committee) -> None:
    leader = parse_pem(committee.signers["e1"].certificate_pem, "s").der
    other = parse_pem(committee.signers["e2"].certificate_pem, "s").der
    from asn1crypto import x509

    leader_cert, other_cert = x509.Certificate.load(leader), x509.Certificate.load(other)

    def attrs(value: tsp.SigningCertificateV2) -> cms.CMSAttributes:
        return cms.CMSAttributes([cms.CMSAttribute({"type": "signing_certificate_v2", "values": [value]})])

    assert _names_certificate(attrs(_signing_certificate_v2(leader_cert)), leader_cert)
    assert not _names_certificate(attrs(_signing_certificate_v2(leader_cert)), other_cert)
    assert _names_certificate(cms.CMSAttributes([]), leader_cert)


def test_an_algorithm_protection_attribute_must_name_the_signer_infos_algorithms(signed: bytes) -> None:
    signer_info = cms.ContentInfo.load(_raw_signatures(signed)[0][1])["content"]["signer_infos"][0]

    def attrs(digest: str, signature: str) -> cms.CMSAttributes:
        value = cms.CMSAlgorithmProtection(
            {
                "digest_algorithm": algos.DigestAlgorithm({"algorithm": digest}),
                "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": signature}),
            }
        )
        return cms.CMSAttributes([cms.CMSAttribute({"type": "cms_algorithm_protection", "values": [value]})])

    assert _algorithms_protected(attrs("sm3", "sm2_sm3"), signer_info)
    assert not _algorithms_protected(attrs("sha256", "sm2_sm3"), signer_info)
    assert not _algorithms_protected(attrs("sm3", "sha256_ecdsa"), signer_info)
    assert _algorithms_protected(cms.CMSAttributes([]), signer_info)


def test_a_fresh_interpreter_verifies_a_gm_report(signed: bytes, committee: Committee, tmp_path: Path) -> None:
    """The SM3 name must be registered before pyHanko parses a CMS, even when nothing was signed in the process."""
    pdf, ca = tmp_path / "r.pdf", tmp_path / "ca.pem"
    pdf.write_bytes(signed)
    ca.write_text(committee.ca.certificate_pem, encoding="ascii")
    code = (
        "import sys; from sunbid.evaluation.pdfsign import verify_report; "
        "r = verify_report(open(sys.argv[1], 'rb').read(), ca_cert_pem=open(sys.argv[2]).read(), suite='gm'); "
        "print(r.ok, r.complete, r.codes())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(pdf), str(ca)], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "True True []"


def test_garbage_is_not_a_report(committee: Committee) -> None:
    assert _verify(b"%PDF-1.7\nnot really", committee) in (["report.unreadable"], ["report.no_content"])
    assert _verify(b"hello", committee) == ["report.unreadable"]
