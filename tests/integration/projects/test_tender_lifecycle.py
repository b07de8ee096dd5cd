"""A whole engineering open tender through the service, in fake time, plus the legal-time refusals."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from sunbid.core.clock import FakeClock
from sunbid.core.errors import Conflict, DomainError, ValidationFailed
from sunbid.projects import contracts, service
from sunbid.projects.models import Project, ProjectEvent
from sunbid.projects.timing import project_facts
from tests.integration.projects.conftest import Tw

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def _act(tw: Tw, who: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with tw.platform.uow() as uow:
        result = fn(uow, tw.actor(who), *args, **kwargs)
        uow.commit()
        return result


def _perform(tw: Tw, who: str, pid: int, action: str, **params):  # type: ignore[no-untyped-def]
    return _act(tw, who, service.perform, pid, action, params)


def _state(tw: Tw, pid: int) -> str:
    with tw.platform.db.read() as s:
        p = s.get(Project, pid)
        assert p is not None
        return p.state


def _new_project(tw: Tw, procedure: str = "eng_open") -> int:
    def create(uow, actor):  # type: ignore[no-untyped-def]
        return service.create_project(
            uow,
            actor,
            name="池州市示范道路工程",
            procedure_code=procedure,
            tenderer_org_id=tw.world.orgs["tenderer"].id,
            agency_org_id=tw.world.orgs["agency"].id,
            budget="12500000.00",
        ).id

    return int(_act(tw, "agency", create))


def _upload(tw: Tw, pid: int, kind: str = "tender_documents", data: bytes = b"%PDF-1.7 tender") -> None:
    _act(
        tw,
        "agency",
        service.add_document,
        pid,
        kind=kind,
        title="招标文件",
        filename="zbwj.pdf",
        content_type="application/pdf",
        data=data,
    )


def _to_bidding(tw: Tw, clock: FakeClock, pid: int, days: int = 21) -> datetime:
    _perform(tw, "operator", pid, "accept", green_channel=True)
    _perform(tw, "agency", pid, "publish_announcement")
    _upload(tw, pid)
    deadline = clock.now() + timedelta(days=days)
    _perform(tw, "agency", pid, "issue_documents", bid_deadline=deadline.isoformat())
    return deadline


def test_deadline_19_days_after_issue_is_refused_naming_the_20_day_rule(tw: Tw, clock: FakeClock) -> None:
    clock.set(T0)
    pid = _new_project(tw)
    with pytest.raises(ValidationFailed) as err:
        _to_bidding(tw, clock, pid, days=19)
    assert err.value.code == "rules.eng.doc_issue_to_bid_deadline"
    assert "20日" in err.value.message_zh and "招标投标法" in err.value.message_zh
    assert _state(tw, pid) == "announced"  # nothing changed


def test_late_amendment_moves_the_deadline_to_15_days(tw: Tw, clock: FakeClock) -> None:
    clock.set(T0)
    pid = _new_project(tw)
    deadline = _to_bidding(tw, clock, pid, days=25)
    clock.advance(timedelta(days=11))  # 14 days before the deadline
    _perform(tw, "agency", pid, "amend_documents")
    with tw.platform.db.read() as s:
        p = s.get(Project, pid)
        assert p is not None
        moved = project_facts(p, clock.now()).bid_deadline
    assert moved is not None and moved > deadline
    assert (moved - clock.now()).days >= 15
    assert moved.astimezone().time() == deadline.astimezone().time()  # same time of day


def test_whole_open_tender_in_fake_time(tw: Tw, clock: FakeClock) -> None:
    platform = tw.platform
    clock.set(T0)
    pid = _new_project(tw)
    deadline = _to_bidding(tw, clock, pid)
    assert _state(tw, pid) == "bidding"
    with platform.uow() as uow:
        service.update_facts(uow, pid, "bids received", bids_received=3)
        uow.commit()
    clock.set(deadline - timedelta(seconds=1))
    platform.worker.run_once()
    assert _state(tw, pid) == "bidding"  # not yet
    clock.set(deadline)
    platform.worker.run_once()
    assert _state(tw, pid) == "opening"  # fired by the scheduler at the deadline
    platform.worker.run_once()
    assert _state(tw, pid) == "opening"  # and only once
    _perform(tw, "operator", pid, "finish_opening", valid_bids=3)
    _perform(tw, "operator", pid, "start_evaluation", committee_ready=True)
    _perform(tw, "expert", pid, "submit_report")
    _perform(tw, "agency", pid, "publish_candidates")
    with pytest.raises(Conflict):
        _perform(tw, "tenderer", pid, "confirm_award")  # still in publicity
    clock.advance(timedelta(days=4))
    platform.worker.run_once()
    assert _state(tw, pid) == "award_pending"
    _act(
        tw,
        "tenderer",
        contracts.confirm_award,
        pid,
        winner_org_id=tw.world.orgs["bidder_a"].id,
        amount="11800000.00",
    )
    assert _state(tw, pid) == "awarded"
    with platform.db.read() as s:
        notice = s.scalars(select(service.ProjectDocument).where(service.ProjectDocument.kind == "award_notice")).one()
    assert "中标通知书" in platform.storage.get(notice.storage_key).decode() and notice.ledger_index is not None
    _upload(tw, pid, kind="contract", data=b"contract text v1")
    # both parties sign with their certificate keys
    from sunbid.identity import certs

    keys = {}
    for who in ("tenderer", "bidder_a"):
        kp = platform.suite.generate_signing_keypair()
        enc = platform.suite.generate_encryption_keypair()
        with platform.uow() as uow:
            sc, _ = certs.issue_certificates(uow, tw.world.orgs[who].id, kp.public, enc.public)
            uow.commit()
        keys[who] = (kp, sc.pem)
    with platform.db.read() as s:
        p = s.get(Project, pid)
        doc = s.scalars(select(service.ProjectDocument).where(service.ProjectDocument.kind == "contract")).one()
        message = contracts.contract_message(p, doc).encode()  # type: ignore[arg-type]
    for who in ("tenderer", "bidder_a"):
        kp, pem = keys[who]
        sig = base64.b64encode(platform.suite.sign(kp.private, message)).decode()
        _act(tw, who, contracts.sign_contract, pid, certificate_pem=pem, signature_b64=sig)
    assert _state(tw, pid) == "contracted"
    _act(tw, "agency", contracts.publish_contract, pid)
    _act(tw, "tenderer", contracts.file_regulator_report, pid)
    _perform(tw, "agency", pid, "archive")
    assert _state(tw, pid) == "archived"
    with platform.db.read() as s:
        events = s.scalars(select(ProjectEvent).where(ProjectEvent.project_id == pid).order_by(ProjectEvent.seq))
        steps = [(e.action, e.to_state, e.actor_role) for e in events]
        assert platform.ledger.verify(s).ok
    assert steps[0] == ("register", "registered", "agency")
    assert ("close_bidding", "opening", "system") in steps and (
        "end_publicity",
        "award_pending",
        "system",
    ) in steps
    assert steps[-1] == ("archive", "archived", "agency")
    # one click: the worker builds the archive after the step commits; it verifies offline and fails if touched
    from sunbid.archive.package import verify_archive
    from sunbid.projects.archive import archive_key

    platform.worker.run_once()
    with platform.db.read() as s:
        project = s.get(Project, pid)
        assert project is not None
        key = archive_key(project)
    data = platform.storage.get(key)
    report = verify_archive(data, trusted_key=platform.log_keypair.public)
    assert report.ok and report.trusted, report
    assert report.files_checked >= 5 and report.entries_checked >= 20
    broken = bytearray(data)
    broken[len(broken) // 2] ^= 0x01
    assert not verify_archive(bytes(broken)).ok


def test_bidder_cannot_accept_and_illegal_step_is_named(tw: Tw, clock: FakeClock) -> None:
    clock.set(T0)
    pid = _new_project(tw)
    with pytest.raises(DomainError) as err:
        _perform(tw, "bidder_a", pid, "accept")
    assert err.value.code == "procedure.role_not_allowed"
    with pytest.raises(Conflict) as err2:
        _perform(tw, "tenderer", pid, "confirm_award")
    assert err2.value.code == "procedure.illegal_transition" and "确认中标" in err2.value.message_zh


def test_fewer_than_three_bids_fails_at_the_deadline(tw: Tw, clock: FakeClock) -> None:
    clock.set(T0)
    pid = _new_project(tw)
    deadline = _to_bidding(tw, clock, pid)
    with tw.platform.uow() as uow:
        service.update_facts(uow, pid, "bids received", bids_received=2)
        uow.commit()
    clock.set(deadline + timedelta(minutes=1))
    tw.platform.worker.run_once()
    assert _state(tw, pid) == "failed"
    _perform(tw, "agency", pid, "retender")
    assert _state(tw, pid) == "accepted"


def test_objection_suspends_and_answer_resumes(tw: Tw, clock: FakeClock) -> None:
    clock.set(T0)
    pid = _new_project(tw)
    _to_bidding(tw, clock, pid, days=25)
    obj = _act(tw, "bidder_b", service.raise_objection, pid, text="评分标准第3条排斥潜在投标人")
    assert _state(tw, pid) == "suspended"
    _act(tw, "agency", service.answer_objection, obj.id, reply="已修改第3条", upheld=True)
    assert _state(tw, pid) == "bidding"
