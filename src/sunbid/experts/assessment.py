"""Expert assessment 专家考评 (SPEC E-8, RULES §5 "Assessment"): pure rules, configurable as data.

After each evaluation the agency, the tenderer's representative, the centre and the regulator rate each expert
of the panel on four dimensions — punctuality 守时, discipline 纪律, competence 业务能力 and objectivity 客观公正
— by recording the offences of a catalogue (:data:`DEFAULT_ITEMS`), each worth fixed points. The points come
off a yearly account (:attr:`AssessmentScheme.annual_points`, 12 by default, like a driving licence; the year
is the local calendar year of the evaluation):

* **One incident counts once.** Two raters reporting the same offence of the same evaluation count it once,
  with the larger number of occurrences (:func:`effective_points`); an offence's occurrences are capped by its
  ``max_count``.
* **Sanctions by threshold** (:func:`decide_sanction`): crossing a suspension step (e.g. 6 points → 3 months,
  9 points → 6 months) suspends the expert 暂停抽取 for that period; reaching ``removal_points`` removes him
  清退出库; so does an offence marked ``removal`` (leaking the list, private contact with a bidder, taking
  gifts), and so does a suspension when he was already suspended ``max_suspensions`` times within
  ``suspension_window_months`` (Fujian's EXPERT_CREDIT_RECORD keeps basis, restriction and dates).
* **Appeals** 申诉: within ``appeal_days`` of the record; an appeal that succeeds takes the points back, and a
  suspension whose threshold is no longer reached is lifted (:func:`should_lift`). Removal is final.
* **Grades** per dimension for one evaluation (:func:`grades`): no points 称职, up to ``fair_max`` 基本称职,
  more 不称职.

Which offences apply depends on how the expert answered the call: "refused without valid reason" concerns an
expert who refused or did not answer; every other offence concerns an expert who confirmed (sat on the panel).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

from sunbid.core.errors import Conflict, ValidationFailed

__all__ = [
    "DEFAULT_ITEMS",
    "DEFAULT_SCHEME",
    "AssessmentScheme",
    "DeductionItem",
    "Dimension",
    "Grade",
    "Incident",
    "Sanction",
    "SanctionKind",
    "SuspensionStep",
    "add_months",
    "appeal_deadline",
    "check_incident",
    "decide_sanction",
    "effective_points",
    "grades",
    "scheme_from_mapping",
    "should_lift",
]

#: Draw outcomes (``ExpertDrawHistory.outcome``) of an expert who sat on the panel, and of one who did not come.
SERVED: Final = frozenset({"confirmed"})
DECLINED: Final = frozenset({"refused", "timed_out"})


class Dimension(StrEnum):
    """The four dimensions an expert is rated on."""

    PUNCTUALITY = "punctuality"
    DISCIPLINE = "discipline"
    COMPETENCE = "competence"
    OBJECTIVITY = "objectivity"

    @property
    def label_zh(self) -> str:
        return {"punctuality": "守时", "discipline": "纪律", "competence": "业务能力", "objectivity": "客观公正"}[
            self.value
        ]


class Grade(StrEnum):
    """The grade of one dimension in one evaluation."""

    GOOD = "good"  # 称职
    FAIR = "fair"  # 基本称职
    POOR = "poor"  # 不称职

    @property
    def label_zh(self) -> str:
        return {"good": "称职", "fair": "基本称职", "poor": "不称职"}[self.value]


@dataclass(frozen=True, slots=True)
class DeductionItem:
    """An offence of the catalogue: its dimension, points per occurrence and to whom it applies."""

    code: str
    dimension: Dimension
    name_zh: str
    name_en: str
    points: int
    max_count: int = 1
    applies_to: frozenset[str] = SERVED
    removal: bool = False  # removes the expert at once (清退出库), whatever his points
    needs_evidence: bool = False  # e.g. the intervention record or the review decision

    def __post_init__(self) -> None:
        if not 0 < self.points <= 100 or not 1 <= self.max_count <= 20 or not self.applies_to:
            raise _bad(f"考评项 {self.code} 的分值或次数不正确", f"item {self.code}: bad points or count")


def _item(code: str, dim: Dimension, zh: str, en: str, points: int, **kw: Any) -> tuple[str, DeductionItem]:
    return code, DeductionItem(code, dim, zh, en, points, **kw)


_P, _D, _C, _O = Dimension.PUNCTUALITY, Dimension.DISCIPLINE, Dimension.COMPETENCE, Dimension.OBJECTIVITY

#: The default catalogue (a centre replaces or extends it in its settings).
DEFAULT_ITEMS: Final[Mapping[str, DeductionItem]] = dict(
    [
        _item("late_arrival", _P, "迟到（30 分钟以内）", "late arrival (up to 30 minutes)", 1),
        _item("late_arrival_serious", _P, "迟到超过 30 分钟", "late by more than 30 minutes", 2),
        _item("left_early", _P, "早退或擅自离开评标现场", "left early or left the venue without leave", 2),
        _item("absent_after_confirming", _P, "确认参加后无故缺席", "absent after confirming", 4),
        _item(
            "refused_without_reason",
            _P,
            "无正当理由拒绝参加或不答复抽取通知",
            "refused, or did not answer, without valid reason",
            1,
            applies_to=DECLINED,
        ),
        _item("phone_not_surrendered", _D, "未按规定封存通讯工具", "did not surrender communication devices", 2),
        _item("refused_to_sign", _D, "拒绝在评标报告上签字且不书面说明理由", "refused to sign the report silently", 3),
        _item("improper_remarks", _D, "发表倾向性或诱导性言论", "made leading or biased remarks", 3),
        _item(
            "disclosed_information",
            _D,
            "泄露评标情况或专家名单",
            "disclosed the evaluation or the panel",
            12,
            removal=True,
        ),
        _item(
            "private_contact",
            _D,
            "私下接触投标人或收受财物",
            "private contact with a bidder, or gifts",
            12,
            removal=True,
        ),
        _item("scoring_error", _C, "客观分计算或汇总错误", "error in computing objective scores", 1, max_count=3),
        _item(
            "scores_reversed_on_review",
            _C,
            "评审结论经复核被纠正",
            "scores reversed on review",
            3,
            needs_evidence=True,
        ),
        _item("criteria_not_applied", _C, "未按招标文件规定的标准和方法评审", "did not apply the tender's criteria", 3),
        _item(
            "deviation_unjustified",
            _O,
            "评分偏离被干预且理由不成立",
            "score deviation intervention without valid reason",
            2,
            max_count=3,
            needs_evidence=True,
        ),
        _item("biased_scoring", _O, "明显倾向或排斥特定投标人", "clearly favoured or excluded a bidder", 4),
        _item("failed_to_recuse", _O, "应当回避而未回避", "did not recuse himself when required", 6),
    ]
)


@dataclass(frozen=True, slots=True)
class SuspensionStep:
    """Reaching ``points`` deducted in a year suspends the expert for ``months``."""

    points: int
    months: int


@dataclass(frozen=True, slots=True)
class AssessmentScheme:
    """The whole configuration of assessment: catalogue, yearly account, thresholds, appeals, grades."""

    items: Mapping[str, DeductionItem] = field(default_factory=lambda: dict(DEFAULT_ITEMS))
    annual_points: int = 12
    suspension_steps: tuple[SuspensionStep, ...] = (SuspensionStep(6, 3), SuspensionStep(9, 6))
    removal_points: int = 12
    max_suspensions: int = 2
    suspension_window_months: int = 24
    appeal_days: int = 15
    fair_max: int = 2

    def __post_init__(self) -> None:
        steps = [s.points for s in self.suspension_steps]
        if steps != sorted(set(steps)) or any(
            p <= 0 or s.months <= 0 for p, s in zip(steps, self.suspension_steps, strict=False)
        ):
            raise _bad("暂停档次须按分值递增且为正", "suspension steps must be positive and increasing")
        if not 0 < self.removal_points <= self.annual_points or (steps and steps[-1] >= self.removal_points):
            raise _bad("清退分值须大于各暂停档次且不超过年度分值", "removal points must exceed every step")
        if self.max_suspensions < 1 or self.appeal_days < 1 or self.fair_max < 0:
            raise _bad("暂停次数、申诉期限须为正", "max_suspensions and appeal_days must be positive")

    def item(self, code: str) -> DeductionItem:
        """The catalogue item, or ``expert_assess.unknown_item``."""
        found = self.items.get(code)
        if found is None:
            raise ValidationFailed(
                "expert_assess.unknown_item", f"未知考评扣分项 {code}", f"unknown assessment item {code}"
            )
        return found


DEFAULT_SCHEME: Final = AssessmentScheme()


def _bad(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed("expert_assess.bad_scheme", f"考评办法配置有误：{zh}", f"bad assessment scheme: {en}")


def scheme_from_mapping(values: Mapping[str, Any]) -> AssessmentScheme:
    """A scheme from JSON data (a centre's ``settings["expert_assessment"]``); unknown keys are refused.

    ``items`` (optional) is a list of objects with the fields of :class:`DeductionItem` (``applies_to`` a list of
    draw outcomes); ``suspension_steps`` a list of ``{"points", "months"}``.
    """
    allowed = {
        "items",
        "annual_points",
        "suspension_steps",
        "removal_points",
        "max_suspensions",
        "suspension_window_months",
        "appeal_days",
        "fair_max",
    }
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise _bad(f"未知项 {', '.join(unknown)}", f"unknown keys {unknown}")
    kw: dict[str, Any] = {}
    try:
        for k in allowed - {"items", "suspension_steps"}:
            if k in values:
                v = values[k]
                if isinstance(v, bool) or not isinstance(v, int):
                    raise _bad(f"{k} 须为整数", f"{k} must be an integer")
                kw[k] = v
        if "suspension_steps" in values:
            kw["suspension_steps"] = tuple(
                SuspensionStep(int(s["points"]), int(s["months"])) for s in values["suspension_steps"]
            )
        if "items" in values:
            items: dict[str, DeductionItem] = {}
            for raw in values["items"]:
                it = DeductionItem(
                    code=str(raw["code"]),
                    dimension=Dimension(raw["dimension"]),
                    name_zh=str(raw["name_zh"]),
                    name_en=str(raw["name_en"]),
                    points=int(raw["points"]),
                    max_count=int(raw.get("max_count", 1)),
                    applies_to=frozenset(raw.get("applies_to", SERVED)),
                    removal=bool(raw.get("removal", False)),
                    needs_evidence=bool(raw.get("needs_evidence", False)),
                )
                if it.code in items:
                    raise _bad(f"考评项 {it.code} 重复", f"item {it.code} repeated")
                items[it.code] = it
            kw["items"] = items
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad(f"格式错误（{exc}）", f"malformed ({exc})") from None
    return AssessmentScheme(**kw)


@dataclass(frozen=True, slots=True)
class Incident:
    """One recorded offence: of an evaluation (``evaluation``: the draw id), by a rater, ``count`` times."""

    evaluation: int
    item: str
    count: int = 1
    overturned: bool = False


def check_incident(scheme: AssessmentScheme, item_code: str, count: int, outcome: str, evidence: bool) -> int:
    """Validate one offence for an expert whose draw outcome was ``outcome``; returns its points."""
    item = scheme.item(item_code)
    if not 1 <= count <= item.max_count:
        raise ValidationFailed(
            "expert_assess.bad_count",
            f"“{item.name_zh}”每次评标最多记 {item.max_count} 次",
            f"{item.code}: at most {item.max_count} per evaluation",
        )
    if outcome not in item.applies_to:
        raise Conflict(
            "expert_assess.not_applicable",
            f"“{item.name_zh}”不适用于抽取结果为 {outcome} 的专家",
            f"{item.code} does not apply to an expert whose draw outcome is {outcome}",
        )
    if item.needs_evidence and not evidence:
        raise ValidationFailed(
            "expert_assess.evidence_required",
            f"“{item.name_zh}”须附依据（如干预记录或复核决定）",
            f"{item.code} needs evidence (the intervention record or the review decision)",
        )
    return item.points * count


def effective_points(scheme: AssessmentScheme, incidents: Iterable[Incident]) -> int:
    """Points deducted by ``incidents``: overturned ones ignored, one offence of one evaluation counted once
    (the largest count reported), never more than the yearly account."""
    counts: dict[tuple[int, str], int] = {}
    for inc in incidents:
        if inc.overturned:
            continue
        key = (inc.evaluation, inc.item)
        counts[key] = max(counts.get(key, 0), min(inc.count, scheme.item(inc.item).max_count))
    total = sum(scheme.item(item).points * n for (_, item), n in counts.items())
    return min(total, scheme.annual_points)


def grades(scheme: AssessmentScheme, incidents: Iterable[Incident]) -> dict[Dimension, Grade]:
    """Grade per dimension for one evaluation's incidents (all raters together, deduplicated)."""
    per: dict[Dimension, int] = dict.fromkeys(Dimension, 0)
    seen: dict[str, int] = {}
    for inc in incidents:
        if not inc.overturned:
            seen[inc.item] = max(seen.get(inc.item, 0), inc.count)
    for code, n in seen.items():
        item = scheme.item(code)
        per[item.dimension] += item.points * min(n, item.max_count)
    return {d: Grade.GOOD if p == 0 else Grade.FAIR if p <= scheme.fair_max else Grade.POOR for d, p in per.items()}


class SanctionKind(StrEnum):
    SUSPEND = "suspend"  # 暂停抽取
    REMOVE = "remove"  # 清退出库


@dataclass(frozen=True, slots=True)
class Sanction:
    """What the points call for: a suspension of ``months`` (from ``start``) or removal, and why."""

    kind: SanctionKind
    trigger_points: int
    start: date
    end: date | None
    basis_zh: str
    basis_en: str


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day)."""
    y, m = divmod(day.month - 1 + months, 12)
    year, month = day.year + y, m + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def decide_sanction(
    scheme: AssessmentScheme,
    *,
    points_before: int,
    points_after: int,
    removal_offence: str | None,
    suspensions_in_window: int,
    today: date,
) -> Sanction | None:
    """The sanction that recording new points calls for, if any (``None`` when no threshold is crossed).

    ``points_before``/``points_after``: the year's effective points without and with the new record;
    ``removal_offence``: the code of a recorded offence that removes at once; ``suspensions_in_window``: the
    expert's earlier suspensions that started within ``suspension_window_months`` before ``today``.
    """
    if removal_offence is not None:
        item = scheme.item(removal_offence)
        return Sanction(
            SanctionKind.REMOVE,
            points_after,
            today,
            None,
            f"{item.name_zh}，清退出库",
            f"{item.name_en}: removed from the pool",
        )
    if points_after >= scheme.removal_points > points_before:
        return Sanction(
            SanctionKind.REMOVE,
            points_after,
            today,
            None,
            f"年度累计扣 {points_after} 分，达到清退分值 {scheme.removal_points} 分，清退出库",
            f"{points_after} points this year reach the removal threshold of {scheme.removal_points}",
        )
    crossed = [s for s in scheme.suspension_steps if points_before < s.points <= points_after]
    if not crossed:
        return None
    step = crossed[-1]
    if suspensions_in_window >= scheme.max_suspensions:
        return Sanction(
            SanctionKind.REMOVE,
            points_after,
            today,
            None,
            f"{scheme.suspension_window_months} 个月内第 {suspensions_in_window + 1} 次达到暂停分值，清退出库",
            f"suspension number {suspensions_in_window + 1} within {scheme.suspension_window_months} months",
        )
    return Sanction(
        SanctionKind.SUSPEND,
        step.points,
        today,
        add_months(today, step.months) - timedelta(days=1),
        f"年度累计扣 {points_after} 分，达到 {step.points} 分，暂停抽取 {step.months} 个月",
        f"{points_after} points this year reach {step.points}: suspended for {step.months} months",
    )


def should_lift(trigger_points: int, points_now: int) -> bool:
    """Whether a suspension triggered at ``trigger_points`` no longer holds after an appeal (points fell below)."""
    return points_now < trigger_points


def appeal_deadline(scheme: AssessmentScheme, recorded_on: date) -> date:
    """The last day an appeal against a record of ``recorded_on`` may be filed."""
    return recorded_on + timedelta(days=scheme.appeal_days)
