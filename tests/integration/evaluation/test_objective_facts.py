"""Objective items computed from the bids' facts (SPEC E-3): facts at the opening, the leader's corrections, the
points in the result and the report (客观评分数据核验)."""

from __future__ import annotations

import json
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select

from sunbid.core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from sunbid.evaluation import service_objective as objective
from sunbid.evaluation import service_report as reports
from sunbid.evaluation import service_scoring as scoring
from sunbid.evaluation.models import FactCorrectionRow, ScoreRow
from sunbid.evaluation.report_model import ATTACHMENT_NAME
from sunbid.ledger.models import AuditEvent
from sunbid.notifications.models import Notification
from sunbid.opening.models import OpeningBid
from tests.integration.evaluation.conftest import FACTS, Vw, certificates, plan_scores, score_all, started

pytestmark = pytest.mark.usefixtures("vw")

REASON = "业绩证明中一项工程缺少竣工验收证明，不予认定。"


def _view(vw: Vw, seq: int = 2) -> dict[str, Any]:
    return dict(vw.act(vw.member(seq), objective.objective_view, vw.pid))


def _bid(view: dict[str, Any], uscc: str) -> dict[str, Any]:
    return next(b for b in view["bids"] if b["bidder"] == uscc)


def _corrections(vw: Vw) -> list[FactCorrectionRow]:
    with vw.platform.db.read() as s:
        return list(s.scalars(select(FactCorrectionRow).order_by(FactCorrectionRow.id)))


def _correct(vw: Vw, who: str, field: str, value: str | None, reason: str = REASON, seq: int = 1) -> Any:
    return vw.act(vw.member(seq), objective.correct_fact, vw.pid, vw.uscc(who), field, value, reason)


def test_the_opening_keeps_the_manifests_facts_and_the_points_are_computed_from_them(vw: Vw) -> None:
    with vw.platform.db.read() as s:
        stored = {ob.org_id: ob.extra for ob in s.scalars(select(OpeningBid))}
    assert sorted(stored.values(), key=str) == sorted(FACTS.values(), key=str)
    started(vw)
    view = _view(vw)
    assert [i["id"] for i in view["items"]] == ["quality", "credit", "experience"]
    assert [f["field"] for f in view["fields"]] == ["extra.质量管理体系认证", "extra.信用等级", "extra.类似工程业绩"]
    a, b, c = (_bid(view, vw.uscc(w)) for w in ("bidder_a", "bidder_b", "bidder_c"))
    assert {k: v["points"] for k, v in a["items"].items()} == {
        "quality": "5.00",
        "credit": "6.00",
        "experience": "4.00",
    }
    assert a["points"] == "15.00" and "上限 4 分" in a["items"]["experience"]["basis_zh"]
    assert {k: v["points"] for k, v in b["items"].items()} == {
        "quality": "5.00",
        "credit": "4.00",
        "experience": "2.00",
    }
    assert (c["items"]["quality"]["status"], c["items"]["quality"]["value"]) == ("missing", None)
    assert (c["items"]["experience"]["status"], c["items"]["experience"]["points"]) == ("invalid", "0.00")
    assert "三" in c["items"]["experience"]["basis_zh"]
    assert c["facts"]["extra.类似工程业绩"] == {"declared": "三", "value": "三", "corrected": False}
    assert view["corrections"] == [] and not view["can_correct"]  # member 2 is no leader
    assert _view(vw, 1)["can_correct"]
    for outsider in ("bidder_a", "agency", "operator"):
        with pytest.raises(Forbidden):
            vw.act(outsider, objective.objective_view, vw.pid)


def test_the_leader_corrects_a_fact_the_points_are_recomputed_audited_logged_and_reported(vw: Vw) -> None:
    started(vw)
    row = _correct(vw, "bidder_c", "extra.类似工程业绩", " 1 ")
    assert (row.declared, row.value, row.ledger_index is not None) == ("三", "1", True)
    view = _view(vw)
    c = _bid(view, vw.uscc("bidder_c"))
    assert c["items"]["experience"] == {
        "points": "2.00",
        "value": "1",
        "status": "ok",
        "basis_zh": c["items"]["experience"]["basis_zh"],
        "basis_en": c["items"]["experience"]["basis_en"],
    }
    assert c["facts"]["extra.类似工程业绩"] == {"declared": "三", "value": "1", "corrected": True}
    [out] = view["corrections"]
    assert (out["declared"], out["value"], out["reason"], out["member"]) == ("三", "1", REASON, 1)
    assert out["label_zh"] == "类似工程业绩"
    with vw.platform.db.read() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.tag.like("%evaluation:fact_correction")))
        notified = list(s.scalars(select(Notification).where(Notification.kind == "evaluation.fact_correction")))
    assert event.data["bidder"] == vw.uscc("bidder_c") and event.data["field"] == "extra.类似工程业绩"
    assert (event.data["declared"], event.data["value"], event.data["reason"]) == ("三", "1", REASON)
    assert event.ledger_index == row.ledger_index
    assert {n.user_id for n in notified} == {vw.actor("regulator").user_id}
    # the latest correction wins; an empty value means "not provided"
    _correct(vw, "bidder_c", "extra.类似工程业绩", "")
    c = _bid(_view(vw), vw.uscc("bidder_c"))
    assert (c["items"]["experience"]["status"], c["items"]["experience"]["points"]) == ("missing", "0.00")
    _correct(vw, "bidder_a", "extra.信用等级", "AA")
    assert _bid(_view(vw), vw.uscc("bidder_a"))["items"]["credit"]["points"] == "4.00"
    assert [(r.declared, r.value) for r in _corrections(vw)] == [("三", "1"), ("三", None), ("AAA", "AA")]


@pytest.mark.parametrize(
    ("who", "field", "value", "reason", "seq", "code"),
    [
        ("bidder_a", "extra.信用等级", "AA", REASON, 2, "evaluation.leader_only"),
        ("bidder_a", "extra.信用等级", "AA", REASON, 5, "evaluation.leader_only"),  # the representative
        ("bidder_a", "extra.注册资本", "1000", REASON, 1, "evaluation.unknown_fact"),  # no rule reads it
        ("bidder_a", "duration_days", "300", REASON, 1, "evaluation.unknown_fact"),
        ("bidder_a", "extra.信用等级", "AA", "   ", 1, "evaluation.reason_required"),
        ("bidder_a", "extra.信用等级", "AA", "理" * 1001, 1, "evaluation.reason_too_long"),
        ("bidder_a", "extra.信用等级", "A" * 201, REASON, 1, "evaluation.fact_too_long"),
        ("bidder_a", "extra.信用等级", " AAA ", REASON, 1, "evaluation.fact_unchanged"),
        ("bidder_c", "extra.质量管理体系认证", "", REASON, 1, "evaluation.fact_unchanged"),
        ("nobody", "extra.信用等级", "AA", REASON, 1, "evaluation.unknown_bidder"),
    ],
)
def test_a_bad_correction_is_refused_and_changes_nothing(
    vw: Vw, who: str, field: str, value: str, reason: str, seq: int, code: str
) -> None:
    started(vw)
    before = _view(vw)
    uscc = "91340000MA0000000X" if who == "nobody" else vw.uscc(who)
    with pytest.raises(DomainError) as err:
        vw.act(vw.member(seq), objective.correct_fact, vw.pid, uscc, field, value, reason)
    assert err.value.code == code
    assert isinstance(err.value, Forbidden if code == "evaluation.leader_only" else ValidationFailed)
    assert _corrections(vw) == [] and _view(vw) == before
    with vw.platform.db.read() as s:
        assert not s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.tag.like("%fact_corr%")))
    for outsider in ("bidder_a", "operator"):
        with pytest.raises(Forbidden):
            vw.act(outsider, objective.correct_fact, vw.pid, vw.uscc("bidder_a"), "extra.信用等级", "AA", REASON)


def test_objective_items_are_refused_in_save_scores_even_for_the_leader(vw: Vw) -> None:
    started(vw)
    for item in ("quality", "credit", "experience"):
        sheet = [*plan_scores(vw, 1), scoring.ScoreIn(vw.uscc("bidder_a"), item, "1")]
        with pytest.raises(ValidationFailed) as err:
            vw.act(vw.member(1), scoring.save_scores, vw.pid, sheet)
        assert err.value.code == "evaluation.objective_computed" and err.value.details == {"item": item}
        assert "更正数据" in err.value.message_zh
    with vw.platform.db.read() as s:
        assert not s.scalar(select(func.count()).select_from(ScoreRow))
    # the leader, like everyone, submits the subjective items only
    vw.act(vw.member(1), scoring.save_scores, vw.pid, plan_scores(vw, 1))
    assert vw.act(vw.member(1), scoring.submit, vw.pid)["status"] == "submitted"


def test_the_result_and_the_report_use_the_corrected_facts_and_list_the_corrections(vw: Vw) -> None:
    started(vw)
    _correct(vw, "bidder_c", "extra.类似工程业绩", "2")
    score_all(vw)
    with pytest.raises(Conflict) as conflict:  # finished: the facts are frozen
        _correct(vw, "bidder_c", "extra.类似工程业绩", "1")
    assert conflict.value.code == "evaluation.not_scoring"
    result = vw.act(vw.member(2), scoring.results_view, vw.pid)
    c = vw.uscc("bidder_c")
    assert result["objective"][c]["experience"]["points"] == "4.00"  # 2 verified × 2
    row = next(r for r in result["evaluation"]["rows"] if r["bidder"] == c)
    assert row["item_scores"]["experience"] == "4.00" and row["item_scores"]["quality"] == "0.00"
    assert _view(vw)["corrections"][0]["value"] == "2"  # still readable after the evaluation
    certificates(vw)
    vw.act(vw.member(1), reports.build, vw.pid)
    pdf = vw.act(vw.member(1), reports.report_pdf, vw.pid)
    doc = pdfium.PdfDocument(pdf)
    content = json.loads(bytes(doc.get_attachment(0).get_data()))
    assert doc.get_attachment(0).get_name() == ATTACHMENT_NAME
    [f] = content["fact_corrections"]
    assert (f["bidder"], f["field"], f["declared"], f["value"], f["reason"]) == (
        c,
        "extra.类似工程业绩",
        "三",
        "2",
        REASON,
    )
    assert f["member"] == vw.actor(vw.member(1)).username.removeprefix("expert-").upper()
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).replace("\r\n", "")
    assert "客观评分数据核验" in text and "缺少竣工验收证明" in text
