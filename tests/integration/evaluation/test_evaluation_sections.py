"""A project of two sections 标段 evaluated by one committee: per-section prices (each section's K and maximum
price), scores, deviation checks and candidates; one report with a chapter per section, signed once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation import service_report as reports
from sunbid.evaluation import service_scoring as scoring
from sunbid.evaluation.methods import load_method_json
from sunbid.evaluation.models import InterventionRow, ScoreRow
from sunbid.evaluation.pdfsign import _read_content, _reader, verify_report
from sunbid.evaluation.price import Bid, compute_prices
from sunbid.evaluation.service_scoring import ScoreIn
from tests.integration.evaluation.conftest import (
    BIDDERS,
    SECTION_PRICES,
    SECTIONS,
    Vw,
    certificates,
    drawn_k,
    method_json,
    section_scores,
    sign_all,
    started,
)

pytestmark = pytest.mark.usefixtures("vw2")

REASON = "乙标段甲公司管网施工方案未考虑既有管线迁改，关键工序缺少措施。"


def _code(err: pytest.ExceptionInfo[ValidationFailed]) -> str:
    return err.value.code


def test_bids_and_prices_are_per_section_with_its_k_and_maximum_price(vw2: Vw) -> None:
    vw = started(vw2)
    leader = vw.member(1)
    with pytest.raises(ValidationFailed) as err:  # two sections: one must be named
        vw.act(leader, scoring.bids_view, vw.pid)
    assert _code(err) == "evaluation.unknown_section" and err.value.details["sections"] == ["01", "02"]
    with pytest.raises(ValidationFailed) as err:
        vw.act(leader, scoring.bids_view, vw.pid, "03")
    assert _code(err) == "evaluation.unknown_section"
    k1, k2 = drawn_k(vw, "01"), drawn_k(vw, "02")
    assert k1 != k2
    method = load_method_json(method_json())
    for spec, k in zip(SECTIONS, (k1, k2), strict=True):
        view = vw.act(leader, scoring.bids_view, vw.pid, spec.code)
        assert (view["section"], view["section_name"]) == (spec.code, spec.name)
        assert [s["code"] for s in view["sections"]] == ["01", "02"]
        assert Decimal(view["drawn"]) == k
        prices = SECTION_PRICES[spec.code]
        quoted = {b["bidder"]: Decimal(str(b["price"])) for b in view["bids"]}
        assert quoted == {vw.uscc(w): Decimal(prices[w]) for w in BIDDERS}
        expected = compute_prices(
            method,
            sorted((Bid(vw.uscc(w), Decimal(prices[w])) for w in BIDDERS), key=lambda b: b.bidder),
            drawn=k,
            max_price=spec.max_price,
        )
        assert view["prices"] == expected.to_dict()
    two = vw.act(leader, scoring.bids_view, vw.pid, "02")["prices"]
    assert [r["bidder"] for r in two["rejected"]] == [vw.uscc("bidder_c")]  # 6 100 000 above the cap 6 000 000
    one = vw.act(leader, scoring.bids_view, vw.pid, "01")["prices"]
    assert one["rejected"] == [] and len(one["bids"]) == 3


def test_scores_name_the_section_and_submission_covers_every_section(vw2: Vw) -> None:
    vw = started(vw2)
    leader = vw.member(1)
    a = vw.uscc("bidder_a")
    with pytest.raises(ValidationFailed) as err:  # no section named in a two-section project
        vw.act(leader, scoring.save_scores, vw.pid, [ScoreIn(a, "plan", "12")])
    assert _code(err) == "evaluation.unknown_section"
    with pytest.raises(ValidationFailed) as err:
        vw.act(leader, scoring.save_scores, vw.pid, [ScoreIn(a, "plan", "12", "09")])
    assert _code(err) == "evaluation.unknown_section"
    with pytest.raises(ValidationFailed) as err:  # C's bid in 02 is rejected (above the maximum price)
        vw.act(leader, scoring.save_scores, vw.pid, [ScoreIn(vw.uscc("bidder_c"), "plan", "12", "02")])
    assert _code(err) == "evaluation.unknown_bidder"
    with vw.platform.db.read() as s:
        assert s.scalars(select(ScoreRow)).all() == []  # bad input changes nothing
    vw.act(leader, scoring.save_scores, vw.pid, section_scores(vw, 1, "01"))
    with pytest.raises(ValidationFailed) as err:  # section 02 not scored yet
        vw.act(leader, scoring.submit, vw.pid)
    assert _code(err) == "evaluation.scores_missing"
    assert {m["section"] for m in err.value.details["missing"]} == {"02"}
    vw.act(leader, scoring.save_scores, vw.pid, section_scores(vw, 1, "02"))
    vw.act(leader, scoring.save_scores, vw.pid, [ScoreIn(a, "plan", "13", "02")])  # a change, not a new row
    mine = vw.act(leader, scoring.my_scores, vw.pid)
    plan_a = {s["section"]: s["score"] for s in mine["scores"] if (s["bidder"], s["item"]) == (a, "plan")}
    assert plan_a == {"01": "12.00", "02": "13.00"}
    assert len(mine["scores"]) == 3 * 2 + 2 * 2  # subjective items only: objective ones are computed
    assert vw.act(leader, scoring.submit, vw.pid)["status"] == "submitted"


def _score_everybody(vw: Vw) -> dict[str, Any]:
    """Members 1, 2, 4, 5 agree; member 3 agrees in 01 but scores plan of A in 02 far lower (held, explained)."""
    a = vw.uscc("bidder_a")
    for seq in (1, 2):
        for code in ("01", "02"):
            vw.act(vw.member(seq), scoring.save_scores, vw.pid, section_scores(vw, seq, code))
        assert vw.act(vw.member(seq), scoring.submit, vw.pid)["status"] == "submitted"
    sheet = section_scores(vw, 3, "01") + section_scores(vw, 3, "02", plan_a="6")
    vw.act(vw.member(3), scoring.save_scores, vw.pid, sheet)
    held = vw.act(vw.member(3), scoring.submit, vw.pid)
    assert held["status"] == "held"
    [i] = held["interventions"]
    assert (i["section"], i["bidder"], i["item"], i["score"]) == ("02", a, "plan", "6.00")
    assert vw.act(vw.member(3), scoring.submit, vw.pid, {("02", a, "plan"): REASON})["status"] == "submitted"
    for seq in (4, 5):
        for code in ("01", "02"):
            vw.act(vw.member(seq), scoring.save_scores, vw.pid, section_scores(vw, seq, code))
        last = vw.act(vw.member(seq), scoring.submit, vw.pid)
    assert last == {"status": "submitted", "evaluation": "scored"}
    result: dict[str, Any] = vw.act(vw.member(2), scoring.results_view, vw.pid)
    return result


def test_each_section_is_checked_and_ranked_on_its_own_one_report_with_a_chapter_each(vw2: Vw) -> None:
    vw = started(vw2)
    result = _score_everybody(vw)
    with vw.platform.db.read() as s:
        rows = list(s.scalars(select(InterventionRow)))
    assert [(r.section, r.status) for r in rows] == [("02", "explained")]  # no intervention in section 01
    seen = vw.act("regulator", scoring.interventions_view, vw.pid)
    assert [(x["section"], x["reason"]) for x in seen] == [("02", REASON)]

    assert "evaluation" not in result  # several sections: only per section
    one, two = result["sections"]
    assert (one["section"], two["section"]) == ("01", "02")
    assert Decimal(one["prices"]["max_price"]) == Decimal("12500000.00")
    assert Decimal(two["prices"]["max_price"]) == Decimal("6000000.00")
    assert Decimal(one["prices"]["drawn_coefficient"]) == drawn_k(vw, "01")
    assert Decimal(two["prices"]["drawn_coefficient"]) == drawn_k(vw, "02")
    assert len(one["evaluation"]["rows"]) == 3 and len(two["evaluation"]["rows"]) == 2
    assert set(two["evaluation"]["candidates"]) == {vw.uscc("bidder_a"), vw.uscc("bidder_b")}
    assert len(one["evaluation"]["candidates"]) == 3
    assert len(one["scores"]) == 5 * 3 * 2 and len(two["scores"]) == 5 * 2 * 2

    certificates(vw)
    vw.act(vw.member(1), reports.build, vw.pid)
    pdf = vw.act(vw.member(1), reports.report_pdf, vw.pid)
    found = _read_content(_reader(pdf), None)
    assert found is not None
    content = found[0]
    assert [c["section_code"] for c in content["sections"]] == ["01", "02"]
    chapters = {c["section_code"]: c for c in content["sections"]}
    assert chapters["01"]["deviations"] == []
    [dev] = chapters["02"]["deviations"]
    assert (dev["bidder"], dev["item"], dev["reason"]) == (vw.uscc("bidder_a"), "plan", REASON)
    assert chapters["02"]["prices"] == two["prices"] and chapters["01"]["evaluation"] == one["evaluation"]
    assert [(c["section"], c["position"]) for c in content["candidates"]] == [
        ("01", 1),
        ("01", 2),
        ("01", 3),
        ("02", 1),
        ("02", 2),
    ]
    doc = pdfium.PdfDocument(pdf)
    text = "".join("".join(doc[i].get_textpage().get_text_range().split()) for i in range(len(doc)))
    for spec in SECTIONS:
        assert f"标段评审：{''.join(spec.name.split())}（{spec.code}）" in text
    assert "五、评标委员会成员签署" not in text and "六、评标委员会成员签署" in text

    sign_all(vw)  # signed once by every member, for both sections
    assert vw.ow.project().state == "reported"
    status = verify_report(vw.act("agency", reports.report_pdf, vw.pid), ca_cert_pem=vw.platform.ca().certificate_pem)
    assert status.complete and len(status.signatures) == 5
    published = vw.act("agency", reports.publish, vw.pid)
    assert published == content["candidates"]
    with vw.platform.uow() as uow:
        public = reports.candidates_view(uow, vw.pid)
    assert public["candidates"] == published


def _downgrade(db: Any, revision: str) -> None:
    from alembic import command

    from sunbid.platform import migrate

    cfg = migrate.alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def test_the_migration_fills_the_section_and_its_downgrade_keeps_the_first(vw2: Vw) -> None:
    from sqlalchemy import text

    from sunbid.platform import migrate

    vw = started(vw2)
    _score_everybody(vw)
    db = vw.platform.db

    def count(table: str) -> int:
        with db.engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())

    before = count("evaluation_scores")
    in_01 = 5 * 3 * 2
    assert before == in_01 + 5 * 2 * 2
    try:
        _downgrade(db, "c07c6e1d8f09")  # the old schema holds one section: section 02's rows go
        assert count("evaluation_scores") == in_01 and count("evaluation_interventions") == 0
        migrate.upgrade(db)  # existing rows get their project's (first) section
        with db.engine.connect() as conn:
            sections = set(conn.execute(text("SELECT DISTINCT section FROM evaluation_scores")).scalars())
        assert sections == {"01"}
    finally:
        migrate.upgrade(db)
    assert migrate.is_current(db)
