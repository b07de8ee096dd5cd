"""``sunbid bidder …``: the bidder tool — seal, submit (resumable), verify a receipt offline, decrypt at opening.

Commands, files and exit codes: ``docs/bidder-tool.md``; the upload protocol: ``docs/upload-protocol.md``.
Exit codes: 0 done, 1 refused or bad input, 2 bad command line, 3 network failure (run again to resume),
4 the receipt does not verify.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from sunbid.bidding import tool_client
from sunbid.bidding.container import machine_fingerprint
from sunbid.bidding.receipts import verify_receipt
from sunbid.bidding.tool import (
    BidInput,
    build_manifest,
    bundle_bidder,
    collect_documents,
    parse_opening_key,
    parse_price,
    parse_project_ref,
    read_json_file,
    seal_folder,
)
from sunbid.bidding.tool_client import BidderClient, decrypt_bid, submit_container
from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.crypto.bundle import KeyBundle, import_bundle
from sunbid.crypto.suite import get_suite
from sunbid.platform.clikit import JsonOpt, console, emit_json, err_console, fail, handle_errors
from sunbid.platform.secrets import atomic_write

P = ParamSpec("P")

app = typer.Typer(help="投标工具：封装、递交、回执校验、开标解密 / bidder tool", no_args_is_help=True)
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


# --- seal / submit / decrypt ---------------------------------------------------------------------------------

EXIT_REFUSED = 1
EXIT_NETWORK = 3
EXIT_RECEIPT = 4


def tool_errors(fn: Callable[P, None]) -> Callable[P, None]:
    """Domain errors → the bilingual message (or a JSON problem) and an exit code (3: network, resume later)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except DomainError as exc:
            code = EXIT_NETWORK if isinstance(exc, tool_client.NetworkFailure) else EXIT_REFUSED
            as_json = bool(kwargs.get("as_json"))
            if as_json:
                emit_json(
                    {
                        "ok": False,
                        "code": exc.code,
                        "message_zh": exc.message_zh,
                        "message_en": exc.message_en,
                        "details": exc.details,
                    }
                )
            hint = _hint(exc)
            err_console.print(
                f"[bold red]错误[/] {exc.message_zh}{hint[0]}\n"
                f"[red]Error[/] {exc.message_en}{hint[1]} [dim]({exc.code})[/]"
            )
            raise typer.Exit(code) from None

    return wrapper


def _hint(exc: DomainError) -> tuple[str, str]:
    if isinstance(exc, tool_client.ServerRefusal) and exc.status in (404, 409) and exc.code.startswith("opening."):
        return (
            "（解密窗口未开启或已关闭时不能解密，请在开标解密时间内操作。）",
            " (decryption is possible only while the window is open.)",
        )
    return ("", "")


def _read_secret(file: Path | None, env: str, prompt: str) -> str:
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise ValidationFailed(
                "bidder.unreadable", f"无法读取口令文件 {file}：{exc.strerror}", f"cannot read {file}: {exc.strerror}"
            ) from None
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise ValidationFailed(
            "bidder.password_required",
            f"请用 --password-file 或环境变量 {env} 提供口令。",
            f"Give the password with --password-file or the {env} environment variable.",
        )
    return str(typer.prompt(prompt, hide_input=True))


def _bundle(path: Path, password_file: Path | None) -> KeyBundle:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationFailed(
            "bidder.unreadable", f"无法读取证书文件 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}"
        ) from None
    password = _read_secret(password_file, "SUNBID_BUNDLE_PASSWORD", "证书文件口令 / bundle password")
    return import_bundle(data, password)


def _server(url: str) -> str:
    value = url.strip().rstrip("/")
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        raise ValidationFailed(
            "bidder.bad_server",
            f"服务器地址 {url!r} 无效（须以 http:// 或 https:// 开头）。",
            f"Invalid server URL {url!r}.",
        )
    return value


def _client(server: str, token: str | None, username: str | None, password_file: Path | None) -> BidderClient:
    client = BidderClient(tool_client.make_http(server), token=token or os.environ.get("SUNBID_TOKEN") or None)
    if client.token is None:
        if not username:
            raise ValidationFailed(
                "bidder.login_required",
                "请用 --token（或环境变量 SUNBID_TOKEN）或 --username 加 --password-file 登录。",
                "Sign in with --token (or SUNBID_TOKEN) or --username with --password-file.",
            )
        client.login(username, _read_secret(password_file, "SUNBID_PASSWORD", "登录口令 / password"))
    return client


def _facts(pairs: list[str]) -> dict[str, str]:
    """``--fact 名称=值`` options as the manifest's ``extra`` (each name once)."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationFailed(
                "bidder.bad_fact",
                f"--fact 须写成“名称=值”（如 类似工程业绩=3），不是“{pair[:60]}”。",
                f"--fact must be NAME=VALUE (e.g. 类似工程业绩=3), not {pair[:60]!r}.",
            )
        if key in out:
            raise ValidationFailed("bidder.bad_fact", f"数据“{key}”给了两次。", f"The fact {key!r} is given twice.")
        out[key] = value.strip()
    return out


@app.command("seal")
@tool_errors
def seal(
    folder: Path = typer.Argument(..., help="投标文件所在文件夹（不含子文件夹）/ the folder of bid documents"),
    bundle: Path = typer.Option(..., "--bundle", help="投标人证书文件（PKCS#12）/ the bidder's key bundle"),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="证书文件口令所在文件（或环境变量 SUNBID_BUNDLE_PASSWORD）"
    ),
    server: str | None = typer.Option(None, "--server", help="平台地址，用于取得开标公钥 / platform URL"),
    opening_key_file: Path | None = typer.Option(
        None, "--opening-key", help="离线封装：开标公钥 JSON 文件 / the opening key JSON (offline)"
    ),
    project: str = typer.Option(..., "--project", help="项目 ID、项目编号或“ID:编号” / project id, code or ID:CODE"),
    section: str = typer.Option(..., "--section", help="标段编号 / section code"),
    price: str = typer.Option(..., "--price", help="投标报价（元，两位小数）/ price in yuan"),
    duration_days: int = typer.Option(..., "--duration-days", help="工期（日历天）/ duration in days"),
    quality: str = typer.Option(..., "--quality", help="质量标准 / quality"),
    commitment: list[str] = typer.Option([], "--commitment", help="关键承诺，可重复 / key commitment (repeatable)"),
    fact: list[str] = typer.Option(
        [],
        "--fact",
        help="客观评分项所读的数据“名称=值”，可重复（如 类似工程业绩=3）/ a fact, NAME=VALUE (repeatable)",
    ),
    out: Path = typer.Option(..., "--out", help="输出的投标文件（.sbid）/ the sealed container to write"),
    force: bool = typer.Option(False, "--force", help="覆盖已存在的输出文件 / overwrite an existing --out"),
    as_json: bool = JsonOpt,
) -> None:
    """封装投标文件：签名、加密，输出容器哈希 / seal a folder into a bid container."""
    ref = parse_project_ref(project)
    if out.exists() and not force:
        raise ValidationFailed(
            "bidder.output_exists",
            f"{out} 已存在：已递交的投标文件在开标解密时还要用到，请换一个文件名，或确认后加 --force 覆盖。",
            f"{out} exists: a submitted container is needed again to decrypt at opening; choose another name, "
            "or add --force.",
        )
    if (server is None) == (opening_key_file is None):
        raise ValidationFailed(
            "bidder.key_source",
            "请给出 --server（在线取得开标公钥）或 --opening-key（离线文件），二者选一。",
            "Give either --server (fetch the opening key) or --opening-key (a file), not both.",
        )
    if duration_days < 0:
        raise ValidationFailed("bidder.bad_duration", "工期须为非负整数天数。", "The duration must be >= 0 days.")
    if out.resolve().parent == folder.resolve():
        raise ValidationFailed(
            "bidder.output_in_folder",
            "输出文件不能放在投标文件夹中（否则会被当作投标文件封装进去）。",
            "The output must not be inside the bid folder (it would be sealed as a document next time).",
        )
    docs = collect_documents(folder)
    price_text = parse_price(price)
    keys = _bundle(bundle, password_file)
    if opening_key_file is not None:
        key = parse_opening_key(read_json_file(opening_key_file, "开标公钥文件", "opening key file"))
    else:
        if ref.project_id is None:
            raise ValidationFailed(
                "bidder.project_id_needed",
                "在线取得开标公钥需要项目 ID：请用 --project ID:编号（投标页面上有完整命令）。",
                "Fetching the opening key needs the project id: use --project ID:CODE (the bid page shows it).",
            )
        assert server is not None
        client = BidderClient(tool_client.make_http(_server(server)))
        key = client.opening_key(ref.project_id, section)
    code = ref.code or key.project_code
    if code is None:
        raise ValidationFailed(
            "bidder.project_code_needed",
            "投标文件须写明项目编号：请用 --project ID:编号 或 --project 编号。",
            "The bid must name the project code: use --project ID:CODE or --project CODE.",
        )
    if key.section_code is not None and key.section_code != section:
        raise ValidationFailed(
            "bidder.section_mismatch",
            f"开标公钥属于标段 {key.section_code}，不是 {section}。",
            f"The opening key is for section {key.section_code}, not {section}.",
        )
    bid = BidInput(
        code,
        section,
        price_text,
        duration_days,
        quality.strip(),
        tuple(c.strip() for c in commitment),
        extra=_facts(fact),
    )
    manifest = build_manifest(
        bid, bundle_bidder(keys), fingerprint=machine_fingerprint(get_suite(keys.suite)), now=datetime.now(UTC)
    )
    sealed = seal_folder(out, docs, manifest, keys, key)
    result = {
        "ok": True,
        "container": str(out),
        "container_hash": sealed.container_hash,
        "size": sealed.length,
        "suite": keys.suite,
        "project_code": code,
        "section_code": section,
        "bidder_uscc": manifest.bidder_uscc,
        "machine_fingerprint": manifest.machine_fingerprint,
        "facts": dict(manifest.extra),
        "opening_key_fingerprint": key.key_fingerprint,
        "files": [{"name": f.name, "size": f.size, "digest": f.digest} for f in sealed.files],
    }
    if as_json:
        emit_json(result)
        return
    console.print(f"[green]已封装 sealed[/] {out}（{len(sealed.files)} 个文件 files, {sealed.length} 字节 bytes）")
    console.print(f"容器哈希 container hash: [bold]{sealed.container_hash}[/]")


@app.command("opening-key")
@tool_errors
def opening_key(
    server: str = typer.Option(..., "--server", help="平台地址 / platform URL"),
    project: str = typer.Option(..., "--project", help="项目“ID:编号” / project ID:CODE"),
    section: str = typer.Option(..., "--section", help="标段编号 / section code"),
    out: Path = typer.Option(..., "--out", help="保存开标公钥的 JSON 文件 / where to save the key"),
    as_json: bool = JsonOpt,
) -> None:
    """取得并保存标段开标公钥，供离线封装 / save a section's opening key for offline sealing."""
    ref = parse_project_ref(project)
    if ref.project_id is None or ref.code is None:
        raise ValidationFailed(
            "bidder.project_id_needed",
            "请用 --project ID:编号（投标页面上有完整命令）。",
            "Use --project ID:CODE (the bid page shows it).",
        )
    key = BidderClient(tool_client.make_http(_server(server))).opening_key(ref.project_id, section)
    saved = replace(key, project_code=ref.code, section_code=section)
    atomic_write(out, json.dumps(saved.to_json(), ensure_ascii=False, indent=2).encode("utf-8"))
    if as_json:
        emit_json({"ok": True, "file": str(out), **saved.to_json()})
    else:
        console.print(f"[green]已保存 saved[/] {out}：指纹 fingerprint {saved.key_fingerprint}")


@app.command("submit")
@tool_errors
def submit(
    container: Path = typer.Argument(..., help="已封装的投标文件（.sbid）/ the sealed container"),
    server: str = typer.Option(..., "--server", help="平台地址 / platform URL"),
    token: str | None = typer.Option(None, "--token", help="访问令牌（或环境变量 SUNBID_TOKEN）/ API token"),
    username: str | None = typer.Option(None, "--username", help="用户名 / username"),
    password_file: Path | None = typer.Option(None, "--password-file", help="登录口令所在文件 / password file"),
    project: int = typer.Option(..., "--project", min=1, help="项目 ID / project id"),
    section: str = typer.Option(..., "--section", help="标段编号 / section code"),
    chunk_mb: float = typer.Option(4.0, "--chunk-mb", help="分块大小（MiB，最大 16）/ chunk size"),
    as_json: bool = JsonOpt,
) -> None:
    """递交投标文件：断点续传、校验回执 / upload a sealed bid (resumable) and verify its receipt."""
    url = _server(server)
    chunk = int(chunk_mb * 1024 * 1024)
    client = _client(url, token, username, password_file)
    if as_json:
        done = submit_container(client, container, server=url, project_id=project, section=section, chunk_size=chunk)
    else:
        with Progress(
            TextColumn("上传 uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=console
        ) as bar:
            task = bar.add_task("upload", total=None)

            def show(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            done = submit_container(
                client, container, server=url, project_id=project, section=section, chunk_size=chunk, progress=show
            )
    body = done.receipt.get("receipt", {})
    result = {
        "ok": not done.problems,
        "bid_id": done.bid.get("id"),
        "status": done.bid.get("status"),
        "container_hash": body.get("container_hash"),
        "received_at": body.get("received_at"),
        "ledger_index": body.get("ledger_index"),
        "receipt_file": str(done.receipt_file),
        "receipt_problems": done.problems,
        "resumed_from": done.resumed_from,
        "sent_bytes": done.sent_bytes,
    }
    if as_json:
        emit_json(result)
    elif done.problems:
        for p in done.problems:
            console.print(f"[red]✗[/] {p}")
    else:
        console.print(
            f"[green]已递交 submitted[/]: 投标 bid #{result['bid_id']}，"
            f"服务器时间 server time {result['received_at']}，"
            f"日志序号 log #{result['ledger_index']}"
        )
        console.print(f"回执 receipt: {done.receipt_file}（已校验 verified）")
        if result["status"] != "submitted":
            console.print(f"[yellow]注意 note[/]: 该投标当前状态为 the bid is now {result['status']}")
    if done.problems:
        err_console.print("[bold red]回执校验失败 the receipt does NOT verify[/]")
        raise typer.Exit(EXIT_RECEIPT)


@app.command("decrypt")
@tool_errors
def decrypt(
    bundle: Path = typer.Option(..., "--bundle", help="投标人证书文件（PKCS#12）/ the bidder's key bundle"),
    bundle_password_file: Path | None = typer.Option(
        None, "--bundle-password-file", help="证书文件口令所在文件（或环境变量 SUNBID_BUNDLE_PASSWORD）"
    ),
    server: str = typer.Option(..., "--server", help="平台地址 / platform URL"),
    token: str | None = typer.Option(None, "--token", help="访问令牌（或环境变量 SUNBID_TOKEN）/ API token"),
    username: str | None = typer.Option(None, "--username", help="用户名 / username"),
    password_file: Path | None = typer.Option(None, "--password-file", help="登录口令所在文件 / password file"),
    project: int = typer.Option(..., "--project", min=1, help="项目 ID / project id"),
    bid: int = typer.Option(..., "--bid", min=1, help="投标 ID（见回执或投标页面）/ bid id"),
    container: Path = typer.Option(..., "--container", help="本地保存的投标文件 / the sealed container"),
    opening_key_file: Path | None = typer.Option(None, "--opening-key", help="开标公钥 JSON 文件（可选）"),
    as_json: bool = JsonOpt,
) -> None:
    """开标解密：签到，在本机解开内容密钥并提交 / check in and release the content key (key stays local)."""
    keys = _bundle(bundle, bundle_password_file)
    key = None
    if opening_key_file is not None:
        key = parse_opening_key(read_json_file(opening_key_file, "开标公钥文件", "opening key file"))
    client = _client(_server(server), token, username, password_file)
    done = decrypt_bid(client, container, keys, project_id=project, bid_id=bid, opening_key=key)
    result = {
        "ok": True,
        "bid_id": done.bid_id,
        "section": done.section,
        "container_hash": done.container_hash,
        "check_in": done.checked_in,
        "result": done.result,
    }
    if as_json:
        emit_json(result)
    else:
        console.print(f"[green]已解密 decrypted[/]: 投标 bid #{done.bid_id}（标段 section {done.section}）")
