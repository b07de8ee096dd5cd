"""Synthetic expert pools for benchmarks, property tests and demonstrations (pure, seeded, no personal data)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sunbid.experts.domain import Employment, ExpertProfile, ExpertStatus, Penalty, SpecialtyTree
from sunbid.identity.domain import make_uscc

__all__ = ["employer_usccs", "synthetic_pool"]

REGIONS = ("530000", "530100", "530600", "530700", "520000", "520100")
REGULATOR_SECTORS = ("housing", "transport", "water", "finance", "development")


def employer_usccs(count: int, *, offset: int = 1000) -> list[str]:
    """``count`` distinct, valid USCCs of employers."""
    return [make_uscc(offset + i) for i in range(count)]


def synthetic_pool(
    n: int,
    tree: SpecialtyTree,
    *,
    seed: int = 0,
    employers: int = 2000,
    now: datetime | None = None,
) -> list[ExpertProfile]:
    """``n`` experts with leaf specialties, employment histories, conflicts, statuses, penalties and draws.

    Roughly: 3 % suspended, 1 % removed, 2 % penalised, 5 % regulator staff, 10 % with a past employer, 5 %
    with a declared conflict, 20 % with recent draws.
    """
    rng = random.Random(seed)
    when = now or datetime(2026, 11, 23, tzinfo=UTC)
    today = when.date()
    leaves = sorted(c for c in tree.nodes if c not in tree.children)
    orgs = employer_usccs(employers)
    out: list[ExpertProfile] = []
    for i in range(n):
        specs = frozenset(rng.sample(leaves, rng.choice((1, 1, 1, 2, 3))))
        employments: list[Employment] = []
        if rng.random() < 0.95:
            employments.append(Employment(rng.choice(orgs), date(2015, 1, 1) + timedelta(days=rng.randrange(3000))))
        if rng.random() < 0.10:
            end = today - timedelta(days=rng.randrange(1, 2500))
            employments.append(Employment(rng.choice(orgs), end - timedelta(days=rng.randrange(200, 2000)), end))
        r = rng.random()
        status = ExpertStatus.SUSPENDED if r < 0.03 else ExpertStatus.REMOVED if r < 0.04 else ExpertStatus.ACTIVE
        penalties: tuple[Penalty, ...] = ()
        if rng.random() < 0.02:
            start = today - timedelta(days=rng.randrange(0, 700))
            penalties = (Penalty(start, start + timedelta(days=rng.randrange(30, 730))),)
        draws: tuple[datetime, ...] = ()
        if rng.random() < 0.2:
            draws = tuple(
                sorted(when - timedelta(days=rng.randrange(1, 500), minutes=rng.randrange(1440)) for _ in range(6))
            )[: rng.randrange(1, 7)]
        out.append(
            ExpertProfile(
                code=f"EX{i:07d}",
                specialties=specs,
                region_code=rng.choice(REGIONS),
                status=status,
                employments=tuple(employments),
                conflict_orgs=frozenset(rng.sample(orgs, 1)) if rng.random() < 0.05 else frozenset(),
                conflict_persons=frozenset({f"P{rng.randrange(500)}"}) if rng.random() < 0.02 else frozenset(),
                regulator_sectors=frozenset({rng.choice(REGULATOR_SECTORS)}) if rng.random() < 0.05 else frozenset(),
                penalties=penalties,
                draw_times=draws,
            )
        )
    return out
