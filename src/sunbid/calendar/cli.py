"""``sunbid calendar …`` (working days, overrides) and ``sunbid rules …`` (the legal time rules table)."""

from __future__ import annotations

import typer

from sunbid.calendar import service
from sunbid.core.calendar import parse_iso_date
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, make_platform, table
from sunbid.platform.context import RequestContext
from sunbid.projects.rules import PROCEDURE_LABELS, RuleBook

calendar_app = typer.Typer(help="工作日历：节假日、调休、自定义 / working-day calendar", no_args_is_help=True)
PROCEDURE_CODES = "|".join(PROCEDURE_LABELS)
rules_app = typer.Typer(help="法定时限规则表 / legal time rules", no_args_is_help=True)

DateArg = typer.Argument(..., help="日期 / date, YYYY-MM-DD")
NOT_OFFICIAL = "[yellow]注意：该年份不在官方日历中，仅按周末推算 / year not in the official calendar[/]"


@calendar_app.command("add-working-days")
@handle_errors
def add_working_days(
    day: str = DateArg,
    n: int = typer.Argument(..., help="工作日数（首日不计）/ working days (the first day not counted)"),
    as_json: bool = JsonOpt,
) -> None:
    """第 N 个工作日（首日不计，跳过节假日，计入调休上班日）/ the N-th working day after DATE."""
    start = parse_iso_date(day)
    platform = make_platform()
    try:
        with platform.db.read() as s:
            cal = service.load_calendar(s)
        result = cal.add_working_days(start, n)
    finally:
        platform.close()
    if as_json:
        emit_json({"date": result.isoformat()})
        return
    console.print(f"{start.isoformat()} 后第 {n} 个工作日 / working day {n} after it: {result.isoformat()}")
    if not cal.is_authoritative(result) or not cal.is_authoritative(start):
        console.print(NOT_OFFICIAL)


@calendar_app.command("is-working-day")
@handle_errors
def is_working_day(day: str = DateArg, as_json: bool = JsonOpt) -> None:
    """是否工作日，及该日期是否在官方日历内 / whether DATE is a working day."""
    when = parse_iso_date(day)
    platform = make_platform()
    try:
        with platform.db.read() as s:
            info = service.day_info(service.load_calendar(s), when)
    finally:
        platform.close()
    if as_json:
        emit_json(info)
        return
    what = "工作日 working day" if info["is_working_day"] else "休息日 rest day"
    console.print(f"{info['date']}: {what}")
    if not info["authoritative"]:
        console.print(NOT_OFFICIAL)


@calendar_app.command("override")
@handle_errors
def override(
    day: str = DateArg,
    working: bool = typer.Option(None, "--working/--holiday", help="工作日或休息日 / working or rest day"),
    note: str = typer.Option("", "--note", help="说明，如国务院通知文号 / note, e.g. the notice number"),
    as_json: bool = JsonOpt,
) -> None:
    """自定义某日为工作日或休息日（优先于官方日历）/ set a day as working or rest day."""
    when = parse_iso_date(day)
    if working is None:
        fail(
            "calendar.override_kind",
            "请指定 --working（工作日）或 --holiday（休息日）。",
            "Give --working or --holiday.",
            as_json=as_json,
        )
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            row = service.set_override(uow, when, bool(working), note)
            data = service.override_dict(row)
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json(data)
    else:
        what = "工作日 working day" if data["is_working"] else "休息日 rest day"
        console.print(f"已设置 set {data['date']}: {what}")


@calendar_app.command("remove-override")
@handle_errors
def remove_override(day: str = DateArg, as_json: bool = JsonOpt) -> None:
    """取消某日的自定义设置 / drop the override of a day."""
    when = parse_iso_date(day)
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            service.remove_override(uow, when)
            uow.commit()
    finally:
        platform.close()
    if as_json:
        emit_json({"date": when.isoformat(), "removed": True})
    else:
        console.print(f"已取消 removed override: {when.isoformat()}")


@calendar_app.command("overrides")
@handle_errors
def overrides(as_json: bool = JsonOpt) -> None:
    """列出自定义日期 / list the overrides."""
    platform = make_platform()
    try:
        with platform.db.read() as s:
            rows = [service.override_dict(r) for r in service.list_overrides(s)]
    finally:
        platform.close()
    if as_json:
        emit_json({"overrides": rows})
        return
    table(
        "自定义日期 Overrides",
        ["日期 date", "工作日 working", "说明 note", "设置人 by"],
        [[r["date"], "是 yes" if r["is_working"] else "否 no", r["note"], r["created_by"]] for r in rows],
    )


@rules_app.command("list")
@handle_errors
def list_rules(
    procedure: str = typer.Option(None, "--procedure", help=f"交易方式 / procedure: {PROCEDURE_CODES}"),
    as_json: bool = JsonOpt,
) -> None:
    """法定时限规则表（含出处）/ the legal time rules with their sources."""
    book = RuleBook.default()
    rules = list(book) if procedure is None else list(book.for_procedure(procedure))
    if as_json:
        emit_json({"rules": [r.as_dict() for r in rules]})
        return
    table(
        "法定时限 Legal time rules",
        ["编号 id", "规则 rule", "时限 limit", "出处 source", "标签 tag"],
        [[r.id, r.title_zh, f"{r.kind} {r.amount}{r.unit_zh}", r.source, r.tag] for r in rules],
    )
