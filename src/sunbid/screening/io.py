"""Import of historical bids (the CSV layout of ``shared/data/collusion/README.md``) with row-level validation.

Columns: ``tender_id, bidder_id, bid_amount, is_winner, estimate, date, label``. ``tender_id`` and
``bid_amount`` are required in every row; ``bidder_id``, ``is_winner``, ``estimate``, ``date`` and ``label`` may
be empty (``is_winner`` and ``label`` must then be ``0``/``1`` when given). Bad rows are reported with their line
(the header is line 1) and column, in Chinese and English; nothing is scored from a file with a bad row.
Tenders with a single bid cannot be screened: they are skipped and counted in the report's warnings.

UTF-8 (with or without BOM) is read; a file that is not UTF-8 is read as GB18030 (Excel's Chinese CSVs).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from sunbid.core.errors import ValidationFailed

REQUIRED: Final = ("tender_id", "bid_amount")
OPTIONAL: Final = ("bidder_id", "is_winner", "estimate", "date", "label")
COLUMNS: Final = ("tender_id", "bidder_id", "bid_amount", "is_winner", "estimate", "date", "label")
MAX_REPORTED: Final = 20
MAX_ID_CHARS: Final = 200


@dataclass(frozen=True)
class RowError:
    """One bad value: the file line (header = line 1), the column and what is wrong with it."""

    line: int
    column: str
    value: str
    problem_zh: str
    problem_en: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "problem_zh": self.problem_zh,
            "problem_en": self.problem_en,
        }


@dataclass
class ImportReport:
    """What an import read and what it skipped, with counted warnings."""

    rows: int = 0
    tenders: int = 0
    bids: int = 0
    skipped_single_bid: int = 0
    several_winners: int = 0
    unlabelled_tenders: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def warn(self, code: str, count: int, zh: str, en: str) -> None:
        if count:
            self.warnings.append({"code": code, "count": count, "message_zh": zh, "message_en": en})

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "tenders": self.tenders,
            "bids": self.bids,
            "skipped_single_bid": self.skipped_single_bid,
            "several_winners": self.several_winners,
            "unlabelled_tenders": self.unlabelled_tenders,
            "warnings": self.warnings,
        }


@dataclass(frozen=True)
class BidData:
    """Validated bids (one row per bid, tenders with at least two bids) and the import report.

    ``bids`` columns: tender_id (str), bidder_id (str, null when unknown), bid_amount (f64), is_winner (i8, null
    when unknown), estimate (f64, null), date (date, null), label (i8, null when unlabelled).
    """

    bids: pl.DataFrame
    report: ImportReport

    @property
    def labelled(self) -> bool:
        """Whether every tender has a label (a tender is collusive when any of its bids is labelled 1)."""
        return self.bids.height > 0 and self.bids["label"].null_count() == 0


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                "screen.csv_encoding",
                "CSV 文件编码无法识别（应为 UTF-8 或 GB18030）。",
                "The CSV file is neither UTF-8 nor GB18030.",
            ) from exc


def _bad(errors: list[RowError]) -> ValidationFailed:
    shown = errors[:5]
    zh = "；".join(f"第 {e.line} 行 {e.column} 列：{e.problem_zh}（{e.value!r}）" for e in shown)
    en = "; ".join(f"line {e.line}, column {e.column}: {e.problem_en} ({e.value!r})" for e in shown)
    more_zh = f" 等共 {len(errors)} 处" if len(errors) > len(shown) else ""
    more_en = f" and {len(errors) - len(shown)} more" if len(errors) > len(shown) else ""
    return ValidationFailed(
        "screen.csv_invalid",
        f"CSV 数据有误：{zh}{more_zh}。",
        f"Invalid CSV data: {en}{more_en}.",
        details={"errors": [e.to_dict() for e in errors[:MAX_REPORTED]], "error_count": len(errors)},
    )


def _collect(
    df: pl.DataFrame, mask: pl.Series, column: str, zh: str, en: str, errors: list[RowError], limit: int
) -> None:
    if len(errors) >= limit:
        return
    idx = mask.arg_true().head(limit - len(errors)).to_list()
    values = df[column]
    for i in idx:
        raw = values[i]
        errors.append(RowError(int(i) + 2, column, "" if raw is None else str(raw)[:60], zh, en))


def _ragged_line(text: str) -> tuple[int, int, int] | None:
    """The first line with more fields than the header (line, fields, columns), if any."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return None
    for row in reader:
        if len(row) > len(header):
            return reader.line_num, len(row), len(header)
    return None


def parse_csv_text(text: str) -> BidData:
    """Validate and type the rows of a historical-bids CSV (see the module docstring)."""
    try:
        raw = pl.read_csv(io.BytesIO(text.encode("utf-8")), infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, pl.exceptions.ShapeError) as exc:
        ragged = _ragged_line(text)
        if ragged is not None:
            line, found, expected = ragged
            raise ValidationFailed(
                "screen.csv_ragged",
                f"CSV 第 {line} 行有 {found} 个字段，表头只有 {expected} 列。",
                f"Line {line} of the CSV has {found} fields but the header has {expected} columns.",
                details={"line": line, "fields": found, "columns": expected},
            ) from exc
        raise ValidationFailed(
            "screen.csv_unreadable",
            f"无法读取 CSV 文件：{str(exc).splitlines()[0][:200]}",
            f"The CSV file cannot be read: {str(exc).splitlines()[0][:200]}",
        ) from exc
    header = [c.strip() for c in next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])]
    if len(header) != len(raw.columns):  # polars renames repeated names: judge the header as written
        header = [c.strip() for c in raw.columns]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ValidationFailed(
            "screen.csv_missing_column",
            f"CSV 第 1 行（表头）缺少必需列：{', '.join(missing)}。",
            f"Line 1 (header) of the CSV lacks required column(s): {', '.join(missing)}.",
            details={"missing": missing, "found": header},
        )
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise ValidationFailed(
            "screen.csv_duplicate_column",
            f"CSV 表头列重复：{', '.join(dupes)}。",
            f"The CSV header repeats column(s): {', '.join(dupes)}.",
        )
    raw.columns = header
    return _validate(raw)


def from_records(records: Iterable[Mapping[str, Any]]) -> BidData:
    """Validate bids given as records with the CSV's column names (e.g. the platform's own opened bids).

    Values may be numbers, strings, dates or ``None``; they are checked exactly like CSV cells, and an error's
    ``line`` is the record's position + 2 (as if the records were a CSV file under a header line).
    """

    def cell(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool):
            return str(int(value))
        return value.isoformat() if hasattr(value, "isoformat") else str(value)

    rows = [{c: cell(r.get(c)) for c in COLUMNS} for r in records]
    if not rows:
        raise ValidationFailed("screen.no_tenders", "没有投标数据。", "There are no bids.")
    return _validate(pl.DataFrame(rows, schema=dict.fromkeys(COLUMNS, pl.String)))


def _validate(raw: pl.DataFrame) -> BidData:
    for c in OPTIONAL:
        if c not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    raw = raw.select([pl.col(c).str.strip_chars().replace("", None).alias(c) for c in COLUMNS])
    errors: list[RowError] = []
    limit = MAX_REPORTED

    _collect(raw, raw["tender_id"].is_null(), "tender_id", "标段编号为空", "empty tender id", errors, limit)
    long_ids = raw["tender_id"].str.len_chars().fill_null(0) > MAX_ID_CHARS
    _collect(raw, long_ids, "tender_id", "标段编号过长", "tender id too long", errors, limit)

    amount = raw["bid_amount"].str.replace_all(",", "").cast(pl.Float64, strict=False)
    _collect(raw, raw["bid_amount"].is_null(), "bid_amount", "投标价为空", "empty bid amount", errors, limit)
    _collect(
        raw,
        raw["bid_amount"].is_not_null() & amount.is_null(),
        "bid_amount",
        "投标价不是数字",
        "bid amount is not a number",
        errors,
        limit,
    )
    bad_range = amount.is_not_null() & (amount.is_nan() | amount.is_infinite() | (amount <= 0))
    _collect(raw, bad_range, "bid_amount", "投标价须为正数", "bid amount must be positive", errors, limit)

    estimate = raw["estimate"].str.replace_all(",", "").cast(pl.Float64, strict=False)
    _collect(
        raw,
        raw["estimate"].is_not_null() & (estimate.is_null() | estimate.is_nan() | (estimate <= 0)),
        "estimate",
        "控制价须为正数或留空",
        "estimate must be a positive number or empty",
        errors,
        limit,
    )
    for col, zh_name in (("is_winner", "是否中标"), ("label", "标签")):
        ok = raw[col].is_null() | raw[col].is_in(["0", "1"])
        _collect(raw, ~ok, col, f"{zh_name}须为 0 或 1 或留空", "must be 0, 1 or empty", errors, limit)
    date = raw["date"].str.to_date("%Y-%m-%d", strict=False)
    _collect(
        raw,
        raw["date"].is_not_null() & date.is_null(),
        "date",
        "日期须为 YYYY-MM-DD 或留空",
        "date must be YYYY-MM-DD or empty",
        errors,
        limit,
    )
    if errors:
        errors.sort(key=lambda e: (e.line, COLUMNS.index(e.column)))
        raise _bad(errors)

    bids = pl.DataFrame(
        {
            "tender_id": raw["tender_id"],
            "bidder_id": raw["bidder_id"],
            "bid_amount": amount,
            "is_winner": raw["is_winner"].cast(pl.Int8),
            "estimate": estimate,
            "date": date,
            "label": raw["label"].cast(pl.Int8),
        }
    )
    return _finish(bids)


def _finish(bids: pl.DataFrame) -> BidData:
    report = ImportReport(rows=bids.height)
    per = bids.group_by("tender_id").agg(
        pl.len().alias("n"),
        (pl.col("is_winner") == 1).sum().alias("winners"),
        pl.col("label").null_count().alias("nulls"),
        pl.col("estimate").n_unique().alias("estimates"),
    )
    single = per.filter(pl.col("n") < 2)["tender_id"]
    report.skipped_single_bid = single.len()
    report.warn(
        "screen.single_bid_skipped",
        report.skipped_single_bid,
        f"{report.skipped_single_bid} 个标段只有一份投标，无法筛查，已跳过。",
        f"{report.skipped_single_bid} tender(s) with a single bid cannot be screened and were skipped.",
    )
    kept = per.filter(pl.col("n") >= 2)
    report.several_winners = kept.filter(pl.col("winners") > 1).height
    report.warn(
        "screen.several_winners",
        report.several_winners,
        f"{report.several_winners} 个标段有多个中标人（分包），以最低中标价计算中标相关指标。",
        f"{report.several_winners} tender(s) have several winners (lots); winner screens use the lowest winning bid.",
    )
    mixed = kept.filter((pl.col("nulls") > 0) & (pl.col("nulls") < pl.col("n")))
    if mixed.height:
        # A tender is collusive if any of its bids is: an empty label beside a given one means "not a member".
        bids = bids.with_columns(
            pl.when(pl.col("tender_id").is_in(mixed["tender_id"].implode()) & pl.col("label").is_null())
            .then(pl.lit(0, dtype=pl.Int8))
            .otherwise(pl.col("label"))
            .alias("label")
        )
    unlabelled = kept.filter(pl.col("nulls") == pl.col("n")).height
    report.unlabelled_tenders = unlabelled
    if 0 < unlabelled < kept.height:
        report.warn(
            "screen.partly_unlabelled",
            unlabelled,
            f"{unlabelled} 个标段没有标签，训练和评估时不计入。",
            f"{unlabelled} tender(s) have no label and are left out of training and evaluation.",
        )
    inconsistent = kept.filter(pl.col("estimates") > 1).height
    report.warn(
        "screen.estimate_varies",
        inconsistent,
        f"{inconsistent} 个标段内控制价不一致，采用该标段第一行的控制价。",
        f"{inconsistent} tender(s) have differing estimates; the first row's estimate is used.",
    )
    bids = bids.filter(~pl.col("tender_id").is_in(single.implode()))
    report.tenders = kept.height
    report.bids = bids.height
    if report.tenders == 0:
        raise ValidationFailed(
            "screen.no_tenders",
            "文件中没有至少两份投标的标段，无法筛查。",
            "The file holds no tender with at least two bids to screen.",
            details=report.to_dict(),
        )
    return BidData(bids, report)


def read_csv(path: Path) -> BidData:
    """Read and validate a historical-bids CSV file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(
            "screen.csv_not_found",
            f"无法读取文件：{path}",
            f"Cannot read the file: {path}",
        ) from exc
    return parse_csv_text(_decode(raw))
