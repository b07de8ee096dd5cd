"""Engineering construction tendering (工程建设): open tendering 公开招标 and invited tendering 邀请招标.

Law: 招标投标法 and its 实施条例 (条例), 七部委12号令; time values in ``shared/RULES.md`` §1, consulted
by rule id. Differences between the two: open tendering publishes an announcement (and may prequalify
applicants, 条例 §15–19); invited tendering sends invitations to at least three bidders instead (法 §17).
"""

from __future__ import annotations

from typing import Final

from sunbid.projects.procedure_model import Procedure, ProcedureFlags, StateDef, Transition
from sunbid.projects.procedure_vocabulary import Phase
from sunbid.projects.procedures_common import (
    ACCEPTED,
    ARCHIVED,
    DRAFT,
    EXPERT,
    FAILED,
    OPERATOR,
    OWNER,
    REGISTERED,
    SUSPENDED,
    TERMINATED,
    archive_step,
    check,
    contract_step,
    entry_steps,
    now_until,
    objection_steps,
    plan_step,
    registration_steps,
    side_steps,
    since_until_now,
    state,
    step,
)

__all__ = ["ENG_INVITED", "ENG_OPEN"]

_PLAN_RULE: Final = "local.tender_plan_before_announcement"
_MIN_BIDS: Final = 3  # 法 §28, 条例 §44: fewer than three bidders → no opening, re-tender

_PLAN_PUBLISHED: Final = state("plan_published", "招标计划已发布", "tender plan published", Phase.PREPARATION)
_BIDDING: Final = state("bidding", "投标中", "bidding", Phase.BIDDING)
_TAIL_STATES: Final = (
    state("opening", "开标中", "opening", Phase.OPENING),
    state("opened", "开标结束（待评标）", "opened, awaiting evaluation", Phase.OPENING),
    state("evaluation", "评标中", "evaluation", Phase.EVALUATION),
    state("reported", "评标报告已提交", "evaluation report submitted", Phase.EVALUATION),
    state("publicity", "中标候选人公示中", "candidate publicity", Phase.PUBLICITY),
    state("award_pending", "公示期满（待定标）", "publicity over, awaiting award", Phase.AWARD),
    state(
        "awarded",
        "已发出中标通知书（待签合同）",
        "award notice issued, awaiting contract",
        Phase.AWARD,
        watches=[
            check("eng.contract_reminder", "award_notice_at", "contract_signed_at", warn=True),
            check("eng.report_to_regulator", "award_confirmed_at", "regulator_report_at", warn=True),
        ],
    ),
    state("contracted", "合同已签订（待归档）", "contract signed, awaiting archive", Phase.CONTRACT),
    ARCHIVED,
    SUSPENDED,
    FAILED,
    TERMINATED,
)


def _issue_documents(sources: frozenset[str]) -> Transition:
    return step(
        "issue_documents",
        sources,
        "bidding",
        OWNER,
        checks=[
            check("eng.doc_sale_period", "sale_start", "sale_end"),
            check("eng.doc_issue_to_bid_deadline", "documents_issued_at", "bid_deadline"),
        ],
        event="documents.issued",
        description_zh="发出招标文件（免费下载、在线预览），投标期开始；发售期≥5日，发出至投标截止≥20日",
        records=["documents_issued_at", "sale_start", "sale_end", "bid_deadline"],
    )


def _bidding_to_archive() -> list[Transition]:
    """From the bidding period to the archive: the same for open and invited engineering tenders."""
    return [
        step(
            "amend_documents",
            "bidding",
            "bidding",
            OWNER,
            checks=[now_until("eng.clarification_before_deadline", "bid_deadline")],
            event="documents.amended",
            description_zh="澄清或修改招标文件：距投标截止不足15日的，须先顺延投标截止时间",
            records=["bid_deadline"],
        ),
        step(
            "close_bidding",
            "bidding",
            "opening",
            (),
            timed_at="bid_deadline",
            guards=["bids_at_least_min"],
            event="bidding.closed",
            description_zh="投标截止，自动开始开标（不见面开标）",
            records=["bids_received"],
        ),
        step(
            "close_bidding",
            "bidding",
            "failed",
            (),
            timed_at="bid_deadline",
            guards=["bids_below_min"],
            event="bidding.failed",
            description_zh="投标人少于3个，不得开标，应当重新招标（条例 §44）",
            records=["bids_received"],
        ),
        step(
            "finish_opening",
            "opening",
            "opened",
            OPERATOR,
            guards=["no_open_objection"],
            event="opening.finished",
            description_zh="解密、唱标完毕，开标异议已当场答复并记录",
            records=["valid_bids"],
        ),
        step(
            "declare_failed",
            "opening",
            "failed",
            {"operator", "tenderer", "agency"},
            guards=["valid_bids_below_min"],
            event="project.failed",
            description_zh="解密失败等原因致有效投标不足，宣布流标",
            records=["valid_bids"],
        ),
        step(
            "start_evaluation",
            "opened",
            "evaluation",
            {"operator", "agency"},
            guards=["committee_ready"],
            event="evaluation.started",
            description_zh="评标委员会组建签到，开始评标",
        ),
        step(
            "submit_report",
            "evaluation",
            "reported",
            EXPERT,
            guards=["has_valid_bid", "report_received"],
            event="evaluation.report_submitted",
            description_zh="评标委员会提交签字的评标报告，推荐不超过3名中标候选人",
            records=["report_received_at", "valid_bids"],
        ),
        step(
            "declare_failed",
            "evaluation",
            "failed",
            {"expert", "tenderer", "agency"},
            guards=["valid_bids_below_min"],
            event="project.failed",
            description_zh="否决后有效投标不足、明显缺乏竞争或全部投标被否决，宣布废标",
            records=["valid_bids"],
        ),
        step(
            "publish_candidates",
            "reported",
            "publicity",
            OWNER,
            guards=["report_received"],
            checks=[
                check("eng.publicity_start", "report_received_at", "publicity_start", warn=True),
                check("eng.publicity_duration", "publicity_start", "publicity_end"),
            ],
            event="publicity.published",
            description_zh="收到评标报告之日起3日内公示中标候选人，公示期≥3日（条例 §54）",
            records=["publicity_start", "publicity_end"],
        ),
        step(
            "end_publicity",
            "publicity",
            "award_pending",
            (),
            timed_at="publicity_end",
            guards=["no_open_objection"],
            event="publicity.ended",
            description_zh="公示期满，无未答复的异议",
        ),
        step(
            "confirm_award",
            "award_pending",
            "awarded",
            {"tenderer"},
            guards=["award_confirmed", "award_notice_issued"],
            checks=[
                check(
                    "eng.evaluation_before_validity_expiry",
                    "award_confirmed_at",
                    "bid_validity_expires_at",
                    warn=True,
                    required=False,
                )
            ],
            event="award.confirmed",
            description_zh="招标人定标并发出中标通知书",
            records=["award_confirmed_at", "award_notice_at"],
        ),
        contract_step("eng.contract_after_award_notice"),
        archive_step(
            ["contract_published", "deposits_settled", "regulator_report_filed"],
            [
                check("eng.report_to_regulator", "award_confirmed_at", "regulator_report_at", warn=True),
                check(
                    "eng.deposit_refund_after_contract",
                    "contract_signed_at",
                    "deposits_refunded_at",
                    warn=True,
                    required=False,
                ),
            ],
        ),
    ]


def _objections(prequalification: bool) -> list[Transition]:
    raise_from = [
        (["bidding"], [now_until("eng.objection_docs_before_deadline", "bid_deadline")]),
        (["publicity"], []),  # during the publicity period only (条例 §54); the state ensures it
    ]
    if prequalification:
        raise_from.insert(0, (["prequalification"], [now_until("eng.objection_preq_before_deadline", "preq_deadline")]))
    return objection_steps(
        raise_from,
        [
            since_until_now(
                "eng.objection_reply", "objection_raised_at", warn=True, when="not_suspended_from_publicity"
            ),
            since_until_now(
                "eng.publicity_objection_reply",
                "objection_raised_at",
                warn=True,
                when="suspended_from_publicity",
            ),
        ],
    )


def _prequalification_steps() -> list[Transition]:
    return [
        *entry_steps(
            "publish_prequalification",
            "prequalification",
            plan_rule=_PLAN_RULE,
            plan_end_fact="announcement_at",
            checks=[
                check("eng.doc_sale_period", "sale_start", "sale_end"),
                check("eng.preq_application_after_sale", "sale_end", "preq_deadline"),
            ],
            event="prequalification.published",
            description_zh="发布资格预审公告，发售资格预审文件（≥5日），申请截止在发售期满后≥5日",
            records=["announcement_at", "sale_start", "sale_end", "preq_deadline"],
        ),
        step(
            "amend_documents",
            "prequalification",
            "prequalification",
            OWNER,
            checks=[now_until("eng.clarification_before_preq_deadline", "preq_deadline")],
            event="documents.amended",
            description_zh="澄清或修改资格预审文件：距申请截止不足3日的，须先顺延截止时间",
            records=["preq_deadline"],
        ),
        step(
            "close_prequalification",
            "prequalification",
            "prequalification_review",
            (),
            timed_at="preq_deadline",
            event="prequalification.closed",
            description_zh="资格预审申请截止",
        ),
        step(
            "finish_prequalification",
            "prequalification_review",
            "qualified",
            {"tenderer", "agency", "expert"},
            guards=["qualified_at_least_min"],
            event="prequalification.finished",
            description_zh="资格审查完毕，向合格申请人发出资格预审合格通知书",
            records=["qualified_applicants"],
        ),
        step(
            "declare_failed",
            "prequalification_review",
            "failed",
            OWNER,
            guards=["qualified_below_min"],
            event="project.failed",
            description_zh="通过资格预审的申请人少于3个，应当重新招标（条例 §19）",
            records=["qualified_applicants"],
        ),
    ]


def _open_tendering() -> Procedure:
    states: tuple[StateDef, ...] = (
        DRAFT,
        REGISTERED,
        ACCEPTED,
        _PLAN_PUBLISHED,
        state("prequalification", "资格预审中", "prequalification open", Phase.PREQUALIFICATION),
        state("prequalification_review", "资格审查中", "prequalification review", Phase.PREQUALIFICATION),
        state("qualified", "资格预审完成", "prequalification finished", Phase.PREQUALIFICATION),
        state("announced", "招标公告已发布", "announcement published", Phase.ANNOUNCEMENT),
        _BIDDING,
        *_TAIL_STATES,
    )
    transitions = [
        *registration_steps(),
        plan_step("发布招标计划（国有资金项目在公告前≥30日，地方规定）"),
        *entry_steps(
            "publish_announcement",
            "announced",
            plan_rule=_PLAN_RULE,
            plan_end_fact="announcement_at",
            event="announcement.published",
            description_zh="发布招标公告（含标段）",
            records=["announcement_at"],
        ),
        *_prequalification_steps(),
        _issue_documents(frozenset({"announced", "qualified"})),
        *_bidding_to_archive(),
        *_objections(prequalification=True),
    ]
    transitions.extend(side_steps(states, with_plan=True))
    return Procedure(
        code="eng_open",
        name_zh="公开招标（工程建设）",
        name_en="open tendering (engineering construction)",
        sector="engineering",
        states=states,
        transitions=tuple(transitions),
        flags=ProcedureFlags(
            min_bids=_MIN_BIDS,
            has_prequalification=True,
            allows_custodian_decryption=True,
            has_opening=True,
            has_candidate_publicity=True,
            has_tender_plan_or_intention=True,
        ),
        description_zh="发布招标公告（或资格预审公告），不特定法人投标；可资格预审",
    )


def _invited_tendering() -> Procedure:
    states: tuple[StateDef, ...] = (
        DRAFT,
        REGISTERED,
        ACCEPTED,
        _PLAN_PUBLISHED,
        state("invited", "投标邀请书已发出", "invitations sent", Phase.ANNOUNCEMENT),
        _BIDDING,
        *_TAIL_STATES,
    )
    transitions = [
        *registration_steps(),
        plan_step("发布招标计划（国有资金项目在邀请前≥30日，地方规定）"),
        *entry_steps(
            "send_invitations",
            "invited",
            plan_rule=_PLAN_RULE,
            plan_end_fact="invitations_sent_at",
            guards=["invitees_at_least_min"],
            event="invitations.sent",
            description_zh="向3个以上特定法人发出投标邀请书（法 §17），不发布公告",
            records=["invitations_sent_at", "invitees"],
        ),
        _issue_documents(frozenset({"invited"})),
        *_bidding_to_archive(),
        *_objections(prequalification=False),
    ]
    transitions.extend(side_steps(states, with_plan=True))
    return Procedure(
        code="eng_invited",
        name_zh="邀请招标（工程建设）",
        name_en="invited tendering (engineering construction)",
        sector="engineering",
        states=states,
        transitions=tuple(transitions),
        flags=ProcedureFlags(
            min_bids=_MIN_BIDS,
            allows_custodian_decryption=True,
            has_opening=True,
            has_candidate_publicity=True,
            has_tender_plan_or_intention=True,
            invited=True,
        ),
        description_zh="以投标邀请书邀请特定法人投标，不发布招标公告",
    )


ENG_OPEN: Final = _open_tendering()
ENG_INVITED: Final = _invited_tendering()
