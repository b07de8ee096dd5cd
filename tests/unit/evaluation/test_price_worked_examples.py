"""Hand-computed examples for every price formula of RULES.md §2, to the fen and the hundredth of a point.

Each test writes its computation step by step; the same examples are in docs/evaluation-methods.md. Conventions:
intermediate values are exact (40 significant digits); B and evaluated prices are rounded to the fen and scores
to 0.01, both half up (四舍五入); δ is in percentage points.
"""

from __future__ import annotations

from decimal import Decimal

from tests.unit.evaluation.support import D, bids, build, deviation_def

from sunbid.evaluation.methods import load_packaged_method
from sunbid.evaluation.price import Bid, compute_prices


def _scores(result) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {ln.bidder: str(ln.price_score) for ln in result.lines}


def test_trimmed_mean_times_drawn_k_engineering_comprehensive() -> None:
    """Trimmed mean × K (eng-comprehensive: S_max 60, a = 1.0, b = 0.5, S_min 30, interpolation).

    Bids: A 1,000,000.00; B 960,000.00; C 1,050,000.00; D 900,000.00; E 1,100,000.00; F 1,100,000.01.
    Maximum price 1,100,000.00 → F is above it: rejected (条例 §51); E (equal to it) stays.
    n = 5 > 3 → drop the lowest (D 900,000) and the highest (E 1,100,000).
    A = (1,000,000 + 960,000 + 1,050,000) / 3 = 3,010,000 / 3 = 1,003,333.3333…
    K = 0.97 → A·K = 973,233.3333… → B = 973,233.33.
    δ_A = 100 × (1,000,000 − 973,233.33) / 973,233.33 = 100 × 26,766.67 / 973,233.33 = 2.750283 %
          → S = 60 − 1.0 × 2.750283 = 57.249717 → 57.25
    δ_B = 100 × (960,000 − 973,233.33) / 973,233.33 = −1.359728 % → S = 60 − 0.5 × 1.359728 = 59.320136 → 59.32
    δ_C = 100 × 76,766.67 / 973,233.33 = 7.887797 % → S = 60 − 7.887797 = 52.112203 → 52.11
    δ_D = 100 × (−73,233.33) / 973,233.33 = −7.524745 % → S = 60 − 3.762373 = 56.237627 → 56.24
    δ_E = 100 × 126,766.67 / 973,233.33 = 13.025311 % → S = 60 − 13.025311 = 46.974689 → 46.97
    Price ranks: B 59.32, A 57.25, D 56.24, C 52.11, E 46.97.
    """
    method = load_packaged_method("eng-comprehensive")
    result = compute_prices(
        method,
        bids(
            ("A", "1000000.00"),
            ("B", "960000.00"),
            ("C", "1050000.00"),
            ("D", "900000.00"),
            ("E", "1100000.00"),
            ("F", "1100000.01"),
        ),
        drawn=D("0.97"),
        max_price=D("1100000.00"),
    )
    assert result.benchmark is not None
    assert result.benchmark.trimmed == ("D", "E")
    assert result.benchmark.averaged == ("B", "A", "C")
    assert result.benchmark.benchmark == D("973233.33")
    assert _scores(result) == {"A": "57.25", "B": "59.32", "C": "52.11", "D": "56.24", "E": "46.97"}
    assert [(ln.bidder, ln.rank) for ln in result.lines] == [("B", 1), ("A", 2), ("D", 3), ("C", 4), ("E", 5)]
    assert [(r.bidder, r.code) for r in result.rejected] == [("F", "price.above_max_price")]
    assert str(result.line("A").deviation)[:8] == "2.750282"  # 2.7502829… exactly, shown rounded above


def test_iterative_band_screening_then_mean_times_one_minus_r() -> None:
    """±30 % screening, repeated, then mean × (1 − r) (eng-reasonable-low-price: a = 2, b = 1, band [−2 %, 0]).

    Bids (yuan): 甲 990,000; 乙 1,000,000; 丙 1,000,000; 丁 1,010,000; 戊 600,000; 己 100,000.
    Round 1: mean = 4,700,000 / 6 = 783,333.33…; band [548,333.33…, 1,018,333.33…] → drop 己 (100,000).
    Round 2: mean = 4,600,000 / 5 = 920,000; band [644,000, 1,196,000] → drop 戊 (600,000).
    Round 3: mean = 4,000,000 / 4 = 1,000,000; band [700,000, 1,300,000] → nothing dropped: A = 1,000,000.
    r = 3.5 % → B = 1,000,000 × (1 − 0.035) = 965,000.00.
    Scores (deductions count from the band's edges: above 0 %, below −2 %):
    甲 δ = 100 × 25,000 / 965,000 = 2.590674 % → S = 100 − 2 × 2.590674 = 94.818653 → 94.82
    乙, 丙 δ = 100 × 35,000 / 965,000 = 3.626943 % → S = 100 − 7.253886 = 92.746114 → 92.75 (tied)
    丁 δ = 100 × 45,000 / 965,000 = 4.663212 % → S = 100 − 9.326425 = 90.673575 → 90.67
    戊 δ = 100 × (−365,000) / 965,000 = −37.823834 % → below the band by 35.823834 → S = 64.176166 → 64.18
       (screened out of the average, but still a valid bid scored against B: 条例 §50)
    己 δ = −89.637306 % → S = 100 − 87.637306 = 12.36 → floored at S_min = 60.00
    """
    method = load_packaged_method("eng-reasonable-low-price")
    result = compute_prices(
        method,
        bids(
            ("甲", "990000"),
            ("乙", "1000000"),
            ("丙", "1000000"),
            ("丁", "1010000"),
            ("戊", "600000"),
            ("己", "100000"),
        ),
        drawn=D("3.5"),
    )
    assert result.benchmark is not None
    assert result.benchmark.screened_out == ("己", "戊")
    assert result.benchmark.average == D("1000000")
    assert result.benchmark.benchmark == D("965000.00")
    assert _scores(result) == {
        "甲": "94.82",
        "乙": "92.75",
        "丙": "92.75",
        "丁": "90.67",
        "戊": "64.18",
        "己": "60.00",
    }
    assert {ln.bidder: ln.rank for ln in result.lines} == {"甲": 1, "乙": 2, "丙": 2, "丁": 4, "戊": 5, "己": 6}
    assert not result.line("戊").in_average and result.line("甲").in_average


def test_weighted_with_max_price_composite_screening_whole_percents() -> None:
    """B = A·K1·Q1 + Cmax·K2·(1 − Q1) after composite screening (eng-max-price-weighted).

    Cmax = 2,000,000.00 (in the method). Bids: P1 1,800,000; P2 1,850,000; P3 1,900,000; P4 1,950,000;
    P5 1,000,000; P6 2,000,000.01 (above Cmax → rejected).
    Screening: mean of the 5 valid bids = 8,500,000 / 5 = 1,700,000;
      floor = (1,700,000 × 0.7 + 2,000,000 × 0.3) × 0.75 = (1,190,000 + 600,000) × 0.75 = 1,342,500 → drop P5.
    A = (1,800,000 + 1,850,000 + 1,900,000 + 1,950,000) / 4 = 1,875,000.
    K1 = drawn K = 0.96, Q1 = 0.7, K2 = 0.92:
      B = 1,875,000 × 0.96 × 0.7 + 2,000,000 × 0.92 × 0.3 = 1,260,000 + 552,000 = 1,812,000.00.
    Scores (S_max 50, a = 0.8, b = 0.4, whole percents rounded up: 不足1%按1%计, S_min 20):
    P1 δ = −12,000 / 1,812,000 = −0.662252 % → 1 whole percent below → 50 − 0.4 = 49.60
    P2 δ = 2.097130 % → 3 → 50 − 2.4 = 47.60
    P3 δ = 4.856512 % → 5 → 50 − 4.0 = 46.00
    P4 δ = 7.615894 % → 8 → 50 − 6.4 = 43.60
    P5 δ = −44.812362 % → 45 → 50 − 18.0 = 32.00
    """
    method = load_packaged_method("eng-max-price-weighted")
    result = compute_prices(
        method,
        bids(
            ("P1", "1800000"),
            ("P2", "1850000"),
            ("P3", "1900000"),
            ("P4", "1950000"),
            ("P5", "1000000"),
            ("P6", "2000000.01"),
        ),
        drawn=D("0.96"),
    )
    assert result.benchmark is not None
    assert result.benchmark.screened_out == ("P5",)
    assert result.benchmark.average == D("1875000")
    assert result.benchmark.benchmark == D("1812000.00")
    assert _scores(result) == {"P1": "49.60", "P2": "47.60", "P3": "46.00", "P4": "43.60", "P5": "32.00"}
    assert [r.bidder for r in result.rejected] == ["P6"]


def test_plain_mean_without_coefficient_and_half_up_rounding_of_points() -> None:
    """Plain mean, no coefficient; the score lands exactly on a half hundredth and rounds up.

    Bids: X 1,021,350; Y 990,000; Z 988,650 → A = 3,000,000 / 3 = 1,000,000 = B.
    δ_X = 100 × 21,350 / 1,000,000 = 2.135 % → S = 60 − 1 × 2.135 = 57.865 → 57.87 (half up; half-even would
    give 57.86). δ_Y = −1 % → S = 60 − 0.5 = 59.50. δ_Z = −1.135 % → S = 60 − 0.5675 = 59.4325 → 59.43.
    """
    method = build(deviation_def(s_max="60"))
    result = compute_prices(method, bids(("X", "1021350"), ("Y", "990000"), ("Z", "988650")))
    assert result.benchmark is not None and result.benchmark.benchmark == D("1000000.00")
    assert _scores(result) == {"X": "57.87", "Y": "59.50", "Z": "59.43"}


def test_benchmark_rounds_half_up_to_the_fen() -> None:
    """Mean × K ending in half a fen: (100,000.00 + 100,000.50) / 2 = 100,000.25; × 0.98 = 98,000.245 → 98,000.25."""
    data = deviation_def(benchmark={"average": "mean", "coefficient": {"apply": "multiply", "values": ["0.98"]}})
    result = compute_prices(build(data), bids(("a", "100000.00"), ("b", "100000.50")), drawn=D("0.98"))
    assert result.benchmark is not None and result.benchmark.benchmark == D("98000.25")


def test_no_deduction_band_and_interpolation_of_fractions() -> None:
    """Band [−2 %, 0]; a = 1, b = 0.5; B = 1,000,000 (plain mean of 1,000,000 ×3 and two probes averaged out).

    Bids chosen so that the mean is 1,000,000: 985,000; 1,015,000; 975,000; 1,025,000; 1,000,000 (sum 5,000,000).
    δ = −1.5 % (985,000): inside the band → 100.00.  δ = +1.5 % (1,015,000): 100 − 1.5 = 98.50 (1.5 % interpolated).
    δ = −2.5 % (975,000): 0.5 below the band's edge → 100 − 0.5 × 0.5 = 99.75.  δ = +2.5 % → 97.50.  δ = 0 → 100.00.
    """
    method = build(deviation_def(band={"low": "-2", "high": "0"}))
    result = compute_prices(
        method,
        bids(("m15", "985000"), ("p15", "1015000"), ("m25", "975000"), ("p25", "1025000"), ("zero", "1000000")),
    )
    assert _scores(result) == {"m15": "100.00", "p15": "98.50", "m25": "99.75", "p25": "97.50", "zero": "100.00"}


def test_whole_percent_floor_ignores_fractions() -> None:
    """不足1%的不扣分: δ = +1.5 % → 1 whole percent → 100 − 1 = 99.00; δ = −2.5 % → 2 → 100 − 1 = 99.00."""
    method = build(deviation_def(fraction="whole_floor"))
    result = compute_prices(method, bids(("p", "1015000"), ("m", "975000"), ("x", "1010000")))
    # mean = 3,000,000 / 3 = 1,000,000; x: δ = +1 % → 99.00
    assert _scores(result) == {"p": "99.00", "m": "99.00", "x": "99.00"}


def test_procurement_lowest_price_first_with_small_enterprise_deduction() -> None:
    """87号令 §55 with the small-enterprise deduction first (gp-comprehensive-goods: d = 10 %).

    Maximum price 1,150,000.00. Bids: 甲 1,000,000 (not small); 乙 1,050,000 (small); 丙 980,000 (not small);
    丁 1,200,000 (small; quoted above the maximum → rejected, the deduction does not save it).
    Evaluated prices: 甲 1,000,000.00; 乙 1,050,000 × (1 − 0.10) = 945,000.00 (deduction 105,000.00);
    丙 980,000.00. P_min = 945,000.00 (no bid is ever dropped before taking the minimum).
    甲 945,000 / 1,000,000 × 100 = 94.50; 乙 100.00; 丙 945,000 / 980,000 × 100 = 96.428571… → 96.43.
    """
    method = load_packaged_method("gp-comprehensive-goods")
    result = compute_prices(
        method,
        bids(("甲", "1000000"), ("乙", "1050000", True), ("丙", "980000"), ("丁", "1200000", True)),
        max_price=D("1150000.00"),
    )
    assert result.benchmark is None
    assert result.lowest_evaluated_price == D("945000.00")
    assert result.line("乙").deduction == D("105000.00")
    assert _scores(result) == {"甲": "94.50", "乙": "100.00", "丙": "96.43"}
    assert [r.bidder for r in result.rejected] == ["丁"]


def test_procurement_lowest_evaluated_price_ties_at_equal_price() -> None:
    """最低评标价法 (gp-lowest-price-goods, d = 10 %): 甲 500,000 → 500,000.00; 乙 540,000 small → 486,000.00;
    丙 486,000 → 486,000.00. 乙 and 丙 tie at 486,000.00 and share rank 1 (87号令 §56); 甲 is 3rd."""
    method = load_packaged_method("gp-lowest-price-goods")
    result = compute_prices(method, bids(("甲", "500000"), ("乙", "540000", True), ("丙", "486000")))
    assert {ln.bidder: (str(ln.evaluated_price), ln.rank) for ln in result.lines} == {
        "甲": ("500000.00", 3),
        "乙": ("486000.00", 1),
        "丙": ("486000.00", 1),
    }
    assert all(ln.price_score is None for ln in result.lines)


def test_engineering_lowest_evaluated_price_with_commercial_adjustments() -> None:
    """经评审的最低投标价法 (eng-lowest-evaluated-price): payment terms in % of the price, schedule in yuan.

    A 10,000,000.00 + 0.5 % × 10,000,000 = +50,000.00 → 10,050,000.00
    B 9,900,000.00 + 1.2 % × 9,900,000 = +118,800.00, + 20,000.00 schedule → 10,038,800.00
    C 10,020,000.00, no deviation → 10,020,000.00
    Ranked by evaluated price: C 1, B 2, A 3 (the lowest quoted price, B, is not the lowest evaluated price).
    """
    method = load_packaged_method("eng-lowest-evaluated-price")
    result = compute_prices(
        method,
        [
            Bid("A", D("10000000.00"), adjustments={"payment_terms": D("0.5")}),
            Bid("B", D("9900000.00"), adjustments={"payment_terms": D("1.2"), "schedule": D("20000")}),
            Bid("C", D("10020000.00")),
        ],
    )
    assert {ln.bidder: (ln.adjustment, ln.evaluated_price, ln.rank) for ln in result.lines} == {
        "A": (D("50000.00"), D("10050000.00"), 3),
        "B": (D("138800.00"), D("10038800.00"), 2),
        "C": (D("0.00"), D("10020000.00"), 1),
    }


def test_gansu_floating_point_from_a_value_list() -> None:
    """Gansu 浮动点 from {0.25, 0.5, 0.75, 1.0, 1.25, 1.5} %: trimmed mean of 4 bids × (1 − 0.75 %).

    Bids 800,000; 810,000; 820,000; 900,000 → n = 4 > 3: drop 800,000 and 900,000 → A = 815,000.
    B = 815,000 × 0.9925 = 808,887.50. δ(810,000) = 100 × 1,112.50 / 808,887.50 = 0.137533 % → S = 100 − 0.137533
    = 99.862467 → 99.86 (a = 1).
    """
    data = deviation_def(
        benchmark={
            "average": "trimmed_mean",
            "coefficient": {"apply": "discount_percent", "values": ["0.25", "0.5", "0.75", "1.0", "1.25", "1.5"]},
        }
    )
    result = compute_prices(
        build(data), bids(("a", "800000"), ("b", "810000"), ("c", "820000"), ("d", "900000")), drawn=D("0.75")
    )
    assert result.benchmark is not None and result.benchmark.benchmark == D("808887.50")
    assert result.line("b").price_score == Decimal("99.86")


def test_composite_benchmark_average_lowest_and_maximum_times_k() -> None:
    """B = (A·50 % + B′·30 % + C·20 %)·K with B′ the lowest bid in the average and C the maximum price.

    Bids 900,000; 950,000; 1,000,000; 1,050,000; Cmax = 1,100,000; plain mean A = 3,900,000 / 4 = 975,000.
    A·0.5 + 900,000·0.3 + 1,100,000·0.2 = 487,500 + 270,000 + 220,000 = 977,500; × K 0.97 = 948,175.00.
    950,000: δ = 100 × 1,825 / 948,175 = 0.192475 % → S = 100 − 0.192475 = 99.807525 → 99.81 (a = 1).
    900,000: δ = 100 × (−48,175) / 948,175 = −5.080813 % → S = 100 − 0.5 × 5.080813 = 97.459593 → 97.46.
    """
    data = deviation_def(
        benchmark={
            "average": "mean",
            "composite": [
                {"source": "average", "weight": "0.5"},
                {"source": "lowest", "weight": "0.3"},
                {"source": "max_price", "weight": "0.2"},
            ],
            "coefficient": {"apply": "multiply", "values": ["0.96", "0.97"]},
        }
    )
    result = compute_prices(
        build(data),
        bids(("a", "900000"), ("b", "950000"), ("c", "1000000"), ("d", "1050000")),
        drawn=D("0.97"),
        max_price=D("1100000"),
    )
    assert result.benchmark is not None and result.benchmark.benchmark == D("948175.00")
    assert result.line("b").price_score == D("99.81")
    assert result.line("a").price_score == D("97.46")


def test_composite_with_the_drawn_k_inside_a_term() -> None:
    """B = A·0.6·K + Cmax·0.4·0.9 (K only on the average): A = 1,000,000, Cmax 1,200,000, K = 0.95 →
    570,000 + 432,000 = 1,002,000.00 (K is not applied a second time)."""
    data = deviation_def(
        benchmark={
            "average": "mean",
            "composite": [
                {"source": "average", "weight": "0.6", "k": "K"},
                {"source": "max_price", "weight": "0.4", "k": "0.9"},
            ],
            "coefficient": {"apply": "multiply", "values": ["0.95"]},
        }
    )
    result = compute_prices(
        build(data), bids(("a", "990000"), ("b", "1010000")), drawn=D("0.95"), max_price=D("1200000")
    )
    assert result.benchmark is not None and result.benchmark.benchmark == D("1002000.00")
