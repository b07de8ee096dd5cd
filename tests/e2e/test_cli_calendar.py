"""The CLI end to end: `sunbid calendar …` and `sunbid rules list` on a real database."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.platform.settings import Settings
from sunbid.projects.rules import RuleBook


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "SUNBID_DATA_DIR": str(settings.data_dir),
        "SUNBID_DATABASE_URL": settings.resolved_database_url,
        "SUNBID_CRYPTO_SUITE": settings.crypto_suite,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _json(*args: str) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_add_working_days_prints_exactly_the_date(cli_env: dict[str, str]) -> None:
    assert _json("calendar", "add-working-days", "2024-09-20", "25") == {"date": "2024-10-30"}
    assert _json("calendar", "add-working-days", "2025-01-24", "3") == {"date": "2025-02-05"}


def test_add_working_days_in_words(cli_env: dict[str, str]) -> None:
    code, out = _run("calendar", "add-working-days", "2024-09-20", "25")
    assert code == 0 and "2024-10-30" in out
    code, out = _run("calendar", "add-working-days", "2027-03-01", "1")
    assert code == 0 and "2027-03-02" in out and "不在官方日历" in out


def test_is_working_day_reports_make_up_days_and_unknown_years(cli_env: dict[str, str]) -> None:
    assert _json("calendar", "is-working-day", "2024-10-12") == {
        "date": "2024-10-12",
        "is_working_day": True,
        "authoritative": True,
    }
    assert _json("calendar", "is-working-day", "2024-10-07") == {
        "date": "2024-10-07",
        "is_working_day": False,
        "authoritative": True,
    }
    assert _json("calendar", "is-working-day", "2027-01-04") == {
        "date": "2027-01-04",
        "is_working_day": True,
        "authoritative": False,
    }


def test_override_changes_the_answers_and_is_audited(cli_env: dict[str, str]) -> None:
    data = _json("calendar", "override", "2027-01-04", "--holiday", "--note", "元旦调休")
    assert isinstance(data, dict)
    assert data["date"] == "2027-01-04" and data["is_working"] is False and data["note"] == "元旦调休"
    assert data["created_by"].startswith("cli:")
    assert _json("calendar", "is-working-day", "2027-01-04") == {
        "date": "2027-01-04",
        "is_working_day": False,
        "authoritative": True,
    }
    assert _json("calendar", "add-working-days", "2027-01-01", "1") == {"date": "2027-01-05"}
    listed = _json("calendar", "overrides")
    assert isinstance(listed, dict) and [o["date"] for o in listed["overrides"]] == ["2027-01-04"]
    report = _json("log", "verify")
    assert isinstance(report, dict) and report["ok"] is True and report["tree_size"] == 1

    assert _json("calendar", "remove-override", "2027-01-04") == {"date": "2027-01-04", "removed": True}
    assert _json("calendar", "add-working-days", "2027-01-01", "1") == {"date": "2027-01-04"}


def test_working_override_turns_a_saturday_into_a_working_day(cli_env: dict[str, str]) -> None:
    _json("calendar", "override", "2027-01-09", "--working")
    assert _json("calendar", "add-working-days", "2027-01-08", "1") == {"date": "2027-01-09"}


@pytest.mark.parametrize("bad", ["2026-02-30", "2026/11/23", "tomorrow"])
def test_bad_date_is_a_bilingual_error(cli_env: dict[str, str], bad: str) -> None:
    code, out = _run("calendar", "is-working-day", bad)
    assert code == 1
    assert "日期格式错误" in out and "expected YYYY-MM-DD" in out and "calendar.bad_date" in out
    code, out = _run("calendar", "add-working-days", bad, "3")
    assert code == 1 and "日期格式错误" in out


def test_bad_date_with_json_prints_a_problem(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["calendar", "add-working-days", "2026-13-01", "3", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["code"] == "calendar.bad_date"


def test_negative_count_is_refused(cli_env: dict[str, str]) -> None:
    code, out = _run("calendar", "add-working-days", "2026-01-05", "--", "-1")
    assert code == 1 and "负数" in out and "negative" in out


def test_override_needs_working_or_holiday(cli_env: dict[str, str]) -> None:
    code, out = _run("calendar", "override", "2027-01-04")
    assert code == 1 and "--working" in out and "--holiday" in out
    assert _json("calendar", "overrides") == {"overrides": []}


def test_rules_list_prints_the_whole_table_with_sources(cli_env: dict[str, str]) -> None:
    data = _json("rules", "list")
    assert isinstance(data, dict)
    rules = data["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RuleBook.default()]
    by_id = {r["id"]: r for r in rules}
    assert by_id["gp.consultation_doc_to_submission"]["source"] == "财库〔2014〕214号 第10条"
    assert by_id["eng.contract_reminder"]["tag"] == "L" and by_id["eng.contract_reminder"]["amount"] == 25
    assert all(r["source"] for r in rules)


def test_rules_list_for_a_procedure_and_an_unknown_one(cli_env: dict[str, str]) -> None:
    data = _json("rules", "list", "--procedure", "gp_single_source")
    assert isinstance(data, dict) and "gp.single_source_publicity" in {r["id"] for r in data["rules"]}
    code, out = _run("rules", "list", "--procedure", "auction")
    assert code == 1 and "未知的交易方式" in out and "Unknown procedure" in out
