"""Screening of the platform's own opened bids (issue 7 item 1) from real published opening records."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from sqlalchemy import select

from sunbid.core.errors import DomainError
from sunbid.ledger.models import AuditEvent
from sunbid.projects.models import Project, Section
from sunbid.screening.platform import screen_platform, visible_records
from tests.integration.bidding.conftest import to_bidding
from tests.integration.opening.conftest import BIDDERS, Ow, after

PRICES = {
    "first": {"bidder_a": "11800000.00", "bidder_b": "11750000.00", "bidder_c": "12100000.00"},
    "second": {"bidder_a": "9990000.00", "bidder_b": "9995000.00", "bidder_c": "9998000.00"},
}


def _second(ow: Ow) -> Ow:
    pid, code, deadline = to_bidding(ow.tw, ow.clock)
    return dataclasses.replace(ow, pid=pid, code=code, deadline=deadline, bids={}, data={})


def _set_max_price(ow: Ow, amount: str) -> None:
    with ow.platform.uow() as uow:
        section = uow.session.scalars(select(Section).where(Section.project_id == ow.pid)).one()
        section.max_price = Decimal(amount)
        uow.commit()


@pytest.fixture
def opened(ow: Ow) -> tuple[Ow, Ow]:
    """Two projects opened for real: every bid of the first decrypted; the second's bidder C never decrypts."""
    other = _second(ow)
    _set_max_price(ow, "12500000.00")
    for w, prices in ((ow, PRICES["first"]), (other, PRICES["second"])):
        for who in BIDDERS:
            w.submit(who, price=prices[who])
    ow.to_deadline()
    for who in BIDDERS:
        ow.decrypt(who)
    other.decrypt("bidder_a")
    other.decrypt("bidder_b")
    after(ow, 30)
    assert ow.session_row().state == "recorded" and other.session_row().state == "recorded"
    return ow, other


def test_published_records_become_bids_per_bidder_with_the_max_price_as_estimate(opened: tuple[Ow, Ow]) -> None:
    ow, other = opened
    with ow.platform.uow() as uow:
        records, codes = visible_records(uow, None)
    assert codes == [ow.code, other.code]
    first = [r for r in records if r["tender_id"] == f"{ow.code}/01"]
    assert {r["bidder_id"]: r["bid_amount"] for r in first} == {
        ow.org(w).uscc: price for w, price in PRICES["first"].items()
    }
    assert {r["estimate"] for r in first} == {Decimal("12500000.00")}
    assert {r["is_winner"] for r in first} == {None}  # not awarded yet
    second = [r for r in records if r["tender_id"] == f"{other.code}/01"]
    assert sorted(r["bid_amount"] for r in second) == ["9990000.00", "9995000.00"]  # C failed: no price
    assert all(r["date"] == ow.session_row().published_at.date().isoformat() for r in records)  # type: ignore[union-attr]


def test_the_awarded_bidder_is_the_winner_of_its_section(opened: tuple[Ow, Ow]) -> None:
    ow, _ = opened
    with ow.platform.uow() as uow:
        project = uow.session.get(Project, ow.pid)
        assert project is not None
        project.winner_org_id = ow.org("bidder_b").id
        uow.commit()
    with ow.platform.uow() as uow:
        records, _ = visible_records(uow, None)
    first = {r["bidder_id"]: r["is_winner"] for r in records if r["tender_id"] == f"{ow.code}/01"}
    assert first == {ow.org("bidder_a").uscc: 0, ow.org("bidder_b").uscc: 1, ow.org("bidder_c").uscc: 0}


def test_scoring_the_opened_tenders_is_unsupervised_explained_and_audited(opened: tuple[Ow, Ow]) -> None:
    ow, other = opened
    with ow.platform.uow() as uow:
        found = screen_platform(uow, None)
        uow.commit()
    result = found.result
    assert result.method == "unsupervised"
    assert {t["tender_id"] for t in result.tenders} == {f"{ow.code}/01", f"{other.code}/01"}
    assert all(0.0 <= t["score"] <= 1.0 and t["rank"] in (1, 2) for t in result.tenders)
    assert {t["tender_id"]: t["n_bids"] for t in result.tenders}[f"{other.code}/01"] == 2
    doc = found.doc()
    assert doc["source"] == "本平台已开标项目" and set(doc["bids"]) == {f"{ow.code}/01", f"{other.code}/01"}
    with ow.platform.db.read() as s:
        (audit,) = [a for a in s.scalars(select(AuditEvent)) if a.tag.endswith("screening:view")]
    assert audit.data == {"source": "platform", "method": "unsupervised", "tenders": 2, "projects": 2}
    assert "11800000" not in str(audit.data)


def test_a_regulator_sees_only_the_projects_it_supervises_and_others_may_not_screen(opened: tuple[Ow, Ow]) -> None:
    ow, other = opened
    with ow.platform.uow() as uow:
        found = screen_platform(uow, ow.tw.actor("regulator"))
        uow.commit()
    assert set(found.projects) == {ow.code, other.code}
    with ow.platform.uow() as uow, pytest.raises(DomainError) as err:
        screen_platform(uow, ow.tw.actor("regulator_far"))  # another region: nothing to see
    assert err.value.code == "screen.no_tenders"
    for who in ("bidder_a", "agency", "operator"):
        with ow.platform.uow() as uow, pytest.raises(DomainError) as err:
            screen_platform(uow, ow.tw.actor(who))
        assert err.value.code == "screen.regulators_only", who
    with ow.platform.db.read() as s:
        views = [a for a in s.scalars(select(AuditEvent)) if a.tag.endswith("screening:view")]
    assert len(views) == 1  # refusals read nothing


def test_with_no_published_record_there_is_nothing_to_screen(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()  # decrypting: no record yet
    with ow.platform.uow() as uow, pytest.raises(DomainError) as err:
        screen_platform(uow, None)
    assert err.value.code == "screen.no_tenders"
