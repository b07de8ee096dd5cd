"""Turning a published opening record into screening bids (no database): tender ids, winner, estimate, failures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sunbid.core.errors import DomainError
from sunbid.projects.models import Section
from sunbid.screening.io import from_records
from sunbid.screening.platform import records_from_opening


def _record(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "record": {
            "format": "sunbid-opening-record",
            "project_code": "341700-2026-0007",
            "published_at": "2026-12-14T09:40:00.000+00:00",
            "sections": [{"section": "01", "rows": rows}],
        },
        "record_hash": "ab",
    }


ROWS = [
    {"bidder_name": "甲", "bidder_uscc": "U1", "price": "100.00", "decryption_status": "decrypted"},
    {"bidder_name": "乙", "bidder_uscc": "U2", "price": "103.50", "decryption_status": "decrypted"},
    {"bidder_name": "丙", "bidder_uscc": "U3", "price": None, "decryption_status": "revoked"},
]


def test_a_record_gives_one_bid_per_decrypted_row_with_the_max_price_as_estimate() -> None:
    sections = {"01": Section(code="01", name="一标段", budget=Decimal("120.00"), max_price=Decimal("110.00"))}
    out = records_from_opening(_record(ROWS), round_no=1, sections=sections, winner_uscc=None)
    assert [(r["tender_id"], r["bidder_id"], r["bid_amount"]) for r in out] == [
        ("341700-2026-0007/01", "U1", "100.00"),
        ("341700-2026-0007/01", "U2", "103.50"),
    ]
    assert {r["estimate"] for r in out} == {Decimal("110.00")}
    assert {r["date"] for r in out} == {"2026-12-14"} and {r["is_winner"] for r in out} == {None}
    data = from_records(out)  # the same checks as a CSV file
    assert data.bids.height == 2 and data.bids["estimate"].to_list() == [110.0, 110.0]


def test_the_budget_stands_in_for_a_missing_max_price_and_a_retender_round_is_its_own_tender() -> None:
    sections = {"01": Section(code="01", name="一标段", budget=Decimal("120.00"), max_price=None)}
    out = records_from_opening(_record(ROWS), round_no=2, sections=sections, winner_uscc=None)
    assert {r["tender_id"] for r in out} == {"341700-2026-0007/01#2"}
    assert {r["estimate"] for r in out} == {Decimal("120.00")}
    assert {r["estimate"] for r in records_from_opening(_record(ROWS), round_no=1, sections={}, winner_uscc=None)} == {
        None
    }


def test_the_winner_is_marked_only_in_a_section_it_bid_in() -> None:
    out = records_from_opening(_record(ROWS), round_no=1, sections={}, winner_uscc="U2")
    assert [r["is_winner"] for r in out] == [0, 1]
    elsewhere = records_from_opening(_record(ROWS), round_no=1, sections={}, winner_uscc="U9")
    assert [r["is_winner"] for r in elsewhere] == [None, None]
    failed_winner = records_from_opening(_record(ROWS), round_no=1, sections={}, winner_uscc="U3")
    assert [r["is_winner"] for r in failed_winner] == [None, None]  # its bid failed: no price to mark


def test_a_record_with_a_single_opened_bid_leaves_nothing_to_score() -> None:
    one = records_from_opening(_record(ROWS[:1] + ROWS[2:]), round_no=1, sections={}, winner_uscc=None)
    assert len(one) == 1
    with pytest.raises(DomainError) as err:  # a screen needs two bids: the tender is skipped, none is left
        from_records(one)
    assert err.value.code.startswith("screen.")
    with pytest.raises(DomainError) as err:
        from_records([])
    assert err.value.code == "screen.no_tenders"
