"""``sunbid expert …``: the pool (import, list, show, status, penalty) and draws (commit, run, show, respond,
unseal, record). Commands act as the centre's operator at the console (audited as ``cli:user@host``)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import typer

from sunbid.core.errors import ValidationFailed
from sunbid.draws.domain import SeedInput
from sunbid.experts import pool, service
from sunbid.experts.domain import AvoidancePolicy, ExpertStatus, SlotRequest, aware_moment
from sunbid.platform.clikit import JsonOpt, console, emit_json, handle_errors, make_platform, table
from sunbid.platform.context import RequestContext

app = typer.Typer(help="评标专家库与专家抽取 / expert pool and expert draws", no_args_is_help=True)


def _when(text: str) -> datetime:
    return aware_moment(text, "expert.bad_time")


def _slot(text: str) -> SlotRequest:
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise ValidationFailed(
            "expert.bad_request", f"专业申请 {text} 须为 专业:人数[:候补]", f"{text} must be SPECIALTY:COUNT[:RESERVES]"
        )
    try:
        return SlotRequest(parts[0].strip().upper(), int(parts[1]), int(parts[2]) if len(parts) == 3 else 0)
    except ValueError as exc:
        raise ValidationFailed("expert.bad_request", f"专业申请 {text} 的人数不是整数", "counts are integers") from exc


@app.command("import")
@handle_errors
def import_(file: Path = typer.Argument(..., help="专家 CSV（UTF-8）/ pool CSV"), as_json: bool = JsonOpt) -> None:
    """导入专家（全部成功才写入；错误按行列列出）/ import experts (all or nothing; errors by line and column)."""
    text = file.read_text(encoding="utf-8-sig")
    platform = make_platform()
    try:
        keys = pool.PoolKeys.of(platform)
        with platform.uow(RequestContext.cli()) as uow:
            result = pool.import_csv(uow, keys, text)
            if result.ok:
                uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(
            {
                "ok": result.ok,
                "created": result.created,
                "updated": result.updated,
                "errors": [e.as_dict() for e in result.errors],
            }
        )
    elif result.ok:
        console.print(f"已导入 imported: 新增 created {result.created}，更新 updated {result.updated}")
    else:
        table(
            "导入错误 Import errors",
            ["行 line", "列 column", "代码 code", "说明 message"],
            [[e.line, e.column, e.code, f"{e.message_zh} / {e.message_en}"] for e in result.errors],
        )
    if not result.ok:
        raise typer.Exit(1)


@app.command("list")
@handle_errors
def list_(
    specialty: str = typer.Option(None, "--specialty", help="专业代码（含下级）/ specialty code"),
    status: str = typer.Option(None, "--status", help="active|suspended|removed"),
    limit: int = typer.Option(100, "--limit"),
    as_json: bool = JsonOpt,
) -> None:
    """列出专家（不含个人信息）/ list experts (no personal data)."""
    platform = make_platform()
    try:
        with platform.db.read() as s:
            rows = pool.list_experts(s, specialty=specialty, status=status, limit=limit)
    finally:
        platform.close()
    if as_json:
        emit_json(rows)
        return
    table(
        "专家库 Expert pool",
        ["编号 code", "状态 status", "地区 region"],
        [[r["code"], r["status"], r["region_code"]] for r in rows],
    )


@app.command("show")
@handle_errors
def show(code: str = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """专家详情（姓名与掩码手机号；查看留痕）/ one expert (name and masked phone; the view is audited)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            view = pool.expert_view(uow.session, code, pool.PoolKeys.of(platform))
            uow.audit("expert:pool:view", subject_type="expert", subject_id=view["code"])
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(view)
        return
    console.print_json(json.dumps(view, ensure_ascii=False))


@app.command("status")
@handle_errors
def status(
    code: str = typer.Argument(...),
    to: ExpertStatus = typer.Option(..., "--to", help="active|suspended|removed"),
    reason: str = typer.Option(..., "--reason", help="理由 / reason"),
    as_json: bool = JsonOpt,
) -> None:
    """暂停、恢复或清退出库 / suspend, reinstate or remove an expert."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            row = pool.change_status(uow, code, to, reason)
            out = {"code": row.code, "status": row.status}
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(f"{out['code']}: {out['status']}")


@app.command("penalty")
@handle_errors
def penalty(
    code: str = typer.Argument(...),
    start: str = typer.Option(..., "--from", help="YYYY-MM-DD"),
    end: str = typer.Option(None, "--to", help="YYYY-MM-DD（缺省为直至解除）"),
    basis: str = typer.Option(..., "--basis", help="处罚依据 / legal basis"),
    as_json: bool = JsonOpt,
) -> None:
    """记录处罚（处罚期内不被抽取）/ record a penalty (no draws while it lasts)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            pool.add_penalty(uow, code, date.fromisoformat(start), date.fromisoformat(end) if end else None, basis)
            uow.commit()
    finally:
        platform.close()
    emit_json({"ok": True}) if as_json else console.print("已记录 recorded")


@app.command("draw-commit")
@handle_errors
def draw_commit(
    project: str = typer.Option(..., "--project", help="项目编号 / project code"),
    evaluation_at: str = typer.Option(..., "--evaluation-at", help="评标开始时间 ISO 8601（带时区）"),
    specialty: list[str] = typer.Option(..., "--specialty", help="专业:人数[:候补]，可重复 / SPEC:COUNT[:RESERVES]"),
    years: int = typer.Option(3, "--employment-years", help="近 N 年任职回避 / recent-employment years"),
    max_draws: int = typer.Option(None, "--max-draws", help="周期内抽取次数上限 / max draws in the period"),
    period_days: int = typer.Option(365, "--period-days"),
    response_minutes: int = typer.Option(30, "--response-minutes", help="答复时限（分钟）"),
    window_hours: int = typer.Option(48, "--window-hours", help="评标前多少小时内可抽取"),
    sector: list[str] = typer.Option([], "--sector", help="监管行业（如 housing），其监管人员回避，可重复"),
    person: list[str] = typer.Option([], "--person", help="须回避其利害关系人的人员（姓名或身份证号），可重复"),
    as_json: bool = JsonOpt,
) -> None:
    """登记一次专家抽取并公布运营方承诺 / create a draw and publish the operator's commitment."""
    req = service.DrawRequest(
        project_code=project,
        evaluation_starts_at=_when(evaluation_at),
        slots=tuple(_slot(s) for s in specialty),
        policy=AvoidancePolicy(employment_years=years, max_draws=max_draws, draw_period_days=period_days),
        response_minutes=response_minutes,
        draw_window_hours=window_hours,
        supervising_sectors=frozenset(sector),
        persons=tuple(person),
    )
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            row = service.commit_draw(uow, pool.PoolKeys.of(platform), req)
            out: dict[str, Any] = {"draw_id": row.id, "commitment": row.commitment}
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(
        f"抽取 draw {out['draw_id']} 已承诺 committed: {out['commitment']['value_hash']}"
    )


@app.command("draw-run")
@handle_errors
def draw_run(
    draw_id: int = typer.Argument(...),
    seed_input: list[str] = typer.Option([], "--seed-input", help="另一方公开输入 名称=十六进制 / name=hex"),
    as_json: bool = JsonOpt,
) -> None:
    """执行抽取：回避、抽取、密封名单、通知专家 / run the draw: avoidance, draw, seal, notify."""
    inputs = []
    for item in seed_input:
        name, _, value = item.partition("=")
        try:
            inputs.append(SeedInput(name, bytes.fromhex(value)))
        except ValueError as exc:
            raise ValidationFailed("expert.bad_input", f"种子输入 {name} 不是十六进制", "not hex") from exc
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            service.run_draw(uow, pool.PoolKeys.of(platform), draw_id, inputs)
            uow.commit()
        with platform.db.read() as s:
            view = service.draw_view(s, draw_id)
    finally:
        platform.close()
    _print_view(view, as_json)


def _print_view(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(view)
        return
    console.print(
        f"抽取 draw {view['id']} · 项目 {view['project']} · 状态 {view['status']} · 密封 sealed={view['sealed']}"
    )
    table(
        "席位 Seats（名单密封）",
        ["序 seq", "专业 specialty", "候补 reserve", "状态 state"],
        [[s["seq"], s["specialty"], "是" if s["reserve"] else "", s["state"]] for s in view["seats"]],
    )


@app.command("draw-show")
@handle_errors
def draw_show(draw_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """抽取状态（不含任何专家身份）/ a draw's state (no expert identity)."""
    platform = make_platform()
    try:
        with platform.db.read() as s:
            view = service.draw_view(s, draw_id)
    finally:
        platform.close()
    _print_view(view, as_json)


@app.command("respond")
@handle_errors
def respond(
    token: str = typer.Argument(..., help="答复码 / reply code"),
    accept: bool = typer.Option(..., "--accept/--refuse", help="确认或拒绝 / confirm or refuse"),
    as_json: bool = JsonOpt,
) -> None:
    """专家答复（确认或拒绝；拒绝则递补候补）/ an expert's answer (a refusal calls the next reserve)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            seat = service.respond(uow, token, accept)
            out = {"seq": seat.seq, "state": seat.state}
            uow.commit()
    finally:
        platform.close()
    emit_json(out) if as_json else console.print(f"已答复 answered: {out['state']}")


@app.command("unseal")
@handle_errors
def unseal(draw_id: int = typer.Argument(...), as_json: bool = JsonOpt) -> None:
    """评标开始后启封专家名单（留痕）/ unseal the panel once evaluation has started (audited)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            panel = service.unseal(uow, draw_id)
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(panel)
        return
    table(
        "评标专家名单 Panel",
        ["序 seq", "编号 code", "姓名 name", "专业 specialty", "候补 reserve", "状态 state"],
        [
            [s["seq"], s["code"], s["name"], s["specialty"], "是" if s["reserve"] else "", s["state"]]
            for s in panel["seats"]
        ],
    )


@app.command("record")
@handle_errors
def record(
    draw_id: int = typer.Argument(...),
    out: Path = typer.Option(None, "--out", help="写入文件 / write to file"),
    as_json: bool = JsonOpt,
) -> None:
    """启封后公开的抽取记录（可用 sunbid draw verify 校验）/ the published draw record (after unsealing)."""
    platform = make_platform()
    try:
        with platform.db.read() as s:
            rec = service.published_record(s, draw_id, platform.clock.now())
    finally:
        platform.close()
    raw = rec.to_json()
    if out is not None:
        out.write_bytes(raw)
    if as_json or out is None:
        emit_json(json.loads(raw))
    else:
        console.print(f"已写入 written: {out}")


from sunbid.experts.cli_management import assess_app, fees_app  # noqa: E402

app.add_typer(assess_app, name="assess")
app.add_typer(fees_app, name="fees")
