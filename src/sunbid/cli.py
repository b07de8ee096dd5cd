"""The ``sunbid`` command: serve, demo, database, administration, certificates and the transparency log."""

from __future__ import annotations

import typer

from sunbid.archive.cli import app as archive_app
from sunbid.bidding.cli import app as bidder_app
from sunbid.calendar.cli import calendar_app, rules_app
from sunbid.deposits.cli import app as deposit_app
from sunbid.draws.cli import app as draw_app
from sunbid.evaluation.cli import app as calc_app
from sunbid.experts.cli import app as expert_app
from sunbid.identity.cli import admin_app, cert_app
from sunbid.ledger.cli import app as log_app
from sunbid.opening.cli import app as opening_app
from sunbid.platform.cli import db_app, serve, worker
from sunbid.platform.clikit import JsonOpt, console, emit_json, handle_errors, make_platform
from sunbid.screening.cli import app as screen_app

app = typer.Typer(
    name="sunbid",
    help="sunbid 公共资源交易平台 / public resource trading platform",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(cert_app, name="cert")
app.add_typer(log_app, name="log")
app.add_typer(archive_app, name="archive")
app.add_typer(calendar_app, name="calendar")
app.add_typer(rules_app, name="rules")
app.add_typer(draw_app, name="draw")
app.add_typer(opening_app, name="opening")
app.add_typer(bidder_app, name="bidder")
app.add_typer(calc_app, name="calc")
app.add_typer(expert_app, name="expert")
app.add_typer(screen_app, name="screen")
app.add_typer(deposit_app, name="deposit")
app.command("serve")(serve)
app.command("worker")(worker)


@app.command("demo")
@handle_errors
def demo(
    serve_after: bool = typer.Option(True, "--serve/--no-serve", help="准备好后启动服务 / serve when ready"),
    port: int = typer.Option(None, help="端口 / port (default 8000)"),
    as_json: bool = JsonOpt,
) -> None:
    """示范交易中心：SQLite + 本地文件，五个示范项目，一条命令启动 / a demo centre with five tenders."""
    from sunbid.platform.demo import BUNDLE_PASSWORD, DEMO_PASSWORD, demo_usernames, seed
    from sunbid.platform.demo_bids import opening_line
    from sunbid.platform.demo_deposits import deposit_line

    platform = make_platform()
    result = seed(platform, cert_dir=platform.settings.data_dir / "demo-certs")
    url = f"http://{platform.settings.host}:{port or platform.settings.port}"
    info = {
        "created": result["created"],
        "url": url,
        "users": demo_usernames(platform.settings.centre_region_code),
        "password": DEMO_PASSWORD,
        "bundle_password": BUNDLE_PASSWORD,
        "cert_dir": result["cert_dir"],
        "bundles": result["bundles"],
        "tenderer_bundles": result["tenderer_bundles"],
        "custodian_bundles": result["custodian_bundles"],
        "projects": result["projects"],
        "deposit_reconciliations": result["deposit_reconciliations"],
    }
    if as_json:
        emit_json(info)
    else:
        console.print(f"[bold]sunbid 示范交易中心[/] {platform.settings.centre_name}")
        console.print(f"  地址 URL: {url}")
        console.print(f"  用户 users: {', '.join(info['users'])}  密码 password: {DEMO_PASSWORD}")
        console.print(f"  证书包 certificate bundles: {info['cert_dir']}  口令 password: {BUNDLE_PASSWORD}")
        for p in info["projects"]:
            last = p["timeline"][-1]["at"][:16].replace("T", " ") if p["timeline"] else "-"
            live = p["final_state"] == "bidding" and p["bid_deadline"]
            due = f", 截止 deadline {p['bid_deadline'][:16].replace('T', ' ')}" if live else ""
            console.print(
                f"  {p['code']} {p['procedure_zh']} {p['name']} → {p['final_state_zh']} ({p['final_state']}),"
                f" {len(p['timeline'])} 步 steps, {last}{due}"
            )
            if p.get("opening"):
                console.print(f"    开标 opening: {opening_line(p['opening'])}")
            if p.get("deposits"):
                console.print(f"    保证金 deposits: {deposit_line(p['deposits'])}")
        rec = info["deposit_reconciliations"]
        console.print(f"  对账 reconciliation: {rec['balanced']}/{rec['statements']} 日对账单相符 statements balanced")
    platform.close()
    if serve_after:
        serve(host=None, port=port)


@app.command("info")
@handle_errors
def info(as_json: bool = JsonOpt) -> None:
    """显示部署配置（不含密钥）/ show the deployment settings (secrets masked)."""
    platform = make_platform()
    data = {"settings": platform.settings.public_dict(), "log": platform.public_info()}
    emit_json(data) if as_json else console.print_json(data=data)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
