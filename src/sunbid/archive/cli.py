"""``sunbid archive …``: verify an electronic archive offline, or build one from chosen log entries."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import typer

from sunbid.archive.package import Limits, LogInfo, verify_archive
from sunbid.archive.report import ArchiveReport
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, make_platform, table

app = typer.Typer(
    help="电子档案包：离线校验与生成 / electronic archive packages: verify offline, build",
    no_args_is_help=True,
)


def _trusted_key(value: str | None, as_json: bool) -> bytes | None:
    if value is None:
        return None
    try:
        key = bytes.fromhex(value.strip())
    except ValueError:
        key = b""
    if not key:
        fail(
            "archive.bad_trusted_key",
            "--trusted-key 必须是日志公钥的十六进制",
            "--trusted-key must be the log public key in hex",
            as_json=as_json,
        )
    return key


def _read(file: Path, as_json: bool) -> bytes:
    limit = Limits().max_archive_bytes
    try:
        if file.stat().st_size > limit:
            fail(
                "archive.too_large",
                f"文件 {file} 超过 {limit} 字节上限",
                f"file {file} is larger than the {limit}-byte limit",
                as_json=as_json,
            )
        return file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(
            "archive.unreadable",
            f"无法读取文件 {file}：{reason}",
            f"cannot read file {file}: {reason}",
            as_json=as_json,
        )
        raise AssertionError("unreachable") from exc


def _print_report(report: ArchiveReport) -> None:
    rows: list[list[Any]] = [
        ["对象 subject", report.subject and f"{report.subject['code']} {report.subject['name']}"],
        ["生成时间 created", report.created_at],
        ["日志 log", report.log_id],
        ["公钥指纹 key", report.key_fingerprint],
        ["树大小 tree size", report.tree_size],
        ["根哈希 root", report.root_hash],
        ["文件 files", report.files_checked],
        ["日志条目 entries", report.entries_checked],
        ["档案包 SHA-256", report.archive_sha256],
    ]
    table("电子档案包 Electronic archive", ["字段 field", "值 value"], rows)
    for p in report.problems:
        where = "" if p.path_or_index is None else f" [{p.path_or_index}]"
        console.print(f"[red]✗ {p.code}{where}[/] {p.message_zh} / {p.message_en}")
    if not report.ok:
        console.print("[bold red]校验失败 verification FAILED[/]")
    elif report.trusted:
        console.print("[green]校验通过，签名来自所信任的日志公钥 verified with the trusted log key[/]")
    else:
        console.print(
            "[yellow]校验通过，但未指定可信公钥（--trusted-key）：仅证明档案包内部一致[/]\n"
            "[yellow]verified, but no trusted key was given (--trusted-key): internal consistency only[/]"
        )


@app.command("verify")
@handle_errors
def verify(
    file: Path = typer.Argument(..., help="档案包 zip 文件 / the archive file"),
    trusted_key: str = typer.Option(None, "--trusted-key", help="可信的日志公钥（十六进制）/ trusted log key, hex"),
    trusted_fingerprint: str = typer.Option(
        None, "--trusted-fingerprint", help="可信的日志公钥指纹 / trusted log key fingerprint, hex"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """离线校验档案包（无需数据库）/ verify an archive offline, without a database."""
    key = _trusted_key(trusted_key, as_json)
    data = _read(file, as_json)
    report = verify_archive(data, trusted_key=key, trusted_fingerprint=trusted_fingerprint)
    if as_json:
        emit_json(report.as_dict())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _write(out: Path, data: bytes, as_json: bool) -> None:
    """Write atomically (temporary file, then rename)."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = exc.strerror or type(exc).__name__
        fail("archive.cannot_write", f"无法写入 {out}：{reason}", f"cannot write {out}: {reason}", as_json=as_json)


@app.command("build-log")
@handle_errors
def build_log(
    index: list[int] = typer.Option(..., "--index", help="日志条目序号，可重复 / ledger index, repeatable"),
    out: Path = typer.Option(..., "--out", help="输出文件 / output file"),
    force: bool = typer.Option(False, "--force", help="覆盖已有文件 / overwrite an existing file"),
    as_json: bool = JsonOpt,
) -> None:
    """把选定的日志条目及其包含证明打包 / archive chosen log entries with their inclusion proofs."""
    from sunbid.archive.service import build_log_archive

    if out.exists() and not force:
        fail(
            "archive.out_exists",
            f"文件 {out} 已存在（用 --force 覆盖）",
            f"file {out} already exists (use --force to overwrite)",
            as_json=as_json,
        )
    platform = make_platform()
    try:
        info = LogInfo.from_public_info(platform.public_info())
        with platform.db.read() as s:
            data = build_log_archive(s, platform.ledger, info, index, created_at=platform.clock.now())
    finally:
        platform.close()
    _write(out, data, as_json)
    report = verify_archive(data, trusted_key=info.public_key)
    result = {
        "ok": report.ok,
        "path": str(out),
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "entries": sorted(set(index)),
        "tree_size": report.tree_size,
        "root_hash": report.root_hash,
        "log_id": info.log_id,
        "key_fingerprint": info.key_fingerprint,
        "log_public_key": info.public_key.hex(),
    }
    if as_json:
        emit_json(result)
    else:
        table("已生成档案包 Archive written", ["字段 field", "值 value"], [[k, v] for k, v in result.items()])


@app.command("project")
@handle_errors
def project_archive(
    code: str = typer.Argument(..., help="项目编号 / project code"),
    out: Path = typer.Option(..., "--out", help="输出文件 / output file"),
    force: bool = typer.Option(False, "--force", help="覆盖已有文件 / overwrite an existing file"),
    as_json: bool = JsonOpt,
) -> None:
    """导出项目电子档案（一键归集：文件、流程记录、签名、日志证明）/ export a project's archive."""
    from sqlalchemy import select

    from sunbid.projects.archive import archive_key, store_project_archive
    from sunbid.projects.models import Project

    if out.exists() and not force:
        fail(
            "archive.out_exists",
            f"文件 {out} 已存在（用 --force 覆盖）",
            f"file {out} already exists (use --force to overwrite)",
            as_json=as_json,
        )
    platform = make_platform()
    try:
        with platform.db.read() as s:
            project = s.scalar(select(Project).where(Project.code == code))
        if project is None:
            fail("project.not_found", f"项目 {code} 不存在", f"project {code} not found", as_json=as_json)
            return
        key = archive_key(project)
        if not platform.storage.exists(key):
            store_project_archive(platform, project.id)
        data = platform.storage.get(key)
        info = LogInfo.from_public_info(platform.public_info())
    finally:
        platform.close()
    _write(out, data, as_json)
    report = verify_archive(data, trusted_key=info.public_key)
    result = {
        "ok": report.ok,
        "path": str(out),
        "code": code,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "files": report.files_checked,
        "entries": report.entries_checked,
    }
    if as_json:
        emit_json(result)
    else:
        console.print(f"已导出项目档案 exported {code} → {out} ({len(data)} bytes, sha256 {result['sha256']})")
