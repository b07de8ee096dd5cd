"""Assessment after an evaluation through the service: raters, points, suspension and its end, removal, appeals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sunbid.core.calendar import start_of_local_day
from sunbid.core.errors import Conflict, Forbidden, ValidationFailed
from sunbid.experts import management as mgmt
from sunbid.experts import service
from sunbid.experts.models import Expert, ExpertStatusEvent
from sunbid.experts.models_management import ExpertDeduction, ExpertSanction
from sunbid.ledger.models import AuditEvent
from sunbid.notifications.models import SmsSimulatorMessage
from tests.integration.experts.conftest import Ew, phone
from tests.integration.experts.mgmt_support import Panel, unsealed_panel

D = mgmt.DeductionIn


@pytest.fixture
def panel(ew: Ew) -> Panel:
    return unsealed_panel(ew)


def _assess(ew: Ew, who: str | None, panel: Panel, code: str, *items: mgmt.DeductionIn) -> dict[str, object]:
    actor = None if who is None else ew.bw.tw.actor(who)
    with ew.platform.uow() as uow:
        out = mgmt.record_assessment(uow, actor, panel.draw_id, code, list(items), comment="评标后考评")
        uow.commit()
    return out


def _status(ew: Ew, code: str) -> str:
    with ew.platform.db.read() as s:
        return str(s.scalar(select(Expert.status).where(Expert.code == code)))


def test_raters_points_and_grades(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[0]
    out = _assess(ew, "agency", panel, code, D("late_arrival"), D("scoring_error", 2))
    assert out["points_deducted"] == 3 and out["points_left"] == 9 and out["sanction"] is None
    assert out["grades"] == {"punctuality": "fair", "discipline": "good", "competence": "fair", "objectivity": "good"}
    assert str(out["rater"]).startswith("agency:")
    # the tenderer saw the same lateness: it counts once; the regulator adds an intervention with evidence
    out2 = _assess(ew, "tenderer", panel, code, D("late_arrival"))
    assert out2["points_deducted"] == 3
    out3 = _assess(ew, "regulator", panel, code, D("deviation_unjustified", 1, "理由不成立", {"intervention": 17}))
    assert out3["points_deducted"] == 5 and out3["grades"]["objectivity"] == "fair"  # type: ignore[index]
    with pytest.raises(Conflict) as exc:
        _assess(ew, "agency", panel, code, D("left_early"))
    assert exc.value.code == "expert_assess.already_assessed"
    with ew.platform.db.read() as s:
        record = mgmt.expert_record(s, code, 2026)
        tags = [a.tag for a in s.scalars(select(AuditEvent).where(AuditEvent.subject_id == code))]
    assert record["points_deducted"] == 5 and len(record["deductions"]) == 4
    assert tags.count("expert:assess:record") == 3


def test_who_may_assess(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[1]
    for who in ("bidder_a", "regulator_far", "expert"):
        for someone in (code, panel.reserves[0], "EX99999"):  # no answer tells an outsider who sat on the panel
            with pytest.raises(Forbidden):
                _assess(ew, who, panel, someone, D("late_arrival"))
    assert _assess(ew, "operator", panel, code)["points_deducted"] == 0  # a clean assessment
    with pytest.raises(Conflict) as exc:
        _assess(ew, "agency", panel, panel.reserves[0], D("late_arrival"))  # never called
    assert exc.value.code == "expert_assess.not_on_panel"
    with pytest.raises(Conflict):
        _assess(ew, "agency", panel, "EX00201", D("late_arrival"))  # not in this draw


def test_a_refusal_is_assessed_only_as_a_refusal(ew: Ew, panel: Panel) -> None:
    code = panel.refused[0]
    with pytest.raises(Conflict) as exc:
        _assess(ew, "agency", panel, code, D("late_arrival"))
    assert exc.value.code == "expert_assess.not_applicable"
    assert _assess(ew, "agency", panel, code, D("refused_without_reason"))["points_deducted"] == 1
    with pytest.raises(ValidationFailed):
        _assess(ew, "tenderer", panel, code, D("refused_without_reason", 2))


def test_no_assessment_before_the_panel_is_unsealed(ew: Ew) -> None:
    starts = ew.bw.deadline + timedelta(days=1)
    req = service.DrawRequest(
        project_code=ew.bw.code,
        evaluation_starts_at=starts,
        slots=(service.domain.SlotRequest("A01", 3, 0),),
    )
    draw = ew.run(service.commit_draw, ew.keys, req)
    with ew.platform.uow() as uow, pytest.raises(Conflict) as exc:
        mgmt.record_assessment(uow, None, draw.id, "EX00001", [D("late_arrival")])
    assert exc.value.code == "expert_assess.panel_sealed"


def test_threshold_suspends_notifies_and_the_period_ends(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[0]
    out = _assess(ew, "agency", panel, code, D("absent_after_confirming"), D("left_early"))  # 4 + 2 = 6
    sanction = out["sanction"]
    assert isinstance(sanction, dict) and sanction["kind"] == "suspend" and sanction["trigger_points"] == 6
    assert _status(ew, code) == "suspended"
    ew.platform.worker.run_once()  # the notice
    n = int(code[2:])
    with ew.platform.db.read() as s:
        texts = [m.text for m in s.scalars(select(SmsSimulatorMessage).where(SmsSimulatorMessage.phone == phone(n)))]
    assert any("暂停抽取" in t and sanction["to"] in t for t in texts)
    # the day before the end nothing happens; the day after, he is back
    from datetime import date

    end = date.fromisoformat(str(sanction["to"]))
    ew.advance_to(start_of_local_day(end))
    ew.platform.worker.run_once()
    assert _status(ew, code) == "suspended"
    ew.advance_to(start_of_local_day(end + timedelta(days=1)) + timedelta(minutes=1))
    ew.platform.worker.run_once()
    assert _status(ew, code) == "active"
    with ew.platform.db.read() as s:
        expert = s.scalar(select(Expert).where(Expert.code == code))
        assert expert is not None
        reasons = [
            e.reason
            for e in s.scalars(
                select(ExpertStatusEvent).where(ExpertStatusEvent.expert_id == expert.id).order_by(ExpertStatusEvent.id)
            )
        ]
        row = s.scalar(select(ExpertSanction).where(ExpertSanction.expert_id == expert.id))
    assert reasons[-2].startswith("考评：") and reasons[-1] == "暂停期满，恢复抽取"
    assert row is not None and row.state == "ended"


def test_removal_offence_removes_for_good(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[2]
    out = _assess(ew, "regulator", panel, code, D("private_contact", note="私下接触投标人"))
    assert out["sanction"]["kind"] == "remove"  # type: ignore[index]
    assert _status(ew, code) == "removed"
    # a later threshold adds no sanction to a removed expert
    out2 = _assess(ew, "agency", panel, code, D("late_arrival"))
    assert out2["sanction"] is None and _status(ew, code) == "removed"


def test_appeal_overturned_gives_points_back_and_lifts_the_suspension(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[0]
    _assess(ew, "agency", panel, code, D("absent_after_confirming"), D("left_early"))
    assert _status(ew, code) == "suspended"
    with ew.platform.db.read() as s:
        ded = s.scalar(select(ExpertDeduction).where(ExpertDeduction.item == "left_early"))
        assert ded is not None
        ded_id = ded.id
    with pytest.raises(Forbidden):
        ew.run(mgmt.file_appeal, ew.bw.tw.actor("agency"), ded_id, "有病假证明")
    appeal = ew.run(mgmt.file_appeal, ew.bw.tw.actor("operator"), ded_id, "有病假证明，提前报告过")
    with pytest.raises(Conflict):
        ew.run(mgmt.file_appeal, None, ded_id, "再次申诉")
    with pytest.raises(Forbidden):
        ew.run(mgmt.decide_appeal, ew.bw.tw.actor("agency"), appeal.id, overturn=True, note="x")
    out = ew.run(mgmt.decide_appeal, ew.bw.tw.actor("regulator"), appeal.id, overturn=True, note="证明属实")
    assert out["state"] == "overturned" and out["lifted_sanctions"] and out["status"] == "active"
    with ew.platform.db.read() as s:
        record = mgmt.expert_record(s, code, 2026)
    assert record["points_deducted"] == 4 and record["sanctions"][0]["state"] == "lifted"
    with pytest.raises(Conflict):
        ew.run(mgmt.decide_appeal, None, appeal.id, overturn=False, note="再裁决")


def test_appeal_upheld_and_appeal_period(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[1]
    _assess(ew, "agency", panel, code, D("late_arrival"), D("phone_not_surrendered"))
    with ew.platform.db.read() as s:
        ids = sorted(s.scalars(select(ExpertDeduction.id)))
    appeal = ew.run(mgmt.file_appeal, None, ids[0], "交通管制")
    assert ew.run(mgmt.decide_appeal, None, appeal.id, overturn=False, note="未提供证明")["state"] == "upheld"
    ew.advance_to(ew.bw.clock.now() + timedelta(days=16))
    with pytest.raises(Conflict) as exc:
        ew.run(mgmt.file_appeal, None, ids[1], "太晚了")
    assert exc.value.code == "expert_assess.appeal_too_late"
    with ew.platform.db.read() as s:
        assert mgmt.expert_record(s, code, 2026)["points_deducted"] == 3


def test_a_second_suspension_in_the_window_becomes_removal(ew: Ew, panel: Panel) -> None:
    code = panel.confirmed[0]
    with ew.platform.db.session() as s:  # an earlier suspension this year already ran its course
        expert = s.scalar(select(Expert).where(Expert.code == code))
        assert expert is not None
        for n in range(2):
            s.add(
                ExpertSanction(
                    expert_id=expert.id,
                    kind="suspend",
                    basis="历史记录",
                    trigger_points=6,
                    year=2025,
                    start_on=ew.bw.clock.now().date() - timedelta(days=200 + n),
                    end_on=ew.bw.clock.now().date() - timedelta(days=100 + n),
                    state="ended",
                    created_at=ew.bw.clock.now(),
                )
            )
        s.commit()
    out = _assess(ew, "agency", panel, code, D("failed_to_recuse"))
    assert out["sanction"]["kind"] == "remove"  # type: ignore[index]
    assert _status(ew, code) == "removed"


def test_a_suspension_by_hand_is_not_lifted_by_the_end_of_an_assessment_suspension(ew: Ew, panel: Panel) -> None:
    from datetime import date

    from sunbid.experts import pool
    from sunbid.experts.domain import ExpertStatus

    code = panel.confirmed[1]
    ew.run(pool.change_status, code, ExpertStatus.SUSPENDED, "涉嫌违规，调查期间暂停")
    out = _assess(ew, "agency", panel, code, D("failed_to_recuse"))
    assert out["sanction"]["kind"] == "suspend"  # type: ignore[index]
    end = date.fromisoformat(out["sanction"]["to"])  # type: ignore[index]
    ew.advance_to(start_of_local_day(end + timedelta(days=1)) + timedelta(minutes=1))
    ew.platform.worker.run_once()
    assert _status(ew, code) == "suspended"  # the investigation's suspension stands
