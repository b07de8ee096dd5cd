"""The expert pool and the expert draw 专家抽取 (SPEC E-1, E-2; RULES §5): pure rules, no database.

- **Specialty tree** 专业分类: codes ``A`` (sector) → ``A01`` → ``A0101``; a child code always starts with its
  parent's code. The packaged table is ``data/specialties.csv``. **An expert qualifies for a requested
  specialty when one of his codes is that code or below it** (a 建筑结构 ``A0101`` expert may sit for a
  房屋建筑工程 ``A01`` request); a broader code does not qualify for a narrower request (an ``A01`` expert is
  not drawn for ``A0101``).
- **Avoidance** 回避: each rule is a pure predicate with a stable reason code and a message in Chinese and
  English (:data:`AVOIDANCE_RULES`, :func:`avoidance_reasons`). "Same employer as another drawn expert" depends
  on who is drawn, so it is applied inside the draw (the ``groups`` of the panel selection, see
  :func:`sunbid.draws.verify.walk_panel`).
- **Eligibility** for 100,000 experts in milliseconds: :class:`PoolIndex` keeps experts by specialty, by
  employer, by declared conflict, by regulator sector, and the few who are inactive, penalised or often drawn,
  so a draw computes a small set of excluded ids and subtracts it instead of testing every expert.
- **The draw** (:func:`plan_draw`, :func:`run_draw`): one verifiable panel draw over all requested specialties
  (``purpose="expert"``), recomputable with ``sunbid draw verify``.

Personal data (name, phone, identity number) never enters this module: an expert is his pool code here.
"""

from __future__ import annotations

import csv
import io
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from importlib import resources
from typing import Final

from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.crypto.suite import CryptoSuite
from sunbid.draws.domain import Commitment, SeedInput
from sunbid.draws.record import DrawRecord, PanelSlot, aware_time
from sunbid.draws.verify import panel_record
from sunbid.identity.regions import code_contains

__all__ = [
    "AVOIDANCE_RULES",
    "STATUS_TRANSITIONS",
    "AvoidancePolicy",
    "AvoidanceReason",
    "DrawContext",
    "DrawPlan",
    "Employment",
    "ExpertProfile",
    "ExpertStatus",
    "Panel",
    "PanelSeat",
    "Penalty",
    "PoolIndex",
    "SlotRequest",
    "Specialty",
    "SpecialtyTree",
    "avoidance_reasons",
    "aware_moment",
    "check_status_change",
    "load_specialty_tree",
    "panel_from_record",
    "plan_draw",
    "run_draw",
]

EXPERT_CODE_RE: Final = re.compile(r"[A-Z0-9][A-Z0-9-]{2,31}")
_SPECIALTY_RE: Final = re.compile(r"[A-Z][0-9]{0,8}")


def _invalid(code: str, zh: str, en: str, **details: object) -> ValidationFailed:
    return ValidationFailed(code, zh, en, details=dict(details))


def aware_moment(text: str, code: str) -> datetime:
    """The time ``text`` names (ISO 8601 with a UTC offset, e.g. ``2026-12-01T09:00+08:00``); ``code`` otherwise."""
    moment = aware_time(text)
    if moment is None:
        raise _invalid(
            code,
            f"时间 {text} 须为带时区的 ISO 8601 时间，如 +08:00",
            f"time {text} must be ISO 8601 with an offset, e.g. +08:00",
        )
    return moment


# --- specialty tree ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Specialty:
    """One node of the specialty tree."""

    code: str
    parent: str | None
    name_zh: str
    name_en: str


class SpecialtyTree:
    """The specialty codes 专业代码 as a tree; a child's code extends its parent's."""

    def __init__(self, nodes: Iterable[Specialty]) -> None:
        self.nodes: dict[str, Specialty] = {}
        self.children: dict[str, list[str]] = {}
        for node in nodes:
            if not _SPECIALTY_RE.fullmatch(node.code):
                raise _invalid("expert.bad_specialty", f"专业代码 {node.code} 格式不正确", f"bad code {node.code}")
            if node.code in self.nodes:
                raise _invalid("expert.bad_specialty", f"专业代码 {node.code} 重复", f"code {node.code} repeated")
            self.nodes[node.code] = node
        for node in self.nodes.values():
            if node.parent is None:
                continue
            if node.parent not in self.nodes or not node.code.startswith(node.parent) or node.code == node.parent:
                raise _invalid(
                    "expert.bad_specialty",
                    f"专业代码 {node.code} 的上级 {node.parent} 不存在或不是其前缀",
                    f"the parent {node.parent} of {node.code} is unknown or not its prefix",
                )
            self.children.setdefault(node.parent, []).append(node.code)

    def __contains__(self, code: object) -> bool:
        return code in self.nodes

    def get(self, code: str) -> Specialty:
        """The node, or ``expert.unknown_specialty``."""
        node = self.nodes.get(code)
        if node is None:
            raise _invalid(
                "expert.unknown_specialty", f"未知专业代码 {code}", f"unknown specialty code {code}", specialty=code
            )
        return node

    def subtree(self, code: str) -> list[str]:
        """``code`` and every code below it (the codes that qualify for a request of ``code``)."""
        self.get(code)
        out, stack = [], [code]
        while stack:
            c = stack.pop()
            out.append(c)
            stack.extend(self.children.get(c, ()))
        return sorted(out)

    def qualifies(self, expert_codes: Iterable[str], requested: str) -> bool:
        """Whether an expert with ``expert_codes`` may be drawn for ``requested`` (same code or below it)."""
        return any(c.startswith(requested) and c in self.nodes for c in expert_codes)

    def sector_of(self, code: str) -> Specialty:
        """The top-level node (sector 行业) of ``code``."""
        node = self.get(code)
        while node.parent is not None:
            node = self.nodes[node.parent]
        return node


def load_specialty_tree(text: str | None = None) -> SpecialtyTree:
    """The packaged tree (``data/specialties.csv``: code,parent,name_zh,name_en), or one read from ``text``."""
    if text is None:
        text = resources.files("sunbid.experts").joinpath("data/specialties.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    return SpecialtyTree(
        Specialty(r["code"].strip(), (r["parent"] or "").strip() or None, r["name_zh"].strip(), r["name_en"].strip())
        for r in rows
    )


# --- experts -------------------------------------------------------------------------------------------------


class ExpertStatus(StrEnum):
    """An expert's standing in the pool: 在库 active, 暂停 suspended, 清退出库 removed (final)."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"

    @property
    def label_zh(self) -> str:
        return {"active": "在库", "suspended": "暂停抽取", "removed": "清退出库"}[self.value]


#: Allowed status changes, as data: (from, to) → action name.
STATUS_TRANSITIONS: Final[Mapping[tuple[ExpertStatus, ExpertStatus], str]] = {
    (ExpertStatus.ACTIVE, ExpertStatus.SUSPENDED): "suspend",
    (ExpertStatus.SUSPENDED, ExpertStatus.ACTIVE): "reinstate",
    (ExpertStatus.ACTIVE, ExpertStatus.REMOVED): "remove",
    (ExpertStatus.SUSPENDED, ExpertStatus.REMOVED): "remove",
}


def check_status_change(current: ExpertStatus, target: ExpertStatus) -> str:
    """The action of ``current → target``, or ``expert.bad_status_change`` (removal is final)."""
    action = STATUS_TRANSITIONS.get((current, target))
    if action is None:
        raise Conflict(
            "expert.bad_status_change",
            f"专家状态不能从“{current.label_zh}”改为“{target.label_zh}”",
            f"an expert's status cannot change from {current.value} to {target.value}",
        )
    return action


@dataclass(frozen=True, slots=True)
class Employment:
    """A period of work for one employer (USCC); ``end=None`` means current."""

    employer_uscc: str
    start: date
    end: date | None = None

    def current_at(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)

    def within(self, day: date, since: date) -> bool:
        """Employed at some time in ``[since, day]``."""
        return self.start <= day and (self.end is None or self.end >= since)


@dataclass(frozen=True, slots=True)
class Penalty:
    """A penalty 处罚 that bars draws from ``start`` to ``end`` inclusive (``None``: until lifted)."""

    start: date
    end: date | None = None

    def active_at(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True, slots=True)
class ExpertProfile:
    """What the draw needs to know of an expert; no personal data (``code`` is the pool number 专家编号)."""

    code: str
    specialties: frozenset[str]
    region_code: str
    status: ExpertStatus = ExpertStatus.ACTIVE
    employments: tuple[Employment, ...] = ()
    conflict_orgs: frozenset[str] = frozenset()
    conflict_persons: frozenset[str] = frozenset()
    regulator_sectors: frozenset[str] = frozenset()
    penalties: tuple[Penalty, ...] = ()
    draw_times: tuple[datetime, ...] = ()

    def current_employer(self, day: date) -> str | None:
        """The employer at ``day`` (the latest-started one if several)."""
        current = [e for e in self.employments if e.current_at(day)]
        return max(current, key=lambda e: e.start).employer_uscc if current else None


@dataclass(frozen=True, slots=True)
class AvoidancePolicy:
    """Configurable parts of the avoidance rules.

    ``employment_years``: how far back employment by a party disqualifies (采购条例 §9: 3 years; 0 = current
    only). ``max_draws`` in ``draw_period_days``: too many draws 抽取过频 (None: no limit). ``regions``: when
    given, only experts of these regions (or inside them) are drawn.
    """

    employment_years: int = 3
    max_draws: int | None = None
    draw_period_days: int = 365
    regions: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 <= self.employment_years <= 50:
            raise _invalid("expert.bad_policy", "回避年限须为 0–50 年", "employment_years must be 0..50")
        if self.max_draws is not None and self.max_draws < 1:
            raise _invalid("expert.bad_policy", "抽取次数上限须至少为 1", "max_draws must be at least 1")
        if not 1 <= self.draw_period_days <= 3660:
            raise _invalid("expert.bad_policy", "统计周期须为 1–3660 天", "draw_period_days must be 1..3660")


@dataclass(frozen=True, slots=True)
class DrawContext:
    """The project a draw is for: its parties (USCCs), supervising sectors, declared persons, and the time."""

    at: datetime
    tenderer_uscc: str
    agency_uscc: str | None = None
    bidder_usccs: frozenset[str] = frozenset()
    sectors: frozenset[str] = frozenset()
    persons: frozenset[str] = frozenset()

    @property
    def day(self) -> date:
        return self.at.date()

    @property
    def parties(self) -> frozenset[str]:
        out = set(self.bidder_usccs) | {self.tenderer_uscc}
        if self.agency_uscc:
            out.add(self.agency_uscc)
        return frozenset(out)


_TICK: Final = timedelta(microseconds=1)


def _since(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


# --- avoidance rules -----------------------------------------------------------------------------------------


class AvoidanceReason(StrEnum):
    """Why an expert is not drawn for a project (stable codes, messages in Chinese and English)."""

    BIDDER_EMPLOYEE = "expert.avoid.bidder_employee"
    TENDERER_EMPLOYEE = "expert.avoid.tenderer_employee"
    AGENCY_STAFF = "expert.avoid.agency_staff"
    REGULATOR_STAFF = "expert.avoid.regulator_staff"
    CONFLICT_ORG = "expert.avoid.declared_conflict_org"
    CONFLICT_PERSON = "expert.avoid.declared_conflict_person"
    PENALISED = "expert.avoid.penalised"
    SUSPENDED = "expert.avoid.suspended"
    REMOVED = "expert.avoid.removed"
    TOO_MANY_DRAWS = "expert.avoid.too_many_draws"
    OUTSIDE_REGION = "expert.avoid.outside_region"
    SAME_EMPLOYER = "expert.avoid.same_employer"

    @property
    def message_zh(self) -> str:
        return _REASON_TEXT[self][0]

    @property
    def message_en(self) -> str:
        return _REASON_TEXT[self][1]


_REASON_TEXT: Final[Mapping[AvoidanceReason, tuple[str, str]]] = {
    AvoidanceReason.BIDDER_EMPLOYEE: ("现为或近年曾为投标人员工", "employee or recent employee of a bidder"),
    AvoidanceReason.TENDERER_EMPLOYEE: ("现为或近年曾为招标人员工", "employee or recent employee of the tenderer"),
    AvoidanceReason.AGENCY_STAFF: ("本项目招标代理机构工作人员", "staff of the project's tendering agency"),
    AvoidanceReason.REGULATOR_STAFF: (
        "监管本行业项目的行政监督部门人员",
        "staff of a regulator of the project's sector",
    ),
    AvoidanceReason.CONFLICT_ORG: ("申报与项目当事单位存在利害关系", "declared a conflict with a party of the project"),
    AvoidanceReason.CONFLICT_PERSON: (
        "申报与项目相关人员存在利害关系",
        "declared a conflict with a person of the project",
    ),
    AvoidanceReason.PENALISED: ("处于处罚期内", "under a penalty"),
    AvoidanceReason.SUSPENDED: ("已暂停抽取", "suspended from draws"),
    AvoidanceReason.REMOVED: ("已清退出库", "removed from the pool"),
    AvoidanceReason.TOO_MANY_DRAWS: ("统计周期内被抽取次数已达上限", "drawn too often in the period"),
    AvoidanceReason.OUTSIDE_REGION: ("不在抽取地区范围内", "outside the regions of the draw"),
    AvoidanceReason.SAME_EMPLOYER: ("与已抽中专家为同一单位", "same employer as an expert already drawn"),
}

Predicate = Callable[[ExpertProfile, DrawContext, AvoidancePolicy], bool]


def _worked_for(expert: ExpertProfile, usccs: Iterable[str], ctx: DrawContext, policy: AvoidancePolicy) -> bool:
    targets = set(usccs)
    since = _since(ctx.day, policy.employment_years)
    return any(e.employer_uscc in targets and e.within(ctx.day, since) for e in expert.employments)


def _draws_in_period(times: Sequence[datetime], ctx: DrawContext, policy: AvoidancePolicy) -> int:
    start = ctx.at - timedelta(days=policy.draw_period_days)
    return sum(1 for t in times if start < t <= ctx.at)


#: Every avoidance rule, as a pure predicate over (expert, project, policy): True means "must not be drawn".
AVOIDANCE_RULES: Final[tuple[tuple[AvoidanceReason, Predicate], ...]] = (
    (AvoidanceReason.REMOVED, lambda e, c, p: e.status is ExpertStatus.REMOVED),
    (AvoidanceReason.SUSPENDED, lambda e, c, p: e.status is ExpertStatus.SUSPENDED),
    (AvoidanceReason.PENALISED, lambda e, c, p: any(x.active_at(c.day) for x in e.penalties)),
    (AvoidanceReason.BIDDER_EMPLOYEE, lambda e, c, p: _worked_for(e, c.bidder_usccs, c, p)),
    (AvoidanceReason.TENDERER_EMPLOYEE, lambda e, c, p: _worked_for(e, (c.tenderer_uscc,), c, p)),
    (
        AvoidanceReason.AGENCY_STAFF,
        lambda e, c, p: c.agency_uscc is not None and _worked_for(e, (c.agency_uscc,), c, p),
    ),
    (AvoidanceReason.REGULATOR_STAFF, lambda e, c, p: not e.regulator_sectors.isdisjoint(c.sectors)),
    (AvoidanceReason.CONFLICT_ORG, lambda e, c, p: not e.conflict_orgs.isdisjoint(c.parties)),
    (AvoidanceReason.CONFLICT_PERSON, lambda e, c, p: not e.conflict_persons.isdisjoint(c.persons)),
    (
        AvoidanceReason.TOO_MANY_DRAWS,
        lambda e, c, p: p.max_draws is not None and _draws_in_period(e.draw_times, c, p) >= p.max_draws,
    ),
    (
        AvoidanceReason.OUTSIDE_REGION,
        lambda e, c, p: bool(p.regions) and not any(code_contains(r, e.region_code) for r in p.regions),
    ),
)


def avoidance_reasons(expert: ExpertProfile, ctx: DrawContext, policy: AvoidancePolicy) -> list[AvoidanceReason]:
    """Every rule that keeps ``expert`` out of the project's draw (empty: eligible, specialty aside)."""
    return [reason for reason, rule in AVOIDANCE_RULES if rule(expert, ctx, policy)]


# --- the pool index ------------------------------------------------------------------------------------------


class PoolIndex:
    """The pool, indexed for fast eligibility: built once, then :meth:`eligible` per draw in milliseconds.

    Equivalent to testing :func:`avoidance_reasons` on every expert (the property tests check this), but it
    only visits the experts an index names: employees of the project's parties, declared conflicts, regulator
    staff of its sectors, and the small sets of inactive, penalised and frequently drawn experts.
    """

    def __init__(self, experts: Iterable[ExpertProfile], tree: SpecialtyTree) -> None:
        self.tree = tree
        self.experts: dict[str, ExpertProfile] = {}
        self._by_code: dict[str, set[str]] = {}
        self._by_employer: dict[str, list[tuple[str, Employment]]] = {}
        self._by_conflict_org: dict[str, set[str]] = {}
        self._by_conflict_person: dict[str, set[str]] = {}
        self._by_regulator_sector: dict[str, set[str]] = {}
        self._inactive: set[str] = set()
        self._penalised: list[ExpertProfile] = []
        self._drawn: list[tuple[int, str, list[datetime]]] = []
        self._subtree_cache: dict[str, frozenset[str]] = {}
        self._sorted_cache: dict[str, list[str]] = {}
        self._employers_cache: dict[date, dict[str, int]] = {}
        self._unavailable_cache: tuple[date, frozenset[str]] | None = None
        for e in experts:
            if e.code in self.experts:
                raise _invalid("expert.duplicate", f"专家编号 {e.code} 重复", f"expert {e.code} appears twice")
            self.experts[e.code] = e
            for code in e.specialties:
                self._by_code.setdefault(code, set()).add(e.code)
            for emp in e.employments:
                self._by_employer.setdefault(emp.employer_uscc, []).append((e.code, emp))
            for org in e.conflict_orgs:
                self._by_conflict_org.setdefault(org, set()).add(e.code)
            for person in e.conflict_persons:
                self._by_conflict_person.setdefault(person, set()).add(e.code)
            for sector in e.regulator_sectors:
                self._by_regulator_sector.setdefault(sector, set()).add(e.code)
            if e.status is not ExpertStatus.ACTIVE:
                self._inactive.add(e.code)
            if e.penalties:
                self._penalised.append(e)
            if e.draw_times:
                self._drawn.append((len(e.draw_times), e.code, sorted(e.draw_times)))
        self._position = {c: i for i, c in enumerate(self.experts)}
        self._employer_numbers = {uscc: i for i, uscc in enumerate(self._by_employer)}
        self._draw_times = {c: t for _, c, t in self._drawn}
        self._latest = sorted((t[-1], c) for _, c, t in self._drawn)
        self._kth_cache: dict[int, list[tuple[datetime, str]]] = {}

    def __len__(self) -> int:
        return len(self.experts)

    def qualified(self, specialty: str) -> frozenset[str]:
        """Experts holding ``specialty`` or a code below it."""
        cached = self._subtree_cache.get(specialty)
        if cached is None:
            out: set[str] = set()
            for code in self.tree.subtree(specialty):
                out |= self._by_code.get(code, set())
            cached = self._subtree_cache[specialty] = frozenset(out)
        return cached

    def excluded(self, ctx: DrawContext, policy: AvoidancePolicy) -> set[str]:
        """Experts that some avoidance rule keeps out of this project (regions aside: see :meth:`eligible`)."""
        out = set(self._unavailable_on(ctx.day))
        since = _since(ctx.day, policy.employment_years)
        for uscc in ctx.parties:
            for code, emp in self._by_employer.get(uscc, ()):
                if emp.within(ctx.day, since):
                    out.add(code)
            out |= self._by_conflict_org.get(uscc, set())
        for person in ctx.persons:
            out |= self._by_conflict_person.get(person, set())
        for sector in ctx.sectors:
            out |= self._by_regulator_sector.get(sector, set())
        if policy.max_draws is not None:
            out |= self._too_often(ctx.at, policy.max_draws, timedelta(days=policy.draw_period_days))
        return out

    def _unavailable_on(self, day: date) -> frozenset[str]:
        """Inactive experts and those under a penalty on ``day`` (cached for the last day asked)."""
        if self._unavailable_cache is None or self._unavailable_cache[0] != day:
            penalised = {e.code for e in self._penalised if any(p.active_at(day) for p in e.penalties)}
            self._unavailable_cache = (day, frozenset(self._inactive | penalised))
        return self._unavailable_cache[1]

    def employer_keys_on(self, day: date, codes: Iterable[str]) -> dict[str, int]:
        """Each of ``codes``' current employer on ``day`` as a number (equal numbers: same employer; an expert
        without an employer gets a number of his own). Cached per day: the draws of a day share it."""
        cache = self._employers_cache.get(day)
        if cache is None:
            self._employers_cache.clear()  # one day at a time keeps the cache bounded
            cache = self._employers_cache[day] = {}
        experts, numbers = self.experts, self._employer_numbers
        for c in codes:
            if c not in cache:
                employer = experts[c].current_employer(day)
                cache[c] = -1 - self._position[c] if employer is None else numbers[employer]
        return cache

    def _too_often(self, at: datetime, limit: int, period: timedelta) -> set[str]:
        """Experts with ``limit`` or more draws in ``(at − period, at]``.

        For an expert whose draws are all at or before ``at`` this holds exactly when his ``limit``-th latest
        draw is after ``at − period``; experts sorted by that draw answer with one bisection. The few with a
        draw after ``at`` are counted exactly.
        """
        kth = self._kth_cache.get(limit)
        if kth is None:
            kth = self._kth_cache[limit] = sorted((t[-limit], c) for n, c, t in self._drawn if n >= limit)
        start = at - period
        pos = bisect_left(kth, (start, "\uffff"))  # first entry with kth time > start
        out = {c for _, c in kth[pos:]}
        late = bisect_left(self._latest, (at, "\uffff"))
        for _, code in self._latest[late:]:  # a draw after ``at``: count the window exactly
            times = self._draw_times[code]
            n = bisect_left(times, at + _TICK) - bisect_left(times, start + _TICK)
            if n >= limit:
                out.add(code)
            else:
                out.discard(code)
        return out

    def eligible(self, specialty: str, policy: AvoidancePolicy, excluded: set[str]) -> list[str]:
        """Experts qualified for ``specialty``, not excluded (nor outside the policy's regions), in code order."""
        ordered = self._sorted_cache.get(specialty)
        if ordered is None:
            ordered = self._sorted_cache[specialty] = sorted(self.qualified(specialty))
        out = [c for c in ordered if c not in excluded]
        if policy.regions:
            out = [c for c in out if any(code_contains(r, self.experts[c].region_code) for r in policy.regions)]
        return out


# --- the draw ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """Draw ``count`` experts of ``specialty`` plus ``reserves`` 候补."""

    specialty: str
    count: int
    reserves: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 99 or not 0 <= self.reserves <= 99:
            raise _invalid(
                "expert.bad_request",
                "每个专业须抽取 1–99 名专家、0–99 名候补",
                "each specialty needs 1..99 experts and 0..99 reserves",
            )


@dataclass(frozen=True, slots=True)
class DrawPlan:
    """The fixed input of a draw: canonical candidates, each one's slots (bit mask) and employer group."""

    slots: tuple[PanelSlot, ...]
    candidates: tuple[str, ...]
    slot_masks: tuple[int, ...]
    groups: tuple[int, ...]
    eligible_counts: tuple[int, ...]
    excluded_count: int = 0


def plan_draw(index: PoolIndex, requests: Sequence[SlotRequest], ctx: DrawContext, policy: AvoidancePolicy) -> DrawPlan:
    """Apply every avoidance rule and fix the candidate list (before the seed can be known).

    Raises ``expert.not_enough_eligible`` when a specialty has fewer eligible experts than its panel count.
    """
    if not requests:
        raise _invalid("expert.bad_request", "至少须抽取一个专业", "at least one specialty must be requested")
    names = [r.specialty for r in requests]
    if len(set(names)) != len(names):
        raise _invalid("expert.bad_request", "同一专业不能重复申请", "a specialty is requested twice")
    excluded = index.excluded(ctx, policy)
    masks: dict[str, int] = {}
    counts: list[int] = []
    for s, req in enumerate(requests):
        index.tree.get(req.specialty)
        ids = index.eligible(req.specialty, policy, excluded)
        if len(ids) < req.count:
            raise Conflict(
                "expert.not_enough_eligible",
                f"专业 {req.specialty} 回避后仅有 {len(ids)} 名合格专家，少于所需 {req.count} 名",
                f"specialty {req.specialty} has {len(ids)} eligible experts after avoidance, {req.count} needed",
                details={"specialty": req.specialty, "eligible": len(ids), "needed": req.count},
            )
        counts.append(len(ids))
        bit = 1 << s
        if not masks:
            masks = dict.fromkeys(ids, bit)
            continue
        get = masks.get
        for c in ids:
            masks[c] = get(c, 0) | bit
    # Python orders str by code point, which is exactly UTF-8 byte order: this is canonical_candidates().
    # The keys are a few sorted runs, which Timsort merges in linear time.
    candidates = sorted(masks)
    employer_of = index.employer_keys_on(ctx.day, candidates)
    # Same current employer → same group (the draw never picks two of a group); no employer → a group alone.
    # Groups are numbered by first appearance in candidate order, so the numbering is canonical.
    keys = list(map(employer_of.__getitem__, candidates))
    number = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    groups = list(map(number.__getitem__, keys))
    return DrawPlan(
        slots=tuple(PanelSlot(r.specialty, r.count, r.reserves) for r in requests),
        candidates=tuple(candidates),
        slot_masks=tuple(map(masks.__getitem__, candidates)),
        groups=tuple(groups),
        eligible_counts=tuple(counts),
        excluded_count=len(excluded),
    )


def run_draw(
    plan: DrawPlan,
    subject: Mapping[str, str],
    *,
    suite: CryptoSuite | str,
    commitments: Sequence[Commitment],
    seed_inputs: Sequence[SeedInput],
    closes_at: str | None = None,
) -> DrawRecord:
    """Run the verifiable draw of ``plan`` (``purpose="expert"``); the record verifies with ``sunbid draw verify``."""
    return panel_record(
        "expert",
        subject,
        suite=suite,
        commitments=commitments,
        seed_inputs=seed_inputs,
        candidates=plan.candidates,
        slots=plan.slots,
        slot_masks=plan.slot_masks,
        groups=plan.groups,
        closes_at=closes_at,
    )


@dataclass(frozen=True, slots=True)
class PanelSeat:
    """One drawn expert: his slot (specialty), rank in it (0-based) and whether he is a reserve 候补."""

    expert_code: str
    slot: int
    specialty: str
    rank: int
    reserve: bool


@dataclass(frozen=True, slots=True)
class Panel:
    """The outcome of a draw, seat by seat, and the places left empty (too few eligible experts)."""

    seats: tuple[PanelSeat, ...]
    short: Mapping[str, int] = field(default_factory=dict)

    def members(self) -> list[PanelSeat]:
        return [s for s in self.seats if not s.reserve]

    def reserves(self, slot: int) -> list[PanelSeat]:
        return [s for s in self.seats if s.reserve and s.slot == slot]


def panel_from_record(record: DrawRecord) -> Panel:
    """The seats of a panel draw record, in draw order; ``short`` counts unfilled places per specialty."""
    sel = record.selection
    if sel is None:
        raise _invalid("expert.not_a_panel_draw", "该抽取记录不是专家抽取", "the record is not a panel draw")
    ranks = [0] * len(sel.slots)
    seats: list[PanelSeat] = []
    for cand, slot in sel.picks:
        spec = sel.slots[slot]
        seats.append(PanelSeat(record.candidates[cand], slot, spec.name, ranks[slot], ranks[slot] >= spec.count))
        ranks[slot] += 1
    short = {s.name: s.size - ranks[i] for i, s in enumerate(sel.slots) if ranks[i] < s.size}
    return Panel(tuple(seats), short)
