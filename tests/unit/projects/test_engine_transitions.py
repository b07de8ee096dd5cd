"""Every transition of every procedure, generated from the tables: it applies, it needs its roles, its
guards matter, and its time rules are asked about the right facts."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_engine_support import RecordingChecker, a_role, case_id, cases, facts_for, failing

from sunbid.core.errors import Conflict, Forbidden
from sunbid.ledger.canonical import canonical_json
from sunbid.projects.engine import Attempt, decide, guard_holds
from sunbid.projects.procedures import NOW, PROCEDURES, RETURN, ROLES, SYSTEM, get_procedure

CASES = cases()


def test_the_cases_cover_every_transition_and_every_source_state() -> None:
    expected = sum(len(t.sources) for p in PROCEDURES.values() for t in p.transitions)
    assert len(CASES) == expected
    assert len({(code, i) for code, i, _ in CASES}) == sum(len(p.transitions) for p in PROCEDURES.values())


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_transition_applies_when_its_guards_hold(case: tuple[str, int, str]) -> None:
    code, index, source = case
    procedure = get_procedure(code)
    t = procedure.transitions[index]
    facts = facts_for(procedure, t, source)
    roles = [frozenset({SYSTEM})] if t.timed else [frozenset({r}) for r in sorted(t.roles)]
    for actor in roles:
        checker = RecordingChecker()
        outcome = decide(procedure, source, Attempt(t.action, actor, facts), checker)

        assert outcome.transition is t
        expected = facts.suspended_from if t.target == RETURN else t.target
        assert outcome.new_state == expected
        assert outcome.event == t.event
        assert outcome.details["from"] == source
        assert outcome.details["to"] == expected
        assert set(outcome.details["facts"]) == set(t.records)
        canonical_json(dict(outcome.details))  # storable in the audit trail and the transparency log
        applicable = [c for c in t.time_rules if c.when is None or guard_holds(procedure, c.when, facts)]
        assert checker.calls == [
            (
                c.rule_id,
                facts.now if c.start_fact == NOW else getattr(facts, c.start_fact),
                facts.now if c.end_fact == NOW else getattr(facts, c.end_fact),
            )
            for c in applicable
        ]


def _guard_cases() -> list[tuple[str, int, str, str]]:
    return [(code, i, source, g) for code, i, source in CASES for g in get_procedure(code).transitions[i].guard_codes]


GUARD_CASES = _guard_cases()


@pytest.mark.parametrize("case", GUARD_CASES, ids=[f"{case_id(c[:3])}:{c[3]}" for c in GUARD_CASES])
def test_transition_is_not_taken_when_one_of_its_guards_fails(case: tuple[str, int, str, str]) -> None:
    code, index, source, guard = case
    procedure = get_procedure(code)
    t = procedure.transitions[index]
    good = facts_for(procedure, t, source)
    bad = replace(good, **failing(procedure, guard, good))
    assert guard_holds(procedure, guard, good)
    assert not guard_holds(procedure, guard, bad)

    actor = a_role(t)
    siblings = [
        o
        for o in procedure.transitions
        if o is not t
        and o.action == t.action
        and source in o.sources
        and o.roles & actor
        and all(guard_holds(procedure, g, bad) for g in o.guards)
    ]
    if siblings:  # the sibling with the complementary guard takes over
        outcome = decide(procedure, source, Attempt(t.action, actor, bad), RecordingChecker())
        assert outcome.transition is siblings[0]
        assert outcome.new_state != t.target
    else:
        with pytest.raises(Conflict) as refused:
            decide(procedure, source, Attempt(t.action, actor, bad), RecordingChecker())
        assert refused.value.code == f"procedure.guard_failed:{guard}"
        assert refused.value.details["guard"] == guard


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_roles_outside_the_table_are_refused(case: tuple[str, int, str]) -> None:
    code, index, source = case
    procedure = get_procedure(code)
    t = procedure.transitions[index]
    allowed = frozenset().union(
        *(o.roles for o in procedure.transitions if o.action == t.action and source in o.sources)
    )
    outsiders = sorted(ROLES - allowed)
    assert outsiders  # somebody is always refused, at least the system or the public's roles
    facts = facts_for(procedure, t, source)
    for role in outsiders:
        with pytest.raises(Forbidden) as refused:
            decide(procedure, source, Attempt(t.action, frozenset({role}), facts), RecordingChecker())
        assert refused.value.code == "procedure.role_not_allowed"
