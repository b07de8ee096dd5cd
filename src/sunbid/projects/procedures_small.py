"""Small and scattered projects (小额零星): a simplified online quotation.

The announcement opens the quotation at once; when it closes, the lowest valid quotation wins and the result
is published with the award (no candidate publicity, no plan). Their short time limits are local
configuration: no rule id exists for them in the rule book yet, so none is consulted (add one there and a
``check`` here when a centre sets them).
"""

from __future__ import annotations

from typing import Final

from sunbid.projects.procedure_model import Procedure, ProcedureFlags, StateDef, Transition
from sunbid.projects.procedure_vocabulary import Phase
from sunbid.projects.procedures_common import (
    ACCEPTED,
    ARCHIVED,
    DRAFT,
    FAILED,
    OWNER,
    REGISTERED,
    SUSPENDED,
    TERMINATED,
    archive_step,
    entry_steps,
    objection_steps,
    registration_steps,
    side_steps,
    state,
    step,
)

__all__ = ["SMALL"]


def _small() -> Procedure:
    states: tuple[StateDef, ...] = (
        DRAFT,
        REGISTERED,
        ACCEPTED,
        state("quoting", "报价中", "quotation open", Phase.BIDDING),
        state("quotes_closed", "报价截止（待确定成交）", "quotation closed", Phase.EVALUATION),
        state("awarded", "已确定成交（待签合同）", "awarded, awaiting contract", Phase.AWARD),
        state("contracted", "合同已签订（待归档）", "contract signed, awaiting archive", Phase.CONTRACT),
        ARCHIVED,
        SUSPENDED,
        FAILED,
        TERMINATED,
    )
    transitions = [
        *registration_steps(),
        *entry_steps(
            "publish_announcement",
            "quoting",
            plan_rule=None,
            plan_end_fact="announcement_at",
            event="announcement.published",
            description_zh="发布网上询价（竞价）公告，同时开放报价",
            records=["announcement_at", "documents_issued_at", "bid_deadline"],
        ),
        step(
            "amend_documents",
            "quoting",
            "quoting",
            OWNER,
            event="documents.amended",
            description_zh="修改询价要求（可顺延报价截止时间）",
            records=["bid_deadline"],
        ),
        step(
            "close_bidding",
            "quoting",
            "quotes_closed",
            (),
            timed_at="bid_deadline",
            guards=["bids_at_least_min"],
            event="bidding.closed",
            description_zh="报价截止",
            records=["bids_received"],
        ),
        step(
            "close_bidding",
            "quoting",
            "failed",
            (),
            timed_at="bid_deadline",
            guards=["bids_below_min"],
            event="bidding.failed",
            description_zh="报价供应商不足，项目失败",
            records=["bids_received"],
        ),
        step(
            "confirm_award",
            "quotes_closed",
            "awarded",
            OWNER,
            guards=["valid_bids_at_least_min", "award_confirmed", "award_notice_issued"],
            event="award.confirmed",
            description_zh="按最低有效报价确定成交供应商，公布成交结果（不公示候选人）",
            records=["award_confirmed_at", "award_notice_at", "valid_bids"],
        ),
        step(
            "declare_failed",
            "quotes_closed",
            "failed",
            OWNER,
            guards=["valid_bids_below_min"],
            event="project.failed",
            description_zh="有效报价不足，项目失败",
            records=["valid_bids"],
        ),
        _small_contract_step(),
        archive_step(["deposits_settled"], []),
        *objection_steps([(["quoting", "awarded"], [])], []),
    ]
    transitions.extend(side_steps(states, with_plan=False))
    return Procedure(
        code="small",
        name_zh="小额零星采购",
        name_en="small and scattered purchase",
        sector="procurement",
        states=states,
        transitions=tuple(transitions),
        flags=ProcedureFlags(min_bids=3),
        description_zh="小额零星项目：网上询价（报价），简化流程，不公示候选人；时限按本地配置",
    )


def _small_contract_step() -> Transition:
    """The contract of a small project: signed online by both parties; no national time rule applies."""
    return step(
        "sign_contract",
        "awarded",
        "contracted",
        {"tenderer", "bidder"},
        guards=["contract_signed_by_both"],
        event="contract.signed",
        description_zh="采购人与成交供应商在线签订合同",
        records=["contract_signed_at"],
    )


SMALL: Final = _small()
