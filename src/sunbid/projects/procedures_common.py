"""Building blocks shared by the procedure tables: role sets, helpers and the steps every procedure has.

Only data construction lives here; the tables are in :mod:`.procedures_engineering` and
:mod:`.procedures_procurement`, the rules of a valid table in :mod:`.procedure_model`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sunbid.projects.procedure_model import StateDef, TimeCheck, Transition
from sunbid.projects.procedure_vocabulary import GUARDS, NOW, RETURN, SYSTEM, Phase, Severity

__all__ = [
    "ACCEPTED",
    "ARCHIVED",
    "DRAFT",
    "FAILED",
    "OWNER",
    "REGISTERED",
    "SUSPENDED",
    "TERMINATED",
    "archive_step",
    "check",
    "contract_step",
    "entry_steps",
    "now_until",
    "objection_steps",
    "plan_step",
    "registration_steps",
    "side_steps",
    "since_until_now",
    "state",
    "step",
]

OWNER: Final = frozenset({"tenderer", "agency"})
OPERATOR: Final = frozenset({"operator"})
BIDDER: Final = frozenset({"bidder"})
EXPERT: Final = frozenset({"expert"})
#: Who may suspend or resume: the regulator (complaint, supervision instruction), the centre, the tenderer's
#: side (objection). Resuming is further guarded by ``nothing_pending``.
SUSPENDERS: Final = frozenset({"regulator", "operator", "tenderer", "agency"})
#: Who may terminate (终止): the tenderer or the centre.
TERMINATORS: Final = frozenset({"tenderer", "operator"})


def state(
    code: str,
    name_zh: str,
    name_en: str,
    phase: Phase,
    *,
    final: bool = False,
    initial: bool = False,
    watches: Iterable[TimeCheck] = (),
) -> StateDef:
    """A :class:`StateDef`, with ``watches`` as any iterable."""
    return StateDef(code, name_zh, name_en, phase, final=final, initial=initial, watches=tuple(watches))


def check(
    rule_id: str, start: str, end: str, *, warn: bool = False, required: bool = True, when: str | None = None
) -> TimeCheck:
    """A :class:`TimeCheck`; ``warn=True`` reports instead of refusing."""
    return TimeCheck(rule_id, start, end, Severity.WARN if warn else Severity.REFUSE, required, when)


def step(
    action: str,
    sources: str | Iterable[str],
    target: str,
    roles: Iterable[str],
    *,
    event: str,
    description_zh: str,
    guards: Iterable[str] = (),
    checks: Iterable[TimeCheck] = (),
    timed_at: str | None = None,
    records: Iterable[str] = (),
) -> Transition:
    """A :class:`Transition`. Guards are given by code; ``timed_at`` makes it a timed (system) transition."""
    return Transition(
        action=action,
        sources=frozenset({sources} if isinstance(sources, str) else sources),
        target=target,
        roles=frozenset({SYSTEM}) if timed_at is not None else frozenset(roles),
        guards=tuple(GUARDS[g] for g in guards),
        time_rules=tuple(checks),
        event=event,
        timed=timed_at is not None,
        due_fact=timed_at,
        description_zh=description_zh,
        records=tuple(records),
    )


# --- states every procedure has --------------------------------------------------------------------------

DRAFT: Final = state("draft", "草稿", "draft", Phase.REGISTRATION, initial=True)
REGISTERED: Final = state("registered", "已登记（待受理）", "registered, awaiting acceptance", Phase.REGISTRATION)
ACCEPTED: Final = state("accepted", "已受理", "accepted", Phase.REGISTRATION)
SUSPENDED: Final = state("suspended", "暂停", "suspended", Phase.EXCEPTION)
FAILED: Final = state("failed", "失败（流标/废标）", "failed", Phase.EXCEPTION)
TERMINATED: Final = state("terminated", "已终止", "terminated", Phase.CLOSED, final=True)
ARCHIVED: Final = state("archived", "已归档", "archived", Phase.CLOSED, final=True)


# --- steps every procedure has ---------------------------------------------------------------------------


def registration_steps() -> list[Transition]:
    """Draft → registered (登记) → accepted (受理), or back to draft (退回)."""
    return [
        step(
            "register",
            "draft",
            "registered",
            OWNER,
            event="project.registered",
            description_zh="招标人或代理机构提交项目登记",
        ),
        step(
            "return_registration",
            "registered",
            "draft",
            OPERATOR,
            event="project.registration_returned",
            description_zh="交易中心退回登记，补正后重新提交",
        ),
        step(
            "accept",
            "registered",
            "accepted",
            OPERATOR,
            guards=["registration_complete"],
            event="project.accepted",
            description_zh="交易中心受理项目；记录绿色通道、容缺受理标记（不缩短法定时限）",
            records=["documents_complete", "accept_with_promise", "green_channel"],
        ),
    ]


def plan_step(description_zh: str) -> Transition:
    """Accepted → plan_published: the tender plan (招标计划) or procurement intention (采购意向)."""
    return step(
        "publish_plan",
        "accepted",
        "plan_published",
        OWNER,
        event="plan.published",
        description_zh=description_zh,
        records=["plan_published_at"],
    )


def entry_steps(
    action: str,
    target: str,
    *,
    plan_rule: str | None,
    plan_end_fact: str,
    event: str,
    description_zh: str,
    guards: Iterable[str] = (),
    checks: Iterable[TimeCheck] = (),
    records: Iterable[str] = (),
    roles: Iterable[str] = OWNER,
) -> list[Transition]:
    """The first public step (announcement, invitations, single-source publicity).

    With a plan rule: from ``accepted`` when no plan is required, and from ``plan_published`` checking the
    plan's lead time (``plan_published_at`` → ``plan_end_fact``). Without: from ``accepted`` only.
    """
    guards, checks, records, roles = tuple(guards), tuple(checks), tuple(records), tuple(roles)
    if plan_rule is None:
        return [
            step(
                action,
                "accepted",
                target,
                roles,
                guards=guards,
                checks=checks,
                event=event,
                description_zh=description_zh,
                records=records,
            )
        ]
    return [
        step(
            action,
            "accepted",
            target,
            roles,
            guards=("plan_not_required", *guards),
            checks=checks,
            event=event,
            description_zh=f"{description_zh}（无须事先公开计划/意向的项目）",
            records=records,
        ),
        step(
            action,
            "plan_published",
            target,
            roles,
            guards=guards,
            checks=(check(plan_rule, "plan_published_at", plan_end_fact), *checks),
            event=event,
            description_zh=f"{description_zh}（计划/意向公开期满后）",
            records=records,
        ),
    ]


def objection_steps(
    raise_from: Iterable[tuple[Iterable[str], Iterable[TimeCheck]]],
    reply_checks: Iterable[TimeCheck],
) -> list[Transition]:
    """Objections (异议) / challenges (质疑): raising one suspends the procedure until it is answered.

    ``raise_from``: groups of source states with the filing limits that apply there. Answering the last open
    objection (``nothing_pending``) returns to the state the procedure left; answering while something is
    still open keeps it suspended. ``reply_checks`` are the reply limits (reported when late, not refused:
    the answer is due all the same).
    """
    reply_checks = tuple(reply_checks)
    steps = [
        step(
            "raise_objection",
            sources,
            "suspended",
            BIDDER,
            checks=checks,
            event="objection.raised",
            description_zh="潜在投标人或其他利害关系人提出异议（质疑），程序暂停至答复",
            records=["objection_raised_at", "open_objections"],
        )
        for sources, checks in raise_from
    ]
    steps.append(
        step(
            "raise_objection",
            "suspended",
            "suspended",
            BIDDER,
            event="objection.raised",
            description_zh="暂停期间又提出异议（质疑）",
            records=["objection_raised_at", "open_objections"],
        )
    )
    steps.append(
        step(
            "answer_objection",
            "suspended",
            RETURN,
            OWNER,
            guards=["nothing_pending"],
            checks=reply_checks,
            event="objection.answered",
            description_zh="答复最后一个异议（质疑），程序恢复到暂停前的状态",
            records=["open_objections"],
        )
    )
    steps.append(
        step(
            "answer_objection",
            "suspended",
            "suspended",
            OWNER,
            guards=["something_pending"],
            checks=reply_checks,
            event="objection.answered",
            description_zh="答复异议（质疑），但仍有未处理事项，继续暂停",
            records=["open_objections"],
        )
    )
    return steps


def contract_step(rule_id: str) -> Transition:
    """Awarded → contracted: the contract is signed online by both parties (the second signature moves it)."""
    return step(
        "sign_contract",
        "awarded",
        "contracted",
        {"tenderer", "bidder"},
        guards=["contract_signed_by_both"],
        checks=[check(rule_id, "award_notice_at", "contract_signed_at", warn=True)],
        event="contract.signed",
        description_zh="招标人（采购人）与中标（成交）人在线签订合同",
        records=["contract_signed_at"],
    )


def archive_step(guards: Iterable[str], checks: Iterable[TimeCheck]) -> Transition:
    """Contracted → archived: one-click electronic archive (电子档案一键归集)."""
    return step(
        "archive",
        "contracted",
        "archived",
        {"operator", "agency", "tenderer"},
        guards=guards,
        checks=checks,
        event="project.archived",
        description_zh="合同公开、保证金退还后，电子档案一键归档",
        records=["contract_published_at", "deposits_refunded_at"],
    )


def side_steps(states: Iterable[StateDef], *, with_plan: bool) -> list[Transition]:
    """Suspend / resume, terminate (终止) from every non-final state, and re-tender from ``failed``."""
    states = tuple(states)
    open_states = frozenset(s.code for s in states if not s.final)
    suspendable = open_states - {"draft", "registered"}
    steps = [
        step(
            "suspend",
            suspendable,
            "suspended",
            SUSPENDERS,
            event="project.suspended",
            description_zh="因投诉、监督指令或其他原因暂停",
            records=["open_complaints", "open_instructions"],
        ),
        step(
            "resume",
            "suspended",
            RETURN,
            SUSPENDERS,
            guards=["nothing_pending"],
            event="project.resumed",
            description_zh="异议、投诉和监督指令处理完毕后恢复到暂停前的状态",
            records=["suspended_from"],
        ),
        step(
            "terminate",
            open_states,
            "terminated",
            TERMINATORS,
            event="project.terminated",
            description_zh="招标人或交易中心终止项目（终止后退还保证金及利息）",
        ),
    ]

    def retender(target: str, guards: Iterable[str], description_zh: str) -> Transition:
        return step(
            "retender",
            "failed",
            target,
            OWNER,
            guards=guards,
            event="project.retendered",
            description_zh=description_zh,
            records=["bids_received", "valid_bids"],
        )

    if with_plan:
        steps.append(
            retender("plan_published", ["plan_already_published"], "重新招标（采购）：计划/意向已公开，重新发布")
        )
        steps.append(retender("accepted", ["plan_not_published"], "重新招标（采购）"))
    else:
        steps.append(retender("accepted", [], "重新招标（采购）"))
    return steps


def now_until(rule_id: str, deadline_fact: str) -> TimeCheck:
    """A limit measured from the attempt to a deadline (an amendment ≥15 days before the bid deadline)."""
    return check(rule_id, NOW, deadline_fact)


def since_until_now(rule_id: str, start_fact: str, *, warn: bool = False, when: str | None = None) -> TimeCheck:
    """A limit measured from a recorded fact to the attempt (a reply within 3 days of the objection)."""
    return check(rule_id, start_fact, NOW, warn=warn, when=when)
