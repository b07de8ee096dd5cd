"""``sunbid bidder …``: the bidder tool (so far: verify a submission receipt offline)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from sunbid.bidding.receipts import verify_receipt
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors

app = typer.Typer(help="投标工具：回执校验 / bidder tool", no_args_is_help=True)
receipt_app = typer.Typer(help="投标回执 / submission receipts", no_args_is_help=True)
app.add_typer(receipt_app, name="receipt")


@receipt_app.command("verify")
@handle_errors
def verify(
    file: Path = typer.Argument(..., help="回执文件（JSON）/ receipt file"),
    log_key: str = typer.Option(
        ..., "--log-key", help="平台透明日志公钥（十六进制，见 /api/v1/log/head）/ the log's public key, hex"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """离线校验投标回执：平台签名、签名树头、日志包含证明 / check a receipt offline."""
    try:
        key = bytes.fromhex(log_key)
    except ValueError:
        fail("receipt.bad_key", "公钥不是合法的十六进制。", "The public key is not valid hex.", as_json=as_json)
        return
    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(
            "receipt.unreadable",
            f"无法读取 {file}：{exc.strerror}",
            f"cannot read {file}: {exc.strerror}",
            as_json=as_json,
        )
        return
    problems = verify_receipt(raw, key)
    body: dict[str, object] = {}
    try:
        parsed = json.loads(raw)
        if isinstance(parsed, dict) and isinstance(parsed.get("receipt"), dict):
            body = parsed["receipt"]
    except ValueError:
        pass
    result = {
        "ok": not problems,
        "problems": problems,
        "project": body.get("project_code"),
        "section": body.get("section_code"),
        "container_hash": body.get("container_hash"),
        "received_at": body.get("received_at"),
        "ledger_index": body.get("ledger_index"),
    }
    if as_json:
        emit_json(result)
    elif problems:
        for p in problems:
            console.print(f"[red]✗[/] {p}")
        console.print("[bold red]回执校验失败 receipt does NOT verify[/]")
    else:
        console.print(
            f"[green]回执有效 receipt verifies[/]: {result['project']} / {result['section']}, "
            f"{result['received_at']}, log #{result['ledger_index']}"
        )
    if problems:
        raise typer.Exit(1)
