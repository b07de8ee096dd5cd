"""The tender table: one row per tender with its label, screens and network features, from validated bids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from sunbid.screening.io import BidData
from sunbid.screening.network import NETWORK_FEATURES, NETWORK_NAMES, network_features
from sunbid.screening.screens import SCREEN_NAMES, SCREENS, FloatArray, compute_screens, sort_bids

FEATURE_NAMES: Final[tuple[str, ...]] = SCREEN_NAMES + NETWORK_NAMES
DIRECTIONS: Final[dict[str, int]] = {s.name: s.direction for s in SCREENS} | {
    f.name: f.direction for f in NETWORK_FEATURES
}
NAMES_ZH: Final[dict[str, str]] = {s.name: s.zh for s in SCREENS} | {f.name: f.zh for f in NETWORK_FEATURES}
NAMES_EN: Final[dict[str, str]] = {s.name: s.en for s in SCREENS} | {f.name: f.en for f in NETWORK_FEATURES}


@dataclass(frozen=True)
class TenderTable:
    """Tenders in a fixed order (ascending ``tender_id``) with their features and labels (``-1``: none)."""

    tender_ids: list[str]
    features: dict[str, FloatArray]
    labels: np.ndarray

    def matrix(self, names: tuple[str, ...] | list[str]) -> FloatArray:
        """The feature matrix (tenders × ``names``), ``NaN`` where a feature is undefined."""
        if not self.tender_ids:
            return np.empty((0, len(names)))
        return np.column_stack([self.features[n] for n in names]).astype(np.float64)

    @property
    def labelled_mask(self) -> np.ndarray:
        return np.asarray(self.labels >= 0)

    def __len__(self) -> int:
        return len(self.tender_ids)


def screen_frame(
    bids: pl.DataFrame,
    *,
    tender: str = "tender_id",
    amount: str = "bid_amount",
    winner: str | None = "is_winner",
    estimate: str | None = "estimate",
) -> pl.DataFrame:
    """All per-tender screens of ``bids`` (any order) as a frame: ``tender`` then one column per screen."""
    col = bids[tender]
    if col.dtype.is_integer():
        codes = col.cast(pl.Int64).to_numpy()
        decode: pl.Series | None = None
    else:
        text = col.cast(pl.String)
        codes = (text.rank("dense") - 1).cast(pl.Int64).to_numpy()  # dense rank: code k = k-th smallest id
        decode = text.unique().sort()
    w = bids[winner].fill_null(-1).cast(pl.Int8).to_numpy() if winner and winner in bids.columns else None
    e = bids[estimate].cast(pl.Float64).fill_null(np.nan).to_numpy() if estimate and estimate in bids.columns else None
    sorted_bids, run_codes = sort_bids(codes, bids[amount].cast(pl.Float64).to_numpy(), w, e)
    screens = compute_screens(sorted_bids)
    keys = pl.Series(tender, run_codes) if decode is None else decode.gather(run_codes).alias(tender)
    return pl.DataFrame([keys, *(pl.Series(k, v) for k, v in screens.items())])


def tender_table(data: BidData, *, network: bool = True) -> TenderTable:
    """Screens (and, unless ``network`` is false, network features) of every tender of ``data``."""
    bids = data.bids
    frame = screen_frame(bids).sort("tender_id")
    tender_ids = [str(t) for t in frame["tender_id"].to_list()]
    features = {k: frame[k].to_numpy().astype(np.float64) for k in SCREEN_NAMES}
    per_label = bids.group_by("tender_id").agg(pl.col("label").max().fill_null(-1).alias("y"))
    label_of = dict(zip(per_label["tender_id"].to_list(), per_label["y"].to_list(), strict=True))
    labels = np.array([int(label_of[t]) for t in tender_ids], dtype=np.int64)
    if network:
        features.update(network_features(bids, tender_ids))
    else:
        features.update({n: np.full(len(tender_ids), np.nan) for n in NETWORK_NAMES})
    return TenderTable(tender_ids, features, labels)
