"""``sunbid expert assess …`` and ``sunbid expert fees …``: assessment, appeals, fees (as the centre's operator at
the console, audited as ``cli:user@host``). Every command prints JSON with ``--json``."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from sunbid.core.clock import to_local
from sunbid.core.errors import ValidationFailed
from sunbid.experts import management as mgmt
from sunbid.experts import management_fees as fees
from sunbid.experts.domain import aware_moment
from sunbid.experts.payments import PaymentTimeout
from sunbid.experts.pool import PoolKeys
from sunbid.platform.clikit import JsonOpt, console, emit_json, handle_errors, table
from sunbid.platform.context import RequestContext

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

assess_app = typer.Typer(help="专家考评、扣分、申诉 / expert assessment, points, appeals", no_args_is_help=True)
fees_app = typer.Typer(help="评标费计算与在线发放 / expert fees: compute, pay, list", no_args_is_help=True)


def make_platform() -> Platform:
    """The platform, through ``sunbid.experts.cli`` (looked up at call time, so one substitution serves both)."""
    from sunbid.experts import cli as expert_cli

    platform: Platform = expert_cli.make_platform()  # type: ignore[attr-defined]
    return platform


def _item(text: str, note: str, evidence: dict[str, Any]) -> mgmt.DeductionIn:
    code, _, count = text.partition(":")
    try:
        n = int(count) if count else 1
    except ValueError as exc:
        raise ValidationFailed("expert_assess.bad_count", f"{text} 的次数不是整数", "counts are integers") from exc
    return mgmt.DeductionIn(code.strip(), n, note, evidence)


def _when(text: str) -> datetime:
    return aware_moment(text, "expert_fee.bad_time")


def _show(data: Any, as_json: bool) -> None:
    if as_json:
        emit_json(data)
    else:
        console.print_json(json.dumps(data, ensure_ascii=False, default=str))


@assess_app.command("items")
@handle_errors
def items(as_json: bool = JsonOpt) -> None:
    """考评扣分项目录（按维度）/ the catalogue of offences, by dimension."""
    platform = make_platform()
    try:
        with platform.db.read() as s:
            scheme = mgmt.assessment_scheme(s)
    finally:
        platform.close()
    rows = [
        {
            "code": i.code,
            "dimension": i.dimension.value,
            "name_zh": i.name_zh,
            "name_en": i.name_en,
            "points": i.points,
            "max_count": i.max_count,
            "removal": i.removal,
            "needs_evidence": i.needs_evidence,
        }
        for i in scheme.items.values()
    ]
    if as_json:
        emit_json({"annual_points": scheme.annual_points, "items": rows})
        return
    table(
        f"考评扣分项（年度 {scheme.annual_points} 分）Assessment items",
        ["代码 code", "维度 dimension", "名称 name", "分值 points", "上限 max"],
        [[r["code"], r["dimension"], r["name_zh"], r["points"], r["max_count"]] for r in rows],
    )


@assess_app.command("record")
@handle_errors
def record(
    draw_id: int = typer.Argument(..., help="专家抽取编号（即本次评标）/ the draw of the evaluation"),
    code: str = typer.Argument(..., help="专家编号 / expert code"),
    item: list[str] = typer.Option([], "--item", help="扣分项[:次数]，可重复 / ITEM[:COUNT], repeatable"),
    note: str = typer.Option("", "--note", help="说明 / note"),
    evidence: str = typer.Option("", "--evidence", help='依据 JSON，如 {"intervention": 12} / evidence as JSON'),
    comment: str = typer.Option("", "--comment", help="总体评价 / overall comment"),
    as_json: bool = JsonOpt,
) -> None:
    """记录一次考评（可不扣分）；达到阈值即暂停或清退 / record an assessment; thresholds suspend or remove."""
    try:
        proof = json.loads(evidence) if evidence else {}
    except json.JSONDecodeError as exc:
        raise ValidationFailed("expert_assess.bad_evidence", "依据须为 JSON 对象", "evidence must be JSON") from exc
    if not isinstance(proof, dict):
        raise ValidationFailed("expert_assess.bad_evidence", "依据须为 JSON 对象", "evidence must be a JSON object")
    deductions = [_item(x, note, proof) for x in item]
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            out = mgmt.record_assessment(uow, None, draw_id, code, deductions, comment)
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(out)
        return
    console.print(f"{out['expert']}: 年度已扣 {out['points_deducted']} 分，剩余 {out['points_left']} 分")
    if out["sanction"]:
        console.print(f"处理 sanction: {out['sanction']['basis']}")


@assess_app.command("show")
@handle_errors
def show(
    code: str = typer.Argument(...),
    year: int = typer.Option(None, "--year", help="年度（缺省为今年）/ year (default: this year)"),
    as_json: bool = JsonOpt,
) -> None:
    """专家年度考评记录：扣分、申诉、暂停与清退 / an expert's record for a year."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            view = mgmt.expert_record(uow.session, code, year or to_local(uow.now).year)
            uow.audit("expert:assess:view", subject_type="expert", subject_id=view["code"])
            uow.commit()
    finally:
        platform.close()
    _show(view, as_json)


@assess_app.command("appeal")
@handle_errors
def appeal(
    deduction_id: int = typer.Argument(..., help="扣分记录编号 / deduction id"),
    reason: str = typer.Option(..., "--reason", help="申诉理由 / grounds"),
    as_json: bool = JsonOpt,
) -> None:
    """登记专家的书面申诉 / record an expert's written appeal against a deduction."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            row = mgmt.file_appeal(uow, None, deduction_id, reason)
            out = {"appeal_id": row.id, "state": row.state}
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(f"申诉 appeal {out['appeal_id']}: {out['state']}")


@assess_app.command("decide")
@handle_errors
def decide(
    appeal_id: int = typer.Argument(...),
    overturn: bool = typer.Option(..., "--overturn/--uphold", help="撤销扣分或维持 / overturn or uphold"),
    note: str = typer.Option(..., "--note", help="裁决理由 / grounds"),
    as_json: bool = JsonOpt,
) -> None:
    """裁决申诉：撤销则返还分值并解除不再成立的暂停 / decide an appeal."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            out = mgmt.decide_appeal(uow, None, appeal_id, overturn=overturn, note=note)
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(f"申诉 appeal {out['appeal_id']}: {out['state']}")


@fees_app.command("bank-account")
@handle_errors
def bank_account(
    code: str = typer.Argument(...),
    account_no: str = typer.Option(..., "--account", help="银行账号 / account number"),
    account_name: str = typer.Option(..., "--name", help="户名 / account name"),
    bank: str = typer.Option(..., "--bank", help="开户行 / bank"),
    as_json: bool = JsonOpt,
) -> None:
    """登记专家收款账户（加密保存）/ record an expert's bank account (stored encrypted)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            row = fees.register_bank_account(uow, None, PoolKeys.of(platform), code, account_no, account_name, bank)
            out = {"code": code.upper(), "account_tail": row.account_tail}
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(f"{out['code']}: ****{out['account_tail']}")


@fees_app.command("compute")
@handle_errors
def compute(
    draw_id: int = typer.Argument(...),
    code: str = typer.Argument(None, help="专家编号；缺省为全部已确认参加的专家 / expert code; default: the panel"),
    started_at: str = typer.Option(..., "--start", help="评标开始 ISO 8601（带时区）"),
    ended_at: str = typer.Option(..., "--end", help="评标结束 ISO 8601（带时区）"),
    as_json: bool = JsonOpt,
) -> None:
    """按评标时长和本中心标准计算评标费 / compute fees from the evaluation's duration (one expert or the panel)."""
    start, end = _when(started_at), _when(ended_at)
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            if code:
                computed = [fees.compute_fee(uow, None, draw_id, code, start, end)]
            else:
                computed = fees.compute_panel_fees(uow, None, draw_id, start, end)
            uow.commit()
            out = [fees.fee_view(uow.session, fee) for fee in computed]
    finally:
        platform.close()
    if as_json:
        emit_json(out[0] if code else out)
        return
    for row in out:
        console.print(f"评标费 fee {row['id']}: {row['expert']} ¥{row['amount']}（{row['breakdown']['minutes']} 分钟）")


@fees_app.command("pay")
@handle_errors
def pay(
    fee_id: list[int] = typer.Argument(..., help="评标费编号，可多个 / fee ids"),
    now: bool = typer.Option(True, "--now/--queue", help="立即发放或交由后台任务 / pay now or leave to the worker"),
    as_json: bool = JsonOpt,
) -> None:
    """审核并在线发放评标费（每笔只付一次）/ approve and pay fees online (each exactly once)."""
    platform = make_platform()
    results: list[dict[str, Any]] = []
    try:
        for fid in fee_id:
            with platform.uow(RequestContext.cli()) as uow:
                fees.approve_fee(uow, None, fid)
                uow.commit()
        if now:  # the queued job stays: it finds the fee paid, or finishes what a timeout left open
            for fid in fee_id:
                with contextlib.suppress(PaymentTimeout):
                    fees.execute_payment(platform, fid)
        with platform.db.read() as s:
            results = [r for r in fees.list_fees(s, limit=1000) if r["id"] in set(fee_id)]
    finally:
        platform.close()
    if as_json:
        emit_json(results)
        return
    table(
        "评标费发放 Fee payments",
        ["编号 id", "专家 expert", "金额 amount", "状态 state"],
        [[r["id"], r["expert"], r["amount"], r["state"]] for r in results],
    )


@fees_app.command("list")
@handle_errors
def list_(
    draw_id: int = typer.Option(None, "--draw", help="专家抽取编号 / draw id"),
    state: str = typer.Option(None, "--state", help="computed|approved|sending|paid|refused|failed"),
    as_json: bool = JsonOpt,
) -> None:
    """列出评标费 / list fees."""
    platform = make_platform()
    try:
        with platform.db.read() as s:
            rows = fees.list_fees(s, draw_id=draw_id, state=state)
            balances = {k: str(v) for k, v in fees.ledger_balances(s).items()}
    finally:
        platform.close()
    if as_json:
        emit_json({"fees": rows, "ledger": balances})
        return
    table(
        "评标费 Fees",
        ["编号 id", "项目 project", "专家 expert", "金额 amount", "状态 state", "流水 ref"],
        [[r["id"], r["project"], r["expert"], r["amount"], r["state"], r["gateway_ref"] or ""] for r in rows],
    )


@fees_app.command("retry")
@handle_errors
def retry(
    fee_id: int = typer.Argument(...),
    note: str = typer.Option(..., "--note", help="重新发放理由 / why"),
    as_json: bool = JsonOpt,
) -> None:
    """重新发放失败的评标费（新流水号）/ pay a failed fee again (new key)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            fee = fees.retry_fee(uow, None, fee_id, note)
            out = {"id": fee.id, "state": fee.state, "payment_key": fee.payment_key}
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(f"评标费 fee {out['id']}: {out['state']}")
