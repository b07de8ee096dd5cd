"""``sunbid opening …``: verify a published opening record offline; a custodian decrypts its key share offline.

``verify`` is the auditor's tool (no database, no network): it checks the record's hash and signature with the
platform's log key and recomputes every coefficient draw in it, and reads out what the record holds per bid
(唱标: price, duration, quality and the other declared items). ``share-decrypt`` is the custodian's tool: it
turns the encrypted share the platform stores (``GET .../opening/sections/{code}/shares/mine``) into the share
text to post during a fallback, with the custodian's PKCS#12 bundle — the private key never leaves the machine.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from sunbid.core.errors import ValidationFailed
from sunbid.crypto.bundle import import_bundle
from sunbid.opening.keys import EncryptedShare, decrypt_share
from sunbid.opening.record import verify_record
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, table

app = typer.Typer(
    help="开标：离线校验开标记录、保管人解密密钥份额 / opening: verify records, decrypt key shares",
    no_args_is_help=True,
)

MAX_FILE = 64 << 20
READ_OUT_FIELDS = ("bidder_name", "price", "duration_days", "quality", "extra", "decryption_status")


def _read_out(section: dict[str, Any]) -> list[dict[str, Any]]:
    """The section's rows as read out at the opening (唱标), as the record holds them (malformed rows skipped)."""
    rows = section.get("rows")
    return [
        {k: r.get(k) for k in READ_OUT_FIELDS} for r in (rows if isinstance(rows, list) else []) if isinstance(r, dict)
    ]


def _row_text(row: dict[str, Any]) -> str:
    """One read-out row as a line of plain text (the caller escapes it for the console)."""

    def cell(name: str) -> str:
        return "—" if row.get(name) is None else str(row[name])

    extra = row.get("extra")
    items = "、".join(f"{k}：{v}" for k, v in sorted(extra.items())) if isinstance(extra, dict) else ""
    return (
        f"{cell('bidder_name')}：报价 price {cell('price')} · 工期 days {cell('duration_days')}"
        f" · 质量 quality {cell('quality')} · 其他唱标内容 declared items {items or '—'}"
        f" · 解密 decryption {cell('decryption_status')}"
    )


def _read(path: Path, what_zh: str, as_json: bool) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE:
            fail("opening.too_large", f"{what_zh} {path} 过大", f"{path} is too large", as_json=as_json)
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(
            "opening.unreadable",
            f"无法读取{what_zh} {path}：{reason}",
            f"cannot read {path}: {reason}",
            as_json=as_json,
        )
        raise AssertionError("unreachable") from exc


@app.command("verify")
@handle_errors
def verify(
    file: Path = typer.Argument(..., help="开标记录 JSON（GET /api/projects/{id}/opening/record）/ opening record"),
    log_key: str | None = typer.Option(
        None, "--log-key", help="信任的平台日志公钥（十六进制，见 /api/v1/log/head）/ trusted log public key (hex)"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """离线校验开标记录（哈希、签名、系数抽取）/ check an opening record offline (hash, signature, draws)."""
    raw = _read(file, "开标记录", as_json)
    key: bytes | None = None
    if log_key is not None:
        try:
            key = bytes.fromhex(log_key.strip())
        except ValueError:
            fail("opening.bad_hex", "--log-key 须为十六进制", "--log-key must be hex", as_json=as_json)
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        fail("opening.bad_json", f"开标记录不是有效的 JSON：{exc}", f"not valid JSON: {exc}", as_json=as_json)
        raise AssertionError("unreachable") from exc
    problems = verify_record(doc, key) if isinstance(doc, dict) else ["opening.record_malformed: not a JSON object"]
    body = doc.get("record", {}) if isinstance(doc, dict) else {}
    sections = body.get("sections", []) if isinstance(body, dict) else []
    section_summary: list[dict[str, Any]] = [
        {
            "section": s.get("section"),
            "rows": len(s.get("rows", [])),
            "coefficient": s.get("coefficient"),
            "read_out": _read_out(s),
        }
        for s in sections
        if isinstance(s, dict)
    ]
    summary: dict[str, Any] = {
        "ok": not problems,
        "problems": problems,
        "project_code": body.get("project_code") if isinstance(body, dict) else None,
        "record_hash": doc.get("record_hash") if isinstance(doc, dict) else None,
        "sections": section_summary,
        "trusted_key": key is not None,
    }
    if as_json:
        emit_json(summary)
    else:
        rows: list[list[Any]] = [
            ["项目 project", summary["project_code"]],
            ["记录哈希 record hash", summary["record_hash"]],
            ["标段 sections", ", ".join(f"{s['section']}({s['rows']})" for s in section_summary)],
            ["系数 coefficients", ", ".join(str(s["coefficient"]) for s in section_summary if s["coefficient"])],
            ["信任公钥 trusted key", "是 yes" if key is not None else "否（用记录自带公钥）no (record's own key)"],
        ]
        table("开标记录 Opening record", ["字段 field", "值 value"], rows)
        for s in section_summary:
            console.print(f"[bold]唱标 Read out · 标段 section {escape(str(s['section']))}[/]", soft_wrap=True)
            for r in s["read_out"]:
                console.print(f"  {escape(_row_text(r))}", soft_wrap=True)
        for p in problems:
            console.print(f"[red]✗[/] {escape(p)}")
        console.print("[green]校验通过 verified[/]" if not problems else "[bold red]校验失败 verification FAILED[/]")
    if problems:
        raise typer.Exit(1)


@app.command("share-decrypt")
@handle_errors
def share_decrypt(
    file: Path = typer.Argument(..., help="加密的密钥份额文本 / the encrypted share (armoured text)"),
    bundle: Path = typer.Option(..., "--bundle", help="保管人证书文件 PKCS#12 / the custodian's bundle"),
    password_file: Path | None = typer.Option(None, "--password-file", help="证书口令文件 / bundle password file"),
    out: Path | None = typer.Option(None, "--out", help="写入文件（默认打印）/ write to a file"),
    as_json: bool = JsonOpt,
) -> None:
    """保管人离线解密自己的密钥份额 / a custodian decrypts its key share offline."""
    text = _read(file, "密钥份额", as_json).decode("utf-8", errors="replace")
    password = os.environ.get("SUNBID_BUNDLE_PASSWORD", "")
    if password_file is not None:
        password = _read(password_file, "口令文件", as_json).decode("utf-8").rstrip("\r\n")
    if not password:
        raise ValidationFailed(
            "opening.password_required",
            "请用 --password-file 或环境变量 SUNBID_BUNDLE_PASSWORD 提供证书口令。",
            "Give the bundle password with --password-file or SUNBID_BUNDLE_PASSWORD.",
        )
    keys = import_bundle(_read(bundle, "证书文件", as_json), password)
    encrypted = EncryptedShare.from_text(text)
    share = decrypt_share(keys.suite, encrypted, keys.encryption_private)
    share_text = share.to_text()
    if out is not None:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(share_text)
    if as_json:
        emit_json(
            {"ok": True, "section": share.section, "index": share.index, "out": None if out is None else str(out)}
        )
    elif out is None:
        typer.echo(share_text, nl=False)
    else:
        console.print(f"[green]已写入 written[/] {escape(str(out))} (份额 share {share.index}/{share.total})")


def verify_embedded_draws(raw: bytes, as_json: bool) -> bool | None:
    """For ``sunbid draw verify`` given an opening record: verify every draw record in it.

    Returns None when ``raw`` is not an opening record (the caller verifies it as a draw record), else whether
    every embedded draw verified (a record without any draw is an error: there is nothing to verify).
    """
    from sunbid.draws.verify import verify_record_json
    from sunbid.ledger.canonical import canonical_json
    from sunbid.opening.record import RECORD_FORMAT

    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    body = doc.get("record") if isinstance(doc, dict) else None
    if not isinstance(body, dict) or body.get("format") != RECORD_FORMAT:
        return None
    sections = [s for s in body.get("sections", []) if isinstance(s, dict) and s.get("draw_record") is not None]
    results = [(str(s.get("section")), verify_record_json(canonical_json(s["draw_record"]))) for s in sections]
    ok = bool(results) and all(r.ok for _, r in results)
    if as_json:
        emit_json({"ok": ok, "opening_record": True, "draws": [{"section": s, **r.as_dict()} for s, r in results]})
        return ok
    if not results:
        console.print("[bold red]开标记录中没有系数抽取记录 the opening record holds no draw[/]")
    for section, r in results:
        data = r.as_dict()
        mark = "[green]✓[/]" if r.ok else "[red]✗[/]"
        console.print(
            f"{mark} 标段 section {escape(section)}: 结果 result {escape(str(data.get('claimed_result')))}"
            f" / 重算 recomputed {escape(str(data.get('recomputed_result')))}"
        )
        for p in r.problems:
            console.print(f"  [red]{escape(p.code)}[/] {escape(p.message_zh)} / {escape(p.message_en)}")
    console.print("[green]校验通过 verified[/]" if ok else "[bold red]校验失败 verification FAILED[/]")
    return ok
