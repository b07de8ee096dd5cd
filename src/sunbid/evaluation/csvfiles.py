"""The calculator's CSV files — bids and scores — pure and strict; every error names line and column.

**Bids** (``sunbid calc price-scores``, ``sunbid calc evaluate``), columns by English or Chinese header name:

* ``bidder`` (投标人) — required, unique;
* ``price`` (报价, 投标报价) — required, yuan with at most 2 decimals, positive, no thousands separators;
* ``small_enterprise`` (小微企业) — ``1/0``, ``true/false``, ``yes/no``, ``是/否``, empty = no;
* one column per adjustment the method declares (经评审的最低投标价法), named by its id; empty = 0;
* one column per fact field 事实数据 the method's objective rules read, headed exactly by the field name
  (``duration_days``, ``quality``, ``extra.类似工程业绩``); the cell is the bid's value as text, empty = not
  provided. A field the method reads but the file lacks is reported in ``BidsFile.missing_fields`` (every bid's
  fact is then missing: 0 points).

**Scores** (``sunbid calc evaluate``): ``expert,bidder,item,score`` (专家, 投标人, 评分项, 得分), one row per expert
and subjective item. Scores have at most 2 decimals and lie within the item's maximum. Objective items are
computed from the facts (:mod:`sunbid.evaluation.objective`): a row for one is refused.

Lines and columns are 1-based; the header is line 1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import EvaluationMethod
from sunbid.evaluation.objective import fact_fields
from sunbid.evaluation.price import Bid
from sunbid.evaluation.scoring import ExpertScore

__all__ = [
    "MAX_BIDS",
    "MAX_FACT_CHARS",
    "BidsFile",
    "ScoreSheet",
    "parse_bids_csv",
    "parse_bids_file",
    "parse_scores_csv",
]

MAX_BIDS: Final = 10_000
MAX_BYTES: Final = 4 << 20
MAX_FACT_CHARS: Final = 1000
_ALIASES: Final = {
    "bidder": "bidder",
    "投标人": "bidder",
    "price": "price",
    "报价": "price",
    "投标报价": "price",
    "small_enterprise": "small_enterprise",
    "小微企业": "small_enterprise",
}
_TRUE: Final = frozenset({"1", "true", "yes", "y", "是"})
_FALSE: Final = frozenset({"", "0", "false", "no", "n", "否"})
_MONEY_RE: Final = re.compile(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,2})?")
_SIGNED_RE: Final = re.compile(r"-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,6})?")


def _err(line: int, column: int, name: str, zh: str, en: str, *, kind: str = "bids") -> ValidationFailed:
    file_zh, file_en = ("投标报价文件", "bids file") if kind == "bids" else ("评分文件", "scores file")
    return ValidationFailed(
        f"{kind}.invalid",
        f"{file_zh}第 {line} 行第 {column} 列（{name}）：{zh}",
        f"{file_en} line {line}, column {column} ({name}): {en}",
        details={"line": line, "column": column, "field": name},
    )


def _rows(data: str | bytes, kind: str) -> list[list[str]]:
    file_zh, file_en = ("投标报价文件", "bids file") if kind == "bids" else ("评分文件", "scores file")
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ValidationFailed(f"{kind}.too_large", f"{file_zh}过大", f"the {file_en} is too large")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                f"{kind}.encoding", f"{file_zh}须为 UTF-8 编码", f"the {file_en} must be UTF-8"
            ) from exc
    data = data.removeprefix("\ufeff")
    try:
        rows = list(csv.reader(io.StringIO(data, newline="")))
    except csv.Error as exc:
        raise ValidationFailed(
            f"{kind}.syntax", f"{file_zh} CSV 格式错误：{exc}", f"{file_en}: bad CSV: {exc}"
        ) from exc
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    if not rows:
        raise ValidationFailed(f"{kind}.empty", f"{file_zh}为空", f"the {file_en} is empty")
    return rows


@dataclass(frozen=True, slots=True)
class BidsFile:
    """A bids CSV read: the bids, their facts (bidder → field → text or None) and the fact fields it lacks."""

    bids: tuple[Bid, ...]
    facts: Mapping[str, Mapping[str, str | None]]
    missing_fields: tuple[str, ...]


def parse_bids_csv(data: str | bytes, method: EvaluationMethod) -> list[Bid]:
    """The bids of a CSV file (see the module docstring); ``ValidationFailed`` names line and column."""
    return list(parse_bids_file(data, method).bids)


def parse_bids_file(data: str | bytes, method: EvaluationMethod) -> BidsFile:
    """The bids and facts of a CSV file (see the module docstring); ``ValidationFailed`` names line and column."""
    rows = _rows(data, "bids")
    adjustments = {a.id: a for a in method.adjustments}
    fields = fact_fields(method)
    header: list[str] = []
    for col, raw in enumerate(rows[0], start=1):
        name = raw.strip()
        own = name if name in adjustments or name in fields else ""
        canonical = _ALIASES.get(name, _ALIASES.get(name.lower(), own))
        if not canonical:
            allowed = ", ".join(["bidder", "price", "small_enterprise", *adjustments, *fields])
            raise _err(1, col, name, f"未知列，可用列：{allowed}", f"unknown column; columns are: {allowed}")
        if canonical in header:
            raise _err(1, col, name, "列重复", "the column appears twice")
        header.append(canonical)
    for required in ("bidder", "price"):
        if required not in header:
            raise _err(1, len(header) + 1, required, "缺少必需的列", "this column is required")
    if len(rows) - 1 > MAX_BIDS:
        raise ValidationFailed("bids.too_many", f"投标超过 {MAX_BIDS} 家", f"more than {MAX_BIDS} bids")
    bids: list[Bid] = []
    facts: dict[str, dict[str, str | None]] = {}
    seen: dict[str, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise _err(
                line,
                min(len(row), len(header)) + 1,
                "-",
                f"应有 {len(header)} 列，实有 {len(row)} 列",
                f"expected {len(header)} columns, found {len(row)}",
            )
        values = {name: (col, cell.strip()) for col, (name, cell) in enumerate(zip(header, row, strict=True), start=1)}
        col, bidder = values["bidder"]
        if not bidder or len(bidder) > 200:
            raise _err(line, col, "bidder", "投标人名称须为 1–200 个字符", "the bidder must be 1-200 characters")
        if bidder in seen:
            raise _err(line, col, "bidder", f"投标人与第 {seen[bidder]} 行重复", f"same bidder as line {seen[bidder]}")
        seen[bidder] = line
        col, price = values["price"]
        if not _MONEY_RE.fullmatch(price) or Decimal(price) <= 0:
            raise _err(
                line,
                col,
                "price",
                f"报价 {price!r} 须为正数，以元为单位、最多两位小数、不带千分位",
                f"price {price!r} must be a positive amount in yuan, at most 2 decimals, no separators",
            )
        small = False
        if "small_enterprise" in values:
            col, flag = values["small_enterprise"]
            if flag.lower() in _TRUE:
                small = True
            elif flag.lower() not in _FALSE:
                raise _err(
                    line, col, "small_enterprise", f"无法识别 {flag!r}（是/否、1/0）", f"cannot read {flag!r} (1/0)"
                )
        adj: dict[str, Decimal] = {}
        for adj_id in adjustments:
            if adj_id in values:
                col, text = values[adj_id]
                if text:
                    if not _SIGNED_RE.fullmatch(text):
                        raise _err(line, col, adj_id, f"{text!r} 不是十进制数", f"{text!r} is not a decimal")
                    adj[adj_id] = Decimal(text)
        bids.append(Bid(bidder, Decimal(price), small, adj))
        facts[bidder] = {}
        for field in fields:
            if field in values:
                col, text = values[field]
                if len(text) > MAX_FACT_CHARS:
                    raise _err(
                        line, col, field, f"超过 {MAX_FACT_CHARS} 个字符", f"longer than {MAX_FACT_CHARS} characters"
                    )
                facts[bidder][field] = text or None
    if not bids:
        raise ValidationFailed("bids.empty", "投标报价文件没有投标", "the bids file has no bid")
    return BidsFile(tuple(bids), facts, tuple(f for f in fields if f not in header))


_SCORE_ALIASES: Final = {
    "expert": "expert",
    "专家": "expert",
    "bidder": "bidder",
    "投标人": "bidder",
    "item": "item",
    "评分项": "item",
    "score": "score",
    "得分": "score",
}
_SCORE_RE: Final = re.compile(r"(0|[1-9][0-9]{0,5})(\.[0-9]{1,2})?")


@dataclass(frozen=True, slots=True)
class ScoreSheet:
    """The experts' scores of the subjective items, and the panel in order."""

    scores: tuple[ExpertScore, ...]
    experts: tuple[str, ...]

    def without(self, bidders: set[str]) -> ScoreSheet:
        """The sheet without the rows of ``bidders`` (rejected bids are not evaluated)."""
        return ScoreSheet(tuple(s for s in self.scores if s.bidder not in bidders), self.experts)


def parse_scores_csv(data: str | bytes, method: EvaluationMethod) -> ScoreSheet:
    """The scores CSV (see the module docstring) checked against the method's items."""
    rows = _rows(data, "scores")
    header: list[str] = []
    for col, raw in enumerate(rows[0], start=1):
        name = _SCORE_ALIASES.get(raw.strip().lower(), _SCORE_ALIASES.get(raw.strip(), ""))
        if not name or name in header:
            raise _err(
                1,
                col,
                raw.strip(),
                "未知或重复的列（expert,bidder,item,score）",
                "unknown or repeated column",
                kind="scores",
            )
        header.append(name)
    if sorted(header) != ["bidder", "expert", "item", "score"]:
        raise _err(
            1,
            len(header) + 1,
            "-",
            "须有 expert,bidder,item,score 四列",
            "needs expert,bidder,item,score",
            kind="scores",
        )
    items = {i.id: i for i in method.items}
    scores: list[ExpertScore] = []
    experts: dict[str, None] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise _err(
                line,
                min(len(row), len(header)) + 1,
                "-",
                f"应有 {len(header)} 列，实有 {len(row)} 列",
                f"expected {len(header)} columns, found {len(row)}",
                kind="scores",
            )
        v = {name: (col, cell.strip()) for col, (name, cell) in enumerate(zip(header, row, strict=True), start=1)}
        col, item_id = v["item"]
        item = items.get(item_id)
        if item is None:
            raise _err(
                line,
                col,
                "item",
                f"评标办法没有评分项 {item_id!r}",
                f"the method has no item {item_id!r}",
                kind="scores",
            )
        if item.rule is not None:
            field = item.rule.field
            raise _err(
                line,
                col,
                "item",
                f"客观评分项 {item_id}（{item.name_zh}）由评分规则根据投标文件数据计算，"
                f"请在投标报价文件中提供 {field} 列",
                f"objective item {item_id} is computed by its rule from the bids' data: "
                f"give the column {field} in the bids file",
                kind="scores",
            )
        col, bidder = v["bidder"]
        if not bidder:
            raise _err(line, col, "bidder", "投标人不能为空", "the bidder is empty", kind="scores")
        col, expert = v["expert"]
        if not expert:
            raise _err(
                line,
                col,
                "expert",
                f"主观评分项 {item_id} 须写专家",
                f"subjective item {item_id} needs an expert",
                kind="scores",
            )
        col, text = v["score"]
        if not _SCORE_RE.fullmatch(text) or Decimal(text) > item.max_points:
            raise _err(
                line,
                col,
                "score",
                f"得分 {text!r} 须在 0–{item.max_points} 之间、最多两位小数",
                f"score {text!r} must be 0-{item.max_points} with at most 2 decimals",
                kind="scores",
            )
        key = (expert, bidder, item_id)
        if key in seen:
            raise _err(line, 1, "-", f"与第 {seen[key]} 行重复", f"repeats line {seen[key]}", kind="scores")
        seen[key] = line
        experts.setdefault(expert, None)
        scores.append(ExpertScore(expert, bidder, item_id, Decimal(text)))
    return ScoreSheet(tuple(scores), tuple(experts))
