"""Fakes and fact builders shared by the engine tests (no tests here).

The real rule book and working-day calendar are another module's business; the engine only sees a
``TimeRuleChecker``. :class:`CalendarDayChecker` is a small stand-in with the national values of RULES.md §1
counted in calendar days (working days treated as calendar days), so that tests exercise the direction and
the facts of every rule a table names. :class:`RecordingChecker` records what the engine asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.projects.engine import Attempt, Facts, Outcome, TimeRuleChecker, decide, min_bids
from sunbid.projects.procedures import SYSTEM, Procedure, Transition, get_procedure

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing


def day(n: float) -> datetime:
    """``n`` days after T0."""
    return T0 + timedelta(days=n)


Kind = Literal["min", "max"]

#: rule id → (kind, days): ``min``: end ≥ start + days; ``max``: end ≤ start + days.
LAW: dict[str, tuple[Kind, int]] = {
    "eng.doc_sale_period": ("min", 5),
    "eng.preq_application_after_sale": ("min", 5),
    "eng.doc_issue_to_bid_deadline": ("min", 20),
    "eng.clarification_before_deadline": ("min", 15),
    "eng.clarification_before_preq_deadline": ("min", 3),
    "eng.objection_docs_before_deadline": ("min", 10),
    "eng.objection_preq_before_deadline": ("min", 2),
    "eng.objection_reply": ("max", 3),
    "eng.publicity_start": ("max", 3),
    "eng.publicity_duration": ("min", 3),
    "eng.publicity_objection_reply": ("max", 3),
    "eng.report_to_regulator": ("max", 15),
    "eng.contract_after_award_notice": ("max", 30),
    "eng.deposit_refund_after_contract": ("max", 5),
    "eng.evaluation_before_validity_expiry": ("min", 30),
    "eng.contract_reminder": ("max", 25),
    "local.tender_plan_before_announcement": ("min", 30),
    "gp.intention_before_procurement": ("min", 30),
    "gp.announcement_duration": ("min", 5),
    "gp.doc_availability": ("min", 5),
    "gp.doc_issue_to_bid_deadline": ("min", 20),
    "gp.clarification_before_deadline": ("min", 15),
    "gp.report_to_purchaser": ("max", 2),
    "gp.purchaser_confirm": ("max", 5),
    "gp.result_announcement": ("max", 2),
    "gp.result_announcement_duration": ("min", 1),
    "gp.contract_after_award": ("max", 30),
    "gp.contract_publication": ("max", 2),
    "gp.challenge_filing": ("max", 7),
    "gp.challenge_reply": ("max", 7),
    "gp.deposit_refund": ("max", 5),
    "gp.contract_reminder": ("max", 5),
    "gp.negotiation_doc_to_submission": ("min", 3),
    "gp.consultation_doc_to_submission": ("min", 10),
    "gp.inquiry_doc_to_submission": ("min", 3),
    "gp.single_source_publicity": ("min", 5),
}


def rule_error(rule_id: str) -> ValidationFailed:
    """The error a rule book would return for ``rule_id`` (the code is what the engine must pass through)."""
    return ValidationFailed(f"rules.{rule_id}", f"违反时限规则 {rule_id}", f"Time rule {rule_id} broken")


@dataclass
class RecordingChecker:
    """Records every call; returns ``None`` unless the rule id is in ``failing``."""

    failing: set[str] = field(default_factory=set)
    calls: list[tuple[str, datetime, datetime]] = field(default_factory=list)

    def check(self, rule_id: str, start: datetime, end: datetime) -> DomainError | None:
        self.calls.append((rule_id, start, end))
        return rule_error(rule_id) if rule_id in self.failing else None


@dataclass
class CalendarDayChecker:
    """The law's values in calendar days; an unknown rule id fails the test."""

    calls: list[str] = field(default_factory=list)

    def check(self, rule_id: str, start: datetime, end: datetime) -> DomainError | None:
        kind, days = LAW[rule_id]
        self.calls.append(rule_id)
        ok = end >= start + timedelta(days=days) if kind == "min" else end <= start + timedelta(days=days)
        return None if ok else rule_error(rule_id)


#: Every time recorded, in a plausible order; counts and flags that satisfy every "positive" guard.
BASE = Facts(
    now=day(200),
    plan_published_at=day(0),
    announcement_at=day(31),
    announcement_end=day(38),
    invitations_sent_at=day(31),
    sale_start=day(31),
    sale_end=day(37),
    documents_issued_at=day(31),
    preq_deadline=day(43),
    bid_deadline=day(52),
    objection_raised_at=day(40),
    evaluation_finished_at=day(53),
    report_received_at=day(53),
    award_confirm_due=day(60),
    award_confirmed_at=day(59),
    award_notice_at=day(60),
    bid_validity_expires_at=day(150),
    publicity_start=day(54),
    publicity_end=day(58),
    source_publicity_start=day(32),
    source_publicity_end=day(38),
    contract_signed_at=day(70),
    contract_published_at=day(71),
    regulator_report_at=day(65),
    deposits_refunded_at=day(72),
    documents_complete=True,
    invitees=5,
    qualified_applicants=5,
    bids_received=5,
    valid_bids=5,
    committee_ready=True,
    contract_signed_by_tenderer=True,
    contract_signed_by_winner=True,
)


def satisfying(procedure: Procedure, guard: str, facts: Facts) -> dict[str, Any]:
    """Changes to ``facts`` that make ``guard`` hold (empty when BASE already satisfies it)."""
    m = min_bids(procedure, facts)
    return {
        "plan_not_published": {"plan_published_at": None},
        "qualified_below_min": {"qualified_applicants": m - 1},
        "bids_below_min": {"bids_received": m - 1},
        "valid_bids_below_min": {"valid_bids": m - 1},
        "something_pending": {"open_objections": 1},
        "objection_upheld": {"objection_upheld": True},
        "suspended_from_publicity": {"suspended_from": "publicity"},
    }.get(guard, {})


def failing(procedure: Procedure, guard: str, facts: Facts) -> dict[str, Any]:
    """Changes to ``facts`` that make ``guard`` fail."""
    m = min_bids(procedure, facts)
    return {
        "registration_complete": {"documents_complete": False, "accept_with_promise": False},
        "plan_not_required": {"plan_required": True},
        "plan_already_published": {"plan_published_at": None},
        "plan_not_published": {"plan_published_at": day(0)},
        "invitees_at_least_min": {"invitees": m - 1},
        "qualified_at_least_min": {"qualified_applicants": m - 1},
        "qualified_below_min": {"qualified_applicants": m},
        "bids_at_least_min": {"bids_received": m - 1},
        "bids_below_min": {"bids_received": m},
        "valid_bids_at_least_min": {"valid_bids": m - 1},
        "valid_bids_below_min": {"valid_bids": m},
        "has_valid_bid": {"valid_bids": 0},
        "committee_ready": {"committee_ready": False},
        "no_open_objection": {"open_objections": 1},
        "nothing_pending": {"open_complaints": 1},
        "something_pending": {"open_objections": 0, "open_complaints": 0, "open_instructions": 0},
        "report_received": {"report_received_at": None},
        "award_confirmed": {"award_confirmed_at": None},
        "award_notice_issued": {"award_notice_at": None},
        "contract_signed_by_both": {"contract_signed_by_winner": False},
        "contract_published": {"contract_published_at": None},
        "deposits_settled": {"deposits_required": True, "deposits_refunded_at": None},
        "regulator_report_filed": {"regulator_report_at": None},
        "objection_upheld": {"objection_upheld": False},
    }[guard]


def facts_for(procedure: Procedure, t: Transition, source: str) -> Facts:
    """Facts under which ``t`` applies from ``source`` (guards hold; a suspension knows where from)."""
    facts = BASE
    for guard in t.guard_codes:
        facts = replace(facts, **satisfying(procedure, guard, facts))
    if procedure.can_return_from(source) and facts.suspended_from is None:
        facts = replace(facts, suspended_from=sorted(procedure.return_states(source))[0])
    return facts


def a_role(t: Transition) -> frozenset[str]:
    """One role allowed to trigger ``t``."""
    return frozenset({SYSTEM}) if t.timed else frozenset({sorted(t.roles)[0]})


def cases() -> list[tuple[str, int, str]]:
    """(procedure, transition index, source state) for every transition of every procedure."""
    from sunbid.projects.procedures import PROCEDURES

    return [
        (code, i, source)
        for code, procedure in PROCEDURES.items()
        for i, t in enumerate(procedure.transitions)
        for source in sorted(t.sources)
    ]


def case_id(case: tuple[str, int, str]) -> str:
    code, i, source = case
    t = get_procedure(code).transitions[i]
    return f"{code}:{t.action}:{source}->{t.target}"


class Project:
    """A project walked through its procedure with realistic times and the calendar-day checker."""

    def __init__(self, code: str, checker: TimeRuleChecker | None = None) -> None:
        self.procedure = get_procedure(code)
        self.state = self.procedure.initial_state.code
        self.facts = Facts(now=T0)
        self.checker = checker or CalendarDayChecker()
        self.outcomes: list[Outcome] = []

    def do(self, action: str, role: str, at: float, **changes: Any) -> Outcome:
        """Record ``changes``, attempt ``action`` as ``role`` at day ``at``; keep the result if accepted."""
        facts = replace(self.facts, now=day(at), **changes)
        outcome = decide(self.procedure, self.state, Attempt(action, frozenset({role}), facts), self.checker)
        if "suspended_from" in outcome.details:
            facts = replace(facts, suspended_from=outcome.details["suspended_from"])
        self.facts, self.state = facts, outcome.new_state
        self.outcomes.append(outcome)
        return outcome

    @property
    def warnings(self) -> list[str]:
        """Codes of every warning so far."""
        return [w.code for o in self.outcomes for w in o.warnings]
