"""Draw records: built records verify, and any single change to one is caught with a named problem."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.draws import draws_reference as ref

from sunbid.core.errors import ValidationFailed
from sunbid.draws.domain import DecimalRange, SeedInput, commit, sealed_bids_input
from sunbid.draws.record import DrawRecord, canonical_candidates, parse_record
from sunbid.draws.verify import coefficient_record, make_record, verify_record, verify_record_json

SUITES = ["intl", "gm"]
SUBJECT = {"project": "SB-2025-0001", "section": "01"}
SECRET = bytes(range(32))
BIDS = [b"\x33" * 32, b"\x11" * 32, b"\x22" * 32]
RULE = DecimalRange("0.95", "0.98", "0.005")
COMMITTED_AT = "2025-03-01T09:00:00+08:00"
CLOSES_AT = "2025-03-21T09:30:00+08:00"


def _coefficient(suite: str) -> DrawRecord:
    promise = commit("coefficient", SUBJECT, "operator", SECRET, suite=suite, committed_at=COMMITTED_AT, log_index=41)
    return coefficient_record(
        SUBJECT,
        suite=suite,
        rule=RULE,
        commitments=[promise],
        seed_inputs=[SeedInput("operator", SECRET), sealed_bids_input(BIDS), SeedInput("beacon", b"\x5a" * 32)],
        closes_at=CLOSES_AT,
    )


def _experts(suite: str) -> DrawRecord:
    subject = {"project": "SB-2025-0001", "specialty": "A010101"}
    secret = bytes(range(100, 132))
    promise = commit("expert", subject, "operator", secret, suite=suite)
    return make_record(
        "expert",
        subject,
        suite=suite,
        commitments=[promise],
        seed_inputs=[SeedInput("operator", secret), sealed_bids_input(BIDS)],
        candidates=canonical_candidates([f"E{i:05d}" for i in range(40, 0, -1)]),
        k=5,
    )


def _other(candidates: list[str], drawn: str) -> str:
    return next(c for c in candidates if c != drawn)


@pytest.mark.parametrize("suite", SUITES)
def test_built_records_verify_and_recompute_their_result(suite: str) -> None:
    for rec in (_coefficient(suite), _experts(suite)):
        result = verify_record(rec)
        assert result.ok, result.problems
        assert result.recomputed_result == rec.result and result.recomputed_seed == rec.seed
        again = verify_record(json.loads(rec.to_json()))
        assert again.ok and again.recomputed_result == rec.result


@pytest.mark.parametrize("suite", SUITES)
def test_record_json_round_trips_canonically(suite: str) -> None:
    rec = _coefficient(suite)
    raw = rec.to_json()
    assert parse_record(json.loads(raw)).to_json() == raw
    assert raw.startswith(b'{"candidate_rule":{"from":"0.95"')  # canonical key order, no spaces
    assert json.loads(raw)["hash"] == {"intl": "sha256", "gm": "sm3"}[suite]


@pytest.mark.parametrize("suite", SUITES)
def test_record_agrees_with_the_independent_reference(suite: str) -> None:
    rec = _experts(suite)
    name = rec.hash_name
    inputs = {i.name: i.value for i in rec.seed_inputs}
    seed = ref.seed(name, rec.purpose, dict(rec.subject), inputs)
    assert seed == rec.seed
    assert ref.candidates_digest(name, list(rec.candidates)) == rec.candidates_digest
    assert tuple(ref.sample(name, seed, len(rec.candidates), rec.k)) == rec.result_indexes
    c = rec.commitments[0]
    assert ref.commitment(name, rec.purpose, dict(rec.subject), c.name, inputs[c.name]) == c.value_hash


def test_coefficient_record_draws_from_the_declared_range() -> None:
    rec = _coefficient("intl")
    assert rec.candidates == ("0.950", "0.955", "0.960", "0.965", "0.970", "0.975", "0.980")
    assert rec.k == 1 and rec.result[0] == rec.candidates[rec.result_indexes[0]]


Mutation = Callable[[dict[str, Any]], None]


def _set_input(name: str, value: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        for item in d["seed_inputs"]:
            if item["name"] == name:
                item["value"] = value

    return mutate


def _flip_last_hex(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


def _commitment(**changes: object) -> Mutation:
    return lambda d: d["commitments"][0].update(changes)


def _candidates(change: Callable[[list[str], str], None]) -> Mutation:
    return lambda d: change(d["candidates"], d["result"][0])


def _drop_other(cands: list[str], drawn: str) -> None:
    cands.remove(_other(cands, drawn))


def _flip(field: str) -> Mutation:
    return lambda d: d.update({field: _flip_last_hex(d[field])})


OTHER_SECRET = "ff" + SECRET.hex()[2:]
LATE = "2025-03-21T09:30:00+08:00"

TAMPERING: list[tuple[str, Mutation, str]] = [
    ("bids hash", _set_input("sealed_bids", "44" * 32 + "11" * 64), "draw.seed_mismatch"),
    ("beacon", _set_input("beacon", "5b" * 32), "draw.seed_mismatch"),
    ("drop an input", lambda d: d["seed_inputs"].pop(), "draw.seed_mismatch"),
    ("secret", _set_input("operator", OTHER_SECRET), "draw.commitment_mismatch"),
    ("secret (seed)", _set_input("operator", OTHER_SECRET), "draw.seed_mismatch"),
    ("short secret", _set_input("operator", "01" * 8), "draw.weak_secret"),
    ("unrevealed", _commitment(name="regulator"), "draw.secret_not_revealed"),
    ("commitment hash", lambda d: _flip("value_hash")(d["commitments"][0]), "draw.commitment_mismatch"),
    ("commitment for other section", _commitment(subject={"section": "02"}), "draw.commitment_other_draw"),
    ("commitment after close", _commitment(committed_at=LATE), "draw.commitment_too_late"),
    ("no commitment", lambda d: d.update(commitments=[]), "draw.no_commitment"),
    ("duplicate commitment", lambda d: d["commitments"].append(dict(d["commitments"][0])), "draw.duplicate_commitment"),
    ("duplicate input", lambda d: d["seed_inputs"].append(dict(d["seed_inputs"][0])), "draw.duplicate_input"),
    ("claimed seed", _flip("seed"), "draw.seed_mismatch"),
    ("claimed result", lambda d: d.update(result=[_other(d["candidates"], d["result"][0])]), "draw.result_mismatch"),
    ("claimed index", lambda d: d.update(result_indexes=[(d["result_indexes"][0] + 1) % 7]), "draw.result_mismatch"),
    ("k", lambda d: d.update(k=2), "draw.result_mismatch"),
    ("k too large", lambda d: d.update(k=8), "draw.bad_k"),
    ("drop a candidate", _candidates(_drop_other), "draw.candidates_rule_mismatch"),
    ("drop a candidate (digest)", _candidates(_drop_other), "draw.candidates_digest_mismatch"),
    ("reorder candidates", _candidates(lambda c, _: c.reverse()), "draw.candidates_rule_mismatch"),
    ("replace a candidate", _candidates(lambda c, _: c.__setitem__(0, "0.945")), "draw.candidates_rule_mismatch"),
    ("duplicate candidate", _candidates(lambda c, _: c.__setitem__(0, "0.955")), "draw.duplicate_candidate"),
    ("widen the rule", lambda d: d["candidate_rule"].update(to="0.99"), "draw.candidates_rule_mismatch"),
    ("digest", _flip("candidates_digest"), "draw.candidates_digest_mismatch"),
    ("hash name", lambda d: d.update(hash="md5"), "draw.suite_hash_mismatch"),
    ("unknown suite", lambda d: d.update(suite="rot13"), "draw.unknown_suite"),
    ("purpose", lambda d: d.update(purpose="expert"), "draw.commitment_other_draw"),
    ("subject", lambda d: d["subject"].update(section="02"), "draw.seed_mismatch"),
    ("unknown field", lambda d: d.update(note="x"), "draw.bad_record"),
    ("upper-case hex", lambda d: d.update(seed=d["seed"].upper()), "draw.bad_record"),
    ("naive time", lambda d: d.update(closes_at="2025-03-21T09:30:00"), "draw.bad_record"),
    ("version", lambda d: d.update(version=2), "draw.unsupported_version"),
    ("k as text", lambda d: d.update(k="1"), "draw.bad_record"),
]


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("what", "mutate", "code"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_any_single_change_fails_with_a_named_problem(suite: str, what: str, mutate: Mutation, code: str) -> None:
    original = json.loads(_coefficient(suite).to_json())
    assert verify_record(original).ok
    changed = copy.deepcopy(original)
    mutate(changed)
    assert changed != original, what
    result = verify_record(changed)
    assert not result.ok
    assert code in result.codes(), (what, result.codes())
    for p in result.problems:
        assert p.message_zh and p.message_en and p.code.startswith("draw.")


@pytest.mark.parametrize("suite", SUITES)
def test_expert_candidates_must_be_in_canonical_order(suite: str) -> None:
    d = json.loads(_experts(suite).to_json())
    d["candidates"][0], d["candidates"][1] = d["candidates"][1], d["candidates"][0]
    assert "draw.candidates_not_canonical" in verify_record(d).codes()


def test_tampered_record_still_reports_the_honest_result() -> None:
    d = json.loads(_coefficient("intl").to_json())
    honest = d["result"]
    d["result"] = [_other(d["candidates"], honest[0])]
    result = verify_record(d)
    assert result.codes() == ["draw.result_mismatch"]
    assert list(result.recomputed_result or ()) == honest
    assert result.as_dict()["claimed_result"] == d["result"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{", "draw.bad_json"),
        (b"\xff\xfe", "draw.bad_json"),
        (b"[]", "draw.bad_record"),
        (b'{"k": 1.0}', "draw.bad_json"),
        (b'{"k": NaN}', "draw.bad_json"),
        (b'{"k": 1, "k": 1}', "draw.bad_json"),
        (b'{"format": "sunbid-draw"}', "draw.bad_record"),
    ],
)
def test_malformed_json_is_a_problem_not_a_crash(raw: bytes, code: str) -> None:
    result = verify_record_json(raw)
    assert not result.ok and result.codes() == [code]


def test_make_record_refuses_a_secret_that_does_not_match_its_commitment() -> None:
    promise = commit("coefficient", SUBJECT, "operator", SECRET, suite="intl")
    with pytest.raises(ValidationFailed) as e:
        coefficient_record(
            SUBJECT,
            suite="intl",
            rule=RULE,
            commitments=[promise],
            seed_inputs=[SeedInput("operator", bytes(32)), sealed_bids_input(BIDS)],
        )
    assert e.value.code == "draw.commitment_mismatch"


def test_make_record_refuses_unordered_candidates_and_bad_times() -> None:
    promise = commit("expert", SUBJECT, "operator", SECRET, suite="intl")
    inputs = [SeedInput("operator", SECRET)]
    with pytest.raises(ValidationFailed) as e:
        make_record(
            "expert", SUBJECT, suite="intl", commitments=[promise], seed_inputs=inputs, candidates=["b", "a"], k=1
        )
    assert e.value.code == "draw.candidates_not_canonical"
    late = commit("expert", SUBJECT, "operator", SECRET, suite="intl", committed_at="yesterday")
    with pytest.raises(ValidationFailed) as e:
        make_record("expert", SUBJECT, suite="intl", commitments=[late], seed_inputs=inputs, candidates=["a"], k=1)
    assert e.value.code == "draw.bad_record"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(max_size=40) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
_PATHS = [
    ("purpose",),
    ("subject",),
    ("subject", "section"),
    ("commitments", 0, "name"),
    ("commitments", 0, "purpose"),
    ("commitments", 0, "subject"),
    ("commitments", 0, "committed_at"),
    ("seed_inputs", 0),
    ("seed_inputs", 1, "name"),
    ("candidate_rule", "step"),
    ("candidates", 0),
    ("k",),
    ("result_indexes", 0),
    ("closes_at",),
]


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(_PATHS), value=_JSON)
def test_verify_never_raises_on_arbitrary_field_values(path: tuple[Any, ...], value: Any) -> None:
    d = json.loads(_BASE)
    target = d
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    result = verify_record(d)
    assert result.ok == (not result.problems)
    if result.ok:  # only the original, or a dropped (null) time claim, still verifies
        assert d == json.loads(_BASE) or (path[-1] in ("committed_at", "closes_at") and value is None)
    assert all(p.code.startswith("draw.") and p.message_zh and p.message_en for p in result.problems)


_BASE = _coefficient("intl").to_json()
