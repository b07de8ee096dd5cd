"""The one generic engine that runs every procedure table (ARCHITECTURE: "Lifecycles are tables").

Pure: no database, no clock, no calendar. The service layer loads a project, builds its :class:`Facts`,
calls :func:`decide` and, on success, stores the new state, records ``Outcome.event`` with
``Outcome.details`` (audit + transparency log) and schedules the next timed transition
(:func:`next_timed_due`). The scheduler asks :func:`timed_transitions_due` what to fire.

**Facts describe the project as it would be if the attempt succeeds.** The service fills in what the action
itself records before calling :func:`decide`: ``issue_documents`` comes with ``documents_issued_at=now``
and the announced ``bid_deadline``; ``raise_objection`` with ``objection_raised_at=now`` and
``open_objections`` counting the new one; ``sign_contract`` (by the second signer) with both signatures and
``contract_signed_at``. Guards and time rules are then checked against those facts; if the attempt is
refused, the service discards them.

Legal time rules are consulted through an injected :class:`TimeRuleChecker` (the service adapts the rule book
and the working-day calendar to it), so the engine never computes a working day itself. A time check names
two facts, event A (start) and event B (end), in the rule book's sense; the adapter is, in essence::

    def check(self, rule_id, start, end):
        violation = rules.check(self.book.get(rule_id), start, end, self.calendar)
        return None if violation is None else violation.as_error()

and :func:`deadlines` takes a ``resolve`` callback for countdowns: ``latest_start_allowed(rule, end)`` when
the start is ``"now"``, ``latest_allowed(rule, start)`` for ``max_within`` rules, ``earliest_allowed(rule,
start)`` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, Protocol

from sunbid.core.clock import SHANGHAI
from sunbid.core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from sunbid.projects.engine_facts import Facts, guard_holds, min_bids
from sunbid.projects.procedure_model import Procedure, StateDef, TimeCheck, Transition
from sunbid.projects.procedure_vocabulary import (
    ACTION_LABELS,
    FACT_LABELS,
    NOW,
    RETURN,
    ROLE_LABELS,
    STATE_FACT_LABELS,
    SYSTEM,
    Guard,
    Severity,
)

__all__ = [
    "Attempt",
    "Deadline",
    "Facts",
    "Outcome",
    "TimeRuleChecker",
    "allowed_actions",
    "deadlines",
    "decide",
    "guard_holds",
    "min_bids",
    "next_timed_due",
    "timed_transitions_due",
]


@dataclass(frozen=True, slots=True)
class Attempt:
    """Someone (or the scheduler, role ``system``) tries ``action``, holding ``actor_roles``."""

    action: str
    actor_roles: frozenset[str]
    facts: Facts


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an accepted attempt does: the new state and the event to record.

    ``details`` is canonical-JSON-able (times as ISO 8601 strings): procedure, action, from, to, the facts
    the transition records, ``suspended_from`` when entering a suspension (store it in the project),
    ``resumed_to`` when returning, and ``warnings`` (time rules broken with severity ``warn``; the same
    errors are in ``warnings`` as objects, for the service to report to the regulator).
    """

    new_state: str
    event: str
    details: Mapping[str, Any]
    transition: Transition
    warnings: tuple[DomainError, ...] = ()


class TimeRuleChecker(Protocol):
    """The legal time rules, as the engine sees them (the service adapts the rule book and calendar)."""

    def check(self, rule_id: str, start: datetime, end: datetime) -> DomainError | None:
        """``None`` when ``start`` and ``end`` satisfy rule ``rule_id``; else its error (``rules.<id>``)."""
        ...


@dataclass(frozen=True, slots=True)
class Deadline:
    """A time limit running in the current state, for countdowns and reminders.

    ``kind``: ``timed`` — a timed transition fires at ``due`` (known from the facts); ``limit`` — a time rule
    of a transition from this state that is running: one of its two facts is known, the other will be the time
    of the action (``"now"``) or a fact the action records; ``watch`` — a reminder declared on the state. For
    ``limit`` and ``watch`` the engine cannot compute ``due`` (that needs the rule book and the working-day
    calendar): pass ``resolve`` to :func:`deadlines`, or compute it from ``rule_id`` and the known fact.
    """

    kind: Literal["timed", "limit", "watch"]
    label_zh: str
    label_en: str
    action: str | None = None
    rule_id: str | None = None
    start_fact: str | None = None
    start: datetime | None = None
    end_fact: str | None = None
    end: datetime | None = None
    due: datetime | None = None
    severity: Severity | None = None


# --- messages --------------------------------------------------------------------------------------------


def _action_label(action: str) -> tuple[str, str]:
    return ACTION_LABELS.get(action, (action, action))


def _fact_label(name: str) -> tuple[str, str]:
    return FACT_LABELS.get(name) or STATE_FACT_LABELS.get(name) or (name, name)


def _roles_text(roles: Iterable[str]) -> tuple[str, str]:
    ordered = sorted(roles)
    zh = "、".join(ROLE_LABELS.get(r, (r, r))[0] for r in ordered) or "无"
    en = ", ".join(ordered) or "none"
    return zh, en


def _shanghai(t: datetime) -> str:
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def _state_def(procedure: Procedure, state: str) -> StateDef:
    found = procedure.state(state)
    if found is None:
        raise ValidationFailed(
            "procedure.unknown_state",
            f"程序「{procedure.name_zh}」没有状态「{state}」",
            f"Procedure {procedure.code} has no state {state!r}",
            details={"procedure": procedure.code, "state": state},
        )
    return found


def _offered(procedure: Procedure, state: str, roles: frozenset[str]) -> tuple[str, ...]:
    """Actions from ``state`` some transition lets ``roles`` trigger (guards not considered)."""
    return tuple(dict.fromkeys(t.action for t in procedure.transitions_from(state) if t.roles & roles))


def _illegal(procedure: Procedure, sdef: StateDef, attempt: Attempt) -> Conflict:
    zh_action, en_action = _action_label(attempt.action)
    offered = _offered(procedure, sdef.code, attempt.actor_roles)
    zh_list = "、".join(f"「{_action_label(a)[0]}」" for a in offered) or "无"
    return Conflict(
        "procedure.illegal_transition",
        f"当前状态「{sdef.name_zh}」不能执行「{zh_action}」。当前可执行的操作：{zh_list}",
        f"The action {attempt.action!r} ({en_action}) is not allowed in state {sdef.code!r} "
        f"({sdef.name_en}). Allowed now: {', '.join(offered) or 'none'}",
        details={
            "procedure": procedure.code,
            "state": sdef.code,
            "action": attempt.action,
            "allowed_actions": list(offered),
        },
    )


def _role_refused(procedure: Procedure, sdef: StateDef, attempt: Attempt, candidates: list[Transition]) -> Forbidden:
    zh_action, en_action = _action_label(attempt.action)
    details = {"procedure": procedure.code, "state": sdef.code, "action": attempt.action}
    if all(t.timed for t in candidates):
        due_fact = candidates[0].due_fact or ""
        return Forbidden(
            "procedure.role_not_allowed",
            f"「{zh_action}」由系统在「{_fact_label(due_fact)[0]}」到达时自动执行，不能手动操作",
            f"{attempt.action!r} ({en_action}) is done by the system at {due_fact}; nobody can trigger it by hand",
            details={**details, "allowed_roles": [SYSTEM]},
        )
    allowed = frozenset().union(*(t.roles for t in candidates))
    zh_have, en_have = _roles_text(attempt.actor_roles)
    zh_allowed, en_allowed = _roles_text(allowed)
    return Forbidden(
        "procedure.role_not_allowed",
        f"当前角色（{zh_have}）无权在「{sdef.name_zh}」状态执行「{zh_action}」；可执行该操作的角色：{zh_allowed}",
        f"Role(s) {en_have} may not {en_action} in state {sdef.code!r}; allowed roles: {en_allowed}",
        details={**details, "allowed_roles": sorted(allowed)},
    )


def _fact_missing(procedure: Procedure, t: Transition, name: str) -> ValidationFailed:
    zh_action, en_action = _action_label(t.action)
    zh_fact, en_fact = _fact_label(name)
    return ValidationFailed(
        "procedure.fact_missing",
        f"执行「{zh_action}」需要先记录「{zh_fact}」",
        f"To {en_action}, {en_fact} ({name}) must be recorded first",
        details={"procedure": procedure.code, "action": t.action, "fact": name},
    )


def _guard_failed(procedure: Procedure, sdef: StateDef, t: Transition, guard: Guard) -> Conflict:
    zh_action, en_action = _action_label(t.action)
    return Conflict(
        f"procedure.guard_failed:{guard.code}",
        f"当前状态「{sdef.name_zh}」不能执行「{zh_action}」：条件「{guard.description_zh}」不满足",
        f"Cannot {en_action} in state {sdef.code!r}: condition {guard.code!r} ({guard.description_en}) fails",
        details={"procedure": procedure.code, "state": sdef.code, "action": t.action, "guard": guard.code},
    )


def _not_due(procedure: Procedure, t: Transition, due_fact: str, due: datetime) -> Conflict:
    zh_action, en_action = _action_label(t.action)
    return Conflict(
        "procedure.not_due",
        f"「{zh_action}」尚未到时间（{_fact_label(due_fact)[0]}：{_shanghai(due)} 北京时间）",
        f"{en_action} is not due before {due.isoformat()} ({due_fact})",
        details={
            "procedure": procedure.code,
            "action": t.action,
            "due_fact": due_fact,
            "due": due.isoformat(),
        },
    )


# --- deciding --------------------------------------------------------------------------------------------


def _blocker(procedure: Procedure, sdef: StateDef, t: Transition, facts: Facts) -> DomainError | None:
    """Why ``t`` cannot be taken now (time not reached, a guard fails), or ``None``."""
    if t.timed and t.due_fact is not None:
        due = facts.time(t.due_fact)
        if due is None:
            return _fact_missing(procedure, t, t.due_fact)
        if facts.now < due:
            return _not_due(procedure, t, t.due_fact, due)
    for guard in t.guards:
        if not guard_holds(procedure, guard, facts):
            return _guard_failed(procedure, sdef, t, guard)
    return None


def _select(procedure: Procedure, state: str, attempt: Attempt) -> Transition:
    sdef = _state_def(procedure, state)
    candidates = [t for t in procedure.transitions_from(state) if t.action == attempt.action]
    if not candidates:
        raise _illegal(procedure, sdef, attempt)
    permitted = [t for t in candidates if t.roles & attempt.actor_roles]
    if not permitted:
        raise _role_refused(procedure, sdef, attempt, candidates)
    blockers = []
    for t in permitted:
        blocker = _blocker(procedure, sdef, t, attempt.facts)
        if blocker is None:
            return t
        blockers.append(blocker)
    raise blockers[0]


def _applies(procedure: Procedure, check: TimeCheck, facts: Facts) -> bool:
    return check.when is None or guard_holds(procedure, check.when, facts)


def _run_time_rules(
    procedure: Procedure, t: Transition, facts: Facts, checker: TimeRuleChecker
) -> tuple[DomainError, ...]:
    warnings: list[DomainError] = []
    for check in t.time_rules:
        if not _applies(procedure, check, facts):
            continue
        start, end = facts.time(check.start_fact), facts.time(check.end_fact)
        if start is None or end is None:
            if not check.required:
                continue
            raise _fact_missing(procedure, t, check.start_fact if start is None else check.end_fact)
        error = checker.check(check.rule_id, start, end)
        if error is None:
            continue
        if check.severity is Severity.REFUSE:
            raise error
        warnings.append(error)
    return tuple(warnings)


def _target(procedure: Procedure, state: str, t: Transition, facts: Facts) -> str:
    if t.target != RETURN:
        return t.target
    back = facts.suspended_from
    allowed = procedure.return_states(state)
    if back is None or back not in allowed:
        zh_state = procedure.state(state)
        return_name = procedure.state(back) if back else None
        raise Conflict(
            "procedure.return_state_invalid",
            f"无法从「{zh_state.name_zh if zh_state else state}」恢复："
            f"暂停前的状态「{return_name.name_zh if return_name else back or '未记录'}」无效",
            f"Cannot return from {state!r}: the state before it ({back!r}) is not one it can return to",
            details={
                "procedure": procedure.code,
                "state": state,
                "suspended_from": back,
                "allowed": sorted(allowed),
            },
        )
    return back


def _jsonable(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def decide(procedure: Procedure, state: str, attempt: Attempt, checker: TimeRuleChecker) -> Outcome:
    """Apply ``attempt`` to a project of ``procedure`` in ``state``; return the outcome or raise why not.

    In order: the state must exist (``procedure.unknown_state``); some transition from it must carry the
    action (``procedure.illegal_transition``, Conflict, naming state and action and listing what the
    actor may do instead); one of those must allow the actor's roles (``procedure.role_not_allowed``,
    Forbidden; timed transitions only to ``system``); a timed one must be due (``procedure.not_due``);
    its guards must hold (``procedure.guard_failed:<guard>``, Conflict); a fact a time rule needs must be
    recorded (``procedure.fact_missing``); a time rule of severity ``refuse`` must hold (the checker's own
    error, ``rules.<id>``); a return must go to a state the project can return to
    (``procedure.return_state_invalid``). Broken ``warn`` rules are returned in the outcome.
    """
    t = _select(procedure, state, attempt)
    facts = attempt.facts
    warnings = _run_time_rules(procedure, t, facts, checker)
    new_state = _target(procedure, state, t, facts)
    details: dict[str, Any] = {
        "procedure": procedure.code,
        "action": t.action,
        "from": state,
        "to": new_state,
        "at": facts.now.isoformat(),
        "facts": {name: _jsonable(getattr(facts, name)) for name in t.records},
    }
    if new_state != state and procedure.can_return_from(new_state):
        details["suspended_from"] = state  # where a later return goes: store it as Facts.suspended_from
    if t.target == RETURN:
        details["resumed_to"] = new_state
    if warnings:
        details["warnings"] = [
            {"code": w.code, "message_zh": w.message_zh, "message_en": w.message_en} for w in warnings
        ]
    return Outcome(new_state=new_state, event=t.event, details=details, transition=t, warnings=warnings)


def _would_pass(procedure: Procedure, state: str, attempt: Attempt, checker: TimeRuleChecker | None) -> bool:
    try:
        t = _select(procedure, state, attempt)
        if checker is not None:
            _run_time_rules(procedure, t, attempt.facts, checker)
        _target(procedure, state, t, attempt.facts)
    except DomainError:
        return False
    return True


def allowed_actions(
    procedure: Procedure,
    state: str,
    roles: frozenset[str],
    facts: Facts,
    checker: TimeRuleChecker | None = None,
) -> tuple[str, ...]:
    """The actions ``roles`` could take now (what the page offers as buttons), in table order.

    Guards and, for timed actions, due times are evaluated. With a ``checker``, actions a ``refuse`` time
    rule would block are left out too; without one, time rules are not consulted.
    """
    _state_def(procedure, state)
    actions = dict.fromkeys(t.action for t in procedure.transitions_from(state) if t.roles & roles)
    return tuple(a for a in actions if _would_pass(procedure, state, Attempt(a, roles, facts), checker))


def timed_transitions_due(procedure: Procedure, state: str, facts: Facts) -> tuple[str, ...]:
    """The timed actions the scheduler should fire now (due at ``facts.now`` and with their guards holding).

    Fire each with ``decide(procedure, state, Attempt(action, frozenset({"system"}), facts), checker)``. After
    a resume, an action whose time passed during the suspension is due at once: move the deadline first.
    """
    _state_def(procedure, state)
    timed = dict.fromkeys(t.action for t in procedure.transitions_from(state) if t.timed)
    system = frozenset({SYSTEM})
    return tuple(a for a in timed if _would_pass(procedure, state, Attempt(a, system, facts), None))


def next_timed_due(procedure: Procedure, state: str, facts: Facts) -> datetime | None:
    """The earliest time a timed transition from ``state`` waits for (what the scheduler wakes up at)."""
    _state_def(procedure, state)
    dues = [facts.time(t.due_fact) for t in procedure.transitions_from(state) if t.timed and t.due_fact]
    known = [d for d in dues if d is not None]
    return min(known) if known else None


def _limit(
    kind: Literal["limit", "watch"],
    check: TimeCheck,
    facts: Facts,
    action: str | None,
    label: tuple[str, str],
) -> Deadline | None:
    start = facts.time(check.start_fact)
    end = facts.time(check.end_fact)
    start_open = check.start_fact == NOW or start is None
    end_open = check.end_fact == NOW or end is None
    if start_open == end_open:  # both known: settled; both open: not started
        return None
    return Deadline(
        kind=kind,
        label_zh=label[0],
        label_en=label[1],
        action=action,
        rule_id=check.rule_id,
        start_fact=check.start_fact,
        start=None if check.start_fact == NOW else start,
        end_fact=check.end_fact,
        end=None if check.end_fact == NOW else end,
        severity=check.severity,
    )


def deadlines(
    procedure: Procedure,
    state: str,
    facts: Facts,
    resolve: Callable[[Deadline], datetime | None] | None = None,
) -> tuple[Deadline, ...]:
    """The time limits running in ``state``, for countdowns (see :class:`Deadline`).

    Timed transitions come with their due time from the facts. Rule limits and state watches come with the
    rule id and the known fact; ``resolve`` (the service's rule book + calendar) fills in ``due``.
    """
    sdef = _state_def(procedure, state)
    found: dict[tuple[object, ...], Deadline] = {}
    for t in procedure.transitions_from(state):
        label = _action_label(t.action)
        if t.timed and t.due_fact:
            key: tuple[object, ...] = ("timed", t.action)
            found.setdefault(
                key,
                Deadline(
                    kind="timed",
                    label_zh=label[0],
                    label_en=label[1],
                    action=t.action,
                    end_fact=t.due_fact,
                    due=facts.time(t.due_fact),
                ),
            )
            continue
        for check in t.time_rules:
            limit = _limit("limit", check, facts, t.action, label) if _applies(procedure, check, facts) else None
            if limit is not None:
                found.setdefault(("limit", check.rule_id, check.start_fact, check.end_fact), limit)
    for check in sdef.watches:
        end_label = _fact_label(check.end_fact)
        watch = _limit("watch", check, facts, None, (f"{end_label[0]}期限", f"deadline for {end_label[1]}"))
        if watch is not None:
            found.setdefault(("watch", check.rule_id, check.start_fact, check.end_fact), watch)
    result = tuple(found.values())
    if resolve is None:
        return result
    return tuple(d if d.kind == "timed" else replace(d, due=resolve(d)) for d in result)
