"""`sunbid calc …` end to end: price scores as JSON and as a Chinese table, method checks, committee checks."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sunbid.cli import app

RLP_BIDS = "bidder,price\n甲,990000.00\n乙,1000000.00\n丙,1000000.00\n丁,1010000.00\n戊,600000.00\n己,100000.00\n"


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.output


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_price_scores_json_matches_the_hand_computed_example(tmp_path: Path) -> None:
    """The iterative-screening worked example (docs/evaluation-methods.md, example 2): B = 965,000.00."""
    csv_path = _write(tmp_path, "bids.csv", RLP_BIDS)
    code, stdout, output = _run(
        "calc", "price-scores", "--method", "eng-reasonable-low-price", csv_path, "--k", "3.5", "--json"
    )
    assert code == 0, output
    data = json.loads(stdout)
    assert data["ok"] is True
    assert data["benchmark"]["benchmark_price"] == "965000.00"
    assert data["benchmark"]["screened_out"] == ["己", "戊"]
    scores = {b["bidder"]: (b["price_score"], b["rank"], b["deviation_percent"]) for b in data["bids"]}
    assert scores["甲"] == ("94.82", 1, "2.5907")
    assert scores["己"] == ("60.00", 6, "-89.6373")


def test_price_scores_with_a_method_file_prints_a_chinese_table(tmp_path: Path) -> None:
    method = Path(__file__).parents[2] / "src/sunbid/evaluation/methods/gp-comprehensive-goods.json"
    csv_path = _write(
        tmp_path, "bids.csv", "bidder,price,small_enterprise\n甲,1000000,0\n乙,1050000,1\n丙,980000,0\n丁,1200000,1\n"
    )
    result = CliRunner().invoke(
        app,
        ["calc", "price-scores", "--method", str(method), csv_path, "--max-price", "1150000.00"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "价格评审表" in result.output and "96.43" in result.output and "945000.00" in result.output
    assert "否决" in result.output and "丁" in result.output and "第51条" in result.output


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ((), "price.k_missing"),
        (("--k", "0.951"), "price.k_not_in_set"),
        (("--k", "abc"), "method.bad_decimal"),
    ],
)
def test_price_scores_k_errors(tmp_path: Path, extra: tuple[str, ...], code: str) -> None:
    csv_path = _write(tmp_path, "bids.csv", "bidder,price\nA,100\nB,101\n")
    rc, stdout, _ = _run("calc", "price-scores", "--method", "eng-comprehensive", csv_path, *extra, "--json")
    assert rc == 1
    assert json.loads(stdout)["code"] == code


def test_bad_bids_file_reports_line_and_column(tmp_path: Path) -> None:
    csv_path = _write(tmp_path, "bids.csv", "bidder,price\nA,100\nB,1,000\n")
    rc, _, output = _run("calc", "price-scores", "--method", "gp-lowest-price-goods", csv_path)
    assert rc == 1
    assert "第 3 行第 3 列" in output and "line 3, column 3" in output


def test_missing_files_are_reported(tmp_path: Path) -> None:
    rc, _, output = _run("calc", "price-scores", "--method", str(tmp_path / "none.json"), str(tmp_path / "x.csv"))
    assert rc == 1 and "无法读取" in output
    rc, _, output = _run("calc", "price-scores", "--method", "gp-lowest-price-goods", str(tmp_path / "x.csv"))
    assert rc == 1 and "cannot read" in output


def test_check_method_valid_and_invalid(tmp_path: Path) -> None:
    rc, stdout, output = _run("calc", "check-method", "gp-consultation-services", "--json")
    assert rc == 0, output
    assert json.loads(stdout)["method"]["kind"] == "gp_comprehensive"
    rc, _, output = _run("calc", "check-method", "eng-comprehensive")
    assert rc == 0 and "评标办法有效" in output
    bad = json.loads(
        (Path(__file__).parents[2] / "src/sunbid/evaluation/methods/gp-comprehensive-goods.json").read_text()
    )
    bad["factors"][2]["weight"] = "0.2"
    bad["factors"][0]["weight"] = "0.6"
    rc, stdout, output = _run("calc", "check-method", _write(tmp_path, "m.json", json.dumps(bad)), "--json")
    assert rc == 1
    problem = json.loads(stdout)
    assert problem["code"] == "method.price_weight_out_of_range"
    assert "factors[2].weight" in problem["message_zh"] and "87号令" in problem["message_zh"]
    rc, _, output = _run("calc", "check-method", _write(tmp_path, "s.json", '{\n "format": }'))
    assert rc == 1 and "第 2 行" in output


def test_methods_lists_the_examples() -> None:
    rc, stdout, output = _run("calc", "methods", "--json")
    assert rc == 0, output
    assert {m["name"] for m in json.loads(stdout)} >= {"eng-comprehensive", "gp-lowest-price-goods"}


@pytest.mark.parametrize(
    ("args", "rc", "minimum"),
    [
        (("--members", "5", "--experts", "4"), 0, 5),
        (("--members", "5", "--experts", "3"), 1, 5),
        (("--members", "6", "--experts", "6"), 1, 5),
        (("--members", "5", "--experts", "5", "--sector", "procurement", "--budget", "10000000"), 1, 7),
        (("--members", "7", "--experts", "5", "--sector", "procurement", "--complex"), 0, 7),
    ],
)
def test_committee_check(args: tuple[str, ...], rc: int, minimum: int) -> None:
    code, stdout, output = _run("calc", "committee", *args, "--json")
    assert code == rc, output
    data = json.loads(stdout)
    assert data["minimum"] == minimum and data["ok"] is (rc == 0)


def _draw_record(tmp_path: Path) -> str:
    out = tmp_path / "draw.json"
    code, _, output = _run(
        "draw",
        "coefficient",
        "--secret",
        "0f" * 32,
        "--seed-input",
        "sealed_bids=" + "11" * 32,
        "--out",
        str(out),
        "--json",
    )
    assert code == 0, output
    return str(out)


def test_k_is_taken_from_a_verified_coefficient_draw_record(tmp_path: Path) -> None:
    """The opening's coefficient draw (0.95–0.98, step 0.005) gives K; the calculator verifies the record first."""
    record = _draw_record(tmp_path)
    drawn = json.loads(Path(record).read_text())["result"][0]
    csv_path = _write(tmp_path, "bids.csv", "bidder,price\nA,1000000\nB,960000\nC,1050000\n")
    code, stdout, output = _run(
        "calc", "price-scores", "--method", "eng-comprehensive", csv_path, "--draw-record", record, "--json"
    )
    assert code == 0, output
    data = json.loads(stdout)
    assert data["drawn_coefficient"] == drawn
    # A = 3,010,000 / 3; B = A × K to the fen
    expected = (Decimal(3010000) / 3 * Decimal(drawn)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert data["benchmark"]["benchmark_price"] == str(expected)
    other = "0.95" if drawn != "0.950" else "0.955"
    code, stdout, _ = _run(
        "calc",
        "price-scores",
        "--method",
        "eng-comprehensive",
        csv_path,
        "--draw-record",
        record,
        "--k",
        other,
        "--json",
    )
    assert code == 1 and json.loads(stdout)["code"] == "calc.k_conflict"


def test_tampered_or_mismatched_draw_records_are_refused(tmp_path: Path) -> None:
    csv_path = _write(tmp_path, "bids.csv", "bidder,price\nA,1000000\nB,960000\n")
    record = Path(_draw_record(tmp_path))
    data = json.loads(record.read_text())
    data["result"] = ["0.980"] if data["result"] != ["0.980"] else ["0.950"]
    tampered = _write(tmp_path, "tampered.json", json.dumps(data))
    code, stdout, _ = _run(
        "calc", "price-scores", "--method", "eng-comprehensive", csv_path, "--draw-record", tampered, "--json"
    )
    assert code == 1 and json.loads(stdout)["code"] == "calc.draw_record_invalid"
    code, stdout, _ = _run(
        "calc", "price-scores", "--method", "eng-max-price-weighted", csv_path, "--draw-record", str(record), "--json"
    )
    assert code == 1 and json.loads(stdout)["code"] == "calc.draw_record_mismatch"


GP_BIDS = "bidder,price,small_enterprise\n甲,1000000,0\n乙,1050000,1\n丙,980000,0\n丁,1200000,1\n"
#: The same bids with the facts gp-comprehensive-goods reads: delivery days (ratio, lower is better) and the
#: number of negative deviations from the specification (steps: 0 → 60, 1 → 50, …). 丁 is rejected (above the
#: maximum price), so its 10 days do not become the best delivery time.
GP_BIDS_FACTS = (
    "bidder,price,small_enterprise,duration_days,extra.技术参数负偏离项数\n"
    "甲,1000000,0,30,1\n乙,1050000,1,45,0\n丙,980000,0,60,0\n丁,1200000,1,10,0\n"
)


def _gp_scores() -> str:
    """The worked example of test_scoring (甲 91.65, 乙 88.64, 丙 94.03), with one outlier for E-4: e5 scores
    甲's solution 10 instead of 38 → mean (30+32+34+36+10)/5 = 28.40; |10 − 28.40| / 40 = 46 % > 25 % of the max."""
    rows = ["expert,bidder,item,score"]
    panel = {
        ("甲", "solution"): ["30", "32", "34", "36", "10"],
        ("甲", "service"): ["60", "62", "64", "66", "68"],
        ("乙", "solution"): ["33", "33", "33", "33", "34"],
        ("乙", "service"): ["60", "60", "60", "60", "61"],
        ("丙", "solution"): ["35"] * 5,
        ("丙", "service"): ["65"] * 5,
        ("丁", "solution"): ["1"] * 5,  # rejected bid (above the maximum): its scores are left out
        ("丁", "service"): ["1"] * 5,
    }
    for (bidder, item), values in panel.items():
        rows += [f"e{n},{bidder},{item},{v}" for n, v in enumerate(values, start=1)]
    return "\n".join(rows) + "\n"


def test_evaluate_totals_candidates_and_deviation_interventions(tmp_path: Path) -> None:
    """Objective items from the facts: spec 甲 50 (1 deviation), 乙 60, 丙 60; delivery 30 × 30/days: 甲 30,
    乙 20, 丙 15. Subjective means: solution 甲 28.40, 乙 33.20, 丙 35; service 甲 64, 乙 60.20, 丙 65.
    Price scores (lowest 945,000 after 乙's 10 % deduction): 甲 94.50, 乙 100, 丙 96.43.
    甲 = 0.5 × 78.40 + 0.2 × 94 + 0.3 × 94.50 = 39.20 + 18.80 + 28.35 = 86.35;
    乙 = 0.5 × 93.20 + 0.2 × 80.20 + 0.3 × 100 = 46.60 + 16.04 + 30 = 92.64;
    丙 = 0.5 × 95 + 0.2 × 80 + 0.3 × 96.43 = 47.50 + 16 + 28.929 = 92.429 → 92.43.
    Ranking 乙, 丙, 甲. e5's 10 (mean 28.40, 46 % of the max) needs a written reason."""
    bids = _write(tmp_path, "bids.csv", GP_BIDS_FACTS)
    scores = _write(tmp_path, "scores.csv", _gp_scores())
    code, stdout, output = _run(
        "calc",
        "evaluate",
        "--method",
        "gp-comprehensive-goods",
        bids,
        "--scores",
        scores,
        "--max-price",
        "1150000.00",
        "--json",
    )
    assert code == 0, output
    data = json.loads(stdout)
    totals = {r["bidder"]: (r["total"], r["rank"]) for r in data["evaluation"]["rows"]}
    assert totals == {"乙": ("92.64", 1), "丙": ("92.43", 2), "甲": ("86.35", 3)}
    assert data["evaluation"]["candidates"] == ["乙", "丙", "甲"]
    assert [(i["expert"], i["bidder"], i["item"], i["deviation"]) for i in data["interventions"]] == [
        ("e5", "甲", "solution", "46.00")
    ]
    objective = data["objective"]
    assert set(objective) == {"甲", "乙", "丙"}  # the rejected 丁 is not evaluated
    assert objective["乙"]["delivery"] == {
        "value": "45",
        "points": "20.00",
        "status": "ok",
        "basis_zh": "30 × 最优值 30 ÷ 45 = 20 分",
        "basis_en": "30 × best 30 / 45 = 20 points",
    }
    assert (objective["甲"]["spec"]["value"], objective["甲"]["spec"]["points"]) == ("1", "50.00")
    assert data["warnings"] == []
    result = CliRunner().invoke(
        app,
        ["calc", "evaluate", "--method", "gp-comprehensive-goods", bids, "--scores", scores, "--max-price", "1150000"],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "评标结果" in result.output and "中标候选人" in result.output and "须书面说明理由" in result.output
    assert "客观评分项" in result.output and "30 × 最优值 30 ÷ 60 = 15 分" in result.output


def test_evaluate_warns_per_missing_fact_column_and_scores_it_zero(tmp_path: Path) -> None:
    """Without fact columns both objective items give 0: 丙 = 0.5 × 35 + 0.2 × 65 + 0.3 × 96.43 = 59.43."""
    bids = _write(tmp_path, "bids.csv", GP_BIDS)
    scores = _write(tmp_path, "scores.csv", _gp_scores())
    args = [
        "calc",
        "evaluate",
        "--method",
        "gp-comprehensive-goods",
        bids,
        "--scores",
        scores,
        "--max-price",
        "1150000",
    ]
    code, stdout, output = _run(*args, "--json")
    assert code == 0, output
    data = json.loads(stdout)
    assert [w["field"] for w in data["warnings"]] == ["extra.技术参数负偏离项数", "duration_days"]
    assert {r["bidder"]: r["total"] for r in data["evaluation"]["rows"]}["丙"] == "59.43"
    assert data["objective"]["丙"]["delivery"]["status"] == "missing"
    result = CliRunner().invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert result.output.count("提示 warning 投标报价文件没有") == 2 and "未提供，得 0 分" in result.output


def test_check_method_lists_each_item_with_its_rule() -> None:
    result = CliRunner().invoke(app, ["calc", "check-method", "eng-comprehensive"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "评分项 experience" in result.output and "评分项 credit" in result.output
    assert "施工方案与技术措施：15 分，主观，专家评分" in result.output
    code, stdout, _ = _run("calc", "check-method", "eng-comprehensive", "--json")
    assert code == 0
    items = json.loads(stdout)["method"]["factors"][1]["items"]
    assert items[1]["rule"]["kind"] == "count" and items[1]["rule"]["per_unit"] == "2"


def test_evaluate_refuses_objective_rows_in_the_scores_file(tmp_path: Path) -> None:
    bids = _write(tmp_path, "bids.csv", GP_BIDS_FACTS)
    scores = _write(tmp_path, "scores.csv", _gp_scores() + ",甲,spec,55\n")
    code, _, output = _run("calc", "evaluate", "--method", "gp-comprehensive-goods", bids, "--scores", scores)
    assert code == 1
    assert "由评分规则根据投标文件数据计算" in output and "extra.技术参数负偏离项数" in output


def test_evaluate_needs_scores_for_scored_methods_and_names_bad_score_cells(tmp_path: Path) -> None:
    bids = _write(tmp_path, "bids.csv", GP_BIDS)
    code, stdout, _ = _run("calc", "evaluate", "--method", "gp-comprehensive-goods", bids, "--json")
    assert code == 1 and json.loads(stdout)["code"] == "calc.scores_missing"
    bad = _write(tmp_path, "bad.csv", "expert,bidder,item,score\ne1,甲,solution,41\n")
    code, _, output = _run("calc", "evaluate", "--method", "gp-comprehensive-goods", bids, "--scores", bad)
    assert code == 1 and "评分文件第 2 行第 4 列" in output


def test_evaluate_lowest_price_method_without_scores(tmp_path: Path) -> None:
    bids = _write(tmp_path, "bids.csv", "bidder,price,small_enterprise\n甲,500000,0\n乙,540000,1\n丙,486000,0\n")
    code, stdout, output = _run("calc", "evaluate", "--method", "gp-lowest-price-goods", bids, "--json")
    assert code == 0, output
    rows = {r["bidder"]: r["rank"] for r in json.loads(stdout)["evaluation"]["rows"]}
    assert rows == {"甲": 3, "乙": 1, "丙": 1}
