"""A multi-section report 多标段评标报告: one report, the project, method and committee once, a chapter per section."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from tests.unit.evaluation.report_support import EXPERTS, OBJECTIVE, PRICES, expert_scores, sample_report

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.methods import load_packaged_method
from sunbid.evaluation.pdfsign import _read_content, _reader
from sunbid.evaluation.price import Bid, compute_prices
from sunbid.evaluation.report import EvaluationReport, canonical_json, merge_sections, render_report_pdf
from sunbid.evaluation.scoring import evaluate

CAP_2 = Decimal("9850000")


def _second() -> EvaluationReport:
    """Section 02: the same bidders, K = 0.95 and a lower cap (b4 and b5 above it), no deviation note."""
    first = sample_report()
    method = load_packaged_method("eng-comprehensive")
    prices = compute_prices(
        method, [Bid(b, Decimal(p)) for b, p in PRICES.items()], drawn=Decimal("0.95"), max_price=CAP_2
    )
    scores = [s for s in expert_scores() if s.bidder != "b4"]
    result = evaluate(method, prices, scores, OBJECTIVE, experts=EXPERTS)
    return replace(
        first,
        section_code="02",
        section_name="第二标段",
        prices=prices,
        evaluation=result,
        scores=tuple(scores),
        deviations=(),
    )


def _text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "".join("".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc)))


def test_a_single_section_is_the_report_itself() -> None:
    one = sample_report()
    assert merge_sections([one]) is one and one.chapters == (one,)
    assert one.to_dict()["project"]["section_code"] == "01"
    assert {c["section"] for c in one.publicity()} == {"01"}


def test_two_sections_have_a_chapter_each_and_candidates_per_section() -> None:
    one, two = sample_report(), _second()
    merged = merge_sections([one, two])
    assert merged.chapters == (one, two)
    content = merged.to_dict()
    assert "section_code" not in content["project"] and "prices" not in content
    assert [c["section_code"] for c in content["sections"]] == ["01", "02"]
    chapters = {c["section_code"]: c for c in content["sections"]}
    assert chapters["01"]["prices"]["drawn_coefficient"] == "0.97"
    assert chapters["02"]["prices"]["drawn_coefficient"] == "0.95"
    assert Decimal(chapters["02"]["max_price"]) == CAP_2
    assert {r["bidder"] for r in chapters["02"]["prices"]["rejected"]} == {"b4", "b5"}
    assert chapters["01"]["deviations"] and chapters["02"]["deviations"] == []
    positions = [(c["section"], c["position"]) for c in content["candidates"]]
    assert positions == [("01", 1), ("01", 2), ("01", 3), ("02", 1), ("02", 2), ("02", 3)]
    assert content["candidates"] == one.publicity() + two.publicity()
    assert merged.candidates == one.candidates + two.candidates
    assert content["signing_order"] == one.to_dict()["signing_order"]  # one committee signs once
    assert merged.content_sha256 not in {one.content_sha256, two.content_sha256}


def test_sections_must_belong_together() -> None:
    one, two = sample_report(), _second()
    with pytest.raises(ValidationFailed) as err:
        merge_sections([])
    assert err.value.code == "report.no_section"
    with pytest.raises(ValidationFailed) as err:
        merge_sections([one, one])
    assert err.value.code == "report.duplicate_section"
    for changed in (
        replace(two, project_code="FJ-2026-0418"),
        replace(two, committee=two.committee[:4]),
        replace(two, issued_at=two.issued_at.replace(hour=3)),
    ):
        with pytest.raises(ValidationFailed) as err:
            merge_sections([one, changed])
        assert err.value.code == "report.sections_mismatch"


def test_the_pdf_has_a_chapter_per_section_reproducibly_and_attaches_the_content() -> None:
    merged = merge_sections([sample_report(), _second()])
    pdf = render_report_pdf(merged)
    assert render_report_pdf(merged) == pdf
    text = _text(pdf)
    for heading in (
        "一、项目概况",
        "三、评标委员会",
        "四、标段评审：第一标段（01）",
        "五、标段评审：第二标段（02）",
        "（一）开标记录摘要",
        "（七）推荐的中标候选人",
        "六、评标委员会成员签署",
    ):
        assert heading in text, heading
    assert text.count("（三）价格评审") == 2 and "十一、评标委员会成员签署" not in text
    assert "开标时抽取的系数K：0.95" in text and "开标时抽取的系数K：0.97" in text
    found = _read_content(_reader(pdf), None)
    assert found is not None and found[1] == canonical_json(merged.to_dict())
    single = _text(render_report_pdf(sample_report()))
    assert "十一、评标委员会成员签署" in single and "标段评审" not in single
