"""Scoring, ranking and score-deviation control (SPEC E-3, E-4; RULES.md §2) — pure functions.

* **Item scores**: a subjective item's score is the mean of the experts' scores, to 0.01 (half up); with the
  Chongqing option (重庆条例 §32, ``replace_abnormal_member``) the scores of a member whom more than half the
  committee found abnormal are first replaced by the other members' mean. Objective items are given (computed
  from the bid's data elsewhere) and only checked against their maximum.
* **Totals**: F_j = Σ item scores of factor j (the price factor's F is the price score); total = Σ A_j·F_j
  (``weighted``) or Σ F_j (``points``), to 0.01.
* **Ranking**: by total (high first), by price score (合理低价法) or by evaluated price (low first, the
  lowest-price methods); then the method's tie keys in order (87号令 §57: the lower quoted price; §56: none);
  still equal → tied, sharing a rank. At most ``candidates`` (≤ 3) candidates: a tie straddling the cut is
  returned as ``undecided`` rather than silently broken.
* **Deviation** (E-4): :func:`detect_deviations` lists every expert whose item score deviates from the mean by
  more than the method's threshold; the evaluation service stops those submissions until a reason is written.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any, Final

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import DeviationRule, EvaluationMethod, ScoreItem, dec_text
from sunbid.evaluation.price import PRECISION, PriceLine, PriceResult, assign_ranks, points

__all__ = [
    "BidderResult",
    "Evaluation",
    "ExpertScore",
    "Intervention",
    "detect_deviations",
    "evaluate",
    "item_scores",
    "rank_key",
]

INFINITE: Final = Decimal("Infinity")


def _ctx() -> Context:
    return Context(prec=PRECISION, rounding=ROUND_HALF_UP)


def _bad(code: str, zh: str, en: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(code, zh, en, details=details)


@dataclass(frozen=True, slots=True)
class ExpertScore:
    """One expert's score of one subjective item of one bid."""

    expert: str
    bidder: str
    item: str
    score: Decimal


@dataclass(frozen=True, slots=True)
class Intervention:
    """E-4: a score that deviates too much; the expert must give a written reason before submitting."""

    bidder: str
    item: str
    expert: str
    score: Decimal
    mean: Decimal
    deviation: Decimal
    threshold: Decimal
    basis: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "bidder": self.bidder,
            "item": self.item,
            "expert": self.expert,
            "score": dec_text(self.score),
            "mean": dec_text(points(self.mean)),
            "deviation": "Infinity" if self.deviation == INFINITE else dec_text(points(self.deviation)),
            "threshold": dec_text(self.threshold),
            "basis": self.basis,
        }


@dataclass(frozen=True, slots=True)
class BidderResult:
    """One valid bid's evaluation: item and factor scores, total and rank."""

    bidder: str
    price: Decimal
    evaluated_price: Decimal
    price_score: Decimal | None
    item_scores: Mapping[str, Decimal] = field(default_factory=dict)
    factor_scores: Mapping[str, Decimal] = field(default_factory=dict)
    total: Decimal | None = None
    rank: int = 0

    def kind_score(self, method: EvaluationMethod, kind: str) -> Decimal:
        """Σ F_j of the factors of one kind (technical, commercial)."""
        return sum((self.factor_scores.get(f.id, Decimal(0)) for f in method.factors if f.kind == kind), Decimal(0))


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Ranked results and the candidates (≤ 3); ``undecided`` holds a tie that straddles the cut."""

    method_id: str
    rows: tuple[BidderResult, ...]
    candidates: tuple[str, ...]
    undecided: tuple[str, ...]
    replaced_members: tuple[str, ...]

    def row(self, bidder: str) -> BidderResult:
        for r in self.rows:
            if r.bidder == bidder:
                return r
        raise KeyError(bidder)

    def to_dict(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else dec_text(v)

        return {
            "method": self.method_id,
            "rows": [
                {
                    "bidder": r.bidder,
                    "rank": r.rank,
                    "total": s(r.total),
                    "price": s(r.price),
                    "evaluated_price": s(r.evaluated_price),
                    "price_score": s(r.price_score),
                    "factor_scores": {k: dec_text(v) for k, v in r.factor_scores.items()},
                    "item_scores": {k: dec_text(v) for k, v in r.item_scores.items()},
                }
                for r in self.rows
            ],
            "candidates": list(self.candidates),
            "undecided": list(self.undecided),
            "replaced_members": list(self.replaced_members),
        }


# --- item scores ---------------------------------------------------------------------------------------


def _check_score(item: ScoreItem, value: Decimal, who: str) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= item.max_points:
        raise _bad(
            "scoring.out_of_range",
            f"{who} 的评分项 {item.id} 得分须在 0–{dec_text(item.max_points)} 之间",
            f"the score of item {item.id} by {who} must be 0-{dec_text(item.max_points)}",
            item=item.id,
        )
    if points(value) != value:
        raise _bad(
            "scoring.too_precise",
            f"{who} 的评分项 {item.id} 得分最多两位小数",
            f"the score of item {item.id} by {who} has more than 2 decimals",
            item=item.id,
        )


def _mean(values: Sequence[Decimal]) -> Decimal:
    with localcontext(_ctx()):
        return sum(values, Decimal(0)) / len(values)


def item_scores(
    method: EvaluationMethod,
    bidders: Sequence[str],
    scores: Iterable[ExpertScore],
    objective: Mapping[str, Mapping[str, Decimal]],
    *,
    experts: Sequence[str],
    abnormal_members: Sequence[str] = (),
) -> dict[str, dict[str, Decimal]]:
    """bidder → item → score (to 0.01): subjective items averaged over ``experts``, objective items as given.

    Every expert must score every subjective item of every bid in ``bidders``; scores of other bids are
    refused. ``abnormal_members`` (重庆条例 §32, only when the method allows it) have their scores replaced by
    the other members' mean.
    """
    items = {i.id: i for i in method.items}
    subjective = [i for i in method.items if i.subjective]
    panel = list(dict.fromkeys(experts))
    if subjective and len(panel) != len(experts):
        raise _bad("scoring.duplicate_expert", "专家名单有重复", "an expert is listed twice")
    if subjective and not panel:
        raise _bad("scoring.no_experts", "没有评标专家", "no expert in the panel")
    replaced = list(dict.fromkeys(abnormal_members))
    if replaced:
        if not method.replace_abnormal_member:
            raise _bad(
                "scoring.replacement_not_allowed",
                "该评标办法未规定替换异常评分（重庆条例第32条）",
                "this method does not allow replacing an abnormal member's scores",
            )
        unknown = [m for m in replaced if m not in panel]
        if unknown or len(replaced) >= len(panel):
            raise _bad(
                "scoring.bad_replacement",
                "被替换评分的成员须是评标专家，且至少保留一名其他成员",
                "replaced members must be on the panel and at least one other member must remain",
            )
    table: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    wanted = set(bidders)
    for s in scores:
        item = items.get(s.item)
        if item is None or not item.subjective:
            raise _bad("scoring.unknown_item", f"没有主观评分项 {s.item}", f"no subjective item {s.item}", item=s.item)
        if s.bidder not in wanted:
            raise _bad("scoring.unknown_bidder", f"投标人 {s.bidder} 不参与评审", f"{s.bidder} is not evaluated")
        if s.expert not in panel:
            raise _bad("scoring.unknown_expert", f"{s.expert} 不是评标专家", f"{s.expert} is not on the panel")
        _check_score(item, s.score, s.expert)
        cell = table[(s.bidder, s.item)]
        if s.expert in cell:
            raise _bad(
                "scoring.duplicate_score",
                f"{s.expert} 对 {s.bidder} 的 {s.item} 重复评分",
                f"{s.expert} scored {s.item} of {s.bidder} twice",
            )
        cell[s.expert] = s.score
    out: dict[str, dict[str, Decimal]] = {}
    for bidder in bidders:
        row: dict[str, Decimal] = {}
        for item in method.items:
            if item.subjective:
                cell = table.get((bidder, item.id), {})
                missing = [e for e in panel if e not in cell]
                if missing:
                    raise _bad(
                        "scoring.missing_score",
                        f"{', '.join(missing)} 未对 {bidder} 的评分项 {item.id} 评分",
                        f"{', '.join(missing)} did not score item {item.id} of {bidder}",
                        bidder=bidder,
                        item=item.id,
                    )
                others = [cell[e] for e in panel if e not in replaced]
                substitute = _mean(others)
                values = [substitute if e in replaced else cell[e] for e in panel]
                row[item.id] = points(_mean(values))
            else:
                value = objective.get(bidder, {}).get(item.id)
                if value is None:
                    raise _bad(
                        "scoring.missing_objective",
                        f"{bidder} 缺少客观评分项 {item.id} 的得分",
                        f"objective item {item.id} of {bidder} has no score",
                        bidder=bidder,
                        item=item.id,
                    )
                _check_score(item, value, bidder)
                row[item.id] = value
        out[bidder] = row
    return out


# --- ranking -------------------------------------------------------------------------------------------


def rank_key(method: EvaluationMethod, row: BidderResult) -> tuple[Decimal, ...]:
    """The ascending sort key of a result: the primary order, then the method's tie keys in order."""
    if method.scored:
        key = [-(row.total or Decimal(0))]
    elif method.ranked_by_evaluated_price:
        key = [row.evaluated_price]
    else:
        key = [-(row.price_score or Decimal(0))]
    for tie in method.ties:
        if tie == "price_low":
            key.append(row.price)
        elif tie == "evaluated_price_low":
            key.append(row.evaluated_price)
        elif tie == "price_score_high":
            key.append(-(row.price_score or Decimal(0)))
        else:
            key.append(-row.kind_score(method, tie.removesuffix("_high")))
    return tuple(key)


def _candidates(rows: Sequence[BidderResult], limit: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    chosen: list[str] = []
    groups: dict[int, list[str]] = defaultdict(list)
    for r in rows:
        groups[r.rank].append(r.bidder)
    for rank in sorted(groups):
        group = groups[rank]
        if len(chosen) + len(group) <= limit:
            chosen += group
            continue
        return tuple(chosen), tuple(group) if len(chosen) < limit else ()
    return tuple(chosen), ()


def evaluate(
    method: EvaluationMethod,
    prices: PriceResult,
    scores: Iterable[ExpertScore] = (),
    objective: Mapping[str, Mapping[str, Decimal]] | None = None,
    *,
    experts: Sequence[str] = (),
    abnormal_members: Sequence[str] = (),
) -> Evaluation:
    """Totals, ranking and candidates of the valid bids of ``prices`` (rejected bids take no part)."""
    if prices.method_id != method.id:
        raise _bad("scoring.method_mismatch", "价格计算与评标办法不一致", "the price result is for another method")
    lines: dict[str, PriceLine] = {ln.bidder: ln for ln in prices.lines}
    bidders = sorted(lines)
    per_item = (
        item_scores(method, bidders, scores, objective or {}, experts=experts, abnormal_members=abnormal_members)
        if method.scored
        else {}
    )
    rows: list[BidderResult] = []
    for bidder in bidders:
        ln = lines[bidder]
        factor_scores: dict[str, Decimal] = {}
        total: Decimal | None = None
        if method.scored:
            with localcontext(_ctx()):
                acc = Decimal(0)
                for f in method.factors:
                    if f.kind == "price":
                        assert ln.price_score is not None
                        value = ln.price_score
                    else:
                        value = sum((per_item[bidder][i.id] for i in f.items), Decimal(0))
                    factor_scores[f.id] = value
                    acc += method.factor_weight(f) * value
            total = points(acc)
        rows.append(
            BidderResult(
                bidder=bidder,
                price=ln.price,
                evaluated_price=ln.evaluated_price,
                price_score=ln.price_score,
                item_scores=dict(per_item.get(bidder, {})),
                factor_scores=factor_scores,
                total=total,
            )
        )
    ranked = assign_ranks(rows, lambda r: rank_key(method, r))
    final = tuple(sorted((dataclasses.replace(r, rank=rank) for rank, r in ranked), key=lambda r: (r.rank, r.bidder)))
    chosen, undecided = _candidates(final, method.candidates)
    return Evaluation(method.id, final, chosen, undecided, tuple(dict.fromkeys(abnormal_members)))


# --- deviation (E-4) -----------------------------------------------------------------------------------


def detect_deviations(
    rule: DeviationRule, items: Sequence[ScoreItem], scores: Iterable[ExpertScore]
) -> list[Intervention]:
    """Every (bid, item, expert) whose score deviates from the mean by more than ``rule.threshold``.

    The deviation is ``|s − m|`` in points (``points``), ``100·|s − m|/m`` (``percent_of_mean``; any
    deviation from a mean of 0 is infinite) or ``100·|s − m|/max`` (``percent_of_max``). ``m`` is the mean of
    the whole panel (``panel``, the expert included) or of the other experts (``others``); exact comparison,
    no rounding. Sorted by bidder, item, expert.
    """
    maxes = {i.id: i.max_points for i in items}
    cells: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    for s in scores:
        if s.item not in maxes:
            raise _bad("scoring.unknown_item", f"没有评分项 {s.item}", f"no item {s.item}", item=s.item)
        cells[(s.bidder, s.item)][s.expert] = s.score
    out: list[Intervention] = []
    with localcontext(_ctx()):
        for (bidder, item), cell in sorted(cells.items()):
            for expert, score in sorted(cell.items()):
                pool = [v for e, v in cell.items() if rule.mean_of == "panel" or e != expert]
                if not pool:
                    continue
                mean = _mean(pool)
                diff = abs(score - mean)
                if rule.basis == "points":
                    deviation = diff
                elif rule.basis == "percent_of_max":
                    deviation = diff * 100 / maxes[item]
                elif mean == 0:
                    deviation = INFINITE if diff else Decimal(0)
                else:
                    deviation = diff * 100 / mean
                if deviation > rule.threshold:
                    out.append(Intervention(bidder, item, expert, score, mean, deviation, rule.threshold, rule.basis))
    return out
