"""Per-tender statistical screens computed from raw bids, vectorised with numpy over bids sorted by tender.

All screens of all tenders are computed in a constant number of passes over flat arrays: the bids are sorted
by (tender, amount) once, each tender is a contiguous run, and every per-tender sum, maximum or count is one
``np.add.reduceat`` / ``np.maximum.reduceat`` / ``np.bincount`` call. Ten million bids take a few seconds
(``benchmarks/screening.py``). A screen that is undefined for a tender (too few bids, zero spread, no estimate,
no winner) is ``NaN``, never a made-up value; the models handle missing values explicitly.

Formulas and sources are in :data:`SCREENS` and ``docs/screening.md``. Notation: a tender's bids sorted
ascending ``b1 <= b2 <= ... <= bn``, mean ``m``, sample standard deviation ``s`` (ddof = 1).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Benford's first-digit law: P(d) = log10(1 + 1/d), d = 1..9.
BENFORD_FIRST: Final = np.log10(1.0 + 1.0 / np.arange(1, 10, dtype=np.float64))


@dataclass(frozen=True)
class ScreenInfo:
    """One screen: its column name, Chinese and English names, formula, source and collusion direction.

    ``direction`` is the sign the literature reports under bid rigging (+1: higher is more suspicious,
    -1: lower is more suspicious, 0: no a-priori direction). The unsupervised score and the explanations use it;
    the supervised model learns its own.
    """

    name: str
    zh: str
    en: str
    formula: str
    source: str
    direction: int


SCREENS: Final[tuple[ScreenInfo, ...]] = (
    ScreenInfo("n_bids", "投标人数", "number of bids", "n", "Imhof (2017); Huber & Imhof (2019)", 0),
    ScreenInfo("cv", "变异系数", "coefficient of variation", "s / m", "Imhof, Karagök & Rutz (2018)", -1),
    ScreenInfo("spread", "价差率", "spread", "(bn - b1) / b1", "Imhof (2019); Huber & Imhof (2019)", -1),
    ScreenInfo(
        "kurtosis",
        "峰度",
        "kurtosis",
        "n(n+1)/((n-1)(n-2)(n-3)) * sum(((b-m)/s)^4) - 3(n-1)^2/((n-2)(n-3))",
        "Imhof, Karagök & Rutz (2018); Huber & Imhof (2019)",
        1,
    ),
    ScreenInfo(
        "skewness",
        "偏度",
        "skewness",
        "n/((n-1)(n-2)) * sum(((b-m)/s)^3)",
        "Imhof, Karagök & Rutz (2018); Huber & Imhof (2019)",
        -1,
    ),
    ScreenInfo("diffp", "最低两价差", "difference of the two lowest", "(b2 - b1) / b1", "Imhof (2019)", 1),
    ScreenInfo(
        "rd",
        "相对距离",
        "relative distance",
        "(b2 - b1) / s_losers, s_losers = std(b2..bn)",
        "Imhof, Karagök & Rutz (2018)",
        1,
    ),
    ScreenInfo(
        "rdnor",
        "标准化相对距离",
        "normalised relative distance",
        "(b2 - b1) / ((bn - b1) / (n - 1))",
        "Imhof (2019); Huber & Imhof (2019)",
        1,
    ),
    ScreenInfo(
        "rdalt",
        "替代相对距离",
        "alternative relative distance",
        "(b2 - b1) / ((bn - b2) / (n - 2))",
        "Imhof (2019); Huber & Imhof (2019)",
        1,
    ),
    ScreenInfo(
        "ks",
        "KS 均匀性",
        "Kolmogorov-Smirnov uniformity",
        "max_i max(i/n - u_i, u_i - (i-1)/n), u_i = (b_i - b1) / (bn - b1)",
        "Imhof (2019); Huber & Imhof (2019)",
        1,
    ),
    ScreenInfo(
        "est_low_ratio", "最低价/控制价", "lowest bid / estimate", "b1 / estimate", "García Rodríguez et al. (2022)", 1
    ),
    ScreenInfo(
        "est_mean_ratio", "平均价/控制价", "mean bid / estimate", "m / estimate", "García Rodríguez et al. (2022)", 1
    ),
    ScreenInfo(
        "est_share_above",
        "超控制价比例",
        "share of bids above the estimate",
        "#{b > estimate} / n",
        "García Rodríguez et al. (2022)",
        1,
    ),
    ScreenInfo(
        "winner_margin",
        "中标价优势",
        "winner margin",
        "(lowest other bid - winning bid) / winning bid",
        "Imhof (2019); Wallimann, Imhof & Huber (2022)",
        1,
    ),
    ScreenInfo(
        "winner_rank",
        "中标价排位",
        "rank of the winning bid",
        "(rank of the winning bid - 1) / (n - 1), 0 = lowest",
        "García Rodríguez et al. (2022)",
        0,
    ),
    ScreenInfo(
        "roundness",
        "整数化程度",
        "roundness",
        "mean over bids of trailing zeros / digits of the integer amount",
        "Imhof (2017)",
        0,
    ),
    ScreenInfo(
        "benford_first",
        "首位数字 Benford 偏离",
        "Benford first-digit deviation",
        "mean_d |f_d - log10(1 + 1/d)|, d = 1..9",
        "Imhof (2017); Wallimann, Imhof & Huber (2022)",
        1,
    ),
    ScreenInfo(
        "last_digit",
        "末位数字均匀性偏离",
        "last-digit uniformity deviation",
        "mean_d |f_d - 1/10|, d = last digit of the integer amount",
        "Imhof (2017)",
        1,
    ),
)

SCREEN_NAMES: Final[tuple[str, ...]] = tuple(s.name for s in SCREENS)
#: The classic seven screens of the literature's baseline (Huber & Imhof 2019; García Rodríguez et al. 2022).
CLASSIC_SEVEN: Final[tuple[str, ...]] = ("cv", "spread", "diffp", "rd", "kurtosis", "skewness", "ks")


@dataclass(frozen=True)
class SortedBids:
    """Bids sorted by (tender, amount): ``starts[k]`` is the first row of tender ``k``, ``counts[k]`` its bids.

    ``winner`` is 1 for a winning bid, 0 for a losing one, -1 when unknown; ``estimate`` is per bid (the
    tender's estimate repeated, ``NaN`` when absent).
    """

    amount: FloatArray
    winner: npt.NDArray[np.int8]
    estimate: FloatArray
    starts: IntArray
    counts: IntArray

    @property
    def tenders(self) -> int:
        return int(self.starts.shape[0])


def sort_bids(
    tender: npt.NDArray[np.int64],
    amount: FloatArray,
    winner: npt.NDArray[np.int8] | None = None,
    estimate: FloatArray | None = None,
) -> tuple[SortedBids, IntArray]:
    """Sort bids by (tender code, amount); returns the sorted bids and each run's tender code (ascending)."""
    n = amount.shape[0]
    by_amount = np.argsort(amount)
    order = by_amount[np.argsort(tender[by_amount], kind="stable")]  # by tender, then by amount
    t = tender[order]
    boundary = np.empty(n, dtype=bool)
    if n:
        boundary[0] = True
        np.not_equal(t[1:], t[:-1], out=boundary[1:])
    starts = np.flatnonzero(boundary).astype(np.int64)
    counts = np.diff(np.append(starts, n)).astype(np.int64)
    w = np.full(n, -1, dtype=np.int8) if winner is None else winner[order].astype(np.int8)
    e = np.full(n, np.nan) if estimate is None else estimate[order].astype(np.float64)
    return SortedBids(amount[order].astype(np.float64), w, e, starts, counts), t[starts]


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=(den != 0) & np.isfinite(den))
    return out


def _chunk(bids: SortedBids, first: int, last: int) -> SortedBids:
    """Tenders ``first`` .. ``last - 1`` of ``bids`` as a SortedBids of their own (rows rebased)."""
    lo = int(bids.starts[first])
    hi = int(bids.starts[last - 1] + bids.counts[last - 1])
    return SortedBids(
        bids.amount[lo:hi],
        bids.winner[lo:hi],
        bids.estimate[lo:hi],
        bids.starts[first:last] - lo,
        bids.counts[first:last],
    )


def compute_screens(bids: SortedBids, *, chunk_bids: int = 1_000_000, workers: int = 2) -> dict[str, FloatArray]:
    """All screens of :data:`SCREENS` for every tender of ``bids`` (arrays of length ``bids.tenders``).

    Large inputs are cut into runs of whole tenders of about ``chunk_bids`` bids (better cache use) computed on
    ``workers`` threads (numpy releases the GIL in its loops); the result does not depend on either.
    """
    total = int(bids.amount.shape[0])
    if total <= chunk_bids or bids.tenders < 2:
        return _compute(bids)
    ends = np.cumsum(bids.counts)
    cuts = np.searchsorted(ends, np.arange(chunk_bids, total, chunk_bids), side="left") + 1
    bounds = [0, *sorted({int(c) for c in cuts if 0 < c < bids.tenders}), bids.tenders]
    parts = [_chunk(bids, a, b) for a, b in itertools.pairwise(bounds)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(_compute, parts))
    return {name: np.concatenate([r[name] for r in results]) for name in SCREEN_NAMES}


def _compute(bids: SortedBids) -> dict[str, FloatArray]:
    x = bids.amount
    starts, counts = bids.starts, bids.counts
    g_count = bids.tenders
    if g_count == 0:
        return {name: np.empty(0) for name in SCREEN_NAMES}
    n = counts.astype(np.float64)
    ends = starts + counts - 1
    group = np.repeat(np.arange(g_count), counts)
    rank = np.arange(x.shape[0]) - starts[group]  # 0-based rank of each bid in its tender (ascending)

    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.add.reduceat(x, starts) / n
        d = x - mean[group]
        d2 = d * d
        m2 = np.add.reduceat(d2, starts)
        m3 = np.add.reduceat(d2 * d, starts)
        m4 = np.add.reduceat(d2 * d2, starts)
        var = np.where(n > 1, m2 / np.maximum(n - 1, 1), np.nan)
        sd = np.sqrt(var)
        b1 = x[starts]
        bn = x[ends]
        second = np.minimum(starts + 1, ends)
        b2 = np.where(n >= 2, x[second], np.nan)

        ok_sd = (sd > 0) & np.isfinite(sd)
        cv = np.where(n >= 2, _safe_div(sd, mean), np.nan)
        spread = np.where(n >= 2, _safe_div(bn - b1, b1), np.nan)
        skew = np.where((n >= 3) & ok_sd, n / ((n - 1) * (n - 2)) * m3 / sd**3, np.nan)
        kurt = np.where(
            (n >= 4) & ok_sd,
            n * (n + 1) / ((n - 1) * (n - 2) * (n - 3)) * m4 / sd**4 - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)),
            np.nan,
        )
        diffp = np.where(n >= 2, _safe_div(b2 - b1, b1), np.nan)

        # Losing bids b2..bn (rank >= 1): their sample standard deviation.
        loser = rank >= 1
        n_l = n - 1
        mean_l = (np.add.reduceat(x, starts) - b1) / np.maximum(n_l, 1)
        dl = np.where(loser, x - mean_l[group], 0.0)
        sd_l = np.sqrt(np.where(n_l > 1, np.add.reduceat(dl * dl, starts) / np.maximum(n_l - 1, 1), np.nan))
        rd = np.where(n >= 3, _safe_div(b2 - b1, sd_l), np.nan)
        rdnor = np.where(n >= 3, _safe_div(b2 - b1, (bn - b1) / np.maximum(n - 1, 1)), np.nan)
        rdalt = np.where(n >= 3, _safe_div(b2 - b1, (bn - b2) / np.maximum(n - 2, 1)), np.nan)

        # Kolmogorov-Smirnov distance of the bids (scaled to [0, 1]) from the uniform distribution.
        rng = (bn - b1)[group]
        u = np.where(rng > 0, (x - b1[group]) / np.where(rng > 0, rng, 1.0), 0.0)
        r1 = rank + 1.0
        nn = n[group]
        dev = np.maximum(r1 / nn - u, u - rank / nn)
        ks = np.where((n >= 3) & (bn > b1), np.maximum.reduceat(dev, starts), np.nan)

        # Bid / estimate.
        est = bids.estimate[starts]
        has_est = np.isfinite(est) & (est > 0)
        est_low = np.where(has_est, _safe_div(b1, est), np.nan)
        est_mean = np.where(has_est, _safe_div(mean, est), np.nan)
        above = (x > bids.estimate).astype(np.float64)
        est_above = np.where(has_est, np.add.reduceat(above, starts) / n, np.nan)

        # Winner: the lowest winning bid of the tender (several winners happen with lots).
        is_w = bids.winner == 1
        big = np.where(is_w, rank, np.iinfo(np.int64).max)
        w_rank = np.minimum.reduceat(big, starts)
        has_w = w_rank < counts
        w_row = starts + np.where(has_w, w_rank, 0)
        w_bid = x[w_row]
        other_low = np.where(w_rank == 0, b2, b1)
        winner_margin = np.where(has_w & (n >= 2), _safe_div(other_low - w_bid, w_bid), np.nan)
        winner_rank = np.where(has_w & (n >= 2), w_rank / np.maximum(n - 1, 1), np.nan)

        # Digits of the integer amount (trailing zeros counted on the few amounts that end in 0).
        v = np.floor(np.abs(x) + 0.5).astype(np.int64)
        pos = v >= 1
        digits = np.where(pos, np.floor(np.log10(np.maximum(v, 1))) + 1, 1.0)
        tz = np.zeros(x.shape[0])
        rest = v.copy()
        idx = np.flatnonzero(pos & (v % 10 == 0))
        while idx.size:
            tz[idx] += 1.0
            rest[idx] //= 10
            idx = idx[rest[idx] % 10 == 0]
        roundness = np.add.reduceat(np.where(pos, tz / digits, 0.0), starts) / n

        first = np.where(pos, v // np.power(10, digits.astype(np.int64) - 1), 0)
        first = np.clip(first, 0, 9)
        fcount = np.bincount(group * 10 + first, minlength=g_count * 10).reshape(g_count, 10)
        freq = fcount[:, 1:] / n[:, None]
        benford = np.abs(freq - BENFORD_FIRST[None, :]).mean(axis=1)
        benford = np.where(fcount[:, 0] == n, np.nan, benford)
        last = v % 10
        lcount = np.bincount(group * 10 + last, minlength=g_count * 10).reshape(g_count, 10)
        last_digit = np.abs(lcount / n[:, None] - 0.1).mean(axis=1)

    out: dict[str, FloatArray] = {
        "n_bids": n,
        "cv": cv,
        "spread": spread,
        "kurtosis": kurt,
        "skewness": skew,
        "diffp": diffp,
        "rd": rd,
        "rdnor": rdnor,
        "rdalt": rdalt,
        "ks": ks,
        "est_low_ratio": est_low,
        "est_mean_ratio": est_mean,
        "est_share_above": est_above,
        "winner_margin": winner_margin,
        "winner_rank": winner_rank,
        "roundness": roundness,
        "benford_first": benford,
        "last_digit": last_digit,
    }
    for key, arr in out.items():
        out[key] = np.where(np.isfinite(arr), arr, np.nan).astype(np.float64)
    return out
