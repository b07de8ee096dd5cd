"""Screening use cases: score a file (with a model, cross-validated, or unsupervised) and keep the results of
imported files under ``<data_dir>/screening/`` for the regulator's view. Nothing is stored in the database.

A stored import is ``<name>.json``: the import report, how it was scored, every tender's score and reasons, and
the bids of the riskiest tenders (for the plots). Names are restricted to ``[A-Za-z0-9_-]`` so that a name can
never reach outside the folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import polars as pl

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.screening.explain import explain, flagged
from sunbid.screening.features import NAMES_EN, NAMES_ZH, TenderTable, tender_table
from sunbid.screening.io import BidData
from sunbid.screening.model import (
    DEFAULT_SEED,
    N_TREES,
    Progress,
    TrainedModel,
    evaluate,
    no_progress,
    train,
    unsupervised_scores,
)

STORE_FORMAT: Final = "sunbid-screening-import/1"
NAME_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
KEEP_BIDS_OF: Final = 200  # riskiest tenders whose bids are kept for plots

METHODS: Final[dict[str, tuple[str, str]]] = {
    "model": ("已训练模型", "trained model"),
    "cross_validated": ("分组交叉验证（样本外）", "tender-grouped cross-validation (out of fold)"),
    "unsupervised": ("无监督（稳健标准化偏离）", "unsupervised (robust standardised deviations)"),
}


@dataclass
class ScoreResult:
    """Per-tender scores of one file, riskiest first, with the method and the import report."""

    method: str
    tenders: list[dict[str, Any]]
    report: dict[str, Any]
    evaluation: dict[str, Any] | None = None

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        rows = self.tenders if top is None else self.tenders[:top]
        out: dict[str, Any] = {
            "method": self.method,
            "method_zh": METHODS[self.method][0],
            "method_en": METHODS[self.method][1],
            "tenders": len(self.tenders),
            "import": self.report,
            "scores": rows,
        }
        if self.evaluation is not None:
            out["evaluation"] = self.evaluation
        return out


def score(
    data: BidData,
    model: TrainedModel | None = None,
    *,
    seed: int = DEFAULT_SEED,
    trees: int = N_TREES,
    progress: Progress = no_progress,
    table: TenderTable | None = None,
) -> ScoreResult:
    """Score every tender of ``data``.

    With ``model``: its probabilities. Without, on a labelled file: out-of-fold probabilities of the
    tender-grouped cross-validation (no tender is scored by a forest that saw it). Without labels: the
    unsupervised score. Reasons come from the model's reference, a model fitted on the whole labelled file, or
    the unsupervised reference respectively.
    """
    progress("screens")
    table = table if table is not None else tender_table(data)
    evaluation: dict[str, Any] | None = None
    if model is not None:
        method = "model"
        scores = model.predict(table)
        ref = model.reference
    elif data.labelled:
        method = "cross_validated"
        ev = evaluate(table, seed=seed, trees=trees, progress=progress)
        scores = np.nan_to_num(ev.oof, nan=0.0)
        evaluation = ev.to_dict()
        progress("explanations")
        ref = train(table, seed=seed, trees=trees).reference
    else:
        method = "unsupervised"
        scores, ref = unsupervised_scores(table)
    reasons = explain(table, ref)
    flags = flagged(table, ref)
    n_bids = table.features["n_bids"]
    rows: list[dict[str, Any]] = [
        {
            "tender_id": tid,
            "score": round(float(scores[i]), 4),
            "label": None if table.labels[i] < 0 else int(table.labels[i]),
            "n_bids": int(n_bids[i]),
            "reasons": [r.to_dict() for r in reasons[i]],
            "flagged": flags[i],
        }
        for i, tid in enumerate(table.tender_ids)
    ]
    rows.sort(key=lambda r: (-r["score"], r["tender_id"]))
    for rank, r in enumerate(rows, start=1):
        r["rank"] = rank
    return ScoreResult(method, rows, data.report.to_dict(), evaluation)


def result_doc(name: str, source: str, data: BidData, result: ScoreResult) -> dict[str, Any]:
    """The document the regulator's page shows (and a stored import holds): the summary, every tender's score and
    reasons, and the bids of the riskiest :data:`KEEP_BIDS_OF` tenders for their plots."""
    keep = [r["tender_id"] for r in result.tenders[:KEEP_BIDS_OF]]
    bids: dict[str, list[dict[str, Any]]] = {}
    sub = data.bids.filter(pl.col("tender_id").is_in(keep)).sort("tender_id", "bid_amount")
    for tid, bidder, amount, win, est in sub.select(
        "tender_id", "bidder_id", "bid_amount", "is_winner", "estimate"
    ).iter_rows():
        bids.setdefault(tid, []).append({"bidder": bidder, "amount": amount, "winner": win, "estimate": est})
    return {
        "format": STORE_FORMAT,
        "name": name,
        "source": source,
        "method": result.method,
        "tenders": len(result.tenders),
        "labelled": data.labelled,
        "evaluation": result.evaluation,
        "import": result.report,
        "scores": result.tenders,
        "bids": bids,
    }


# --- stored imports ----------------------------------------------------------------------------------------


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValidationFailed(
            "screen.bad_name",
            "导入名称只能包含字母、数字、- 和 _（最多 64 个字符）。",
            "An import name may contain only letters, digits, - and _ (at most 64 characters).",
        )
    return name


def default_name(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-")[:64]
    return stem or "import"


class ScreeningStore:
    """Scored imports kept as JSON files in one folder (``<data_dir>/screening``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of_data_dir(cls, data_dir: Path) -> ScreeningStore:
        return cls(data_dir / "screening")

    def _path(self, name: str) -> Path:
        return self.root / f"{check_name(name)}.json"

    def save(self, name: str, source: str, data: BidData, result: ScoreResult) -> dict[str, Any]:
        """Store ``result`` under ``name`` with the bids of its riskiest tenders; returns the summary."""
        doc = result_doc(name, source, data, result)
        summary = {k: v for k, v in doc.items() if k not in ("scores", "bids")}
        path = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        tmp.replace(path)
        return summary

    def load(self, name: str) -> dict[str, Any]:
        path = self._path(name)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise NotFound(
                "screen.import_not_found", f"没有名为 {name} 的筛查导入。", f"There is no screening import {name}."
            ) from exc
        except (json.JSONDecodeError, UnicodeDecodeError):
            doc = None
        if not isinstance(doc, dict) or doc.get("format") != STORE_FORMAT:
            raise ValidationFailed(
                "screen.import_invalid", f"筛查导入 {name} 的文件已损坏。", f"The screening import {name} is damaged."
            )
        return doc

    def list(self) -> list[dict[str, Any]]:
        """Summaries of the stored imports, by name (damaged files are skipped)."""
        out: list[dict[str, Any]] = []
        if not self.root.is_dir():
            return out
        for path in sorted(self.root.glob("*.json")):
            if not NAME_RE.match(path.stem):
                continue
            try:
                doc = self.load(path.stem)
            except (ValidationFailed, NotFound):
                continue
            out.append({k: doc.get(k) for k in ("name", "source", "method", "tenders", "labelled", "evaluation")})
        return out


def feature_label(name: str, english: bool) -> str:
    return (NAMES_EN if english else NAMES_ZH).get(name, name)
