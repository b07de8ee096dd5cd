"""Evaluation methods as data 评标办法 (SPEC E-3): one JSON definition per tender, checked against RULES.md §2.

A method file is JSON (``"format": "sunbid.evaluation-method/1"``), the same document a tender stores with its
tender documents and that ``sunbid calc`` reads. Numbers are exact: written as JSON numbers or strings, they are
read as ``Decimal`` and never pass through ``float``. Every parameter of the formulas is in the definition; the
only values that come from outside are the bids, the drawn coefficient K (from the opening's coefficient draw)
and, when the file leaves it out, the maximum price.

Validation names the field that is wrong (``price.benchmark.coefficient.values.step``) in Chinese and English
(code ``method.*``, ``details["field"]``). The legal checks: a minimum price is refused (条例 §27, 87号令 §12);
weights sum to 1; a ≥ b; the price weight of government procurement is within the range of its category and
procedure (87号令 §55: goods ≥ 30 %, services ≥ 10 %; 磋商, 财库〔2014〕214号: goods 30–60 %, services 10–30 %);
small-enterprise price deductions are 10–20 % (财库〔2020〕46号, 〔2022〕19号); ties follow 87号令 §56/§57 in
government procurement; at most 3 candidates (条例 §53). The format is documented in ``docs/evaluation-methods.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from typing import Any, Final

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.draws.domain import coefficient_set
from sunbid.evaluation.jsonread import JsonObject as _Obj
from sunbid.evaluation.jsonread import dec_text, field_error, to_decimal
from sunbid.evaluation.model import (
    FORMAT,
    KIND_LABELS,
    PRICE_RANKED_KINDS,
    SCORED_KINDS,
    Adjustment,
    Band,
    Benchmark,
    CoefficientRule,
    Component,
    DeviationRule,
    EvaluationMethod,
    Factor,
    MaxPriceWeighting,
    ObjectiveRule,
    Policy,
    PriceRule,
    ScoreItem,
    Screening,
    Step,
    TieKey,
)

__all__ = [
    "FORMAT",
    "KIND_LABELS",
    "MAX_CANDIDATES",
    "Adjustment",
    "Band",
    "Benchmark",
    "CoefficientRule",
    "DeviationRule",
    "EvaluationMethod",
    "Factor",
    "MaxPriceWeighting",
    "ObjectiveRule",
    "Policy",
    "PriceRule",
    "ScoreItem",
    "Screening",
    "Step",
    "dec_text",
    "field_error",
    "load_method_json",
    "load_packaged_method",
    "packaged_method_names",
    "parse_method",
    "price_weight_range",
]

MAX_CANDIDATES: Final = 3
"""At most three ranked candidates 中标候选人 (条例 §53)."""
MAX_METHOD_BYTES: Final = 1 << 20

_FACTOR_KINDS: Final = ("technical", "commercial", "price")
_TIE_KEYS: Final = ("price_low", "evaluated_price_low", "price_score_high", "technical_high", "commercial_high")
_GP_TIES: Final[Mapping[str, tuple[str, ...]]] = {"gp_comprehensive": ("price_low",), "gp_lowest_price": ()}
#: (category, procedure) → price weight range (inclusive) in government procurement.
_GP_PRICE_WEIGHT: Final[Mapping[tuple[str, str], tuple[Decimal, Decimal, str]]] = {
    ("goods", "tender"): (Decimal("0.30"), Decimal(1), "财政部87号令 第55条"),
    ("services", "tender"): (Decimal("0.10"), Decimal(1), "财政部87号令 第55条"),
    ("goods", "consultation"): (Decimal("0.30"), Decimal("0.60"), "财库〔2014〕214号"),
    ("services", "consultation"): (Decimal("0.10"), Decimal("0.30"), "财库〔2014〕214号"),
}
SMALL_ENTERPRISE_DEDUCTION: Final = (Decimal("0.10"), Decimal("0.20"))
"""Allowed range of the small and micro enterprise price deduction (财库〔2020〕46号 as raised by 〔2022〕19号)."""

_FORBIDDEN_MIN_PRICE: Final = ("min_price", "minimum_price", "lowest_price_limit")


# --- parsing -------------------------------------------------------------------------------------------


def _parse_items(factor: _Obj, kind: str) -> tuple[ScoreItem, ...]:
    out: list[ScoreItem] = []
    seen: set[str] = set()
    for path, raw in factor.items("items"):
        o = _Obj(raw, path)
        item_id = o.ident("id")
        name_zh = o.text("name_zh")
        name_en = o.text("name_en", required=False)
        max_points = o.dec("max_points", lo=Decimal(0), lo_open=True, hi=Decimal(1000))
        subjective = o.boolean("subjective", default=True)
        rule = _parse_rule(o, subjective, max_points)
        item = ScoreItem(item_id, name_zh, name_en, max_points, subjective, rule)
        o.done()
        if item.id in seen:
            raise field_error("method.duplicate_id", o.at("id"), f"评分项 {item.id} 重复", f"item {item.id} repeated")
        seen.add(item.id)
        out.append(item)
    if kind == "price" and out:
        raise field_error(
            "method.price_items", factor.at("items"), "价格因素不设评分项", "the price factor has no items"
        )
    if kind != "price" and not out:
        raise field_error(
            "method.no_items", factor.at("items"), "技术、商务因素至少须有一个评分项", "needs at least one item"
        )
    return tuple(out)


_RULE_KINDS: Final = ("choice", "count", "steps", "ratio")
_FIXED_FACT_FIELDS: Final = ("duration_days", "quality")
_EXTRA_PREFIX: Final = "extra."
_MAX_EXTRA_KEY: Final = 64
_MAX_CHOICES: Final = 50
_MAX_STEPS: Final = 50


def _parse_rule(item: _Obj, subjective: bool, max_points: Decimal) -> ObjectiveRule | None:
    """An objective item's rule 评分规则: required when ``subjective`` is false, refused otherwise."""
    if subjective:
        if item.has("rule"):
            raise field_error(
                "method.rule_for_subjective",
                item.at("rule"),
                "主观评分项由每位专家评分，不设评分规则（客观项须设 subjective=false）",
                "a subjective item is scored by each expert and has no rule (objective items set subjective=false)",
            )
        item.used.add("rule")
        return None
    o = item.obj("rule")
    if o is None:
        raise field_error(
            "method.objective_rule_missing",
            item.at("rule"),
            "客观评分项须声明评分规则（rule），由投标文件数据计算得分",
            "an objective item needs a rule: its points are computed from the bids' data",
        )
    kind = o.choice("kind", _RULE_KINDS)
    field = _rule_field(o)
    if kind == "choice":
        rule = ObjectiveRule("choice", field, choices=_rule_choices(o, max_points))
    elif kind == "count":
        rule = ObjectiveRule("count", field, per_unit=o.dec("per_unit", lo=Decimal(0), lo_open=True, hi=max_points))
    elif kind == "steps":
        direction = o.choice("direction", ("at_most", "at_least"), default="at_most")
        rule = ObjectiveRule("steps", field, steps=_rule_steps(o, direction, max_points), direction=direction)  # type: ignore[arg-type]
    else:
        better = o.choice("better", ("lower", "higher"))
        rule = ObjectiveRule("ratio", field, better=better)  # type: ignore[arg-type]
    o.done()
    return rule


def _rule_field(o: _Obj) -> str:
    value = o.raw("field")
    if isinstance(value, str) and value in _FIXED_FACT_FIELDS:
        return value
    if isinstance(value, str) and value.startswith(_EXTRA_PREFIX):
        key = value[len(_EXTRA_PREFIX) :]
        if key and key == key.strip() and len(key) <= _MAX_EXTRA_KEY and not any(c in key for c in "\n\r\t"):
            return value
    raise field_error(
        "method.bad_fact_field",
        o.at("field"),
        f"取值 {value!r} 无效：须为 duration_days、quality 或 extra.<键>"
        f"（键 1–{_MAX_EXTRA_KEY} 个字符，首尾无空白、不含换行）",
        f"value {value!r} must be duration_days, quality or extra.<key> "
        f"(a key of 1-{_MAX_EXTRA_KEY} characters without surrounding blanks or line breaks)",
    )


def _rule_choices(o: _Obj, max_points: Decimal) -> tuple[tuple[str, Decimal], ...]:
    raw = o.raw("choices")
    field = o.at("choices")
    if not isinstance(raw, Mapping) or not raw or len(raw) > _MAX_CHOICES:
        raise field_error(
            "method.bad_choices",
            field,
            f"须为非空 JSON 对象（选项 → 分值），至多 {_MAX_CHOICES} 项",
            f"must be a non-empty JSON object (option → points), at most {_MAX_CHOICES} entries",
        )
    out: list[tuple[str, Decimal]] = []
    for option, points in raw.items():
        at = f"{field}.{option}"
        if not isinstance(option, str) or not option.strip() or option != option.strip() or len(option) > 200:
            raise field_error(
                "method.bad_choice_option",
                at,
                "选项须为 1–200 个字符，首尾无空白（投标数据去掉首尾空白后按原文精确比对）",
                "an option must be 1-200 characters without surrounding blanks (facts are compared exactly)",
            )
        out.append((option, _rule_points(to_decimal(points, at), at, max_points)))
    return tuple(out)


def _rule_points(points: Decimal, field: str, max_points: Decimal) -> Decimal:
    if not Decimal(0) <= points <= max_points:
        raise field_error(
            "method.rule_points",
            field,
            f"分值 {dec_text(points)} 须在 0 至该项满分 {dec_text(max_points)} 之间",
            f"points {dec_text(points)} must be between 0 and the item's {dec_text(max_points)}",
        )
    return points


def _rule_steps(o: _Obj, direction: str, max_points: Decimal) -> tuple[Step, ...]:
    entries = o.items("steps")
    if not entries or len(entries) > _MAX_STEPS:
        raise field_error(
            "method.bad_steps",
            o.at("steps"),
            f"须为 1–{_MAX_STEPS} 档的数组",
            f"must be an array of 1-{_MAX_STEPS} steps",
        )
    out: list[Step] = []
    for path, raw in entries:
        s = _Obj(raw, path)
        bound = s.dec("bound", lo=Decimal("-1e18"), hi=Decimal("1e18"))
        points = _rule_points(s.dec("points"), s.at("points"), max_points)
        s.done()
        if out:
            prev = out[-1].bound
            if any(x.bound == bound for x in out):
                raise field_error("method.duplicate_value", s.at("bound"), "档位界限重复", "a step bound repeats")
            ordered = bound > prev if direction == "at_most" else bound < prev
            if not ordered:
                raise field_error(
                    "method.steps_order",
                    s.at("bound"),
                    "按第一个满足的档位计分：at_most 须按界限从小到大排列，at_least 须从大到小排列",
                    "the first step met gives the points: at_most needs ascending bounds, at_least descending",
                )
            if points > out[-1].points:
                raise field_error(
                    "method.steps_order",
                    s.at("points"),
                    "越靠前的档位越优，分值不得低于后面的档位",
                    "an earlier step is better: its points may not be below a later step's",
                )
        out.append(Step(bound, points))
    return tuple(out)


def _parse_factors(root: _Obj, aggregation: str) -> tuple[Factor, ...]:
    factors: list[Factor] = []
    ids: set[str] = set()
    for path, raw in root.items("factors"):
        o = _Obj(raw, path)
        kind = o.choice("kind", _FACTOR_KINDS)
        if aggregation == "weighted":
            weight = o.dec("weight", lo=Decimal(0), lo_open=True, hi=Decimal(1))
        else:
            if o.has("weight"):
                raise field_error(
                    "method.weight_in_points",
                    o.at("weight"),
                    "计分制（aggregation=points）下不设权重，按分值相加",
                    "points aggregation adds the points: no weight",
                )
            weight = Decimal(1)
        factor = Factor(
            id=o.ident("id"),
            kind=kind,  # type: ignore[arg-type]
            name_zh=o.text("name_zh"),
            name_en=o.text("name_en", required=False),
            weight=weight,
            max_points=o.dec("max_points", lo=Decimal(0), lo_open=True, hi=Decimal(1000)),
            items=_parse_items(o, kind),
        )
        o.done()
        if factor.items:
            total = sum((i.max_points for i in factor.items), Decimal(0))
            if total != factor.max_points:
                raise field_error(
                    "method.items_sum",
                    o.at("items"),
                    f"评分项分值之和 {dec_text(total)} 不等于因素满分 {dec_text(factor.max_points)}",
                    f"item points add up to {dec_text(total)}, not the factor's {dec_text(factor.max_points)}",
                )
        if factor.id in ids:
            raise field_error(
                "method.duplicate_id", o.at("id"), f"因素 {factor.id} 重复", f"factor {factor.id} repeated"
            )
        ids.add(factor.id)
        factors.append(factor)
    return tuple(factors)


def _parse_coefficient(o: _Obj) -> CoefficientRule:
    apply = o.choice("apply", ("multiply", "discount_percent"))
    raw = o.raw("values")
    field = o.at("values")
    values: list[Decimal]
    if isinstance(raw, Mapping):
        r = _Obj(raw, field)
        start, stop, step = (r.raw(k) for k in ("from", "to", "step"))
        r.done()
        start_d, stop_d, step_d = (to_decimal(v, r.at(k)) for k, v in (("from", start), ("to", stop), ("step", step)))
        try:
            values = coefficient_set(start_d, stop_d, step_d)
        except DomainError as exc:
            raise field_error("method.bad_range", field, exc.message_zh, exc.message_en) from exc
    elif isinstance(raw, list) and raw:
        values = [to_decimal(v, f"{field}[{i}]") for i, v in enumerate(raw)]
        if len(set(values)) != len(values):
            raise field_error("method.duplicate_value", field, "系数有重复值", "a coefficient value repeats")
    else:
        raise field_error(
            "method.bad_type",
            field,
            "须为 {from, to, step} 或非空数组",
            "must be {from, to, step} or a non-empty array",
        )
    for v in values:
        bad = v <= 0 or v > 2 if apply == "multiply" else not Decimal(-100) < v < Decimal(100)
        if bad:
            raise field_error(
                "method.out_of_range",
                field,
                f"系数 {dec_text(v)} 超出合理范围（K 须在 (0, 2]，r 须在 (−100, 100)%）",
                f"coefficient {dec_text(v)} is out of range (K in (0, 2], r in (−100, 100) %)",
            )
    o.done()
    return CoefficientRule(apply, tuple(values))  # type: ignore[arg-type]


def _parse_benchmark(o: _Obj) -> Benchmark:
    average = o.choice("average", ("mean", "trimmed_mean"), default="mean")
    trim_when = o.integer("trim_when_more_than", default=3, lo=2, hi=100)
    trim_count = o.integer("trim_count", default=1, lo=1, hi=10)
    if average == "trimmed_mean" and trim_when < 2 * trim_count:
        raise field_error(
            "method.trim_too_many",
            o.at("trim_count"),
            "去掉的报价多于参与平均的报价",
            "trims more bids than it averages",
        )
    screening = None
    if (s := o.obj("screening")) is not None:
        kind = s.choice("kind", ("band", "composite"))
        if kind == "band":
            screening = Screening(
                "band",
                percent=s.dec("percent", lo=Decimal(0), lo_open=True, hi=Decimal(100)),
                iterative=s.boolean("iterative", default=True),
            )
        else:
            screening = Screening(
                "composite",
                mean_weight=s.dec("mean_weight", default=Decimal("0.7"), lo=Decimal(0), hi=Decimal(1)),
                max_weight=s.dec("max_weight", default=Decimal("0.3"), lo=Decimal(0), hi=Decimal(1)),
                factor=s.dec("factor", default=Decimal("0.75"), lo=Decimal(0), lo_open=True, hi=Decimal(1)),
            )
            if screening.mean_weight + screening.max_weight != 1:
                raise field_error(
                    "method.weights_sum",
                    s.at("max_weight"),
                    "mean_weight 与 max_weight 之和须为 1",
                    "weights must add to 1",
                )
        s.done()
    weighting = None
    if (w := o.obj("max_price_weighting")) is not None:
        ks: list[Decimal | None] = []
        for key in ("k1", "k2"):
            raw = w.raw(key)
            ks.append(None if raw == "K" else w.dec(key, lo=Decimal(0), lo_open=True, hi=Decimal(2)))
        weighting = MaxPriceWeighting(q1=w.dec("q1", lo=Decimal(0), hi=Decimal(1)), k1=ks[0], k2=ks[1])
        w.done()
    composite = _parse_composite(o)
    if composite and weighting is not None:
        raise field_error(
            "method.two_formulas",
            o.at("composite"),
            "composite 与 max_price_weighting 只能选一个",
            "use either composite or max_price_weighting, not both",
        )
    coefficient = None
    if (c := o.obj("coefficient")) is not None:
        coefficient = _parse_coefficient(c)
    bench = Benchmark(average, trim_when, trim_count, screening, weighting, coefficient, composite)  # type: ignore[arg-type]
    if bench.drawn_in_formula and (coefficient is None or coefficient.apply != "multiply"):
        raise field_error(
            "method.drawn_k_missing",
            o.at("coefficient"),
            "基准价公式使用抽取的 K，须声明 apply=multiply 的 coefficient",
            "the benchmark formula uses the drawn K: declare a coefficient with apply=multiply",
        )
    o.done()
    return bench


def _parse_composite(o: _Obj) -> tuple[Component, ...]:
    out: list[Component] = []
    entries = o.items("composite")
    for path, raw in entries:
        c = _Obj(raw, path)
        source = c.choice("source", ("average", "lowest", "max_price"))
        weight = c.dec("weight", lo=Decimal(0), lo_open=True, hi=Decimal(1))
        k_raw = c.raw("k", required=False)
        k = None if k_raw == "K" else c.dec("k", default=Decimal(1), lo=Decimal(0), lo_open=True, hi=Decimal(2))
        c.done()
        if any(x.source == source for x in out):
            raise field_error("method.duplicate_id", c.at("source"), f"{source} 重复", f"{source} appears twice")
        out.append(Component(source, weight, k))  # type: ignore[arg-type]
    if entries and sum((x.weight for x in out), Decimal(0)) != 1:
        raise field_error("method.weights_sum", o.at("composite"), "各项权重之和须为 1", "the weights must add up to 1")
    return tuple(out)


def _parse_price(o: _Obj, kind: str) -> PriceRule:
    for key in _FORBIDDEN_MIN_PRICE:
        if key in o.data:
            raise _min_price_error(o.at(key))
    wanted = {
        "comprehensive": ("deviation", "lowest_ratio"),
        "reasonable_low_price": ("deviation",),
        "gp_comprehensive": ("lowest_ratio",),
        "lowest_evaluated_price": ("evaluated_price",),
        "gp_lowest_price": ("evaluated_price",),
    }[kind]
    formula = o.choice("formula", ("deviation", "lowest_ratio", "evaluated_price"))
    if formula not in wanted:
        raise field_error(
            "method.formula_for_kind",
            o.at("formula"),
            f"{KIND_LABELS[kind][0]} 须使用价格公式 {' 或 '.join(wanted)}",
            f"{KIND_LABELS[kind][1]} needs formula {' or '.join(wanted)}",
        )
    if formula == "evaluated_price":
        o.done()
        return PriceRule("evaluated_price")
    s_max = o.dec("s_max", default=Decimal(100), lo=Decimal(0), lo_open=True, hi=Decimal(1000))
    s_min = o.dec("s_min", default=Decimal(0), lo=Decimal(0))
    if s_min >= s_max:
        raise field_error("method.s_min", o.at("s_min"), "最低分须小于满分", "s_min must be below s_max")
    if formula == "lowest_ratio":
        o.done()
        return PriceRule("lowest_ratio", s_max=s_max, s_min=s_min)
    a = o.dec("above_per_percent", lo=Decimal(0), hi=s_max)
    b = o.dec("below_per_percent", lo=Decimal(0), hi=s_max)
    if a < b:
        raise field_error(
            "method.a_less_than_b",
            o.at("above_per_percent"),
            f"高于基准价每1%扣分 a={dec_text(a)} 须不小于低于基准价每1%扣分 b={dec_text(b)}（a ≥ b）",
            f"the deduction above B (a={dec_text(a)}) must be at least the one below (b={dec_text(b)})",
        )
    band = None
    if (bo := o.obj("band")) is not None:
        band = Band(bo.dec("low", lo=Decimal(-100), hi=Decimal(0)), bo.dec("high", lo=Decimal(0), hi=Decimal(100)))
        bo.done()
    fraction = o.choice("fraction", ("interpolate", "whole_floor", "whole_ceil"), default="interpolate")
    bench = o.obj("benchmark", required=True)
    assert bench is not None
    benchmark = _parse_benchmark(bench)
    o.done()
    return PriceRule("deviation", s_max, s_min, a, b, band, fraction, benchmark)  # type: ignore[arg-type]


def _min_price_error(field: str) -> ValidationFailed:
    return field_error(
        "method.min_price_forbidden",
        field,
        "不得设定最低投标限价（招标投标法实施条例第27条、财政部87号令第12条）",
        "a minimum bid price is forbidden (条例 §27, 87号令 §12)",
    )


def price_weight_range(category: str, procedure: str) -> tuple[Decimal, Decimal, str] | None:
    """The legal (min, max, source) of the price weight in government procurement, or None if not regulated."""
    return _GP_PRICE_WEIGHT.get((category, procedure))


def parse_method(data: Any) -> EvaluationMethod:
    """Validate a method definition (the parsed JSON object) and build it; ``ValidationFailed`` names the field."""
    root = _Obj(data, "")
    fmt = root.raw("format")
    if fmt != FORMAT:
        raise field_error("method.bad_format", "format", f"须为 {FORMAT!r}", f"must be {FORMAT!r}")
    for key in _FORBIDDEN_MIN_PRICE:
        if key in root.data:
            raise _min_price_error(key)
    kind = root.choice("kind", tuple(KIND_LABELS))
    sector = KIND_LABELS[kind][2]
    if root.has("sector") and root.choice("sector", ("engineering", "procurement")) != sector:
        raise field_error(
            "method.sector_mismatch", "sector", f"{KIND_LABELS[kind][0]} 属于 {sector}", f"{kind} belongs to {sector}"
        )
    root.used.add("sector")
    if sector == "procurement":
        category = root.choice("category", ("goods", "services", "works"))
        if category == "works":
            raise field_error(
                "method.gp_works",
                "category",
                "政府采购工程进行招标投标的，适用招标投标法（政府采购法实施条例第7条），请用工程类评标办法",
                "procurement of works by tender follows the Tendering Law (实施条例 §7): use an engineering method",
            )
        procedure = root.choice("procedure", ("tender", "consultation"), default="tender")
    else:
        category = root.choice("category", ("works", "goods", "services"), default="works")
        procedure = root.choice("procedure", ("tender",), default="tender")
    aggregation = root.choice("aggregation", ("weighted", "points"), default="weighted")
    factors = _parse_factors(root, aggregation)
    price_obj = root.obj("price", required=True)
    assert price_obj is not None
    price = _parse_price(price_obj, kind)
    method_id = root.ident("id")
    name_zh = root.text("name_zh")
    name_en = root.text("name_en", required=False)
    source = root.text("source", required=False, max_len=500)
    max_price = None
    if root.has("max_price"):
        max_price = root.dec("max_price", lo=Decimal(0), lo_open=True, hi=Decimal("1e15"))
        if max_price != max_price.quantize(Decimal("0.01")):
            raise field_error("method.bad_money", "max_price", "金额须精确到分", "money must be in yuan to the fen")
    _check_factors(kind, aggregation, factors, price, category, procedure)
    adjustments = _parse_adjustments(root, kind)
    policy = _parse_policy(root, sector)
    ties = _parse_ties(root, kind)
    candidates = root.integer("candidates", default=MAX_CANDIDATES, lo=1, hi=MAX_CANDIDATES)
    deviation = None
    if (d := root.obj("deviation")) is not None:
        deviation = DeviationRule(
            d.choice("basis", ("points", "percent_of_mean", "percent_of_max")),  # type: ignore[arg-type]
            d.dec("threshold", lo=Decimal(0), lo_open=True, hi=Decimal(1000)),
            d.choice("mean_of", ("panel", "others"), default="panel"),  # type: ignore[arg-type]
        )
        d.done()
    replace = root.boolean("replace_abnormal_member", default=False)
    root.done()
    return EvaluationMethod(
        id=method_id,
        name_zh=name_zh,
        name_en=name_en,
        kind=kind,  # type: ignore[arg-type]
        category=category,  # type: ignore[arg-type]
        procedure=procedure,  # type: ignore[arg-type]
        aggregation=aggregation,  # type: ignore[arg-type]
        factors=factors,
        price=price,
        adjustments=adjustments,
        policy=policy,
        ties=ties,
        candidates=candidates,
        max_price=max_price,
        deviation=deviation,
        replace_abnormal_member=replace,
        source=source,
    )


def _check_factors(
    kind: str, aggregation: str, factors: tuple[Factor, ...], price: PriceRule, category: str, procedure: str
) -> None:
    if kind not in SCORED_KINDS:
        if factors:
            raise field_error(
                "method.factors_for_kind",
                "factors",
                f"{KIND_LABELS[kind][0]} 不设评分因素（技术、商务为合格制），按价格排序",
                f"{KIND_LABELS[kind][1]} has no scored factors (pass/fail review); bids are ranked by price",
            )
        return
    prices = [i for i, f in enumerate(factors) if f.kind == "price"]
    if len(prices) != 1:
        raise field_error("method.price_factor", "factors", "须有且仅有一个价格因素", "needs exactly one price factor")
    pf = factors[prices[0]]
    if pf.max_points != price.s_max:
        raise field_error(
            "method.price_scale",
            f"factors[{prices[0]}].max_points",
            f"价格因素满分 {dec_text(pf.max_points)} 须等于价格公式满分 s_max {dec_text(price.s_max)}",
            f"the price factor's points {dec_text(pf.max_points)} must equal price.s_max {dec_text(price.s_max)}",
        )
    if aggregation == "weighted":
        scales = {f.max_points for f in factors}
        if len(scales) != 1:
            raise field_error(
                "method.unequal_scales",
                "factors",
                "加权汇总时各因素满分须相同（否则权重不等于实际占比），或改用 aggregation=points",
                "weighted factors must share one scale (else weights are not shares): or use aggregation=points",
            )
        total = sum((f.weight for f in factors), Decimal(0))
        if total != 1:
            raise field_error(
                "method.weights_sum",
                "factors",
                f"各因素权重之和为 {dec_text(total)}，须等于 1",
                f"the factor weights add up to {dec_text(total)}, not 1",
            )
        share = pf.weight
    else:
        share = pf.max_points / sum((f.max_points for f in factors), Decimal(0))
    if kind == "gp_comprehensive":
        lo, hi, source = _GP_PRICE_WEIGHT[(category, procedure)]
        if not lo <= share <= hi:
            cat_zh = {"goods": "货物", "services": "服务"}[category]
            proc_zh = {"tender": "招标", "consultation": "竞争性磋商"}[procedure]
            raise field_error(
                "method.price_weight_out_of_range",
                f"factors[{prices[0]}]." + ("weight" if aggregation == "weighted" else "max_points"),
                f"{cat_zh}项目（{proc_zh}）价格权重须在 {lo:%}–{hi:%} 之间，现为 {share:.2%}（{source}）",
                f"the price weight of a {category} {procedure} must be {lo:%}-{hi:%}, it is {share:.2%} ({source})",
            )


def _parse_adjustments(root: _Obj, kind: str) -> tuple[Adjustment, ...]:
    out: list[Adjustment] = []
    for path, raw in root.items("adjustments"):
        if kind != "lowest_evaluated_price":
            raise field_error(
                "method.adjustments_for_kind",
                "adjustments",
                "只有经评审的最低投标价法按商务偏差调整价格",
                "only the lowest evaluated bid price method adjusts prices for commercial deviations",
            )
        o = _Obj(raw, path)
        unit = o.choice("unit", ("amount", "percent"))
        adj = Adjustment(o.ident("id"), o.text("name_zh"), o.text("name_en", required=False), unit)  # type: ignore[arg-type]
        o.done()
        if adj.id in {a.id for a in out} or adj.id in {"bidder", "price", "small_enterprise"}:
            raise field_error(
                "method.duplicate_id", o.at("id"), f"调整项 {adj.id} 重复或占用保留名", "repeated or reserved id"
            )
        out.append(adj)
    return tuple(out)


def _parse_policy(root: _Obj, sector: str) -> Policy:
    p = root.obj("policy")
    if p is None:
        return Policy()
    if sector != "procurement":
        raise field_error(
            "method.policy_for_sector",
            "policy",
            "中小企业价格扣除只适用于政府采购",
            "policy deductions are for procurement",
        )
    lo, hi = SMALL_ENTERPRISE_DEDUCTION
    policy = Policy(p.dec("small_enterprise_deduction", lo=lo, hi=hi))
    p.done()
    return policy


def _parse_ties(root: _Obj, kind: str) -> tuple[TieKey, ...]:
    raw = root.raw("ties", required=False)
    if raw is None:
        return _GP_TIES.get(kind, ("evaluated_price_low",))  # type: ignore[return-value]
    if not isinstance(raw, list) or any(k not in _TIE_KEYS for k in raw) or len(set(raw)) != len(raw):
        raise field_error(
            "method.bad_ties",
            "ties",
            f"须为不重复的数组，元素可选：{', '.join(_TIE_KEYS)}",
            f"must be an array of distinct keys among: {', '.join(_TIE_KEYS)}",
        )
    ties: tuple[TieKey, ...] = tuple(raw)
    misplaced = [
        t
        for t in ties
        if (t in ("technical_high", "commercial_high") and kind not in SCORED_KINDS)
        or (t == "price_score_high" and kind in PRICE_RANKED_KINDS)
    ]
    if misplaced:
        raise field_error(
            "method.bad_ties",
            "ties",
            f"{KIND_LABELS[kind][0]} 没有 {misplaced[0]} 可比",
            f"{KIND_LABELS[kind][1]} has no {misplaced[0]} to compare",
        )
    if kind in _GP_TIES and ties != _GP_TIES[kind]:
        legal = _GP_TIES[kind]
        raise field_error(
            "method.gp_ties",
            "ties",
            "政府采购的并列规则由87号令规定："
            + (
                '得分相同的按投标报价由低到高，报价也相同的并列（第57条），须为 ["price_low"]'
                if legal
                else "报价相同的并列（第56条），须为 []"
            ),
            "procurement ties are fixed by 87号令: "
            + (
                'equal scores go to the lower price, then tie (§57): use ["price_low"]'
                if legal
                else "equal prices tie (§56): use []"
            ),
        )
    return ties


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise field_error("method.duplicate_key", key, "JSON 键重复", "a JSON key appears twice")
        out[key] = value
    return out


def load_method_json(text: str | bytes) -> EvaluationMethod:
    """Parse a method file (JSON, UTF-8); syntax errors name the line and column."""
    if isinstance(text, bytes):
        if len(text) > MAX_METHOD_BYTES:
            raise field_error("method.too_large", "", "评标办法文件过大", "the method file is too large")
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise field_error("method.encoding", "", "文件须为 UTF-8 编码", "the file must be UTF-8") from exc
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_no_constant, object_pairs_hook=_reject_duplicates)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            "method.syntax",
            f"JSON 语法错误：第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}",
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            details={"line": exc.lineno, "column": exc.colno},
        ) from exc
    return parse_method(data)


def _no_constant(name: str) -> Any:
    raise field_error("method.bad_decimal", "", f"不接受 {name}", f"{name} is not accepted")


def packaged_method_names() -> list[str]:
    """Names of the example methods shipped in ``sunbid/evaluation/methods/`` (without ``.json``)."""
    folder = resources.files("sunbid.evaluation") / "methods"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def load_packaged_method(name: str) -> EvaluationMethod:
    """One shipped example method by name (``gp-comprehensive-goods``)."""
    if name not in packaged_method_names():
        raise field_error("method.not_found", "", f"没有名为 {name} 的示例评标办法", f"no packaged method named {name}")
    return load_method_json((resources.files("sunbid.evaluation") / "methods" / f"{name}.json").read_bytes())
