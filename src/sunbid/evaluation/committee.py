"""Evaluation committee composition 评标委员会组成 (RULES.md §1) — pure.

* An odd number of members, at least 5; technical and economic experts (评审专家) at least 2/3 of the members;
  the others are representatives of the tenderer or purchaser (招标投标法 §37; 87号令 §47).
* Government procurement by tender: at least 7 when the budget is ≥ 1000万 yuan, or the project is technically
  complex or has a large social impact (87号令 §47).

The member counts come from the rules table (:mod:`sunbid.projects.rules`: ``eng.committee_min_members``,
``gp.committee_min_members``, ``gp.committee_min_members_large``), so a centre's table is the one source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

from sunbid.core.errors import ValidationFailed
from sunbid.projects.rules import RuleBook

__all__ = [
    "LARGE_PROCUREMENT_BUDGET",
    "CommitteeProblem",
    "Member",
    "Sector",
    "check_committee",
    "ensure_committee",
    "required_members",
]

LARGE_PROCUREMENT_BUDGET: Final = Decimal(10_000_000)
"""Budget (yuan) from which a procurement committee needs ≥ 7 members (87号令 §47)."""
EXPERT_SHARE: Final = (2, 3)
"""Experts are at least 2/3 of the members (招标投标法 §37; 87号令 §47)."""

Sector = Literal["engineering", "procurement"]
Role = Literal["expert", "representative"]


@dataclass(frozen=True, slots=True)
class Member:
    """A committee member: an expert drawn from the pool, or the tenderer's (purchaser's) representative."""

    id: str
    role: Role


@dataclass(frozen=True, slots=True)
class CommitteeProblem:
    """One broken composition rule."""

    code: str
    message_zh: str
    message_en: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message_zh": self.message_zh, "message_en": self.message_en, "source": self.source}


def required_members(
    sector: Sector, *, budget: Decimal | None = None, complex_project: bool = False, rules: RuleBook | None = None
) -> tuple[int, str]:
    """(minimum number of members, source): 5, or 7 for large or complex procurement."""
    book = rules or RuleBook.default()
    if sector == "procurement":
        large = complex_project or (budget is not None and budget >= LARGE_PROCUREMENT_BUDGET)
        rule = book.get("gp.committee_min_members_large" if large else "gp.committee_min_members")
    else:
        rule = book.get("eng.committee_min_members")
    return rule.amount, rule.source


def check_committee(
    members: Sequence[Member],
    *,
    sector: Sector,
    budget: Decimal | None = None,
    complex_project: bool = False,
    rules: RuleBook | None = None,
) -> list[CommitteeProblem]:
    """Every composition rule ``members`` breaks (empty list: the committee is lawful)."""
    problems: list[CommitteeProblem] = []
    ids = [m.id for m in members]
    if len(set(ids)) != len(ids):
        problems.append(CommitteeProblem("committee.duplicate_member", "成员重复", "a member is listed twice", ""))
    n = len(members)
    experts = sum(1 for m in members if m.role == "expert")
    minimum, source = required_members(sector, budget=budget, complex_project=complex_project, rules=rules)
    if n < minimum:
        why_zh = "（预算1000万元以上或技术复杂、社会影响较大）" if minimum > 5 else ""
        why_en = " (budget ≥ 10 million yuan, or complex or high-impact)" if minimum > 5 else ""
        problems.append(
            CommitteeProblem(
                "committee.too_small",
                f"评标委员会须至少 {minimum} 人{why_zh}，现为 {n} 人",
                f"the committee needs at least {minimum} members{why_en}; it has {n}",
                source,
            )
        )
    if n % 2 == 0:
        problems.append(
            CommitteeProblem(
                "committee.even",
                f"评标委员会人数须为单数，现为 {n} 人",
                f"the committee must be odd; it has {n}",
                source,
            )
        )
    num, den = EXPERT_SHARE
    if experts * den < n * num:
        problems.append(
            CommitteeProblem(
                "committee.too_few_experts",
                f"专家须不少于成员总数的三分之二：{n} 人中至少 {-(-n * num // den)} 名专家，现为 {experts} 名",
                f"experts must be at least 2/3 of the members: {-(-n * num // den)} of {n}; there are {experts}",
                source,
            )
        )
    return problems


def ensure_committee(
    members: Sequence[Member],
    *,
    sector: Sector,
    budget: Decimal | None = None,
    complex_project: bool = False,
    rules: RuleBook | None = None,
) -> None:
    """Raise ``ValidationFailed`` (``committee.*``, all problems in the message) unless the committee is lawful."""
    problems = check_committee(members, sector=sector, budget=budget, complex_project=complex_project, rules=rules)
    if problems:
        raise ValidationFailed(
            problems[0].code,
            "；".join(p.message_zh for p in problems),
            "; ".join(p.message_en for p in problems),
            details={"problems": [p.to_dict() for p in problems]},
        )
