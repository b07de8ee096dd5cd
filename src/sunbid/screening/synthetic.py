"""Synthetic labelled tenders in the historical-bids CSV layout, for tests, demonstrations and benchmarks.

Competitive tenders: each bidder bids its own cost (log-normal around the estimate) plus a margin, so bids are
dispersed. Collusive tenders (a cartel of recurring firms): the designated winner bids high relative to the
estimate, and the cover bids sit in a tight cluster just above it (low coefficient of variation, a large gap
between the two lowest relative to the losers' spread) — the pattern reported by Imhof (2018, 2019).
This is not real data and makes no claim about any market; it only exercises the code paths.
"""

from __future__ import annotations

import csv
import io

import numpy as np


def synthetic_csv(
    tenders: int = 120,
    *,
    collusive_share: float = 0.3,
    seed: int = 1,
    with_estimate: bool = True,
    with_bidders: bool = True,
) -> str:
    """A CSV text with ``tenders`` tenders (3–9 bids each), labelled, deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    firms = [f"F{i:03d}" for i in range(60)]
    cartel = firms[:8]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["tender_id", "bidder_id", "bid_amount", "is_winner", "estimate", "date", "label"])
    for t in range(1, tenders + 1):
        n = int(rng.integers(3, 10))
        estimate = float(np.exp(rng.normal(14.0, 1.0)))
        collusive = rng.random() < collusive_share
        if collusive:
            winner = estimate * rng.normal(0.98, 0.02)
            covers = winner * (1 + rng.uniform(0.03, 0.06)) * (1 + rng.normal(0.0, 0.004, size=n - 1))
            bids = np.concatenate([[winner], covers])
            members = list(rng.choice(cartel, size=min(n, len(cartel)), replace=False))
            names = members + list(rng.choice(firms[8:], size=n - len(members), replace=False))
        else:
            bids = estimate * np.exp(rng.normal(-0.08, 0.07, size=n))
            names = list(rng.choice(firms, size=n, replace=False))
        order = np.argsort(bids)
        month = 1 + t % 12
        for rank, i in enumerate(order):
            w.writerow(
                [
                    f"T{t:04d}",
                    names[i] if with_bidders else "",
                    f"{bids[i]:.2f}",
                    1 if rank == 0 else 0,
                    f"{estimate:.2f}" if with_estimate else "",
                    f"2024-{month:02d}-15",
                    int(collusive),
                ]
            )
    return out.getvalue()
