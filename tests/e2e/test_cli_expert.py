"""`sunbid expert …` end to end: import a pool, commit and run a draw, unseal it, verify the published record."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.core.clock import FakeClock
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings
from tests.integration.bidding.conftest import Bw
from tests.integration.bidding.conftest import bw as bw  # the fixture
from tests.integration.experts.conftest import csv_text, expert_row, name
from tests.integration.projects.conftest import tw as tw  # the fixture


@pytest.fixture
def cli(settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, bw: Bw) -> Bw:
    """The CLI on the test's database, secret store and fake clock, with a project that has two bids."""
    for k, v in {
        "SUNBID_DATA_DIR": str(settings.data_dir),
        "SUNBID_DATABASE_URL": settings.resolved_database_url,
        "SUNBID_CRYPTO_SUITE": settings.crypto_suite,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sunbid.experts.cli.make_platform", lambda: Platform(Settings(), clock=clock))
    bw.submit("bidder_a")
    bw.submit("bidder_b")
    return bw


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _json(*args: str) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_expert_cli_from_import_to_verified_record(cli: Bw, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_text([expert_row(1, "Z99")]), encoding="utf-8")
    code, out = _run("expert", "import", str(bad), "--json")
    assert code == 1 and json.loads(out)["errors"][0]["column"] == "specialties"
    good = tmp_path / "pool.csv"
    rows = [expert_row(n) for n in range(1, 9)] + [
        expert_row(9, employer_uscc=str(cli.org("bidder_a").uscc))  # must be avoided
    ]
    good.write_text(csv_text(rows), encoding="utf-8")
    assert _json("expert", "import", str(good)) == {"ok": True, "created": 9, "updated": 0, "errors": []}
    listed = _json("expert", "list", "--specialty", "A01")
    assert isinstance(listed, list) and len(listed) == 9 and "name" not in listed[0]

    evaluation = cli.deadline + timedelta(days=1)
    committed = _json(
        "expert",
        "draw-commit",
        "--project",
        cli.code,
        "--evaluation-at",
        evaluation.isoformat(),
        "--specialty",
        "A0101:3:2",
        "--response-minutes",
        "20",
    )
    assert isinstance(committed, dict)
    draw_id = str(committed["draw_id"])
    code, out = _run("expert", "draw-run", draw_id)
    assert code == 1 and "评标开始前 48 小时内" in out  # three weeks early
    cli.clock.set(evaluation - timedelta(hours=12))
    view = _json("expert", "draw-run", draw_id)
    assert isinstance(view, dict) and view["sealed"] is True and len(view["seats"]) == 5
    assert "EX0" not in json.dumps(view) and name(1) not in json.dumps(view, ensure_ascii=False)
    code, out = _run("expert", "unseal", draw_id)
    assert code == 1 and "密封" in out
    code, out = _run("expert", "record", draw_id)
    assert code == 1 and "密封" in out

    cli.clock.set(evaluation)
    panel = _json("expert", "unseal", draw_id)
    assert isinstance(panel, dict)
    codes = {s["code"] for s in panel["seats"]}
    assert len(codes) == 5 and "EX00009" not in codes
    code, out = _run("expert", "unseal", draw_id)
    assert code == 0 and "测试专家" in out
    record = tmp_path / "专家抽取记录.json"
    code, _ = _run("expert", "record", draw_id, "--out", str(record))
    assert code == 0
    verified = _json("draw", "verify", str(record))
    assert isinstance(verified, dict) and verified["ok"] is True and verified["purpose"] == "expert"
    assert {p[0] for p in verified["selection"]["recomputed_picks"]} == codes
    # a forged record fails
    data = json.loads(record.read_text(encoding="utf-8"))
    data["selection"]["picks"] = data["selection"]["picks"][::-1]
    record.write_text(json.dumps(data), encoding="utf-8")
    code, out = _run("draw", "verify", str(record), "--json")
    assert code == 1 and "draw.selection_mismatch" in out
