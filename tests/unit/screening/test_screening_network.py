"""Bidder and network features: computed from the other tenders only, never from labels."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from sunbid.screening.network import NETWORK_NAMES, cobidding_graph, network_features


def _bids(rows: list[tuple[str, str | None, int, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "tender_id": [r[0] for r in rows],
            "bidder_id": [r[1] for r in rows],
            "is_winner": [r[2] for r in rows],
            "label": [r[3] for r in rows],
        },
        schema={"tender_id": pl.String, "bidder_id": pl.String, "is_winner": pl.Int8, "label": pl.Int8},
    )


# A wins T1-T3 against B and C; D and E meet once in T4.
ROWS = [
    ("T1", "A", 1, 0),
    ("T1", "B", 0, 0),
    ("T1", "C", 0, 0),
    ("T2", "A", 1, 0),
    ("T2", "B", 0, 0),
    ("T2", "C", 0, 0),
    ("T3", "A", 1, 0),
    ("T3", "B", 0, 0),
    ("T3", "C", 0, 0),
    ("T4", "A", 0, 1),
    ("T4", "B", 1, 1),
    ("T4", "C", 0, 1),
    ("T5", "D", 1, 0),
    ("T5", "E", 0, 0),
]


def test_graph_counts_bids_wins_and_joint_tenders() -> None:
    g = cobidding_graph({"T1": ["A", "B"], "T2": ["A", "B", "C"]}, {"T1": {"A"}, "T2": {"C"}})
    assert g.nodes["A"] == {"bids": 2, "wins": 1}
    assert g.edges["A", "B"]["weight"] == 2 and g.edges["B", "C"]["weight"] == 1


def test_features_come_from_the_other_tenders_only() -> None:
    order = ["T1", "T2", "T3", "T4", "T5"]
    f = network_features(_bids(ROWS), order)
    # T4: elsewhere A won 3 of 3 (标王), B and C lost 3 of 3 (consistent losers).
    assert f["win_rate_max"][3] == 1.0
    assert f["loser_share"][3] == pytest.approx(2 / 3)
    # T1: elsewhere A won T2, T3 and lost T4 (2/3); B won 1 of 3; C won 0 of 3.
    assert f["win_rate_max"][0] == pytest.approx(2 / 3)
    assert f["loser_share"][0] == pytest.approx(1 / 3)
    # Pairs of T1 met in 3 other tenders, each bidder had 3 other bids: Jaccard 3 / (3 + 3 - 3) = 1.
    assert f["pair_jaccard"][0] == pytest.approx(1.0)
    assert f["group_tenders"][0] == pytest.approx(math.log1p(3))
    # T1's pairs elsewhere: A-B won 2 (A) + 1 (B) -> 2/3 balanced; A-C 2 + 0 -> 0; B-C only 1 win (skipped).
    assert f["rotation"][0] == pytest.approx(1 / 3)
    assert f["rotation"][3] == 0.0  # in T4's pairs elsewhere A always won: no rotation
    # T5's bidders have no other tenders.
    assert math.isnan(f["win_rate_max"][4]) and f["pair_jaccard"][4] == 0.0 and f["group_tenders"][4] == 0.0
    assert f["community_share"][4] == 1.0


def test_labels_never_change_the_features() -> None:
    order = ["T1", "T2", "T3", "T4", "T5"]
    flipped = [(t, b, w, 1 - y) for t, b, w, y in ROWS]
    a = network_features(_bids(ROWS), order)
    b = network_features(_bids(flipped), order)
    for name in NETWORK_NAMES:
        assert np.array_equal(a[name], b[name], equal_nan=True), name


def test_without_bidder_ids_every_feature_is_missing() -> None:
    rows = [(t, None, w, y) for t, _, w, y in ROWS]
    f = network_features(_bids(rows), ["T1", "T2"])
    assert all(np.isnan(f[n]).all() for n in NETWORK_NAMES)
