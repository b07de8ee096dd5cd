"""The evaluation report's content (checks, signing order, candidates, hash) and its Chinese PDF (rendered)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from PIL import Image
from tests.unit.evaluation.report_support import BIDDERS, NAMES, NOW, sample_report

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.fonts import cjk_font
from sunbid.evaluation.report import (
    ATTACHMENT_NAME,
    FORMAT,
    CommitteeMember,
    DeviationNote,
    OpenedBid,
    build_report,
    canonical_json,
    content_sha256,
    render_report_pdf,
)

SCALE = 2.0


@pytest.fixture(scope="module")
def report_pdf() -> bytes:
    return render_report_pdf(sample_report())


def _rebuild(**changes: object) -> None:
    """build_report with the sample's parts, some replaced."""
    r = sample_report()
    parts: dict[str, object] = {
        "project_code": r.project_code,
        "project_name": r.project_name,
        "section_code": r.section_code,
        "section_name": r.section_name,
        "tenderer": r.tenderer,
        "method": r.method,
        "prices": r.prices,
        "evaluation": r.evaluation,
        "scores": r.scores,
        "committee": r.committee,
        "opening": r.opening,
        "issued_at": r.issued_at,
        "bidder_names": r.bidder_names,
        "deviations": r.deviations,
    }
    parts.update(changes)
    build_report(**parts)  # type: ignore[arg-type]


# --- content -------------------------------------------------------------------------------------------


def test_sample_evaluation_has_a_rejection_a_deviation_and_three_ranked_candidates() -> None:
    r = sample_report()
    assert [x.bidder for x in r.prices.rejected] == ["b5"]
    assert [(d.intervention.expert, d.intervention.bidder, d.intervention.item) for d in r.deviations] == [
        ("e5", "b3", "plan")
    ]
    assert r.candidates == ("b3", "b1", "b2")
    assert [(c["position"], c["name"], c["total"]) for c in r.publicity()] == [
        (1, BIDDERS["b3"], "95.73"),
        (2, BIDDERS["b1"], "93.20"),
        (3, BIDDERS["b2"], "87.51"),
    ]


def test_the_group_leader_signs_first_then_the_members_in_order() -> None:
    assert [m.id for m in sample_report(leader="e3").signing_order] == ["e3", "e1", "e2", "e4", "e5"]
    assert sample_report(leader="e3").to_dict()["signing_order"] == ["e3", "e1", "e2", "e4", "e5"]


def test_refuses_a_committee_without_exactly_one_leader() -> None:
    r = sample_report()
    none = [dataclasses.replace(m, leader=False) for m in r.committee]
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(committee=none)
    assert exc.value.code == "report.leader_required"
    two = [dataclasses.replace(m, leader=m.id in ("e1", "e2")) for m in r.committee]
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(committee=two)
    assert exc.value.code == "report.leader_required"


def test_refuses_a_deviation_without_a_written_reason() -> None:
    r = sample_report()
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(deviations=[DeviationNote(r.deviations[0].intervention, "  ")])
    assert exc.value.code == "report.reason_required"


def test_refuses_scores_by_someone_not_on_the_committee() -> None:
    r = sample_report()
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(committee=[m for m in r.committee if m.id != "e4"])
    assert exc.value.code == "report.unknown_expert"


def test_refuses_an_evaluated_bid_missing_from_the_opening_record() -> None:
    r = sample_report()
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(opening=[b for b in r.opening if b.bidder != "b5"])
    assert exc.value.code == "report.bid_not_opened"
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(opening=[*r.opening, OpenedBid("b1", Decimal(1))])
    assert exc.value.code == "report.duplicate_bid"


def test_refuses_a_malformed_certificate_fingerprint_and_duplicate_members() -> None:
    r = sample_report()
    bad = [dataclasses.replace(m, certificate_fingerprint="ABC") if m.id == "e2" else m for m in r.committee]
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(committee=bad)
    assert exc.value.code == "report.bad_fingerprint"
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(committee=[*r.committee, CommitteeMember("e2", "又一个", "expert")])
    assert exc.value.code == "report.duplicate_member"


def test_content_hash_covers_every_part_of_the_content() -> None:
    r = sample_report()
    assert r.content_sha256 == content_sha256(canonical_json(r.to_dict()))
    other = dataclasses.replace(r, conclusion=r.conclusion + "。")
    assert other.content_sha256 != r.content_sha256
    reason = dataclasses.replace(r, deviations=(DeviationNote(r.deviations[0].intervention, "另一理由"),))
    assert reason.content_sha256 != r.content_sha256


# --- the PDF -------------------------------------------------------------------------------------------


def _ink(image: Image.Image, box: tuple[float, float, float, float]) -> float:
    """Share of dark pixels in ``box`` (PDF points, origin top-left)."""
    crop = image.crop(tuple(int(v * SCALE) for v in box)).convert("L")
    dark = sum(1 for p in crop.tobytes() if p < 128)
    return dark / (crop.width * crop.height)


def test_page_one_renders_the_chinese_title_as_real_glyphs(report_pdf: bytes) -> None:
    """Must-show: render page 1 to an image; the title area has ink, the margin has none, the four title
    characters are four different pictures (missing glyphs would all be the same empty box), and the text layer
    reads back the exact Chinese."""
    doc = pdfium.PdfDocument(report_pdf)
    page = doc[0]
    image = page.render(scale=SCALE).to_pil()
    width, height = page.get_size()
    assert _ink(image, (width / 2 - 60, 48, width / 2 + 60, 88)) > 0.05
    assert _ink(image, (0, 0, width, 40)) == 0
    text = page.get_textpage()
    assert text.get_text_range().splitlines()[0].strip() == "评标报告"
    crops = []
    for i in range(4):
        left, bottom, right, top = text.get_charbox(i)
        box = (left * SCALE, (height - top) * SCALE, right * SCALE, (height - bottom) * SCALE)
        crops.append(image.crop(tuple(int(v) for v in box)).convert("L").resize((32, 32)).tobytes())
    assert len(set(crops)) == 4
    assert all(sum(1 for p in c if p < 128) > 20 for c in crops)


def test_the_text_layer_holds_the_report_in_chinese(report_pdf: bytes) -> None:
    doc = pdfium.PdfDocument(report_pdf)
    text = "".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    flat = "".join(text.split())
    for expected in (
        "福州市滨海新城道路改造工程施工",
        "评标委员会",
        "开标记录摘要",
        "评标基准价 B：9,433,250.00 元",
        "开标时抽取的系数 K：0.97",
        "否决投标",
        BIDDERS["b5"],
        "超过最高投标限价",
        "评分偏离干预",
        "深基坑支护措施缺少专项论证",
        f"第一中标候选人：{BIDDERS['b3']}",
        f"第二中标候选人：{BIDDERS['b1']}",
        f"第三中标候选人：{BIDDERS['b2']}",
        "95.73",
        NAMES["e1"],
        "组长",
    ):
        assert "".join(expected.split()) in flat, expected
    assert "第四中标候选人" not in flat


def test_every_footer_has_the_page_number_and_the_content_hash(report_pdf: bytes) -> None:
    r = sample_report()
    doc = pdfium.PdfDocument(report_pdf)
    pages = len(doc)
    assert pages >= 3
    for i in range(pages):
        text = doc[i].get_textpage().get_text_range()
        assert f"第 {i + 1} 页 共 {pages} 页" in text
        assert f"内容摘要 SHA-256：{r.content_sha256}" in text


def test_the_content_is_attached_and_its_hash_is_in_the_keywords(report_pdf: bytes) -> None:
    r = sample_report()
    doc = pdfium.PdfDocument(report_pdf)
    assert doc.count_attachments() == 1
    attachment = doc.get_attachment(0)
    assert attachment.get_name() == ATTACHMENT_NAME
    data = bytes(attachment.get_data())
    assert data == canonical_json(r.to_dict())
    assert json.loads(data)["format"] == FORMAT
    assert f"content-sha256={r.content_sha256}" in doc.get_metadata_dict()["Keywords"]


def test_the_cjk_font_is_embedded_and_the_output_is_reproducible(report_pdf: bytes) -> None:
    family = cjk_font().family.replace(" ", "")
    assert family.encode() in report_pdf
    assert b"/FontFile" in report_pdf
    assert render_report_pdf(sample_report()) == report_pdf
    later = dataclasses.replace(sample_report(), issued_at=NOW.replace(day=21))
    assert render_report_pdf(later) != report_pdf


def test_texts_that_could_not_be_set_on_a_page_are_refused() -> None:
    r = sample_report()
    longest = DeviationNote(r.deviations[0].intervention, "理" * 1000)
    _rebuild(deviations=[longest])
    render_report_pdf(dataclasses.replace(r, deviations=(longest,)))
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(deviations=[DeviationNote(r.deviations[0].intervention, "理" * 1001)])
    assert exc.value.code == "report.text_too_long"
    with pytest.raises(ValidationFailed) as exc:
        _rebuild(bidder_names={**BIDDERS, "b1": "公司" * 101})
    assert exc.value.code == "report.text_too_long"
