"""Government procurement (政府采购) methods.

Law: 政府采购法 and its 实施条例, 财政部87号令 (public tendering), 74号令 (negotiation, inquiry, single
source), 财库〔2014〕214号 (consultation); time values in ``shared/RULES.md`` §1, consulted by rule id.

What differs by method:

- public tendering 公开招标: announcement running 5 工作日, documents available ≥5 工作日, ≥20日 to the
  deadline, a public opening; the purchaser confirms the winner within 5 工作日, silence confirming the
  first-ranked candidate (87号令 §68), then a result announcement of 1 工作日;
- negotiation 竞争性谈判 / consultation 竞争性磋商 / inquiry 询价: their own documents-to-submission
  limits, no public opening, the evaluation is the negotiation (rounds for negotiation and consultation;
  inquiry takes a single, final quotation);
- single source 单一来源: the single-source justification is published (≥5 工作日) before negotiating with
  the one supplier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sunbid.projects.procedure_model import Procedure, ProcedureFlags, StateDef, TimeCheck, Transition
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

__all__ = ["GP_CONSULTATION", "GP_INQUIRY", "GP_NEGOTIATION", "GP_OPEN", "GP_SINGLE_SOURCE"]

_INTENTION_RULE: Final = "gp.intention_before_procurement"
_CHALLENGE_AFTER_RESULT: Final = check("gp.challenge_filing", "publicity_end", "now")
_RESULT_DURATION: Final = check("gp.result_announcement_duration", "publicity_start", "publicity_end")
_DEPOSIT_REFUND: Final = check(
    "gp.deposit_refund", "contract_signed_at", "deposits_refunded_at", warn=True, required=False
)
_REPORT_TO_PURCHASER: Final = check(
    "gp.report_to_purchaser", "evaluation_finished_at", "report_received_at", warn=True, required=False
)
_CHALLENGE_DOCUMENTS: Final = (["bidding"], [check("gp.challenge_filing", "documents_issued_at", "now")])

_PLAN_PUBLISHED: Final = state("plan_published", "采购意向已公开", "procurement intention published", Phase.PREPARATION)


def _result_states(word: str) -> tuple[StateDef, ...]:
    """From the confirmed award to the end; ``word`` is 中标 (tendering) or 成交 (other methods)."""
    return (
        state("award_confirmed", f"已确定{word}供应商", "award confirmed", Phase.AWARD),
        state("publicity", f"{word}结果公告中", "result announcement", Phase.PUBLICITY),
        state(
            "awarded",
            f"{word}结果公告期满（待签合同）",
            "result announced, awaiting contract",
            Phase.AWARD,
            watches=[check("gp.contract_reminder", "award_notice_at", "contract_signed_at", warn=True)],
        ),
        state("contracted", "合同已签订（待归档）", "contract signed, awaiting archive", Phase.CONTRACT),
        ARCHIVED,
        SUSPENDED,
        FAILED,
        TERMINATED,
    )


def _report_to_archive(
    *, silence_confirms: bool, announcement_duration: bool, deposit_refund: bool
) -> list[Transition]:
    """Evaluation report → purchaser's confirmation → result announcement → contract → archive.

    ``silence_confirms``: the purchaser's silence confirms the first-ranked candidate (timed transition).
    ``announcement_duration``: the result announcement's length is a rule (87号令 §69, tendering only);
    elsewhere it simply ends at ``publicity_end``. ``deposit_refund``: the method takes deposits
    (实施条例 §33), so the refund limit is consulted.
    """
    steps = [
        step(
            "confirm_award",
            "reported",
            "award_confirmed",
            {"tenderer"},
            guards=["report_received", "award_confirmed"],
            checks=[check("gp.purchaser_confirm", "report_received_at", "award_confirmed_at", warn=True)],
            event="award.confirmed",
            description_zh="采购人在评审报告推荐的候选人中按顺序确定中标（成交）供应商",
            records=["award_confirmed_at"],
        ),
    ]
    if silence_confirms:
        steps.append(
            step(
                "confirm_award",
                "reported",
                "award_confirmed",
                (),
                timed_at="award_confirm_due",
                guards=["report_received"],
                event="award.deemed_confirmed",
                description_zh="采购人5个工作日内未确定且未提出异议，视为确定排序第一的候选人（87号令 §68）",
                records=["award_confirm_due"],
            )
        )
    steps += [
        step(
            "publish_result",
            "award_confirmed",
            "publicity",
            OWNER,
            guards=["award_notice_issued"],
            checks=[check("gp.result_announcement", "award_confirmed_at", "publicity_start", warn=True)]
            + ([_RESULT_DURATION] if announcement_duration else []),
            event="result.published",
            description_zh="2个工作日内发布结果公告（公告期1个工作日，公布评审专家名单），同时发出中标（成交）通知书",
            records=["publicity_start", "publicity_end", "award_notice_at"],
        ),
        step(
            "end_publicity",
            "publicity",
            "awarded",
            (),
            timed_at="publicity_end",
            guards=["no_open_objection"],
            event="publicity.ended",
            description_zh="结果公告期满",
        ),
        contract_step("gp.contract_after_award"),
        archive_step(
            ["contract_published", "deposits_settled"],
            [check("gp.contract_publication", "contract_signed_at", "contract_published_at", warn=True)]
            + ([_DEPOSIT_REFUND] if deposit_refund else []),
        ),
    ]
    return steps


def _evaluation_steps(source: str, *, rounds: bool, word: str) -> list[Transition]:
    """Start of the evaluation (from ``source``) to the submitted report, or failure."""
    steps = [
        step(
            "start_evaluation",
            source,
            "evaluation",
            {"operator", "agency"},
            guards=["committee_ready"],
            event="evaluation.started",
            description_zh=f"评标委员会（{word}小组）组建签到，开始评审",
        ),
        step(
            "submit_report",
            "evaluation",
            "reported",
            EXPERT,
            guards=["valid_bids_at_least_min", "report_received"],
            checks=[_REPORT_TO_PURCHASER],
            event="evaluation.report_submitted",
            description_zh="提交评审报告（2个工作日内送交采购人），按顺序推荐候选人",
            records=["report_received_at", "valid_bids"],
        ),
        step(
            "declare_failed",
            "evaluation",
            "failed",
            {"expert", "tenderer", "agency"},
            guards=["valid_bids_below_min"],
            event="project.failed",
            description_zh="符合条件的供应商不足法定数量，或全部被否决，宣布废标",
            records=["valid_bids"],
        ),
    ]
    if rounds:
        steps.append(
            step(
                "next_round",
                "evaluation",
                "evaluation",
                EXPERT,
                event="evaluation.round_started",
                description_zh=f"{word}小组与供应商进行下一轮{word}，供应商重新报价",
            )
        )
    return steps


def _close_bidding(target: str, description_zh: str) -> list[Transition]:
    return [
        step(
            "close_bidding",
            "bidding",
            target,
            (),
            timed_at="bid_deadline",
            guards=["bids_at_least_min"],
            event="bidding.closed",
            description_zh=description_zh,
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
            description_zh="提交投标（响应）文件的供应商不足法定数量，采购失败",
            records=["bids_received"],
        ),
    ]


def _gp_objections(*before_result: tuple[Iterable[str], Iterable[TimeCheck]]) -> list[Transition]:
    """Challenges (质疑) and objections: ``before_result`` groups, then to the result during and after its
    announcement (7 工作日 from the end of the announcement period)."""
    return objection_steps(
        [*before_result, (["publicity", "awarded"], [_CHALLENGE_AFTER_RESULT])],
        [
            since_until_now(
                "gp.challenge_reply",
                "objection_raised_at",
                warn=True,
                when="not_suspended_from_source_publicity",
            )
        ],
    )


def _tendering() -> Procedure:
    states: tuple[StateDef, ...] = (
        DRAFT,
        REGISTERED,
        ACCEPTED,
        _PLAN_PUBLISHED,
        state("announced", "招标公告已发布", "announcement published", Phase.ANNOUNCEMENT),
        state("bidding", "投标中", "bidding", Phase.BIDDING),
        state("opening", "开标中", "opening", Phase.OPENING),
        state("opened", "开标结束（待评标）", "opened, awaiting evaluation", Phase.OPENING),
        state("evaluation", "评标中", "evaluation", Phase.EVALUATION),
        state(
            "reported",
            "评标报告已提交（待采购人确定）",
            "report submitted, awaiting confirmation",
            Phase.EVALUATION,
        ),
        *_result_states("中标"),
    )
    transitions = [
        *registration_steps(),
        plan_step("公开采购意向（采购活动开始前≥30日）"),
        *entry_steps(
            "publish_announcement",
            "announced",
            plan_rule=_INTENTION_RULE,
            plan_end_fact="announcement_at",
            checks=[check("gp.announcement_duration", "announcement_at", "announcement_end")],
            event="announcement.published",
            description_zh="发布招标公告（公告期限5个工作日）",
            records=["announcement_at", "announcement_end"],
        ),
        step(
            "issue_documents",
            "announced",
            "bidding",
            OWNER,
            checks=[
                check("gp.doc_availability", "sale_start", "sale_end"),
                check("gp.doc_issue_to_bid_deadline", "documents_issued_at", "bid_deadline"),
            ],
            event="documents.issued",
            description_zh="提供招标文件（≥5个工作日），发出至投标截止≥20日",
            records=["documents_issued_at", "sale_start", "sale_end", "bid_deadline"],
        ),
        step(
            "amend_documents",
            "bidding",
            "bidding",
            OWNER,
            checks=[now_until("gp.clarification_before_deadline", "bid_deadline")],
            event="documents.amended",
            description_zh="澄清或修改招标文件：距投标截止不足15日的，须先顺延投标截止时间（87号令 §27）",
            records=["bid_deadline"],
        ),
        *_close_bidding("opening", "投标截止，自动开始开标"),
        step(
            "finish_opening",
            "opening",
            "opened",
            OPERATOR,
            guards=["no_open_objection"],
            event="opening.finished",
            description_zh="解密、唱标完毕，开标记录由投标人代表签字确认",
            records=["valid_bids"],
        ),
        step(
            "declare_failed",
            "opening",
            "failed",
            {"operator", "tenderer", "agency"},
            guards=["valid_bids_below_min"],
            event="project.failed",
            description_zh="解密失败等原因致有效投标不足，宣布废标",
            records=["valid_bids"],
        ),
        *_evaluation_steps("opened", rounds=False, word="评标"),
        *_report_to_archive(silence_confirms=True, announcement_duration=True, deposit_refund=True),
        *_gp_objections(_CHALLENGE_DOCUMENTS),
    ]
    transitions.extend(side_steps(states, with_plan=True))
    return Procedure(
        code="gp_open",
        name_zh="公开招标（政府采购）",
        name_en="open tendering (government procurement)",
        sector="procurement",
        states=states,
        transitions=tuple(transitions),
        flags=ProcedureFlags(
            min_bids=3,
            allows_custodian_decryption=True,
            has_opening=True,
            has_result_announcement=True,
            has_tender_plan_or_intention=True,
            silence_confirms_award=True,
        ),
        description_zh="财政部87号令：公开招标，公告5个工作日，开标、评标、采购人确认、结果公告",
    )


def _non_tendering(
    code: str, word: str, doc_rule: str, *, rounds: bool, deposit_refund: bool, name_en: str, law: str
) -> Procedure:
    """Competitive negotiation, consultation and inquiry: one shape, their own limits and words."""
    states: tuple[StateDef, ...] = (
        DRAFT,
        REGISTERED,
        ACCEPTED,
        _PLAN_PUBLISHED,
        state("announced", f"{word}公告已发布", "announcement published", Phase.ANNOUNCEMENT),
        state("bidding", "响应文件递交中", "responses open", Phase.BIDDING),
        state("bids_closed", f"响应截止（待{word}）", "responses closed", Phase.BIDDING),
        state("evaluation", f"{word}中", f"{word} in progress", Phase.EVALUATION),
        state(
            "reported",
            "评审报告已提交（待采购人确定）",
            "report submitted, awaiting confirmation",
            Phase.EVALUATION,
        ),
        *_result_states("成交"),
    )
    transitions = [
        *registration_steps(),
        plan_step("公开采购意向（采购活动开始前≥30日）"),
        *entry_steps(
            "publish_announcement",
            "announced",
            plan_rule=_INTENTION_RULE,
            plan_end_fact="announcement_at",
            event="announcement.published",
            description_zh=f"发布{word}公告（或从供应商库随机抽取、专家书面推荐并发出邀请）",
            records=["announcement_at"],
        ),
        step(
            "issue_documents",
            "announced",
            "bidding",
            OWNER,
            checks=[check(doc_rule, "documents_issued_at", "bid_deadline")],
            event="documents.issued",
            description_zh=f"发出{word}文件，至提交响应文件截止不少于法定期限（{law}）",
            records=["documents_issued_at", "bid_deadline"],
        ),
        step(
            "amend_documents",
            "bidding",
            "bidding",
            OWNER,
            event="documents.amended",
            description_zh=f"澄清或修改{word}文件（须在首次响应截止前足够时间内通知全部供应商）",
            records=["bid_deadline"],
        ),
        *_close_bidding("bids_closed", "提交响应文件截止"),
        *_evaluation_steps("bids_closed", rounds=rounds, word=word),
        *_report_to_archive(silence_confirms=True, announcement_duration=False, deposit_refund=deposit_refund),
        *_gp_objections(_CHALLENGE_DOCUMENTS),
    ]
    transitions.extend(side_steps(states, with_plan=True))
    return Procedure(
        code=code,
        name_zh=f"竞争性{word}" if word != "询价" else "询价",
        name_en=name_en,
        sector="procurement",
        states=states,
        transitions=tuple(transitions),
        flags=ProcedureFlags(
            min_bids=3,
            has_result_announcement=True,
            has_tender_plan_or_intention=True,
            has_negotiation_rounds=rounds,
            silence_confirms_award=True,
        ),
        description_zh=f"{law}：不少于3家供应商；" + (f"多轮{word}后最终报价" if rounds else "一次报出不得更改的价格"),
    )


def _single_source() -> Procedure:
    states: tuple[StateDef, ...] = (
        DRAFT,
        REGISTERED,
        ACCEPTED,
        _PLAN_PUBLISHED,
        state("source_publicity", "单一来源公示中", "single-source publicity", Phase.ANNOUNCEMENT),
        state("negotiation", "协商中", "negotiation", Phase.EVALUATION),
        state(
            "reported",
            "协商情况记录已提交（待采购人确定）",
            "record submitted, awaiting confirmation",
            Phase.EVALUATION,
        ),
        *_result_states("成交"),
    )
    transitions = [
        *registration_steps(),
        plan_step("公开采购意向（采购活动开始前≥30日）"),
        *entry_steps(
            "publish_single_source",
            "source_publicity",
            plan_rule=_INTENTION_RULE,
            plan_end_fact="source_publicity_start",
            checks=[check("gp.single_source_publicity", "source_publicity_start", "source_publicity_end")],
            event="single_source.published",
            description_zh="公示单一来源采购理由和拟定供应商（≥5个工作日，74号令 §38）",
            records=["source_publicity_start", "source_publicity_end"],
        ),
        step(
            "end_publicity",
            "source_publicity",
            "negotiation",
            (),
            timed_at="source_publicity_end",
            guards=["no_open_objection"],
            event="single_source.publicity_ended",
            description_zh="公示期满，无未答复的异议，开始与唯一供应商协商",
        ),
        step(
            "declare_failed",
            "source_publicity",
            "failed",
            OWNER,
            guards=["objection_upheld"],
            event="project.failed",
            description_zh="异议成立，不得采用单一来源方式（改用其他采购方式重新采购）",
        ),
        step(
            "submit_report",
            "negotiation",
            "reported",
            EXPERT,
            guards=["has_valid_bid", "report_received"],
            checks=[_REPORT_TO_PURCHASER],
            event="evaluation.report_submitted",
            description_zh="协商小组提交协商情况记录（价格、质量等），参加人员签字",
            records=["report_received_at", "valid_bids"],
        ),
        step(
            "declare_failed",
            "negotiation",
            "failed",
            {"expert", "tenderer", "agency"},
            guards=["valid_bids_below_min"],
            event="project.failed",
            description_zh="协商未能达成合理价格，采购失败",
            records=["valid_bids"],
        ),
        *_report_to_archive(silence_confirms=False, announcement_duration=False, deposit_refund=False),
        *_gp_objections((["source_publicity"], [])),
    ]
    transitions.extend(side_steps(states, with_plan=True))
    return Procedure(
        code="gp_single_source",
        name_zh="单一来源采购",
        name_en="single-source procurement",
        sector="procurement",
        states=states,
        transitions=tuple(transitions),
        flags=ProcedureFlags(
            min_bids=1,
            has_result_announcement=True,
            has_tender_plan_or_intention=True,
            has_single_source_publicity=True,
        ),
        description_zh="74号令：公示单一来源理由后与唯一供应商协商",
    )


GP_OPEN: Final = _tendering()
GP_NEGOTIATION: Final = _non_tendering(
    "gp_negotiation",
    "谈判",
    "gp.negotiation_doc_to_submission",
    rounds=True,
    deposit_refund=True,
    name_en="competitive negotiation",
    law="财政部74号令",
)
GP_CONSULTATION: Final = _non_tendering(
    "gp_consultation",
    "磋商",
    "gp.consultation_doc_to_submission",
    rounds=True,
    deposit_refund=False,
    name_en="competitive consultation",
    law="财库〔2014〕214号",
)
GP_INQUIRY: Final = _non_tendering(
    "gp_inquiry",
    "询价",
    "gp.inquiry_doc_to_submission",
    rounds=False,
    deposit_refund=True,
    name_en="inquiry (request for quotations)",
    law="财政部74号令",
)
GP_SINGLE_SOURCE: Final = _single_source()
