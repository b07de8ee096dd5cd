"""``sunbid screen …``: evaluate, train and apply the collusion screening model on historical-bids CSV files,
and import scored files for the regulator's screening page.

Progress bars go to standard error; with ``--json`` standard output holds exactly one JSON document.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from sunbid.core.errors import ValidationFailed
from sunbid.platform.clikit import JsonOpt, console, emit_json, err_console, handle_errors, make_platform, table
from sunbid.platform.context import RequestContext
from sunbid.platform.settings import Settings
from sunbid.screening import model as models
from sunbid.screening import service
from sunbid.screening.features import TenderTable, tender_table
from sunbid.screening.io import BidData, read_csv
from sunbid.screening.platform import PLATFORM_NAME, PlatformScreening, screen_platform

app = typer.Typer(
    help="围标串标统计筛查：评估、训练、评分、导入 / collusion screening: evaluate, train, score, import",
    no_args_is_help=True,
)

FileArg = typer.Argument(..., help="历史投标 CSV 文件（格式见 docs/screening.md）/ historical-bids CSV file")
SeedOpt = typer.Option(models.DEFAULT_SEED, "--seed", help="交叉验证与随机森林的固定随机种子 / fixed random seed")
ModelOpt = typer.Option(None, "--model", help="已训练的模型文件（.npz）/ trained model file")
TreesOpt = typer.Option(
    models.N_TREES, "--trees", min=1, max=5000, help="随机森林的树数（默认 500）/ trees per forest (default 500)"
)
QuietOpt = typer.Option(False, "--quiet", "-q", help="不显示进度条 / no progress bar")


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[models.Progress]:
    """A progress bar on standard error whose callback advances one step per reported stage."""
    if quiet:
        yield models.no_progress
        return
    bar = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with bar:
        task = bar.add_task("筛查 screening", total=total)

        def step(label: str) -> None:
            bar.update(task, advance=1, description=label)

        yield step


def _load(file: Path, progress: models.Progress) -> tuple[BidData, TenderTable]:
    progress("读取 reading")
    data = read_csv(file)
    progress("计算指标 screens")
    return data, tender_table(data)


def _print_warnings(report: dict[str, object]) -> None:
    warnings = report.get("warnings")
    if isinstance(warnings, list):
        for w in warnings:
            err_console.print(f"[yellow]警告[/] {w['message_zh']}\n[yellow]Warning[/] {w['message_en']}")


@app.command("evaluate")
@handle_errors
def evaluate(
    file: Path = FileArg,
    seed: int = SeedOpt,
    trees: int = TreesOpt,
    repeats: int = typer.Option(
        1, "--repeats", min=1, max=50, help="另以 N 个连续种子重复评估，检验稳定性 / also repeat with N fold seeds"
    ),
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
) -> None:
    """五折按标段分组分层交叉验证：模型与七指标随机森林基线的 ROC-AUC / 5-fold tender-grouped CV vs baseline."""
    steps = 2 + 2 * models.N_FOLDS * (1 + (repeats if repeats > 1 else 0))
    with _progress(steps, quiet) as progress:
        data, tt = _load(file, progress)
        ev = models.evaluate(tt, seed=seed, trees=trees, progress=progress)
        stability = None
        if repeats > 1:
            stability = models.repeated(tt, seed=seed, repeats=repeats, trees=trees, progress=progress)
    out = ev.to_dict() | {"file": file.name, "import": data.report.to_dict()}
    if stability is not None:
        out["repeated"] = stability
    if as_json:
        emit_json(out)
        return
    _print_warnings(data.report.to_dict())
    table(
        f"筛查评估 screening evaluation · {file.name}",
        ["", "ROC-AUC", "准确率 accuracy"],
        [
            ["模型 model", f"{ev.roc_auc:.4f}", f"{ev.accuracy:.4f}"],
            ["七指标基线 seven-screen baseline", f"{ev.baseline_roc_auc:.4f}", f"{ev.baseline_accuracy:.4f}"],
            ["无监督 unsupervised", f"{ev.unsupervised_roc_auc:.4f}", ""],
        ],
    )
    console.print(
        f"标段 tenders: {ev.tenders}（围标 collusive: {ev.positives}） 折 folds: {ev.folds} 种子 seed: {seed}"
    )
    if stability is not None:
        console.print(
            f"重复 {repeats} 次 repeated: 模型 model {stability['roc_auc_mean']:.4f} ± {stability['roc_auc_std']:.4f}，"
            f"基线 baseline {stability['baseline_roc_auc_mean']:.4f} ± {stability['baseline_roc_auc_std']:.4f}，"
            f"不低于基线 ≥ baseline: {stability['splits_matching_or_beating_baseline']}/{repeats}"
        )


@app.command("train")
@handle_errors
def train(
    file: Path = FileArg,
    out: Path = typer.Option(..., "--out", help="模型文件输出路径（.npz）/ where to write the model"),
    seed: int = SeedOpt,
    trees: int = TreesOpt,
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
) -> None:
    """用带标签的历史数据训练风险模型并保存 / train the risk model on labelled history and save it."""
    with _progress(3, quiet) as progress:
        data, tt = _load(file, progress)
        progress("训练 training")
        trained = models.train(tt, seed=seed, source=file.name, trees=trees)
    digest = models.save_model(trained, out)
    info = {
        "model": str(out),
        "sha256_training_data": digest,
        "tenders": int(trained.y.size),
        "positives": int(trained.y.sum()),
        "features": trained.names,
        "seed": seed,
        "import": data.report.to_dict(),
    }
    if as_json:
        emit_json(info)
        return
    _print_warnings(data.report.to_dict())
    console.print(
        f"已保存模型 model saved: {out}（{info['tenders']} 个标段 tenders, {len(trained.names)} 个特征 features）"
    )


def _score_platform(trained: models.TrainedModel | None, progress: models.Progress) -> PlatformScreening:
    """Score every published opening record of this platform (the centre's command line sees them all; audited)."""
    platform = make_platform()
    try:
        with platform.uow(RequestContext.cli()) as uow:
            found = screen_platform(uow, None, trained, progress=progress)
            uow.commit()
    finally:
        platform.close()
    return found


@app.command("score")
@handle_errors
def score(
    file: Path | None = typer.Argument(
        None, help="历史投标 CSV 文件（格式见 docs/screening.md）/ historical-bids CSV file", show_default=False
    ),
    platform_bids: bool = typer.Option(
        False, "--platform", help="为本平台已开标项目评分（读已公布的开标记录）/ score this platform's opened tenders"
    ),
    model_file: Path = ModelOpt,
    top: int = typer.Option(20, "--top", min=0, help="只输出风险最高的前 N 个（0 为全部）/ riskiest N (0: all)"),
    seed: int = SeedOpt,
    trees: int = TreesOpt,
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
) -> None:
    """为每个标段评分并给出主要原因（有模型用模型，有标签用交叉验证，否则无监督）/ score each tender.

    ``--platform`` instead of FILE scores the platform's own published opening records.
    """
    if (file is None) == (not platform_bids):
        raise ValidationFailed(
            "screen.source_required",
            "请给出一个 CSV 文件，或用 --platform 为本平台已开标项目评分（二选一）。",
            "Give one CSV file, or --platform to score this platform's opened tenders (not both).",
        )
    with _progress(4 + 2 * models.N_FOLDS, quiet) as progress:
        trained = models.load_model(model_file) if model_file is not None else None
        if file is None:
            found = _score_platform(trained, progress)
            data, result = found.data, found.result
            extra: dict[str, Any] = {"source": PLATFORM_NAME, "projects": len(found.projects)}
            source = "本平台已开标项目 platform"
        else:
            data, tt = _load(file, progress)
            result = service.score(data, trained, seed=seed, trees=trees, progress=progress, table=tt)
            extra = {"file": file.name}
            source = file.name
    out = result.to_dict(top or None) | extra
    if as_json:
        emit_json(out)
        return
    _print_warnings(data.report.to_dict())
    rows = [
        [r["rank"], r["tender_id"], f"{r['score']:.3f}", r["n_bids"], "；".join(x["text_zh"] for x in r["reasons"])]
        for r in out["scores"]
    ]
    table(
        f"风险评分 risk scores · {source} · {out['method_zh']} {out['method_en']}",
        ["#", "标段 tender", "风险 score", "投标数 bids", "主要原因 reasons"],
        rows,
    )


@app.command("import")
@handle_errors
def import_file(
    file: Path = FileArg,
    name: str = typer.Option(None, "--name", help="导入名称（字母数字-_）/ import name"),
    model_file: Path = ModelOpt,
    seed: int = SeedOpt,
    trees: int = TreesOpt,
    quiet: bool = QuietOpt,
    as_json: bool = JsonOpt,
) -> None:
    """评分并保存到数据目录，供行政监督部门在“围标串标筛查”页面查看 / score and keep for the regulator's page."""
    store = service.ScreeningStore.of_data_dir(Settings().data_dir)
    label = service.check_name(name) if name else service.default_name(file)
    with _progress(4 + 2 * models.N_FOLDS, quiet) as progress:
        trained = models.load_model(model_file) if model_file is not None else None
        data, tt = _load(file, progress)
        result = service.score(data, trained, seed=seed, trees=trees, progress=progress, table=tt)
    summary = store.save(label, file.name, data, result)
    if as_json:
        emit_json(summary)
        return
    _print_warnings(data.report.to_dict())
    console.print(
        f"已导入 imported: {label}（{summary['tenders']} 个标段 tenders，{result.to_dict()['method_zh']}）"
        f" → /supervision/screening/{label}"
    )


@app.command("list")
@handle_errors
def list_imports(as_json: bool = JsonOpt) -> None:
    """列出已导入的筛查文件 / list the stored screening imports."""
    items = service.ScreeningStore.of_data_dir(Settings().data_dir).list()
    if as_json:
        emit_json(items)
        return
    table(
        "筛查导入 screening imports",
        ["名称 name", "来源 source", "方法 method", "标段 tenders"],
        [[i["name"], i["source"], i["method"], i["tenders"]] for i in items],
    )
