"""``sunbid draw …``: verify a published draw record offline; compute coefficient draws and commitments.

``verify`` is the auditor's tool (no database, no network). ``coefficient`` and ``commit`` are tools for
demonstrations, tests and people checking the algorithm: in production the opening service commits before the
bid deadline and runs the draw after it (``docs/draws.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from sunbid.draws.domain import DecimalRange, SeedInput, commit, new_secret
from sunbid.draws.record import MAX_RECORD_BYTES
from sunbid.draws.verify import coefficient_record, verify_record_json
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, table

app = typer.Typer(
    help="可验证随机抽取：校验记录、系数抽取、承诺 / verifiable random draws: verify, coefficient, commit",
    no_args_is_help=True,
)

SuiteOpt = typer.Option(
    "intl", "--suite", envvar="SUNBID_CRYPTO_SUITE", help="密码套件 intl（SHA-256）或 gm（SM3）/ crypto suite"
)


def _hex_arg(value: str, option: str, as_json: bool) -> bytes:
    try:
        raw = bytes.fromhex(value.strip())
    except ValueError:
        raw = b""
    if not raw:
        fail(
            "draw.bad_hex",
            f"{option} 须为非空十六进制：{value!r}",
            f"{option} must be non-empty hex: {value!r}",
            as_json=as_json,
        )
    return raw


def _seed_inputs(pairs: list[str], as_json: bool) -> list[SeedInput]:
    out: list[SeedInput] = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            fail(
                "draw.bad_seed_input",
                f"--seed-input 须写成 名称=十六进制：{pair!r}",
                f"--seed-input must be name=hex: {pair!r}",
                as_json=as_json,
            )
        out.append(SeedInput(name.strip(), _hex_arg(value, "--seed-input", as_json)))
    return out


def _subject(project: str | None, section: str | None) -> dict[str, str]:
    subject: dict[str, str] = {}
    if project:
        subject["project"] = project
    if section:
        subject["section"] = section
    return subject


@app.command("verify")
@handle_errors
def verify(
    file: Path = typer.Argument(..., help="抽取记录 JSON 文件 / draw record (JSON)"),
    as_json: bool = JsonOpt,
) -> None:
    """离线重算并校验抽取记录（承诺、种子、结果）/ recompute and check a draw record offline."""
    try:
        if file.stat().st_size > MAX_RECORD_BYTES:
            fail(
                "draw.too_large",
                f"文件 {file} 超过 {MAX_RECORD_BYTES} 字节上限",
                f"file {file} is larger than the {MAX_RECORD_BYTES}-byte limit",
                as_json=as_json,
            )
        raw = file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail("draw.unreadable", f"无法读取文件 {file}：{reason}", f"cannot read file {file}: {reason}", as_json=as_json)
        raise AssertionError("unreachable") from exc
    from sunbid.opening.cli import verify_embedded_draws

    opening_ok = verify_embedded_draws(raw, as_json)  # an opening record: verify each draw it holds
    if opening_ok is not None:
        if not opening_ok:
            raise typer.Exit(1)
        return
    result = verify_record_json(raw)
    data = result.as_dict()
    if as_json:
        emit_json(data)
    else:
        rows: list[list[Any]] = [
            ["用途 purpose", data["purpose"]],
            ["对象 subject", data["subject"]],
            ["套件 suite", f"{data['suite']} ({data['hash']})"],
            ["候选数 candidates", data["candidates"]],
            ["抽取数 k", data["k"]],
            ["重算种子 recomputed seed", data["recomputed_seed"]],
            ["记录结果 claimed result", data["claimed_result"]],
            ["重算结果 recomputed result", data["recomputed_result"]],
        ]
        table("抽取记录 Draw record", ["字段 field", "值 value"], rows)
        for p in result.problems:
            where = "" if p.where is None else f" [{p.where}]"
            console.print(f"[red]✗ {escape(p.code + where)}[/] {escape(p.message_zh)} / {escape(p.message_en)}")
        console.print("[green]校验通过 verified[/]" if result.ok else "[bold red]校验失败 verification FAILED[/]")
    if not result.ok:
        raise typer.Exit(1)


@app.command("coefficient")
@handle_errors
def coefficient(
    start: str = typer.Option("0.95", "--from", help="起点 / first value"),
    stop: str = typer.Option("0.98", "--to", help="终点（含）/ last value (inclusive)"),
    step: str = typer.Option("0.005", "--step", help="步长 / step"),
    seed_input: list[str] = typer.Option([], "--seed-input", help="公开种子输入 名称=十六进制，可重复 / name=hex"),
    secret: str = typer.Option(None, "--secret", help="运营方秘密值（十六进制，缺省随机生成）/ secret (hex)"),
    secret_name: str = typer.Option("operator", "--secret-name", help="秘密值的输入名 / seed input name"),
    project: str = typer.Option(None, "--project", help="项目编号 / project code"),
    section: str = typer.Option(None, "--section", help="标段编号 / section code"),
    committed_at: str = typer.Option(None, "--committed-at", help="承诺时间 ISO 8601 / commitment time"),
    closes_at: str = typer.Option(None, "--closes-at", help="投标截止时间 ISO 8601 / bid deadline"),
    suite: str = SuiteOpt,
    out: Path = typer.Option(None, "--out", help="把规范 JSON 记录写入文件 / write the canonical record here"),
    as_json: bool = JsonOpt,
) -> None:
    """计算一次系数抽取并输出可校验的记录（演示与测试工具）/ compute a coefficient draw record (a tool)."""
    inputs = _seed_inputs(seed_input, as_json)
    secret_bytes = new_secret() if secret is None else _hex_arg(secret, "--secret", as_json)
    subject = _subject(project, section)
    promise = commit("coefficient", subject, secret_name, secret_bytes, suite=suite, committed_at=committed_at)
    record = coefficient_record(
        subject,
        suite=suite,
        rule=DecimalRange(start, stop, step),
        commitments=[promise],
        seed_inputs=[*inputs, SeedInput(secret_name, secret_bytes)],
        closes_at=closes_at,
    )
    if out is not None:
        out.write_bytes(record.to_json())
    if as_json:
        emit_json(record.to_dict())
        return
    rows: list[list[Any]] = [
        ["对象 subject", record.subject],
        ["套件 suite", f"{record.suite} ({record.hash_name})"],
        ["候选系数 candidates", ", ".join(record.candidates)],
        ["承诺 commitment", promise.value_hash.hex()],
        ["种子 seed", record.seed.hex()],
        ["抽中 drawn", f"{record.result[0]} (index {record.result_indexes[0]})"],
    ]
    table("系数抽取 Coefficient draw", ["字段 field", "值 value"], rows)
    if out is not None:
        console.print(f"记录已写入 record written to {out}")


@app.command("commit")
@handle_errors
def commit_cmd(
    secret: str = typer.Option(..., "--secret", help="秘密值，至少 16 字节随机数的十六进制 / secret (hex)"),
    purpose: str = typer.Option("coefficient", "--purpose", help="抽取用途 / draw purpose"),
    name: str = typer.Option("operator", "--name", help="秘密值的输入名 / seed input name"),
    project: str = typer.Option(None, "--project", help="项目编号 / project code"),
    section: str = typer.Option(None, "--section", help="标段编号 / section code"),
    suite: str = SuiteOpt,
    as_json: bool = JsonOpt,
) -> None:
    """计算事先承诺：截止前公布其哈希，截止后公开秘密值 / compute a commitment to publish before the event.

    The secret is read, never printed (e.g. ``--secret "$(openssl rand -hex 32)"``, kept by its owner).
    """
    promise = commit(purpose, _subject(project, section), name, _hex_arg(secret, "--secret", as_json), suite=suite)
    if as_json:
        emit_json(promise.to_dict())
    else:
        console.print(f"承诺 commitment: {promise.value_hash.hex()}")
