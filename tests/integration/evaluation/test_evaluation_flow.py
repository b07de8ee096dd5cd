"""The evaluation through the services: committee, sign-in, scoring with an intervention, report, candidates."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from sunbid.core.errors import Conflict, Forbidden, ValidationFailed
from sunbid.evaluation import service as evaluation
from sunbid.evaluation import service_report as reports
from sunbid.evaluation import service_scoring as scoring
from sunbid.evaluation.models import InterventionRow
from sunbid.evaluation.pdfsign import Signer, sign_report, verify_report
from sunbid.ledger.models import AuditEvent
from sunbid.notifications.models import Notification
from sunbid.projects.models import ProjectDocument
from sunbid.projects.timing import project_facts
from tests.integration.evaluation.conftest import (
    Vw,
    certificates,
    drawn_k,
    form,
    method_json,
    plan_scores,
    score_all,
    sign_all,
    sms_to,
    started,
)
from tests.integration.experts.conftest import phone

pytestmark = pytest.mark.usefixtures("vw")


def _tags(vw: Vw, like: str) -> list[AuditEvent]:
    with vw.platform.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.tag.like(f"%{like}%"))))


def test_committee_is_formed_from_the_confirmed_draw_signed_in_and_ready(vw: Vw) -> None:
    form(vw)
    assert len(vw.members) == 5 and list(vw.members.values())[-1] == "tenderer"
    assert _tags(vw, "expert:panel:unseal") and _tags(vw, "expert:panel:contacts")
    with pytest.raises(Forbidden):  # an expert of another project's scope, or a bidder, is not a member
        vw.act("bidder_a", evaluation.sign_in, vw.pid)
    with pytest.raises(Forbidden):
        vw.act("expert", evaluation.sign_in, vw.pid)
    with pytest.raises(ValidationFailed):  # access codes are spent
        vw.run(evaluation.redeem_access, vw.member(1), "0000000000", "another-password-1")
    for username in vw.members.values():
        vw.act(username, evaluation.sign_in, vw.pid)
        ready = project_facts(vw.ow.project(), vw.clock.now()).committee_ready
        assert not ready  # no leader yet
    with pytest.raises(ValidationFailed):  # the representative cannot lead
        vw.act("operator", evaluation.record_leader, vw.pid, 5)
    vw.act("operator", evaluation.record_leader, vw.pid, 1)
    assert project_facts(vw.ow.project(), vw.clock.now()).committee_ready
    with vw.platform.uow() as uow:
        view = evaluation.committee_view(uow, vw.actor("regulator"), vw.pid)
    assert all(m["signed_in_at"] for m in view["members"]) and view["members"][0]["leader"]
    with pytest.raises(Forbidden), vw.platform.uow() as uow:
        evaluation.committee_view(uow, vw.actor("bidder_a"), vw.pid)


def test_method_cannot_change_after_the_deadline(vw: Vw) -> None:
    with pytest.raises(Conflict) as err:
        vw.act("agency", evaluation.attach_method, vw.pid, method_json())
    assert err.value.code == "evaluation.method_too_late"
    with vw.platform.db.read() as s:
        docs = list(s.scalars(select(ProjectDocument).where(ProjectDocument.project_id == vw.pid)))
    assert any(d.filename == "评标办法-eng-comprehensive.json" and d.public for d in docs)


def test_only_members_read_bids_and_download_documents_audited(vw: Vw) -> None:
    started(vw)
    with vw.platform.uow() as uow:
        view = scoring.bids_view(uow, vw.actor(vw.member(2)), vw.pid)
        uow.commit()
    assert {b["name"] for b in view["bids"]} == {vw.ow.org(w).name for w in ("bidder_a", "bidder_b", "bidder_c")}
    assert view["drawn"] == str(drawn_k(vw)) and Decimal(view["prices"]["drawn_coefficient"]) == drawn_k(vw)
    doc = view["bids"][0]["documents"][0]["name"]
    data = vw.act(vw.member(2), scoring.download, vw.pid, view["bids"][0]["bidder"], doc)
    assert data
    assert _tags(vw, "evaluation:document:download") and _tags(vw, "opening:content_key_access")
    for outsider in ("bidder_a", "agency", "operator", "regulator", "expert"):
        with pytest.raises(Forbidden):
            vw.act(outsider, scoring.bids_view, vw.pid)
        with pytest.raises(Forbidden):
            vw.act(outsider, scoring.download, vw.pid, view["bids"][0]["bidder"], doc)
        with pytest.raises(Forbidden):
            vw.act(outsider, scoring.save_scores, vw.pid, plan_scores(vw, 2))


def test_scoring_with_an_intervention_reported_to_the_regulator(vw: Vw) -> None:
    started(vw)
    vw.act(vw.member(2), scoring.save_scores, vw.pid, plan_scores(vw, 2))
    with vw.platform.uow() as uow:  # nobody reads another member's scores, not even the leader
        mine = scoring.my_scores(uow, vw.actor(vw.member(1)), vw.pid)
    assert mine["scores"] == []
    for seq in (1, 2):  # objective items are computed, by nobody typed in (not even the leader)
        with pytest.raises(ValidationFailed) as err:
            vw.act(vw.member(seq), scoring.save_scores, vw.pid, [scoring.ScoreIn(vw.uscc("bidder_a"), "credit", "5")])
        assert err.value.code == "evaluation.objective_computed"
    with pytest.raises(ValidationFailed) as err:
        vw.act(vw.member(1), scoring.submit, vw.pid)
    assert err.value.code == "evaluation.scores_missing"
    with pytest.raises(Conflict):  # results only once everybody has submitted
        vw.act(vw.member(1), scoring.results_view, vw.pid)
    score_all(vw)
    with vw.platform.db.read() as s:
        rows = list(s.scalars(select(InterventionRow)))
    assert [(r.status, r.score) for r in rows] == [("explained", "6.00")]
    assert _tags(vw, "evaluation:intervention")
    with vw.platform.uow() as uow:
        seen = scoring.interventions_view(uow, vw.actor("regulator"), vw.pid)
        notified = set(
            uow.session.scalars(select(Notification.user_id).where(Notification.kind == "evaluation.intervention"))
        )
    assert len(seen) == 1 and seen[0]["reason"].startswith("甲公司")
    assert notified == {vw.actor("regulator").user_id}
    for outsider in ("tenderer", "bidder_a", "regulator_far"):
        if outsider == "tenderer":  # the representative sees only his own (none)
            assert vw.act(outsider, scoring.interventions_view, vw.pid) == []
            continue
        with pytest.raises(Forbidden):
            vw.act(outsider, scoring.interventions_view, vw.pid)
    result = vw.act(vw.member(2), scoring.results_view, vw.pid)
    rows_out = result["evaluation"]["rows"]
    assert len(rows_out) == 3 and result["evaluation"]["candidates"]
    assert len(result["scores"]) == 5 * 3 * 2  # subjective items by everyone; objective ones are computed
    objective = result["objective"]
    assert objective[vw.uscc("bidder_a")]["experience"]["points"] == "4.00"  # 3 × 2, at most 4
    with pytest.raises(Forbidden):  # the tender side waits for the report
        vw.act("agency", scoring.results_view, vw.pid)


def test_a_member_who_deviates_only_once_everybody_is_in_is_reopened(vw: Vw) -> None:
    started(vw)
    vw.act(vw.member(1), scoring.save_scores, vw.pid, plan_scores(vw, 1, plan_a="9"))
    assert vw.act(vw.member(1), scoring.submit, vw.pid)["status"] == "submitted"  # alone: no mean to leave
    for seq in (2, 3, 4, 5):
        vw.act(vw.member(seq), scoring.save_scores, vw.pid, plan_scores(vw, seq, plan_a="14"))
        out = vw.act(vw.member(seq), scoring.submit, vw.pid)
        if seq == 2:  # 14 against (9 + 14) / 2 = 11.5: 21.7 % off the mean
            assert out["status"] == "held"
            reasons = {(vw.uscc("bidder_a"), "plan"): "方案完整，措施得当。"}
            assert vw.act(vw.member(seq), scoring.submit, vw.pid, reasons)["status"] == "submitted"
    with vw.platform.uow() as uow:
        view = evaluation.committee_view(uow, vw.actor("operator"), vw.pid)
    assert not view["members"][0]["submitted"] and view["state"] == "scoring"  # member 1 (9 vs 13) reopened
    out = vw.act(vw.member(1), scoring.submit, vw.pid, {(vw.uscc("bidder_a"), "plan"): "方案缺少安全专项措施。"})
    assert out == {"status": "submitted", "evaluation": "scored"}


def test_report_signed_in_order_then_submitted_and_candidates_published(vw: Vw) -> None:
    started(vw)
    score_all(vw)
    with pytest.raises(Conflict):  # certificates first
        vw.act(vw.member(1), reports.build, vw.pid)
    certificates(vw)
    with pytest.raises(Forbidden):
        vw.act(vw.member(2), reports.build, vw.pid)
    built = vw.act(vw.member(1), reports.build, vw.pid)
    assert built["signing_order"][0] == vw.actor(vw.member(1)).username.removeprefix("expert-").upper()
    with pytest.raises(Forbidden):  # the tender side sees the report once submitted
        vw.act("agency", reports.report_pdf, vw.pid)
    with pytest.raises(Forbidden):
        vw.act("bidder_a", reports.report_pdf, vw.pid)
    ca = vw.platform.ca().certificate_pem
    pdf = vw.act(vw.member(1), reports.report_pdf, vw.pid)
    leader_signed = sign_report(pdf, Signer(vw.keys[1].private, vw.certs[1]), ca_cert_pem=ca, at=vw.clock.now())
    with pytest.raises(Forbidden) as err:  # someone else uploading the leader's signature
        vw.act(vw.member(2), reports.upload_signed, vw.pid, leader_signed)
    assert err.value.code == "evaluation.not_your_signature"
    tampered = leader_signed[:-200] + bytes(200)
    with pytest.raises(ValidationFailed):
        vw.act(vw.member(1), reports.upload_signed, vw.pid, tampered)
    with pytest.raises(ValidationFailed):  # not an update of the stored report
        vw.act(vw.member(1), reports.upload_signed, vw.pid, b"%PDF-1.7 other")
    with pytest.raises(Forbidden):  # bidders see nothing before publication
        vw.act("bidder_a", lambda uow, actor, pid: reports.candidates_view(uow, pid), vw.pid)
    sign_all(vw)
    project = vw.ow.project()
    assert project.state == "reported"
    assert project_facts(project, vw.clock.now()).report_received_at == vw.clock.now()
    pdf = vw.act("agency", reports.report_pdf, vw.pid)
    status = verify_report(pdf, ca_cert_pem=ca)
    assert status.complete and len(status.signatures) == 5
    with vw.platform.db.read() as s:
        doc = s.scalars(select(ProjectDocument).where(ProjectDocument.kind == "evaluation_report")).one()
    assert not doc.public and doc.ledger_index is not None
    assert vw.act("agency", scoring.results_view, vw.pid)["evaluation"]["candidates"]
    published = vw.act("agency", reports.publish, vw.pid)
    assert vw.ow.project().state == "publicity"
    assert 1 <= len(published) <= 3 and published[0]["position"] == 1
    with vw.platform.uow() as uow:
        public = reports.candidates_view(uow, vw.pid)
    assert public["candidates"] == published


def test_committee_is_refused_before_the_evaluation_start_or_when_unlawful(vw: Vw) -> None:
    vw.clock.set(vw.evaluation_at - timedelta(minutes=1))
    with pytest.raises(Forbidden) as err:
        vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id)
    assert err.value.code == "expert.panel_sealed"
    vw.clock.set(vw.evaluation_at)
    with pytest.raises(ValidationFailed) as err:  # four experts alone: too small and even
        vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id)
    assert err.value.code == "committee.too_small"
    assert {p["code"] for p in err.value.details["problems"]} == {"committee.too_small", "committee.even"}
    with pytest.raises(ValidationFailed) as err:
        vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["bidder_a"])
    assert err.value.code == "evaluation.bad_representative"
    with pytest.raises(Forbidden):
        vw.act("agency", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["tenderer"])
    vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["tenderer"])
    with pytest.raises(Conflict):
        vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["tenderer"])


def test_an_access_code_expires(vw: Vw) -> None:
    vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["tenderer"])
    vw.platform.worker.run_once()
    with vw.platform.uow() as uow:
        view = evaluation.committee_view(uow, vw.actor("operator"), vw.pid)
    code = view["members"][0]["expert_code"]
    text = next(t for t in sms_to(vw.platform, phone(int(code[2:]))) if "一次性访问码" in t)
    found = re.search(r"一次性访问码 ([0-9A-F]+)", text)
    assert found is not None
    vw.clock.advance(timedelta(hours=evaluation.ACCESS_HOURS, seconds=1))
    with pytest.raises(ValidationFailed):
        vw.run(evaluation.redeem_access, f"expert-{code.lower()}", found.group(1), "a-good-password-1")
    assert _tags(vw, "evaluation:access:refused")
