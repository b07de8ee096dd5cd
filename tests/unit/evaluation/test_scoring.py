"""Aggregation, totals, ranking, tie rules, candidates and the E-4 deviation check — hand-computed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from tests.unit.evaluation.support import D, bids

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import DeviationRule, load_packaged_method
from sunbid.evaluation.objective import objective_points, objective_scores
from sunbid.evaluation.price import Bid, compute_prices
from sunbid.evaluation.scoring import ExpertScore, detect_deviations, evaluate, item_scores

EXPERTS = ["e1", "e2", "e3", "e4", "e5"]


def _panel(bidder: str, item: str, values: list[str]) -> list[ExpertScore]:
    return [ExpertScore(e, bidder, item, D(v)) for e, v in zip(EXPERTS, values, strict=True)]


def _gp_prices():  # type: ignore[no-untyped-def]
    method = load_packaged_method("gp-comprehensive-goods")
    prices = compute_prices(
        method, bids(("甲", "1000000"), ("乙", "1050000", True), ("丙", "980000")), max_price=D("1150000.00")
    )
    return method, prices


def test_procurement_comprehensive_totals_and_ranking_worked_example() -> None:
    """gp-comprehensive-goods: total = 0.5·F_tech + 0.2·F_comm + 0.3·F_price (price scores from the worked example
    in test_price_worked_examples: 甲 94.50, 乙 100.00, 丙 96.43). docs/evaluation-methods.md, example 7.

    Objective items from the facts: spec (steps on negative deviations: 0 → 60, 1 → 50) 甲 1 → 50, 乙 0 → 60,
    丙 0 → 60; delivery (30 × shortest/days) 甲 30 days → 30, 乙 45 → 20, 丙 60 → 15.
    甲: solution mean (30+32+34+36+38)/5 = 34.00; F_tech = 50 + 34.00 = 84.00;
        service mean (60+62+64+66+68)/5 = 64.00; F_comm = 64.00 + 30 = 94.00;
        total = 0.5×84.00 + 0.2×94.00 + 0.3×94.50 = 42.00 + 18.80 + 28.35 = 89.15
    乙: solution (33×4 + 34)/5 = 33.20 → F_tech = 60 + 33.20 = 93.20; service (60×4 + 61)/5 = 60.20 → F_comm = 80.20;
        total = 46.60 + 16.04 + 30.00 = 92.64
    丙: solution 35.00 → F_tech 95.00; service 65.00 → F_comm 80.00; total = 47.50 + 16.00 + 28.929 = 92.429 → 92.43
    Ranking: 乙 1, 丙 2, 甲 3; all three are candidates.
    """
    method, prices = _gp_prices()
    scores = [
        *_panel("甲", "solution", ["30", "32", "34", "36", "38"]),
        *_panel("甲", "service", ["60", "62", "64", "66", "68"]),
        *_panel("乙", "solution", ["33", "33", "33", "33", "34"]),
        *_panel("乙", "service", ["60", "60", "60", "60", "61"]),
        *_panel("丙", "solution", ["35"] * 5),
        *_panel("丙", "service", ["65"] * 5),
    ]
    facts: dict[str, dict[str, str | None]] = {
        "甲": {"extra.技术参数负偏离项数": "1", "duration_days": "30"},
        "乙": {"extra.技术参数负偏离项数": "0", "duration_days": "45"},
        "丙": {"extra.技术参数负偏离项数": "0", "duration_days": "60"},
    }
    objective = objective_points(objective_scores(method, ["甲", "乙", "丙"], facts))
    assert objective == {
        "甲": {"spec": D("50"), "delivery": D("30")},
        "乙": {"spec": D("60"), "delivery": D("20")},
        "丙": {"spec": D("60"), "delivery": D("15")},
    }
    result = evaluate(method, prices, scores, objective, experts=EXPERTS)
    assert {r.bidder: (str(r.total), r.rank) for r in result.rows} == {
        "甲": ("89.15", 3),
        "乙": ("92.64", 1),
        "丙": ("92.43", 2),
    }
    assert result.row("乙").factor_scores == {"technical": D("93.20"), "commercial": D("80.20"), "price": D("100.00")}
    assert result.candidates == ("乙", "丙", "甲")
    assert result.undecided == ()


def test_subjective_mean_rounds_half_up_to_the_hundredth() -> None:
    """(30 + 30 + 30 + 30 + 30.01) / 5 = 30.002 → 30.00; (30 + 30 + 30 + 30 + 30.05)/5 = 30.01; 30.025 → 30.03."""
    method, _ = _gp_prices()
    out = item_scores(
        method,
        ["a", "b", "c"],
        [
            *_panel("a", "solution", ["30", "30", "30", "30", "30.01"]),
            *_panel("b", "solution", ["30", "30", "30", "30", "30.05"]),
            *_panel("c", "solution", ["30", "30", "30", "30.05", "30.08"]),
            *[s for x in "abc" for s in _panel(x, "service", ["1"] * 5)],
        ],
        {x: {"spec": D(1), "delivery": D(1)} for x in "abc"},
        experts=EXPERTS,
    )
    assert [out[x]["solution"] for x in "abc"] == [D("30.00"), D("30.01"), D("30.03")]


def _consultation(rows: list[tuple[str, str, str, str]]):  # type: ignore[no-untyped-def]
    """gp-consultation-services (points): total = approach + staff + references (10) + price score (S_max 20)."""
    method = load_packaged_method("gp-consultation-services")
    prices = compute_prices(method, [Bid(b, D(p)) for b, p, _, _ in rows])
    scores = [s for b, _, approach, _ in rows for s in _panel(b, "approach", [approach] * 5)]
    objective = {b: {"staff": D(staff), "references": D("10")} for b, _, _, staff in rows}
    return method, evaluate(method, prices, scores, objective, experts=EXPERTS)


def test_procurement_tie_goes_to_lower_price_then_bidders_are_tied() -> None:
    """87号令 §57. X 100,000 → price 20.00; Y 125,000 → 100,000/125,000×20 = 16.00; Z 100,000 → 20.00.
    Totals (approach + staff + references + price): X 40+10+10 + 20.00 = 80.00; Y 40+14+10 + 16.00 = 80.00;
    Z 40+10+10 + 20.00 = 80.00.
    Equal totals → lower quoted price first: X and Z (100,000) before Y (125,000); X and Z have equal price too →
    tied at rank 1; Y is 3rd."""
    _, result = _consultation([("X", "100000", "40", "10"), ("Y", "125000", "40", "14"), ("Z", "100000", "40", "10")])
    assert {r.bidder: (str(r.total), r.rank) for r in result.rows} == {
        "X": ("80.00", 1),
        "Y": ("80.00", 3),
        "Z": ("80.00", 1),
    }
    assert result.candidates == ("X", "Z", "Y")


def test_a_tie_straddling_the_third_place_is_left_undecided() -> None:
    """All at 100,000: W (approach 40) 80.00, X 78.00, Y and Z 70.00 → ranks 1, 2, 3, 3. Only two candidates are
    certain; the two tied at rank 3 (same total, same price) are returned as undecided, never broken silently."""
    _, result = _consultation(
        [
            ("W", "100000", "40", "10"),
            ("X", "100000", "38", "10"),
            ("Y", "100000", "30", "10"),
            ("Z", "100000", "30", "10"),
        ]
    )
    assert [(r.bidder, r.rank) for r in result.rows] == [("W", 1), ("X", 2), ("Y", 3), ("Z", 3)]
    assert result.candidates == ("W", "X")
    assert result.undecided == ("Y", "Z")


def _eng(**changes: object):  # type: ignore[no-untyped-def]
    method = load_packaged_method("eng-comprehensive")
    return dataclasses.replace(method, **changes) if changes else method


def _eng_objective(bidders: list[str]) -> dict[str, dict[str, Decimal]]:
    return {b: {"quality": D("5"), "credit": D("6"), "experience": D("4")} for b in bidders}


def test_engineering_tie_rules_as_data_lower_price_then_technical() -> None:
    """eng-comprehensive ties: evaluated price low, then technical high. Three bids at 1,000,000 (B = 970,000,
    equal price scores) and tech/commercial scores chosen so that all totals are equal:
    A plan 15 schedule 5 (tech 25); B plan 14 schedule 5 (tech 24) — B's total is 1 lower, so give A and C:
    C plan 12 schedule 8 (tech 25). A and C tie on total and price, then on technical (25 = 25) → tied;
    B is third."""
    method = _eng()
    prices = compute_prices(method, bids(("A", "1000000"), ("B", "1000000"), ("C", "1000000")), drawn=D("0.97"))
    scores = [
        *_panel("A", "plan", ["15"] * 5),
        *_panel("A", "schedule", ["5"] * 5),
        *_panel("B", "plan", ["14"] * 5),
        *_panel("B", "schedule", ["5"] * 5),
        *_panel("C", "plan", ["12"] * 5),
        *_panel("C", "schedule", ["8"] * 5),
    ]
    result = evaluate(method, prices, scores, _eng_objective(["A", "B", "C"]), experts=EXPERTS)
    assert [(r.bidder, r.rank) for r in result.rows] == [("A", 1), ("C", 1), ("B", 3)]


def test_engineering_tie_broken_by_technical_score() -> None:
    """Equal totals and equal prices, different technical scores: T has tech 25 and credit 4 (commercial 8),
    U has tech 23 and credit 6 (commercial 10) → same total; technical_high puts T first."""
    method = _eng()
    prices = compute_prices(method, bids(("T", "1000000"), ("U", "1000000")), drawn=D("0.97"))
    scores = [
        *_panel("T", "plan", ["15"] * 5),
        *_panel("T", "schedule", ["5"] * 5),
        *_panel("U", "plan", ["13"] * 5),
        *_panel("U", "schedule", ["5"] * 5),
    ]
    objective = {
        "T": {"quality": D("5"), "credit": D("4"), "experience": D("4")},
        "U": {"quality": D("5"), "credit": D("6"), "experience": D("4")},
    }
    result = evaluate(method, prices, scores, objective, experts=EXPERTS)
    assert result.row("T").total == result.row("U").total
    assert [(r.bidder, r.rank) for r in result.rows] == [("T", 1), ("U", 2)]


def test_chongqing_replacement_of_an_abnormal_members_scores() -> None:
    """重庆条例 §32: e5's scores (plan 2) are replaced by the other members' mean (12+13+14+15)/4 = 13.5, so the
    item score is (12 + 13 + 14 + 15 + 13.5)/5 = 13.50 instead of (12+13+14+15+2)/5 = 11.20."""
    scores = [*_panel("A", "plan", ["12", "13", "14", "15", "2"]), *_panel("A", "schedule", ["5"] * 5)]
    plain = item_scores(_eng(), ["A"], scores, _eng_objective(["A"]), experts=EXPERTS)
    assert plain["A"]["plan"] == D("11.20")
    with pytest.raises(ValidationFailed) as info:
        item_scores(_eng(), ["A"], scores, _eng_objective(["A"]), experts=EXPERTS, abnormal_members=["e5"])
    assert info.value.code == "scoring.replacement_not_allowed"
    method = _eng(replace_abnormal_member=True)
    replaced = item_scores(method, ["A"], scores, _eng_objective(["A"]), experts=EXPERTS, abnormal_members=["e5"])
    assert replaced["A"]["plan"] == D("13.50")
    with pytest.raises(ValidationFailed):
        item_scores(method, ["A"], scores, _eng_objective(["A"]), experts=EXPERTS, abnormal_members=["nobody"])


def test_lowest_price_methods_rank_without_scores() -> None:
    method = load_packaged_method("eng-lowest-evaluated-price")
    prices = compute_prices(method, [Bid("A", D("100")), Bid("B", D("90")), Bid("C", D("110"))])
    result = evaluate(method, prices)
    assert result.candidates == ("B", "A", "C")
    assert all(r.total is None for r in result.rows)


def test_candidates_limited_to_the_method_count() -> None:
    method = dataclasses.replace(load_packaged_method("gp-lowest-price-goods"), candidates=2)
    prices = compute_prices(method, bids(("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")))
    assert evaluate(method, prices).candidates == ("a", "b")


@pytest.mark.parametrize(
    ("scores", "code"),
    [
        ([("e1", "A", "plan", "15.01")], "scoring.out_of_range"),
        ([("e1", "A", "plan", "-1")], "scoring.out_of_range"),
        ([("e1", "A", "plan", "1.005")], "scoring.too_precise"),
        ([("e1", "A", "quality", "1")], "scoring.unknown_item"),
        ([("e1", "Q", "plan", "1")], "scoring.unknown_bidder"),
        ([("x9", "A", "plan", "1")], "scoring.unknown_expert"),
        ([("e1", "A", "plan", "1"), ("e1", "A", "plan", "2")], "scoring.duplicate_score"),
        ([("e1", "A", "plan", "1")], "scoring.missing_score"),
    ],
)
def test_bad_scores_are_refused(scores: list[tuple[str, str, str, str]], code: str) -> None:
    given = [ExpertScore(e, b, i, D(v)) for e, b, i, v in scores]
    with pytest.raises(ValidationFailed) as info:
        item_scores(_eng(), ["A"], given, _eng_objective(["A"]), experts=EXPERTS)
    assert info.value.code == code


def test_missing_objective_score_is_refused() -> None:
    scores = [*_panel("A", "plan", ["1"] * 5), *_panel("A", "schedule", ["1"] * 5)]
    with pytest.raises(ValidationFailed) as info:
        item_scores(_eng(), ["A"], scores, {"A": {"quality": D(1), "credit": D(1)}}, experts=EXPERTS)
    assert info.value.code == "scoring.missing_objective"


# --- E-4 deviation ---------------------------------------------------------------------------------------


def test_deviation_percent_of_panel_mean() -> None:
    """Scores 30, 32, 34, 36, 10: mean = 142/5 = 28.4. e5: |10 − 28.4| / 28.4 = 64.79 % > 20 % → intervention;
    e4: |36 − 28.4| / 28.4 = 26.76 % > 20 % → intervention; e3: 19.72 % ≤ 20 % → none."""
    method = _eng()
    assert method.deviation is not None
    found = detect_deviations(method.deviation, method.items, _panel("A", "plan", ["30", "32", "34", "36", "10"]))
    assert [(i.expert, i.to_dict()["deviation"], i.to_dict()["mean"]) for i in found] == [
        ("e4", "26.76", "28.40"),
        ("e5", "64.79", "28.40"),
    ]


def test_deviation_in_points_against_the_other_experts() -> None:
    """Points, threshold 5, mean of the others: e5 = 10 vs (30+32+34+36)/4 = 33 → 23 > 5; e1 = 30 vs
    (32+34+36+10)/4 = 28 → 2; e3 = 34 vs (30+32+36+10)/4 = 27 → 7 > 5; e4 = 36 vs (30+32+34+10)/4 = 26.5 → 9.5."""
    rule = DeviationRule("points", D("5"), "others")
    found = detect_deviations(rule, _eng().items, _panel("A", "plan", ["30", "32", "34", "36", "10"]))
    assert [(i.expert, i.deviation) for i in found] == [("e3", D("7")), ("e4", D("9.5")), ("e5", D("23"))]


def test_deviation_percent_of_max_and_zero_mean() -> None:
    items = _eng().items
    rule = DeviationRule("percent_of_max", D("25"))
    # plan max 15: scores 15,15,15,15,5 → mean 13; e5 |5 − 13|/15 = 53.3 % → flagged; others 13.3 % → not
    found = detect_deviations(rule, items, _panel("A", "plan", ["15", "15", "15", "15", "5"]))
    assert [i.expert for i in found] == ["e5"]
    zero = detect_deviations(DeviationRule("percent_of_mean", D("50")), items, _panel("A", "plan", ["0"] * 5))
    assert zero == []
    others = DeviationRule("percent_of_mean", D("50"), "others")
    inf = detect_deviations(others, items, _panel("A", "plan", ["0", "0", "0", "0", "1"]))
    # e1–e4: 0 vs the others' mean 0.25 → 100 % > 50 %; e5: 1 vs the others' mean 0 → infinite
    assert [(i.expert, i.to_dict()["deviation"]) for i in inf] == [(f"e{n}", "100.00") for n in range(1, 5)] + [
        ("e5", "Infinity")
    ]


def test_deviation_threshold_is_strict() -> None:
    """Exactly at the threshold is not an intervention: 10, 20 → mean 15, deviation 5 points = threshold."""
    rule = DeviationRule("points", D("5"))
    assert (
        detect_deviations(
            rule, _eng().items, [ExpertScore("a", "A", "plan", D(10)), ExpertScore("b", "A", "plan", D(20))]
        )
        == []
    )
