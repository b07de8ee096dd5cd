"""Shared CLI plumbing: building the platform, printing data as tables or JSON, bilingual errors."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from sunbid.core.errors import DomainError
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="以 JSON 输出 / print JSON")


def make_platform() -> Platform:
    """The platform of the current environment's settings (``SUNBID_*``, ``sunbid.toml``)."""
    return Platform(Settings())


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[("" if v is None else str(v)) for v in r])
    console.print(t)


def fail(code: str, message_zh: str, message_en: str, *, as_json: bool = False, exit_code: int = 1) -> None:
    """Print an error in Chinese and English (or as a JSON problem) and exit non-zero."""
    if as_json:
        emit_json({"ok": False, "code": code, "message_zh": message_zh, "message_en": message_en})
    err_console.print(f"[bold red]错误[/] {message_zh}\n[red]Error[/] {message_en} [dim]({code})[/]")
    raise typer.Exit(exit_code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn domain errors into a bilingual message and a non-zero exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DomainError as exc:
            fail(exc.code, exc.message_zh, exc.message_en, as_json=bool(kwargs.get("as_json")))
            raise AssertionError("unreachable") from exc

    return wrapper
