"""The CLI end to end: `sunbid draw coefficient` writes a record, `sunbid draw verify` checks it offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.draws.record import parse_record

SECRET = "0f" * 32
BIDS = "11" * 32 + "22" * 32 + "33" * 32


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.output


def _coefficient(suite: str, *extra: str) -> list[str]:
    return [
        "draw",
        "coefficient",
        "--from",
        "0.95",
        "--to",
        "0.98",
        "--step",
        "0.005",
        "--seed-input",
        f"sealed_bids={BIDS}",
        "--seed-input",
        "beacon=" + "ab" * 32,
        "--secret",
        SECRET,
        "--project",
        "SB-2025-0001",
        "--section",
        "01",
        "--suite",
        suite,
        "--committed-at",
        "2025-03-01T09:00:00+08:00",
        "--closes-at",
        "2025-03-21T09:30:00+08:00",
        *extra,
    ]


def _record(tmp_path: Path, suite: str) -> tuple[Path, dict[str, Any]]:
    out = tmp_path / f"draw-{suite}.json"
    code, stdout, output = _run(*_coefficient(suite, "--out", str(out), "--json"))
    assert code == 0, output
    return out, json.loads(stdout)


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_coefficient_record_round_trips_through_verify(tmp_path: Path, suite: str) -> None:
    out, printed = _record(tmp_path, suite)
    assert printed["suite"] == suite and printed["hash"] == {"intl": "sha256", "gm": "sm3"}[suite]
    assert printed["candidates"] == ["0.950", "0.955", "0.960", "0.965", "0.970", "0.975", "0.980"]
    assert printed["result"][0] in printed["candidates"]
    assert out.read_bytes() == parse_record(printed).to_json()  # --out holds the canonical bytes

    code, stdout, output = _run("draw", "verify", str(out), "--json")
    assert code == 0, output
    report = json.loads(stdout)
    assert report["ok"] is True and report["problems"] == []
    assert report["recomputed_result"] == printed["result"] and report["recomputed_seed"] == printed["seed"]

    code, _, output = _run("draw", "verify", str(out))
    assert code == 0 and "校验通过" in output and printed["result"][0] in output


def test_same_inputs_give_the_same_draw_and_another_secret_another_seed(tmp_path: Path) -> None:
    first = _run(*_coefficient("intl", "--json"))[1]
    assert _run(*_coefficient("intl", "--json"))[1] == first
    other = json.loads(_run(*_coefficient("intl", "--json", "--secret", "e0" * 32))[1])
    assert other["seed"] != json.loads(first)["seed"]


@pytest.mark.parametrize("suite", ["intl", "gm"])
def test_tampered_result_fails_verify_in_both_languages(tmp_path: Path, suite: str) -> None:
    _, printed = _record(tmp_path, suite)
    drawn = printed["result"][0]
    printed["result"] = [next(c for c in printed["candidates"] if c != drawn)]
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(printed), encoding="utf-8")

    code, stdout, _ = _run("draw", "verify", str(bad), "--json")
    assert code == 1
    report = json.loads(stdout)
    assert report["ok"] is False and [p["code"] for p in report["problems"]] == ["draw.result_mismatch"]
    assert report["recomputed_result"] == [drawn]

    code, _, output = _run("draw", "verify", str(bad))
    assert code == 1
    assert "与重算结果" in output and "differs from the recomputed" in output and "校验失败" in output


def test_changed_bid_hash_fails_verify(tmp_path: Path) -> None:
    out, printed = _record(tmp_path, "intl")
    for item in printed["seed_inputs"]:
        if item["name"] == "sealed_bids":
            item["value"] = "11" * 32 + "22" * 32 + "34" * 32
    out.write_text(json.dumps(printed), encoding="utf-8")
    code, stdout, _ = _run("draw", "verify", str(out), "--json")
    assert code == 1 and "draw.seed_mismatch" in [p["code"] for p in json.loads(stdout)["problems"]]


def test_unreadable_and_malformed_files_fail_with_bilingual_messages(tmp_path: Path) -> None:
    code, _, output = _run("draw", "verify", str(tmp_path / "missing.json"))
    assert code == 1 and "无法读取文件" in output and "cannot read file" in output
    broken = tmp_path / "broken.json"
    broken.write_text('{"k": 1,', encoding="utf-8")
    code, stdout, _ = _run("draw", "verify", str(broken), "--json")
    assert code == 1 and [p["code"] for p in json.loads(stdout)["problems"]] == ["draw.bad_json"]


@pytest.mark.parametrize(
    ("args", "zh", "en"),
    [
        (["--seed-input", "sealed_bids"], "名称=十六进制", "name=hex"),
        (["--secret", "zz"], "十六进制", "hex"),
        (["--secret", "01" * 8], "至少须 16 字节", "at least 16"),
        (["--step", "0.007"], "不是步长", "whole multiple"),
        (["--suite", "rot13"], "不支持的密码套件", "Unknown crypto suite"),
        (["--closes-at", "tomorrow"], "带时区", "UTC offset"),
    ],
)
def test_bad_arguments_are_bilingual_errors(args: list[str], zh: str, en: str) -> None:
    code, _, output = _run(*_coefficient("intl", *args))
    assert code == 1
    assert zh in output and en in output


def test_commit_command_gives_the_commitment_the_draw_checks() -> None:
    code, stdout, output = _run(
        "draw", "commit", "--secret", SECRET, "--project", "SB-2025-0001", "--section", "01", "--json"
    )
    assert code == 0, output
    promise = json.loads(stdout)
    assert SECRET not in stdout  # the secret is never printed
    record = json.loads(_run(*_coefficient("intl", "--json"))[1])
    assert record["commitments"][0]["value_hash"] == promise["value_hash"]
