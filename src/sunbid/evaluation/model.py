"""The evaluation method's data model (``sunbid.evaluation-method/1``): frozen dataclasses, no parsing.

:mod:`sunbid.evaluation.methods` builds these from JSON and validates them; :mod:`sunbid.evaluation.price` and
:mod:`sunbid.evaluation.scoring` read them. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from sunbid.evaluation.jsonread import dec_text

__all__ = [
    "FORMAT",
    "KIND_LABELS",
    "PRICE_RANKED_KINDS",
    "SCORED_KINDS",
    "Adjustment",
    "Band",
    "Benchmark",
    "CoefficientRule",
    "Component",
    "DeviationRule",
    "EvaluationMethod",
    "Factor",
    "FactorKind",
    "Formula",
    "Fraction",
    "MaxPriceWeighting",
    "MethodKind",
    "ObjectiveRule",
    "Policy",
    "PriceRule",
    "RuleKind",
    "ScoreItem",
    "Screening",
    "Sector",
    "Step",
    "TieKey",
]

FORMAT: Final = "sunbid.evaluation-method/1"
"""The format tag every method file carries."""

MethodKind = Literal[
    "comprehensive", "lowest_evaluated_price", "reasonable_low_price", "gp_lowest_price", "gp_comprehensive"
]
Sector = Literal["engineering", "procurement"]
FactorKind = Literal["technical", "commercial", "price"]
Formula = Literal["deviation", "lowest_ratio", "evaluated_price"]
Fraction = Literal["interpolate", "whole_floor", "whole_ceil"]
TieKey = Literal["price_low", "evaluated_price_low", "price_score_high", "technical_high", "commercial_high"]
RuleKind = Literal["choice", "count", "steps", "ratio"]

#: Method kinds → (Chinese name, English name, sector, legal source).
KIND_LABELS: Final[Mapping[str, tuple[str, str, Sector, str]]] = {
    "comprehensive": ("综合评估法", "comprehensive evaluation", "engineering", "七部委12号令 第35–37条"),
    "lowest_evaluated_price": (
        "经评审的最低投标价法",
        "lowest evaluated bid price",
        "engineering",
        "七部委12号令 第30–34条",
    ),
    "reasonable_low_price": ("合理低价法", "reasonable low price", "engineering", "地方评标办法 [P]"),
    "gp_lowest_price": (
        "最低评标价法",
        "lowest evaluated price (procurement)",
        "procurement",
        "财政部87号令 第54、56条",
    ),
    "gp_comprehensive": ("综合评分法", "comprehensive scoring (procurement)", "procurement", "财政部87号令 第55、57条"),
}
SCORED_KINDS: Final = frozenset({"comprehensive", "gp_comprehensive"})
PRICE_RANKED_KINDS: Final = frozenset({"lowest_evaluated_price", "gp_lowest_price"})

# --- the definition ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """steps rule: the first step whose bound the value meets gives its points."""

    bound: Decimal
    """With the rule's ``direction``: value <= bound (``at_most``) or value >= bound (``at_least``)."""
    points: Decimal


@dataclass(frozen=True, slots=True)
class ObjectiveRule:
    """How an objective item's points are computed from one fact 事实数据 of each bid (SPEC E-3).

    ``field`` is ``duration_days``, ``quality`` or ``extra.<key>`` (the key as in the bid manifest's ``extra``).
    ``choice``: the value (after strip) is looked up exactly in ``choices``; ``count``: a whole non-negative
    number n gives min(max, n × ``per_unit``); ``steps``: the first step met gives its points; ``ratio``:
    max × best/value (``better="lower"``) or value/best (``"higher"``) over the bids with a valid value.
    """

    kind: RuleKind
    field: str
    choices: tuple[tuple[str, Decimal], ...] = ()
    per_unit: Decimal = Decimal(0)
    steps: tuple[Step, ...] = ()
    direction: Literal["at_most", "at_least"] = "at_most"
    better: Literal["lower", "higher"] = "lower"


@dataclass(frozen=True, slots=True)
class ScoreItem:
    """One scored item 评分项 of a technical or commercial factor: subjective (each expert) or objective.

    An objective item carries its ``rule`` (required when ``subjective`` is False, absent otherwise).
    """

    id: str
    name_zh: str
    name_en: str
    max_points: Decimal
    subjective: bool
    rule: ObjectiveRule | None = None


@dataclass(frozen=True, slots=True)
class Factor:
    """A factor 评审因素 (technical, commercial or price) with its weight and scale; F_j = Σ item points."""

    id: str
    kind: FactorKind
    name_zh: str
    name_en: str
    weight: Decimal
    max_points: Decimal
    items: tuple[ScoreItem, ...]


@dataclass(frozen=True, slots=True)
class CoefficientRule:
    """The drawn coefficient: ``multiply`` gives B = A·K; ``discount_percent`` gives B = A·(1 − r/100)."""

    apply: Literal["multiply", "discount_percent"]
    values: tuple[Decimal, ...]

    def factor(self, drawn: Decimal) -> Decimal:
        """What the average is multiplied by for the drawn value."""
        return drawn if self.apply == "multiply" else 1 - drawn / 100


@dataclass(frozen=True, slots=True)
class Screening:
    """Outlier screening before averaging (excluded bids stay valid: they are scored against B).

    ``band``: drop bids more than ``percent`` % from the mean of the remaining bids, repeated while any is
    dropped when ``iterative``. ``composite``: drop bids below ``(mean·mean_weight + Cmax·max_weight)·factor``.
    """

    kind: Literal["band", "composite"]
    percent: Decimal = Decimal(30)
    iterative: bool = True
    mean_weight: Decimal = Decimal("0.7")
    max_weight: Decimal = Decimal("0.3")
    factor: Decimal = Decimal("0.75")


@dataclass(frozen=True, slots=True)
class MaxPriceWeighting:
    """B = A·K1·Q1 + Cmax·K2·(1 − Q1); ``k1``/``k2`` None means "the drawn K"."""

    q1: Decimal
    k1: Decimal | None
    k2: Decimal | None

    @property
    def uses_drawn(self) -> bool:
        return self.k1 is None or self.k2 is None


@dataclass(frozen=True, slots=True)
class Component:
    """One term of a composite benchmark B = Σ weight·k·X: X is the average A, the lowest bid taking part in
    the average (before trimming) or the maximum price; ``k`` None means "the drawn K"."""

    source: Literal["average", "lowest", "max_price"]
    weight: Decimal
    k: Decimal | None = Decimal(1)


@dataclass(frozen=True, slots=True)
class Benchmark:
    """How the benchmark price 评标基准价 B is computed from the valid bids."""

    average: Literal["mean", "trimmed_mean"]
    trim_when_more_than: int
    trim_count: int
    screening: Screening | None
    weighting: MaxPriceWeighting | None
    coefficient: CoefficientRule | None
    composite: tuple[Component, ...] = ()

    @property
    def drawn_in_formula(self) -> bool:
        """Whether the drawn K is used inside the weighting or composite (then it is not applied again)."""
        in_weighting = self.weighting is not None and self.weighting.uses_drawn
        return in_weighting or any(c.k is None for c in self.composite)

    @property
    def uses_max_price(self) -> bool:
        """Whether the formula needs the maximum price."""
        composite = any(c.source == "max_price" for c in self.composite)
        screening = self.screening is not None and self.screening.kind == "composite"
        return self.weighting is not None or composite or screening


@dataclass(frozen=True, slots=True)
class Band:
    """No deduction while δ (percent) is within [low, high]; deductions count from the band's edges."""

    low: Decimal
    high: Decimal


@dataclass(frozen=True, slots=True)
class PriceRule:
    """The price formula: deviation from B (engineering), lowest/price (procurement) or evaluated price only."""

    formula: Formula
    s_max: Decimal = Decimal(100)
    s_min: Decimal = Decimal(0)
    above_per_percent: Decimal = Decimal(0)
    below_per_percent: Decimal = Decimal(0)
    band: Band | None = None
    fraction: Fraction = "interpolate"
    benchmark: Benchmark | None = None


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A quantified commercial deviation 商务偏差 of 经评审的最低投标价法: yuan added, or percent of the price."""

    id: str
    name_zh: str
    name_en: str
    unit: Literal["amount", "percent"]


@dataclass(frozen=True, slots=True)
class Policy:
    """Policy price deductions 政策性扣除, applied before the price score."""

    small_enterprise_deduction: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DeviationRule:
    """E-4: an expert's item score deviating from the mean by more than ``threshold`` needs a written reason."""

    basis: Literal["points", "percent_of_mean", "percent_of_max"]
    threshold: Decimal
    mean_of: Literal["panel", "others"] = "panel"


@dataclass(frozen=True, slots=True)
class EvaluationMethod:
    """A complete, validated evaluation method; build it with :func:`parse_method` or :func:`load_method_json`."""

    id: str
    name_zh: str
    name_en: str
    kind: MethodKind
    category: Literal["works", "goods", "services"]
    procedure: Literal["tender", "consultation"]
    aggregation: Literal["weighted", "points"]
    factors: tuple[Factor, ...]
    price: PriceRule
    adjustments: tuple[Adjustment, ...]
    policy: Policy
    ties: tuple[TieKey, ...]
    candidates: int
    max_price: Decimal | None
    deviation: DeviationRule | None
    replace_abnormal_member: bool
    source: str = ""

    @property
    def sector(self) -> Sector:
        return KIND_LABELS[self.kind][2]

    @property
    def kind_zh(self) -> str:
        return KIND_LABELS[self.kind][0]

    @property
    def kind_en(self) -> str:
        return KIND_LABELS[self.kind][1]

    @property
    def scored(self) -> bool:
        """Whether bids are ranked by a total score (else by price score or evaluated price)."""
        return self.kind in SCORED_KINDS

    @property
    def ranked_by_evaluated_price(self) -> bool:
        return self.kind in PRICE_RANKED_KINDS

    @property
    def price_factor(self) -> Factor | None:
        return next((f for f in self.factors if f.kind == "price"), None)

    def factor_weight(self, factor: Factor) -> Decimal:
        """The multiplier of F_j in the total: A_j (weighted) or 1 (points)."""
        return factor.weight if self.aggregation == "weighted" else Decimal(1)

    @property
    def price_weight(self) -> Decimal | None:
        """The price factor's share of the total (A_price, or price points / all points)."""
        pf = self.price_factor
        if pf is None:
            return None
        if self.aggregation == "weighted":
            return pf.weight
        return pf.max_points / sum((f.max_points for f in self.factors), Decimal(0))

    @property
    def items(self) -> tuple[ScoreItem, ...]:
        return tuple(i for f in self.factors for i in f.items)

    @property
    def coefficient(self) -> CoefficientRule | None:
        return self.price.benchmark.coefficient if self.price.benchmark else None

    def to_dict(self) -> dict[str, Any]:
        """The normalised definition (decimals as strings), as ``check-method --json`` prints it."""
        out = _plain(self)
        assert isinstance(out, dict)
        out.update(format=FORMAT, sector=self.sector, kind_zh=self.kind_zh, kind_en=self.kind_en)
        return out


def _rule_plain(rule: ObjectiveRule) -> dict[str, Any]:
    """A rule as written in a method file: only the keys of its kind."""
    out: dict[str, Any] = {"kind": rule.kind, "field": rule.field}
    if rule.kind == "choice":
        out["choices"] = {option: dec_text(points) for option, points in rule.choices}
    elif rule.kind == "count":
        out["per_unit"] = dec_text(rule.per_unit)
    elif rule.kind == "steps":
        out["direction"] = rule.direction
        out["steps"] = [{"bound": dec_text(s.bound), "points": dec_text(s.points)} for s in rule.steps]
    else:
        out["better"] = rule.better
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, ObjectiveRule):
        return _rule_plain(value)
    if isinstance(value, Decimal):
        return dec_text(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    return value
