"""Historical-bids CSV import: clear errors with line and column, counted warnings, never a silent mis-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunbid.core.errors import ValidationFailed
from sunbid.screening.io import parse_csv_text, read_csv

HEADER = "tender_id,bidder_id,bid_amount,is_winner,estimate,date,label\n"
GOOD = HEADER + "1,a,100,1,120,2020-01-02,0\n1,b,110,0,120,2020-01-02,0\n2,a,50.5,0,,2020-02-03,1\n2,c,49,1,,,1\n"


def _error(text: str) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as info:
        parse_csv_text(text)
    return info.value


def test_reads_a_valid_file_with_types() -> None:
    data = parse_csv_text(GOOD)
    assert data.report.tenders == 2 and data.report.bids == 4 and data.report.warnings == []
    assert data.labelled
    row = data.bids.row(2, named=True)
    assert row["bid_amount"] == 50.5 and row["estimate"] is None and row["label"] == 1
    assert data.bids["date"].null_count() == 1


def test_missing_required_column_names_the_column() -> None:
    err = _error("tender_id,bidder_id,is_winner\n1,a,1\n")
    assert err.code == "screen.csv_missing_column"
    assert "bid_amount" in err.message_zh and "bid_amount" in err.message_en
    assert err.details["missing"] == ["bid_amount"]


def test_non_numeric_amount_is_reported_with_line_and_column() -> None:
    err = _error(HEADER + "1,a,100,1,,,0\n1,b,abc,0,,,0\n1,c,-5,0,,,0\n")
    assert err.code == "screen.csv_invalid"
    errors = err.details["errors"]
    assert errors[0] == {
        "line": 3,
        "column": "bid_amount",
        "value": "abc",
        "problem_zh": "投标价不是数字",
        "problem_en": "bid amount is not a number",
    }
    assert errors[1]["line"] == 4 and errors[1]["problem_en"] == "bid amount must be positive"
    assert "第 3 行 bid_amount 列" in err.message_zh and "line 3, column bid_amount" in err.message_en


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("1,a,100,yes,,,0", "is_winner"),
        ("1,a,100,1,,,2", "label"),
        ("1,a,100,1,zero,,0", "estimate"),
        ("1,a,100,1,,02/01/2020,0", "date"),
        (",a,100,1,,,0", "tender_id"),
        ("1,a,,1,,,0", "bid_amount"),
    ],
)
def test_bad_values_are_refused_with_their_column(row: str, column: str) -> None:
    err = _error(HEADER + row + "\n1,b,120,0,,,0\n")
    assert err.details["errors"][0]["column"] == column
    assert err.details["errors"][0]["line"] == 2


def test_single_bid_tenders_are_skipped_and_counted() -> None:
    data = parse_csv_text(GOOD + "3,a,70,1,,,0\n4,b,80,1,,,1\n")
    assert data.report.skipped_single_bid == 2
    assert data.report.tenders == 2
    assert set(data.bids["tender_id"].to_list()) == {"1", "2"}
    assert data.report.warnings[0]["code"] == "screen.single_bid_skipped"
    assert data.report.warnings[0]["count"] == 2


def test_a_file_of_single_bid_tenders_only_is_an_error() -> None:
    assert _error(HEADER + "1,a,100,1,,,0\n2,a,100,1,,,0\n").code == "screen.no_tenders"


def test_several_winners_are_counted_not_refused() -> None:
    data = parse_csv_text(HEADER + "1,a,100,1,,,0\n1,b,110,1,,,0\n1,c,120,0,,,0\n")
    assert data.report.several_winners == 1


def test_optional_columns_may_be_absent_and_then_the_file_is_unlabelled() -> None:
    data = parse_csv_text("tender_id,bid_amount\n1,100\n1,105\n1,130\n")
    assert not data.labelled
    assert data.bids["is_winner"].null_count() == 3


def test_an_empty_label_beside_a_given_one_means_not_a_member() -> None:
    data = parse_csv_text(HEADER + "1,a,100,1,,,1\n1,b,110,0,,,\n")
    assert data.labelled and data.bids["label"].to_list() == [1, 0]


def test_thousands_separators_bom_and_gb18030_are_read(tmp_path: Path) -> None:
    text = HEADER + '标段一,甲公司,"1,000.50",1,,,0\n标段一,乙公司,1100,0,,,0\n'
    path = tmp_path / "gbk.csv"
    path.write_bytes(text.encode("gb18030"))
    data = read_csv(path)
    assert data.bids["bid_amount"].to_list() == [1000.5, 1100.0]
    assert data.bids["tender_id"].to_list() == ["标段一", "标段一"]
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert read_csv(bom).report.tenders == 2


def test_unreadable_and_missing_files_give_domain_errors(tmp_path: Path) -> None:
    assert _error("").code in {"screen.csv_unreadable", "screen.csv_missing_column"}
    ragged = _error(HEADER + "1,a,100,1,,,0\n1,a,100,1,,,0,extra,more\n")
    assert ragged.code == "screen.csv_ragged" and ragged.details["line"] == 3
    with pytest.raises(ValidationFailed) as info:
        read_csv(tmp_path / "nope.csv")
    assert info.value.code == "screen.csv_not_found"


def test_duplicate_header_columns_are_refused() -> None:
    assert _error("tender_id,bid_amount,bid_amount\n1,2,3\n").code == "screen.csv_duplicate_column"


def test_records_such_as_the_platforms_opened_bids_are_validated_like_csv_rows() -> None:
    from datetime import date
    from decimal import Decimal

    from sunbid.screening.io import from_records

    data = from_records(
        [
            {"tender_id": "S1", "bidder_id": "甲", "bid_amount": Decimal("1000.50"), "is_winner": True},
            {"tender_id": "S1", "bidder_id": "乙", "bid_amount": 1200, "is_winner": False, "date": date(2026, 1, 2)},
        ]
    )
    assert data.bids["bid_amount"].to_list() == [1000.5, 1200.0]
    assert data.bids["is_winner"].to_list() == [1, 0] and not data.labelled
    with pytest.raises(ValidationFailed) as info:
        from_records([{"tender_id": "S1", "bid_amount": "n/a"}, {"tender_id": "S1", "bid_amount": 5}])
    assert info.value.details["errors"][0]["line"] == 2
