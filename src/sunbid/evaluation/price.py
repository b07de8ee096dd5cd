"""Price formulas of RULES.md §2: benchmark price 评标基准价, deviation, price score, evaluated price — exact.

Everything is ``Decimal``. Intermediate quantities (averages, δ, ratios) are computed with 40 significant digits
and rounded once, at the end, ``ROUND_HALF_UP`` (四舍五入): money to the fen (0.01 yuan) — the benchmark B and
evaluated prices — and points to the hundredth — every score. The steps, in order (``docs/evaluation-methods.md``):

1. **Evaluated price**: the quoted price less the small-enterprise deduction (P·(1 − d), procurement), or plus
   the quantified commercial deviations (经评审的最低投标价法), rounded to the fen.
2. **Rejection**: a bid above the maximum price 最高投标限价 is rejected (条例 §51). There is no minimum price.
3. **Screening** (optional): bids more than ±x % from the mean (repeated until stable), or below
   (mean·0.7 + Cmax·0.3)·0.75, are left out *of the average only*; they stay valid and are scored against B
   (条例 §50 forbids rejecting bids outside a band).
4. **Average A**: plain mean, or trimmed mean (drop one highest and one lowest when n > 3).
5. **Benchmark B**: A, or A·K1·Q1 + Cmax·K2·(1 − Q1), then × K or × (1 − r/100); rounded to the fen.
6. **Score**: δ = 100·(P − B)/B; S = S_max − a·max(δ − high, 0) − b·max(low − δ, 0) with the no-deduction band
   [low, high] (both 0 without a band), fractions interpolated (or whole percents), floored at S_min; or, in
   government procurement, S = P_min/P × S_max.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Any, Final, TypeVar

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import Benchmark, EvaluationMethod, PriceRule, dec_text

__all__ = [
    "MONEY",
    "POINTS",
    "BenchmarkTrace",
    "Bid",
    "PriceLine",
    "PriceResult",
    "RejectedBid",
    "assign_ranks",
    "benchmark_price",
    "compute_prices",
    "deviation_percent",
    "deviation_score",
    "evaluated_price",
    "lowest_ratio_score",
    "money",
    "points",
    "price_rank_key",
]

MONEY: Final = Decimal("0.01")
POINTS: Final = Decimal("0.01")
PRECISION: Final = 40
"""Significant digits of every intermediate quantity."""

T = TypeVar("T")


def _ctx() -> Context:
    return Context(prec=PRECISION, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> Decimal:
    """Yuan to the fen, half up (四舍五入)."""
    return value.quantize(MONEY, rounding=ROUND_HALF_UP)


def points(value: Decimal) -> Decimal:
    """Points to the hundredth, half up (四舍五入)."""
    return value.quantize(POINTS, rounding=ROUND_HALF_UP)


def _bad(code: str, zh: str, en: str, **details: Any) -> ValidationFailed:
    return ValidationFailed(code, zh, en, details=details)


@dataclass(frozen=True, slots=True)
class Bid:
    """One opened bid as the calculator sees it: bidder, quoted price (yuan), flags and deviations."""

    bidder: str
    price: Decimal
    small_enterprise: bool = False
    adjustments: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RejectedBid:
    """A bid that takes no further part, with the reason."""

    bidder: str
    price: Decimal
    code: str
    reason_zh: str
    reason_en: str


@dataclass(frozen=True, slots=True)
class BenchmarkTrace:
    """B and how it was reached, step by step, so that a person can recompute it."""

    benchmark: Decimal
    average: Decimal
    averaged: tuple[str, ...]
    screened_out: tuple[str, ...]
    trimmed: tuple[str, ...]
    drawn: Decimal | None
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One valid bid's price result; ``deviation`` is δ in percent (exact to 40 digits), None when unused."""

    bidder: str
    price: Decimal
    small_enterprise: bool
    deduction: Decimal
    adjustment: Decimal
    evaluated_price: Decimal
    deviation: Decimal | None
    price_score: Decimal | None
    rank: int
    in_average: bool


@dataclass(frozen=True, slots=True)
class PriceResult:
    """The calculator's answer for one method and one set of bids."""

    method_id: str
    formula: str
    max_price: Decimal | None
    drawn: Decimal | None
    benchmark: BenchmarkTrace | None
    lowest_evaluated_price: Decimal | None
    lines: tuple[PriceLine, ...]
    rejected: tuple[RejectedBid, ...]

    def line(self, bidder: str) -> PriceLine:
        """The line of one bidder (KeyError if the bid was rejected or unknown)."""
        for ln in self.lines:
            if ln.bidder == bidder:
                return ln
        raise KeyError(bidder)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: money and points as strings with two decimals, δ to 4 decimals for display."""
        b = self.benchmark
        return {
            "method": self.method_id,
            "formula": self.formula,
            "max_price": _s(self.max_price),
            "drawn_coefficient": _s(self.drawn),
            "benchmark": None
            if b is None
            else {
                "benchmark_price": _s(b.benchmark),
                "average": dec_text(b.average.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
                "averaged": list(b.averaged),
                "screened_out": list(b.screened_out),
                "trimmed": list(b.trimmed),
                "steps": list(b.steps),
            },
            "lowest_evaluated_price": _s(self.lowest_evaluated_price),
            "bids": [
                {
                    "bidder": ln.bidder,
                    "price": _s(ln.price),
                    "small_enterprise": ln.small_enterprise,
                    "deduction": _s(ln.deduction),
                    "adjustment": _s(ln.adjustment),
                    "evaluated_price": _s(ln.evaluated_price),
                    "deviation_percent": None
                    if ln.deviation is None
                    else dec_text(ln.deviation.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)),
                    "price_score": _s(ln.price_score),
                    "rank": ln.rank,
                    "in_average": ln.in_average,
                }
                for ln in self.lines
            ],
            "rejected": [
                {
                    "bidder": r.bidder,
                    "price": _s(r.price),
                    "code": r.code,
                    "reason_zh": r.reason_zh,
                    "reason_en": r.reason_en,
                }
                for r in self.rejected
            ],
        }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else dec_text(value)


# --- pieces --------------------------------------------------------------------------------------------


def assign_ranks(entries: Sequence[T], key: Callable[[T], tuple[Any, ...]]) -> list[tuple[int, T]]:
    """Entries sorted by ``key`` (ascending) with competition ranks: equal keys share a rank (1, 2, 2, 4)."""
    ordered = sorted(entries, key=key)
    out: list[tuple[int, T]] = []
    for i, entry in enumerate(ordered):
        rank = out[-1][0] if out and key(out[-1][1]) == key(entry) else i + 1
        out.append((rank, entry))
    return out


def evaluated_price(method: EvaluationMethod, bid: Bid) -> tuple[Decimal, Decimal, Decimal]:
    """(evaluated price, small-enterprise deduction, commercial adjustment), each to the fen.

    Procurement: P·(1 − d) for small and micro enterprises (财库〔2020〕46号). 经评审的最低投标价法: P plus each
    declared adjustment (``amount`` in yuan, or ``percent`` of P). Otherwise the quoted price.
    """
    with localcontext(_ctx()):
        deduction = Decimal(0)
        d = method.policy.small_enterprise_deduction
        if bid.small_enterprise and d is not None:
            deduction = bid.price - money(bid.price * (1 - d))
        known = {a.id: a for a in method.adjustments}
        for name in bid.adjustments:
            if name not in known:
                raise _bad(
                    "price.unknown_adjustment",
                    f"投标人 {bid.bidder} 的调整项 {name} 未在评标办法中声明",
                    f"adjustment {name} of {bid.bidder} is not declared by the method",
                    bidder=bid.bidder,
                )
        adjustment = Decimal(0)
        for adj in method.adjustments:
            value = bid.adjustments.get(adj.id, Decimal(0))
            adjustment += value if adj.unit == "amount" else bid.price * value / 100
        adjustment = money(adjustment)
        result = bid.price - deduction + adjustment
    if result <= 0:
        raise _bad(
            "price.bad_evaluated_price",
            f"投标人 {bid.bidder} 的评审价格 {dec_text(result)} 不为正",
            f"the evaluated price of {bid.bidder} ({dec_text(result)}) is not positive",
            bidder=bid.bidder,
        )
    return result, deduction, adjustment


def _mean(values: Sequence[Decimal]) -> Decimal:
    with localcontext(_ctx()):
        return sum(values, Decimal(0)) / len(values)


def _fmt(value: Decimal) -> str:
    return dec_text(value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _screen(
    bench: Benchmark, pool: list[tuple[str, Decimal]], max_price: Decimal | None, steps: list[str]
) -> tuple[list[tuple[str, Decimal]], list[str]]:
    s = bench.screening
    if s is None:
        return pool, []
    out: list[str] = []
    with localcontext(_ctx()):
        if s.kind == "band":
            while True:
                m = _mean([p for _, p in pool])
                keep = [(b, p) for b, p in pool if abs(p - m) <= m * s.percent / 100]
                if len(keep) == len(pool):
                    break
                if not keep:
                    steps.append(f"筛选：均值 {_fmt(m)} 的 ±{dec_text(s.percent)}% 内无报价，停止筛选")
                    break
                kept = {b for b, _ in keep}
                dropped = [b for b, _ in pool if b not in kept]
                steps.append(f"筛选：均值 {_fmt(m)}，剔除偏离超过 ±{dec_text(s.percent)}% 的 {', '.join(dropped)}")
                out += dropped
                pool = keep
                if not s.iterative:
                    break
        else:
            assert max_price is not None
            m = _mean([p for _, p in pool])
            floor = (m * s.mean_weight + max_price * s.max_weight) * s.factor
            keep = [(b, p) for b, p in pool if p >= floor]
            if keep and len(keep) < len(pool):
                dropped = [b for b, p in pool if p < floor]
                steps.append(
                    f"筛选：({_fmt(m)}×{dec_text(s.mean_weight)} + {dec_text(max_price)}×{dec_text(s.max_weight)})"
                    f"×{dec_text(s.factor)} = {_fmt(floor)}，剔除低于此值的 {', '.join(dropped)}"
                )
                out += dropped
                pool = keep
    return pool, out


def benchmark_price(
    bench: Benchmark, valid: Sequence[tuple[str, Decimal]], *, drawn: Decimal | None, max_price: Decimal | None
) -> BenchmarkTrace:
    """B from the valid bids' evaluated prices (bidder, price): screening, (trimmed) mean, weighting, K or r."""
    if not valid:
        raise _bad(
            "price.no_valid_bids", "没有有效报价，无法计算评标基准价", "no valid bid to compute the benchmark from"
        )
    steps: list[str] = []
    pool, screened = _screen(bench, sorted(valid, key=lambda bp: (bp[1], bp[0])), max_price, steps)
    trimmed: list[str] = []
    ordered = sorted(pool, key=lambda bp: (bp[1], bp[0]))
    if bench.average == "trimmed_mean" and len(ordered) > bench.trim_when_more_than:
        c = bench.trim_count
        trimmed = [b for b, _ in ordered[:c]] + [b for b, _ in ordered[-c:]]
        ordered = ordered[c:-c]
        steps.append(f"去掉最高、最低各 {c} 家：{', '.join(trimmed)}")
    with localcontext(_ctx()):
        a = _mean([p for _, p in ordered])
        steps.append(f"算术平均 A = {_fmt(a)}（{len(ordered)} 家）")
        b = a
        w = bench.weighting
        if w is not None:
            assert max_price is not None
            k1 = drawn if w.k1 is None else w.k1
            k2 = drawn if w.k2 is None else w.k2
            assert k1 is not None
            assert k2 is not None
            b = a * k1 * w.q1 + max_price * k2 * (1 - w.q1)
            steps.append(
                f"B = A×{dec_text(k1)}×{dec_text(w.q1)} + {dec_text(max_price)}×{dec_text(k2)}×(1−{dec_text(w.q1)})"
                f" = {_fmt(b)}"
            )
        if bench.composite:
            sources = {"average": a, "lowest": min(p for _, p in pool), "max_price": max_price}
            terms: list[str] = []
            b = Decimal(0)
            for comp in bench.composite:
                value = sources[comp.source]
                assert value is not None
                k = drawn if comp.k is None else comp.k
                assert k is not None
                b += comp.weight * k * value
                terms.append(f"{_fmt(value)}×{dec_text(comp.weight)}" + ("" if k == 1 else f"×{dec_text(k)}"))
            steps.append(f"B = {' + '.join(terms)} = {_fmt(b)}")
        c_rule = bench.coefficient
        if c_rule is not None and not bench.drawn_in_formula:
            assert drawn is not None
            b = b * c_rule.factor(drawn)
            if c_rule.apply == "multiply":
                steps.append(f"× K {dec_text(drawn)} = {_fmt(b)}")
            else:
                steps.append(f"× (1 − {dec_text(drawn)}%) = {_fmt(b)}")
    final = money(b)
    steps.append(f"评标基准价 B = {dec_text(final)}（四舍五入到分）")
    return BenchmarkTrace(
        benchmark=final,
        average=a,
        averaged=tuple(bp[0] for bp in ordered),
        screened_out=tuple(screened),
        trimmed=tuple(trimmed),
        drawn=drawn,
        steps=tuple(steps),
    )


def deviation_percent(price: Decimal, benchmark: Decimal) -> Decimal:
    """δ = 100·(P − B)/B, in percentage points, to 40 significant digits."""
    with localcontext(_ctx()):
        return (price - benchmark) * 100 / benchmark


def deviation_score(rule: PriceRule, delta: Decimal) -> Decimal:
    """S = S_max − a·max(δ − high, 0) − b·max(low − δ, 0), whole percents if asked, floored at S_min, to 0.01."""
    low, high = (rule.band.low, rule.band.high) if rule.band else (Decimal(0), Decimal(0))
    with localcontext(_ctx()):
        above = max(delta - high, Decimal(0))
        below = max(low - delta, Decimal(0))
        if rule.fraction != "interpolate":
            rounding = ROUND_FLOOR if rule.fraction == "whole_floor" else ROUND_CEILING
            above = above.to_integral_value(rounding=rounding)
            below = below.to_integral_value(rounding=rounding)
        score = rule.s_max - rule.above_per_percent * above - rule.below_per_percent * below
    return points(max(score, rule.s_min))


def lowest_ratio_score(rule: PriceRule, price: Decimal, lowest: Decimal) -> Decimal:
    """S = P_min / P × S_max (87号令 §55), floored at S_min, to 0.01."""
    with localcontext(_ctx()):
        score = lowest / price * rule.s_max
    return points(max(score, rule.s_min))


# --- the whole calculation -----------------------------------------------------------------------------


def price_rank_key(method: EvaluationMethod, line: PriceLine) -> tuple[Decimal, ...]:
    """Ascending sort key of the price ranking: evaluated price (low first) for the lowest-price methods, else
    price score (high first); then the method's price-related tie keys in order."""
    key = [line.evaluated_price] if method.price.formula == "evaluated_price" else [-(line.price_score or Decimal(0))]
    for tie in method.ties:
        if tie == "price_low":
            key.append(line.price)
        elif tie == "evaluated_price_low":
            key.append(line.evaluated_price)
        elif tie == "price_score_high":
            key.append(-(line.price_score or Decimal(0)))
    return tuple(key)


def _check_bids(bids: Iterable[Bid]) -> list[Bid]:
    out: list[Bid] = []
    seen: set[str] = set()
    for bid in bids:
        if not bid.bidder or bid.bidder in seen:
            raise _bad(
                "price.duplicate_bidder",
                f"投标人名称为空或重复：{bid.bidder!r}",
                f"empty or repeated bidder: {bid.bidder!r}",
                bidder=bid.bidder,
            )
        seen.add(bid.bidder)
        if (
            not isinstance(bid.price, Decimal)
            or not bid.price.is_finite()
            or bid.price <= 0
            or money(bid.price) != bid.price
        ):
            raise _bad(
                "price.bad_price",
                f"投标人 {bid.bidder} 的报价须为正数，精确到分",
                f"the price of {bid.bidder} must be positive, in yuan to the fen",
                bidder=bid.bidder,
            )
        out.append(bid)
    return out


def _resolve_drawn(method: EvaluationMethod, drawn: Decimal | None) -> Decimal | None:
    rule = method.coefficient
    if rule is None:
        if drawn is not None:
            raise _bad(
                "price.k_unused",
                "该评标办法没有抽取系数，请勿提供 K",
                "this method draws no coefficient: do not give K",
            )
        return None
    if drawn is None:
        raise _bad(
            "price.k_missing",
            "该评标办法须使用开标时抽取的系数（--k）",
            "this method needs the coefficient drawn at the opening (--k)",
        )
    if drawn not in rule.values:
        allowed = ", ".join(dec_text(v) for v in rule.values)
        raise _bad(
            "price.k_not_in_set",
            f"系数 {dec_text(drawn)} 不在评标办法声明的候选值中：{allowed}",
            f"coefficient {dec_text(drawn)} is not one of the declared values: {allowed}",
        )
    return drawn


def _resolve_max_price(method: EvaluationMethod, max_price: Decimal | None) -> Decimal | None:
    if max_price is not None:
        if not max_price.is_finite() or max_price <= 0 or money(max_price) != max_price:
            raise _bad(
                "price.bad_max_price",
                "最高投标限价须为正数，精确到分",
                "the maximum price must be positive, to the fen",
            )
        if method.max_price is not None and method.max_price != max_price:
            raise _bad(
                "price.max_price_conflict",
                f"评标办法已规定最高投标限价 {dec_text(method.max_price)}，与给定的 {dec_text(max_price)} 不一致",
                f"the method sets the maximum price {dec_text(method.max_price)}, not {dec_text(max_price)}",
            )
        return max_price
    bench = method.price.benchmark
    if method.max_price is None and bench is not None and bench.uses_max_price:
        raise _bad(
            "price.max_price_missing",
            "该评标基准价公式要用最高投标限价，请在评标办法或 --max-price 中给出",
            "this benchmark formula uses the maximum price: set max_price or --max-price",
        )
    return method.max_price


def compute_prices(
    method: EvaluationMethod, bids: Iterable[Bid], *, drawn: Decimal | None = None, max_price: Decimal | None = None
) -> PriceResult:
    """Evaluated prices, rejections, benchmark, deviations, price scores and the price ranking of ``bids``.

    The ranking here is by price alone: price score (high first, then lower evaluated price) for scored
    formulas, evaluated price (low first) for the lowest-price methods; equal keys share a rank. The full
    ranking of a comprehensive method (with technical and commercial scores) is :func:`scoring.evaluate`.
    """
    all_bids = _check_bids(bids)
    k = _resolve_drawn(method, drawn)
    cap = _resolve_max_price(method, max_price)
    rejected: list[RejectedBid] = []
    valid: list[tuple[Bid, Decimal, Decimal, Decimal]] = []
    for bid in all_bids:
        if cap is not None and bid.price > cap:
            rejected.append(
                RejectedBid(
                    bid.bidder,
                    bid.price,
                    "price.above_max_price",
                    f"报价 {dec_text(bid.price)} 超过最高投标限价 {dec_text(cap)}，否决（招标投标法实施条例第51条）",
                    f"price {dec_text(bid.price)} is above the maximum price {dec_text(cap)}: rejected (条例 §51)",
                )
            )
            continue
        valid.append((bid, *evaluated_price(method, bid)))
    rule = method.price
    trace: BenchmarkTrace | None = None
    lowest = min((ev for _, ev, _, _ in valid), default=None)
    if rule.formula == "deviation" and valid:
        assert rule.benchmark is not None
        trace = benchmark_price(rule.benchmark, [(b.bidder, ev) for b, ev, _, _ in valid], drawn=k, max_price=cap)
    rows: list[PriceLine] = []
    for bid, ev, deduction, adjustment in valid:
        delta: Decimal | None = None
        score: Decimal | None = None
        if trace is not None:
            delta = deviation_percent(ev, trace.benchmark)
            score = deviation_score(rule, delta)
        elif rule.formula == "lowest_ratio":
            assert lowest is not None
            score = lowest_ratio_score(rule, ev, lowest)
        in_avg = trace is not None and bid.bidder in trace.averaged
        rows.append(
            PriceLine(bid.bidder, bid.price, bid.small_enterprise, deduction, adjustment, ev, delta, score, 0, in_avg)
        )
    ranked = assign_ranks(rows, lambda ln: price_rank_key(method, ln))
    lines = tuple(dataclasses.replace(ln, rank=r) for r, ln in ranked)
    ordered_lines = tuple(sorted(lines, key=lambda ln: (ln.rank, ln.bidder)))
    return PriceResult(
        method_id=method.id,
        formula=rule.formula,
        max_price=cap,
        drawn=k,
        benchmark=trace,
        lowest_evaluated_price=lowest,
        lines=ordered_lines,
        rejected=tuple(sorted(rejected, key=lambda r: r.bidder)),
    )
