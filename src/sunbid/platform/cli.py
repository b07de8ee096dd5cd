"""``sunbid db …`` and ``sunbid serve``."""

from __future__ import annotations

import typer

from sunbid.platform import migrate
from sunbid.platform.clikit import JsonOpt, console, emit_json, handle_errors, make_platform
from sunbid.platform.container import Platform

db_app = typer.Typer(help="数据库结构迁移 / database migrations", no_args_is_help=True)


def upgrade_and_seed(platform: Platform) -> dict[str, object]:
    """Migrate to head and load reference data (regions); idempotent."""
    from sunbid.identity.service import ensure_regions

    migrate.upgrade(platform.db)
    with platform.db.session() as s:
        added = ensure_regions(s)
        s.commit()
    return {"schema": migrate.current(platform.db), "regions_added": added}


@db_app.command("upgrade")
@handle_errors
def upgrade(as_json: bool = JsonOpt) -> None:
    """升级数据库结构到最新并载入行政区划 / migrate to the latest schema and load regions."""
    platform = make_platform()
    result = upgrade_and_seed(platform)
    if as_json:
        emit_json(result)
    else:
        console.print(f"数据库已升级到 {result['schema']}（新增行政区划 {result['regions_added']} 条）")
        console.print(f"Database upgraded to {result['schema']} ({result['regions_added']} regions added)")


@db_app.command("current")
@handle_errors
def current(as_json: bool = JsonOpt) -> None:
    """显示当前数据库结构版本 / show the current schema revision."""
    platform = make_platform()
    cur, head = migrate.current(platform.db), migrate.head(platform.db)
    data = {"current": cur, "head": head, "up_to_date": cur == head}
    if as_json:
        emit_json(data)
    else:
        console.print(f"当前 current: {data['current']} · 最新 head: {data['head']}")


@db_app.command("cleanup-uploads")
@handle_errors
def cleanup_uploads(
    idle_hours: float = typer.Option(24.0, "--idle-hours", help="空闲超过该小时数的上传作废 / idle limit, hours"),
    as_json: bool = JsonOpt,
) -> None:
    """作废被放弃的投标上传并删除暂存文件 / expire abandoned bid uploads and remove their spool files."""
    from datetime import timedelta

    from sunbid.bidding.cleanup import expire_uploads
    from sunbid.platform.context import RequestContext

    platform = make_platform()
    with platform.uow(RequestContext.cli()) as uow:
        report = expire_uploads(uow, idle=timedelta(hours=idle_hours))
        uow.commit()
    data = report.to_json()
    if as_json:
        emit_json(data)
    else:
        console.print(f"已作废上传 {data['expired']} 个，删除暂存文件 {data['spool_removed']} 个")
        console.print(f"Expired {data['expired']} uploads, removed {data['spool_removed']} spool files")


def serve(
    host: str | None = typer.Option(None, help="监听地址 / bind address"),
    port: int | None = typer.Option(None, help="端口 / port"),
) -> None:
    """启动 Web 服务（接口、页面、后台任务）/ serve the API, pages and worker."""
    import uvicorn

    from sunbid.app import create_app
    from sunbid.platform.logging import configure_logging

    platform = make_platform()
    configure_logging(platform.settings.log_level, platform.settings.log_json)
    if not migrate.is_current(platform.db):
        upgrade_and_seed(platform)
    app = create_app(platform)
    uvicorn.run(
        app,
        host=host or platform.settings.host,
        port=port or platform.settings.port,
        log_level="warning",
        proxy_headers=False,
    )


def worker(
    once: bool = typer.Option(False, "--once", help="只处理一轮后退出 / one pass, then exit"),
    as_json: bool = JsonOpt,
) -> None:
    """运行后台任务进程（发件箱）/ run the background worker (outbox) in this process."""
    import signal
    import threading

    from sunbid.platform.logging import configure_logging

    platform = make_platform()
    configure_logging(platform.settings.log_level, platform.settings.log_json)
    if once:
        stats = platform.worker.run_once()
        data = {"sent": stats.sent, "failed": stats.failed, "dead": stats.dead}
        emit_json(data) if as_json else console.print(f"已发送 sent {stats.sent}, 失败 failed {stats.failed}")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    platform.worker.start(platform.settings.worker_poll_seconds)
    console.print("后台任务已启动 worker running (Ctrl-C to stop)")
    stop.wait()
    platform.close()
