"""``sunbid deposit …`` end to end: statement import finds an injected difference, ledger, unclaimed, interest."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.core.calendar import local_date
from sunbid.core.clock import FakeClock
from sunbid.platform.settings import Settings
from tests.integration.deposits.conftest import Dw, make_dw
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUNBID_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUNBID_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SUNBID_CRYPTO_SUITE", settings.crypto_suite)


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _json(*args: str, code: int = 0) -> object:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


@pytest.fixture
def dw(tw: Tw, clock: FakeClock) -> Dw:
    return make_dw(tw, clock)


def test_statement_import_reports_the_injected_difference(dw: Dw, cli_env: None, tmp_path: Path) -> None:
    dw.pay("bidder_a")
    dw.pay("bidder_b")
    dw.deliver_all(duplicate_rate=1.0)
    day = local_date(dw.clock.now())
    clean = tmp_path / "clean.mt940"
    clean.write_text(dw.bank.statement_mt940(day), encoding="utf-8")
    report = _json("deposit", "import-statement", str(clean))
    assert report["balanced"] is True and report["statement_lines"] == 2  # type: ignore[index]
    fee = dw.bank.add_booking(Decimal("-20.00"), "手续费", booked_at=dw.clock.now())
    dirty = tmp_path / "dirty.mt940"
    dirty.write_text(dw.bank.statement_mt940(day), encoding="utf-8")
    report = _json("deposit", "import-statement", str(dirty), code=3)
    kinds = [(d["kind"], d["bank_ref"]) for d in report["differences"]]  # type: ignore[index]
    assert kinds == [("missing_in_ledger", fee), ("closing_balance", None)]
    code, out = _run("deposit", "import-statement", str(dirty))
    assert code == 3 and "存在差异" in out and fee in out
    bad = tmp_path / "bad.mt940"
    bad.write_text("not a statement", encoding="utf-8")
    code, out = _run("deposit", "import-statement", str(bad))
    assert code == 1 and "MT940" in out
    ledger = _json("deposit", "ledger")
    assert ledger["sum"] == "0.00" and ledger["bank"] == "500000.00" and ledger["owed_total"] == "500000.00"  # type: ignore[index]


def test_unclaimed_listed_and_cleared_with_audit(dw: Dw, cli_env: None) -> None:
    dw.bank.closed_accounts.add("6222999988887777")
    dw.pay("bidder_b", from_account="6222999988887777")
    dw.deliver_all()
    dw.run_worker(rounds=12)
    rows = _json("deposit", "unclaimed")
    assert len(rows) == 1 and rows[0]["sealed"] is True and rows[0]["to_account"] == "****"  # type: ignore[index,arg-type]
    rid = str(rows[0]["id"])  # type: ignore[index]
    assert _run("deposit", "clear", rid, "--note", " ")[0] == 1
    out = _json("deposit", "clear", rid, "--note", "来函更正账户", "--to-account", "6222000011114444")
    assert out["state"] == "retried" and out["attempt"] == 4  # type: ignore[index]
    assert _json("deposit", "unclaimed") == []
    assert _run("deposit", "clear", rid, "--note", "again")[0] == 1  # no longer unclaimed
    dw.clock.set(datetime.now(UTC) + timedelta(minutes=1))  # the CLI ran on the system clock
    dw.run_worker()
    paid = [r for r in dw.refunds() if r.id == int(rid)]
    assert paid[0].state == "confirmed" and paid[0].to_account == "6222000011114444"


def test_interest_command_matches_the_hand_computation(cli_env: None) -> None:
    out = _json("deposit", "interest", "800000.00", "2026-03-02", "2026-04-01")
    assert out == {  # 800000 × 0.35% × 30 / 360 = 233.33
        "principal": "800000.00",
        "days": 30,
        "rate": "0.0035",
        "basis": 360,
        "interest": "233.33",
        "total": "800233.33",
    }
    assert _run("deposit", "interest", "abc", "2026-03-02", "2026-04-01")[0] == 1
    assert _run("deposit", "interest", "100.00", "2026-04-02", "2026-04-01")[0] == 1
