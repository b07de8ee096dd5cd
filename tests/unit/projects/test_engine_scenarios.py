"""Whole tenders, with realistic times, under the law's values (a calendar-day stand-in for the rule book):
every procedure from draft to archive, and the limits that must refuse or warn on the way."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from test_engine_support import LAW, Project, day

from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.projects.engine import timed_transitions_due


def _documents(at: int, *, sale_days: int, bid_days: int) -> dict[str, datetime]:
    return {
        "documents_issued_at": day(at),
        "sale_start": day(at),
        "sale_end": day(at + sale_days),
        "bid_deadline": day(at + bid_days),
    }


def _contract_and_archive(p: Project, signed: int, **archive: Any) -> None:
    p.do("sign_contract", "bidder", signed, contract_signed_by_tenderer=True, contract_signed_by_winner=True,
         contract_signed_at=day(signed))  # fmt: skip
    p.do("archive", "operator", signed + 3, contract_published_at=day(signed + 1),
         deposits_refunded_at=day(signed + 2), **archive)  # fmt: skip


def _registered_and_accepted(p: Project) -> None:
    p.do("register", "agency", 0)
    p.do("accept", "operator", 1, documents_complete=True)


def test_engineering_open_tender_from_draft_to_archive() -> None:
    p = Project("eng_open")
    _registered_and_accepted(p)
    p.do("publish_plan", "tenderer", 2, plan_published_at=day(2), plan_required=True)
    with pytest.raises(ValidationFailed) as early:
        p.do("publish_announcement", "agency", 31, announcement_at=day(31))
    assert early.value.code == "rules.local.tender_plan_before_announcement"
    assert p.state == "plan_published"  # a refused attempt changes nothing
    p.do("publish_announcement", "agency", 32, announcement_at=day(32))
    with pytest.raises(ValidationFailed) as short:
        p.do("issue_documents", "agency", 33, **_documents(33, sale_days=5, bid_days=19))
    assert short.value.code == "rules.eng.doc_issue_to_bid_deadline"
    with pytest.raises(ValidationFailed) as sale:
        p.do("issue_documents", "agency", 33, **_documents(33, sale_days=4, bid_days=20))
    assert sale.value.code == "rules.eng.doc_sale_period"
    p.do("issue_documents", "agency", 33, **_documents(33, sale_days=5, bid_days=20))
    assert p.state == "bidding"

    p.do("amend_documents", "agency", 38)  # 15 days before the deadline: in time
    with pytest.raises(ValidationFailed) as late:
        p.do("amend_documents", "agency", 39)
    assert late.value.code == "rules.eng.clarification_before_deadline"
    p.do("amend_documents", "agency", 39, bid_deadline=day(54))  # the service moved the deadline first
    with pytest.raises(ValidationFailed) as objection_late:
        p.do("raise_objection", "bidder", 45, objection_raised_at=day(45), open_objections=1)
    assert objection_late.value.code == "rules.eng.objection_docs_before_deadline"
    p.do("raise_objection", "bidder", 44, objection_raised_at=day(44), open_objections=1)
    assert (p.state, p.facts.suspended_from) == ("suspended", "bidding")
    p.do("answer_objection", "tenderer", 46, open_objections=0)
    assert p.state == "bidding"

    assert timed_transitions_due(p.procedure, p.state, p.facts) == ()
    with pytest.raises(Conflict) as early_close:
        p.do("close_bidding", "system", 53.99)
    assert early_close.value.code == "procedure.not_due"
    p.do("close_bidding", "system", 54, bids_received=4)
    p.do("finish_opening", "operator", 54, valid_bids=4)
    p.do("start_evaluation", "operator", 54, committee_ready=True)
    p.do("submit_report", "expert", 55, report_received_at=day(55))
    with pytest.raises(ValidationFailed) as brief:
        p.do("publish_candidates", "agency", 56, publicity_start=day(56), publicity_end=day(58))
    assert brief.value.code == "rules.eng.publicity_duration"
    p.do("publish_candidates", "agency", 56, publicity_start=day(56), publicity_end=day(59))
    p.do("end_publicity", "system", 59)
    p.do("confirm_award", "tenderer", 60, award_confirmed_at=day(60), award_notice_at=day(60),
         bid_validity_expires_at=day(120))  # fmt: skip
    _contract_and_archive(p, 70, regulator_report_at=day(70))
    assert p.state == "archived"
    assert p.warnings == []
    assert [o.event for o in p.outcomes][-3:] == ["award.confirmed", "contract.signed", "project.archived"]


def test_late_duties_are_done_and_reported() -> None:
    p = Project("eng_open")
    _registered_and_accepted(p)
    p.do("publish_announcement", "agency", 2, announcement_at=day(2))
    p.do("issue_documents", "agency", 2, **_documents(2, sale_days=5, bid_days=20))
    p.do("raise_objection", "bidder", 5, objection_raised_at=day(5), open_objections=1)
    p.do("answer_objection", "tenderer", 9, open_objections=0)  # 4 days: late, but answered
    assert p.warnings == ["rules.eng.objection_reply"]
    p.do("close_bidding", "system", 22, bids_received=3)
    p.do("finish_opening", "operator", 22, valid_bids=3)
    p.do("start_evaluation", "agency", 22, committee_ready=True)
    p.do("submit_report", "expert", 23, report_received_at=day(23))
    p.do("publish_candidates", "agency", 27, publicity_start=day(27), publicity_end=day(30))
    p.do("raise_objection", "bidder", 28, objection_raised_at=day(28), open_objections=1)
    p.do("answer_objection", "agency", 30, open_objections=0)
    assert p.state == "publicity"
    p.do("end_publicity", "system", 30)
    p.do("confirm_award", "tenderer", 31, award_confirmed_at=day(31), award_notice_at=day(31))
    _contract_and_archive(p, 62, regulator_report_at=day(47))
    assert p.state == "archived"
    assert p.warnings == [
        "rules.eng.objection_reply",
        "rules.eng.publicity_start",
        "rules.eng.contract_after_award_notice",
        "rules.eng.report_to_regulator",
    ]


def test_engineering_prequalification_path() -> None:
    p = Project("eng_open")
    _registered_and_accepted(p)
    with pytest.raises(ValidationFailed) as tight:
        p.do("publish_prequalification", "agency", 2, announcement_at=day(2), sale_start=day(2),
             sale_end=day(7), preq_deadline=day(11))  # fmt: skip
    assert tight.value.code == "rules.eng.preq_application_after_sale"
    p.do("publish_prequalification", "agency", 2, announcement_at=day(2), sale_start=day(2), sale_end=day(7),
         preq_deadline=day(12))  # fmt: skip
    p.do("amend_documents", "agency", 9)
    with pytest.raises(ValidationFailed):
        p.do("amend_documents", "agency", 10)
    p.do("close_prequalification", "system", 12)
    with pytest.raises(Conflict) as few:
        p.do("finish_prequalification", "agency", 14, qualified_applicants=2)
    assert few.value.code == "procedure.guard_failed:qualified_at_least_min"
    p.do("finish_prequalification", "agency", 14, qualified_applicants=3)
    p.do("issue_documents", "agency", 15, **_documents(15, sale_days=5, bid_days=20))
    assert p.state == "bidding"


def test_engineering_invited_tender_sends_invitations_instead_of_an_announcement() -> None:
    p = Project("eng_invited")
    _registered_and_accepted(p)
    with pytest.raises(Conflict) as no_announcement:
        p.do("publish_announcement", "agency", 2, announcement_at=day(2))
    assert no_announcement.value.code == "procedure.illegal_transition"
    with pytest.raises(Conflict):
        p.do("send_invitations", "agency", 2, invitations_sent_at=day(2), invitees=2)
    p.do("send_invitations", "agency", 2, invitations_sent_at=day(2), invitees=3)
    p.do("issue_documents", "agency", 2, **_documents(2, sale_days=5, bid_days=20))
    p.do("close_bidding", "system", 22, bids_received=2)
    assert p.state == "failed"
    p.do("retender", "tenderer", 23, bids_received=0, valid_bids=0)
    assert p.state == "accepted"


def test_government_open_tender_with_the_purchasers_silence() -> None:
    p = Project("gp_open")
    _registered_and_accepted(p)
    p.do("publish_plan", "tenderer", 1, plan_published_at=day(1), plan_required=True)
    p.do("publish_announcement", "agency", 31, announcement_at=day(31), announcement_end=day(36))
    with pytest.raises(ValidationFailed) as availability:
        p.do("issue_documents", "agency", 31, **_documents(31, sale_days=4, bid_days=20))
    assert availability.value.code == "rules.gp.doc_availability"
    p.do("issue_documents", "agency", 31, **_documents(31, sale_days=5, bid_days=20))
    with pytest.raises(ValidationFailed) as challenge:
        p.do("raise_objection", "bidder", 39, objection_raised_at=day(39), open_objections=1)
    assert challenge.value.code == "rules.gp.challenge_filing"
    p.do("close_bidding", "system", 51, bids_received=3)
    p.do("finish_opening", "operator", 51, valid_bids=3)
    p.do("start_evaluation", "operator", 51, committee_ready=True)
    with pytest.raises(Conflict) as too_few:
        p.do("submit_report", "expert", 52, valid_bids=2, report_received_at=day(52))
    assert too_few.value.code == "procedure.guard_failed:valid_bids_at_least_min"
    p.do("submit_report", "expert", 52, report_received_at=day(52), award_confirm_due=day(57))
    assert timed_transitions_due(p.procedure, p.state, p.facts) == ()
    p.do("confirm_award", "system", 57, award_confirmed_at=day(57))
    assert p.outcomes[-1].event == "award.deemed_confirmed"
    p.do(
        "publish_result",
        "agency",
        58,
        publicity_start=day(58),
        publicity_end=day(59),
        award_notice_at=day(58),
    )
    p.do("end_publicity", "system", 59)
    p.do("raise_objection", "bidder", 62, objection_raised_at=day(62), open_objections=1)
    p.do("answer_objection", "agency", 65, open_objections=0)
    assert p.state == "awarded"
    _contract_and_archive(p, 70)
    assert (p.state, p.warnings) == ("archived", [])


@pytest.mark.parametrize(
    ("code", "rule", "rounds"),
    [
        ("gp_negotiation", "gp.negotiation_doc_to_submission", True),
        ("gp_consultation", "gp.consultation_doc_to_submission", True),
        ("gp_inquiry", "gp.inquiry_doc_to_submission", False),
    ],
)
def test_non_tendering_methods_from_draft_to_archive(code: str, rule: str, rounds: bool) -> None:
    p = Project(code)
    _registered_and_accepted(p)
    p.do("publish_announcement", "agency", 2, announcement_at=day(2))
    minimum = LAW[rule][1]
    with pytest.raises(ValidationFailed) as short:
        p.do("issue_documents", "agency", 2, documents_issued_at=day(2), bid_deadline=day(2 + minimum - 1))
    assert short.value.code == f"rules.{rule}"
    p.do("issue_documents", "agency", 2, documents_issued_at=day(2), bid_deadline=day(2 + minimum))
    p.do("close_bidding", "system", 2 + minimum, bids_received=3)
    assert p.state == "bids_closed"
    p.do("start_evaluation", "agency", 2 + minimum, committee_ready=True)
    if rounds:
        p.do("next_round", "expert", 2 + minimum)
        assert p.state == "evaluation"
    else:
        with pytest.raises(Conflict):
            p.do("next_round", "expert", 2 + minimum)
    start = 3 + minimum
    p.do("submit_report", "expert", start, valid_bids=3, evaluation_finished_at=day(start),
         report_received_at=day(start))  # fmt: skip
    p.do("confirm_award", "tenderer", start + 1, award_confirmed_at=day(start + 1))
    p.do("publish_result", "agency", start + 2, publicity_start=day(start + 2), publicity_end=day(start + 3),
         award_notice_at=day(start + 2))  # fmt: skip
    p.do("end_publicity", "system", start + 3)
    _contract_and_archive(p, start + 10)
    assert (p.state, p.warnings) == ("archived", [])


def test_single_source_publishes_its_reason_before_negotiating() -> None:
    p = Project("gp_single_source")
    _registered_and_accepted(p)
    with pytest.raises(ValidationFailed) as short:
        p.do("publish_single_source", "agency", 2, source_publicity_start=day(2), source_publicity_end=day(6))
    assert short.value.code == "rules.gp.single_source_publicity"
    p.do("publish_single_source", "agency", 2, source_publicity_start=day(2), source_publicity_end=day(7))
    p.do("raise_objection", "bidder", 3, objection_raised_at=day(3), open_objections=1)
    p.do("answer_objection", "agency", 20, open_objections=0)  # no challenge-reply limit on this objection
    assert p.state == "source_publicity"
    p.do("end_publicity", "system", 20)
    assert p.state == "negotiation"
    p.do(
        "submit_report",
        "expert",
        21,
        valid_bids=1,
        evaluation_finished_at=day(21),
        report_received_at=day(21),
    )
    p.do("confirm_award", "tenderer", 22, award_confirmed_at=day(22))
    p.do(
        "publish_result",
        "agency",
        23,
        publicity_start=day(23),
        publicity_end=day(24),
        award_notice_at=day(23),
    )
    p.do("end_publicity", "system", 24)
    _contract_and_archive(p, 30)
    assert (p.state, p.warnings) == ("archived", [])


def test_single_source_fails_when_an_objection_is_upheld() -> None:
    p = Project("gp_single_source")
    _registered_and_accepted(p)
    p.do("publish_single_source", "agency", 2, source_publicity_start=day(2), source_publicity_end=day(7))
    with pytest.raises(Conflict):
        p.do("declare_failed", "tenderer", 4)
    p.do("declare_failed", "tenderer", 4, objection_upheld=True)
    assert p.state == "failed"


def test_small_project_online_quotation() -> None:
    p = Project("small")
    _registered_and_accepted(p)
    p.do(
        "publish_announcement",
        "agency",
        2,
        announcement_at=day(2),
        documents_issued_at=day(2),
        bid_deadline=day(5),
    )
    p.do("close_bidding", "system", 5, bids_received=3)
    assert p.state == "quotes_closed"
    p.do("confirm_award", "agency", 5, valid_bids=3, award_confirmed_at=day(5), award_notice_at=day(5))
    assert p.state == "awarded"
    _contract_and_archive(p, 8)
    assert p.state == "archived"
    assert p.checker.calls == []  # type: ignore[attr-defined]  # no national rule applies
