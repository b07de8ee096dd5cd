"""`sunbid expert assess …` and `sunbid expert fees …` end to end, with JSON output."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.core.clock import SHANGHAI, FakeClock
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings
from tests.integration.bidding.conftest import bw as bw  # the fixture
from tests.integration.experts.conftest import Ew
from tests.integration.experts.conftest import ew as ew  # the fixture
from tests.integration.experts.mgmt_support import Panel, unsealed_panel
from tests.integration.projects.conftest import tw as tw  # the fixture


@pytest.fixture
def panel(settings: Settings, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, ew: Ew) -> Panel:
    for k, v in {
        "SUNBID_DATA_DIR": str(settings.data_dir),
        "SUNBID_DATABASE_URL": settings.resolved_database_url,
        "SUNBID_CRYPTO_SUITE": settings.crypto_suite,
    }.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr("sunbid.experts.cli.make_platform", lambda: Platform(Settings(), clock=clock))
    return unsealed_panel(ew)


def _run(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(app, list(args))
    text = result.output  # an error's message (stderr) and the JSON document, in either order
    for n, line in enumerate(text.splitlines()):
        if line.startswith(("{", "[")):
            try:
                return result.exit_code, json.JSONDecoder().raw_decode("\n".join(text.splitlines()[n:]))[0]
            except json.JSONDecodeError:
                continue
    return result.exit_code, text


def test_assess_appeal_and_show(panel: Panel) -> None:
    code, items = _run("expert", "assess", "items", "--json")
    assert code == 0 and items["annual_points"] == 12 and len(items["items"]) >= 12
    expert = panel.confirmed[0]
    code, out = _run(
        "expert", "assess", "record", str(panel.draw_id), expert,
        "--item", "absent_after_confirming", "--item", "scoring_error:2", "--note", "未到场", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert out["points_deducted"] == 6 and out["sanction"]["kind"] == "suspend"
    code, out = _run("expert", "assess", "record", str(panel.draw_id), expert, "--item", "late_arrival")
    assert code != 0 and "已考评" in out  # the console has assessed this expert already
    code, out = _run(
        "expert", "assess", "record", str(panel.draw_id), panel.refused[0], "--item", "late_arrival", "--json"
    )
    assert code != 0 and out["code"] == "expert_assess.not_applicable"
    code, record = _run("expert", "assess", "show", expert, "--year", "2026", "--json")
    assert code == 0 and record["status"] == "suspended" and record["points_left"] == 6
    ded = next(d["id"] for d in record["deductions"] if d["item"] == "absent_after_confirming")
    code, appeal = _run("expert", "assess", "appeal", str(ded), "--reason", "突发疾病，有医院证明", "--json")
    assert code == 0 and appeal["state"] == "pending"
    code, out = _run("expert", "assess", "decide", str(appeal["appeal_id"]), "--overturn", "--note", "属实", "--json")
    assert code == 0 and out["status"] == "active" and out["lifted_sanctions"]


def test_fees_compute_pay_list(panel: Panel, clock: FakeClock) -> None:
    expert = panel.confirmed[1]
    code, out = _run(
        "expert", "fees", "bank-account", expert,
        "--account", "6222020000001111", "--name", "专家乙", "--bank", "中国工商银行池州分行", "--json",
    )  # fmt: skip
    assert code == 0 and out["account_tail"] == "1111"
    clock.set(panel.starts_at + timedelta(hours=12))
    day = panel.starts_at.astimezone(SHANGHAI).date().isoformat()
    code, fee = _run(
        "expert", "fees", "compute", str(panel.draw_id), expert,
        "--start", f"{day}T09:00+08:00", "--end", f"{day}T20:30+08:00", "--json",
    )  # fmt: skip
    # 690 min: base 240 → 800; 450 min more = 7 h 30 → 8 units × 150 = 1200; 2000 ≤ cap 2000 → 2000.00
    assert code == 0 and fee["amount"] == "2000.00", fee
    code, paid = _run("expert", "fees", "pay", str(fee["id"]), "--json")
    assert code == 0 and [p["state"] for p in paid] == ["paid"]
    code, again = _run("expert", "fees", "pay", str(fee["id"]), "--json")
    assert code != 0 and again["code"] == "expert_fee.bad_state"  # never twice
    code, listing = _run("expert", "fees", "list", "--draw", str(panel.draw_id), "--json")
    assert code == 0 and listing["fees"][0]["gateway_ref"]
    assert listing["ledger"] == {
        "payer:centre": "2000.00",
        f"payable:expert:{expert}": "0.00",
        "bank:expert_fees": "-2000.00",
    }
    code, out = _run("expert", "fees", "compute", str(panel.draw_id), panel.refused[0], "--start", f"{day}T09:00+08:00",
                     "--end", f"{day}T10:00+08:00")  # fmt: skip
    assert code != 0
    code, rest = _run("expert", "fees", "compute", str(panel.draw_id), "--start", f"{day}T09:00+08:00",
                      "--end", f"{day}T13:00+08:00", "--json")  # fmt: skip
    assert code == 0 and len(rest) == 2 and {r["amount"] for r in rest} == {"800.00"}  # the paid fee stays
