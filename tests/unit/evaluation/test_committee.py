"""Committee composition: odd, ≥ 5, experts ≥ 2/3 (法 §37); ≥ 7 for large or complex procurement (87号令 §47)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sunbid.core.errors import ValidationFailed
from sunbid.evaluation.committee import Member, check_committee, ensure_committee, required_members
from sunbid.projects.rules import RuleBook


def _panel(experts: int, representatives: int = 0) -> list[Member]:
    return [Member(f"e{i}", "expert") for i in range(experts)] + [
        Member(f"r{i}", "representative") for i in range(representatives)
    ]


def _codes(members: list[Member], **facts: object) -> list[str]:
    return [p.code for p in check_committee(members, **facts)]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("experts", "reps", "codes"),
    [
        (5, 0, []),
        (4, 1, []),  # 4/5 ≥ 2/3
        (3, 2, ["committee.too_few_experts"]),  # 3/5 < 2/3
        (5, 2, []),  # 5/7 ≥ 2/3
        (4, 3, ["committee.too_few_experts"]),  # 4/7 < 2/3
        (6, 3, []),  # 6/9 = 2/3 exactly
        (4, 0, ["committee.too_small", "committee.even"]),
        (6, 0, ["committee.even"]),
        (3, 0, ["committee.too_small"]),
        (0, 0, ["committee.too_small", "committee.even"]),
    ],
)
def test_engineering_committee(experts: int, reps: int, codes: list[str]) -> None:
    assert _codes(_panel(experts, reps), sector="engineering") == codes


@pytest.mark.parametrize(
    ("budget", "complex_project", "minimum"),
    [
        (None, False, 5),
        (Decimal("9999999.99"), False, 5),
        (Decimal("10000000.00"), False, 7),
        (Decimal("500000"), True, 7),
    ],
)
def test_procurement_committee_of_seven_for_large_or_complex(
    budget: Decimal | None, complex_project: bool, minimum: int
) -> None:
    assert required_members("procurement", budget=budget, complex_project=complex_project)[0] == minimum
    five = _codes(_panel(5), sector="procurement", budget=budget, complex_project=complex_project)
    assert five == ([] if minimum == 5 else ["committee.too_small"])
    assert _codes(_panel(7), sector="procurement", budget=budget, complex_project=complex_project) == []


def test_engineering_needs_five_whatever_the_budget() -> None:
    assert required_members("engineering", budget=Decimal("1e9"))[0] == 5


def test_minimums_come_from_the_rules_table() -> None:
    book = RuleBook.default()
    assert required_members("engineering", rules=book) == (5, book.get("eng.committee_min_members").source)


def test_duplicate_members_and_ensure_raises_all_problems() -> None:
    members = [Member("a", "expert")] * 5
    assert _codes(members, sector="engineering") == ["committee.duplicate_member"]
    with pytest.raises(ValidationFailed) as info:
        ensure_committee(_panel(2, 2), sector="engineering")
    assert info.value.code == "committee.too_small"
    assert "单数" in info.value.message_zh and "2/3" in info.value.message_en
    assert len(info.value.details["problems"]) == 3
    ensure_committee(_panel(5), sector="engineering")
