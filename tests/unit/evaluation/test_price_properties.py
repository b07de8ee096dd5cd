"""Properties of the price formulas: bounds, monotonicity in |δ|, independence from bid order (hypothesis)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.evaluation.support import build, deviation_def

from sunbid.evaluation.methods import EvaluationMethod, load_packaged_method
from sunbid.evaluation.price import Bid, compute_prices, deviation_score
from sunbid.evaluation.scoring import ExpertScore, evaluate

FEN = st.integers(min_value=100_00, max_value=50_000_000_00).map(lambda n: Decimal(n).scaleb(-2))
TENTHS = st.integers(min_value=0, max_value=50).map(lambda n: Decimal(n) / 10)
DELTA = st.integers(min_value=-100_0000, max_value=300_0000).map(lambda n: Decimal(n).scaleb(-4))


@st.composite
def deviation_methods(draw: st.DrawFn) -> EvaluationMethod:
    b = draw(TENTHS)
    a = b + draw(TENTHS)
    s_max = Decimal(draw(st.integers(min_value=10, max_value=100)))
    s_min = Decimal(draw(st.integers(min_value=0, max_value=int(s_max) - 1)))
    price: dict[str, Any] = {
        "s_max": str(s_max),
        "s_min": str(s_min),
        "above_per_percent": str(a),
        "below_per_percent": str(b),
        "fraction": draw(st.sampled_from(["interpolate", "whole_floor", "whole_ceil"])),
    }
    if draw(st.booleans()):
        price["band"] = {"low": str(-draw(TENTHS)), "high": str(draw(TENTHS))}
    return build(deviation_def(**price))


@settings(max_examples=200, deadline=None)
@given(deviation_methods(), DELTA)
def test_score_stays_within_floor_and_maximum(method: EvaluationMethod, delta: Decimal) -> None:
    score = deviation_score(method.price, delta)
    assert method.price.s_min <= score <= method.price.s_max
    assert score == score.quantize(Decimal("0.01"))


@settings(max_examples=200, deadline=None)
@given(deviation_methods(), DELTA, DELTA)
def test_score_never_rises_as_the_deviation_grows_on_the_same_side(
    method: EvaluationMethod, d1: Decimal, d2: Decimal
) -> None:
    if (d1 >= 0) != (d2 >= 0):
        d2 = -d2
    near, far = sorted((d1, d2), key=abs)
    assert deviation_score(method.price, near) >= deviation_score(method.price, far)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(FEN, min_size=1, max_size=12),
    st.sampled_from(
        [
            "eng-comprehensive",
            "eng-reasonable-low-price",
            "eng-max-price-weighted",
            "gp-comprehensive-goods",
            "gp-lowest-price-goods",
        ]
    ),
    st.randoms(use_true_random=False),
    st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_results_do_not_depend_on_the_order_of_the_bids(
    prices: list[Decimal], name: str, rnd: Any, small: list[bool]
) -> None:
    method = load_packaged_method(name)
    drawn = method.coefficient.values[0] if method.coefficient else None
    cap = None if method.max_price is not None else max(prices)
    given_bids = [Bid(f"b{i:02d}", p, small[i]) for i, p in enumerate(prices)]
    shuffled = list(given_bids)
    rnd.shuffle(shuffled)
    first = compute_prices(method, given_bids, drawn=drawn, max_price=cap)
    second = compute_prices(method, shuffled, drawn=drawn, max_price=cap)
    assert first.to_dict() == second.to_dict()
    if not method.scored:
        assert evaluate(method, first).to_dict() == evaluate(method, second).to_dict()


@settings(max_examples=100, deadline=None)
@given(st.lists(FEN, min_size=1, max_size=12))
def test_plain_mean_benchmark_lies_between_the_bids_and_ratio_scores_are_bounded(prices: list[Decimal]) -> None:
    result = compute_prices(build(deviation_def()), [Bid(f"b{i}", p) for i, p in enumerate(prices)])
    assert result.benchmark is not None
    assert min(prices) <= result.benchmark.benchmark <= max(prices)
    gp = load_packaged_method("gp-comprehensive-goods")
    ratio = compute_prices(gp, [Bid(f"b{i}", p) for i, p in enumerate(prices)])
    scores = [ln.price_score for ln in ratio.lines]
    assert all(s is not None and Decimal(0) <= s <= 100 for s in scores)
    assert ratio.lines[0].price_score == Decimal("100.00")
    assert ratio.lines[0].evaluated_price == min(prices)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(FEN, min_size=1, max_size=8),
    st.data(),
    st.randoms(use_true_random=False),
)
def test_comprehensive_ranking_ignores_input_order_and_totals_stay_within_100(
    prices: list[Decimal], data: st.DataObject, rnd: Any
) -> None:
    """gp-comprehensive-goods with random expert and objective scores: shuffling the bids and the score rows
    changes nothing; every total lies in [0, 100]; a better total never ranks below a worse one."""
    method = load_packaged_method("gp-comprehensive-goods")
    experts = ["e1", "e2", "e3", "e4", "e5"]
    given_bids = [Bid(f"b{i}", p) for i, p in enumerate(prices)]
    hundredths = st.integers(min_value=0, max_value=100).map(lambda n: Decimal(n) / 100)
    scores = [
        ExpertScore(e, b.bidder, item.id, (item.max_points * data.draw(hundredths)).quantize(Decimal("0.01")))
        for b in given_bids
        for item in method.items
        if item.subjective
        for e in experts
    ]
    objective = {
        b.bidder: {i.id: (i.max_points * data.draw(hundredths)).quantize(Decimal("0.01")) for i in method.items}
        for b in given_bids
    }
    first = evaluate(method, compute_prices(method, given_bids), scores, objective, experts=experts)
    shuffled_bids, shuffled_scores = list(given_bids), list(scores)
    rnd.shuffle(shuffled_bids)
    rnd.shuffle(shuffled_scores)
    second = evaluate(method, compute_prices(method, shuffled_bids), shuffled_scores, objective, experts=experts)
    assert first.to_dict() == second.to_dict()
    totals = [(r.rank, r.total) for r in first.rows]
    assert all(t is not None and Decimal(0) <= t <= 100 for _, t in totals)
    for (r1, t1), (r2, t2) in itertools.pairwise(totals):
        assert r1 <= r2 and t1 is not None and t2 is not None and t1 >= t2
