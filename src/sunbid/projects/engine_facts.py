"""The facts the engine decides on, and the guards evaluated on them.

Split from :mod:`sunbid.projects.engine`, which re-exports everything public here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Final

from sunbid.projects.procedure_model import Procedure
from sunbid.projects.procedure_vocabulary import FACT_LABELS, GUARDS, STATE_FACT_LABELS, Guard

__all__ = ["Facts", "guard_holds", "min_bids"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Facts:
    """What the engine may know about a project (or section) when an action is attempted.

    All times are timezone-aware; they are normalised to UTC. ``None`` means "not recorded". Counts are
    non-negative. ``min_bids`` overrides the procedure's legal minimum for this project where the rule book
    allows it (e.g. two suppliers for a consultation on government-purchased services).
    """

    now: datetime
    # --- times -------------------------------------------------------------------------------------------
    plan_published_at: datetime | None = None
    announcement_at: datetime | None = None
    announcement_end: datetime | None = None
    invitations_sent_at: datetime | None = None
    sale_start: datetime | None = None
    sale_end: datetime | None = None
    documents_issued_at: datetime | None = None
    preq_deadline: datetime | None = None
    bid_deadline: datetime | None = None
    objection_raised_at: datetime | None = None
    evaluation_finished_at: datetime | None = None
    report_received_at: datetime | None = None
    award_confirm_due: datetime | None = None
    award_confirmed_at: datetime | None = None
    award_notice_at: datetime | None = None
    bid_validity_expires_at: datetime | None = None
    publicity_start: datetime | None = None
    publicity_end: datetime | None = None
    source_publicity_start: datetime | None = None
    source_publicity_end: datetime | None = None
    contract_signed_at: datetime | None = None
    contract_published_at: datetime | None = None
    regulator_report_at: datetime | None = None
    deposits_refunded_at: datetime | None = None
    # --- counts, flags -----------------------------------------------------------------------------------
    documents_complete: bool = False
    accept_with_promise: bool = False
    green_channel: bool = False
    plan_required: bool = False
    invitees: int = 0
    qualified_applicants: int = 0
    bids_received: int = 0
    valid_bids: int = 0
    min_bids: int | None = None
    committee_ready: bool = False
    open_objections: int = 0
    open_complaints: int = 0
    open_instructions: int = 0
    objection_upheld: bool = False
    suspended_from: str | None = None
    contract_signed_by_tenderer: bool = False
    contract_signed_by_winner: bool = False
    deposits_required: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, datetime):
                if value.tzinfo is None or value.utcoffset() is None:
                    raise ValueError(f"Facts.{f.name} must be timezone-aware, got {value!r}")
                object.__setattr__(self, f.name, value.astimezone(UTC))
            elif isinstance(value, int) and not isinstance(value, bool) and value < 0:
                raise ValueError(f"Facts.{f.name} must not be negative, got {value}")
        if self.min_bids is not None and self.min_bids < 1:
            raise ValueError(f"Facts.min_bids must be at least 1, got {self.min_bids}")

    def time(self, name: str) -> datetime | None:
        """The time fact ``name`` (``"now"`` is :attr:`now`)."""
        value = getattr(self, name)
        if value is not None and not isinstance(value, datetime):
            raise TypeError(f"Facts.{name} is not a time")
        return value


# --- guards ----------------------------------------------------------------------------------------------


def min_bids(procedure: Procedure, facts: Facts) -> int:
    """The minimum of bids (suppliers) for this project: ``facts.min_bids`` or the procedure's flag."""
    return facts.min_bids if facts.min_bids is not None else procedure.flags.min_bids


def _nothing_pending(f: Facts) -> bool:
    return f.open_objections == 0 and f.open_complaints == 0 and f.open_instructions == 0


_GUARD_TESTS: Final[Mapping[str, Callable[[Facts, int], bool]]] = {
    "registration_complete": lambda f, m: f.documents_complete or f.accept_with_promise,
    "plan_not_required": lambda f, m: not f.plan_required,
    "plan_already_published": lambda f, m: f.plan_published_at is not None,
    "plan_not_published": lambda f, m: f.plan_published_at is None,
    "invitees_at_least_min": lambda f, m: f.invitees >= m,
    "qualified_at_least_min": lambda f, m: f.qualified_applicants >= m,
    "qualified_below_min": lambda f, m: f.qualified_applicants < m,
    "bids_at_least_min": lambda f, m: f.bids_received >= m,
    "bids_below_min": lambda f, m: f.bids_received < m,
    "valid_bids_at_least_min": lambda f, m: f.valid_bids >= m,
    "valid_bids_below_min": lambda f, m: f.valid_bids < m,
    "has_valid_bid": lambda f, m: f.valid_bids >= 1,
    "committee_ready": lambda f, m: f.committee_ready,
    "no_open_objection": lambda f, m: f.open_objections == 0,
    "nothing_pending": lambda f, m: _nothing_pending(f),
    "something_pending": lambda f, m: not _nothing_pending(f),
    "report_received": lambda f, m: f.report_received_at is not None,
    "award_confirmed": lambda f, m: f.award_confirmed_at is not None,
    "award_notice_issued": lambda f, m: f.award_notice_at is not None,
    "contract_signed_by_both": lambda f, m: f.contract_signed_by_tenderer and f.contract_signed_by_winner,
    "contract_published": lambda f, m: f.contract_published_at is not None,
    "deposits_settled": lambda f, m: not f.deposits_required or f.deposits_refunded_at is not None,
    "regulator_report_filed": lambda f, m: f.regulator_report_at is not None,
    "suspended_from_publicity": lambda f, m: f.suspended_from == "publicity",
    "not_suspended_from_publicity": lambda f, m: f.suspended_from != "publicity",
    "not_suspended_from_source_publicity": lambda f, m: f.suspended_from != "source_publicity",
    "objection_upheld": lambda f, m: f.objection_upheld,
}


def guard_holds(procedure: Procedure, guard: str | Guard, facts: Facts) -> bool:
    """Whether the guard (by code) holds for ``facts`` under ``procedure``."""
    code = guard.code if isinstance(guard, Guard) else guard
    return _GUARD_TESTS[code](facts, min_bids(procedure, facts))


def _self_check() -> None:
    # The tables name guards and facts by string: make sure each has its predicate / Facts field.
    if set(_GUARD_TESTS) != set(GUARDS):
        raise RuntimeError(f"guards without predicate or declaration: {set(_GUARD_TESTS) ^ set(GUARDS)}")
    declared = set(FACT_LABELS) | set(STATE_FACT_LABELS)
    actual = {f.name for f in fields(Facts)}
    if declared != actual:
        raise RuntimeError(f"Facts and the declared facts differ: {sorted(declared ^ actual)}")


_self_check()
