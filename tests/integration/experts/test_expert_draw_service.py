"""Expert draw through the services: avoidance, sealing, notification, confirm/refuse/timeout, unsealing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from sunbid.core.errors import Conflict, Forbidden, IntegrityFailure, ValidationFailed
from sunbid.draws.verify import verify_record_json
from sunbid.experts import pool, service
from sunbid.experts.domain import AvoidancePolicy, SlotRequest
from sunbid.experts.models import ExpertDraw, ExpertDrawHistory, ExpertDrawSeat
from sunbid.experts.voice import SimulatedVoiceCaller
from sunbid.ledger.models import AuditEvent
from sunbid.notifications.models import SmsSimulatorMessage
from tests.integration.experts.conftest import Ew, csv_text, db_dump, expert_row, name, phone


def _request(ew: Ew, **kw: object) -> service.DrawRequest:
    base: dict[str, object] = {
        "project_code": ew.bw.code,
        "evaluation_starts_at": ew.bw.deadline + timedelta(days=1),
        "slots": (SlotRequest("A01", 3, 2), SlotRequest("B0101", 2, 1)),
        "policy": AvoidancePolicy(employment_years=3),
        "response_minutes": 30,
    }
    base.update(kw)
    return service.DrawRequest(**base)  # type: ignore[arg-type]


def _drawn(ew: Ew, **kw: object) -> int:
    req = _request(ew, **kw)
    draw = ew.run(service.commit_draw, ew.keys, req)
    ew.advance_to(req.evaluation_starts_at - timedelta(hours=20))
    drawn = ew.run(service.run_draw, ew.keys, draw.id)
    return int(drawn.id)


def _seats(ew: Ew, draw_id: int) -> list[ExpertDrawSeat]:
    with ew.platform.db.read() as s:
        return list(
            s.scalars(select(ExpertDrawSeat).where(ExpertDrawSeat.draw_id == draw_id).order_by(ExpertDrawSeat.seq))
        )


def _tokens(ew: Ew) -> dict[str, str]:
    """Reply code per phone, from the SMS simulator (what each expert received)."""
    with ew.platform.db.read() as s:
        out = {}
        for m in s.scalars(select(SmsSimulatorMessage).order_by(SmsSimulatorMessage.id)):
            out[m.phone] = m.text.split("答复码 ")[1].split(" ")[0]
        return out


def test_draw_seals_the_panel_and_avoids_every_excluded_expert(ew: Ew) -> None:
    before = db_dump(ew.platform)
    draw_id = _drawn(ew)
    after = db_dump(ew.platform)
    seats = _seats(ew, draw_id)
    assert [(s.specialty, s.reserve) for s in seats].count(("A01", False)) == 3
    assert len(seats) == 8 and sum(not s.reserve for s in seats) == 5
    assert {s.state for s in seats if not s.reserve} == {"notified"} and {s.state for s in seats if s.reserve} == {
        "standby"
    }
    # nothing new in the database names anyone: every code, name and phone occurs exactly as often as before
    for n in [*range(1, 19), *range(101, 107), *range(201, 209)]:
        for needle in (f"EX{n:05d}", name(n), phone(n)):
            assert after.count(needle) == before.count(needle), needle
    with pytest.raises(Forbidden) as exc:
        ew.run(service.unseal, draw_id)
    assert exc.value.code == "expert.panel_sealed"
    with ew.platform.db.read() as s, pytest.raises(Forbidden):
        service.published_record(s, draw_id, ew.bw.clock.now())
    ew.advance_to(ew.bw.deadline + timedelta(days=1))
    panel = ew.run(service.unseal, draw_id)
    codes = {seat["code"] for seat in panel["seats"]}
    assert len(codes) == 8 and not codes & set(ew.avoided)
    with ew.platform.db.read() as s:
        record = service.published_record(s, draw_id, ew.bw.clock.now())
        tags = [a.tag for a in s.scalars(select(AuditEvent).where(AuditEvent.subject_type == "expert_draw"))]
        history = s.scalars(select(ExpertDrawHistory)).all()
    check = verify_record_json(record.to_json())
    assert check.ok, check.codes()
    assert {record.candidates[c] for c, _ in record.selection.picks} == codes  # type: ignore[union-attr]
    assert not set(record.candidates) & set(ew.avoided)
    assert tags[:3] == ["expert:draw:commit", "expert:draw:candidates", "expert:draw:run"]
    assert "expert:panel:unseal" in tags and len(history) == 8
    with ew.platform.db.read() as s:
        profiles, _ = pool.load_profiles(s, ["A01", "B0101"])
    assert {p.code for p in profiles if p.draw_times} == codes  # the frequency rule sees the draw from now on


def test_members_are_texted_and_a_refusal_or_silence_calls_the_next_reserve(ew: Ew) -> None:
    draw_id = _drawn(ew)
    ew.platform.worker.run_once()  # five notifications; the answer checks are not due yet
    tokens = _tokens(ew)
    assert len(tokens) == 5
    with ew.platform.db.read() as s:
        texts = [m.text for m in s.scalars(select(SmsSimulatorMessage))]
    assert all(ew.bw.code in t and "请勿向他人透露" in t for t in texts)
    first, second, *rest = list(tokens.values())
    ew.run(service.respond, first, True)
    ew.run(service.respond, second, False)
    with pytest.raises(Conflict):
        ew.run(service.respond, first, False)
    seats = _seats(ew, draw_id)
    states = [s.state for s in seats]
    assert states.count("confirmed") == 1 and states.count("refused") == 1 and states.count("notified") == 4
    # nobody else answers: after 30 minutes the checks time them out and call reserves (or run short)
    ew.advance_to(ew.bw.clock.now() + timedelta(minutes=31))
    ew.platform.worker.run_once()
    ew.platform.worker.run_once()
    seats = _seats(ew, draw_id)
    assert [s.state for s in seats].count("timed_out") >= 3
    with ew.platform.db.read() as s:
        draw = s.get(ExpertDraw, draw_id)
        assert draw is not None and draw.status == "short"  # more silences than reserves
        tags = [a.tag for a in s.scalars(select(AuditEvent).where(AuditEvent.subject_type == "expert_draw"))]
    assert "expert:draw:reserve_called" in tags and "expert:draw:reserves_exhausted" in tags
    with pytest.raises(Conflict):
        ew.run(service.respond, rest[0], True)  # too late


def test_moving_the_release_time_in_the_database_breaks_the_seal(ew: Ew) -> None:
    draw_id = _drawn(ew)
    with ew.platform.db.session() as s:
        s.execute(
            update(ExpertDraw)
            .where(ExpertDraw.id == draw_id)
            .values(evaluation_starts_at=ew.bw.clock.now() - timedelta(hours=1))
        )
        s.commit()
    with pytest.raises(IntegrityFailure) as exc:
        ew.run(service.unseal, draw_id)
    assert exc.value.code == "expert.seal_broken"


def test_timing_rules(ew: Ew) -> None:
    req = _request(ew)
    draw = ew.run(service.commit_draw, ew.keys, req)
    with pytest.raises(Conflict) as exc:
        ew.run(service.run_draw, ew.keys, draw.id)  # three weeks before evaluation
    assert exc.value.code == "expert.draw_too_early"
    ew.advance_to(req.evaluation_starts_at + timedelta(minutes=1))
    with pytest.raises(Conflict) as exc:
        ew.run(service.run_draw, ew.keys, draw.id)
    assert exc.value.code == "expert.evaluation_started"


def test_not_enough_eligible_experts(ew: Ew) -> None:
    req = _request(ew, slots=(SlotRequest("B0101", 9),))
    draw = ew.run(service.commit_draw, ew.keys, req)
    ew.advance_to(req.evaluation_starts_at - timedelta(hours=1))
    with pytest.raises(Conflict) as exc:
        ew.run(service.run_draw, ew.keys, draw.id)
    assert exc.value.code == "expert.not_enough_eligible"


def test_draw_view_never_names_anyone(ew: Ew) -> None:
    draw_id = _drawn(ew)
    with ew.platform.db.read() as s:
        view = json.dumps(service.draw_view(s, draw_id), ensure_ascii=False)
    assert "EX0" not in view and "测试专家" not in view and "139" not in view


def test_voice_call_answers_confirm_or_refuse(ew: Ew) -> None:
    caller = service.voice_caller(ew.platform)
    assert isinstance(caller, SimulatedVoiceCaller)
    for n in range(1, 19):
        caller.press(phone(n), "2")  # every A01 expert refuses by pressing 2 …
    for n in range(201, 209):
        caller.press(phone(n), "1")  # … every B0101 expert confirms by pressing 1
    draw_id = _drawn(ew)
    ew.platform.worker.run_once()  # members called; A01 refusals call the reserves
    ew.platform.worker.run_once()  # reserves called, and refuse too
    seats = _seats(ew, draw_id)
    assert {s.state for s in seats if s.specialty == "B0101" and not s.reserve} == {"confirmed"}
    assert {s.state for s in seats if s.specialty == "A01"} == {"refused"}
    calls = caller.calls()
    assert len(calls) == 7 and all("按 1" in str(c["script"]) for c in calls)
    with ew.platform.db.read() as s:
        data = [a.data for a in s.scalars(select(AuditEvent).where(AuditEvent.tag == "expert:draw:refused"))]
        draw = s.get(ExpertDraw, draw_id)
    assert len(data) == 5 and all(d["channel"] == "voice" for d in data)
    assert draw is not None and draw.status == "short"


def test_commitment_must_precede_the_bid_deadline_and_the_record_shows_it(ew: Ew) -> None:
    draw_id = _drawn(ew)
    ew.advance_to(ew.bw.deadline + timedelta(days=1))
    ew.run(service.unseal, draw_id)
    with ew.platform.db.read() as s:
        record = service.published_record(s, draw_id, ew.bw.clock.now())
    assert record.closes_at is not None and record.commitments[0].committed_at is not None
    assert record.commitments[0].log_index is not None
    with pytest.raises(Conflict) as exc:
        ew.run(service.commit_draw, ew.keys, _request(ew, evaluation_starts_at=ew.bw.deadline + timedelta(days=3)))
    assert exc.value.code == "expert.commit_too_late"


def test_supervising_sector_and_declared_persons_are_avoided(ew: Ew) -> None:
    rows = [
        expert_row(301, "B0101", regulator_sectors="transport"),
        expert_row(302, "B0101", conflict_persons="王某某"),
    ]
    with ew.platform.uow() as uow:
        assert pool.import_csv(uow, ew.keys, csv_text(rows)).ok
        uow.commit()
    with pytest.raises(ValidationFailed):
        ew.run(service.commit_draw, ew.keys, _request(ew, supervising_sectors=frozenset({"moon"})))
    draw_id = _drawn(
        ew,
        slots=(SlotRequest("B0101", 8),),  # 8 of the 10 B0101 experts: only the two avoided ones can be left out
        supervising_sectors=frozenset({"transport"}),
        persons=("王某某",),
    )
    ew.advance_to(ew.bw.deadline + timedelta(days=1))
    codes = {s["code"] for s in ew.run(service.unseal, draw_id)["seats"]}
    assert codes == {f"EX{n:05d}" for n in range(201, 209)}
