"""Price calculation edge cases: K handling, maximum price, input checks, screening and trimming limits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.unit.evaluation.support import D, bids, build, deviation_def

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import load_packaged_method
from sunbid.evaluation.price import Bid, assign_ranks, compute_prices

K_METHOD = "eng-comprehensive"


def _code(fn) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as info:
        fn()
    return info.value.code


def test_drawn_k_is_required_checked_against_the_declared_set_and_refused_when_unused() -> None:
    method = load_packaged_method(K_METHOD)
    four = bids(("a", "100"), ("b", "101"), ("c", "102"), ("d", "103"))
    assert _code(lambda: compute_prices(method, four)) == "price.k_missing"
    assert _code(lambda: compute_prices(method, four, drawn=D("0.951"))) == "price.k_not_in_set"
    assert compute_prices(method, four, drawn=D("0.950")).drawn == D("0.950")
    plain = build(deviation_def())
    assert _code(lambda: compute_prices(plain, four, drawn=D("0.95"))) == "price.k_unused"


def test_maximum_price_from_file_or_option_never_both_different() -> None:
    method = load_packaged_method("eng-max-price-weighted")  # max_price 2,000,000.00 in the file
    few = bids(("a", "1900000"), ("b", "1950000"))
    assert compute_prices(method, few, drawn=D("0.96"), max_price=D("2000000.00")).max_price == D("2000000.00")
    conflict = _code(lambda: compute_prices(method, few, drawn=D("0.96"), max_price=D("1999999.00")))
    assert conflict == "price.max_price_conflict"
    weighted = build(
        deviation_def(
            benchmark={"average": "mean", "max_price_weighting": {"q1": "0.5", "k1": "1", "k2": "1"}},
        )
    )
    assert _code(lambda: compute_prices(weighted, few)) == "price.max_price_missing"
    # B = (1,925,000 × 1 × 0.5) + (2,000,000 × 1 × 0.5) = 1,962,500.00
    result = compute_prices(weighted, few, max_price=D("2000000"))
    assert result.benchmark is not None and result.benchmark.benchmark == D("1962500.00")
    assert _code(lambda: compute_prices(weighted, few, max_price=D("0"))) == "price.bad_max_price"
    assert _code(lambda: compute_prices(weighted, few, max_price=D("1.001"))) == "price.bad_max_price"


def test_a_bid_equal_to_the_maximum_is_valid_and_one_fen_above_is_rejected() -> None:
    method = build(deviation_def())
    result = compute_prices(method, bids(("eq", "1000.00"), ("over", "1000.01")), max_price=D("1000.00"))
    assert [ln.bidder for ln in result.lines] == ["eq"]
    assert result.rejected[0].bidder == "over" and "第51条" in result.rejected[0].reason_zh


def test_all_bids_rejected_gives_no_benchmark() -> None:
    result = compute_prices(
        build(deviation_def()),
        bids(
            ("a", "2000"),
        ),
        max_price=D("1000"),
    )
    assert result.benchmark is None and result.lines == () and len(result.rejected) == 1


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ([Bid("a", D("0"))], "price.bad_price"),
        ([Bid("a", D("-5"))], "price.bad_price"),
        ([Bid("a", D("1.001"))], "price.bad_price"),
        ([Bid("a", D("NaN"))], "price.bad_price"),
        ([Bid("a", D("1")), Bid("a", D("2"))], "price.duplicate_bidder"),
        ([Bid("", D("1"))], "price.duplicate_bidder"),
    ],
)
def test_bad_bids_are_refused(given: list[Bid], code: str) -> None:
    assert _code(lambda: compute_prices(build(deviation_def()), given)) == code


def test_undeclared_adjustment_is_refused() -> None:
    method = load_packaged_method("eng-lowest-evaluated-price")
    with pytest.raises(ValidationFailed) as info:
        compute_prices(method, [Bid("a", D("100"), adjustments={"warranty": D("1")})])
    assert info.value.code == "price.unknown_adjustment"
    negative = [Bid("a", D("100"), adjustments={"schedule": D("-100")})]
    assert _code(lambda: compute_prices(method, negative)) == "price.bad_evaluated_price"


def test_trimming_needs_more_than_three_bids() -> None:
    """n = 3: no trimming, A = (90 + 100 + 140)/3 = 110; n = 4: drop 90 and 140, A = (100 + 110)/2 = 105."""
    method = build(deviation_def(benchmark={"average": "trimmed_mean"}))
    three = compute_prices(method, bids(("a", "90"), ("b", "100"), ("c", "140")))
    assert three.benchmark is not None and three.benchmark.trimmed == () and three.benchmark.benchmark == D("110.00")
    four = compute_prices(method, bids(("a", "90"), ("b", "100"), ("c", "140"), ("d", "110")))
    assert four.benchmark is not None and four.benchmark.trimmed == ("a", "c")
    assert four.benchmark.benchmark == D("105.00")


def test_band_screening_that_would_drop_everything_keeps_the_bids() -> None:
    """Two bids 100 and 300: mean 200, both 50 % away; dropping both would leave nothing, so both stay."""
    method = build(deviation_def(benchmark={"average": "mean", "screening": {"kind": "band", "percent": "30"}}))
    result = compute_prices(method, bids(("a", "100"), ("b", "300")))
    assert result.benchmark is not None and result.benchmark.screened_out == ()
    assert result.benchmark.benchmark == D("200.00")


def test_single_pass_band_screening() -> None:
    """Non-iterative: 10, 100×4 … round 1 mean = (10 + 400 + 60)/6 drops only 10 even though 60 would go next."""
    data = deviation_def(
        benchmark={"average": "mean", "screening": {"kind": "band", "percent": "30", "iterative": False}}
    )
    result = compute_prices(
        build(data), bids(("a", "99"), ("b", "100"), ("c", "100"), ("d", "101"), ("e", "60"), ("f", "10"))
    )
    assert result.benchmark is not None and result.benchmark.screened_out == ("f",)
    assert result.benchmark.benchmark == D("92.00")  # (99 + 100 + 100 + 101 + 60) / 5


def test_assign_ranks_uses_competition_ranking() -> None:
    ranked = assign_ranks(["b", "a", "c", "a2"], key=lambda x: (x[0],))
    assert [(r, x) for r, x in ranked] == [(1, "a"), (1, "a2"), (3, "b"), (4, "c")]


def test_price_result_to_dict_is_stringly_exact() -> None:
    result = compute_prices(build(deviation_def()), bids(("a", "100"), ("b", "101.5")))
    data = result.to_dict()
    assert data["benchmark"]["benchmark_price"] == "100.75"
    assert data["bids"][0]["deviation_percent"] == "-0.7444"  # 100 × (100 − 100.75) / 100.75 = −0.74441…
    assert data["bids"][0]["price_score"] == "99.63"  # 100 − 0.5 × 0.74441 = 99.6278 → 99.63
    assert isinstance(data["bids"][0]["rank"], int)
    assert Decimal(data["bids"][1]["price_score"]) == Decimal("99.26")  # 100 − 0.74441 = 99.2556 → 99.26


def test_small_enterprise_price_is_rounded_as_p_times_one_minus_d() -> None:
    """100.05 × (1 − 0.10) = 90.045 → 90.05 (half up); the deduction is what remains: 10.00 (not 10.01)."""
    method = load_packaged_method("gp-lowest-price-goods")
    result = compute_prices(method, [Bid("s", D("100.05"), small_enterprise=True), Bid("n", D("95"))])
    assert (result.line("s").evaluated_price, result.line("s").deduction) == (D("90.05"), D("10.00"))
    assert result.line("n").deduction == 0
