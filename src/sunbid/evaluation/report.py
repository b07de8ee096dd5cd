"""The evaluation report 评标报告 (SPEC E-5) as a Chinese PDF — pure: report content → PDF bytes.

The content is built and checked by :func:`build_report` (:mod:`sunbid.evaluation.report_model`, re-exported
here). :func:`render_report_pdf` sets it in a CJK font (:mod:`sunbid.evaluation.fonts`) with fpdf2: page numbers
and the content hash in every footer, and the content itself (``evaluation-report.json``, canonical JSON) attached
to the PDF so that a verifier can check the hash and read who must sign, in which order
(:mod:`sunbid.evaluation.pdfsign`). No database, no clock (the date is in the content).

A multi-section report (:func:`merge_sections`) has the project, the method and the committee once, then a
chapter per section 标段 (opening record, rejected bids, prices, scores, ranking, interventions, candidates) and
the signing chapter once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Final

from fpdf import FPDF
from fpdf.fonts import FontFace

from sunbid.core.clock import to_local
from sunbid.evaluation.fonts import CjkFont, cjk_font
from sunbid.evaluation.methods import dec_text
from sunbid.evaluation.price import points
from sunbid.evaluation.report_model import (
    ATTACHMENT_NAME,
    FORMAT,
    KEYWORD_PREFIX,
    MAX_CANDIDATES,
    MAX_NAME,
    MAX_REASON,
    CommitteeMember,
    DeviationNote,
    EvaluationReport,
    FactCorrection,
    OpenedBid,
    build_report,
    canonical_json,
    content_sha256,
    fact_label,
    merge_sections,
)

__all__ = [
    "ATTACHMENT_NAME",
    "FORMAT",
    "KEYWORD_PREFIX",
    "MAX_CANDIDATES",
    "MAX_NAME",
    "MAX_REASON",
    "CommitteeMember",
    "DeviationNote",
    "EvaluationReport",
    "FactCorrection",
    "OpenedBid",
    "build_report",
    "canonical_json",
    "content_sha256",
    "fact_label",
    "merge_sections",
    "render_report_pdf",
]

_ORDINALS: Final = ("第一", "第二", "第三")
_NUMERALS: Final = "一二三四五六七八九十"


def _numeral(n: int) -> str:
    """1 → 一 … 10 → 十, 11 → 十一 … 99 (chapter numbers)."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens - 1] + "十")
    return head + ("" if ones == 0 else _NUMERALS[ones - 1])


_ROLE_ZH: Final = {"expert": "评标专家", "representative": "招标人代表"}

_FAMILY: Final = "cjk"
_HEAD: Final = FontFace(family=_FAMILY, emphasis="", size_pt=9, fill_color=(225, 230, 240))


def _s(value: Decimal | None) -> str:
    return "" if value is None else dec_text(value)


def _pts(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def _day(at: datetime) -> str:
    return to_local(at).strftime("%Y年%m月%d日")


def _minute(at: datetime) -> str:
    return to_local(at).strftime("%Y年%m月%d日 %H:%M")


class _ReportPdf(FPDF):
    def __init__(self, report: EvaluationReport, font: CjkFont) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report = report
        self.digest = report.content_sha256
        self.add_font(_FAMILY, "", str(font.path), collection_font_number=font.index)
        self.set_margins(18, 18, 18)
        self.set_auto_page_break(auto=True, margin=20)
        self.set_font(_FAMILY, size=10)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(_FAMILY, size=7.5)
        self.set_text_color(90)
        page = f"第 {self.page_no()} 页 共 {{nb}} 页"
        self.cell(0, 4, f"{self.report.project_code}  评标报告  {page}", align="C", new_x="LMARGIN", new_y="NEXT")
        self.cell(0, 4, f"内容摘要 SHA-256：{self.digest}", align="C")
        self.set_text_color(0)

    def heading(self, text: str) -> None:
        if self.will_page_break(20):
            self.add_page()
        self.ln(3)
        self.set_font(_FAMILY, size=12.5)
        self.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
        self.set_font(_FAMILY, size=9)

    def para(self, text: str, size: float = 9.5) -> None:
        self.set_font(_FAMILY, size=size)
        self.multi_cell(0, 5.2, text, align="L", new_x="LMARGIN", new_y="NEXT")
        self.set_font(_FAMILY, size=9)

    def grid(self, rows: Sequence[Sequence[str]], widths: Sequence[float] | None = None) -> None:
        """A table whose first row is the header; empty tables print nothing but a 无 line."""
        if len(rows) <= 1:
            self.para("（无）")
            return
        self.set_font(_FAMILY, size=8.5)
        with self.table(
            col_widths=tuple(widths) if widths else None,
            headings_style=_HEAD,
            text_align="LEFT",
            line_height=4.8,
            padding=1,
        ) as table:
            for r in rows:
                row = table.row()
                for cell in r:
                    row.cell(cell)
        self.set_font(_FAMILY, size=9)
        self.ln(1)


def _method_lines(report: EvaluationReport) -> list[list[str]]:
    m = report.method
    p = m.price
    rows = [
        ["项目", "内容"],
        ["评标办法", f"{m.kind_zh}（{m.name_zh}）"],
        ["办法标识", m.id],
        ["依据", m.source or "—"],
        ["汇总方式", "加权（Σ 权重×因素得分）" if m.aggregation == "weighted" else "分值相加（Σ 因素得分）"],
    ]
    for f in m.factors:
        weight = f"，权重 {dec_text(f.weight)}" if m.aggregation == "weighted" else ""
        rows.append([f"评审因素：{f.name_zh}", f"满分 {dec_text(f.max_points)} 分{weight}，{len(f.items)} 个评分项"])
    formula = {
        "deviation": "偏差率扣分法",
        "lowest_ratio": "低价优先法（最低价/报价×满分）",
        "evaluated_price": "评审价格",
    }
    rows.append(["价格公式", formula.get(p.formula, p.formula)])
    if p.formula != "evaluated_price":
        rows.append(["价格分满分 / 最低分", f"{dec_text(p.s_max)} / {dec_text(p.s_min)}"])
    if p.formula == "deviation":
        rows.append(["每高于基准价 1% 扣分", dec_text(p.above_per_percent)])
        rows.append(["每低于基准价 1% 扣分", dec_text(p.below_per_percent)])
        if p.band is not None:
            rows.append(["不扣分区间（%）", f"[{dec_text(p.band.low)}, {dec_text(p.band.high)}]"])
    b = p.benchmark
    if b is not None:
        avg = (
            "算术平均"
            if b.average == "mean"
            else f"去掉最高、最低各 {b.trim_count} 家后平均（多于 {b.trim_when_more_than} 家时）"
        )
        rows.append(["基准价平均方式", avg])
        if b.coefficient is not None:
            how = "乘以系数 K" if b.coefficient.apply == "multiply" else "下浮率 r"
            rows.append(["抽取系数", f"{how}：{'、'.join(dec_text(v) for v in b.coefficient.values)}"])
    if m.policy.small_enterprise_deduction is not None:
        rows.append(["小微企业价格扣除", f"{dec_text(m.policy.small_enterprise_deduction)}%"])
    ties = {
        "price_low": "报价低者优先",
        "evaluated_price_low": "评审价格低者优先",
        "price_score_high": "价格得分高者优先",
        "technical_high": "技术得分高者优先",
        "commercial_high": "商务得分高者优先",
    }
    rows.append(["并列规则", "；".join(ties[t] for t in m.ties) or "并列"])
    rows.append(["推荐候选人数", str(m.candidates)])
    if m.deviation is not None:
        basis = {"points": "分", "percent_of_mean": "% （相对均值）", "percent_of_max": "% （相对满分）"}
        rows.append(["评分偏离阈值", f"{dec_text(m.deviation.threshold)}{basis[m.deviation.basis]}"])
    return rows


def _render(pdf: _ReportPdf, report: EvaluationReport) -> None:
    r = report
    pdf.add_page()
    pdf.set_font(_FAMILY, size=20)
    pdf.cell(0, 12, "评标报告", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FAMILY, size=11)
    pdf.cell(0, 7, r.project_name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FAMILY, size=9)
    pdf.ln(2)

    pdf.heading("一、项目概况")
    overview = [
        ["项目", "内容"],
        ["项目名称", r.project_name],
        ["项目编号", r.project_code],
        *(
            [f"标段（{c.section_code}）", _section_line(c)]
            if r.sections
            else ["标段", f"{r.section_name}（{r.section_code}）" if r.section_code else r.section_name]
            for c in r.chapters
        ),
        ["招标人", r.tenderer],
        ["开标时间", _minute(r.opened_at) if r.opened_at else "—"],
        ["报告日期", _day(r.issued_at)],
    ]
    if r.prices.max_price is not None and not r.sections:
        overview.append(["最高投标限价（元）", _money(r.prices.max_price)])
    pdf.grid(overview, (45, 129))

    pdf.heading("二、评标办法及参数")
    pdf.grid(_method_lines(r), (60, 114))

    pdf.heading("三、评标委员会")
    rows = [["签署顺序", "姓名", "职务", "身份", "工作单位", "签名证书指纹（SHA-256 前 16 位）"]]
    for i, m in enumerate(r.signing_order, start=1):
        fp = m.certificate_fingerprint[:16] or "—"
        rows.append([str(i), m.name, "组长" if m.leader else "成员", _ROLE_ZH[m.role], m.employer or "—", fp])
    pdf.grid(rows, (16, 22, 14, 22, 52, 48))

    if r.sections:
        for n, c in enumerate(r.sections, start=4):
            pdf.heading(f"{_numeral(n)}、标段评审：{c.section_name}（{c.section_code}）")
            _render_section(pdf, c, lambda k, title: f"（{_numeral(k - 3)}）{title}")
        last = len(r.sections) + 4
    else:
        _render_section(pdf, r, lambda k, title: f"{_numeral(k)}、{title}")
        last = 11
    if r.conclusion:
        pdf.para(r.conclusion)

    pdf.heading(f"{_numeral(last)}、评标委员会成员签署")
    pdf.para(
        "本报告由评标委员会全体成员以各自的数字证书依次电子签名（组长首先签署），签名嵌入本 PDF 文件，"
        "可用 sunbid calc verify-report 离线验证。签署顺序："
        + "、".join(f"{m.name}（{'组长' if m.leader else '成员'}）" for m in r.signing_order)
        + "。"
    )


def _section_line(c: EvaluationReport) -> str:
    cap = "" if c.prices.max_price is None else f"；最高投标限价 {_money(c.prices.max_price)} 元"
    return f"{c.section_name}{cap}"


def _render_section(pdf: _ReportPdf, r: EvaluationReport, title: Callable[[int, str], str]) -> None:
    """One section's chapters: opening record, rejected bids, prices, scores, ranking, interventions, candidates
    (``title`` numbers a heading: 4 is the opening record)."""
    pdf.heading(title(4, "开标记录摘要"))
    rows = [["序号", "投标人", "投标报价（元）", "备注"]]
    for i, b in enumerate(r.opening, start=1):
        rows.append([str(i), r.name(b.bidder), _money(b.price), b.remark])
    pdf.grid(rows, (12, 70, 40, 52))

    pdf.heading(title(5, "否决投标"))
    rows = [["投标人", "投标报价（元）", "否决理由"]]
    rows += [[r.name(x.bidder), _money(x.price), x.reason_zh] for x in r.prices.rejected]
    pdf.grid(rows, (50, 34, 90))

    pdf.heading(title(6, "价格评审"))
    bt = r.prices.benchmark
    if bt is not None:
        facts = [f"评标基准价 B：{_money(bt.benchmark)} 元", f"平均值 A：{_money(points(bt.average))} 元"]
        if bt.drawn is not None:
            facts.append(f"开标时抽取的系数 K：{dec_text(bt.drawn)}")
        if bt.screened_out:
            facts.append(f"筛除（不计入平均）：{'、'.join(r.name(x) for x in bt.screened_out)}")
        if bt.trimmed:
            facts.append(f"去高去低：{'、'.join(r.name(x) for x in bt.trimmed)}")
        pdf.para("；".join(facts) + "。")
        for step in bt.steps:
            pdf.para(f"· {step}", size=8.5)
    if r.prices.lowest_evaluated_price is not None and r.method.price.formula != "deviation":
        pdf.para(f"最低评审价格：{_money(r.prices.lowest_evaluated_price)} 元。")
    rows = [["投标人", "投标报价（元）", "评审价格（元）", "偏差率（%）", "价格得分", "计入平均"]]
    for ln in r.prices.lines:
        delta = "" if ln.deviation is None else f"{ln.deviation:.4f}"
        used = "" if bt is None else ("是" if ln.in_average else "否")
        rows.append(
            [r.name(ln.bidder), _money(ln.price), _money(ln.evaluated_price), delta, _pts(ln.price_score), used]
        )
    pdf.grid(rows, (46, 30, 30, 24, 22, 22))

    if r.method.scored:
        _render_scores(pdf, r, title)

    pdf.heading(title(8, "得分汇总与排名") if r.method.scored else title(7, "排名"))
    factors = [f for f in r.method.factors if f.kind != "price"]
    head = ["排名", "投标人", *[f.name_zh for f in factors], "价格得分", "评审价格（元）"]
    if r.method.scored:
        head.append("总分")
    rows = [head]
    for row in r.evaluation.rows:
        line = [str(row.rank), r.name(row.bidder), *[_pts(row.factor_scores.get(f.id)) for f in factors]]
        line += [_pts(row.price_score), _money(row.evaluated_price)]
        if r.method.scored:
            line.append(_pts(row.total))
        rows.append(line)
    rest = len(head) - 2
    pdf.grid(rows, (12, 58, *([104 / rest] * rest)))

    pdf.heading(title(9, "评分偏离干预"))
    rows = [["专家", "投标人", "评分项", "评分", "均值", "书面理由"]]
    items = {i.id: i.name_zh for i in r.method.items}
    for d in r.deviations:
        iv = d.intervention
        rows.append(
            [
                r.member_name(iv.expert),
                r.name(iv.bidder),
                items.get(iv.item, iv.item),
                dec_text(iv.score),
                dec_text(points(iv.mean)),
                d.reason,
            ]
        )
    pdf.grid(rows, (20, 34, 30, 14, 14, 62))

    pdf.heading(title(10, "推荐的中标候选人"))
    if r.candidates:
        lines = []
        for pos, bidder in enumerate(r.candidates):
            row = r.evaluation.row(bidder)
            score = f"，总分 {dec_text(row.total)}" if row.total is not None else ""
            lines.append(f"{_ORDINALS[pos]}中标候选人：{r.name(bidder)}（投标报价 {_money(row.price)} 元{score}）")
        pdf.para("\n".join(lines), size=10.5)
    else:
        pdf.para("无有效中标候选人。", size=10.5)
    if r.evaluation.undecided:
        pdf.para(f"并列待定（须按招标文件规定确定）：{'、'.join(r.name(b) for b in r.evaluation.undecided)}")


def _render_scores(pdf: _ReportPdf, r: EvaluationReport, title: Callable[[int, str], str]) -> None:
    pdf.heading(title(7, "专家评分明细"))
    panel = [m for m in r.committee if any(s.expert == m.id for s in r.scores)]
    by_cell = {(s.bidder, s.item, s.expert): s.score for s in r.scores}
    bidders = [row.bidder for row in r.evaluation.rows]
    for item in r.method.items:
        if item.subjective:
            pdf.para(f"{item.name_zh}（主观分，满分 {dec_text(item.max_points)}）", size=9)
            rows = [["投标人", *[m.name for m in panel], "平均"]]
            for bidder in bidders:
                cells = [_s(by_cell.get((bidder, item.id, m.id))) for m in panel]
                avg = _pts(r.evaluation.row(bidder).item_scores.get(item.id))
                rows.append([r.name(bidder), *cells, avg])
            pdf.grid(rows, (58, *([116 / (len(panel) + 1)] * (len(panel) + 1))))
    objective = [i for i in r.method.items if not i.subjective]
    if objective:
        pdf.para("客观评分项", size=9)
        rows = [["投标人", *[f"{i.name_zh}（{dec_text(i.max_points)}）" for i in objective]]]
        for bidder in bidders:
            scores = r.evaluation.row(bidder).item_scores
            rows.append([r.name(bidder), *[_s(scores.get(i.id)) for i in objective]])
        pdf.grid(rows, (58, *([116 / len(objective)] * len(objective))))
    if r.fact_corrections:
        _render_corrections(pdf, r)


_FACT_SHOWN: Final = 200


def _fact(value: str | None) -> str:
    if value is None or not value.strip():
        return "未提供"
    return value if len(value) <= _FACT_SHOWN else value[:_FACT_SHOWN] + "…"


def _render_corrections(pdf: _ReportPdf, r: EvaluationReport) -> None:
    """客观评分数据核验: every fact the group leader corrected (declared → verified), with the reason."""
    pdf.para("客观评分数据核验（客观评分项按核实后的数据计算）", size=9)
    rows = [["投标人", "评分项 / 数据", "投标文件所载", "核实为", "书面理由", "核实人"]]
    for c in r.fact_corrections:
        items = "、".join(i.name_zh for i in r.method.items if i.rule is not None and i.rule.field == c.field)
        label = fact_label(c.field)[0]
        rows.append(
            [
                r.name(c.bidder),
                label if items in ("", label) else f"{items}（{label}）",
                _fact(c.declared),
                _fact(c.value),
                c.reason,
                r.member_name(c.member),
            ]
        )
    pdf.grid(rows, (34, 30, 22, 22, 50, 16))


def render_report_pdf(report: EvaluationReport, font: CjkFont | None = None) -> bytes:
    """The report as PDF bytes (A4, Chinese, page numbers and content hash in the footer, content attached).

    The output depends only on ``report`` and the font: the creation date is the report's date and the file
    identifier is derived from the content hash.
    """
    chosen = font or cjk_font()
    pdf = _ReportPdf(report, chosen)
    digest = pdf.digest
    pdf.file_id = lambda: f"<{digest[:32]}><{digest[:32]}>"  # type: ignore[method-assign]
    pdf.set_title(f"评标报告 {report.project_code}")
    pdf.set_subject(f"{report.project_name} {report.section_name}".strip())
    pdf.set_author("评标委员会")
    pdf.set_creator("sunbid")
    pdf.set_producer("sunbid")
    pdf.set_keywords(f"{FORMAT} {KEYWORD_PREFIX}{digest}")
    pdf.set_lang("zh-CN")
    pdf.set_creation_date(report.issued_at)
    _render(pdf, report)
    pdf.embed_file(
        bytes=canonical_json(report.to_dict()),
        basename=ATTACHMENT_NAME,
        modification_date=report.issued_at,
        creation_date=report.issued_at,
        desc="评标报告内容（规范 JSON）/ report content (canonical JSON)",
        mime_type="application/json",
        compress=True,
    )
    return bytes(pdf.output())
