"""`sunbid calc verify-report | sign-report | font`: offline verification and signing with a key bundle."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from tests.unit.evaluation.report_support import EXPERTS, NAMES, NOW, USCC, Committee, make_committee, sample_report
from typer.testing import CliRunner

from sunbid.core.clock import SystemClock
from sunbid.crypto.bundle import export_pkcs12
from sunbid.crypto.certificates import CertificateAuthority, Subject, verify_certificate
from sunbid.crypto.suite import get_suite
from sunbid.evaluation.pdfsign import Signer, sign_report, verify_report
from sunbid.evaluation.report import render_report_pdf

PASSWORD = "correct horse battery"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(__import__("sunbid.cli", fromlist=["app"]).app, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def committee() -> Committee:
    return make_committee()


@pytest.fixture(scope="module")
def pdfs(committee: Committee) -> tuple[bytes, bytes]:
    """(fully signed, signed by e1 and e2 only)."""
    pdf = render_report_pdf(sample_report(committee.fingerprints))
    partial = pdf
    for i, e in enumerate(EXPERTS):
        pdf = sign_report(pdf, committee.signers[e], ca_cert_pem=committee.ca.certificate_pem, at=NOW + timedelta(i))
        if e == "e2":
            partial = pdf
    return pdf, partial


@pytest.fixture
def files(tmp_path: Path, committee: Committee, pdfs: tuple[bytes, bytes]) -> dict[str, Path]:
    pdf, partial = pdfs
    paths = {"signed": tmp_path / "signed.pdf", "partial": tmp_path / "partial.pdf", "ca": tmp_path / "ca.pem"}
    paths["signed"].write_bytes(pdf)
    paths["partial"].write_bytes(partial)
    paths["ca"].write_text(committee.ca.certificate_pem, encoding="ascii")
    return paths


def test_verify_report_passes_a_fully_signed_report(files: dict[str, Path]) -> None:
    code, out = _run("calc", "verify-report", str(files["signed"]), "--ca", str(files["ca"]), "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["passed"] and data["ok"] and data["complete"]
    assert [s["member"] for s in data["signatures"]] == list(EXPERTS)
    code, out = _run("calc", "verify-report", str(files["signed"]), "--ca", str(files["ca"]))
    assert code == 0
    assert "评标报告签名验证通过" in out


def test_verify_report_fails_a_partly_signed_report_unless_allowed(files: dict[str, Path]) -> None:
    code, out = _run("calc", "verify-report", str(files["partial"]), "--ca", str(files["ca"]))
    assert code == 1
    assert "尚未签署" in out
    code, out = _run("calc", "verify-report", str(files["partial"]), "--ca", str(files["ca"]), "--allow-partial")
    assert code == 0, out


def test_verify_report_fails_a_tampered_report(files: dict[str, Path]) -> None:
    data = bytearray(files["signed"].read_bytes())
    start = data.index(b"stream\n", data.index(b"/Type /Page")) + len(b"stream\n")
    data[start + 10] ^= 0x20
    files["signed"].write_bytes(bytes(data))
    code, out = _run("calc", "verify-report", str(files["signed"]), "--ca", str(files["ca"]), "--json")
    assert code == 1
    payload = json.loads(out)
    assert payload["passed"] is False
    assert "report.signature_invalid" in [p["code"] for p in payload["problems"]]


def test_verify_report_names_an_unreadable_file(tmp_path: Path, files: dict[str, Path]) -> None:
    code, out = _run("calc", "verify-report", str(tmp_path / "missing.pdf"), "--ca", str(files["ca"]))
    assert code == 1
    assert "无法读取" in out


def _bundle(tmp_path: Path, ca: CertificateAuthority, name: str, serial: int) -> tuple[Path, str]:
    """A member's PKCS#12 bundle issued now (the CLI signs with the system clock); returns path and fingerprint."""
    suite = ca.suite
    now = SystemClock().now()
    signing, encryption = suite.generate_signing_keypair(), suite.generate_encryption_keypair()
    subject = Subject(common_name=name, organisation_name="福建省综合评标专家库", uscc=USCC)
    sign_pem = ca.issue(subject, signing.public, "signing", serial * 2, now - timedelta(hours=1), 30)
    enc_pem = ca.issue(subject, encryption.public, "encryption", serial * 2 + 1, now - timedelta(hours=1), 30)
    data = export_pkcs12(
        suite,
        password=PASSWORD,
        signing_private=signing.private,
        signing_cert_pem=sign_pem,
        encryption_private=encryption.private,
        encryption_cert_pem=enc_pem,
        ca_cert_pem=ca.certificate_pem,
        iterations=1000,
    )
    path = tmp_path / f"{name}.p12"
    path.write_bytes(data)
    return path, verify_certificate(suite, ca.certificate_pem, sign_pem, now=now).fingerprint


def test_sign_report_signs_with_a_key_bundle_in_turn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite = get_suite("intl")
    now = SystemClock().now()
    ca = CertificateAuthority.create(suite, "测试中心 CA", now=now - timedelta(days=1), validity_days=365)
    bundles = {e: _bundle(tmp_path, ca, NAMES[e], serial) for serial, e in enumerate(EXPERTS, start=500)}
    (leader, leader_fp), (member, member_fp) = bundles["e1"], bundles["e2"]
    pdf = render_report_pdf(sample_report({e: fp for e, (_, fp) in bundles.items()}))
    unsigned = tmp_path / "report.pdf"
    unsigned.write_bytes(pdf)
    monkeypatch.setenv("SUNBID_BUNDLE_PASSWORD", PASSWORD)
    out1 = tmp_path / "signed1.pdf"
    code, out = _run("calc", "sign-report", str(unsigned), "--bundle", str(member), "--out", str(out1))
    assert code == 1
    assert "report.wrong_order" in out
    code, out = _run("calc", "sign-report", str(unsigned), "--bundle", str(leader), "--out", str(out1))
    assert code == 0, out
    out2 = tmp_path / "signed2.pdf"
    code, out = _run("calc", "sign-report", str(out1), "--bundle", str(member), "--out", str(out2), "--json")
    assert code == 0, out
    result = verify_report(out2.read_bytes(), ca_cert_pem=ca.certificate_pem)
    assert result.ok, result.codes()
    assert not result.complete
    assert result.next_signer is not None and result.next_signer["id"] == "e3"
    assert [s.certificate_fingerprint for s in result.signatures] == [leader_fp, member_fp]
    monkeypatch.setenv("SUNBID_BUNDLE_PASSWORD", "wrong password")
    code, out = _run("calc", "sign-report", str(out1), "--bundle", str(member), "--out", str(tmp_path / "x.pdf"))
    assert code == 1
    assert "cert.bad_password" in out


def test_font_reports_the_cjk_face() -> None:
    code, out = _run("calc", "font", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["ok"] is True
    assert Path(data["path"]).is_file()


def test_signer_dataclass_hides_the_key() -> None:
    assert "private_key" not in repr(Signer(b"\x01" * 32, "pem"))


def test_verify_report_takes_a_list_of_revoked_serials(files: dict[str, Path], committee: Committee) -> None:
    from sunbid.crypto.x509util import parse_pem

    serial = parse_pem(committee.signers["e4"].certificate_pem, "subject").serial
    revoked = files["ca"].with_name("revoked.txt")
    revoked.write_text(f"# revoked by the centre\n{serial:x}\n", encoding="ascii")
    code, out = _run("calc", "verify-report", str(files["signed"]), "--ca", str(files["ca"]), "--revoked", str(revoked))
    assert code == 1
    assert "report.certificate_revoked" in out
    revoked.write_text("not-hex\n", encoding="ascii")
    code, out = _run("calc", "verify-report", str(files["signed"]), "--ca", str(files["ca"]), "--revoked", str(revoked))
    assert code == 1
    assert "calc.bad_serial" in out


def _calc_inputs(tmp_path: Path, fingerprints: dict[str, str], *, reason: bool = True) -> list[str]:
    """The sample evaluation as the calculator's files: bids CSV, scores CSV and the report information JSON."""
    from tests.unit.evaluation.report_support import BIDDERS, FACTS, PRICES, expert_scores

    fields = list(FACTS["b1"])
    bids = tmp_path / "bids.csv"
    bids.write_text(
        ",".join(["bidder", "price", *fields])
        + "\n"
        + "".join(f"{b},{p},{','.join(FACTS[b][f] or '' for f in fields)}\n" for b, p in PRICES.items()),
        encoding="utf-8",
    )
    rows = [f"{s.expert},{s.bidder},{s.item},{s.score}" for s in expert_scores()]
    scores = tmp_path / "scores.csv"
    scores.write_text("expert,bidder,item,score\n" + "\n".join(rows) + "\n", encoding="utf-8")
    info = {
        "format": "sunbid.evaluation-report-info/1",
        "project": {
            "code": "FJ-2026-0417",
            "name": "福州市滨海新城道路改造工程施工",
            "section_code": "01",
            "section_name": "第一标段",
            "tenderer": "福州市城市建设投资集团有限公司",
        },
        "committee": [
            {
                "id": e,
                "name": NAMES[e],
                "role": "representative" if e == "e5" else "expert",
                "leader": e == "e1",
                "certificate_fingerprint": fingerprints[e],
            }
            for e in EXPERTS
        ],
        "bidder_names": BIDDERS,
        "opening_remarks": {"b1": "工期 360 日历天"},
        "deviation_reasons": [{"expert": "e5", "bidder": "b3", "item": "plan", "reason": "深基坑支护措施缺少专项论证"}]
        if reason
        else [],
        "opened_at": "2026-11-19T08:00:00+08:00",
        "issued_at": "2026-11-20T10:00:00+08:00",
    }
    info_path = tmp_path / "info.json"
    info_path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    return [
        str(bids),
        "--method",
        "eng-comprehensive",
        "--scores",
        str(scores),
        "--k",
        "0.97",
        "--max-price",
        "10000000",
        "--info",
        str(info_path),
    ]


def test_calc_report_writes_the_report_pdf_from_the_calculator_files(tmp_path: Path, committee: Committee) -> None:
    out = tmp_path / "report.pdf"
    code, stdout = _run("calc", "report", *_calc_inputs(tmp_path, committee.fingerprints), "--out", str(out), "--json")
    assert code == 0, stdout
    data = json.loads(stdout)
    assert [c["bidder"] for c in data["candidates"]] == ["b3", "b1", "b2"]
    assert data["signing_order"] == list(EXPERTS)
    assert re.fullmatch(r"[0-9a-f]{64}", data["content_sha256"])
    pdf = out.read_bytes()
    status = verify_report(pdf, ca_cert_pem=committee.ca.certificate_pem)
    assert status.ok and not status.signatures
    assert status.content_sha256 == data["content_sha256"]
    signed = sign_report(pdf, committee.signers["e1"], ca_cert_pem=committee.ca.certificate_pem, at=NOW)
    assert verify_report(signed, ca_cert_pem=committee.ca.certificate_pem).ok


def test_calc_report_needs_a_written_reason_for_every_deviation(tmp_path: Path, committee: Committee) -> None:
    inputs = _calc_inputs(tmp_path, committee.fingerprints, reason=False)
    code, out = _run("calc", "report", *inputs, "--out", str(tmp_path / "r.pdf"))
    assert code == 1
    assert "report.reason_required" in out
    assert not (tmp_path / "r.pdf").exists()


def test_calc_report_names_the_bad_field_of_the_information_file(tmp_path: Path, committee: Committee) -> None:
    inputs = _calc_inputs(tmp_path, committee.fingerprints)
    info_path = Path(inputs[-1])
    info = json.loads(info_path.read_text(encoding="utf-8"))
    info["issued_at"] = "2026-11-20 10:00"
    info_path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    code, out = _run("calc", "report", *inputs, "--out", str(tmp_path / "r.pdf"))
    assert code == 1
    assert "issued_at" in out
    info["issued_at"] = "2026-11-20T10:00:00+08:00"
    info["committee"][0]["leeder"] = True
    info_path.write_text(json.dumps(info, ensure_ascii=False), encoding="utf-8")
    code, out = _run("calc", "report", *inputs, "--out", str(tmp_path / "r.pdf"))
    assert code == 1
    assert "committee[0].leeder" in out


def test_sign_member_needs_a_token_a_certified_key_and_a_reachable_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUNBID_TOKEN", raising=False)
    key = tmp_path / "member.key"
    base = ("calc", "sign-member", "--project", "7", "--key", str(key), "--server", "http://127.0.0.1:9", "--json")
    code, out = _run(*base)
    assert code != 0 and json.JSONDecoder().raw_decode(out[out.index("{") :])[0]["code"] == "report.token_required"
    code, out = _run(*base, "--token", "t")  # signing before --certify: nothing to sign with, nothing sent
    assert code != 0 and json.JSONDecoder().raw_decode(out[out.index("{") :])[0]["code"] == "report.not_certified"
    assert not key.exists()
    code, out = _run(*base, "--token", "t", "--certify")  # port 9 (discard): the platform cannot be reached
    assert code != 0 and json.JSONDecoder().raw_decode(out[out.index("{") :])[0]["code"] == "calc.network"
    assert not key.exists()  # the key's suite comes from the platform's CA: no key is made before it answers


def test_gm_bundles_sign_in_turn_and_verify_report_checks_sm2_signatures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gm centre: members sign with their SM2 PKCS#12 bundles (the suite comes from the bundle), leader first;
    ``verify-report --suite gm`` checks the SM2 signatures and fails a tampered file."""
    now = SystemClock().now()
    ca = CertificateAuthority.create(get_suite("gm"), "测试中心 SM2 CA", now=now - timedelta(days=1), validity_days=365)
    bundles = {e: _bundle(tmp_path, ca, NAMES[e], serial) for serial, e in enumerate(EXPERTS, start=700)}
    pdf = render_report_pdf(sample_report({e: fp for e, (_, fp) in bundles.items()}))
    current = tmp_path / "report.pdf"
    current.write_bytes(pdf)
    ca_path = tmp_path / "ca.pem"
    ca_path.write_text(ca.certificate_pem, encoding="ascii")
    monkeypatch.setenv("SUNBID_BUNDLE_PASSWORD", PASSWORD)
    member = str(bundles["e2"][0])
    code, out = _run("calc", "sign-report", str(current), "--bundle", member, "--out", str(tmp_path / "x"))
    assert code == 1 and "report.wrong_order" in out
    for i, e in enumerate(EXPERTS[:3]):
        signed = tmp_path / f"signed{i}.pdf"
        code, out = _run("calc", "sign-report", str(current), "--bundle", str(bundles[e][0]), "--out", str(signed))
        assert code == 0, out
        current = signed
    result = verify_report(current.read_bytes(), ca_cert_pem=ca.certificate_pem, suite="gm")
    assert result.ok, result.codes()
    assert [s.certificate_fingerprint for s in result.signatures] == [bundles[e][1] for e in EXPERTS[:3]]
    base = ("calc", "verify-report", str(current), "--ca", str(ca_path), "--suite", "gm", "--json")
    code, out = _run(*base)
    assert code == 1  # partly signed: not passed without --allow-partial
    assert json.loads(out)["ok"] is True and json.loads(out)["complete"] is False
    code, out = _run(*base, "--allow-partial")
    assert code == 0, out
    assert [s["member"] for s in json.loads(out)["signatures"]] == list(EXPERTS[:3])
    code, out = _run("calc", "verify-report", str(current), "--ca", str(ca_path), "--allow-partial", "--json")
    assert code == 0, out  # without --suite, the suite is the CA certificate's
    code, out = _run(*base[:-3], "--suite", "intl", "--allow-partial", "--json")
    assert code == 1  # the same file checked as intl does not verify
    data = bytearray(current.read_bytes())
    start = data.index(b"stream\n", data.index(b"/Type /Page")) + len(b"stream\n")
    data[start + 10] ^= 0x20
    current.write_bytes(bytes(data))
    code, out = _run(*base, "--allow-partial")
    assert code == 1
    assert "report.signature_invalid" in [p["code"] for p in json.loads(out)["problems"]]
