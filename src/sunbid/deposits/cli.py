"""``sunbid deposit …``: statement import and reconciliation, the ledger check, unclaimed deposits, interest.

Run on the server by the centre's staff (like ``sunbid admin``); every change is audited with the CLI as source.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import typer

from sunbid.core.calendar import parse_iso_date
from sunbid.deposits import domain, reconcile, refunds
from sunbid.deposits.tasks import system
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, make_platform, table
from sunbid.platform.context import RequestContext

app = typer.Typer(help="投标保证金：对账、台账、沉淀保证金清退、利息 / bid deposits", no_args_is_help=True)
CLI = RequestContext(source="cli", actor_name="sunbid deposit")


@app.command("import-statement")
@handle_errors
def import_statement(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="MT940 对账单文件 / MT940 statement file"),
    as_json: bool = JsonOpt,
) -> None:
    """导入银行对账单（MT940）并与台账逐笔核对，列出全部差异 / import a statement and reconcile the day."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail("deposit.bad_statement", "对账单须为 UTF-8 文本。", "The statement must be UTF-8 text.", as_json=as_json)
    platform = make_platform()
    try:
        with platform.uow(CLI) as uow:
            row, report = reconcile.import_statement(uow, None, text)
            out: dict[str, Any] = {
                "id": row.id,
                "day": row.day.isoformat(),
                "balanced": row.balanced,
                "statement_lines": report.statement_lines,
                "ledger_moves": report.ledger_moves,
                "differences": row.differences,
            }
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(out)
    else:
        verdict = "[green]账实相符 balanced[/]" if out["balanced"] else "[red]存在差异 differences found[/]"
        console.print(f"{out['day']} 对账 reconciliation #{out['id']}: {verdict}")
        if out["differences"]:
            table(
                "差异 differences",
                ["类型 kind", "银行流水号 bank ref", "对账单 statement", "台账 ledger", "说明 note"],
                [
                    [d["kind"], d["bank_ref"], d["statement_amount"], d["ledger_amount"], d["note"]]
                    for d in out["differences"]
                ],
            )
    if not out["balanced"]:
        raise typer.Exit(3)  # scripts notice a difference without parsing the output


@app.command("ledger")
@handle_errors
def ledger(as_json: bool = JsonOpt) -> None:
    """台账总览：借贷平衡、银行存款、已付利息、尚欠保证金合计 / ledger totals and invariants."""
    platform = make_platform()
    try:
        with platform.uow(CLI) as uow:
            out = reconcile.ledger_check(uow)
    finally:
        platform.close()
    if as_json:
        emit_json(out)
        return
    for key, label in (
        ("entries", "分录数 entries"),
        ("sum", "借贷差额 debit − credit"),
        ("bank", "银行存款 bank"),
        ("interest", "已付利息 interest"),
        ("fees", "资金占用费 fees"),
        ("forfeited", "不予退还 forfeited"),
        ("owed_total", "尚欠保证金 owed"),
    ):
        console.print(f"{label}: {out[key]}")


@app.command("unclaimed")
@handle_errors
def unclaimed(
    before: str = typer.Option(None, "--before", help="只列此日期前的 / planned before YYYY-MM-DD"),
    as_json: bool = JsonOpt,
) -> None:
    """历史沉淀保证金：银行多次拒绝、尚未退出的款项 / refunds refused after every attempt."""
    older: date | None = parse_iso_date(before) if before else None
    platform = make_platform()
    try:
        with platform.uow(CLI) as uow:
            rows = refunds.unclaimed(uow, None, older_than=older)
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(rows)
        return
    table(
        "历史沉淀保证金 unclaimed deposits",
        ["编号 id", "项目 project", "原因 reason", "金额 amount", "收款人 payee", "账号 account", "错误 error"],
        [
            [r["id"], r["project_id"], r["reason"], r["amount"], r["to_name"], r["to_account"], r["last_error"]]
            for r in rows
        ],
    )


@app.command("clear")
@handle_errors
def clear(
    refund_id: int = typer.Argument(..., help="沉淀保证金编号 / unclaimed refund id"),
    note: str = typer.Option(..., "--note", help="清退依据 / grounds, recorded in the audit log"),
    to_account: str = typer.Option(None, "--to-account", help="更正后的收款账号 / corrected account"),
    to_name: str = typer.Option(None, "--to-name", help="更正后的户名 / corrected name"),
    to_bank: str = typer.Option(None, "--to-bank", help="更正后的开户行 / corrected bank"),
    as_json: bool = JsonOpt,
) -> None:
    """清退一笔沉淀保证金：重新退付（可更正收款信息），留痕审计 / pay an unclaimed refund again."""
    platform = make_platform()
    try:
        with platform.uow(CLI) as uow:
            r = refunds.clear_unclaimed(
                uow, None, refund_id, note=note, to_account=to_account, to_name=to_name, to_bank=to_bank
            )
            out = {"id": r.id, "state": r.state, "attempt": r.attempt, "transfer_key": r.transfer_key}
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(out)
    else:
        console.print(f"已重新安排退付 / scheduled again: #{out['id']} ({out['transfer_key']})")


@app.command("interest")
@handle_errors
def interest(
    principal: str = typer.Argument(..., help="本金（元）/ principal in yuan"),
    arrived: str = typer.Argument(..., help="到账日 / arrival date YYYY-MM-DD"),
    refunded: str = typer.Argument(..., help="退还日 / refund date YYYY-MM-DD"),
    as_json: bool = JsonOpt,
) -> None:
    """按本中心规则计算一笔保证金的利息（到分，四舍五入）/ the interest of one deposit under this centre's rules."""
    try:
        amount = domain.parse_amount(Decimal(principal), "本金")
    except InvalidOperation:
        fail("deposit.bad_amount", "本金格式错误。", "Malformed principal.", as_json=as_json)
    start, end = parse_iso_date(arrived), parse_iso_date(refunded)
    if end < start:
        fail("deposit.bad_dates", "退还日不能早于到账日。", "The refund date precedes the arrival.", as_json=as_json)
    platform = make_platform()
    try:
        rules = system(platform).rules
    finally:
        platform.close()
    days = domain.interest_days(rules, start, end)
    value = domain.interest(rules, amount, start, end)
    out = {
        "principal": str(amount),
        "days": days,
        "rate": str(rules.demand_rate),
        "basis": rules.day_basis,
        "interest": str(value),
        "total": str(amount + value),
    }
    if as_json:
        emit_json(out)
    else:
        console.print(
            f"{amount} × {rules.demand_rate} × {days} / {rules.day_basis} = {value}（四舍五入到分）"
            f"; 合计 total {amount + value}"
        )


@app.command("stats")
@handle_errors
def stats(as_json: bool = JsonOpt) -> None:
    """统计：保函占比、按时退还、已付利息 / guarantee share, refunds on time, interest paid."""
    platform = make_platform()
    try:
        with platform.uow(CLI) as uow:
            out = reconcile.statistics(uow, None)
    finally:
        platform.close()
    if as_json:
        emit_json(out)
    else:
        for key, value in out.items():
            console.print(f"{key}: {value}")
