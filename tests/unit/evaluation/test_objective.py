"""Objective items computed from facts (SPEC E-3): each rule kind by hand, rounding, caps, missing/invalid facts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.evaluation.support import D, build, objective_def, rule_item

from sunbid.evaluation.methods import load_packaged_method
from sunbid.evaluation.model import EvaluationMethod
from sunbid.evaluation.objective import (
    FACT_FIELDS_FIXED,
    ObjectivePoints,
    fact_fields,
    objective_points,
    objective_scores,
    parse_fact_number,
    rule_text,
)

CREDIT = {"kind": "choice", "field": "extra.信用等级", "choices": {"AAA": "6", "AA": "4", "A": "2"}}
EXPERIENCE = {"kind": "count", "field": "extra.类似工程业绩", "per_unit": "2"}
DURATION = {
    "kind": "steps",
    "field": "duration_days",
    "direction": "at_most",
    "steps": [{"bound": "180", "points": "5"}, {"bound": "210", "points": "3"}, {"bound": "240", "points": "1"}],
}
DELIVERY = {"kind": "ratio", "field": "duration_days", "better": "lower"}


def method(*items: dict[str, object]) -> EvaluationMethod:
    return build(objective_def(*items))


def one(rule: dict[str, object], max_points: str, value: str | None, name_zh: str = "客观项") -> ObjectivePoints:
    m = method(rule_item("x", max_points, rule, name_zh), {"id": "plan", "name_zh": "方案", "max_points": "10"})
    field = str(rule["field"])
    return objective_scores(m, ["甲"], {"甲": {field: value}})["甲"]["x"]


# --- choice ------------------------------------------------------------------------------------------------


def test_choice_exact_match_after_strip() -> None:
    r = one(CREDIT, "6", "  AA ")
    assert (r.points, r.value, r.status) == (D("4.00"), "AA", "ok")
    assert r.basis_zh == "“AA”得 4 分" and r.basis_en == '"AA" gives 4 points'


def test_choice_no_other_normalisation() -> None:
    for value in ("aaa", "AAA级", "Ａ", "AA A"):
        r = one(CREDIT, "6", value)
        assert r.points == D("0.00") and r.status == "ok"
        assert "不在评分标准所列选项内" in r.basis_zh and "not among the options" in r.basis_en


def test_choice_points_are_rounded_half_up() -> None:
    rule = {"kind": "choice", "field": "quality", "choices": {"合格": "2.345", "优良": "2.355"}}
    assert one(rule, "3", "合格").points == D("2.35")
    assert one(rule, "3", "优良").points == D("2.36")


# --- count -------------------------------------------------------------------------------------------------


def test_count_per_unit_and_cap() -> None:
    r1 = one(EXPERIENCE, "4", "1", "类似工程业绩")
    assert r1.points == D("2.00") and r1.status == "ok"
    r3 = one(EXPERIENCE, "4", "3", "类似工程业绩")
    assert r3.points == D("4.00")
    assert r3.basis_zh == "类似工程业绩 3 项 × 2 分，上限 4 分，得 4 分"
    assert one(EXPERIENCE, "4", "0").points == D("0.00")
    assert one(EXPERIENCE, "4", " 2 ").points == D("4.00")


def test_count_whole_number_written_with_zero_decimals() -> None:
    assert one(EXPERIENCE, "4", "1.0").points == D("2.00")


def test_count_fraction_rounds_half_up() -> None:
    rule = {"kind": "count", "field": "extra.人数", "per_unit": "0.125"}
    assert one(rule, "10", "3").points == D("0.38")  # 0.375 -> 0.38
    assert one(rule, "10", "1").points == D("0.13")  # 0.125 -> 0.13


def test_count_invalid_values() -> None:
    for value, needle in (
        ("3.5", "不是非负整数"),
        ("-1", "不是非负整数"),
        ("三", "无法识别的数值“三”"),
        ("1,000", "无法识别"),
    ):
        r = one(EXPERIENCE, "4", value)
        assert (r.points, r.status, r.value) == (D("0.00"), "invalid", value)
        assert needle in r.basis_zh and r.basis_zh.endswith("得 0 分")


# --- steps -------------------------------------------------------------------------------------------------


def test_steps_at_most_first_step_met() -> None:
    assert one(DURATION, "5", "150").points == D("5.00")
    assert one(DURATION, "5", "180").points == D("5.00")  # on the bound: met
    r = one(DURATION, "5", "180.5")
    assert r.points == D("3.00") and r.basis_zh == "180.5 ≤ 210，得 3 分"
    assert one(DURATION, "5", "240").points == D("1.00")
    r0 = one(DURATION, "5", "241")
    assert r0.points == D("0.00") and r0.status == "ok" and "未达到任何一档" in r0.basis_zh


def test_steps_at_least() -> None:
    rule = {
        "kind": "steps",
        "field": "extra.质保期月数",
        "direction": "at_least",
        "steps": [{"bound": "36", "points": "10"}, {"bound": "24", "points": "6"}],
    }
    assert one(rule, "10", "48").points == D("10.00")
    r = one(rule, "10", "24")
    assert r.points == D("6.00") and r.basis_zh == "24 ≥ 24，得 6 分"
    assert one(rule, "10", "23.99").points == D("0.00")


def test_steps_units_are_invalid() -> None:
    r = one(DURATION, "5", "365天")
    assert (r.points, r.status) == (D("0.00"), "invalid")
    assert r.basis_zh == "无法识别的数值“365天”，得 0 分"
    assert r.basis_en == 'unreadable number "365天": 0 points'


# --- ratio -------------------------------------------------------------------------------------------------


def test_ratio_lower_is_better_over_several_bids_with_invalid_ones() -> None:
    m = method(rule_item("delivery", "30", DELIVERY), {"id": "plan", "name_zh": "方案", "max_points": "10"})
    facts: dict[str, dict[str, str | None]] = {
        "甲": {"duration_days": "30"},
        "乙": {"duration_days": "45"},
        "丙": {"duration_days": "70"},
        "丁": {"duration_days": "0"},  # invalid: not above 0, does not become the best
        "戊": {"duration_days": "十五"},  # invalid
        "己": {},  # missing
    }
    out = objective_scores(m, list(facts), facts)
    got = {b: (r["delivery"].points, r["delivery"].status) for b, r in out.items()}
    assert got == {
        "甲": (D("30.00"), "ok"),
        "乙": (D("20.00"), "ok"),  # 30 × 30/45
        "丙": (D("12.86"), "ok"),  # 30 × 30/70 = 12.857…
        "丁": (D("0.00"), "invalid"),
        "戊": (D("0.00"), "invalid"),
        "己": (D("0.00"), "missing"),
    }
    assert out["丙"]["delivery"].basis_zh == "30 × 最优值 30 ÷ 70 = 12.86 分"
    assert out["丁"]["delivery"].basis_zh == "数值“0”须大于 0，得 0 分"


def test_ratio_higher_is_better_rounds_half_up() -> None:
    rule = {"kind": "ratio", "field": "extra.响应速度", "better": "higher"}
    m = method(rule_item("speed", "10", rule), {"id": "plan", "name_zh": "方案", "max_points": "10"})
    facts: dict[str, dict[str, str | None]] = {"甲": {"extra.响应速度": "8"}, "乙": {"extra.响应速度": "1.0005"}}
    out = objective_scores(m, ["甲", "乙"], facts)
    assert out["甲"]["speed"].points == D("10.00")
    assert out["乙"]["speed"].points == D("1.25")  # 10 × 1.0005/8 = 1.2506…
    assert out["乙"]["speed"].basis_zh == "10 × 1.0005 ÷ 最优值 8 = 1.25 分"


def test_ratio_half_up_on_the_exact_half() -> None:
    rule = {"kind": "ratio", "field": "extra.值", "better": "higher"}
    m = method(rule_item("v", "1", rule), {"id": "plan", "name_zh": "方案", "max_points": "10"})
    facts: dict[str, dict[str, str | None]] = {"甲": {"extra.值": "200"}, "乙": {"extra.值": "1"}}
    assert objective_scores(m, ["甲", "乙"], facts)["乙"]["v"].points == D("0.01")  # 0.005 -> 0.01


def test_ratio_best_only_among_listed_bidders() -> None:
    m = method(rule_item("delivery", "30", DELIVERY), {"id": "plan", "name_zh": "方案", "max_points": "10"})
    facts: dict[str, dict[str, str | None]] = {"甲": {"duration_days": "60"}, "乙": {"duration_days": "10"}}
    assert objective_scores(m, ["甲"], facts)["甲"]["delivery"].points == D("30.00")


# --- missing, fields, mapping ----------------------------------------------------------------------------


def test_missing_and_blank_facts_give_zero() -> None:
    for value in (None, "", "   "):
        r = one(CREDIT, "6", value)
        assert (r.points, r.value, r.status) == (D("0.00"), None, "missing")
        assert r.basis_zh == "未提供，得 0 分" and r.basis_en == "not provided: 0 points"


def test_unknown_bidder_in_facts_is_missing() -> None:
    m = method(rule_item("credit", "6", CREDIT), {"id": "plan", "name_zh": "方案", "max_points": "10"})
    assert objective_scores(m, ["甲"], {})["甲"]["credit"].status == "missing"


def test_fact_fields_in_order_each_once() -> None:
    m = method(
        rule_item("a", "5", DURATION),
        rule_item("b", "6", CREDIT),
        {"id": "plan", "name_zh": "方案", "max_points": "10"},
        rule_item("c", "30", DELIVERY),
    )
    assert fact_fields(m) == ("duration_days", "extra.信用等级")
    assert "duration_days" in FACT_FIELDS_FIXED


def test_objective_points_feeds_scoring_evaluate() -> None:
    m = method(
        rule_item("credit", "6", CREDIT),
        rule_item("experience", "4", EXPERIENCE),
        {"id": "plan", "name_zh": "方案", "max_points": "10"},
    )
    facts: dict[str, dict[str, str | None]] = {
        "甲": {"extra.信用等级": "AAA", "extra.类似工程业绩": "1"},
        "乙": {"extra.信用等级": "B"},
    }
    pts = objective_points(objective_scores(m, ["甲", "乙"], facts))
    assert pts == {"甲": {"credit": D("6.00"), "experience": D("2.00")}, "乙": {"credit": D(0), "experience": D(0)}}
    assert objective_scores(m, ["甲"], facts)["甲"].keys() == {"credit", "experience"}  # subjective items absent


def test_shipped_eng_comprehensive_by_hand() -> None:
    m = load_packaged_method("eng-comprehensive")
    facts: dict[str, dict[str, str | None]] = {
        "A": {"extra.质量管理体系认证": "有", "extra.信用等级": "AA", "extra.类似工程业绩": "5"},
        "B": {"extra.质量管理体系认证": "无", "extra.信用等级": "AAA", "extra.类似工程业绩": "1"},
        "C": {"extra.质量管理体系认证": "", "extra.信用等级": "aaa", "extra.类似工程业绩": "三"},
    }
    results = objective_scores(m, ["A", "B", "C"], facts)
    assert objective_points(results) == {
        "A": {"quality": D(5), "credit": D(4), "experience": D(4)},
        "B": {"quality": D(0), "credit": D(6), "experience": D(2)},
        "C": {"quality": D(0), "credit": D(0), "experience": D(0)},
    }
    assert [results["C"][i].status for i in ("quality", "credit", "experience")] == ["missing", "ok", "invalid"]
    assert results["C"]["experience"].basis_zh == "无法识别的数值“三”，得 0 分"


def test_rule_text_describes_each_kind() -> None:
    m = load_packaged_method("eng-max-price-weighted")
    texts = {i.id: rule_text(i)[0] for i in m.items}
    assert texts["plan"] == "专家评分"
    assert texts["duration"] == "按 duration_days 分档：≤ 180 得 5 分；≤ 210 得 3 分；≤ 240 得 1 分；否则 0 分"
    assert texts["credit"] == "按 extra.信用等级 取值：“AAA” 10 分；“AA” 7 分；“A” 4 分；其他 0 分"
    eng = {i.id: rule_text(i) for i in load_packaged_method("eng-comprehensive").items}
    assert eng["experience"] == (
        "按 extra.类似工程业绩 计数：每项 2 分，上限 4 分",
        "by extra.类似工程业绩: 2 per unit, at most 4",
    )
    gp = {i.id: rule_text(i)[0] for i in load_packaged_method("gp-comprehensive-goods").items}
    assert gp["delivery"] == "按 duration_days 比较：30 × 最低值 ÷ 本投标值（越低越好）"


def test_parse_fact_number() -> None:
    assert parse_fact_number(" 365 ") == D(365)
    assert parse_fact_number("365.5") == D("365.5")
    assert parse_fact_number("-2") == D(-2)
    assert str(parse_fact_number("-0")) == "0" and str(parse_fact_number("0.00")) == "0"
    for bad in ("365天", "1,000", "1e3", "", ".5", "5.", "+5", "NaN", "Infinity", "１２"):
        assert parse_fact_number(bad) is None, bad


# --- property: never above the maximum, never below 0, never raises -------------------------------------

_ALL_RULES = (CREDIT, EXPERIENCE, DURATION, DELIVERY)
_METHOD = method(
    rule_item("credit", "6", CREDIT),
    rule_item("experience", "4", EXPERIENCE),
    rule_item("duration", "5", DURATION),
    rule_item("delivery", "30", DELIVERY),
    {"id": "plan", "name_zh": "方案", "max_points": "10"},
)
_FIELDS = tuple(str(r["field"]) for r in _ALL_RULES)
_fact = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-1000, max_value=10**6).map(str),
    st.integers(min_value=-5, max_value=10**9).map(str),
    st.sampled_from(["AAA", "AA", "A", "有", " 3 ", "0", "0.0", "1e3"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.fixed_dictionaries(dict.fromkeys(_FIELDS, _fact)), min_size=1, max_size=6))
def test_points_within_zero_and_max_for_arbitrary_facts(rows: list[dict[str, str | None]]) -> None:
    bidders = [f"b{i}" for i in range(len(rows))]
    facts = dict(zip(bidders, rows, strict=True))
    out = objective_scores(_METHOD, bidders, facts)
    maxima = {i.id: i.max_points for i in _METHOD.items}
    for bidder in bidders:
        assert out[bidder].keys() == {"credit", "experience", "duration", "delivery"}
        for item_id, r in out[bidder].items():
            assert Decimal(0) <= r.points <= maxima[item_id]
            assert r.points == r.points.quantize(Decimal("0.01"))
            assert (r.status == "missing") == (r.value is None)
            assert r.basis_zh and r.basis_en
