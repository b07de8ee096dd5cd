"""Transparency-log benchmark: append N entries on SQLite in one process, then verify the whole log.

Prints JSON: ``appends_per_s`` (target ≥ 20,000 on SQLite), ``verify_s`` (target < 10 s for 100,000 entries)
and details. Entries are audit-sized canonical JSON documents appended through the unit of work in
transactions of ``--batch`` entries, each transaction signing its tree head, exactly as the platform does.

    python benchmarks/ledger.py [--entries 100000] [--batch 1000] [--suite intl|gm] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sunbid.platform import migrate
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--suite", choices=["intl", "gm"], default="intl")
    ap.add_argument("--database-url", default=None, help="default: a fresh SQLite file in a temp directory")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="sunbid-bench-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url=args.database_url, crypto_suite=args.suite, embedded_worker=False
        )
        platform = Platform(settings)
        migrate.upgrade(platform.db)
        with platform.db.read() as s:
            start_size = platform.ledger.size(s)

        bodies_made = 0

        def body(i: int) -> dict[str, object]:
            return {
                "type": "event",
                "tag": "bench:project:transition",
                "project": f"P-2026-{i:08d}",
                "from": "bidding",
                "to": "opening",
                "actor": {"user_id": i % 97, "name": "基准测试"},
                "at": "2026-11-23T01:00:00.000000+00:00",
            }

        t0 = time.perf_counter()
        while bodies_made < args.entries:
            n = min(args.batch, args.entries - bodies_made)
            with platform.uow() as uow:
                uow.ledger.append_many("event", [body(bodies_made + k) for k in range(n)])
                uow.commit()
            bodies_made += n
        append_s = time.perf_counter() - t0

        t1 = time.perf_counter()
        with platform.db.read() as s:
            report = platform.ledger.verify(s)
        verify_s = time.perf_counter() - t1
        platform.close()

    out = {
        "benchmark": "ledger",
        "database": "sqlite" if args.database_url is None else args.database_url.split(":", 1)[0],
        "suite": args.suite,
        "entries": args.entries,
        "batch": args.batch,
        "append_s": round(append_s, 3),
        "appends_per_s": round(args.entries / append_s, 1),
        "verify_s": round(verify_s, 3),
        "verified_ok": report.ok,
        "tree_size": report.tree_size - start_size if start_size else report.tree_size,
        "heads_checked": report.heads_checked,
        "targets": {"appends_per_s": 20000, "verify_s_max": 10.0},
        "meets_targets": report.ok and args.entries / append_s >= 20000 and verify_s < 10.0,
    }
    print(json.dumps(out, ensure_ascii=False))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
