"""Collusion-screening benchmark: every per-tender screen over 10 million synthetic bids in 1 million tenders.

Prints JSON: ``seconds`` (all screens of ``docs/screening.md``, from an unsorted Polars frame to a per-tender
Polars frame; target < 30 s on the 2-core machine), ``bids_per_s``, ``cpu_seconds`` (process CPU time of the
same step: when other jobs share the cores, wall time grows and this does not), and ``baseline_seconds``: a bare
Polars group-by computing only the mean and standard deviation per tender on the same data in the same run.

Synthetic tenders have 2–18 bids (mean 10) around an estimate, with a winner flag and, in one tender in ten,
no estimate; rows are shuffled so that nothing comes pre-sorted.

    python benchmarks/screening.py [--bids 10000000] [--tenders 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import polars as pl

from sunbid.screening.features import screen_frame
from sunbid.screening.screens import SCREEN_NAMES


def synthetic(bids: int, tenders: int, seed: int) -> pl.DataFrame:
    """``bids`` bids in ``tenders`` tenders (each with at least two), shuffled."""
    rng = np.random.default_rng(seed)
    sizes = np.full(tenders, 2, dtype=np.int64)
    extra = bids - 2 * tenders
    if extra < 0:
        raise SystemExit("need at least two bids per tender")
    sizes += np.bincount(rng.integers(0, tenders, size=extra), minlength=tenders)
    tender = np.repeat(np.arange(tenders, dtype=np.int64), sizes)
    estimate_t = np.exp(rng.normal(15.0, 1.5, size=tenders)).round(2)
    estimate = estimate_t[tender]
    amount = (estimate * rng.normal(0.93, 0.05, size=bids)).round(2)
    amount = np.maximum(amount, 1.0)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    winner = np.zeros(bids, dtype=np.int8)
    winner[first + rng.integers(0, sizes)] = 1
    estimate[np.repeat(rng.random(tenders) < 0.1, sizes)] = np.nan
    perm = rng.permutation(bids)
    return pl.DataFrame(
        {
            "tender_id": tender[perm],
            "bid_amount": amount[perm],
            "is_winner": winner[perm],
            "estimate": estimate[perm],
        }
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bids", type=int, default=10_000_000)
    ap.add_argument("--tenders", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    df = synthetic(args.bids, args.tenders, args.seed)
    generate_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    base = df.group_by("tender_id").agg(pl.col("bid_amount").mean().alias("mean"), pl.col("bid_amount").std())
    baseline_s = time.perf_counter() - t0

    t0, c0 = time.perf_counter(), time.process_time()
    screens = screen_frame(df)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0

    assert screens.height == base.height == args.tenders
    # The two must agree on what they both compute: CV = std / mean.
    joined = screens.select("tender_id", "cv").join(base, on="tender_id")
    cv_err = float((joined["cv"] - joined["bid_amount"] / joined["mean"]).abs().max() or 0.0)
    result = {
        "bids": args.bids,
        "tenders": args.tenders,
        "screens": list(SCREEN_NAMES),
        "seconds": round(seconds, 3),
        "bids_per_s": round(args.bids / seconds),
        "cpu_seconds": round(cpu_seconds, 3),
        "baseline_seconds": round(baseline_s, 3),
        "baseline": "polars group_by(tender).agg(mean, std)",
        "slowdown_vs_baseline": round(seconds / baseline_s, 2) if baseline_s else None,
        "generate_seconds": round(generate_s, 3),
        "max_cv_difference_vs_polars": cv_err,
        "target_seconds": 30,
        "ok": seconds < 30 and cv_err < 1e-9,
    }
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
