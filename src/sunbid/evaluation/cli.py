"""``sunbid calc …``: the evaluation calculator for agencies and experts (offline, no database).

* ``price-scores`` — benchmark price, deviations, price scores, evaluated prices, ranks and rejected bids of a
  bids CSV under a method file (``docs/evaluation-methods.md``);
* ``evaluate`` — totals (experts' scores from a scores CSV), ranking, tie rules, candidates and the score
  deviations that need a written reason (E-4);
* ``check-method`` — validate a method file and print it normalised;
* ``methods`` — list the example methods shipped with sunbid (usable by name with ``--method``);
* ``committee`` — check an evaluation committee's composition;
* ``report`` / ``sign-report`` / ``verify-report`` / ``font`` — the evaluation report PDF (E-5): write it from the
  calculator's files, sign it in turn with a key bundle, verify every signature offline, check the CJK font
  (``docs/evaluation-report.md``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from sunbid.draws.record import MAX_RECORD_BYTES
from sunbid.draws.verify import verify_record_json
from sunbid.evaluation.committee import Member, Sector, check_committee, required_members
from sunbid.evaluation.csvfiles import BidsFile, ScoreSheet, parse_bids_file, parse_scores_csv
from sunbid.evaluation.jsonread import to_decimal
from sunbid.evaluation.methods import (
    MAX_METHOD_BYTES,
    EvaluationMethod,
    dec_text,
    load_method_json,
    load_packaged_method,
    packaged_method_names,
)
from sunbid.evaluation.objective import (
    ObjectivePoints,
    objective_items,
    objective_points,
    objective_scores,
    rule_text,
)
from sunbid.evaluation.price import PriceResult, compute_prices
from sunbid.evaluation.scoring import detect_deviations, evaluate
from sunbid.platform.clikit import JsonOpt, console, emit_json, fail, handle_errors, table

app = typer.Typer(
    help="评标计算器：价格分、综合得分与排序、评标办法校验、评标委员会 / evaluation calculator",
    no_args_is_help=True,
)

MethodOpt = typer.Option(..., "--method", help="评标办法 JSON 文件，或示例名 / method file (JSON) or example name")


def _read(path: Path, limit: int, what_zh: str, what_en: str, as_json: bool) -> bytes:
    try:
        if path.stat().st_size > limit:
            fail(
                "calc.too_large",
                f"{what_zh} {path} 超过 {limit} 字节",
                f"{what_en} {path} is larger than {limit} bytes",
                as_json=as_json,
            )
        return path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail(
            "calc.unreadable",
            f"无法读取{what_zh} {path}：{reason}",
            f"cannot read {what_en} {path}: {reason}",
            as_json=as_json,
        )
        raise AssertionError("unreachable") from exc


def _method(spec: str, as_json: bool) -> EvaluationMethod:
    path = Path(spec)
    if not path.exists() and spec in packaged_method_names():
        return load_packaged_method(spec)
    return load_method_json(_read(path, MAX_METHOD_BYTES, "评标办法文件", "method file", as_json))


def _decimal_opt(value: str | None, option: str) -> Decimal | None:
    return None if value is None else to_decimal(value, option)


def _drawn_from_record(path: Path, method: EvaluationMethod, as_json: bool) -> Decimal:
    """K from a coefficient draw record, verified offline first (``sunbid draw verify``)."""
    result = verify_record_json(_read(path, MAX_RECORD_BYTES, "抽取记录", "draw record", as_json))
    record = result.record
    if not result.ok or record is None or result.recomputed_result is None:
        codes = ", ".join(result.codes()) or "-"
        fail(
            "calc.draw_record_invalid",
            f"抽取记录 {path} 未通过校验（{codes}）",
            f"the draw record {path} does not verify ({codes})",
            as_json=as_json,
        )
        raise AssertionError("unreachable")
    if record.purpose != "coefficient" or len(result.recomputed_result) != 1:
        fail(
            "calc.not_a_coefficient_draw", "该记录不是系数抽取", "the record is not a coefficient draw", as_json=as_json
        )
    rule = method.coefficient
    declared = set() if rule is None else set(rule.values)
    if {Decimal(c) for c in record.candidates} != declared:
        fail(
            "calc.draw_record_mismatch",
            "抽取记录的候选系数与评标办法声明的不一致",
            "the draw record's candidate values differ from the method's coefficient values",
            as_json=as_json,
        )
    return Decimal(result.recomputed_result[0])


def _s(value: Decimal | None) -> str:
    return "" if value is None else dec_text(value)


KOpt = typer.Option(None, "--k", help="开标时抽取的系数 K（或下浮率 r）/ the drawn coefficient")
DrawRecordOpt = typer.Option(
    None, "--draw-record", help="开标系数抽取记录（先离线校验，再取其结果为 K）/ verified coefficient draw record"
)
MaxPriceOpt = typer.Option(None, "--max-price", help="最高投标限价（元）/ maximum price (yuan)")


def _bids(method: EvaluationMethod, bids_csv: Path, as_json: bool) -> BidsFile:
    return parse_bids_file(_read(bids_csv, 4 << 20, "投标报价文件", "bids file", as_json), method)


def _prices(
    method: EvaluationMethod,
    bids: BidsFile,
    k: str | None,
    draw_record: Path | None,
    max_price: str | None,
    as_json: bool,
) -> PriceResult:
    drawn = _decimal_opt(k, "--k")
    if draw_record is not None:
        from_record = _drawn_from_record(draw_record, method, as_json)
        if drawn is not None and drawn != from_record:
            fail(
                "calc.k_conflict",
                f"--k {k} 与抽取记录的结果 {from_record} 不一致",
                f"--k {k} differs from the draw record's result {from_record}",
                as_json=as_json,
            )
        drawn = from_record
    return compute_prices(method, list(bids.bids), drawn=drawn, max_price=_decimal_opt(max_price, "--max-price"))


def _objective(
    method: EvaluationMethod, bids: BidsFile, prices: PriceResult
) -> tuple[dict[str, dict[str, ObjectivePoints]], list[dict[str, str]]]:
    """The objective items' points of the valid bids, from the bids file's facts, and a warning per fact field
    the method reads but the file lacks."""
    results = objective_scores(method, [ln.bidder for ln in prices.lines], bids.facts)
    warnings = [
        {
            "code": "calc.fact_column_missing",
            "field": field,
            "message_zh": f"投标报价文件没有 {field} 列：各投标人该项数据视为未提供，相关客观评分项得 0 分",
            "message_en": f"the bids file has no column {field}: every bid's fact is missing (0 points)",
        }
        for field in bids.missing_fields
    ]
    return results, warnings


def _objective_json(results: dict[str, dict[str, ObjectivePoints]]) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        bidder: {
            item: {
                "value": r.value,
                "points": dec_text(r.points),
                "status": r.status,
                "basis_zh": r.basis_zh,
                "basis_en": r.basis_en,
            }
            for item, r in items.items()
        }
        for bidder, items in results.items()
    }


@app.command("price-scores")
@handle_errors
def price_scores(
    bids_csv: Path = typer.Argument(..., help="投标报价 CSV（bidder,price[,small_enterprise,…]）/ bids CSV"),
    method_spec: str = MethodOpt,
    k: str = KOpt,
    draw_record: Path = DrawRecordOpt,
    max_price: str = MaxPriceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """计算评标基准价、偏差率、价格得分、评审价格与排名 / benchmark, deviations, price scores and ranks."""
    method = _method(method_spec, as_json)
    result = _prices(method, _bids(method, bids_csv, as_json), k, draw_record, max_price, as_json)
    if as_json:
        emit_json({"ok": True, "method_kind": method.kind, "method_name_zh": method.name_zh, **result.to_dict()})
        return
    console.print(f"[bold]{escape(method.name_zh)}[/]（{method.kind_zh} / {method.kind_en}）")
    if result.max_price is not None:
        console.print(f"最高投标限价 maximum price: {dec_text(result.max_price)} 元")
    if result.benchmark is not None:
        for step in result.benchmark.steps:
            console.print(f"  {escape(step)}")
    if result.lowest_evaluated_price is not None and method.price.formula != "deviation":
        console.print(f"最低评审价格 lowest evaluated price: {dec_text(result.lowest_evaluated_price)} 元")
    columns = [
        "排名",
        "投标人",
        "投标报价(元)",
        "政策扣除",
        "偏差调整",
        "评审价格(元)",
        "偏差率(%)",
        "价格得分",
        "计入平均",
    ]
    rows: list[list[Any]] = []
    for ln in result.lines:
        delta = "" if ln.deviation is None else f"{ln.deviation:.4f}"
        in_avg = "" if result.benchmark is None else ("是" if ln.in_average else "否")
        rows.append(
            [
                ln.rank,
                ln.bidder,
                dec_text(ln.price),
                _s(ln.deduction) if ln.deduction else "",
                _s(ln.adjustment) if ln.adjustment else "",
                dec_text(ln.evaluated_price),
                delta,
                _s(ln.price_score),
                in_avg,
            ]
        )
    used = [i for i in range(len(columns)) if i < 3 or any(r[i] != "" for r in rows)]
    table("价格评审表 Price evaluation", [columns[i] for i in used], [[r[i] for i in used] for r in rows])
    for r in result.rejected:
        console.print(f"[red]否决 rejected[/] {escape(r.bidder)}：{escape(r.reason_zh)}")


@app.command("evaluate")
@handle_errors
def evaluate_cmd(
    bids_csv: Path = typer.Argument(..., help="投标报价 CSV / bids CSV"),
    method_spec: str = MethodOpt,
    scores_csv: Path = typer.Option(None, "--scores", help="评分 CSV（expert,bidder,item,score）/ scores CSV"),
    k: str = KOpt,
    draw_record: Path = DrawRecordOpt,
    max_price: str = MaxPriceOpt,
    abnormal: list[str] = typer.Option(
        [], "--abnormal", help="评分被认定异常、以其他成员平均分替换的成员（可重复）/ abnormal member (repeatable)"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """汇总得分、排序、并列规则、中标候选人，并列出需说明理由的偏离评分 / totals, ranking, candidates, deviations."""
    method = _method(method_spec, as_json)
    bids = _bids(method, bids_csv, as_json)
    prices = _prices(method, bids, k, draw_record, max_price, as_json)
    sheet = ScoreSheet((), ())
    if scores_csv is not None:
        sheet = parse_scores_csv(_read(scores_csv, 4 << 20, "评分文件", "scores file", as_json), method)
        sheet = sheet.without({r.bidder for r in prices.rejected})
    elif method.scored and any(i.subjective for i in method.items):
        fail("calc.scores_missing", "综合评分类方法须提供 --scores", "a scored method needs --scores", as_json=as_json)
    objective, warnings = _objective(method, bids, prices)
    result = evaluate(
        method,
        prices,
        sheet.scores,
        objective_points(objective),
        experts=sheet.experts,
        abnormal_members=abnormal,
    )
    interventions = detect_deviations(method.deviation, method.items, sheet.scores) if method.deviation else []
    if as_json:
        emit_json(
            {
                "ok": True,
                "prices": prices.to_dict(),
                "evaluation": result.to_dict(),
                "objective": _objective_json(objective),
                "warnings": warnings,
                "interventions": [i.to_dict() for i in interventions],
            }
        )
        return
    console.print(f"[bold]{escape(method.name_zh)}[/]（{method.kind_zh} / {method.kind_en}）")
    for w in warnings:
        console.print(f"[yellow]提示 warning[/] {escape(w['message_zh'])} / {escape(w['message_en'])}")
    if prices.benchmark is not None:
        console.print(f"评标基准价 benchmark: {dec_text(prices.benchmark.benchmark)} 元")
    kinds = [f for f in method.factors if f.kind != "price"]
    columns = ["排名", "投标人", "评审价格(元)", *[f.name_zh for f in kinds], "价格得分", "总分"]
    rows: list[list[Any]] = [
        [
            r.rank,
            r.bidder,
            dec_text(r.evaluated_price),
            *[_s(r.factor_scores.get(f.id)) for f in kinds],
            _s(r.price_score),
            _s(r.total),
        ]
        for r in result.rows
    ]
    table("评标结果 Evaluation result", columns, rows)
    items = objective_items(method)
    if items:
        table(
            "客观评分项 Objective items",
            ["投标人", "评分项", "数据 value", "得分", "计分依据 basis"],
            [
                [
                    escape(r.bidder),
                    escape(item.name_zh),
                    "" if (o := objective[r.bidder][item.id]).value is None else escape(o.value),
                    dec_text(o.points),
                    escape(o.basis_zh),
                ]
                for r in result.rows
                for item in items
            ],
        )
    console.print(f"中标候选人 candidates: {escape('、'.join(result.candidates)) or '-'}")
    if result.undecided:
        console.print(f"[yellow]并列待定 undecided tie:[/] {escape('、'.join(result.undecided))}")
    for r in prices.rejected:
        console.print(f"[red]否决 rejected[/] {escape(r.bidder)}：{escape(r.reason_zh)}")
    for i in interventions:
        console.print(
            f"[yellow]评分偏离 deviation[/] 专家 {escape(i.expert)} 对 {escape(i.bidder)} 的 {escape(i.item)} 评 "
            f"{dec_text(i.score)} 分，均值 {i.to_dict()['mean']}，须书面说明理由 / a written reason is required"
        )


@app.command("check-method")
@handle_errors
def check_method(
    method_spec: str = typer.Argument(..., help="评标办法 JSON 文件，或示例名 / method file or example name"),
    as_json: bool = JsonOpt,
) -> None:
    """校验评标办法文件（字段、权重、法定范围）/ validate a method file (fields, weights, legal ranges)."""
    method = _method(method_spec, as_json)
    if as_json:
        emit_json({"ok": True, "method": method.to_dict()})
        return
    pw = method.price_weight
    rows: list[list[Any]] = [
        ["标识 id", method.id],
        ["名称 name", f"{method.name_zh} {method.name_en}".strip()],
        ["方法 kind", f"{method.kind_zh}（{method.kind}）"],
        ["行业 sector", method.sector],
        ["价格公式 formula", method.price.formula],
        ["价格权重 price weight", "" if pw is None else f"{pw:.2%}"],
        ["候选人数 candidates", method.candidates],
        ["并列规则 ties", ", ".join(method.ties) or "并列 tied"],
    ]
    if method.coefficient is not None:
        rows.append(["抽取系数 coefficient", ", ".join(dec_text(v) for v in method.coefficient.values)])
    for f in method.factors:
        weight = f" × {dec_text(f.weight)}" if method.aggregation == "weighted" else ""
        rows.append([f"因素 {f.id}", f"{f.name_zh}：{dec_text(f.max_points)} 分{weight}，{len(f.items)} 项"])
        for item in f.items:
            kind = "客观" if item.rule is not None else "主观"
            how = rule_text(item)[0]
            text = f"{item.name_zh}：{dec_text(item.max_points)} 分，{kind}，{how}"
            rows.append([f"  评分项 {item.id}", escape(text)])
    table("评标办法 Evaluation method", ["项 field", "值 value"], rows)
    console.print("[green]评标办法有效 the method is valid[/]")


@app.command("methods")
@handle_errors
def methods(as_json: bool = JsonOpt) -> None:
    """列出随 sunbid 提供的示例评标办法 / list the example methods shipped with sunbid."""
    listing = []
    for name in packaged_method_names():
        m = load_packaged_method(name)
        listing.append({"name": name, "kind": m.kind, "kind_zh": m.kind_zh, "name_zh": m.name_zh})
    if as_json:
        emit_json(listing)
        return
    table(
        "示例评标办法 Example methods",
        ["名称 name", "方法 kind", "说明"],
        [[x["name"], x["kind_zh"], x["name_zh"]] for x in listing],
    )


@app.command("committee")
@handle_errors
def committee(
    members: int = typer.Option(..., "--members", min=0, max=101, help="成员总数 / number of members"),
    experts: int = typer.Option(..., "--experts", min=0, max=101, help="其中专家人数 / of whom experts"),
    sector: str = typer.Option("engineering", "--sector", help="engineering 或 procurement"),
    budget: str = typer.Option(None, "--budget", help="采购预算（元）/ procurement budget (yuan)"),
    complex_project: bool = typer.Option(False, "--complex", help="技术复杂或社会影响较大 / complex or high impact"),
    as_json: bool = JsonOpt,
) -> None:
    """检查评标委员会组成（单数、≥5 人、专家 ≥ 2/3；大型采购 ≥7 人）/ check a committee's composition."""
    if sector not in ("engineering", "procurement"):
        fail(
            "calc.bad_sector",
            "--sector 须为 engineering 或 procurement",
            "--sector must be engineering or procurement",
            as_json=as_json,
        )
    if experts > members:
        fail("calc.bad_counts", "专家人数不能多于成员总数", "experts cannot outnumber the members", as_json=as_json)
    panel = [Member(f"m{i}", "expert" if i < experts else "representative") for i in range(members)]
    kind: Sector = "procurement" if sector == "procurement" else "engineering"
    amount = _decimal_opt(budget, "--budget")
    problems = check_committee(panel, sector=kind, budget=amount, complex_project=complex_project)
    minimum, source = required_members(kind, budget=amount, complex_project=complex_project)
    if as_json:
        emit_json(
            {"ok": not problems, "minimum": minimum, "source": source, "problems": [p.to_dict() for p in problems]}
        )
    else:
        console.print(f"最少人数 minimum: {minimum}（{escape(source)}）")
        for p in problems:
            console.print(f"[red]✗[/] {escape(p.message_zh)} / {escape(p.message_en)}")
        if not problems:
            console.print("[green]组成合法 the committee is lawful[/]")
    if problems:
        raise typer.Exit(1)


# --- evaluation report (E-5) ---------------------------------------------------------------------------


def _write(path: Path, data: bytes, as_json: bool) -> None:
    try:
        path.write_bytes(data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        fail("calc.unwritable", f"无法写入 {path}：{reason}", f"cannot write {path}: {reason}", as_json=as_json)


@app.command("report")
@handle_errors
def report_cmd(
    bids_csv: Path = typer.Argument(..., help="开标记录的投标报价 CSV / bids CSV of the opening record"),
    method_spec: str = MethodOpt,
    info: Path = typer.Option(..., "--info", help="报告信息 JSON（项目、委员会、理由）/ report information file"),
    out: Path = typer.Option(..., "--out", help="输出的评标报告 PDF / the report PDF to write"),
    scores_csv: Path = typer.Option(None, "--scores", help="评分 CSV（expert,bidder,item,score）/ scores CSV"),
    k: str = KOpt,
    draw_record: Path = DrawRecordOpt,
    max_price: str = MaxPriceOpt,
    as_json: bool = JsonOpt,
) -> None:
    """生成评标报告 PDF（中文，待评标委员会依次签署）/ write the evaluation report PDF, ready to be signed."""
    from sunbid.core.clock import SystemClock
    from sunbid.evaluation.report import DeviationNote, OpenedBid, build_report, render_report_pdf
    from sunbid.evaluation.report_model import MAX_INFO_BYTES, parse_report_info

    method = _method(method_spec, as_json)
    details = parse_report_info(_read(info, MAX_INFO_BYTES, "报告信息文件", "report information file", as_json))
    bids = _bids(method, bids_csv, as_json)
    prices = _prices(method, bids, k, draw_record, max_price, as_json)
    opened = bids.bids
    sheet = ScoreSheet((), ())
    if scores_csv is not None:
        sheet = parse_scores_csv(_read(scores_csv, 4 << 20, "评分文件", "scores file", as_json), method)
        sheet = sheet.without({r.bidder for r in prices.rejected})
    elif method.scored and any(i.subjective for i in method.items):
        fail("calc.scores_missing", "综合评分类方法须提供 --scores", "a scored method needs --scores", as_json=as_json)
    objective, _warnings = _objective(method, bids, prices)
    result = evaluate(method, prices, sheet.scores, objective_points(objective), experts=sheet.experts)
    interventions = detect_deviations(method.deviation, method.items, sheet.scores) if method.deviation else []
    report = build_report(
        project_code=details.project_code,
        project_name=details.project_name,
        section_code=details.section_code,
        section_name=details.section_name,
        tenderer=details.tenderer,
        method=method,
        prices=prices,
        evaluation=result,
        scores=sheet.scores,
        committee=details.committee,
        opening=[OpenedBid(b.bidder, b.price, details.remarks.get(b.bidder, "")) for b in opened],
        issued_at=details.issued_at or SystemClock().now(),
        bidder_names=details.bidder_names,
        deviations=[DeviationNote(i, details.reason(i)) for i in interventions],
        opened_at=details.opened_at,
        conclusion=details.conclusion,
    )
    pdf = render_report_pdf(report)
    _write(out, pdf, as_json)
    if as_json:
        emit_json(
            {
                "ok": True,
                "out": str(out),
                "bytes": len(pdf),
                "content_sha256": report.content_sha256,
                "candidates": report.publicity(),
                "signing_order": [m.id for m in report.signing_order],
            }
        )
        return
    console.print(f"[green]评标报告已生成 report written[/] → {escape(str(out))}")
    console.print(f"内容摘要 content SHA-256: {report.content_sha256}")
    console.print(f"中标候选人 candidates: {escape('、'.join(report.name(b) for b in report.candidates)) or '-'}")
    console.print(f"签署顺序 signing order: {escape('、'.join(m.name for m in report.signing_order))}")


CaOpt = typer.Option(..., "--ca", help="交易中心 CA 证书（PEM）/ the centre CA certificate (PEM)")
SuiteOpt = typer.Option(
    None, "--suite", help="证书体系 intl 或 gm（默认按 CA 证书判断）/ certificate suite (default: the CA's)"
)


def _suite_of_ca(ca_pem: bytes) -> str:
    """The suite of the CA certificate's own signature; ``intl`` when unreadable (verification then says why)."""
    from sunbid.core.errors import DomainError
    from sunbid.evaluation.member_tool import suite_of_ca

    try:
        return suite_of_ca(ca_pem.decode("ascii"))
    except (DomainError, UnicodeDecodeError):
        return "intl"


@app.command("verify-report")
@handle_errors
def verify_report_cmd(
    report_pdf: Path = typer.Argument(..., help="已签署的评标报告 PDF / the signed report PDF"),
    ca: Path = CaOpt,
    suite: str | None = SuiteOpt,
    allow_partial: bool = typer.Option(
        False, "--allow-partial", help="尚未全部签署也视为通过 / accept a report not yet signed by everyone"
    ),
    revoked: Path = typer.Option(
        None, "--revoked", help="已吊销证书序列号清单（每行一个，十六进制）/ revoked serials, one hex per line"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """离线验证评标报告的全部签名、签署顺序与证书链 / verify a report's signatures, order and chain offline."""
    from sunbid.evaluation.pdfsign import MAX_REPORT_BYTES, verify_report

    data = _read(report_pdf, MAX_REPORT_BYTES, "评标报告", "report", as_json)
    ca_pem = _read(ca, 1 << 20, "CA 证书", "CA certificate", as_json)
    serials: list[int] = []
    if revoked is not None:
        for number, line in enumerate(_read(revoked, 4 << 20, "吊销清单", "revocation list", as_json).splitlines(), 1):
            text = line.strip().decode("ascii", "replace")
            try:
                if text and not text.startswith("#"):
                    serials.append(int(text, 16))
            except ValueError:
                fail(
                    "calc.bad_serial",
                    f"吊销清单第 {number} 行不是十六进制序列号",
                    f"line {number} of the revocation list is not a hex serial",
                    as_json=as_json,
                )
    if suite is None:
        suite = _suite_of_ca(ca_pem)
    result = verify_report(data, ca_cert_pem=ca_pem, suite=suite, revoked_serials=serials)
    passed = result.ok and (result.complete or allow_partial)
    if as_json:
        emit_json({**result.to_dict(), "passed": passed})
    else:
        console.print(f"项目 project: {escape(result.project_code or '-')}")
        console.print(f"内容摘要 content SHA-256: {result.content_sha256 or '-'}")
        names = {m["id"]: m["name"] for m in result.signing_order}
        rows: list[list[Any]] = [
            [
                s.index,
                escape(names.get(s.expected_member_id or "", "-")),
                escape(s.signer_name),
                s.signed_at.isoformat() if s.signed_at else "",
                "✓" if s.ok else "✗",
            ]
            for s in result.signatures
        ]
        table("签名 Signatures", ["序号", "应签署人 expected", "签名人 signer", "签署时间 signed at", "结果"], rows)
        for p in result.problems:
            console.print(f"[red]✗[/] {escape(p.message_zh)} / {escape(p.message_en)} [dim]({p.code})[/]")
        missing = [m["name"] for m in result.signing_order[len(result.signatures) :]]
        if result.ok and missing:
            console.print(f"[yellow]尚未签署 not yet signed:[/] {escape('、'.join(missing))}")
        if passed:
            console.print("[green]评标报告签名验证通过 the report verifies[/]")
    if not passed:
        raise typer.Exit(1)


@app.command("sign-report")
@handle_errors
def sign_report_cmd(
    report_pdf: Path = typer.Argument(..., help="评标报告 PDF / the report PDF"),
    bundle: Path = typer.Option(..., "--bundle", help="本人的证书文件（PKCS#12）/ your key bundle"),
    out: Path = typer.Option(..., "--out", help="签署后的 PDF / the signed PDF"),
    password_file: Path = typer.Option(None, "--password-file", help="口令文件 / file holding the password"),
    as_json: bool = JsonOpt,
) -> None:
    """以本人签名证书签署评标报告（须按签署顺序）/ sign the report with your certificate, in turn."""
    import os
    import sys

    from sunbid.core.clock import SystemClock
    from sunbid.core.errors import ValidationFailed
    from sunbid.crypto.bundle import import_bundle
    from sunbid.evaluation.pdfsign import MAX_REPORT_BYTES, Signer, sign_report

    data = _read(report_pdf, MAX_REPORT_BYTES, "评标报告", "report", as_json)
    raw = _read(bundle, 1 << 20, "证书文件", "key bundle", as_json)
    if password_file is not None:
        password = _read(password_file, 4096, "口令文件", "password file", as_json).decode("utf-8").rstrip("\r\n")
    elif os.environ.get("SUNBID_BUNDLE_PASSWORD"):
        password = os.environ["SUNBID_BUNDLE_PASSWORD"]
    elif sys.stdin.isatty():
        password = str(typer.prompt("证书文件口令 / bundle password", hide_input=True))
    else:
        raise ValidationFailed(
            "report.password_required",
            "请用 --password-file 或环境变量 SUNBID_BUNDLE_PASSWORD 提供口令",
            "give the password with --password-file or SUNBID_BUNDLE_PASSWORD",
        )
    keys = import_bundle(raw, password)
    signed = sign_report(
        data,
        Signer(keys.signing_private, keys.signing_cert_pem),
        ca_cert_pem=keys.ca_cert_pem,
        at=SystemClock().now(),
        suite=keys.suite,
    )
    _write(out, signed, as_json)
    if as_json:
        emit_json({"ok": True, "out": str(out), "bytes": len(signed)})
    else:
        console.print(f"[green]已签署 signed[/] → {escape(str(out))}")


@app.command("sign-member")
@handle_errors
def sign_member_cmd(
    project_id: int = typer.Option(..., "--project", min=1, help="项目编号 / project id"),
    key: Path = typer.Option(..., "--key", help="本人签名密钥文件（首次使用时生成）/ your signing key file"),
    server: str = typer.Option(..., "--server", help="平台地址 / platform URL, e.g. https://ggzy.example.cn"),
    token: str = typer.Option(
        None, "--token", envvar="SUNBID_TOKEN", help="访问令牌（或环境变量 SUNBID_TOKEN）/ API token"
    ),
    certify_only: bool = typer.Option(
        False, "--certify", help="报告生成前：登记本人签名密钥 / before the report: certify your key"
    ),
    as_json: bool = JsonOpt,
) -> None:
    """评标委员会成员：在本机签署评标报告并上传（按签署顺序，组长在先）/ sign the report as a member, in turn.

    The signing key stays on this machine. First, before the report is built, ``--certify`` has the platform
    certify its public key for this project; then, at the member's turn, the report is fetched, signed here and
    uploaded, and the platform verifies it before accepting it.
    """
    import httpx

    from sunbid.core.errors import ValidationFailed
    from sunbid.evaluation.member_tool import certify, sign_as_member

    if not token:
        raise ValidationFailed(
            "report.token_required", "请用 --token 或 SUNBID_TOKEN 提供访问令牌", "give an API token (--token)"
        )
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.rstrip("/"), headers=headers, timeout=60.0, trust_env=False) as client:
        try:
            if certify_only:
                _cert, created = certify(client, project_id, key)
                if as_json:
                    emit_json({"ok": True, "certified": True, "key_created": created})
                else:
                    if created:
                        console.print(f"已生成签名密钥 new signing key → {escape(str(key))}（请妥善保管 keep it safe）")
                    console.print("[green]签名证书已登记 key certified[/]")
                return
            done = sign_as_member(client, project_id, key)
        except httpx.HTTPError as exc:
            fail("calc.network", f"无法连接平台：{exc}", f"cannot reach the platform: {exc}", as_json=as_json)
            return
    if as_json:
        emit_json({"ok": True, "bytes": done.size, **done.answer})
    else:
        console.print(f"[green]已签署并上传 signed and uploaded[/]（{done.size} 字节 bytes）")


@app.command("font")
@handle_errors
def font_cmd(as_json: bool = JsonOpt) -> None:
    """检查评标报告所用的中文字体 / check the CJK font the report is set in."""
    from sunbid.evaluation.fonts import cjk_font

    font = cjk_font()
    if as_json:
        emit_json({"ok": True, "path": str(font.path), "index": font.index, "family": font.family})
    else:
        console.print(
            f"[green]中文字体可用 CJK font found:[/] {escape(font.family)} — {escape(str(font.path))}#{font.index}"
        )
