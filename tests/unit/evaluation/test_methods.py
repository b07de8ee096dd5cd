"""Method definitions as data: the shipped examples load; every broken rule is refused naming its field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from tests.unit.evaluation.support import build, deviation_def, gp_def

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import (
    FORMAT,
    load_method_json,
    load_packaged_method,
    packaged_method_names,
    parse_method,
    price_weight_range,
)


def _refused(data: Any) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        parse_method(copy.deepcopy(data))
    return info.value


def test_every_shipped_example_is_valid_and_covers_every_kind() -> None:
    names = packaged_method_names()
    methods = [load_packaged_method(n) for n in names]
    assert {m.kind for m in methods} == {
        "comprehensive",
        "lowest_evaluated_price",
        "reasonable_low_price",
        "gp_lowest_price",
        "gp_comprehensive",
    }
    assert all(m.id == n for m, n in zip(methods, names, strict=True))


def test_decimals_are_exact_from_json_numbers_and_strings() -> None:
    data = deviation_def(above_per_percent=0.3, below_per_percent="0.1")
    method = load_method_json(json.dumps(data).replace('"0.1"', "0.1"))
    assert method.price.above_per_percent == Decimal("0.3")
    assert method.price.below_per_percent == Decimal("0.1")
    assert str(method.price.above_per_percent) == "0.3"  # not 0.299999…


def test_python_floats_are_refused() -> None:
    err = _refused(deviation_def(above_per_percent=0.3))
    assert err.code == "method.bad_decimal"
    assert err.details["field"] == "price.above_per_percent"


def test_to_dict_is_json_ready() -> None:
    data = load_packaged_method("gp-comprehensive-goods").to_dict()
    assert json.loads(json.dumps(data))["factors"][2]["weight"] == "0.3"
    assert data["format"] == FORMAT and data["sector"] == "procurement"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda d: d.pop("kind"), "method.missing_field", "kind"),
        (lambda d: d.update(kind="cheapest"), "method.bad_choice", "kind"),
        (lambda d: d.update(format="v0"), "method.bad_format", "format"),
        (lambda d: d.update(colour="red"), "method.unknown_field", "colour"),
        (lambda d: d.update(min_price="100"), "method.min_price_forbidden", "min_price"),
        (lambda d: d["price"].update(min_price="100"), "method.min_price_forbidden", "price.min_price"),
        (lambda d: d["price"].update(above_per_percent="0.2"), "method.a_less_than_b", "price.above_per_percent"),
        (lambda d: d["price"].update(s_min="100"), "method.s_min", "price.s_min"),
        (lambda d: d["price"].update(below_per_percent="abc"), "method.bad_decimal", "price.below_per_percent"),
        (lambda d: d["price"].update(below_per_percent="1e3"), "method.bad_decimal", "price.below_per_percent"),
        (lambda d: d["price"].update(band={"low": "1", "high": "2"}), "method.out_of_range", "price.band.low"),
        (lambda d: d["price"].update(fraction="round"), "method.bad_choice", "price.fraction"),
        (lambda d: d["price"].update(formula="lowest_ratio"), "method.formula_for_kind", "price.formula"),
        (lambda d: d["price"].pop("benchmark"), "method.missing_field", "price.benchmark"),
        (
            lambda d: d["price"]["benchmark"].update(
                coefficient={"apply": "multiply", "values": {"from": "0.95", "to": "0.98", "step": "0.007"}}
            ),
            "method.bad_range",
            "price.benchmark.coefficient.values",
        ),
        (
            lambda d: d["price"]["benchmark"].update(coefficient={"apply": "multiply", "values": ["0.95", "0.95"]}),
            "method.duplicate_value",
            "price.benchmark.coefficient.values",
        ),
        (
            lambda d: d["price"]["benchmark"].update(coefficient={"apply": "multiply", "values": ["3"]}),
            "method.out_of_range",
            "price.benchmark.coefficient.values",
        ),
        (
            lambda d: d["price"]["benchmark"].update(max_price_weighting={"q1": "0.7", "k1": "K", "k2": "0.9"}),
            "method.drawn_k_missing",
            "price.benchmark.coefficient",
        ),
        (
            lambda d: d["price"]["benchmark"].update(max_price_weighting={"q1": "1.2", "k1": "1", "k2": "0.9"}),
            "method.out_of_range",
            "price.benchmark.max_price_weighting.q1",
        ),
        (
            lambda d: d["price"]["benchmark"].update(screening={"kind": "band", "percent": "0"}),
            "method.out_of_range",
            "price.benchmark.screening.percent",
        ),
        (
            lambda d: d["price"]["benchmark"].update(screening={"kind": "composite", "mean_weight": "0.6"}),
            "method.weights_sum",
            "price.benchmark.screening.max_weight",
        ),
        (
            lambda d: d["price"]["benchmark"].update(composite=[{"source": "average", "weight": "0.9"}]),
            "method.weights_sum",
            "price.benchmark.composite",
        ),
        (
            lambda d: d["price"]["benchmark"].update(
                composite=[{"source": "average", "weight": "0.5"}, {"source": "average", "weight": "0.5"}]
            ),
            "method.duplicate_id",
            "price.benchmark.composite[1].source",
        ),
        (
            lambda d: d["price"]["benchmark"].update(composite=[{"source": "average", "weight": "1", "k": "K"}]),
            "method.drawn_k_missing",
            "price.benchmark.coefficient",
        ),
        (
            lambda d: d["price"]["benchmark"].update(
                composite=[{"source": "median", "weight": "1"}],
            ),
            "method.bad_choice",
            "price.benchmark.composite[0].source",
        ),
        (
            lambda d: d["price"]["benchmark"].update(
                composite=[{"source": "average", "weight": "1"}],
                max_price_weighting={"q1": "0.5", "k1": "1", "k2": "1"},
            ),
            "method.two_formulas",
            "price.benchmark.composite",
        ),
        (lambda d: d.update(policy={"small_enterprise_deduction": "0.1"}), "method.policy_for_sector", "policy"),
        (lambda d: d.update(candidates=4), "method.out_of_range", "candidates"),
        (lambda d: d.update(ties=["technical_high"]), "method.bad_ties", "ties"),
        (lambda d: d.update(ties=["fastest"]), "method.bad_ties", "ties"),
        (
            lambda d: d.update(
                aggregation="points", factors=[{"id": "p", "kind": "price", "name_zh": "价", "max_points": "100"}]
            ),
            "method.factors_for_kind",
            "factors",
        ),
        (
            lambda d: d.update(adjustments=[{"id": "x", "name_zh": "x", "unit": "amount"}]),
            "method.adjustments_for_kind",
            "adjustments",
        ),
        (lambda d: d.update(sector="procurement"), "method.sector_mismatch", "sector"),
        (
            lambda d: d.update(deviation={"basis": "points", "threshold": "0"}),
            "method.out_of_range",
            "deviation.threshold",
        ),
    ],
)
def test_engineering_definition_errors_name_the_field(change: Any, code: str, field: str) -> None:
    data = deviation_def()
    change(data)
    err = _refused(data)
    assert (err.code, err.details.get("field")) == (code, field)
    assert field in err.message_zh and field in err.message_en


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda d: d["factors"][0].update(weight="0.6"), "method.weights_sum", "factors"),
        (lambda d: d["factors"][0]["items"][0].update(max_points="50"), "method.items_sum", "factors[0].items"),
        (lambda d: d["factors"][2].update(max_points="60"), "method.price_scale", "factors[2].max_points"),
        (lambda d: d["factors"].pop(2), "method.price_factor", "factors"),
        (
            lambda d: d["factors"][2].update(items=[{"id": "x", "name_zh": "x", "max_points": "1"}]),
            "method.price_items",
            "factors[2].items",
        ),
        (lambda d: d["factors"][1].update(items=[]), "method.no_items", "factors[1].items"),
        (lambda d: d["factors"][1].update(id="technical"), "method.duplicate_id", "factors[1].id"),
        (lambda d: d["factors"][0]["items"][1].update(id="spec"), "method.duplicate_id", "factors[0].items[1].id"),
        (lambda d: d["factors"][0]["items"][1].update(id="Bad Id"), "method.bad_id", "factors[0].items[1].id"),
        (lambda d: d.update(ties=["evaluated_price_low"]), "method.gp_ties", "ties"),
        (lambda d: d.update(ties=[]), "method.gp_ties", "ties"),
        (lambda d: d.update(category="works"), "method.gp_works", "category"),
        (
            lambda d: d.update(policy={"small_enterprise_deduction": "0.09"}),
            "method.out_of_range",
            "policy.small_enterprise_deduction",
        ),
        (
            lambda d: d.update(policy={"small_enterprise_deduction": "0.21"}),
            "method.out_of_range",
            "policy.small_enterprise_deduction",
        ),
        (lambda d: d.update(max_price="100.001"), "method.bad_money", "max_price"),
        (lambda d: d["price"].update(formula="deviation"), "method.formula_for_kind", "price.formula"),
        (lambda d: d.update(aggregation="points"), "method.weight_in_points", "factors[0].weight"),
        (
            lambda d: (d["factors"][2].update(max_points="50"), d["price"].update(s_max="50")),
            "method.unequal_scales",
            "factors",
        ),
    ],
)
def test_procurement_definition_errors_name_the_field(change: Any, code: str, field: str) -> None:
    data = gp_def()
    change(data)
    err = _refused(data)
    assert (err.code, err.details.get("field")) == (code, field)


def _with_price_weight(weight: str, category: str, procedure: str) -> dict[str, Any]:
    rest = (Decimal(1) - Decimal(weight)) / 2
    data = gp_def(category=category, procedure=procedure)
    data["factors"][0]["weight"] = str(rest)
    data["factors"][1]["weight"] = str(rest)
    data["factors"][2]["weight"] = weight
    return data


@pytest.mark.parametrize(
    ("category", "procedure", "ok", "bad"),
    [
        ("goods", "tender", ["0.30", "0.50", "0.90"], ["0.28", "0.10"]),
        ("services", "tender", ["0.10", "0.30"], ["0.08"]),
        ("goods", "consultation", ["0.30", "0.60"], ["0.28", "0.62"]),
        ("services", "consultation", ["0.10", "0.30"], ["0.08", "0.32"]),
    ],
)
def test_procurement_price_weight_must_be_in_the_legal_range(
    category: str, procedure: str, ok: list[str], bad: list[str]
) -> None:
    """87号令 §55: goods ≥ 30 %, services ≥ 10 %; 财库〔2014〕214号 (磋商): goods 30–60 %, services 10–30 %."""
    for weight in ok:
        assert build(_with_price_weight(weight, category, procedure)).price_weight == Decimal(weight)
    for weight in bad:
        err = _refused(_with_price_weight(weight, category, procedure))
        assert err.code == "method.price_weight_out_of_range"
        assert err.details["field"] == "factors[2].weight"
    assert price_weight_range(category, procedure) is not None


def test_price_weight_in_points_is_the_share_of_all_points() -> None:
    """gp-consultation-services: price 20 of 100 points = 20 %, inside 10–30 % for services."""
    assert load_packaged_method("gp-consultation-services").price_weight == Decimal("0.2")
    data = json.loads(json.dumps(load_packaged_method("gp-consultation-services").to_dict()))
    assert data["aggregation"] == "points"


def test_json_syntax_errors_give_line_and_column() -> None:
    with pytest.raises(ValidationFailed) as info:
        load_method_json('{\n  "format": "x",\n  "id": oops\n}')
    assert info.value.code == "method.syntax"
    assert info.value.details == {"line": 3, "column": 9}
    assert "第 3 行第 9 列" in info.value.message_zh


def test_duplicate_keys_nan_and_non_utf8_are_refused() -> None:
    with pytest.raises(ValidationFailed) as info:
        load_method_json('{"id": "a", "id": "b"}')
    assert info.value.code == "method.duplicate_key"
    with pytest.raises(ValidationFailed):
        load_method_json('{"x": NaN}')
    with pytest.raises(ValidationFailed) as info:
        load_method_json(b"\xff\xfe")
    assert info.value.code == "method.encoding"
    with pytest.raises(ValidationFailed) as info:
        load_method_json("[1, 2]")
    assert info.value.code == "method.bad_type"


def test_unknown_packaged_method() -> None:
    with pytest.raises(ValidationFailed) as info:
        load_packaged_method("nope")
    assert info.value.code == "method.not_found"


def test_drawn_k_inside_max_price_weighting() -> None:
    data = deviation_def(
        benchmark={
            "average": "mean",
            "max_price_weighting": {"q1": "0.7", "k1": "K", "k2": "0.9"},
            "coefficient": {"apply": "multiply", "values": ["0.96"]},
        }
    )
    method = build(data)
    assert method.price.benchmark is not None and method.price.benchmark.weighting is not None
    assert method.price.benchmark.weighting.k1 is None and method.price.benchmark.weighting.uses_drawn


# --- objective rules -----------------------------------------------------------------------------------


def _rule(d: dict[str, Any]) -> dict[str, Any]:
    rule: dict[str, Any] = d["factors"][0]["items"][0]["rule"]
    return rule


def _steps(direction: str, *pairs: tuple[str, str]) -> dict[str, Any]:
    return {
        "kind": "steps",
        "field": "duration_days",
        "direction": direction,
        "steps": [{"bound": b, "points": p} for b, p in pairs],
    }


RULE_AT = "factors[0].items[0].rule"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        (lambda d: d["factors"][0]["items"][0].pop("rule"), "method.objective_rule_missing", RULE_AT),
        (
            lambda d: d["factors"][0]["items"][1].update(rule={"kind": "count", "field": "quality", "per_unit": "1"}),
            "method.rule_for_subjective",
            "factors[0].items[1].rule",
        ),
        (lambda d: _rule(d).update(kind="formula"), "method.bad_choice", f"{RULE_AT}.kind"),
        (lambda d: _rule(d).update(per_unit="0"), "method.out_of_range", f"{RULE_AT}.per_unit"),
        (lambda d: _rule(d).update(per_unit="-1"), "method.out_of_range", f"{RULE_AT}.per_unit"),
        (lambda d: _rule(d).update(per_unit="61"), "method.out_of_range", f"{RULE_AT}.per_unit"),
        (lambda d: _rule(d).pop("per_unit"), "method.missing_field", f"{RULE_AT}.per_unit"),
        (lambda d: _rule(d).update(choices={"有": "1"}), "method.unknown_field", f"{RULE_AT}.choices"),
        (lambda d: _rule(d).update(field="price"), "method.bad_fact_field", f"{RULE_AT}.field"),
        (lambda d: _rule(d).update(field="extra."), "method.bad_fact_field", f"{RULE_AT}.field"),
        (lambda d: _rule(d).update(field="extra. 业绩"), "method.bad_fact_field", f"{RULE_AT}.field"),
        (lambda d: _rule(d).update(field="extra.业绩\n"), "method.bad_fact_field", f"{RULE_AT}.field"),
        (lambda d: _rule(d).update(field="extra." + "键" * 65), "method.bad_fact_field", f"{RULE_AT}.field"),
        (lambda d: _rule(d).update(field=3), "method.bad_fact_field", f"{RULE_AT}.field"),
        (
            lambda d: d["factors"][0]["items"][0].update(rule={"kind": "choice", "field": "quality", "choices": {}}),
            "method.bad_choices",
            f"{RULE_AT}.choices",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(
                rule={"kind": "choice", "field": "quality", "choices": {"优良": "61"}}
            ),
            "method.rule_points",
            f"{RULE_AT}.choices.优良",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(
                rule={"kind": "choice", "field": "quality", "choices": {"合格": "-1"}}
            ),
            "method.rule_points",
            f"{RULE_AT}.choices.合格",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(
                rule={"kind": "choice", "field": "quality", "choices": {" 合格": "1"}}
            ),
            "method.bad_choice_option",
            f"{RULE_AT}.choices. 合格",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(
                rule={"kind": "choice", "field": "quality", "choices": ["合格"]}
            ),
            "method.bad_choices",
            f"{RULE_AT}.choices",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule={**_steps("at_most"), "steps": []}),
            "method.bad_steps",
            f"{RULE_AT}.steps",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule=_steps("at_most", ("90", "60"), ("60", "30"))),
            "method.steps_order",
            f"{RULE_AT}.steps[1].bound",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule=_steps("at_least", ("60", "60"), ("90", "30"))),
            "method.steps_order",
            f"{RULE_AT}.steps[1].bound",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule=_steps("at_most", ("60", "30"), ("90", "40"))),
            "method.steps_order",
            f"{RULE_AT}.steps[1].points",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule=_steps("at_most", ("60", "60"), ("60", "30"))),
            "method.duplicate_value",
            f"{RULE_AT}.steps[1].bound",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule=_steps("at_most", ("60", "60.01"))),
            "method.rule_points",
            f"{RULE_AT}.steps[0].points",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule=_steps("sideways", ("60", "60"))),
            "method.bad_choice",
            f"{RULE_AT}.direction",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(rule={"kind": "ratio", "field": "duration_days"}),
            "method.missing_field",
            f"{RULE_AT}.better",
        ),
        (
            lambda d: d["factors"][0]["items"][0].update(
                rule={"kind": "ratio", "field": "duration_days", "better": "lower", "per_unit": "1"}
            ),
            "method.unknown_field",
            f"{RULE_AT}.per_unit",
        ),
    ],
)
def test_objective_rule_errors_name_the_field(change: Any, code: str, field: str) -> None:
    data = gp_def()
    change(data)
    err = _refused(data)
    assert (err.code, err.details.get("field")) == (code, field)


def test_choice_options_must_be_text() -> None:
    data = gp_def()
    data["factors"][0]["items"][0]["rule"] = {"kind": "choice", "field": "quality", "choices": {1: "60"}}
    assert _refused(data).code == "method.bad_choice_option"


def test_objective_rules_are_read_exactly() -> None:
    data = gp_def()
    data["factors"][0]["items"][0]["rule"] = _steps("at_least", ("36", "60"), ("24", "30.5"), ("12", "0"))
    rule = build(data).items[0].rule
    assert rule is not None and (rule.kind, rule.field, rule.direction) == ("steps", "duration_days", "at_least")
    assert [(s.bound, s.points) for s in rule.steps] == [
        (Decimal(36), Decimal(60)),
        (Decimal(24), Decimal("30.5")),
        (Decimal(12), Decimal(0)),
    ]
    data["factors"][0]["items"][0]["rule"] = {"kind": "choice", "field": "extra.信用等级", "choices": {"AAA": 60}}
    rule = build(data).items[0].rule
    assert rule is not None and rule.choices == (("AAA", Decimal(60)),)
    data["factors"][0]["items"][0]["rule"] = {"kind": "ratio", "field": "extra.k", "better": "higher"}
    rule = build(data).items[0].rule
    assert rule is not None and (rule.kind, rule.better) == ("ratio", "higher")
    assert build(gp_def()).items[1].rule is None  # subjective


def test_shipped_objective_items_all_have_rules_and_use_every_kind() -> None:
    rules = [i.rule for n in packaged_method_names() for i in load_packaged_method(n).items if not i.subjective]
    assert rules and all(r is not None for r in rules)
    assert {r.kind for r in rules if r is not None} == {"choice", "count", "steps", "ratio"}
    assert any(r is not None and r.kind == "steps" and r.field == "duration_days" for r in rules)
    assert load_packaged_method("eng-comprehensive").to_dict()["factors"][1]["items"][0]["rule"] == {
        "kind": "choice",
        "field": "extra.信用等级",
        "choices": {"AAA": "6", "AA": "4", "A": "2"},
    }
    duration = load_packaged_method("eng-max-price-weighted").to_dict()["factors"][0]["items"][2]["rule"]
    assert duration == {
        "kind": "steps",
        "field": "duration_days",
        "direction": "at_most",
        "steps": [{"bound": "180", "points": "5"}, {"bound": "210", "points": "3"}, {"bound": "240", "points": "1"}],
    }
    assert load_packaged_method("eng-comprehensive").to_dict()["factors"][0]["items"][0]["rule"] is None
