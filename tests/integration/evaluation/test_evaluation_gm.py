"""A 国密 (gm) platform's evaluation: SM2 member certificates, the report signed with SM2/SM3 by every member in
turn (leader first) through the service, and submitted."""

from __future__ import annotations

import re

import pytest
from asn1crypto import cms
from sqlalchemy import select

from sunbid.core.errors import Conflict, Forbidden, ValidationFailed
from sunbid.crypto.x509util import parse_pem
from sunbid.evaluation import service_report as reports
from sunbid.evaluation.pdfsign import Signer, sign_report, verify_report
from sunbid.projects.models import ProjectDocument
from tests.integration.evaluation.conftest import Vw, certificates, score_all, sign_all, started


def _forge_last_signature(pdf: bytes) -> bytes:
    """Flip one bit of the SM2 signature value in the last signature's /Contents (same length)."""
    a, b, c, _d = (int(g) for g in re.findall(rb"/ByteRange \[\s*(\d+) (\d+) (\d+) (\d+)\s*\]", pdf)[-1])
    der = cms.ContentInfo.load(bytes.fromhex(pdf[a + b + 1 : c - 1].decode("ascii"))).dump()
    value = bytes(cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signature"].native)
    forged = bytes([value[0], value[1], value[2], value[3], value[4] ^ 0x01]) + value[5:]
    for old, new in ((value.hex(), forged.hex()), (value.hex().upper(), forged.hex().upper())):
        if pdf.count(old.encode()) == 1:
            return pdf.replace(old.encode(), new.encode())
    raise AssertionError("signature value not found")


pytestmark = [pytest.mark.usefixtures("vw"), pytest.mark.parametrize("suite_name", ["gm"], indirect=True)]


def test_a_gm_report_is_signed_with_sm2_by_every_member_and_submitted(vw: Vw) -> None:
    """Must-show: a gm centre's evaluation reaches ``submitted`` (project ``reported``) with five SM2 signatures."""
    assert vw.platform.suite.name == "gm"
    started(vw)
    score_all(vw)
    certificates(vw)
    assert all(parse_pem(pem, "subject").key_algorithm == "sm2" for pem in vw.certs.values())
    vw.act(vw.member(1), reports.build, vw.pid)
    ca = vw.platform.ca().certificate_pem
    pdf = vw.act(vw.member(1), reports.report_pdf, vw.pid)
    second = Signer(vw.keys[2].private, vw.certs[2])
    with pytest.raises(Conflict) as early:  # the second member cannot sign before the leader
        sign_report(pdf, second, ca_cert_pem=ca, at=vw.clock.now(), suite="gm")
    assert early.value.code == "report.wrong_order"
    leader = sign_report(pdf, Signer(vw.keys[1].private, vw.certs[1]), ca_cert_pem=ca, at=vw.clock.now(), suite="gm")
    with pytest.raises(Forbidden) as err:  # someone else uploading the leader's signature
        vw.act(vw.member(2), reports.upload_signed, vw.pid, leader)
    assert err.value.code == "evaluation.not_your_signature"
    with pytest.raises(ValidationFailed) as refused:  # a forged SM2 signature value is refused by the platform
        vw.act(vw.member(1), reports.upload_signed, vw.pid, _forge_last_signature(leader))
    assert refused.value.code == "evaluation.signature_refused"
    assert [p["code"] for p in refused.value.details["problems"]] == ["report.signature_invalid"]
    sign_all(vw)
    assert vw.ow.project().state == "reported"
    final = vw.act("agency", reports.report_pdf, vw.pid)
    status = verify_report(final, ca_cert_pem=ca, suite="gm")
    assert status.ok and status.complete and len(status.signatures) == 5
    assert [s.member_id for s in status.signatures] == [m["id"] for m in status.signing_order]
    assert final.count(b"/SubFilter /adbe.pkcs7.detached") == 5
    with vw.platform.db.read() as s:
        doc = s.scalars(select(ProjectDocument).where(ProjectDocument.kind == "evaluation_report")).one()
    assert not doc.public and doc.ledger_index is not None
