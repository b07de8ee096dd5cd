"""Why a tender scores high: its top contributing screens, in Chinese and English.

Method (standardised deviations weighted by importance): for each feature ``j`` and tender ``t``,

    contribution[t, j] = weight[j] * max(0, direction[j] * z[t, j]),   z = (x - median) / (1.4826 * MAD)

where median and MAD come from the reference tenders (the competitive training tenders of a supervised model;
all tenders for the unsupervised score), ``direction`` is the side on which collusive training tenders lie
(sign of the feature's univariate ROC-AUC − 0.5; the literature's sign when that is unclear or unlabelled) and
``weight`` the forest's impurity importance (equal weights without a model). A screen only explains a score
when the tender lies on its suspicious side; the top three positive contributions are reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from sunbid.screening.features import NAMES_EN, NAMES_ZH, TenderTable
from sunbid.screening.model import Reference
from sunbid.screening.screens import FloatArray

TOP: Final = 3
PERCENT: Final = frozenset(
    {
        "cv",
        "spread",
        "diffp",
        "est_low_ratio",
        "est_mean_ratio",
        "est_share_above",
        "winner_margin",
        "win_rate_max",
        "cover_share",
        "loser_share",
        "community_share",
    }
)


@dataclass(frozen=True)
class Reason:
    """One screen that pushed a tender's score up."""

    feature: str
    value: float
    typical: float
    z: float
    contribution: float
    text_zh: str
    text_en: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "screen": self.feature,
            "name_zh": NAMES_ZH[self.feature],
            "name_en": NAMES_EN[self.feature],
            "value": _round(self.value),
            "typical": _round(self.typical),
            "z": round(self.z, 2),
            "contribution": round(self.contribution, 4),
            "text_zh": self.text_zh,
            "text_en": self.text_en,
        }


def _round(v: float) -> float | None:
    return None if not math.isfinite(v) else float(f"{v:.6g}")


def fmt(feature: str, value: float) -> str:
    """A value as a person reads it (percentages for ratios)."""
    if not math.isfinite(value):
        return "—"
    if feature in PERCENT:
        return f"{value * 100:.2f}%"
    if feature == "n_bids":
        return f"{value:.0f}"
    return f"{value:.3g}"


def reason(feature: str, value: float, typical: float, z: float, contribution: float) -> Reason:
    high = z > 0
    zh = f"{NAMES_ZH[feature]}{'偏高' if high else '偏低'}：{fmt(feature, value)}（常见值 {fmt(feature, typical)}）"
    en = f"{NAMES_EN[feature]} {'high' if high else 'low'}: {fmt(feature, value)} (typical {fmt(feature, typical)})"
    return Reason(feature, value, typical, z, contribution, zh, en)


def explain(table: TenderTable, ref: Reference, top: int = TOP) -> list[list[Reason]]:
    """The top contributing screens of every tender of ``table`` (possibly fewer than ``top``)."""
    x = table.matrix(ref.names)
    if x.shape[0] == 0:
        return []
    contrib = ref.contributions(x)
    z = np.nan_to_num(ref.z(x), nan=0.0)
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
    out: list[list[Reason]] = []
    for t in range(x.shape[0]):
        reasons = [
            reason(ref.names[j], float(x[t, j]), float(ref.median[j]), float(z[t, j]), float(contrib[t, j]))
            for j in order[t]
            if contrib[t, j] > 0
        ]
        out.append(reasons)
    return out


def flagged(table: TenderTable, ref: Reference, threshold: float = 2.0) -> list[list[str]]:
    """Per tender, the features at least ``threshold`` robust standard deviations on their suspicious side."""
    x = table.matrix(ref.names)
    if x.shape[0] == 0:
        return []
    zd: FloatArray = np.nan_to_num(ref.z(x) * ref.direction, nan=0.0)
    return [[ref.names[j] for j in np.flatnonzero(row >= threshold)] for row in zd]
