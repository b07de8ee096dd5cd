"""`sunbid screen …` end to end on synthetic CSV files: evaluate, train, score, import, list, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.core.clock import FakeClock
from sunbid.ledger.models import AuditEvent
from sunbid.platform.settings import Settings
from sunbid.screening.synthetic import synthetic_csv
from tests.integration.opening.conftest import make_ow, open_with_prices
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture

TREES = ["--trees", "40", "--quiet"]


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.output


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    path = tmp_path / "history.csv"
    path.write_text(synthetic_csv(60, seed=11), encoding="utf-8")
    return path


def test_evaluate_prints_one_json_document_with_model_and_baseline(labelled: Path) -> None:
    code, out, _ = _run("screen", "evaluate", str(labelled), "--json", "--trees", "40")  # with a progress bar
    assert code == 0, out
    data = json.loads(out)  # the bar went to standard error
    assert data["tenders"] == 60
    for key in ("roc_auc", "accuracy", "baseline_roc_auc", "baseline_accuracy", "unsupervised_roc_auc"):
        assert 0.0 <= data[key] <= 1.0, key
    assert data["roc_auc"] > 0.9
    assert data["cv"]["folds"] == 5 and data["cv"]["seed"] == 0
    assert data["import"]["skipped_single_bid"] == 0


def test_evaluate_shows_a_table_without_json(labelled: Path) -> None:
    code, _, output = _run("screen", "evaluate", str(labelled), *TREES)
    assert code == 0
    assert "七指标基线" in output and "ROC-AUC" in output


def test_train_then_score_with_the_model(labelled: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.npz"
    code, out, _ = _run("screen", "train", str(labelled), "--out", str(model), "--json", *TREES)
    assert code == 0, out
    info = json.loads(out)
    assert info["tenders"] == 60 and model.is_file()
    fresh = tmp_path / "new.csv"
    fresh.write_text(synthetic_csv(30, seed=12).replace(",0\n", ",\n").replace(",1\n", ",\n"), encoding="utf-8")
    code, out, _ = _run("screen", "score", str(fresh), "--model", str(model), "--top", "5", "--json", "--quiet")
    assert code == 0, out
    result = json.loads(out)
    assert result["method"] == "model" and result["tenders"] == 30 and len(result["scores"]) == 5
    top = result["scores"][0]
    assert top["rank"] == 1 and top["reasons"] and top["reasons"][0]["text_zh"] and top["reasons"][0]["text_en"]


def test_score_without_labels_or_model_is_unsupervised(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("tender_id,bid_amount\nA,100\nA,101\nA,130\nB,90\nB,120\nB,150\n", encoding="utf-8")
    code, out, _ = _run("screen", "score", str(path), "--json", "--quiet")
    assert code == 0, out
    assert json.loads(out)["method"] == "unsupervised"


def test_import_keeps_the_scores_for_the_regulators_page(labelled: Path, tmp_path: Path) -> None:
    env = {"SUNBID_DATA_DIR": str(tmp_path / "data")}
    code, out, _ = _run("screen", "import", str(labelled), "--name", "hist", "--json", *TREES, env=env)
    assert code == 0, out
    assert json.loads(out)["method"] == "cross_validated"
    assert (tmp_path / "data" / "screening" / "hist.json").is_file()
    code, out, _ = _run("screen", "list", "--json", env=env)
    assert [i["name"] for i in json.loads(out)] == ["hist"]
    code, out, output = _run("screen", "import", str(labelled), "--name", "../evil", *TREES, env=env)
    assert code != 0 and "screen.bad_name" in output


def test_bad_csv_gives_a_bilingual_error_and_a_non_zero_exit(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("tender_id,bid_amount,label\n1,100,0\n1,abc,0\n", encoding="utf-8")
    code, out, output = _run("screen", "evaluate", str(path), "--json", "--quiet")
    assert code == 1
    problem = json.loads(out)
    assert problem["ok"] is False and problem["code"] == "screen.csv_invalid"
    assert "第 3 行 bid_amount 列" in problem["message_zh"] and "line 3" in problem["message_en"]
    missing = tmp_path / "missing.csv"
    missing.write_text("tender_id,amount\n1,100\n", encoding="utf-8")
    code, _, output = _run("screen", "score", str(missing), "--quiet")
    assert code == 1 and "bid_amount" in output and "错误" in output


def test_one_bid_tenders_are_skipped_with_a_counted_warning(tmp_path: Path) -> None:
    path = tmp_path / "single.csv"
    path.write_text("tender_id,bid_amount\nA,100\nA,101\nA,130\nB,90\n", encoding="utf-8")
    code, out, _ = _run("screen", "score", str(path), "--json", "--quiet")
    assert code == 0
    data = json.loads(out)
    assert data["tenders"] == 1 and data["import"]["skipped_single_bid"] == 1
    assert data["import"]["warnings"][0]["code"] == "screen.single_bid_skipped"


def test_help_is_chinese_first() -> None:
    code, _, output = _run("screen", "--help")
    assert code == 0 and "围标串标统计筛查" in output


def test_evaluate_can_repeat_with_consecutive_fold_seeds(labelled: Path) -> None:
    code, out, _ = _run("screen", "evaluate", str(labelled), "--json", "--repeats", "2", "--trees", "20", "-q")
    assert code == 0, out
    rep = json.loads(out)["repeated"]
    assert rep["seeds"] == [0, 1] and len(rep["roc_auc"]) == 2
    assert 0 <= rep["splits_matching_or_beating_baseline"] <= 2


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUNBID_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUNBID_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SUNBID_CRYPTO_SUITE", settings.crypto_suite)


def test_score_platform_scores_the_published_opening_records_and_audits_it(
    tw: Tw, clock: FakeClock, cli_env: None
) -> None:
    ow = make_ow(tw, clock, "intl")
    open_with_prices(ow, {"bidder_a": "11800000.00", "bidder_b": "11750000.00", "bidder_c": "12100000.00"})
    code, out, _ = _run("screen", "score", "--platform", "--json", "--quiet")
    assert code == 0, out
    result = json.loads(out)
    assert result["source"] == "platform" and result["projects"] == 1 and result["method"] == "unsupervised"
    assert [s["tender_id"] for s in result["scores"]] == [f"{ow.code}/01"]
    assert result["scores"][0]["n_bids"] == 3
    with ow.platform.db.read() as s:
        tags = [a.tag for a in s.scalars(select(AuditEvent)) if a.tag.endswith("screening:view")]
    assert tags == ["cli:screening:view"]
    code, _, output = _run("screen", "score", "--platform", "--quiet")  # the table
    assert code == 0 and ow.code in output


def test_score_needs_exactly_one_source(labelled: Path, tw: Tw, cli_env: None) -> None:
    code, _, output = _run("screen", "score", "--quiet")
    assert code != 0 and "--platform" in output
    code, _, output = _run("screen", "score", str(labelled), "--platform", "--quiet")
    assert code != 0 and "二选一" in output
    code, _, output = _run("screen", "score", "--platform", "--quiet")  # nothing opened yet
    assert code != 0 and "没有投标数据" in output
