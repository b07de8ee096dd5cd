"""The expert draw over random pools: never an avoided expert, reproducible from its record, uniform."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from sunbid.core.errors import Conflict
from sunbid.draws.domain import SeedInput, commit, sample_indexes
from sunbid.draws.record import DrawRecord, PanelSelection, parse_record
from sunbid.draws.verify import verify_record, verify_record_json
from sunbid.experts.domain import (
    AvoidancePolicy,
    DrawContext,
    DrawPlan,
    Employment,
    ExpertProfile,
    ExpertStatus,
    Penalty,
    PoolIndex,
    SlotRequest,
    avoidance_reasons,
    load_specialty_tree,
    panel_from_record,
    plan_draw,
    run_draw,
)
from sunbid.identity.domain import make_uscc

TREE = load_specialty_tree()
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ORGS = [make_uscc(100 + i) for i in range(8)]
CODES = ["A01", "A0101", "A0102", "B0101", "B0102"]
REQUESTABLE = ["A01", "A0101", "B0101", "B0102", "A"]
BIDDER_JOB = Employment(ORGS[1], date(2020, 1, 1))
SUBJECT = {"project": "SB-2026-0001", "section": "01"}


def _expert(i: int, rng: random.Random) -> ExpertProfile:
    employments = []
    if rng.random() < 0.7:
        employments.append(Employment(rng.choice(ORGS), date(2018, 1, 1)))
    if rng.random() < 0.25:
        end = NOW.date() - timedelta(days=rng.randint(1, 2500))
        employments.append(Employment(rng.choice(ORGS), end - timedelta(days=300), end))
    return ExpertProfile(
        code=f"EX{i:04d}",
        specialties=frozenset(rng.sample(CODES, rng.randint(1, 2))),
        region_code="530100",
        status=rng.choice([ExpertStatus.ACTIVE] * 6 + [ExpertStatus.SUSPENDED, ExpertStatus.REMOVED]),
        employments=tuple(employments),
        conflict_orgs=frozenset(rng.sample(ORGS, rng.choice((0, 0, 0, 1)))),
        conflict_persons=frozenset(rng.sample(["P1", "P2"], rng.choice((0, 0, 0, 1)))),
        regulator_sectors=frozenset(rng.sample(["housing", "water"], rng.choice((0, 0, 0, 1)))),
        penalties=tuple(
            Penalty(NOW.date() - timedelta(days=d), NOW.date() + timedelta(days=d - 200))
            for d in rng.sample(range(400), rng.choice((0, 0, 0, 1)))
        ),
        draw_times=tuple(NOW - timedelta(days=rng.randint(-30, 800)) for _ in range(rng.randint(0, 4))),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[ExpertProfile], DrawContext, AvoidancePolicy, list[SlotRequest], bytes]:
    """A random pool (1–60 experts, from a seeded generator), project, policy and request."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    pool = [_expert(i, rng) for i in range(draw(st.integers(1, 60)))]
    parties = draw(st.lists(st.sampled_from(ORGS), min_size=1, max_size=5, unique=True))
    ctx = DrawContext(
        at=NOW,
        tenderer_uscc=parties[0],
        agency_uscc=parties[1] if len(parties) > 1 and draw(st.booleans()) else None,
        bidder_usccs=frozenset(parties[2:]),
        sectors=frozenset(draw(st.lists(st.sampled_from(["housing", "water", "transport"]), max_size=2))),
        persons=frozenset(draw(st.lists(st.sampled_from(["P1", "P2", "P3"]), max_size=2))),
    )
    policy = AvoidancePolicy(
        employment_years=draw(st.integers(0, 5)),
        max_draws=draw(st.one_of(st.none(), st.integers(1, 4))),
        draw_period_days=draw(st.integers(30, 730)),
    )
    specs = draw(st.lists(st.sampled_from(REQUESTABLE), min_size=1, max_size=3, unique=True))
    requests = [SlotRequest(s, draw(st.integers(1, 3)), draw(st.integers(0, 2))) for s in specs]
    secret = draw(st.binary(min_size=16, max_size=32))
    return pool, ctx, policy, requests, secret


def _record(plan_secret: bytes, plan: DrawPlan) -> DrawRecord:
    c = commit("expert", SUBJECT, "operator", plan_secret, suite="intl")
    inputs = [SeedInput("operator", plan_secret), SeedInput("sealed_bids", b"\x11" * 32)]
    return run_draw(plan, SUBJECT, suite="intl", commitments=[c], seed_inputs=inputs)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_draw_never_selects_an_avoided_expert_and_is_reproducible(
    scenario: tuple[list[ExpertProfile], DrawContext, AvoidancePolicy, list[SlotRequest], bytes],
) -> None:
    pool, ctx, policy, requests, secret = scenario
    index = PoolIndex(pool, TREE)
    by_code = {e.code: e for e in pool}
    assert index.excluded(ctx, policy) == {e.code for e in pool if avoidance_reasons(e, ctx, policy)}
    refused: Conflict | None = None
    try:
        plan = plan_draw(index, requests, ctx, policy)
    except Conflict as exc:
        refused = exc
    if refused is not None:  # too few eligible: the count it reports is the true one
        assert refused.code == "expert.not_enough_eligible"
        spec = refused.details["specialty"]
        eligible = [e for e in pool if TREE.qualifies(e.specialties, spec) and not avoidance_reasons(e, ctx, policy)]
        assert len(eligible) == refused.details["eligible"]
        return
    expected = {
        e.code: sum(1 << s for s, r in enumerate(requests) if TREE.qualifies(e.specialties, r.specialty))
        for e in pool
        if not avoidance_reasons(e, ctx, policy)
    }
    assert dict(zip(plan.candidates, plan.slot_masks, strict=True)) == {c: m for c, m in expected.items() if m}
    record = _record(secret, plan)
    panel = panel_from_record(record)
    employers: set[str] = set()
    for seat in panel.seats:
        e = by_code[seat.expert_code]
        assert avoidance_reasons(e, ctx, policy) == [], (seat, avoidance_reasons(e, ctx, policy))
        assert TREE.qualifies(e.specialties, seat.specialty)
        employer = e.current_employer(ctx.day)
        if employer is not None:
            assert employer not in employers, "two drawn experts share an employer"
            employers.add(employer)
    assert len({s.expert_code for s in panel.seats}) == len(panel.seats)
    # reproducible from the published record alone
    published = record.to_json()
    check = verify_record_json(published)
    assert check.ok, check.codes()
    again = parse_record(json.loads(published))
    assert again == record
    assert check.recomputed_picks == record.selection.picks if record.selection else False


def test_tampered_picks_or_k_are_reported() -> None:
    pool = [ExpertProfile(f"EX{i}", frozenset({"A0101"}), "530100") for i in range(10)]
    ctx = DrawContext(at=NOW, tenderer_uscc=ORGS[0])
    plan = plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 2, 1)], ctx, AvoidancePolicy())
    record = _record(b"s" * 32, plan)
    assert record.selection is not None and len(record.selection.picks) == 3
    sel = record.selection
    swapped = PanelSelection(sel.slots, sel.slot_masks, sel.groups, (sel.picks[1], sel.picks[0], sel.picks[2]))
    data = json.loads(record.to_json())
    data["selection"]["picks"] = [list(p) for p in swapped.picks]
    assert "draw.selection_mismatch" in verify_record(data).codes()
    data = json.loads(record.to_json())
    data["selection"]["groups"] = [0] * len(plan.candidates)  # claims everyone shares one employer
    assert "draw.selection_mismatch" in verify_record(data).codes()
    data = json.loads(record.to_json())
    data["selection"]["unknown"] = 1
    assert verify_record(data).codes() == ["draw.bad_record"]


def test_a_record_without_selection_keeps_its_old_bytes() -> None:
    pool = [ExpertProfile(f"EX{i}", frozenset({"A0101"}), "530100") for i in range(5)]
    ctx = DrawContext(at=NOW, tenderer_uscc=ORGS[0])
    record = _record(b"s" * 32, plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 1)], ctx, AvoidancePolicy()))
    data = json.loads(record.to_json())
    del data["selection"]
    assert "selection" not in json.loads(parse_record(data).to_json())


def test_short_panel_when_employers_collide() -> None:
    same = Employment(ORGS[3], date(2020, 1, 1))
    pool = [ExpertProfile(f"EX{i}", frozenset({"A0101"}), "530100", employments=(same,)) for i in range(4)]
    ctx = DrawContext(at=NOW, tenderer_uscc=ORGS[0])
    plan = plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 2, 1)], ctx, AvoidancePolicy())
    record = _record(b"t" * 32, plan)
    panel = panel_from_record(record)
    assert len(panel.seats) == 1 and panel.short == {"A0101": 2}
    assert record.k == 4 and verify_record(record).ok


@pytest.mark.parametrize("count", [1, 3])
def test_draw_is_uniform_among_eligible_experts(count: int) -> None:
    """Chi-square over 4,000 draws with fixed seeds: each of 20 eligible experts equally likely, the 10
    excluded never. Deterministic (fixed seeds), so it cannot flake; p ≥ 0.001 rejects only a real bias."""
    eligible = [ExpertProfile(f"EX{i:02d}", frozenset({"A0101"}), "530100") for i in range(20)]
    avoided = [
        ExpertProfile(
            f"EY{i:02d}", frozenset({"A0101"}), "530100", employments=(Employment(ORGS[1], date(2020, 1, 1)),)
        )
        for i in range(10)
    ]
    ctx = DrawContext(at=NOW, tenderer_uscc=ORGS[0], bidder_usccs=frozenset({ORGS[1]}))
    plan = plan_draw(PoolIndex(eligible + avoided, TREE), [SlotRequest("A0101", count, 1)], ctx, AvoidancePolicy())
    assert len(plan.candidates) == 20
    counts: Counter[str] = Counter()
    first: Counter[str] = Counter()
    trials = 4000
    for t in range(trials):
        secret = hashlib.sha256(f"uniformity-{count}-{t}".encode()).digest()
        panel = panel_from_record(_record(secret, plan))
        members = panel.members()
        first[members[0].expert_code] += 1
        counts.update(s.expert_code for s in members)
    assert set(counts) == {e.code for e in eligible}
    observed = [counts[e.code] for e in eligible]
    assert sum(observed) == trials * count
    assert chisquare(observed).pvalue > 0.001
    assert chisquare([first[e.code] for e in eligible]).pvalue > 0.001


def test_gm_suite_draw_verifies_and_differs_from_intl() -> None:
    pool = [ExpertProfile(f"EX{i:02d}", frozenset({"A0101"}), "530100") for i in range(30)]
    ctx = DrawContext(at=NOW, tenderer_uscc=ORGS[0])
    plan = plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 3, 2)], ctx, AvoidancePolicy())
    secret = b"g" * 32
    records = {}
    for suite in ("intl", "gm"):
        c = commit("expert", SUBJECT, "operator", secret, suite=suite)
        records[suite] = run_draw(
            plan,
            SUBJECT,
            suite=suite,
            commitments=[c],
            seed_inputs=[SeedInput("operator", secret), SeedInput("b", b"x")],
        )
        assert verify_record_json(records[suite].to_json()).ok
    assert records["gm"].hash_name == "sm3" and records["gm"].seed != records["intl"].seed


def test_selection_field_is_parsed_strictly_and_k_must_be_minimal() -> None:
    pool = [ExpertProfile(f"EX{i}", frozenset({"A0101"}), "530100") for i in range(12)]
    ctx = DrawContext(at=NOW, tenderer_uscc=ORGS[0])
    record = _record(b"u" * 32, plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 2, 1)], ctx, AvoidancePolicy()))
    base = json.loads(record.to_json())
    for mutate in (
        lambda d: d["selection"].__setitem__("slot_masks", [0] * len(d["candidates"])),
        lambda d: d["selection"].__setitem__("picks", [[0, 5]]),
        lambda d: d["selection"].__setitem__("kind", "other"),
        lambda d: d["selection"]["slots"][0].__setitem__("count", 0),
        lambda d: d["selection"].__setitem__("slots", []),
    ):
        data = json.loads(json.dumps(base))
        mutate(data)
        assert verify_record(data).codes() == ["draw.bad_record"]
    data = json.loads(json.dumps(base))
    data["selection"]["slot_masks"] = data["selection"]["slot_masks"][:-1]
    assert "draw.selection_bad" in verify_record(data).codes()
    data = json.loads(json.dumps(base))  # picks that parse but are not the walk's: the panel was altered
    assert len(data["selection"]["picks"]) > 1
    data["selection"]["picks"] = data["selection"]["picks"][::-1]
    assert verify_record(data).codes() == ["draw.selection_mismatch"]
    # one more position than needed: the result itself recomputes, but k is not the minimal one
    longer = run_draw(
        plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 2, 1)], ctx, AvoidancePolicy()),
        SUBJECT,
        suite="intl",
        commitments=[commit("expert", SUBJECT, "operator", b"u" * 32, suite="intl")],
        seed_inputs=[SeedInput("operator", b"u" * 32), SeedInput("sealed_bids", b"\x11" * 32)],
    )
    data = json.loads(longer.to_json())
    k = data["k"] + 1
    idx = sample_indexes(bytes.fromhex(data["seed"]), len(data["candidates"]), k, suite="intl")
    data["k"], data["result_indexes"] = k, idx
    data["result"] = [data["candidates"][i] for i in idx]
    assert verify_record(data).codes() == ["draw.selection_bad_k"]
