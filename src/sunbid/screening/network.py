"""Bidder and co-bidding network features, aggregated to the tender (RULES.md §7: 标王, 陪标专业户, 抱团).

Every feature of a tender is computed from the **other** tenders of the same data (leave-one-tender-out): a
bidder's win rate, participations and co-bids never include the tender being scored, so a tender's own outcome
cannot leak into its features. Only unlabelled structure is used (who bid, who won); the collusion labels are
never read here, so computing these features once over a file, outside the cross-validation folds, leaks neither
labels nor anything of the test fold's labels into training. The one exception to leave-one-out is the community
partition (Louvain on the whole co-bidding graph), which is unlabelled structure as well.

Tenders without bidder identifiers get ``NaN`` features (the models treat them as missing).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Final

import networkx as nx
import numpy as np
import polars as pl

from sunbid.screening.screens import FloatArray

MIN_HISTORY: Final = 3  # other tenders a bidder needs before its win rate means anything
COVER_MIN_BIDS: Final = 5  # 陪标专业户: at least this many other bids ...
COVER_MAX_WIN_RATE: Final = 0.1  # ... and a win rate at most this
MAX_PAIRS_PER_TENDER: Final = 400  # pairs of a very large tender are sampled deterministically beyond this


@dataclass(frozen=True)
class NetworkInfo:
    """A network feature: column name, Chinese and English names, definition and collusion direction."""

    name: str
    zh: str
    en: str
    definition: str
    direction: int


NETWORK_FEATURES: Final[tuple[NetworkInfo, ...]] = (
    NetworkInfo(
        "win_rate_max",
        "标王（最高历史中标率）",
        "top bidder's win rate elsewhere",
        "max over the tender's bidders (>= 3 other bids) of wins / bids in other tenders",
        1,
    ),
    NetworkInfo(
        "cover_share",
        "陪标专业户占比",
        "share of professional cover bidders",
        "share of bidders with >= 5 other bids and a win rate <= 10 % there",
        1,
    ),
    NetworkInfo(
        "loser_share",
        "长期陪跑者占比",
        "share of consistent losers",
        "share of bidders with >= 3 other bids and no win there",
        1,
    ),
    NetworkInfo(
        "pair_jaccard",
        "固定搭档程度",
        "recurring bidder pairs",
        "mean over bidder pairs of co-bids / (bids_i + bids_j - co-bids), other tenders only",
        1,
    ),
    NetworkInfo(
        "group_tenders",
        "抱团投标次数",
        "recurring group",
        "log(1 + most other tenders any pair of the tender's bidders bid together in)",
        1,
    ),
    NetworkInfo(
        "rotation",
        "轮流中标",
        "win rotation",
        "mean over pairs with >= 2 wins in their other joint tenders of 2 min(w_i, w_j) / (w_i + w_j)",
        1,
    ),
    NetworkInfo(
        "community_share",
        "同一团伙占比",
        "bidders from one community",
        "largest share of the tender's bidders in one Louvain community of the co-bidding graph",
        1,
    ),
)
NETWORK_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in NETWORK_FEATURES)

Pair = tuple[str, str]


@dataclass
class _Counts:
    """Bids and wins per bidder; joint tenders and each member's wins in them per (sorted) pair."""

    bids: Counter[str] = field(default_factory=Counter)
    wins: Counter[str] = field(default_factory=Counter)
    joint: Counter[Pair] = field(default_factory=Counter)
    joint_wins: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (a, b, winner of a/b)


def _pairs(bidders: list[str]) -> list[Pair]:
    pairs = list(combinations(sorted(bidders), 2))
    if len(pairs) > MAX_PAIRS_PER_TENDER:
        step = len(pairs) / MAX_PAIRS_PER_TENDER
        pairs = [pairs[int(i * step)] for i in range(MAX_PAIRS_PER_TENDER)]
    return pairs


def _count(tenders: dict[str, list[str]], winners: dict[str, set[str]]) -> _Counts:
    c = _Counts()
    for tid, bidders in tenders.items():
        won = winners.get(tid, set())
        c.bids.update(bidders)
        c.wins.update(b for b in bidders if b in won)
        for a, b in _pairs(bidders):
            c.joint[a, b] += 1
            for w in (a, b):
                if w in won:
                    c.joint_wins[a, b, w] += 1
    return c


def cobidding_graph(tenders: dict[str, list[str]], winners: dict[str, set[str]]) -> nx.Graph:
    """Bidders as nodes (``bids``, ``wins``), an edge per pair that bid together (``weight``: joint tenders)."""
    c = _count(tenders, winners)
    graph: nx.Graph = nx.Graph()
    graph.add_nodes_from((b, {"bids": n, "wins": c.wins[b]}) for b, n in c.bids.items())
    graph.add_weighted_edges_from((a, b, w) for (a, b), w in c.joint.items())
    return graph


def network_features(bids: pl.DataFrame, tender_order: list[str]) -> dict[str, FloatArray]:
    """The features of :data:`NETWORK_FEATURES` for each tender of ``tender_order`` (leave-one-tender-out).

    Counting is linear in the number of bidder pairs; the Louvain partition of the graph is the costly part on
    very large markets.
    """
    size = len(tender_order)
    out = {name: np.full(size, np.nan) for name in NETWORK_NAMES}
    known = bids.filter(pl.col("bidder_id").is_not_null())
    if known.height == 0:
        return out
    tenders: dict[str, list[str]] = defaultdict(list)
    winners: dict[str, set[str]] = defaultdict(set)
    for tid, bidder, win in known.select("tender_id", "bidder_id", "is_winner").iter_rows():
        if bidder not in tenders[tid]:
            tenders[tid].append(bidder)
        if win == 1:
            winners[tid].add(bidder)
    c = _count(tenders, winners)
    graph = cobidding_graph(tenders, winners)
    community: dict[str, int] = {}
    if graph.number_of_edges():
        for k, members in enumerate(nx.community.louvain_communities(graph, weight="weight", seed=0)):
            for m in members:
                community[m] = k

    for pos, tid in enumerate(tender_order):
        bidders = tenders.get(tid, [])
        if len(bidders) < 2:
            continue
        won_here = winners.get(tid, set())
        rates: list[float] = []
        cover = losers = eligible = 0
        for b in bidders:
            other_bids = c.bids[b] - 1
            other_wins = c.wins[b] - int(b in won_here)
            if other_bids >= MIN_HISTORY:
                rates.append(other_wins / other_bids)
                eligible += 1
                losers += int(other_wins == 0)
            if other_bids >= COVER_MIN_BIDS and other_wins / other_bids <= COVER_MAX_WIN_RATE:
                cover += 1
        out["win_rate_max"][pos] = max(rates) if rates else np.nan
        out["cover_share"][pos] = cover / len(bidders)
        out["loser_share"][pos] = losers / eligible if eligible else np.nan

        jac: list[float] = []
        most = 0
        balance: list[float] = []
        for a, b in _pairs(bidders):
            co = c.joint[a, b] - 1
            pa, pb = c.bids[a] - 1, c.bids[b] - 1
            union = pa + pb - co
            jac.append(co / union if union > 0 else 0.0)
            most = max(most, co)
            wa = c.joint_wins[a, b, a] - int(a in won_here)
            wb = c.joint_wins[a, b, b] - int(b in won_here)
            if wa + wb >= 2:
                balance.append(2 * min(wa, wb) / (wa + wb))
        out["pair_jaccard"][pos] = float(np.mean(jac)) if jac else np.nan
        out["group_tenders"][pos] = float(np.log1p(most))
        out["rotation"][pos] = float(np.mean(balance)) if balance else np.nan

        comms = Counter(community.get(b, -1) for b in bidders)
        out["community_share"][pos] = comms.most_common(1)[0][1] / len(bidders)
    return out
