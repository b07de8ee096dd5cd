"""Objective items computed from facts 客观评分项 (SPEC E-3): points from each bid's declared or verified data.

An objective item of an evaluation method declares an :class:`~sunbid.evaluation.model.ObjectiveRule`; its
points come from one **fact** of each opened bid (``duration_days``, ``quality`` or ``extra.<key>``, as text).
The committee may correct a fact (with a written reason), never type points.

Facts are what bidders declared, so a fact that is missing or cannot be read never raises: it gives 0 points
with status ``missing`` or ``invalid`` and a basis 计分依据 saying why. Numbers are read exactly (``Decimal``, no
float): a plain decimal with optional surrounding blanks, no thousands separators, no units (``"365"``,
``"365.5"``; ``"365天"`` is invalid). Points are rounded half up (四舍五入) to 0.01 and stay within
[0, item max]. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Final, Literal

from sunbid.evaluation.jsonread import dec_text
from sunbid.evaluation.model import EvaluationMethod, ObjectiveRule, ScoreItem

__all__ = [
    "EXTRA_PREFIX",
    "FACT_FIELDS_FIXED",
    "ObjectivePoints",
    "Status",
    "fact_fields",
    "objective_items",
    "objective_points",
    "objective_scores",
    "parse_fact_number",
    "rule_text",
]

FACT_FIELDS_FIXED: Final = ("duration_days", "quality")
"""The fixed fact fields of a bid; any other field is ``extra.<key>`` (a key of the bid manifest's ``extra``)."""
EXTRA_PREFIX: Final = "extra."

Status = Literal["ok", "missing", "invalid"]

PRECISION: Final = 40
POINTS: Final = Decimal("0.01")
_NUMBER_RE: Final = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?")
_SHOWN_CHARS: Final = 40


@dataclass(frozen=True, slots=True)
class ObjectivePoints:
    """One bid's points on one objective item, with the fact used and the basis 计分依据 (Chinese, English)."""

    points: Decimal
    """Rounded half up to 0.01, within [0, item.max_points]."""
    value: str | None
    """The fact used (stripped); None when not provided."""
    status: Status
    basis_zh: str
    basis_en: str


def _ctx() -> Context:
    return Context(prec=PRECISION, rounding=ROUND_HALF_UP)


def _round(value: Decimal, cap: Decimal) -> Decimal:
    with localcontext(_ctx()):
        bounded = min(max(value, Decimal(0)), cap)
        return bounded.quantize(POINTS, rounding=ROUND_HALF_UP)


def _txt(value: Decimal) -> str:
    """A decimal as plain text, without trailing zeros after the point."""
    text = dec_text(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _shown(value: str) -> str:
    return value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"


def parse_fact_number(value: str) -> Decimal | None:
    """A fact read as an exact decimal (``"365"``, ``" 365.5 "``), or None if it is not a plain decimal."""
    text = value.strip()
    if not _NUMBER_RE.fullmatch(text):
        return None
    number = Decimal(text)
    return Decimal(0) if number == 0 else number  # "-0" and "0.00" read as 0


def objective_items(method: EvaluationMethod) -> tuple[ScoreItem, ...]:
    """The method's objective items (those with a rule), in definition order."""
    return tuple(i for i in method.items if i.rule is not None)


def fact_fields(method: EvaluationMethod) -> tuple[str, ...]:
    """The fact fields the method's rules read, in order of first use, each once."""
    out: list[str] = []
    for item in objective_items(method):
        assert item.rule is not None
        if item.rule.field not in out:
            out.append(item.rule.field)
    return tuple(out)


def rule_text(item: ScoreItem) -> tuple[str, str]:
    """The item's rule in words (Chinese, English), e.g. ``按 extra.类似工程业绩 计数：每项 2 分，上限 4 分``."""
    rule = item.rule
    if rule is None:
        return "专家评分", "scored by each expert"
    f, cap = rule.field, _txt(item.max_points)
    if rule.kind == "choice":
        zh = "；".join(f"“{o}” {_txt(p)} 分" for o, p in rule.choices)
        en = "; ".join(f'"{o}" {_txt(p)}' for o, p in rule.choices)
        return f"按 {f} 取值：{zh}；其他 0 分", f"by {f}: {en}; anything else 0"
    if rule.kind == "count":
        per = _txt(rule.per_unit)
        return f"按 {f} 计数：每项 {per} 分，上限 {cap} 分", f"by {f}: {per} per unit, at most {cap}"
    if rule.kind == "steps":
        sign = "≤" if rule.direction == "at_most" else "≥"
        zh = "；".join(f"{sign} {_txt(st.bound)} 得 {_txt(st.points)} 分" for st in rule.steps)
        en = "; ".join(f"{sign} {_txt(st.bound)}: {_txt(st.points)}" for st in rule.steps)
        return f"按 {f} 分档：{zh}；否则 0 分", f"by {f} in steps: {en}; else 0"
    if rule.better == "lower":
        return (
            f"按 {f} 比较：{cap} × 最低值 ÷ 本投标值（越低越好）",
            f"by {f}: {cap} × lowest / value (lower is better)",
        )
    return (
        f"按 {f} 比较：{cap} × 本投标值 ÷ 最高值（越高越好）",
        f"by {f}: {cap} × value / highest (higher is better)",
    )


def _missing() -> ObjectivePoints:
    return ObjectivePoints(Decimal("0.00"), None, "missing", "未提供，得 0 分", "not provided: 0 points")


def _invalid(value: str, why_zh: str, why_en: str) -> ObjectivePoints:
    return ObjectivePoints(Decimal("0.00"), value, "invalid", f"{why_zh}，得 0 分", f"{why_en}: 0 points")


def _unreadable(value: str) -> ObjectivePoints:
    shown = _shown(value)
    return _invalid(value, f"无法识别的数值“{shown}”", f'unreadable number "{shown}"')


def _choice(item: ScoreItem, rule: ObjectiveRule, value: str) -> ObjectivePoints:
    shown = _shown(value)
    for option, points in rule.choices:
        if option == value:
            p = _round(points, item.max_points)
            return ObjectivePoints(p, value, "ok", f"“{shown}”得 {_txt(p)} 分", f'"{shown}" gives {_txt(p)} points')
    return ObjectivePoints(
        Decimal("0.00"),
        value,
        "ok",
        f"“{shown}”不在评分标准所列选项内，得 0 分",
        f'"{shown}" is not among the options of the criteria: 0 points',
    )


def _count(item: ScoreItem, rule: ObjectiveRule, value: str) -> ObjectivePoints:
    n = parse_fact_number(value)
    if n is None:
        return _unreadable(value)
    if n < 0 or n != n.to_integral_value():
        shown = _shown(value)
        return _invalid(value, f"数量“{shown}”不是非负整数", f'the count "{shown}" is not a whole non-negative number')
    with localcontext(_ctx()):
        raw = n * rule.per_unit
    p = _round(raw, item.max_points)
    n_txt, per, cap = _txt(n), _txt(rule.per_unit), _txt(item.max_points)
    return ObjectivePoints(
        p,
        value,
        "ok",
        f"{item.name_zh} {n_txt} 项 × {per} 分，上限 {cap} 分，得 {_txt(p)} 分",
        f"{item.name_en or item.name_zh}: {n_txt} × {per} points, at most {cap}: {_txt(p)} points",
    )


def _steps(item: ScoreItem, rule: ObjectiveRule, value: str) -> ObjectivePoints:
    v = parse_fact_number(value)
    if v is None:
        return _unreadable(value)
    at_most = rule.direction == "at_most"
    sign = "≤" if at_most else "≥"
    for step in rule.steps:
        if (v <= step.bound) if at_most else (v >= step.bound):
            p = _round(step.points, item.max_points)
            b = _txt(step.bound)
            return ObjectivePoints(
                p, value, "ok", f"{_txt(v)} {sign} {b}，得 {_txt(p)} 分", f"{_txt(v)} {sign} {b}: {_txt(p)} points"
            )
    last = _txt(rule.steps[-1].bound) if rule.steps else "—"
    return ObjectivePoints(
        Decimal("0.00"),
        value,
        "ok",
        f"{_txt(v)} 未达到任何一档（须 {sign} {last}），得 0 分",
        f"{_txt(v)} meets no step (needs {sign} {last}): 0 points",
    )


def _ratio_value(value: str) -> Decimal | None:
    v = parse_fact_number(value)
    return v if v is not None and v > 0 else None


def _ratio(item: ScoreItem, rule: ObjectiveRule, value: str, best: Decimal | None) -> ObjectivePoints:
    v = parse_fact_number(value)
    if v is None:
        return _unreadable(value)
    if v <= 0:
        shown = _shown(value)
        return _invalid(value, f"数值“{shown}”须大于 0", f'the value "{shown}" must be above 0')
    assert best is not None  # a valid value exists, so the best does
    with localcontext(_ctx()):
        raw = item.max_points * (best / v if rule.better == "lower" else v / best)
    p = _round(raw, item.max_points)
    m, b, x = _txt(item.max_points), _txt(best), _txt(v)
    if rule.better == "lower":
        zh, en = f"{m} × 最优值 {b} ÷ {x}", f"{m} × best {b} / {x}"
    else:
        zh, en = f"{m} × {x} ÷ 最优值 {b}", f"{m} × {x} / best {b}"
    return ObjectivePoints(p, value, "ok", f"{zh} = {_txt(p)} 分", f"{en} = {_txt(p)} points")


def _fact(facts: Mapping[str, Mapping[str, str | None]], bidder: str, field: str) -> str | None:
    raw = facts.get(bidder, {}).get(field)
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def objective_scores(
    method: EvaluationMethod, bidders: Sequence[str], facts: Mapping[str, Mapping[str, str | None]]
) -> dict[str, dict[str, ObjectivePoints]]:
    """bidder → objective item id → points, computed from ``facts`` (bidder → field → text or None).

    A ``ratio`` rule compares the bidders listed in ``bidders`` that have a valid positive value. Never raises
    for a fact: a missing one gives status ``missing``, an unreadable one ``invalid``, both 0 points.
    """
    out: dict[str, dict[str, ObjectivePoints]] = {b: {} for b in bidders}
    for item in objective_items(method):
        rule = item.rule
        assert rule is not None
        values = {b: _fact(facts, b, rule.field) for b in bidders}
        best: Decimal | None = None
        if rule.kind == "ratio":
            valid = [r for v in values.values() if v is not None and (r := _ratio_value(v)) is not None]
            if valid:
                best = min(valid) if rule.better == "lower" else max(valid)
        for bidder in bidders:
            value = values[bidder]
            if value is None:
                result = _missing()
            elif rule.kind == "choice":
                result = _choice(item, rule, value)
            elif rule.kind == "count":
                result = _count(item, rule, value)
            elif rule.kind == "steps":
                result = _steps(item, rule, value)
            else:
                result = _ratio(item, rule, value, best)
            out[bidder][item.id] = result
    return out


def objective_points(results: Mapping[str, Mapping[str, ObjectivePoints]]) -> dict[str, dict[str, Decimal]]:
    """The ``objective`` mapping :func:`sunbid.evaluation.scoring.evaluate` takes: bidder → item → points."""
    return {bidder: {item: r.points for item, r in items.items()} for bidder, items in results.items()}
