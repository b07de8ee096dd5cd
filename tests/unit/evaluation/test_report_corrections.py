"""The report's fact corrections 客观评分数据核验: checked, in the hashed content, set in the PDF."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pypdfium2 as pdfium
import pytest
from tests.unit.evaluation.report_support import NOW, sample_report

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.report import FactCorrection, build_report, canonical_json, fact_label, render_report_pdf
from sunbid.evaluation.report_model import EvaluationReport

REASON = "业绩证明中“漳浦县城南路工程”缺少竣工验收证明，不予认定；核实类似工程业绩为 1 项。"


def _correction(**changes: Any) -> FactCorrection:
    base = FactCorrection("b1", "extra.类似工程业绩", "2", "1", REASON, "e1", NOW)
    return dataclasses.replace(base, **changes)


def _build(*corrections: FactCorrection) -> EvaluationReport:
    r = sample_report()
    return build_report(
        project_code=r.project_code,
        project_name=r.project_name,
        section_code=r.section_code,
        section_name=r.section_name,
        tenderer=r.tenderer,
        method=r.method,
        prices=r.prices,
        evaluation=r.evaluation,
        scores=r.scores,
        committee=r.committee,
        opening=r.opening,
        issued_at=r.issued_at,
        bidder_names=r.bidder_names,
        deviations=r.deviations,
        opened_at=r.opened_at,
        conclusion=r.conclusion,
        fact_corrections=corrections,
    )


def test_labels_name_the_fixed_fields_and_the_extra_keys() -> None:
    assert fact_label("duration_days") == ("工期（日历天）", "duration (calendar days)")
    assert fact_label("quality")[0] == "质量标准"
    assert fact_label("extra.类似工程业绩") == ("类似工程业绩", "类似工程业绩")


def test_corrections_are_in_the_hashed_content() -> None:
    plain = sample_report()
    assert plain.to_dict()["fact_corrections"] == []
    r = _build(_correction(), _correction(bidder="b4", field="extra.信用等级", declared="AA", value=None))
    assert r.to_dict()["fact_corrections"] == [
        {
            "bidder": "b1",
            "field": "extra.类似工程业绩",
            "declared": "2",
            "value": "1",
            "reason": REASON,
            "member": "e1",
            "corrected_at": NOW.isoformat(),
        },
        {
            "bidder": "b4",
            "field": "extra.信用等级",
            "declared": "AA",
            "value": None,
            "reason": REASON,
            "member": "e1",
            "corrected_at": NOW.isoformat(),
        },
    ]
    assert r.content_sha256 != plain.content_sha256
    assert _build(_correction(value="0")).content_sha256 != _build(_correction()).content_sha256


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"field": "extra.注册资本"}, "report.unknown_fact"),  # no objective item reads it
        ({"field": "duration_days"}, "report.unknown_fact"),
        ({"bidder": "b9"}, "report.bid_not_opened"),
        ({"member": "x1"}, "report.unknown_expert"),
        ({"reason": "  "}, "report.reason_required"),
        ({"reason": "理" * 1001}, "report.text_too_long"),
        ({"value": "1" * 2001}, "report.text_too_long"),
    ],
)
def test_a_correction_that_does_not_belong_is_refused(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        _build(_correction(**changes))
    assert err.value.code == code


def test_the_pdf_lists_each_correction_declared_and_verified_with_the_reason_and_member() -> None:
    r = _build(_correction(), _correction(bidder="b4", field="extra.信用等级", declared="AA", value=None))
    pdf = render_report_pdf(r)
    doc = pdfium.PdfDocument(pdf)
    try:
        text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).replace("\r\n", "")
        data = bytes(doc.get_attachment(0).get_data())
    finally:
        doc.close()
    assert data == canonical_json(r.to_dict()) and json.loads(data)["fact_corrections"][1]["value"] is None
    assert "客观评分数据核验" in text
    assert "不予认定" in text and "王建国" in text  # the reason and the leader who corrected
    assert "信用评价（信用等级）" in text and "未提供" in text  # the item and its field; no value = not provided
    plain = sample_report()
    doc = pdfium.PdfDocument(render_report_pdf(plain))
    try:
        assert all("客观评分数据核验" not in doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    finally:
        doc.close()
