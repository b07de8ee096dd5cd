"""The procedure tables: all valid, legally different where the law differs, documented from the data,
and the validator catches broken tables."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sunbid.core.errors import ValidationFailed
from sunbid.identity.domain import Role
from sunbid.projects.procedure_model import (
    ProcedureDefinitionError,
    StateDef,
    TimeCheck,
    Transition,
    validate,
)
from sunbid.projects.procedure_vocabulary import GUARDS, Guard, Phase
from sunbid.projects.procedures import (
    ACTION_LABELS,
    PROCEDURES,
    ROLE_LABELS,
    RULE_IDS,
    SYSTEM,
    get_procedure,
    procedures_markdown,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "procedures.md"
CODES = ["eng_open", "eng_invited", "gp_open", "gp_negotiation", "gp_consultation", "gp_inquiry",
         "gp_single_source", "small"]  # fmt: skip


def test_every_procedure_of_the_spec_is_declared() -> None:
    assert list(PROCEDURES) == CODES


@pytest.mark.parametrize("code", CODES)
def test_every_procedure_is_valid(code: str) -> None:
    validate(get_procedure(code))


def test_unknown_procedure_is_refused_in_both_languages() -> None:
    with pytest.raises(ValidationFailed) as refused:
        get_procedure("eng_secret")
    assert refused.value.code == "procedure.unknown"
    assert "未知的招标（采购）程序：eng_secret" in refused.value.message_zh
    assert refused.value.details["known"] == CODES


def test_docs_match_the_tables() -> None:
    assert DOCS.read_text(encoding="utf-8") == procedures_markdown(), (
        "docs/procedures.md is stale: .venv/bin/python -m sunbid.projects.procedures > docs/procedures.md"
    )


def test_docs_show_every_transition_of_every_procedure() -> None:
    text = procedures_markdown()
    for procedure in PROCEDURES.values():
        section = text.split(f"## `{procedure.code}`", 1)[1].split("\n## ", 1)[0]
        states, transitions = section.split("### Transitions", 1)
        assert sum(line.startswith("| `") for line in states.splitlines()) == len(procedure.states)
        rows = [line for line in transitions.splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows] == [t.action for t in procedure.transitions]


def test_role_labels_agree_with_identity() -> None:
    for role, (zh, en) in ROLE_LABELS.items():
        if role == SYSTEM:
            continue
        assert Role(role).label_zh == zh
        assert Role(role).label_en.split(" ")[0] in en


def test_actions_mean_the_same_in_every_procedure() -> None:
    used = {t.action for p in PROCEDURES.values() for t in p.transitions}
    assert used == set(ACTION_LABELS)
    common = {"register", "accept", "close_bidding", "confirm_award", "sign_contract", "archive", "suspend",
              "resume", "terminate", "declare_failed", "retender", "raise_objection"}  # fmt: skip
    for code in CODES:
        missing = common - set(get_procedure(code).actions)
        if code == "gp_single_source":
            assert missing == {"close_bidding"}
        else:
            assert missing == set()


def test_every_rule_id_used_is_known() -> None:
    used = {c.rule_id for p in PROCEDURES.values() for t in p.transitions for c in t.time_rules}
    used |= {c.rule_id for p in PROCEDURES.values() for s in p.states for c in s.watches}
    assert used <= RULE_IDS
    assert len(used) >= 30


# --- where the law makes procedures differ -----------------------------------------------------------------


def _targets(code: str, action: str) -> set[str]:
    return {t.target for t in get_procedure(code).transitions if t.action == action}


def _rules(code: str, action: str) -> set[str]:
    return {c.rule_id for t in get_procedure(code).transitions if t.action == action for c in t.time_rules}


def test_minimum_bids_follow_the_law() -> None:
    assert {c: get_procedure(c).flags.min_bids for c in CODES} == {
        "eng_open": 3, "eng_invited": 3, "gp_open": 3, "gp_negotiation": 3, "gp_consultation": 3,
        "gp_inquiry": 3, "gp_single_source": 1, "small": 3,
    }  # fmt: skip


def test_invited_tendering_has_invitations_and_no_announcement() -> None:
    invited = get_procedure("eng_invited")
    assert invited.flags.invited
    assert "send_invitations" in invited.actions and "publish_announcement" not in invited.actions
    assert not get_procedure("eng_open").flags.invited


def test_only_engineering_open_tendering_prequalifies() -> None:
    assert [c for c in CODES if get_procedure(c).flags.has_prequalification] == ["eng_open"]
    assert _rules("eng_open", "publish_prequalification") >= {
        "eng.doc_sale_period",
        "eng.preq_application_after_sale",
    }


def test_submission_periods_per_method() -> None:
    assert _rules("eng_open", "issue_documents") == {"eng.doc_sale_period", "eng.doc_issue_to_bid_deadline"}
    assert _rules("gp_open", "issue_documents") == {"gp.doc_availability", "gp.doc_issue_to_bid_deadline"}
    assert _rules("gp_negotiation", "issue_documents") == {"gp.negotiation_doc_to_submission"}
    assert _rules("gp_consultation", "issue_documents") == {"gp.consultation_doc_to_submission"}
    assert _rules("gp_inquiry", "issue_documents") == {"gp.inquiry_doc_to_submission"}


def test_tendering_has_an_opening_other_methods_do_not() -> None:
    with_opening = [c for c in CODES if "opening" in get_procedure(c).state_codes]
    assert with_opening == ["eng_open", "eng_invited", "gp_open"]
    assert [c for c in CODES if get_procedure(c).flags.allows_custodian_decryption] == with_opening
    assert _targets("gp_negotiation", "close_bidding") == {"bids_closed", "failed"}
    assert _targets("eng_open", "close_bidding") == {"opening", "failed"}


def test_negotiation_and_consultation_have_rounds_inquiry_does_not() -> None:
    assert [c for c in CODES if get_procedure(c).flags.has_negotiation_rounds] == [
        "gp_negotiation",
        "gp_consultation",
    ]


def test_candidate_publicity_in_engineering_result_announcement_in_procurement() -> None:
    assert [c for c in CODES if get_procedure(c).flags.has_candidate_publicity] == ["eng_open", "eng_invited"]
    assert _rules("eng_open", "publish_candidates") == {"eng.publicity_start", "eng.publicity_duration"}
    assert [c for c in CODES if get_procedure(c).flags.has_result_announcement] == CODES[2:7]
    assert _rules("gp_open", "publish_result") == {
        "gp.result_announcement",
        "gp.result_announcement_duration",
    }


def test_single_source_publishes_its_reason_first() -> None:
    single = get_procedure("gp_single_source")
    assert single.flags.has_single_source_publicity
    assert _rules("gp_single_source", "publish_single_source") == {
        "gp.single_source_publicity",
        "gp.intention_before_procurement",
    }
    assert _targets("gp_single_source", "end_publicity") == {"negotiation", "awarded"}


def test_small_projects_are_simplified() -> None:
    small = get_procedure("small")
    assert "publicity" not in small.state_codes and "plan_published" not in small.state_codes
    assert {"quoting", "quotes_closed", "awarded"} <= small.state_codes
    assert all(not t.time_rules for t in small.transitions)


def test_purchasers_silence_confirms_only_after_evaluation_reports() -> None:
    silent = [c for c in CODES if get_procedure(c).flags.silence_confirms_award]
    assert silent == ["gp_open", "gp_negotiation", "gp_consultation", "gp_inquiry"]


# --- the validator catches broken tables --------------------------------------------------------------------


def _problems(procedure: object) -> str:
    with pytest.raises(ProcedureDefinitionError) as broken:
        validate(procedure)  # type: ignore[arg-type]
    return "\n".join(broken.value.problems)


ENG = get_procedure("eng_open")
_T = ENG.transitions


def _with(**changes: object) -> object:
    return replace(ENG, **changes)  # type: ignore[arg-type]


def _edit(index: int, **changes: object) -> tuple[Transition, ...]:
    return (*_T[:index], replace(_T[index], **changes), *_T[index + 1 :])  # type: ignore[arg-type]


def _index(action: str) -> int:
    return next(i for i, t in enumerate(_T) if t.action == action)


def test_validator_catches_an_unreachable_state() -> None:
    orphan = StateDef("orphan", "孤立", "orphan", Phase.EXCEPTION)
    leave = Transition("terminate", frozenset({"orphan"}), "terminated", frozenset({"tenderer"}), event="x",
                       description_zh="x")  # fmt: skip
    assert "not reachable from draft: ['orphan']" in _problems(
        _with(states=(*ENG.states, orphan), transitions=(*_T, leave))
    )


def test_validator_catches_a_dangling_target_and_source() -> None:
    problems = _problems(_with(transitions=_edit(_index("accept"), target="nowhere")))
    assert "unknown target state nowhere" in problems
    problems = _problems(_with(transitions=_edit(_index("accept"), sources=frozenset({"limbo"}))))
    assert "unknown source state limbo" in problems


def test_validator_catches_a_dead_end() -> None:
    limbo = StateDef("limbo", "无出路", "limbo", Phase.EXCEPTION)
    enter = Transition("declare_failed", frozenset({"bidding"}), "limbo", frozenset({"tenderer"}), event="x",
                       description_zh="x")  # fmt: skip
    assert "can never reach a final state: ['limbo']" in _problems(
        _with(states=(*ENG.states, limbo), transitions=(*_T, enter))
    )


def test_validator_wants_exactly_one_initial_state() -> None:
    states = tuple(replace(s, initial=s.code in {"draft", "accepted"}) for s in ENG.states)
    assert "exactly one initial state" in _problems(_with(states=states))
    states = tuple(replace(s, initial=False) for s in ENG.states)
    assert "exactly one initial state" in _problems(_with(states=states))


def test_validator_refuses_a_transition_out_of_a_final_state() -> None:
    reopen = Transition("retender", frozenset({"archived"}), "accepted", frozenset({"tenderer"}), event="x",
                        description_zh="x")  # fmt: skip
    assert "final state archived has an outgoing transition" in _problems(_with(transitions=(*_T, reopen)))


def test_validator_refuses_unknown_names() -> None:
    i = _index("issue_documents")
    assert "unknown guard bribed" in _problems(_with(transitions=_edit(i, guards=(Guard("bribed", "x", "x"),))))
    altered = replace(GUARDS["committee_ready"], description_zh="改过的")
    assert "unknown guard committee_ready" in _problems(_with(transitions=_edit(i, guards=(altered,))))
    assert "unknown time rule eng.typo" in _problems(
        _with(transitions=_edit(i, time_rules=(TimeCheck("eng.typo", "sale_start", "sale_end"),)))
    )
    assert "unknown fact sold_out_at" in _problems(
        _with(transitions=_edit(i, time_rules=(TimeCheck("eng.doc_sale_period", "sale_start", "sold_out_at"),)))
    )
    assert "unknown role public" in _problems(_with(transitions=_edit(i, roles=frozenset({"public"}))))
    assert "no label in ACTION_LABELS" in _problems(_with(transitions=_edit(i, action="issue_docs")))
    assert "unknown fact price in records" in _problems(_with(transitions=_edit(i, records=("price",))))


def test_validator_keeps_timed_transitions_for_the_system() -> None:
    i = _index("close_bidding")
    assert "fired by the system only" in _problems(_with(transitions=_edit(i, roles=frozenset({"operator"}))))
    assert "needs the fact it waits for" in _problems(_with(transitions=_edit(i, due_fact=None)))
    j = _index("accept")
    assert "only timed transitions may be fired by the system" in _problems(
        _with(transitions=_edit(j, roles=frozenset({"operator", SYSTEM})))
    )


def test_validator_refuses_two_transitions_that_could_both_apply() -> None:
    i = _index("close_bidding")
    ambiguous = _edit(i, guards=())
    assert "can both apply" in _problems(_with(transitions=ambiguous))


def test_validator_refuses_flags_that_lie() -> None:
    lying = replace(ENG.flags, has_prequalification=False)
    assert "flag has_prequalification=False disagrees" in _problems(_with(flags=lying))
    assert "min_bids must be at least 1" in _problems(_with(flags=replace(ENG.flags, min_bids=0)))


def test_validator_refuses_a_return_with_nowhere_to_go() -> None:
    cut = tuple(t for t in _T if t.target != "suspended")  # resume and answers stay, nothing enters
    assert "nothing leads into suspended" in _problems(_with(transitions=cut))
