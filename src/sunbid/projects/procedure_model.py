"""Procedures as data: the vocabulary of a lifecycle table and the checks every table must pass.

A procedure (公开招标, 竞争性谈判, ...) is a :class:`Procedure`: its states, its transitions and the legal
time rules each transition consults. Nothing here runs a project; :mod:`sunbid.projects.engine` does.

Conventions a table follows (and :func:`validate` enforces):

- every action has a Chinese and an English label in :data:`ACTION_LABELS`, every guard is declared in
  :data:`GUARDS`, every fact a time check or a timed transition names is in :data:`FACT_LABELS` (or is
  ``"now"``), every rule id is one of :data:`RULE_IDS`, every role one of :data:`ROLE_LABELS`;
- a *timed* transition is fired by the scheduler only: its roles are exactly ``{"system"}`` and it names the
  fact whose time it waits for (``due_fact``); no manual transition lists ``"system"``;
- a transition whose target is :data:`RETURN` goes back to the state the project was in before it entered
  the transition's source (``Facts.suspended_from``): that is how ``resume`` leaves ``suspended``;
- several transitions may share an action and a source state (``close_bidding`` → ``opening`` or
  ``failed``) only when they cannot both apply: their roles are disjoint or they carry complementary guards
  (:data:`COMPLEMENTARY_GUARDS`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sunbid.projects.procedure_vocabulary import (
    ACTION_LABELS,
    COMPLEMENTARY_GUARDS,
    FACT_LABELS,
    GUARDS,
    NOW,
    RETURN,
    ROLES,
    RULE_IDS,
    STATE_FACT_LABELS,
    SYSTEM,
    Guard,
    Phase,
    Sector,
    Severity,
)

__all__ = [
    "Procedure",
    "ProcedureDefinitionError",
    "ProcedureFlags",
    "StateDef",
    "TimeCheck",
    "Transition",
    "validate",
]


@dataclass(frozen=True, slots=True)
class TimeCheck:
    """A legal time rule a transition consults, and which two facts it relates.

    The engine calls ``checker.check(rule_id, <start_fact>, <end_fact>)``; what the rule requires of the two
    times (at least 20 days apart, at most 3 working days, ...) is the rule book's business. ``"now"`` is the
    time of the attempt. ``required=False`` skips the check when a fact is not recorded (a project without a
    bid validity date); otherwise a missing fact refuses the action. ``when`` names a guard that must hold
    for the check to apply (which reply limit applies depends on where the objection came from).
    """

    rule_id: str
    start_fact: str
    end_fact: str
    severity: Severity = Severity.REFUSE
    required: bool = True
    when: str | None = None


@dataclass(frozen=True, slots=True)
class StateDef:
    """One state of a procedure.

    ``watches`` are time limits that run while the project is in the state without guarding a transition
    (the contract reminder); they show as countdowns (see ``engine.deadlines``).
    """

    code: str
    name_zh: str
    name_en: str
    phase: Phase
    final: bool = False
    initial: bool = False
    watches: tuple[TimeCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class Transition:
    """A move from any of ``sources`` to ``target`` by ``action``.

    ``roles``: who may trigger it. ``guards``: conditions on the facts, all must hold. ``time_rules``: legal
    time rules consulted. ``event``: the name of the event recorded. ``timed``: fired by the scheduler (role
    ``system``) once ``now`` reaches the time in fact ``due_fact``. ``records``: facts copied into the
    event's details (what the audit trail and the portal need to know about the step).
    """

    action: str
    sources: frozenset[str]
    target: str
    roles: frozenset[str]
    guards: tuple[Guard, ...] = ()
    time_rules: tuple[TimeCheck, ...] = ()
    event: str = ""
    timed: bool = False
    due_fact: str | None = None
    description_zh: str = ""
    records: tuple[str, ...] = ()

    @property
    def guard_codes(self) -> tuple[str, ...]:
        """The codes of the guards, in order."""
        return tuple(g.code for g in self.guards)


@dataclass(frozen=True, slots=True)
class ProcedureFlags:
    """What makes a procedure legally different, as flags pages and services can read.

    ``min_bids``: the legal minimum of bids (tendering: 3, 条例 §44 / 87号令) or of suppliers
    (negotiation, consultation, inquiry: 3; single source: 1); a project may override it
    (``Facts.min_bids``) where the rule book allows. The other flags are checked against the transitions by
    :func:`validate`, so they never lie.
    """

    min_bids: int
    has_prequalification: bool = False
    allows_custodian_decryption: bool = False
    has_opening: bool = False
    has_candidate_publicity: bool = False
    has_result_announcement: bool = False
    has_tender_plan_or_intention: bool = False
    invited: bool = False
    has_negotiation_rounds: bool = False
    silence_confirms_award: bool = False
    has_single_source_publicity: bool = False


@dataclass(frozen=True, slots=True)
class Procedure:
    """A procedure (采购方式/招标方式) declared as data; run by ``sunbid.projects.engine``."""

    code: str
    name_zh: str
    name_en: str
    sector: Sector
    states: tuple[StateDef, ...]
    transitions: tuple[Transition, ...]
    flags: ProcedureFlags
    description_zh: str = ""

    def state(self, code: str) -> StateDef | None:
        """The state called ``code``, or ``None``."""
        return next((s for s in self.states if s.code == code), None)

    @property
    def state_codes(self) -> frozenset[str]:
        """The codes of all states."""
        return frozenset(s.code for s in self.states)

    @property
    def initial_state(self) -> StateDef:
        """The state a new project starts in."""
        return next(s for s in self.states if s.initial)

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions this procedure uses, in order of first appearance."""
        return tuple(dict.fromkeys(t.action for t in self.transitions))

    def transitions_from(self, state: str) -> tuple[Transition, ...]:
        """The transitions leaving ``state`` (in declaration order)."""
        return tuple(t for t in self.transitions if state in t.sources)

    def can_return_from(self, state: str) -> bool:
        """Whether a ``RETURN`` transition leaves ``state`` (entering it must remember where from)."""
        return any(t.target == RETURN for t in self.transitions_from(state))

    def return_states(self, state: str) -> frozenset[str]:
        """The states a ``RETURN`` transition leaving ``state`` may go back to: those leading into it."""
        return frozenset(s for t in self.transitions if t.target == state for s in t.sources if s != state)


class ProcedureDefinitionError(ValueError):
    """A procedure table is inconsistent; ``problems`` lists every fault found (a programming error)."""

    def __init__(self, code: str, problems: Iterable[str]) -> None:
        self.problems = tuple(problems)
        super().__init__(f"procedure {code}: " + "; ".join(self.problems))


def _graph(procedure: Procedure) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {s.code: set() for s in procedure.states}
    for t in procedure.transitions:
        for source in t.sources:
            if source not in edges:
                continue
            targets = procedure.return_states(source) if t.target == RETURN else {t.target}
            edges[source].update(x for x in targets if x in edges)
    return edges


def _reachable(start: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(seen)
    while queue:
        for nxt in edges.get(queue.popleft(), ()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def _check_states(procedure: Procedure) -> list[str]:
    problems: list[str] = []
    codes = [s.code for s in procedure.states]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        problems.append(f"duplicate states {duplicates}")
    initial = [s.code for s in procedure.states if s.initial]
    if len(initial) != 1:
        problems.append(f"exactly one initial state is required, found {initial}")
    for s in procedure.states:
        if s.initial and s.final:
            problems.append(f"state {s.code} is both initial and final")
        if not s.name_zh or not s.name_en:
            problems.append(f"state {s.code} needs a Chinese and an English name")
        problems.extend(f"state {s.code}: {p}" for p in _check_time_checks(s.watches))
    if not any(s.final for s in procedure.states):
        problems.append("no final state")
    return problems


def _check_time_checks(checks: Iterable[TimeCheck]) -> list[str]:
    problems: list[str] = []
    for c in checks:
        if c.rule_id not in RULE_IDS:
            problems.append(f"unknown time rule {c.rule_id}")
        problems.extend(f"unknown fact {f} in {c.rule_id}" for f in (c.start_fact, c.end_fact) if f not in FACT_LABELS)
        if c.when is not None and c.when not in GUARDS:
            problems.append(f"unknown guard {c.when} in the condition of {c.rule_id}")
    return problems


def _check_transition(procedure: Procedure, t: Transition) -> list[str]:
    where = f"transition {t.action} {sorted(t.sources)} -> {t.target}"
    problems: list[str] = []
    states = procedure.state_codes
    finals = {s.code for s in procedure.states if s.final}
    if t.action not in ACTION_LABELS:
        problems.append(f"{where}: action has no label in ACTION_LABELS")
    if not t.sources:
        problems.append(f"{where}: no source state")
    problems.extend(f"{where}: unknown source state {s}" for s in sorted(t.sources - states))
    problems.extend(f"{where}: final state {s} has an outgoing transition" for s in sorted(t.sources & finals))
    if t.target != RETURN and t.target not in states:
        problems.append(f"{where}: unknown target state {t.target}")
    if t.target == RETURN:
        problems.extend(
            f"{where}: nothing leads into {s}, so there is nothing to return to"
            for s in sorted(t.sources & states)
            if not procedure.return_states(s)
        )
    if not t.roles:
        problems.append(f"{where}: no role may trigger it")
    problems.extend(f"{where}: unknown role {r}" for r in sorted(t.roles - ROLES))
    problems.extend(f"{where}: unknown guard {g.code}" for g in t.guards if GUARDS.get(g.code) != g)
    problems.extend(f"{where}: {p}" for p in _check_time_checks(t.time_rules))
    problems.extend(
        f"{where}: unknown fact {f} in records"
        for f in t.records
        if f not in FACT_LABELS and f not in STATE_FACT_LABELS
    )
    if t.timed:
        if t.roles != frozenset({SYSTEM}):
            problems.append(f"{where}: a timed transition is fired by the system only")
        if t.due_fact is None or t.due_fact not in FACT_LABELS or t.due_fact == NOW:
            problems.append(f"{where}: a timed transition needs the fact it waits for (due_fact)")
    else:
        if SYSTEM in t.roles:
            problems.append(f"{where}: only timed transitions may be fired by the system")
        if t.due_fact is not None:
            problems.append(f"{where}: due_fact is only for timed transitions")
    if not t.event:
        problems.append(f"{where}: no event name")
    if not t.description_zh:
        problems.append(f"{where}: no Chinese description")
    return problems


def _exclusive(a: Transition, b: Transition) -> bool:
    if not a.roles & b.roles:
        return True
    codes_a, codes_b = set(a.guard_codes), set(b.guard_codes)
    for pair in COMPLEMENTARY_GUARDS:
        x, y = sorted(pair)
        if (x in codes_a and y in codes_b) or (y in codes_a and x in codes_b):
            return True
    return False


def _check_overlaps(procedure: Procedure) -> list[str]:
    problems: list[str] = []
    ts = procedure.transitions
    for i, a in enumerate(ts):
        for b in ts[i + 1 :]:
            shared = a.sources & b.sources
            if a.action == b.action and shared and not _exclusive(a, b):
                problems.append(
                    f"transitions {a.action} from {sorted(shared)} to {a.target} and {b.target} can both "
                    "apply: give them disjoint roles or complementary guards"
                )
    return problems


def _check_flags(procedure: Procedure) -> list[str]:
    actions = set(procedure.actions)
    flags = procedure.flags
    expected = {
        "has_prequalification": "publish_prequalification" in actions,
        "has_tender_plan_or_intention": "publish_plan" in actions,
        "invited": "send_invitations" in actions and "publish_announcement" not in actions,
        "has_candidate_publicity": "publish_candidates" in actions,
        "has_result_announcement": "publish_result" in actions,
        "has_negotiation_rounds": "next_round" in actions,
        "has_single_source_publicity": "publish_single_source" in actions,
        "has_opening": "finish_opening" in actions,
        "silence_confirms_award": any(t.action == "confirm_award" and t.timed for t in procedure.transitions),
    }
    problems = [
        f"flag {name}={getattr(flags, name)} disagrees with the transitions"
        for name, value in expected.items()
        if getattr(flags, name) != value
    ]
    if flags.allows_custodian_decryption and not flags.has_opening:
        problems.append("custodian decryption needs an opening")
    if flags.min_bids < 1:
        problems.append("min_bids must be at least 1")
    return problems


def validate(procedure: Procedure) -> None:
    """Check a procedure table; raise :class:`ProcedureDefinitionError` listing every problem found.

    Checks: states unique, exactly one initial state, at least one final state; every transition's states,
    roles, guards, facts, rule ids and labels exist; final states have no outgoing transition; timed
    transitions are the system's alone and say what they wait for; transitions sharing an action and a state
    are exclusive; every state is reachable from the initial state; every non-final state can reach a final
    state; the flags agree with the transitions.
    """
    problems = _check_states(procedure)
    for t in procedure.transitions:
        problems.extend(_check_transition(procedure, t))
    problems.extend(_check_overlaps(procedure))
    problems.extend(_check_flags(procedure))
    if procedure.sector not in ("engineering", "procurement"):
        problems.append(f"unknown sector {procedure.sector}")
    edges = _graph(procedure)
    initial = [s.code for s in procedure.states if s.initial]
    if len(initial) == 1:
        unreachable = sorted(set(edges) - _reachable(initial, edges))
        if unreachable:
            problems.append(f"states not reachable from {initial[0]}: {unreachable}")
    finals = {s.code for s in procedure.states if s.final}
    reverse: dict[str, set[str]] = {code: set() for code in edges}
    for source, targets in edges.items():
        for target in targets:
            reverse[target].add(source)
    stuck = sorted(set(edges) - _reachable(finals, reverse))
    if stuck:
        problems.append(f"states that can never reach a final state: {stuck}")
    if problems:
        raise ProcedureDefinitionError(procedure.code, problems)
