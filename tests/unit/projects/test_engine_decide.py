"""The engine's answers: refusals and their messages, roles, guards, suspension, time rules, what is
offered, what is due, and the countdowns."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from test_engine_support import BASE, RecordingChecker, day, rule_error

from sunbid.core.errors import Conflict, ErrorKind, Forbidden, ValidationFailed
from sunbid.projects.engine import (
    Attempt,
    Deadline,
    Facts,
    allowed_actions,
    deadlines,
    decide,
    next_timed_due,
    timed_transitions_due,
)
from sunbid.projects.procedures import PROCEDURES, Severity, get_procedure

ENG = get_procedure("eng_open")
TENDERER = frozenset({"tenderer"})
BIDDER = frozenset({"bidder"})
OPERATOR = frozenset({"operator"})
SYSTEM = frozenset({"system"})


def attempt(action: str, roles: frozenset[str], facts: Facts = BASE) -> Attempt:
    return Attempt(action, roles, facts)


# --- illegal transitions -----------------------------------------------------------------------------------


def test_illegal_transition_names_state_and_action_in_chinese_and_english() -> None:
    with pytest.raises(Conflict) as refused:
        decide(ENG, "bidding", attempt("confirm_award", TENDERER), RecordingChecker())
    error = refused.value
    assert error.code == "procedure.illegal_transition"
    assert error.kind is ErrorKind.CONFLICT
    assert "当前状态「投标中」不能执行「确认中标」" in error.message_zh
    assert "'confirm_award'" in error.message_en and "'bidding'" in error.message_en
    assert error.details["allowed_actions"] == ["amend_documents", "suspend", "terminate"]
    assert "「澄清或修改文件」" in error.message_zh


def test_illegal_transition_lists_what_this_actor_may_do() -> None:
    with pytest.raises(Conflict) as refused:
        decide(ENG, "bidding", attempt("accept", BIDDER), RecordingChecker())
    assert refused.value.details["allowed_actions"] == ["raise_objection"]
    assert "「提出异议（质疑）」" in refused.value.message_zh


def test_unknown_action_is_an_illegal_transition() -> None:
    with pytest.raises(Conflict) as refused:
        decide(ENG, "bidding", attempt("bribe_the_committee", TENDERER), RecordingChecker())
    assert refused.value.code == "procedure.illegal_transition"
    assert "bribe_the_committee" in refused.value.message_zh


@pytest.mark.parametrize("code", list(PROCEDURES))
def test_final_states_refuse_every_action(code: str) -> None:
    procedure = get_procedure(code)
    finals = [s.code for s in procedure.states if s.final]
    assert finals == ["archived", "terminated"] or sorted(finals) == ["archived", "terminated"]
    for final in finals:
        for action in procedure.actions:
            with pytest.raises(Conflict) as refused:
                decide(procedure, final, attempt(action, OPERATOR | TENDERER | SYSTEM), RecordingChecker())
            assert refused.value.code == "procedure.illegal_transition"


def test_unknown_state_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        decide(ENG, "limbo", attempt("terminate", TENDERER), RecordingChecker())
    assert refused.value.code == "procedure.unknown_state"


# --- roles -------------------------------------------------------------------------------------------------


def test_bidder_cannot_accept_a_project() -> None:
    with pytest.raises(Forbidden) as refused:
        decide(ENG, "registered", attempt("accept", BIDDER), RecordingChecker())
    error = refused.value
    assert error.code == "procedure.role_not_allowed"
    assert "投标人/供应商" in error.message_zh and "交易中心工作人员" in error.message_zh
    assert error.details["allowed_roles"] == ["operator"]


def test_operator_accepts_a_project_and_the_green_channel_is_recorded() -> None:
    facts = replace(BASE, green_channel=True, accept_with_promise=True, documents_complete=False)
    outcome = decide(ENG, "registered", attempt("accept", OPERATOR, facts), RecordingChecker())
    assert outcome.new_state == "accepted"
    assert outcome.details["facts"] == {
        "documents_complete": False,
        "accept_with_promise": True,
        "green_channel": True,
    }


@pytest.mark.parametrize("roles", [TENDERER, OPERATOR, frozenset({"regulator"}), TENDERER | OPERATOR])
def test_nobody_can_fire_a_timed_transition_by_hand(roles: frozenset[str]) -> None:
    with pytest.raises(Forbidden) as refused:
        decide(ENG, "bidding", attempt("close_bidding", roles), RecordingChecker())
    assert refused.value.code == "procedure.role_not_allowed"
    assert "由系统" in refused.value.message_zh and "投标（响应）截止时间" in refused.value.message_zh


def test_the_system_cannot_take_a_persons_action() -> None:
    with pytest.raises(Forbidden):
        decide(ENG, "registered", attempt("accept", SYSTEM), RecordingChecker())


def test_an_actor_with_no_role_is_refused() -> None:
    with pytest.raises(Forbidden):
        decide(ENG, "bidding", attempt("amend_documents", frozenset()), RecordingChecker())


def test_a_timed_transition_before_its_time_is_not_due() -> None:
    facts = replace(BASE, now=day(52) - timedelta(milliseconds=1), bid_deadline=day(52))
    with pytest.raises(Conflict) as refused:
        decide(ENG, "bidding", attempt("close_bidding", SYSTEM, facts), RecordingChecker())
    assert refused.value.code == "procedure.not_due"
    assert "2026-04-23 09:00 北京时间" in refused.value.message_zh
    on_time = decide(ENG, "bidding", attempt("close_bidding", SYSTEM, replace(facts, now=day(52))), RecordingChecker())
    assert on_time.new_state == "opening"


def test_a_timed_transition_without_its_time_recorded_is_refused() -> None:
    facts = replace(BASE, bid_deadline=None)
    with pytest.raises(ValidationFailed) as refused:
        decide(ENG, "bidding", attempt("close_bidding", SYSTEM, facts), RecordingChecker())
    assert refused.value.code == "procedure.fact_missing"
    assert refused.value.details["fact"] == "bid_deadline"


# --- guards ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bids", "state"), [(0, "failed"), (2, "failed"), (3, "opening"), (9, "opening")])
def test_close_bidding_needs_three_bids_in_engineering(bids: int, state: str) -> None:
    facts = replace(BASE, bids_received=bids)
    outcome = decide(ENG, "bidding", attempt("close_bidding", SYSTEM, facts), RecordingChecker())
    assert outcome.new_state == state
    assert outcome.event == ("bidding.failed" if state == "failed" else "bidding.closed")
    assert outcome.details["facts"] == {"bids_received": bids}


def test_a_project_may_set_its_own_minimum_where_the_rules_allow() -> None:
    consultation = get_procedure("gp_consultation")
    two = replace(BASE, bids_received=2)
    default = decide(consultation, "bidding", attempt("close_bidding", SYSTEM, two), RecordingChecker())
    assert default.new_state == "failed"
    lowered = decide(
        consultation,
        "bidding",
        attempt("close_bidding", SYSTEM, replace(two, min_bids=2)),
        RecordingChecker(),
    )
    assert lowered.new_state == "bids_closed"


def test_single_source_needs_one_valid_offer() -> None:
    single = get_procedure("gp_single_source")
    one = replace(BASE, valid_bids=1)
    assert (
        decide(
            single, "negotiation", attempt("submit_report", frozenset({"expert"}), one), RecordingChecker()
        ).new_state
        == "reported"
    )
    with pytest.raises(Conflict) as refused:
        decide(
            single,
            "negotiation",
            attempt("submit_report", frozenset({"expert"}), replace(one, valid_bids=0)),
            RecordingChecker(),
        )
    assert refused.value.code == "procedure.guard_failed:has_valid_bid"


def test_guard_failure_names_the_guard_in_both_languages() -> None:
    facts = replace(BASE, contract_signed_by_winner=False)
    with pytest.raises(Conflict) as refused:
        decide(ENG, "awarded", attempt("sign_contract", TENDERER, facts), RecordingChecker())
    error = refused.value
    assert error.code == "procedure.guard_failed:contract_signed_by_both"
    assert "合同已由双方签署" in error.message_zh and "「已发出中标通知书（待签合同）」" in error.message_zh
    assert "contract_signed_by_both" in error.message_en


def test_deposits_not_required_do_not_block_the_archive() -> None:
    small = get_procedure("small")
    facts = replace(BASE, deposits_required=False, deposits_refunded_at=None)
    assert decide(small, "contracted", attempt("archive", OPERATOR, facts), RecordingChecker()).new_state == "archived"
    with pytest.raises(Conflict):
        decide(
            small,
            "contracted",
            attempt("archive", OPERATOR, replace(facts, deposits_required=True)),
            RecordingChecker(),
        )


# --- suspension --------------------------------------------------------------------------------------------


def _suspendable(code: str) -> list[str]:
    procedure = get_procedure(code)
    return sorted(s for t in procedure.transitions if t.action == "suspend" for s in t.sources if s != "suspended")


@pytest.mark.parametrize(("code", "state"), [(c, s) for c in PROCEDURES for s in _suspendable(c)])
def test_suspension_resumes_in_the_state_it_left(code: str, state: str) -> None:
    procedure = get_procedure(code)
    regulator = frozenset({"regulator"})
    complaint = replace(BASE, open_complaints=1)
    suspended = decide(procedure, state, attempt("suspend", regulator, complaint), RecordingChecker())
    assert suspended.new_state == "suspended"
    assert suspended.details["suspended_from"] == state

    after = replace(complaint, open_complaints=0, suspended_from=suspended.details["suspended_from"])
    resumed = decide(procedure, "suspended", attempt("resume", regulator, after), RecordingChecker())
    assert resumed.new_state == state
    assert resumed.details["resumed_to"] == state
    assert resumed.event == "project.resumed"


def test_resume_waits_until_every_complaint_and_instruction_is_closed() -> None:
    for pending in ({"open_complaints": 1}, {"open_instructions": 2}, {"open_objections": 1}):
        facts = replace(BASE, suspended_from="bidding", **pending)
        with pytest.raises(Conflict) as refused:
            decide(ENG, "suspended", attempt("resume", frozenset({"regulator"}), facts), RecordingChecker())
        assert refused.value.code == "procedure.guard_failed:nothing_pending"


@pytest.mark.parametrize("back", [None, "draft", "registered", "archived", "suspended", "nowhere"])
def test_resume_refuses_a_state_it_could_not_have_left(back: str | None) -> None:
    facts = replace(BASE, suspended_from=back)
    with pytest.raises(Conflict) as refused:
        decide(ENG, "suspended", attempt("resume", OPERATOR, facts), RecordingChecker())
    assert refused.value.code == "procedure.return_state_invalid"


def test_an_objection_suspends_bidding_and_its_answer_resumes_it() -> None:
    raised = replace(BASE, now=day(40), objection_raised_at=day(40), open_objections=1)
    suspended = decide(ENG, "bidding", attempt("raise_objection", BIDDER, raised), RecordingChecker())
    assert (suspended.new_state, suspended.details["suspended_from"]) == ("suspended", "bidding")

    second = replace(raised, open_objections=2, suspended_from="bidding")
    still = decide(ENG, "suspended", attempt("raise_objection", BIDDER, second), RecordingChecker())
    assert still.new_state == "suspended" and "suspended_from" not in still.details

    one_left = replace(second, now=day(41), open_objections=1)
    assert (
        decide(ENG, "suspended", attempt("answer_objection", TENDERER, one_left), RecordingChecker()).new_state
        == "suspended"
    )
    none_left = replace(one_left, open_objections=0)
    assert (
        decide(ENG, "suspended", attempt("answer_objection", TENDERER, none_left), RecordingChecker()).new_state
        == "bidding"
    )


@pytest.mark.parametrize("code", list(PROCEDURES))
def test_terminate_from_every_non_final_state(code: str) -> None:
    procedure = get_procedure(code)
    open_states = [s.code for s in procedure.states if not s.final]
    assert len(open_states) >= 9
    for state in open_states:
        for role in ("tenderer", "operator"):
            outcome = decide(procedure, state, attempt("terminate", frozenset({role})), RecordingChecker())
            assert (outcome.new_state, outcome.event) == ("terminated", "project.terminated")
        with pytest.raises(Forbidden):
            decide(procedure, state, attempt("terminate", BIDDER | frozenset({"agency"})), RecordingChecker())


@pytest.mark.parametrize(("plan", "state"), [(day(0), "plan_published"), (None, "accepted")])
def test_retender_goes_back_before_the_announcement(plan: datetime | None, state: str) -> None:
    facts = replace(BASE, plan_published_at=plan)
    assert decide(ENG, "failed", attempt("retender", TENDERER, facts), RecordingChecker()).new_state == state
    assert (
        decide(get_procedure("small"), "failed", attempt("retender", TENDERER, facts), RecordingChecker()).new_state
        == "accepted"
    )


# --- time rules --------------------------------------------------------------------------------------------


def test_issuing_documents_asks_the_rules_about_the_right_facts() -> None:
    checker = RecordingChecker()
    decide(ENG, "announced", attempt("issue_documents", TENDERER), checker)
    assert checker.calls == [
        ("eng.doc_sale_period", BASE.sale_start, BASE.sale_end),
        ("eng.doc_issue_to_bid_deadline", BASE.documents_issued_at, BASE.bid_deadline),
    ]


def test_each_procurement_method_consults_its_own_submission_rule() -> None:
    expected = {
        "gp_open": "gp.doc_issue_to_bid_deadline",
        "gp_negotiation": "gp.negotiation_doc_to_submission",
        "gp_consultation": "gp.consultation_doc_to_submission",
        "gp_inquiry": "gp.inquiry_doc_to_submission",
    }
    for code, rule in expected.items():
        checker = RecordingChecker()
        decide(get_procedure(code), "announced", attempt("issue_documents", TENDERER), checker)
        assert (rule, BASE.documents_issued_at, BASE.bid_deadline) in checker.calls
        assert [c[0] for c in checker.calls if c[0].endswith(("_to_submission", "_to_bid_deadline"))] == [rule]


def test_a_refusing_rule_refuses_with_its_own_error() -> None:
    checker = RecordingChecker(failing={"eng.doc_issue_to_bid_deadline"})
    with pytest.raises(ValidationFailed) as refused:
        decide(ENG, "announced", attempt("issue_documents", TENDERER), checker)
    assert refused.value.code == "rules.eng.doc_issue_to_bid_deadline"


def test_a_warning_rule_lets_the_action_through_and_reports_it() -> None:
    checker = RecordingChecker(failing={"eng.contract_after_award_notice"})
    outcome = decide(ENG, "awarded", attempt("sign_contract", BIDDER), checker)
    assert outcome.new_state == "contracted"
    assert [w.code for w in outcome.warnings] == ["rules.eng.contract_after_award_notice"]
    assert outcome.details["warnings"][0]["code"] == "rules.eng.contract_after_award_notice"
    assert outcome.details["warnings"][0]["message_zh"] == rule_error("eng.contract_after_award_notice").message_zh
    assert "warnings" not in decide(ENG, "awarded", attempt("sign_contract", BIDDER), RecordingChecker()).details


def test_a_missing_fact_a_rule_needs_refuses_the_action() -> None:
    facts = replace(BASE, bid_deadline=None)
    with pytest.raises(ValidationFailed) as refused:
        decide(ENG, "announced", attempt("issue_documents", TENDERER, facts), RecordingChecker())
    assert refused.value.code == "procedure.fact_missing"
    assert "投标（响应）截止时间" in refused.value.message_zh


def test_an_optional_rule_is_skipped_when_its_fact_is_not_recorded() -> None:
    facts = replace(BASE, bid_validity_expires_at=None)
    checker = RecordingChecker()
    assert decide(ENG, "award_pending", attempt("confirm_award", TENDERER, facts), checker).new_state == "awarded"
    assert checker.calls == []
    decide(ENG, "award_pending", attempt("confirm_award", TENDERER), checker)
    assert checker.calls == [
        ("eng.evaluation_before_validity_expiry", BASE.award_confirmed_at, BASE.bid_validity_expires_at)
    ]


@pytest.mark.parametrize(
    ("left", "rule"), [("bidding", "eng.objection_reply"), ("publicity", "eng.publicity_objection_reply")]
)
def test_the_reply_limit_depends_on_where_the_objection_came_from(left: str, rule: str) -> None:
    checker = RecordingChecker()
    facts = replace(BASE, suspended_from=left)
    decide(ENG, "suspended", attempt("answer_objection", TENDERER, facts), checker)
    assert checker.calls == [(rule, BASE.objection_raised_at, BASE.now)]


def test_an_objection_is_checked_against_the_time_of_the_attempt() -> None:
    checker = RecordingChecker()
    decide(ENG, "bidding", attempt("raise_objection", BIDDER), checker)
    assert checker.calls == [("eng.objection_docs_before_deadline", BASE.now, BASE.bid_deadline)]


# --- what is offered, what is due --------------------------------------------------------------------------


def test_allowed_actions_per_role() -> None:
    before = replace(BASE, now=day(40))
    assert allowed_actions(ENG, "bidding", TENDERER, before) == ("amend_documents", "suspend", "terminate")
    assert allowed_actions(ENG, "bidding", BIDDER, before) == ("raise_objection",)
    assert allowed_actions(ENG, "bidding", SYSTEM, before) == ()
    assert allowed_actions(ENG, "bidding", SYSTEM, replace(before, now=day(52))) == ("close_bidding",)


def test_allowed_actions_leaves_out_what_a_rule_would_refuse() -> None:
    late = RecordingChecker(failing={"eng.clarification_before_deadline"})
    assert allowed_actions(ENG, "bidding", TENDERER, BASE, late) == ("suspend", "terminate")
    assert allowed_actions(ENG, "bidding", TENDERER, BASE) == ("amend_documents", "suspend", "terminate")


def test_allowed_actions_leaves_out_failing_guards() -> None:
    facts = replace(BASE, documents_complete=False)
    assert allowed_actions(ENG, "registered", OPERATOR, facts) == ("return_registration", "terminate")
    assert allowed_actions(ENG, "registered", OPERATOR, BASE) == (
        "return_registration",
        "accept",
        "terminate",
    )


def test_timed_transitions_due_at_the_deadline() -> None:
    assert timed_transitions_due(ENG, "bidding", replace(BASE, now=day(51))) == ()
    assert timed_transitions_due(ENG, "bidding", replace(BASE, now=day(52))) == ("close_bidding",)
    assert timed_transitions_due(ENG, "bidding", replace(BASE, now=day(52), bids_received=1)) == ("close_bidding",)
    assert timed_transitions_due(ENG, "publicity", replace(BASE, now=day(58), open_objections=1)) == ()
    assert timed_transitions_due(ENG, "awarded", BASE) == ()
    gp = get_procedure("gp_open")
    assert timed_transitions_due(gp, "reported", replace(BASE, now=day(59))) == ()
    assert timed_transitions_due(gp, "reported", replace(BASE, now=day(60))) == ("confirm_award",)


def test_next_timed_due_is_what_the_scheduler_waits_for() -> None:
    assert next_timed_due(ENG, "bidding", BASE) == BASE.bid_deadline
    assert next_timed_due(ENG, "publicity", BASE) == BASE.publicity_end
    assert next_timed_due(ENG, "evaluation", BASE) is None
    assert next_timed_due(ENG, "bidding", replace(BASE, bid_deadline=None)) is None


def test_the_system_fires_the_purchasers_silence_as_a_confirmation() -> None:
    gp = get_procedure("gp_open")
    outcome = decide(gp, "reported", attempt("confirm_award", SYSTEM), RecordingChecker())
    assert (outcome.new_state, outcome.event) == ("award_confirmed", "award.deemed_confirmed")
    by_hand = decide(gp, "reported", attempt("confirm_award", TENDERER), RecordingChecker())
    assert by_hand.event == "award.confirmed"


# --- countdowns --------------------------------------------------------------------------------------------


def test_deadlines_while_bidding() -> None:
    found = deadlines(ENG, "bidding", replace(BASE, now=day(40)))
    timed = [d for d in found if d.kind == "timed"]
    assert [(d.action, d.due) for d in timed] == [("close_bidding", BASE.bid_deadline)]
    limits = {d.rule_id: d for d in found if d.kind == "limit"}
    assert set(limits) == {"eng.clarification_before_deadline", "eng.objection_docs_before_deadline"}
    objection = limits["eng.objection_docs_before_deadline"]
    assert (objection.start_fact, objection.start, objection.end_fact, objection.end) == (
        "now",
        None,
        "bid_deadline",
        BASE.bid_deadline,
    )
    assert objection.due is None and objection.severity is Severity.REFUSE


def test_deadlines_resolve_fills_in_the_rule_limits_only() -> None:
    seen: list[Deadline] = []

    def resolve(d: Deadline) -> datetime:
        seen.append(d)
        assert d.end is not None
        return d.end - timedelta(days=10)

    found = deadlines(ENG, "bidding", BASE, resolve)
    assert {d.kind for d in seen} == {"limit"}
    assert all(d.due == BASE.bid_deadline - timedelta(days=10) for d in found if d.kind == "limit")
    assert [d.due for d in found if d.kind == "timed"] == [BASE.bid_deadline]


def test_deadlines_after_the_award_notice_include_the_contract_reminder() -> None:
    facts = replace(BASE, contract_signed_at=None, regulator_report_at=None)
    found = deadlines(ENG, "awarded", facts)
    keyed = {(d.kind, d.rule_id): d for d in found}
    assert set(keyed) == {
        ("limit", "eng.contract_after_award_notice"),
        ("watch", "eng.contract_reminder"),
        ("watch", "eng.report_to_regulator"),
    }
    reminder = keyed[("watch", "eng.contract_reminder")]
    assert (reminder.start_fact, reminder.start, reminder.end_fact) == (
        "award_notice_at",
        BASE.award_notice_at,
        "contract_signed_at",
    )
    signed = deadlines(ENG, "awarded", replace(facts, contract_signed_at=day(70), regulator_report_at=day(65)))
    assert signed == ()


def test_deadlines_of_a_suspension_follow_where_it_came_from() -> None:
    from_publicity = deadlines(ENG, "suspended", replace(BASE, suspended_from="publicity"))
    assert [d.rule_id for d in from_publicity] == ["eng.publicity_objection_reply"]
    from_bidding = deadlines(ENG, "suspended", replace(BASE, suspended_from="bidding"))
    assert [d.rule_id for d in from_bidding] == ["eng.objection_reply"]


# --- facts -------------------------------------------------------------------------------------------------


def test_facts_need_aware_times_and_are_kept_in_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Facts(now=datetime(2026, 3, 2, 9, 0))  # a naive time: the point of the test
    beijing = timezone(timedelta(hours=8))
    facts = Facts(
        now=datetime(2026, 3, 2, 9, 0, tzinfo=beijing),
        bid_deadline=datetime(2026, 4, 1, 9, 30, tzinfo=beijing),
    )
    assert facts.now == day(0) and facts.now.utcoffset() == timedelta(0)
    assert facts.bid_deadline is not None and facts.bid_deadline.hour == 1


@pytest.mark.parametrize("bad", [{"bids_received": -1}, {"open_objections": -2}, {"min_bids": 0}])
def test_facts_refuse_impossible_counts(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        Facts(now=day(0), **bad)  # type: ignore[arg-type]
