"""The vocabulary procedure tables are written in: roles, actions, facts, guards, rule ids, phases.

Every name a table uses is declared here once, with its Chinese and English label, so that messages, pages
and ``docs/procedures.md`` show the same words and :func:`sunbid.projects.procedure_model.validate` can refuse
a table that misspells one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

__all__ = [
    "ACTION_LABELS",
    "COMPLEMENTARY_GUARDS",
    "FACT_LABELS",
    "GUARDS",
    "NOW",
    "RETURN",
    "ROLES",
    "ROLE_LABELS",
    "RULE_IDS",
    "STATE_FACT_LABELS",
    "SYSTEM",
    "Guard",
    "Phase",
    "Sector",
    "Severity",
]

Sector = Literal["engineering", "procurement"]

#: The pseudo-role of the scheduler: only timed transitions list it, and only it may fire them.
SYSTEM: Final = "system"
#: Target of a transition that returns to the state the project left (``Facts.suspended_from``).
RETURN: Final = "@return"
#: Pseudo-fact: the time of the attempt (``Facts.now``).
NOW: Final = "now"

#: Roles that may appear on a transition (the values of :class:`sunbid.identity.domain.Role`, plus
#: ``system``), with the labels shown in messages.
ROLE_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "tenderer": ("招标人/采购人", "tenderer / purchaser"),
    "agency": ("招标代理机构", "tendering agency"),
    "operator": ("交易中心工作人员", "centre operator"),
    "regulator": ("行政监督部门", "regulator"),
    "bidder": ("投标人/供应商", "bidder / supplier"),
    "expert": ("评标专家", "evaluation expert"),
    SYSTEM: ("系统（定时）", "system (scheduler)"),
}
ROLES: Final = frozenset(ROLE_LABELS)

#: Every action a procedure may use: the same name means the same thing in every procedure.
ACTION_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "register": ("登记项目", "register the project"),
    "return_registration": ("退回登记", "return the registration"),
    "accept": ("受理", "accept the project"),
    "publish_plan": ("发布招标计划/采购意向", "publish the tender plan / procurement intention"),
    "publish_announcement": ("发布公告", "publish the announcement"),
    "publish_prequalification": ("发布资格预审公告", "publish the prequalification announcement"),
    "close_prequalification": ("资格预审申请截止", "close prequalification applications"),
    "finish_prequalification": ("完成资格审查", "finish the prequalification review"),
    "send_invitations": ("发出投标邀请书", "send the invitations to tender"),
    "publish_single_source": ("公示单一来源采购理由", "publish the single-source justification"),
    "issue_documents": ("发出招标（采购）文件", "issue the tender documents"),
    "amend_documents": ("澄清或修改文件", "clarify or amend the documents"),
    "raise_objection": ("提出异议（质疑）", "raise an objection (challenge)"),
    "answer_objection": ("答复异议（质疑）", "answer the objection (challenge)"),
    "close_bidding": ("投标截止", "close bidding"),
    "finish_opening": ("结束开标", "finish the opening"),
    "start_evaluation": ("开始评标（评审）", "start the evaluation"),
    "next_round": ("进入下一轮谈判（磋商）", "start the next negotiation round"),
    "submit_report": ("提交评标（评审）报告", "submit the evaluation report"),
    "publish_candidates": ("公示中标候选人", "publish the winning candidates"),
    "confirm_award": ("确认中标", "confirm the award"),
    "publish_result": ("发布中标（成交）结果公告", "publish the result announcement"),
    "end_publicity": ("公示期满", "end the publicity period"),
    "sign_contract": ("签订合同", "sign the contract"),
    "archive": ("归档", "archive"),
    "suspend": ("暂停", "suspend"),
    "resume": ("恢复", "resume"),
    "terminate": ("终止", "terminate"),
    "declare_failed": ("宣布招标（采购）失败", "declare the procedure failed"),
    "retender": ("重新招标（采购）", "re-tender"),
}

#: The time facts a table may name (``Facts`` has one field for each), with the labels used in messages.
FACT_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    NOW: ("当前时间", "now"),
    "plan_published_at": ("招标计划/采购意向发布时间", "tender plan / intention published at"),
    "announcement_at": ("公告发布时间", "announcement published at"),
    "announcement_end": ("公告期满时间", "announcement period ends at"),
    "invitations_sent_at": ("投标邀请书发出时间", "invitations sent at"),
    "sale_start": ("文件发售（提供）开始时间", "documents on sale from"),
    "sale_end": ("文件发售（提供）截止时间", "documents on sale until"),
    "documents_issued_at": ("招标（采购）文件发出时间", "documents issued at"),
    "preq_deadline": ("资格预审申请截止时间", "prequalification application deadline"),
    "bid_deadline": ("投标（响应）截止时间", "bid (response) deadline"),
    "objection_raised_at": ("异议（质疑）提出时间", "objection raised at"),
    "evaluation_finished_at": ("评审结束时间", "evaluation finished at"),
    "report_received_at": ("收到评标（评审）报告时间", "evaluation report received at"),
    "award_confirm_due": ("采购人确认期限届满时间", "purchaser's confirmation period ends at"),
    "award_confirmed_at": ("确定中标（成交）人时间", "award confirmed at"),
    "award_notice_at": ("中标（成交）通知书发出时间", "award notice issued at"),
    "bid_validity_expires_at": ("投标有效期届满时间", "bid validity expires at"),
    "publicity_start": ("公示（结果公告）开始时间", "publicity starts at"),
    "publicity_end": ("公示（结果公告）结束时间", "publicity ends at"),
    "source_publicity_start": ("单一来源公示开始时间", "single-source publicity starts at"),
    "source_publicity_end": ("单一来源公示结束时间", "single-source publicity ends at"),
    "contract_signed_at": ("合同签订时间", "contract signed at"),
    "contract_published_at": ("合同公开时间", "contract published at"),
    "regulator_report_at": ("书面报告提交行政监督部门时间", "written report to the regulator at"),
    "deposits_refunded_at": ("投标保证金退还完毕时间", "deposits refunded at"),
}

#: The other facts (counts, flags) guards and event records use (``Facts`` has one field for each).
STATE_FACT_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "documents_complete": ("登记材料齐全", "registration documents complete"),
    "accept_with_promise": ("容缺受理（信用承诺）", "accepted with missing documents on a credit promise"),
    "green_channel": ("绿色通道", "green channel"),
    "plan_required": ("须事先发布招标计划/采购意向", "a tender plan / intention is required"),
    "invitees": ("受邀投标人数", "invited bidders"),
    "qualified_applicants": ("资格预审合格申请人数", "qualified applicants"),
    "bids_received": ("收到的投标（响应）文件数", "bids received"),
    "valid_bids": ("有效投标数", "valid bids"),
    "min_bids": (
        "本项目最低投标人数（覆盖程序默认值）",
        "minimum bids for this project (overrides the default)",
    ),
    "committee_ready": ("评标委员会已组建", "evaluation committee formed"),
    "open_objections": ("未答复的异议（质疑）数", "objections awaiting an answer"),
    "open_complaints": ("未办结的投诉数", "complaints not yet decided"),
    "open_instructions": ("未答复的监督指令数", "supervision instructions not yet answered"),
    "objection_upheld": ("异议成立", "objection upheld"),
    "suspended_from": ("暂停前的状态", "state before the suspension"),
    "contract_signed_by_tenderer": ("招标人（采购人）已签署合同", "contract signed by the tenderer"),
    "contract_signed_by_winner": ("中标（成交）人已签署合同", "contract signed by the winner"),
    "deposits_required": ("须缴纳投标保证金", "bid deposits are required"),
}

#: The legal time rules of ``sunbid.projects.rules`` a table may consult (ids only: the values live there).
RULE_IDS: Final = frozenset(
    {
        "eng.doc_sale_period",
        "eng.preq_application_after_sale",
        "eng.doc_issue_to_bid_deadline",
        "eng.clarification_before_deadline",
        "eng.clarification_before_preq_deadline",
        "eng.objection_docs_before_deadline",
        "eng.objection_preq_before_deadline",
        "eng.objection_reply",
        "eng.min_bidders",
        "eng.publicity_start",
        "eng.publicity_duration",
        "eng.publicity_objection_reply",
        "eng.report_to_regulator",
        "eng.contract_after_award_notice",
        "eng.deposit_refund_after_withdrawal",
        "eng.deposit_refund_after_contract",
        "eng.complaint_filing",
        "eng.evaluation_before_validity_expiry",
        "eng.contract_reminder",
        "local.tender_plan_before_announcement",
        "gp.intention_before_procurement",
        "gp.announcement_duration",
        "gp.doc_availability",
        "gp.doc_issue_to_bid_deadline",
        "gp.clarification_before_deadline",
        "gp.report_to_purchaser",
        "gp.purchaser_confirm",
        "gp.result_announcement",
        "gp.result_announcement_duration",
        "gp.contract_after_award",
        "gp.contract_publication",
        "gp.challenge_filing",
        "gp.challenge_reply",
        "gp.complaint_filing",
        "gp.deposit_refund",
        "gp.contract_reminder",
        "gp.negotiation_doc_to_submission",
        "gp.consultation_doc_to_submission",
        "gp.inquiry_doc_to_submission",
        "gp.single_source_publicity",
    }
)


class Phase(StrEnum):
    """Where in the lifecycle a state sits; pages group and colour states by phase."""

    REGISTRATION = "registration"
    PREPARATION = "preparation"
    PREQUALIFICATION = "prequalification"
    ANNOUNCEMENT = "announcement"
    BIDDING = "bidding"
    OPENING = "opening"
    EVALUATION = "evaluation"
    PUBLICITY = "publicity"
    AWARD = "award"
    CONTRACT = "contract"
    CLOSED = "closed"
    EXCEPTION = "exception"

    @property
    def label_zh(self) -> str:
        """Chinese name shown on pages."""
        return _PHASE_LABELS[self]


_PHASE_LABELS: Final[Mapping[Phase, str]] = {
    Phase.REGISTRATION: "登记受理",
    Phase.PREPARATION: "招标准备",
    Phase.PREQUALIFICATION: "资格预审",
    Phase.ANNOUNCEMENT: "公告",
    Phase.BIDDING: "投标",
    Phase.OPENING: "开标",
    Phase.EVALUATION: "评标（评审）",
    Phase.PUBLICITY: "公示",
    Phase.AWARD: "定标",
    Phase.CONTRACT: "合同",
    Phase.CLOSED: "结束",
    Phase.EXCEPTION: "异常",
}


class Severity(StrEnum):
    """What a broken time rule does to the attempt.

    ``refuse``: the action is refused with the rule's own error (a bid deadline too close to the issue of the
    documents). ``warn``: the action goes ahead and the violation is reported with the outcome — for duties
    that must still be done when late (a contract signed on day 31 is still signed; the regulator is told).
    """

    REFUSE = "refuse"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Guard:
    """A named condition on the project's facts; the engine evaluates it by its code."""

    code: str
    description_zh: str
    description_en: str


def _guards(*rows: tuple[str, str, str]) -> Mapping[str, Guard]:
    return {code: Guard(code, zh, en) for code, zh, en in rows}


#: Every guard a table may use. The engine holds the matching predicates (checked at import).
GUARDS: Final[Mapping[str, Guard]] = _guards(
    ("registration_complete", "登记材料齐全或已作容缺承诺", "registration complete or accepted on a promise"),
    ("plan_not_required", "本项目无须事先发布招标计划/采购意向", "no tender plan or intention is required"),
    ("plan_already_published", "招标计划/采购意向已发布", "the tender plan / intention was published"),
    ("plan_not_published", "招标计划/采购意向未发布", "no tender plan / intention was published"),
    ("invitees_at_least_min", "受邀投标人数达到法定最低数", "enough invited bidders"),
    ("qualified_at_least_min", "资格预审合格申请人达到法定最低数", "enough qualified applicants"),
    ("qualified_below_min", "资格预审合格申请人少于法定最低数", "too few qualified applicants"),
    ("bids_at_least_min", "投标人数达到法定最低数", "enough bids received"),
    ("bids_below_min", "投标人数少于法定最低数", "fewer bids than the legal minimum"),
    ("valid_bids_at_least_min", "有效投标达到法定最低数", "enough valid bids"),
    (
        "valid_bids_below_min",
        "有效投标少于法定最低数（含全部被否决）",
        "too few valid bids (or all rejected)",
    ),
    ("has_valid_bid", "至少有一个有效投标", "at least one valid bid"),
    ("committee_ready", "评标委员会（评审小组）已组建并签到", "the evaluation committee is formed"),
    ("no_open_objection", "没有未答复的异议", "no objection awaits an answer"),
    ("nothing_pending", "异议、投诉和监督指令均已处理完毕", "no objection, complaint or instruction is open"),
    (
        "something_pending",
        "仍有未处理的异议、投诉或监督指令",
        "an objection, complaint or instruction is open",
    ),
    ("report_received", "已收到评标（评审）报告", "the evaluation report was received"),
    ("award_confirmed", "已确定中标（成交）人", "the award is confirmed"),
    ("award_notice_issued", "已发出中标（成交）通知书", "the award notice was issued"),
    ("contract_signed_by_both", "合同已由双方签署", "the contract is signed by both parties"),
    ("contract_published", "合同已公开", "the contract was published"),
    ("deposits_settled", "投标保证金已全部退还（或无须缴纳）", "deposits refunded (or none required)"),
    (
        "regulator_report_filed",
        "已向行政监督部门提交书面报告",
        "the written report was filed with the regulator",
    ),
    ("suspended_from_publicity", "暂停前处于公示期", "suspended during the publicity period"),
    ("not_suspended_from_publicity", "暂停前不处于公示期", "not suspended during the publicity period"),
    (
        "not_suspended_from_source_publicity",
        "暂停前不处于单一来源公示期",
        "not suspended during the single-source publicity",
    ),
    ("objection_upheld", "异议成立", "the objection was upheld"),
)

#: Guard pairs that can never hold together; they make transitions sharing an action and a state exclusive.
COMPLEMENTARY_GUARDS: Final = frozenset(
    {
        frozenset({"plan_already_published", "plan_not_published"}),
        frozenset({"qualified_at_least_min", "qualified_below_min"}),
        frozenset({"bids_at_least_min", "bids_below_min"}),
        frozenset({"valid_bids_at_least_min", "valid_bids_below_min"}),
        frozenset({"nothing_pending", "something_pending"}),
        frozenset({"suspended_from_publicity", "not_suspended_from_publicity"}),
    }
)
