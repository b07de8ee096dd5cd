"""Legal time rules as data (SPEC T-3): one table, with sources, that procedures, pages and reminders consult.

Every limit of RULES.md §1 is one :class:`TimeRule`. National rules **[N]** are fixed; national rules whose
text was not checked **[N*]**, local rules **[L]** and platform practice **[P]** can be changed by a centre
with :meth:`RuleBook.with_local_overrides`. Kinds:

- ``min_between``: event B is at least ``amount`` days after event A (documents issued → bid deadline);
- ``max_within``: event B happens within ``amount`` days of event A (award notice → contract);
- ``duration``: a period that starts at A lasts at least ``amount`` days, until B (documents on sale);
- ``count`` / ``max_count``: at least / at most ``amount`` of something (3 bidders, 3 candidates).

Counting follows RULES.md: the first day is not counted, and where ``shift_if_holiday`` is set (87号令 §85,
government procurement) a period in calendar days that ends on a rest day ends on the next working day.
Events are UTC datetimes; days are counted on their Asia/Shanghai calendar dates.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final, Literal

from sunbid.core.calendar import (
    MAX_DAYS,
    DayUnit,
    WorkingCalendar,
    end_of_local_day,
    local_date,
    start_of_local_day,
)
from sunbid.core.clock import SHANGHAI, ensure_utc
from sunbid.core.errors import NotFound, ValidationFailed

RuleTag = Literal["N", "N*", "L", "P"]
RuleKind = Literal["min_between", "max_within", "duration", "count", "max_count"]
RuleUnit = Literal["calendar", "working", "count"]

_TIME_KINDS: Final = frozenset({"min_between", "max_within", "duration"})
_COUNT_KINDS: Final = frozenset({"count", "max_count"})

#: Procedure codes (SPEC T-1) → (Chinese, English) names.
PROCEDURE_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "eng_open": ("工程建设公开招标", "engineering open tendering"),
    "eng_invited": ("工程建设邀请招标", "engineering invited tendering"),
    "gp_open": ("政府采购公开招标", "government procurement open tendering"),
    "gp_negotiation": ("竞争性谈判", "competitive negotiation"),
    "gp_consultation": ("竞争性磋商", "competitive consultation"),
    "gp_inquiry": ("询价", "inquiry"),
    "gp_single_source": ("单一来源", "single source"),
    "small": ("小额零星采购", "small and scattered purchases"),
}
PROCEDURES: Final = frozenset(PROCEDURE_LABELS)

_ENG: Final = frozenset({"eng_open", "eng_invited"})
_ENG_OPEN: Final = frozenset({"eng_open"})
_GP_OPEN: Final = frozenset({"gp_open"})
_GP_ALL: Final = frozenset({"gp_open", "gp_negotiation", "gp_consultation", "gp_inquiry", "gp_single_source"})
_GP_DEPOSIT: Final = frozenset({"gp_open", "gp_negotiation", "gp_inquiry"})  # 实施条例 §33


@dataclass(frozen=True, slots=True)
class TimeRule:
    """One legal limit: how many days (or how many of something), between which events, and its source.

    ``start_zh``/``start_en`` name event A and ``end_zh``/``end_en`` event B, as used in messages.
    ``default_amount`` is the table's value when a centre has changed ``amount``.
    """

    id: str
    title_zh: str
    title_en: str
    source: str
    tag: RuleTag
    amount: int
    unit: RuleUnit
    kind: RuleKind
    procedures: frozenset[str]
    sectors: frozenset[str]
    shift_if_holiday: bool
    configurable: bool
    start_zh: str = ""
    start_en: str = ""
    end_zh: str = ""
    end_en: str = ""
    note: str = ""
    default_amount: int | None = None

    def __post_init__(self) -> None:
        if self.configurable != (self.tag != "N"):
            raise ValueError(f"{self.id}: only [N] rules are fixed")
        if (self.kind in _COUNT_KINDS) != (self.unit == "count"):
            raise ValueError(f"{self.id}: unit 'count' goes with the count kinds only")
        if not self.procedures or not self.procedures <= PROCEDURES:
            raise ValueError(f"{self.id}: bad procedures {sorted(self.procedures)}")
        if isinstance(self.amount, bool) or not 0 <= self.amount <= MAX_DAYS:
            raise ValueError(f"{self.id}: bad amount {self.amount!r}")

    @property
    def is_time_limit(self) -> bool:
        """Whether the rule counts days (as opposed to counting bidders, members, ...)."""
        return self.kind in _TIME_KINDS

    @property
    def unit_zh(self) -> str:
        """日 or 个工作日 (empty for counts)."""
        return {"calendar": "日", "working": "个工作日", "count": ""}[self.unit]

    @property
    def unit_en(self) -> str:
        """Days or working days (empty for counts)."""
        return {"calendar": "days", "working": "working days", "count": ""}[self.unit]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (sets as sorted lists)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data.update(procedures=sorted(self.procedures), sectors=sorted(self.sectors))
        return data


def _rule(
    id: str,
    tag: RuleTag,
    amount: int,
    unit: RuleUnit,
    kind: RuleKind,
    procedures: frozenset[str],
    source: str,
    title_zh: str,
    title_en: str,
    start: tuple[str, str] = ("", ""),
    end: tuple[str, str] = ("", ""),
    *,
    shift: bool | None = None,
    note: str = "",
) -> TimeRule:
    """A table row. Sectors follow the procedures; by default government procurement periods in calendar
    days move off rest days (87号令 §85) and engineering ones do not (RULES.md cites no such article)."""
    gp = any(p.startswith("gp_") for p in procedures)
    sectors = {"procurement"} if gp else set()
    sectors |= {"engineering"} if procedures & _ENG else set()
    return TimeRule(
        id=id,
        title_zh=title_zh,
        title_en=title_en,
        source=source,
        tag=tag,
        amount=amount,
        unit=unit,
        kind=kind,
        procedures=procedures,
        sectors=frozenset(sectors),
        shift_if_holiday=(gp and unit == "calendar") if shift is None else shift,
        configurable=tag != "N",
        start_zh=start[0],
        start_en=start[1],
        end_zh=end[0],
        end_en=end[1],
        note=note,
    )


_T: Final = "招标投标法"
_C: Final = "招标投标法实施条例"
_GPL: Final = "政府采购法"
_GPC: Final = "政府采购法实施条例"
_O87: Final = "财政部87号令"
_O74: Final = "财政部74号令"
_DEADLINE: Final = ("投标截止时间", "the bid deadline")
_PREQ_DEADLINE: Final = ("资格预审申请文件提交截止时间", "the pre-qualification application deadline")
_OBJECTION_IN: Final = ("收到异议之日", "the objection was received")
_REPLY: Final = ("招标人作出答复", "the tenderer's reply")
_AWARD_NOTICE: Final = ("中标通知书发出之日", "the award notice was issued")

# fmt: off
_DEFAULT_RULES: Final = (
    # --- engineering and other mandatory tenders (招标投标法, 实施条例) ----------------------------------
    _rule("eng.doc_sale_period", "N", 5, "calendar", "duration", _ENG, f"{_C} 第16条",
          "招标文件或资格预审文件发售期", "sale period of tender or pre-qualification documents",
          ("开始发售之日", "the sale started"), ("停止发售时间", "the end of the sale")),
    _rule("eng.preq_application_after_sale", "N", 5, "calendar", "min_between", _ENG_OPEN, f"{_C} 第17条",
          "资格预审申请文件提交期限", "pre-qualification application period",
          ("资格预审文件停止发售之日", "the pre-qualification documents stopped selling"), _PREQ_DEADLINE),
    _rule("eng.doc_issue_to_bid_deadline", "N", 20, "calendar", "min_between", _ENG, f"{_T} 第24条",
          "招标文件发出至投标截止", "tender documents issued to bid deadline",
          ("招标文件发出之日", "the tender documents were issued"), _DEADLINE),
    _rule("eng.clarification_before_deadline", "N", 15, "calendar", "min_between", _ENG,
          f"{_T} 第23条、{_C} 第21条", "澄清或修改距投标截止", "clarification before the bid deadline",
          ("澄清或修改发出之日", "the clarification or amendment was issued"), _DEADLINE,
          note="不足15日的，顺延投标截止时间"),
    _rule("eng.clarification_before_preq_deadline", "N", 3, "calendar", "min_between", _ENG_OPEN,
          f"{_C} 第21条", "澄清或修改距资格预审申请截止", "clarification before the pre-qual. deadline",
          ("澄清或修改发出之日", "the clarification or amendment was issued"), _PREQ_DEADLINE,
          note="不足3日的，顺延提交资格预审申请文件的截止时间"),
    _rule("eng.objection_docs_before_deadline", "N", 10, "calendar", "min_between", _ENG, f"{_C} 第22条",
          "对招标文件提出异议的期限", "objection to the tender documents",
          ("提出异议之日", "the objection was raised"), _DEADLINE),
    _rule("eng.objection_preq_before_deadline", "N", 2, "calendar", "min_between", _ENG_OPEN, f"{_C} 第22条",
          "对资格预审文件提出异议的期限", "objection to the pre-qualification documents",
          ("提出异议之日", "the objection was raised"), _PREQ_DEADLINE),
    _rule("eng.objection_reply", "N", 3, "calendar", "max_within", _ENG, f"{_C} 第22条",
          "招标人答复异议", "tenderer's reply to an objection", _OBJECTION_IN, _REPLY,
          note="作出答复前，应当暂停招标投标活动"),
    _rule("eng.min_bidders", "N", 3, "count", "count", _ENG, f"{_C} 第44条",
          "投标人数量", "the number of bidders", note="投标人少于3个的，不得开标；招标人应当重新招标"),
    _rule("eng.max_candidates", "N", 3, "count", "max_count", _ENG, f"{_C} 第53条",
          "中标候选人数量", "the number of ranked candidates"),
    _rule("eng.publicity_start", "N", 3, "calendar", "max_within", _ENG, f"{_C} 第54条",
          "中标候选人公示发布", "publication of the candidates",
          ("收到评标报告之日", "the evaluation report was received"), ("中标候选人公示", "the publicity")),
    _rule("eng.publicity_duration", "N", 3, "calendar", "duration", _ENG, f"{_C} 第54条",
          "中标候选人公示期", "candidate publicity period",
          ("公示开始之日", "the publicity started"), ("公示结束时间", "the end of the publicity")),
    _rule("eng.publicity_objection_reply", "N", 3, "calendar", "max_within", _ENG, f"{_C} 第54条",
          "招标人答复对评标结果的异议", "reply to an objection to the result", _OBJECTION_IN, _REPLY,
          note="异议应在公示期间提出；作出答复前，应当暂停招标投标活动"),
    _rule("eng.report_to_regulator", "N", 15, "calendar", "max_within", _ENG, f"{_T} 第47条",
          "向行政监督部门提交招标投标情况书面报告", "written report to the regulator",
          ("确定中标人之日", "the winner was chosen"), ("提交书面报告", "the written report")),
    _rule("eng.contract_after_award_notice", "N", 30, "calendar", "max_within", _ENG, f"{_T} 第46条",
          "订立书面合同", "signing the contract", _AWARD_NOTICE, ("书面合同订立", "the contract signing"),
          note="12号令 第49条写作30个工作日，以法律为准"),
    _rule("eng.deposit_refund_after_withdrawal", "N", 5, "calendar", "max_within", _ENG, f"{_C} 第35条",
          "撤回投标后退还投标保证金", "deposit refund after a withdrawal",
          ("收到书面撤回通知之日", "the written withdrawal was received"), ("退还投标保证金", "the refund")),
    _rule("eng.deposit_refund_after_contract", "N", 5, "calendar", "max_within", _ENG, f"{_C} 第57条",
          "签订合同后退还投标保证金及利息", "deposit refund with interest after the contract",
          ("书面合同签订之日", "the contract was signed"), ("退还投标保证金", "the refund"),
          note="向中标人和未中标的投标人退还，并支付银行同期存款利息"),
    _rule("eng.complaint_filing", "N", 10, "calendar", "max_within", _ENG, f"{_C} 第60条",
          "向行政监督部门投诉", "complaint to the regulator",
          ("知道或者应当知道之日", "the complainant knew or should have known"),
          ("提出投诉", "the complaint"),
          note="就第22、44、54条事项投诉的，应先提出异议，异议答复期间不计算在内"),
    _rule("eng.complaint_acceptance", "N", 3, "working", "max_within", _ENG, f"{_C} 第61条",
          "决定是否受理投诉", "deciding whether to accept a complaint",
          ("收到投诉之日", "the complaint was received"), ("受理决定", "the acceptance decision")),
    _rule("eng.complaint_decision", "N", 30, "working", "max_within", _ENG, f"{_C} 第61条",
          "作出投诉处理决定", "decision on a complaint",
          ("受理投诉之日", "the complaint was accepted"), ("书面处理决定", "the written decision"),
          note="检验、检测、鉴定、专家评审所需时间不计算在内"),
    _rule("eng.evaluation_before_validity_expiry", "N", 30, "working", "min_between", _ENG,
          "评标委员会和评标方法暂行规定（七部委12号令） 第40条", "完成评标与定标", "evaluation and award",
          ("完成评标与定标之日", "evaluation and award were completed"),
          ("投标有效期届满", "the bid validity expiry")),
    _rule("eng.contract_reminder", "L", 25, "working", "max_within", _ENG, "SPEC T-4（种子 000 的实践）",
          "合同未网上签订提醒", "reminder: contract not signed online", _AWARD_NOTICE,
          ("合同网上签订", "the contract signing online")),
    _rule("eng.committee_min_members", "N", 5, "count", "count", _ENG, f"{_T} 第37条",
          "评标委员会成员人数", "evaluation committee members", note="5人以上单数；技术、经济专家不少于2/3"),
    _rule("local.tender_plan_before_announcement", "L", 30, "calendar", "min_between", _ENG,
          "地方规定（池州、广州）", "招标计划提前发布", "tender plan ahead of the announcement",
          ("招标计划发布之日", "the tender plan was published"), ("招标公告发布", "the announcement"),
          note="无全国性规定"),
    # --- government procurement (政府采购法, 实施条例, 87号令) --------------------------------------------
    _rule("gp.intention_before_procurement", "N*", 30, "calendar", "min_between", _GP_ALL, "财库〔2020〕10号",
          "采购意向公开", "procurement intention published ahead",
          ("采购意向公开之日", "the procurement intention was published"),
          ("采购活动开始", "the start of the procurement")),
    _rule("gp.announcement_duration", "N", 5, "working", "duration", _GP_OPEN, f"{_O87} 第16条",
          "招标公告期限", "tender announcement period",
          ("招标公告发布之日", "the announcement was published"), ("公告期结束", "the end of the period")),
    _rule("gp.doc_availability", "N", 5, "working", "duration", _GP_OPEN, f"{_O87} 第18条、{_GPC} 第31条",
          "招标文件提供期限", "tender documents available",
          ("开始发出招标文件之日", "the documents were first issued"),
          ("停止提供招标文件时间", "the end of availability")),
    _rule("gp.doc_issue_to_bid_deadline", "N", 20, "calendar", "min_between", _GP_OPEN, f"{_GPL} 第35条",
          "招标文件发出至投标截止", "tender documents issued to bid deadline",
          ("招标文件开始发出之日", "the tender documents were first issued"), _DEADLINE),
    _rule("gp.clarification_before_deadline", "N", 15, "calendar", "min_between", _GP_OPEN,
          f"{_O87} 第27条、{_GPC} 第31条", "澄清或修改距投标截止", "clarification before the bid deadline",
          ("澄清或修改发出之日", "the clarification or amendment was issued"), _DEADLINE,
          note="可能影响投标文件编制的，不足15日应当顺延投标截止时间"),
    _rule("gp.report_to_purchaser", "N", 2, "working", "max_within", _GP_ALL, f"{_O87} 第68条、{_GPC} 第43条",
          "评审报告送交采购人", "evaluation report to the purchaser",
          ("评审结束之日", "the evaluation ended"), ("送交评审报告", "the delivery of the report")),
    _rule("gp.purchaser_confirm", "N", 5, "working", "max_within", _GP_ALL, f"{_O87} 第68条、{_GPC} 第43条",
          "采购人确定中标人", "purchaser confirms the winner",
          ("收到评审报告之日", "the report was received"), ("确定中标或成交供应商", "the confirmation"),
          note="逾期未确定且无正当理由的，视为确定排名第一的候选人"),
    _rule("gp.result_announcement", "N", 2, "working", "max_within", _GP_ALL, f"{_O87} 第69条、{_GPC} 第43条",
          "发布中标（成交）结果公告", "result announcement",
          ("确定中标或成交供应商之日", "the winner was confirmed"), ("结果公告", "the announcement"),
          note="同时发出中标（成交）通知书，公告评审专家名单"),
    _rule("gp.result_announcement_duration", "N", 1, "working", "duration", _GP_OPEN, f"{_O87} 第69条",
          "中标公告期限", "result announcement period",
          ("结果公告发布之日", "the announcement was published"), ("公告期结束", "the end of the period")),
    _rule("gp.contract_after_award", "N", 30, "calendar", "max_within", _GP_ALL, f"{_O87} 第71条",
          "签订政府采购合同", "signing the procurement contract", _AWARD_NOTICE,
          ("合同签订", "the contract signing")),
    _rule("gp.contract_publication", "N", 2, "working", "max_within", _GP_ALL, f"{_GPC} 第50条",
          "政府采购合同公告", "contract publication",
          ("合同签订之日", "the contract was signed"), ("合同公告", "the publication")),
    _rule("gp.enquiry_reply", "N", 3, "working", "max_within", _GP_ALL, f"{_GPC} 第52条",
          "答复询问", "reply to an enquiry",
          ("收到询问之日", "the enquiry was received"), ("作出答复", "the reply")),
    _rule("gp.challenge_filing", "N", 7, "working", "max_within", _GP_ALL, f"{_GPL} 第52条",
          "提出质疑", "filing a challenge",
          ("知道或者应知其权益受到损害之日", "the supplier knew or should have known"),
          ("提出质疑", "the challenge"),
          note="应知之日见实施条例 第53条"),
    _rule("gp.challenge_reply", "N", 7, "working", "max_within", _GP_ALL, f"{_GPL} 第53条",
          "答复质疑", "reply to a challenge",
          ("收到书面质疑之日", "the written challenge was received"), ("作出答复", "the reply")),
    _rule("gp.complaint_filing", "N", 15, "working", "max_within", _GP_ALL, f"{_GPL} 第55条",
          "向财政部门投诉", "complaint to the finance department",
          ("质疑答复期满之日", "the challenge reply period ended"), ("提出投诉", "the complaint")),
    _rule("gp.complaint_decision", "N", 30, "working", "max_within", _GP_ALL, f"{_GPL} 第56条",
          "作出投诉处理决定", "decision on a complaint",
          ("收到投诉之日", "the complaint was received"), ("处理决定", "the decision")),
    _rule("gp.deposit_refund", "N", 5, "working", "max_within", _GP_DEPOSIT, f"{_O87} 第38条、{_GPC} 第33条",
          "退还投标保证金", "deposit refund",
          ("撤回通知、中标通知书发出或合同签订之日", "the withdrawal, award notice or contract"),
          ("退还投标保证金", "the refund"), note="逾期退还的，支付资金占用费（利率可配置）"),
    _rule("gp.contract_reminder", "L", 5, "working", "max_within", _GP_ALL, "SPEC T-4（种子 000 的实践）",
          "合同未网上签订提醒", "reminder: contract not signed online", _AWARD_NOTICE,
          ("合同网上签订", "the contract signing online")),
    _rule("gp.committee_min_members", "N", 5, "count", "count", _GP_OPEN, f"{_O87} 第47条",
          "评标委员会成员人数", "evaluation committee members", note="5人以上单数；评审专家不少于2/3"),
    _rule("gp.committee_min_members_large", "N", 7, "count", "count", _GP_OPEN, f"{_O87} 第47条",
          "大型或复杂项目评标委员会成员人数", "committee members for large or complex projects",
          note="预算1000万元以上、技术复杂或社会影响较大的，7人以上单数"),
    # --- non-tender procurement methods (74号令, 财库〔2014〕214号) -----------------------------------
    _rule("gp.negotiation_doc_to_submission", "N*", 3, "working", "min_between",
          frozenset({"gp_negotiation"}), f"{_O74} 第29条", "谈判文件发出至首次响应截止",
          "negotiation documents issued to first response",
          ("谈判文件发出之日", "the negotiation documents were issued"),
          ("提交首次响应文件截止时间", "the first response deadline")),
    _rule("gp.consultation_doc_to_submission", "N*", 10, "calendar", "min_between",
          frozenset({"gp_consultation"}), "财库〔2014〕214号 第10条", "磋商文件发出至首次响应截止",
          "consultation documents issued to first response",
          ("磋商文件发出之日", "the consultation documents were issued"),
          ("提交首次响应文件截止时间", "the first response deadline")),
    _rule("gp.inquiry_doc_to_submission", "N*", 3, "working", "min_between",
          frozenset({"gp_inquiry"}), f"{_O74} 第45条", "询价通知书发出至响应截止",
          "inquiry notice issued to response deadline",
          ("询价通知书发出之日", "the inquiry notice was issued"),
          ("提交响应文件截止时间", "the response deadline")),
    _rule("gp.single_source_publicity", "N*", 5, "working", "duration",
          frozenset({"gp_single_source"}), f"{_GPC} 第38条、{_O74} 第38条", "单一来源公示期",
          "single-source publicity period",
          ("公示开始之日", "the publicity started"), ("公示结束时间", "the end of the publicity")),
)
# fmt: on


class RuleBook:
    """The table of time rules of one centre: the national defaults plus its local values."""

    def __init__(self, rules: Iterable[TimeRule]) -> None:
        self._rules: dict[str, TimeRule] = {}
        for rule in rules:
            if rule.id in self._rules:
                raise ValueError(f"duplicate rule id {rule.id}")
            self._rules[rule.id] = rule

    @classmethod
    def default(cls) -> RuleBook:
        """Every limit of RULES.md §1 with its national (or usual local) value."""
        return cls(_DEFAULT_RULES)

    def __iter__(self) -> Iterator[TimeRule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def get(self, rule_id: str) -> TimeRule:
        """The rule with this id; ``rules.unknown_rule`` (404) if there is none."""
        rule = self._rules.get(rule_id)
        if rule is None:
            raise NotFound("rules.unknown_rule", f"没有时限规则 {rule_id}。", f"No time rule {rule_id}.")
        return rule

    def for_procedure(self, code: str) -> tuple[TimeRule, ...]:
        """The rules a procedure consults (``rules.unknown_procedure`` for an unknown code)."""
        if code not in PROCEDURES:
            raise ValidationFailed(
                "rules.unknown_procedure",
                f"未知的交易方式：{code}。",
                f"Unknown procedure: {code}.",
                details={"procedure": code, "known": sorted(PROCEDURES)},
            )
        return tuple(r for r in self._rules.values() if code in r.procedures)

    def with_local_overrides(self, overrides: Mapping[str, int]) -> RuleBook:
        """A new book with the centre's values; national [N] rules refuse (``rules.national_fixed``).

        Nothing changes unless every override is valid.
        """
        changed = dict(self._rules)
        for rule_id, amount in overrides.items():
            rule = self._rules.get(rule_id)
            if rule is None:
                raise ValidationFailed("rules.unknown_rule", f"没有时限规则 {rule_id}。", f"No time rule {rule_id}.")
            if not rule.configurable:
                raise ValidationFailed(
                    "rules.national_fixed",
                    f"{rule.title_zh}（{rule.source}）是国家规定，不能在本地修改。",
                    f"{rule.id} ({rule.source}) is a national rule and cannot be changed locally.",
                    details={"rule": rule.id},
                )
            low = 1 if rule.kind in _COUNT_KINDS else 0
            if isinstance(amount, bool) or not isinstance(amount, int) or not low <= amount <= MAX_DAYS:
                raise ValidationFailed(
                    "rules.bad_amount",
                    f"{rule.title_zh} 的取值 {amount!r} 无效（应为 {low} 至 {MAX_DAYS} 的整数）。",
                    f"{amount!r} is not a valid value for {rule.id} (an integer from {low} to {MAX_DAYS}).",
                    details={"rule": rule.id},
                )
            default = rule.amount if rule.default_amount is None else rule.default_amount
            changed[rule_id] = dataclasses.replace(
                rule, amount=amount, default_amount=None if amount == default else default
            )
        return RuleBook(changed.values())

    def as_dicts(self) -> list[dict[str, Any]]:
        """Every rule as a JSON-friendly dict, in table order."""
        return [r.as_dict() for r in self._rules.values()]


# --- boundaries -------------------------------------------------------------------------------------------


def _days(rule: TimeRule) -> DayUnit:
    return "working" if rule.unit == "working" else "calendar"


def _need(rule: TimeRule, kinds: frozenset[str], what: str) -> None:
    if rule.kind not in kinds:
        raise ValueError(f"{what} does not apply to {rule.id} (kind {rule.kind})")


def earliest_allowed_date(rule: TimeRule, start: date, calendar: WorkingCalendar) -> date:
    """The first local date event B may fall on (``min_between`` and ``duration`` rules)."""
    _need(rule, frozenset({"min_between", "duration"}), "earliest_allowed")
    return calendar.deadline_for(start, rule.amount, _days(rule), shift_if_holiday=rule.shift_if_holiday)


def latest_allowed_date(rule: TimeRule, start: date, calendar: WorkingCalendar) -> date:
    """The last local date event B may fall on (``max_within`` rules)."""
    _need(rule, frozenset({"max_within"}), "latest_allowed")
    return calendar.deadline_for(start, rule.amount, _days(rule), shift_if_holiday=rule.shift_if_holiday)


def earliest_allowed(rule: TimeRule, start: datetime, calendar: WorkingCalendar) -> datetime:
    """The earliest instant (00:00 Asia/Shanghai, in UTC) of event B after event A at ``start``."""
    return start_of_local_day(earliest_allowed_date(rule, local_date(start), calendar))


def latest_allowed(rule: TimeRule, start: datetime, calendar: WorkingCalendar) -> datetime:
    """The last instant (24:00 Asia/Shanghai of the last day, in UTC) of event B after A at ``start``."""
    return end_of_local_day(latest_allowed_date(rule, local_date(start), calendar))


def latest_start_allowed(rule: TimeRule, end: datetime, calendar: WorkingCalendar) -> datetime:
    """For a ``min_between`` rule, the last instant event A may happen before event B at ``end``.

    E.g. the last moment to object to the tender documents (≥10 days before the bid deadline).
    """
    _need(rule, frozenset({"min_between"}), "latest_start_allowed")
    end_day = local_date(end)
    last = calendar.latest_start_for(end_day, rule.amount, _days(rule), shift_if_holiday=rule.shift_if_holiday)
    return end_of_local_day(last)


# --- checks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule, with a message naming the rule, its source and the allowed date.

    ``boundary`` is the earliest (``min_between``, ``duration``) or latest (``max_within``) allowed instant;
    ``actual`` is the counted number for count rules.
    """

    rule: TimeRule
    message_zh: str
    message_en: str
    start: datetime | None = None
    end: datetime | None = None
    boundary: datetime | None = None
    actual: int | None = None

    @property
    def code(self) -> str:
        """``rules.<rule id>``."""
        return f"rules.{self.rule.id}"

    @property
    def boundary_date(self) -> date | None:
        """The allowed limit as an Asia/Shanghai date."""
        return None if self.boundary is None else local_date(self.boundary)

    def details(self) -> dict[str, Any]:
        """JSON-friendly details for problem documents."""
        data: dict[str, Any] = {
            "rule": self.rule.id,
            "source": self.rule.source,
            "amount": self.rule.amount,
            "unit": self.rule.unit,
        }
        for key, value in (("start", self.start), ("end", self.end), ("boundary", self.boundary)):
            if value is not None:
                data[key] = value.isoformat()
        if self.boundary_date is not None:
            data["boundary_date"] = self.boundary_date.isoformat()
        if self.actual is not None:
            data["actual"] = self.actual
        return data

    def as_error(self) -> ValidationFailed:
        """The violation as a domain error (422) to raise."""
        return ValidationFailed(self.code, self.message_zh, self.message_en, details=self.details())


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def check(rule: TimeRule, start: datetime, end: datetime, calendar: WorkingCalendar) -> Violation | None:
    """Whether event B at ``end`` keeps the rule with event A at ``start``; the violation if not."""
    r, n = rule, f"{rule.amount}"
    start, end = ensure_utc(start), ensure_utc(end)
    if rule.kind == "max_within":
        latest = latest_allowed_date(rule, local_date(start), calendar)
        if local_date(end) <= latest:
            return None
        zh = f"{r.end_zh}晚于{r.start_zh}后{n}{r.unit_zh}（{r.source}），最迟应为 {latest.isoformat()}"
        en = (
            f"{_cap(r.end_en)} is more than {n} {r.unit_en} after {r.start_en} ({r.source}); "
            f"the latest allowed is {latest.isoformat()}"
        )
        return Violation(rule, zh, en, start, end, end_of_local_day(latest))
    earliest = earliest_allowed_date(rule, local_date(start), calendar)
    if local_date(end) >= earliest:
        return None
    if rule.kind == "duration":
        zh = f"{r.title_zh}不足{n}{r.unit_zh}（{r.source}），{r.end_zh}最早可设为 {earliest.isoformat()}"
        en = (
            f"The {r.title_en} is shorter than {n} {r.unit_en} ({r.source}); "
            f"{r.end_en} can be {earliest.isoformat()} at the earliest"
        )
    else:
        zh = f"{r.end_zh}距{r.start_zh}不足{n}{r.unit_zh}（{r.source}），最早可设为 {earliest.isoformat()}"
        en = (
            f"{_cap(r.end_en)} is less than {n} {r.unit_en} after {r.start_en} ({r.source}); "
            f"the earliest allowed is {earliest.isoformat()}"
        )
    return Violation(rule, zh, en, start, end, start_of_local_day(earliest))


def check_count(rule: TimeRule, actual: int) -> Violation | None:
    """Whether ``actual`` (bidders, members, candidates) keeps a ``count`` or ``max_count`` rule."""
    _need(rule, _COUNT_KINDS, "check_count")
    r = rule
    if rule.kind == "count" and actual < rule.amount:
        zh = f"{r.title_zh}为{actual}，少于{r.amount}（{r.source}）"
        en = f"{_cap(r.title_en)} is {actual}, fewer than {r.amount} ({r.source})"
    elif rule.kind == "max_count" and actual > rule.amount:
        zh = f"{r.title_zh}为{actual}，超过{r.amount}（{r.source}）"
        en = f"{_cap(r.title_en)} is {actual}, more than {r.amount} ({r.source})"
    else:
        return None
    return Violation(rule, zh, en, actual=actual)


def required_deadline_after_amendment(
    deadline: datetime,
    amendment_at: datetime,
    rule: TimeRule,
    calendar: WorkingCalendar,
    *,
    on_working_day: bool = False,
) -> datetime:
    """The bid (or pre-qualification) deadline after a clarification or amendment issued at ``amendment_at``.

    Unchanged when it is still at least ``rule.amount`` days away; otherwise postponed to the earliest allowed
    date at the same Asia/Shanghai time of day (and, with ``on_working_day``, onto a working day).
    """
    _need(rule, frozenset({"min_between"}), "required_deadline_after_amendment")
    earliest = earliest_allowed_date(rule, local_date(amendment_at), calendar)
    if local_date(deadline) >= earliest:
        return ensure_utc(deadline)
    if on_working_day:
        earliest = calendar.working_day_on_or_after(earliest)
    local_time = ensure_utc(deadline).astimezone(SHANGHAI).timetz()
    return ensure_utc(datetime.combine(earliest, local_time.replace(tzinfo=SHANGHAI)))
