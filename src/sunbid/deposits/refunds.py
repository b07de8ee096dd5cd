"""Automatic refunds (免申即退, M-2): planned by the lifecycle, paid exactly once through the outbox.

**Planning.** The lifecycle hook sees the award notice (``confirm_award``), the contract (``sign_contract``)
and the ends of a tender (terminated, failed); it only enqueues a ``deposit.settle`` job, because the winner is
recorded after the step (the job runs after commit, when it is known). The job plans one refund per
sub-account: losers and withdrawn bidders after the award notice, the winner after the contract, everybody
when the tender ends; rejected credits (wrong payer, late, unknown account) are returned at once.

**Paying exactly once.** Each refund is a state machine (:data:`~sunbid.deposits.domain.REFUND_TRANSITIONS`)
driven by a ``deposit.refund`` job:

1. ``planned``/``retried`` → ``sent``: the amount (principal + interest to today + any late fee) is fixed and
   committed *before* the bank sees the order;
2. the bank is first **queried** by our idempotency key (a previous run may have paid and died), and only if it
   never saw the order is the transfer sent;
3. the outcome is recorded: ``confirmed`` with the ledger postings, or ``failed`` (refused) and at once
   ``retried`` with a new key up to ``max_transfer_attempts``, after which the refund is listed as unclaimed
   (历史沉淀保证金) for the operator to clear. A timeout leaves the refund ``sent``: the outbox runs the job
   again with backoff, and step 2 finds out what happened.

A crash between any two steps re-runs the job from the stored state; nothing is paid twice or lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from sunbid.bidding.models import Bid
from sunbid.core.calendar import local_date
from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.deposits import domain
from sunbid.deposits.bank import TransferOrder, TransferRefused, TransferResult
from sunbid.deposits.domain import RefundReason, RefundState
from sunbid.deposits.models import DepositAccount, DepositCredit, DepositRefund, DepositRequirement
from sunbid.deposits.service import DepositSystem, accounts_of, is_opened, post
from sunbid.identity.domain import Role
from sunbid.identity.service import Actor
from sunbid.platform.context import RequestContext
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project
from sunbid.projects.timing import checker_for, project_facts

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

log = logging.getLogger("sunbid.deposits")

SETTLE_TOPIC = "deposit.settle"
REFUND_TOPIC = "deposit.refund"
WORKER_CONTEXT = RequestContext(source="worker", actor_name="deposits")
#: Final states of a tender in which every deposit goes back.
ENDED_STATES = frozenset({"terminated", "failed"})

Fault = Callable[[str], None]


def _no_fault(step: str) -> None:
    return None


# --- planning ------------------------------------------------------------------------------------------------


def _enqueue_refund(uow: UnitOfWork, refund: DepositRefund) -> None:
    uow.enqueue(REFUND_TOPIC, {"refund_id": refund.id}, dedupe_key=f"refund:{refund.transfer_key}")


def plan_return(uow: UnitOfWork, system: DepositSystem, credit: DepositCredit) -> DepositRefund:
    """Send a rejected credit back to the account it came from (principal only, at once)."""
    purpose = f"credit:{credit.id}"
    existing = uow.session.scalar(select(DepositRefund).where(DepositRefund.purpose == purpose))
    if existing is not None:
        return existing
    project_id = None
    if credit.account_id is not None:
        acc = uow.session.get(DepositAccount, credit.account_id)
        project_id = None if acc is None else acc.project_id
    refund = DepositRefund(
        purpose=purpose,
        account_id=None,
        credit_id=credit.id,
        project_id=project_id,
        reason=RefundReason.RETURNED.value,
        state=RefundState.PLANNED.value,
        attempt=1,
        transfer_key=f"tmp-{purpose}",
        to_account=credit.payer_account,
        to_name=credit.payer_name,
        to_bank=credit.payer_bank,
        principal=Decimal(credit.amount),
        due_date=local_date(uow.now),
        planned_at=uow.now,
    )
    uow.session.add(refund)
    uow.session.flush()
    refund.transfer_key = domain.transfer_key(refund.id, refund.attempt)
    _enqueue_refund(uow, refund)
    return refund


def held_credits(uow: UnitOfWork, account_id: int) -> list[DepositCredit]:
    """The credits the sub-account holds: accepted, and not sent back on their own (a notice after settlement)."""
    returned = select(DepositRefund.credit_id).where(DepositRefund.credit_id.is_not(None))
    return list(
        uow.session.scalars(
            select(DepositCredit)
            .where(
                DepositCredit.account_id == account_id,
                DepositCredit.verdict == "accepted",
                DepositCredit.id.not_in(returned),
            )
            .order_by(DepositCredit.booked_at, DepositCredit.id)
        )
    )


def plan_account_refund(
    uow: UnitOfWork, system: DepositSystem, project: Project, account: DepositAccount, reason: RefundReason
) -> DepositRefund | None:
    """Plan the refund of one sub-account (once); an account with no cash is settled at once (guarantee freed)."""
    if account.status != "open":
        return None
    credits = held_credits(uow, account.id)
    if not credits:
        account.status = "settled"
        return None
    rounds = uow.session.scalar(
        select(func.count()).select_from(DepositRefund).where(DepositRefund.account_id == account.id)
    )
    purpose = f"account:{account.id}:{(rounds or 0) + 1}"  # one refund per round (a re-tender is a new round)
    rule = system.rules.refund_rule(project.sector, reason)
    calendar = checker_for(uow.session).calendar
    first = credits[0]
    refund = DepositRefund(
        purpose=purpose,
        account_id=account.id,
        credit_id=None,
        project_id=project.id,
        reason=reason.value,
        state=RefundState.PLANNED.value,
        attempt=1,
        transfer_key=f"tmp-{purpose}",
        to_account=first.payer_account,  # the original account (the basic account)
        to_name=first.payer_name,
        to_bank=first.payer_bank,
        principal=sum((Decimal(c.amount) for c in credits), domain.ZERO),
        due_date=domain.refund_due(rule, uow.now, calendar),
        planned_at=uow.now,
    )
    uow.session.add(refund)
    uow.session.flush()
    refund.transfer_key = domain.transfer_key(refund.id, refund.attempt)
    account.status = "refunding"
    _enqueue_refund(uow, refund)
    uow.audit(
        "deposit:refund_planned",
        subject_type="project",
        subject_id=project.id,
        data={
            "refund_id": refund.id,
            "account_id": account.id,
            "reason": reason.value,
            "due": refund.due_date.isoformat() if refund.due_date else None,
        },
    )
    return refund


def _withdrew(uow: UnitOfWork, account: DepositAccount) -> bool:
    """The bidder withdrew its bid on the section and has no standing bid."""
    statuses = set(
        uow.session.scalars(
            select(Bid.status).where(Bid.section_id == account.section_id, Bid.org_id == account.org_id)
        )
    )
    return "withdrawn" in statuses and "submitted" not in statuses


def settle(uow: UnitOfWork, system: DepositSystem, project_id: int, trigger: str) -> list[int]:
    """Plan the refunds a lifecycle step calls for; returns the refund ids planned (idempotent)."""
    project = projects.get_project(uow, project_id, lock=True)
    planned: list[int] = []
    for account in accounts_of(uow, project.id):
        reason: RefundReason | None = None
        if trigger == "ended":
            reason = RefundReason.TERMINATED
        elif trigger == "award" and project.winner_org_id is not None and account.org_id != project.winner_org_id:
            reason = RefundReason.WITHDRAWN if _withdrew(uow, account) else RefundReason.LOST
        elif trigger == "contract":
            reason = RefundReason.WON if account.org_id == project.winner_org_id else RefundReason.LOST
        if reason is not None:
            refund = plan_account_refund(uow, system, project, account, reason)
            if refund is not None:
                planned.append(refund.id)
    check_settled(uow, project.id)
    return planned


def check_settled(uow: UnitOfWork, project_id: int) -> bool:
    """Record ``deposits_refunded_at`` once every sub-account of the project is refunded or kept."""
    project = projects.get_project(uow, project_id)
    facts = project_facts(project, uow.now)
    if facts.deposits_refunded_at is not None:
        return True
    if uow.session.scalar(select(DepositRequirement.id).where(DepositRequirement.project_id == project.id)) is None:
        return False
    if facts.contract_signed_at is None and project.state not in ENDED_STATES:
        return False  # the winner's deposit is only due back after the contract
    if any(a.status not in ("settled", "forfeited") for a in accounts_of(uow, project.id)):
        return False
    open_returns = uow.session.scalar(
        select(DepositRefund.id).where(
            DepositRefund.project_id == project.id, DepositRefund.state != RefundState.CONFIRMED.value
        )
    )
    if open_returns is not None:
        return False
    projects.update_facts(uow, project.id, "deposits settled", deposits_refunded_at=uow.now)
    return True


def transition_hook(uow: UnitOfWork, project: Project, from_state: str, to_state: str, action: str) -> None:
    """Lifecycle hook: the award notice, the contract and the end of a tender trigger refunds (as jobs)."""
    trigger = None
    if action == "confirm_award":
        trigger = "award"
    elif action == "sign_contract":
        trigger = "contract"
    elif to_state in ENDED_STATES and from_state not in ENDED_STATES:
        trigger = "ended"
    if trigger is None:
        return
    if uow.session.scalar(select(DepositAccount.id).where(DepositAccount.project_id == project.id).limit(1)) is None:
        return
    uow.enqueue(
        SETTLE_TOPIC,
        {"project_id": project.id, "trigger": trigger},
        dedupe_key=f"deposit-settle:{project.id}:{trigger}:{project.version}",  # once per step, even after a re-tender
    )


# --- paying ----------------------------------------------------------------------------------------------------


def _lock(uow: UnitOfWork, refund_id: int) -> DepositRefund:
    stmt = select(DepositRefund).where(DepositRefund.id == refund_id)
    if uow.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    refund = uow.session.scalar(stmt)
    if refund is None:
        raise NotFound("deposit.no_refund", f"退款 {refund_id} 不存在。", f"Refund {refund_id} not found.")
    return refund


def _fix_amount(uow: UnitOfWork, system: DepositSystem, refund: DepositRefund) -> None:
    """Principal plus interest per credit up to today, plus the late fee in procurement."""
    today = local_date(uow.now)
    if refund.account_id is None:
        refund.interest, refund.fee, refund.amount = domain.ZERO, domain.ZERO, Decimal(refund.principal)
        return
    credits = [
        domain.CreditIn(Decimal(c.amount), local_date(c.booked_at)) for c in held_credits(uow, refund.account_id)
    ]
    project = projects.get_project(uow, refund.project_id) if refund.project_id is not None else None
    amount = domain.refund_amount(
        system.rules,
        credits,
        today,
        due=refund.due_date,
        procurement=project is not None and project.sector == "procurement",
    )
    refund.principal, refund.interest, refund.fee, refund.amount = (
        amount.principal,
        amount.interest,
        amount.fee,
        amount.total,
    )


def execute_refund(platform: Platform, system: DepositSystem, refund_id: int, *, fault: Fault = _no_fault) -> str:
    """Drive one refund as far as it goes now; returns its state. Safe to run again at any point."""
    with platform.uow(WORKER_CONTEXT) as uow:
        refund = _lock(uow, refund_id)
        if refund.state in (RefundState.PLANNED, RefundState.RETRIED):
            _fix_amount(uow, system, refund)
            refund.state = domain.advance(refund.state, RefundState.SENT).value
            refund.sent_at = uow.now
            uow.audit(
                "deposit:refund_sent",
                subject_type="deposit_refund",
                subject_id=refund.id,
                data={"key": refund.transfer_key, "amount": str(refund.amount)},
            )
            fault("before_sent_commit")
            uow.commit()
        elif refund.state != RefundState.SENT:
            return refund.state
        order = TransferOrder(
            key=refund.transfer_key,
            to_account=refund.to_account,
            to_name=refund.to_name,
            to_bank=refund.to_bank,
            amount=Decimal(refund.amount or 0),
            memo=f"投标保证金退还 {refund.purpose}",
        )
    fault("after_sent")
    result = system.bank.query_transfer(order.key)
    if result is None:
        try:
            result = system.bank.transfer(order)
        except TransferRefused as exc:
            result = TransferResult(order.key, "refused", None, None, reason=exc.reason)
        # TransferTimeout propagates: the refund stays SENT and the outbox retries (query first)
    fault("after_bank")
    with platform.uow(WORKER_CONTEXT) as uow:
        refund = _lock(uow, refund_id)
        if refund.state != RefundState.SENT or refund.transfer_key != order.key:
            return refund.state  # another run recorded it
        if result.status == "paid":
            _confirm(uow, refund, result)
        else:
            _refused(uow, system, refund, result.reason or "refused")
        fault("before_result_commit")
        uow.commit()
        return refund.state


def _confirm(uow: UnitOfWork, refund: DepositRefund, result: TransferResult) -> None:
    refund.state = domain.advance(refund.state, RefundState.CONFIRMED).value
    refund.confirmed_at, refund.bank_ref, refund.last_error = uow.now, result.bank_ref, None
    booked = result.booked_at or uow.now
    key = refund.transfer_key
    if refund.account_id is None:
        post(
            uow,
            f"pay:{key}:principal",
            domain.SUSPENSE,
            domain.BANK,
            Decimal(refund.principal),
            kind="return",
            booked_at=booked,
            bank_ref=result.bank_ref,
        )
    else:
        sub = domain.sub_account(refund.account_id)
        post(
            uow,
            f"pay:{key}:principal",
            sub,
            domain.BANK,
            Decimal(refund.principal),
            kind="refund",
            booked_at=booked,
            account_id=refund.account_id,
            bank_ref=result.bank_ref,
        )
        post(
            uow,
            f"pay:{key}:interest",
            domain.INTEREST,
            domain.BANK,
            Decimal(refund.interest or 0),
            kind="interest",
            booked_at=booked,
            account_id=refund.account_id,
            bank_ref=result.bank_ref,
        )
        post(
            uow,
            f"pay:{key}:fee",
            domain.FEES,
            domain.BANK,
            Decimal(refund.fee or 0),
            kind="fee",
            booked_at=booked,
            account_id=refund.account_id,
            bank_ref=result.bank_ref,
        )
        account = uow.session.get(DepositAccount, refund.account_id)
        if account is not None and account.status == "refunding":
            account.status = "settled"
    uow.audit(
        "deposit:refund_confirmed",
        subject_type="deposit_refund",
        subject_id=refund.id,
        data={
            "key": key,
            "bank_ref": result.bank_ref,
            "amount": str(refund.amount),
            "interest": str(refund.interest),
            "fee": str(refund.fee),
        },
    )
    if refund.project_id is not None:
        check_settled(uow, refund.project_id)


def _refused(uow: UnitOfWork, system: DepositSystem, refund: DepositRefund, reason: str) -> None:
    refund.state = domain.advance(refund.state, RefundState.FAILED).value
    refund.last_error = reason[:500]
    uow.audit(
        "deposit:refund_refused",
        subject_type="deposit_refund",
        subject_id=refund.id,
        data={"key": refund.transfer_key, "reason": reason[:200]},
    )
    if refund.attempt < system.rules.max_transfer_attempts:
        _retry(uow, refund)
    else:
        refund.unclaimed = True


def _retry(uow: UnitOfWork, refund: DepositRefund) -> None:
    refund.state = domain.advance(refund.state, RefundState.RETRIED).value
    refund.attempt += 1
    refund.transfer_key = domain.transfer_key(refund.id, refund.attempt)
    _enqueue_refund(uow, refund)


# --- unclaimed (历史沉淀保证金) ----------------------------------------------------------------------------


def _operator(actor: Actor | None) -> None:
    """Centre staff only; ``None`` is the ``sunbid deposit`` command run on the server itself."""
    if actor is None:
        return
    if not any(m.role in (Role.OPERATOR, Role.ADMIN) for m in actor.principal.memberships):
        raise Forbidden("deposit.operator_only", "只有交易中心工作人员可以办理。", "Centre staff only.")


def unclaimed(uow: UnitOfWork, actor: Actor | None, *, older_than: date | None = None) -> list[dict[str, Any]]:
    """Refunds the bank refused after every attempt (and not cleared yet), oldest first.

    Rows of projects not yet opened name neither the project nor the payee (who paid reveals who bids).
    """
    _operator(actor)
    rows = uow.session.scalars(
        select(DepositRefund)
        .where(DepositRefund.unclaimed.is_(True))
        .order_by(DepositRefund.planned_at, DepositRefund.id)
    )
    out: list[dict[str, Any]] = []
    for r in rows:
        if older_than is not None and local_date(r.planned_at) >= older_than:
            continue
        sealed = False
        if r.project_id is not None:
            sealed = not is_opened(uow, projects.get_project(uow, r.project_id))
        out.append(
            {
                "id": r.id,
                "project_id": None if sealed else r.project_id,
                "reason": r.reason,
                "amount": str(r.amount if r.amount is not None else r.principal),
                "to_name": "（开标前保密）" if sealed else r.to_name,
                "to_account": "****" if sealed else r.to_account,
                "planned_at": r.planned_at.isoformat(),
                "last_error": r.last_error,
                "attempts": r.attempt,
                "sealed": sealed,
            }
        )
    uow.audit("deposit:unclaimed_list", subject_type="deposit", data={"rows": len(out)})
    return out


def clear_unclaimed(
    uow: UnitOfWork,
    actor: Actor | None,
    refund_id: int,
    *,
    note: str,
    to_account: str | None = None,
    to_name: str | None = None,
    to_bank: str | None = None,
) -> DepositRefund:
    """Clear an unclaimed refund (清退): pay it again, to corrected payee details if given; audited."""
    _operator(actor)
    if not note.strip():
        raise ValidationFailed("deposit.clear_note_required", "请写明清退依据。", "State the grounds for clearing.")
    refund = _lock(uow, refund_id)
    if not refund.unclaimed:
        raise Conflict("deposit.not_unclaimed", "该款项不是待清退的沉淀保证金。", "This refund is not unclaimed.")
    before = {"to_account": refund.to_account, "to_name": refund.to_name}
    if to_account:
        number = domain.normalise_account_no(to_account)
        if not number.isdigit() or not 8 <= len(number) <= 32:
            raise ValidationFailed("deposit.bad_account_no", "银行账号须为8–32位数字。", "8–32 digits.")
        refund.to_account = number
    if to_name:
        refund.to_name = to_name.strip()
    if to_bank:
        refund.to_bank = to_bank.strip()
    refund.unclaimed = False
    refund.cleared_at, refund.clear_note = uow.now, note.strip()
    refund.cleared_by_user_id = None if actor is None else actor.user_id
    _retry(uow, refund)
    uow.audit(
        "deposit:unclaimed_clear",
        subject_type="deposit_refund",
        subject_id=refund.id,
        data={
            "note": note.strip(),
            "before": before,
            "to_account_tail": refund.to_account[-4:],
            "key": refund.transfer_key,
        },
    )
    return refund
