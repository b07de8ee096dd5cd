"""A 国密 (gm) platform over HTTP: each committee member runs the member tool (``sunbid calc sign-member``'s code)
against the API — an SM2 key made on the member's side in the suite the platform announces, certified, then the
report fetched, signed with SM2/SM3 and uploaded in turn, leader first — until the evaluation is submitted."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sunbid.core.errors import Conflict
from sunbid.crypto.x509util import parse_pem
from sunbid.evaluation import service_report as reports
from sunbid.evaluation.member_tool import certify, sign_as_member
from sunbid.evaluation.pdfsign import verify_report
from tests.e2e.test_api_evaluation import Http
from tests.integration.evaluation.conftest import EXPERT_PASSWORD, Vw, score_all, started
from tests.integration.evaluation.conftest import vw as vw  # the fixture
from tests.integration.projects.conftest import tw as tw  # the fixture

pytestmark = pytest.mark.parametrize("suite_name", ["gm"], indirect=True)


def test_members_sign_a_gm_report_with_the_member_tool_over_http(vw: Vw, client: TestClient, tmp_path: Path) -> None:
    started(vw)
    score_all(vw)
    http = Http(vw, client)
    for who in vw.members.values():
        if who != "tenderer":
            http.login(who, EXPERT_PASSWORD)

    def as_member(seq: int) -> TestClient:
        client.headers["Authorization"] = f"Bearer {http.tokens[vw.member(seq)]}"
        return client

    keys = {seq: tmp_path / f"member-{seq}.key" for seq in vw.members}
    for seq in sorted(vw.members):
        cert_pem, created = certify(as_member(seq), vw.pid, keys[seq])
        assert created and parse_pem(cert_pem, "subject").key_algorithm == "sm2"
    vw.act(vw.member(1), reports.build, vw.pid)
    with pytest.raises(Conflict) as early:  # the second member's tool refuses before the leader signed
        sign_as_member(as_member(2), vw.pid, keys[2], clock=vw.clock)
    assert early.value.code == "report.wrong_order"
    for seq in sorted(vw.members):
        vw.clock.advance(timedelta(minutes=2))
        done = sign_as_member(as_member(seq), vw.pid, keys[seq], clock=vw.clock)
        assert done.answer["signatures"] == seq
    assert done.answer["complete"] is True
    assert vw.ow.project().state == "reported"
    client.headers["Authorization"] = f"Bearer {http.tokens['agency']}"
    final = client.get(f"/api/v1/projects/{vw.pid}/evaluation/report.pdf")
    assert final.status_code == 200
    status = verify_report(final.content, ca_cert_pem=vw.platform.ca().certificate_pem, suite="gm")
    assert status.complete and len(status.signatures) == 5
