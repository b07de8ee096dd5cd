"""``sunbid log …``: the transparency log from the command line (head, proofs, full verification)."""

from __future__ import annotations

from typing import Any

import typer
from rich.progress import Progress

from sunbid.ledger import merkle
from sunbid.ledger.service import head_to_dict
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, make_platform, table

app = typer.Typer(help="透明日志（区块链存证）：树头、证明、校验 / transparency log", no_args_is_help=True)


@app.command("head")
@handle_errors
def head(as_json: bool = JsonOpt) -> None:
    """显示最新签名树头 / show the latest signed tree head."""
    platform = make_platform()
    with platform.db.read() as s:
        h = platform.ledger.latest_head(s)
        data: dict[str, Any] = {"head": None if h is None else head_to_dict(h), "log": platform.public_info()}
    if as_json:
        emit_json(data)
    elif h is None:
        console.print("日志为空 / the log is empty")
    else:
        table("签名树头 Signed tree head", ["字段 field", "值 value"], [[k, v] for k, v in data["head"].items()])


@app.command("proof")
@handle_errors
def proof(
    index: int = typer.Option(None, "--index", help="条目序号 / leaf index (inclusion proof)"),
    tree_size: int = typer.Option(None, "--size", help="树大小，默认最新 / tree size (default: latest)"),
    first: int = typer.Option(None, "--first", help="一致性证明的较小树 / consistency: first size"),
    as_json: bool = JsonOpt,
) -> None:
    """包含证明（--index）或一致性证明（--first，--size）/ inclusion or consistency proof, self-checked."""
    platform = make_platform()
    h = platform.ledger.hash_fn
    with platform.db.read() as s:
        size = tree_size if tree_size is not None else platform.ledger.size(s)
        if index is not None:
            p = platform.ledger.inclusion_proof(s, index, size)
            leaf = platform.ledger.entry(s, index).leaf_hash
            root = platform.ledger.root_at(s, size)
            ok = merkle.verify_inclusion(leaf, index, size, p, root, h=h)
            data: dict[str, Any] = {
                "type": "inclusion",
                "index": index,
                "tree_size": size,
                "leaf_hash": leaf.hex(),
                "root_hash": root.hex(),
                "proof": [x.hex() for x in p],
                "verified": ok,
            }
        elif first is not None:
            p = platform.ledger.consistency_proof(s, first, size)
            r1, r2 = platform.ledger.root_at(s, first), platform.ledger.root_at(s, size)
            ok = merkle.verify_consistency(first, r1, size, r2, p, h=h)
            data = {
                "type": "consistency",
                "first": first,
                "second": size,
                "first_root": r1.hex(),
                "second_root": r2.hex(),
                "proof": [x.hex() for x in p],
                "verified": ok,
            }
        else:
            fail("cli.proof_kind", "请指定 --index 或 --first。", "Give --index or --first.", as_json=as_json)
            return
    if as_json:
        emit_json(data)
    else:
        table("证明 Proof", ["字段 field", "值 value"], [[k, v] for k, v in data.items() if k != "proof"])
        for i, x in enumerate(data["proof"]):
            console.print(f"  [{i}] {x}")
    if not ok:
        raise typer.Exit(2)


@app.command("verify")
@handle_errors
def verify(as_json: bool = JsonOpt) -> None:
    """从存储重算整棵树并校验每个条目、树头和审计事件 / recompute and check the whole log."""
    platform = make_platform()
    with platform.db.read() as s:
        total = platform.ledger.size(s)
        if as_json or total < 50000:
            report = platform.ledger.verify(s)
        else:
            with Progress(console=console, transient=True) as prog:
                task = prog.add_task("校验中 verifying", total=total)
                report = platform.ledger.verify(s, progress=lambda n: prog.update(task, completed=n))
    data = report.as_dict()
    if as_json:
        emit_json(data)
    else:
        console.print(
            f"条目 entries {report.entries_checked} · 树头 heads {report.heads_checked} · "
            f"审计事件 audit events {report.audit_events_checked} · 根 root {report.root_hash}"
        )
        for p in report.problems:
            console.print(f"[red]✗ {p.what} {p.id}[/] {p.message_zh} / {p.message_en}")
        console.print("[green]校验通过 verified[/]" if report.ok else "[bold red]校验失败 verification FAILED[/]")
    if not report.ok:
        raise typer.Exit(1)
