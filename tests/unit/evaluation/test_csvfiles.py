"""The calculator's bids CSV: columns, aliases, flags, adjustments, facts; every error names line and column."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.csvfiles import MAX_FACT_CHARS, parse_bids_csv, parse_bids_file, parse_scores_csv
from sunbid.evaluation.methods import load_packaged_method

GP = load_packaged_method("gp-comprehensive-goods")
LEP = load_packaged_method("eng-lowest-evaluated-price")
ENG = load_packaged_method("eng-comprehensive")


def test_reads_bidder_price_and_small_enterprise_with_chinese_headers_and_bom() -> None:
    text = "\ufeff投标人,报价,小微企业\n甲公司,1000000.00,是\n乙公司,980000,否\n丙公司,990000.5,\n\n"
    bids = parse_bids_csv(text.encode("utf-8"), GP)
    assert [(b.bidder, b.price, b.small_enterprise) for b in bids] == [
        ("甲公司", Decimal("1000000.00"), True),
        ("乙公司", Decimal("980000"), False),
        ("丙公司", Decimal("990000.5"), False),
    ]


def test_reads_adjustment_columns_of_the_method() -> None:
    bids = parse_bids_csv("bidder,price,payment_terms,schedule\nA,100,0.5,\nB,90,,-20\n", LEP)
    assert bids[0].adjustments == {"payment_terms": Decimal("0.5")}
    assert bids[1].adjustments == {"schedule": Decimal("-20")}


def test_reads_the_fact_columns_the_method_reads() -> None:
    text = "投标人,报价,extra.信用等级,extra.类似工程业绩\n甲,100, AAA ,3\n乙,90,,二\n"
    bids = parse_bids_file(text, ENG)
    assert [b.bidder for b in bids.bids] == ["甲", "乙"]
    assert bids.facts == {
        "甲": {"extra.信用等级": "AAA", "extra.类似工程业绩": "3"},
        "乙": {"extra.信用等级": None, "extra.类似工程业绩": "二"},
    }
    assert bids.missing_fields == ("extra.质量管理体系认证",)


def test_without_fact_columns_every_field_is_missing() -> None:
    bids = parse_bids_file("bidder,price\nA,1\n", GP)
    assert bids.missing_fields == ("extra.技术参数负偏离项数", "duration_days")
    assert bids.facts == {"A": {}}
    assert parse_bids_file("bidder,price\nA,1\n", LEP).missing_fields == ()


def test_fact_columns_the_method_does_not_read_are_unknown() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_bids_csv("bidder,price,extra.信用等级\nA,1,AAA\n", GP)
    assert info.value.details == {"line": 1, "column": 3, "field": "extra.信用等级"}
    assert "duration_days" in info.value.message_zh  # the allowed columns are listed


def test_a_too_long_fact_names_its_cell() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_bids_csv("bidder,price,duration_days\nA,1," + "9" * (MAX_FACT_CHARS + 1) + "\n", GP)
    assert info.value.details == {"line": 2, "column": 3, "field": "duration_days"}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("bidder,price,colour\nA,1,red\n", 1, 3),
        ("bidder,bidder,price\n", 1, 2),
        ("bidder\nA\n", 1, 2),
        ("bidder,price\nA,1\nB\n", 3, 2),
        ("bidder,price\nA,1,000.00\n", 2, 3),
        ('bidder,price\nA,"1,000.00"\n', 2, 2),
        ("bidder,price\nA,-1\n", 2, 2),
        ("bidder,price\nA,0\n", 2, 2),
        ("bidder,price\nA,1.001\n", 2, 2),
        ("bidder,price\nA,1e5\n", 2, 2),
        ("bidder,price\n,1\n", 2, 1),
        ("bidder,price\nA,1\nA,2\n", 3, 1),
        ("price,bidder,small_enterprise\n1,A,maybe\n", 2, 3),
    ],
)
def test_errors_name_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_bids_csv(text, GP)
    assert (info.value.details["line"], info.value.details["column"]) == (line, column)
    assert f"第 {line} 行第 {column} 列" in info.value.message_zh
    assert f"line {line}, column {column}" in info.value.message_en


def test_bad_adjustment_value_names_its_column() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_bids_csv("bidder,price,schedule\nA,1,ten\n", LEP)
    assert info.value.details == {"line": 2, "column": 3, "field": "schedule"}


@pytest.mark.parametrize(
    ("data", "code"), [("", "bids.empty"), ("bidder,price\n", "bids.empty"), (b"\xff", "bids.encoding")]
)
def test_empty_or_undecodable_files(data: str | bytes, code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_bids_csv(data, GP)
    assert info.value.code == code


def test_scores_sheet_subjective_rows() -> None:
    sheet = parse_scores_csv("专家,投标人,评分项,得分\ne1,A,solution,30.5\ne2,A,solution,31\ne1,B,service,70\n", GP)
    assert sheet.experts == ("e1", "e2")
    assert [(s.expert, s.bidder, s.score) for s in sheet.scores] == [
        ("e1", "A", Decimal("30.5")),
        ("e2", "A", Decimal("31")),
        ("e1", "B", Decimal("70")),
    ]
    assert [s.bidder for s in sheet.without({"A"}).scores] == ["B"]


@pytest.mark.parametrize("expert", ["", "e1"])
def test_objective_rows_are_refused_naming_the_fact_column(expert: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_scores_csv(f"expert,bidder,item,score\ne1,A,solution,30\n{expert},A,delivery,30\n", GP)
    assert info.value.details == {"line": 3, "column": 3, "field": "item"}
    assert info.value.message_zh == (
        "评分文件第 3 行第 3 列（item）：客观评分项 delivery（交货期）由评分规则根据投标文件数据计算，"
        "请在投标报价文件中提供 duration_days 列"
    )
    assert "give the column duration_days in the bids file" in info.value.message_en


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("expert,bidder,item\n", 1, 4),
        ("expert,bidder,item,score,x\n", 1, 5),
        ("expert,bidder,item,score\ne1,A,nothing,1\n", 2, 3),
        ("expert,bidder,item,score\n,A,solution,1\n", 2, 1),
        ("expert,bidder,item,score\ne1,A,spec,1\n", 2, 3),
        ("expert,bidder,item,score\ne1,,solution,1\n", 2, 2),
        ("expert,bidder,item,score\ne1,A,solution,40.01\n", 2, 4),
        ("expert,bidder,item,score\ne1,A,solution,-1\n", 2, 4),
        ("expert,bidder,item,score\ne1,A,solution,1.234\n", 2, 4),
        ("expert,bidder,item,score\ne1,A,solution,1\ne1,A,solution,2\n", 3, 1),
        ("expert,bidder,item,score\ne1,A,solution\n", 2, 4),
    ],
)
def test_scores_errors_name_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_scores_csv(text, GP)
    assert info.value.code == "scores.invalid"
    assert (info.value.details["line"], info.value.details["column"]) == (line, column)
