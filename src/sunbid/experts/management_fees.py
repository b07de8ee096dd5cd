"""Expert fees 评标费 (SPEC E-8): computed by the centre's scale, paid online exactly once, with a ledger.

**Computing.** A fee is one expert's for one evaluation (a draw whose panel is unsealed and which he
confirmed); the amount comes from :func:`sunbid.experts.fees.compute_fee` with the centre's scale
(``settings["expert_fees"]["scale"]``) and the working calendar, and is stored with its breakdown and the scale
used. It may be recomputed until approved.

**Paying exactly once.** Approval books the accrual (debit the payer — the centre, or the project's tenderer when
``settings["expert_fees"]["payer"] == "tenderer"`` — credit the expert's payable) and enqueues an
``expert.fee_pay`` job. The job drives a state machine (:data:`FEE_TRANSITIONS`) like the deposit refunds:

1. ``approved`` → ``sending`` is committed *before* the gateway sees the order;
2. the gateway is first **queried** by our key (a previous run may have paid and died) and only if it never saw
   the order is it sent;
3. the result is recorded: ``paid`` with the ledger posting (debit payable, credit the payout account), or
   ``refused`` and at once a new attempt with a new key, up to :data:`MAX_ATTEMPTS`, after which the fee waits
   (``failed``) for the operator to correct the bank account and :func:`retry_fee`. A timeout leaves the fee
   ``sending``: the outbox runs the job again with backoff and step 2 finds out what happened.

The gateway's asynchronous callbacks (:func:`apply_callback`) are applied idempotently by key: duplicates
and late ones change nothing. A crash between any two steps re-runs the job from the stored state.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from sunbid.core.errors import Conflict, NotFound, ValidationFailed
from sunbid.experts import fees as fee_rules
from sunbid.experts.management import WORKER_CONTEXT, _centre_settings, _expert, require_manage, served
from sunbid.experts.models import Expert, ExpertDrawHistory
from sunbid.experts.models_management import ExpertBankAccount, ExpertFee, ExpertFeeLedgerEntry
from sunbid.experts.payments import (
    PaymentCallback,
    PaymentGateway,
    PaymentOrder,
    PaymentRefused,
    PaymentResult,
    PaymentSimulator,
    verify_callback,
)
from sunbid.experts.pool import PoolKeys
from sunbid.experts.sealing import open_pii, seal_pii
from sunbid.platform.context import RequestContext
from sunbid.projects.models import Project
from sunbid.projects.timing import checker_for

if TYPE_CHECKING:
    from sunbid.identity.service import Actor
    from sunbid.platform.container import Platform
    from sunbid.platform.uow import UnitOfWork

__all__ = [
    "FEE_TRANSITIONS",
    "PAY_TOPIC",
    "apply_callback",
    "approve_fee",
    "compute_fee",
    "compute_panel_fees",
    "execute_payment",
    "gateway",
    "install_gateway",
    "ledger_balances",
    "list_fees",
    "register_bank_account",
    "retry_fee",
]

PAY_TOPIC = "expert.fee_pay"
MAX_ATTEMPTS: Final = 3
PAYOUT_ACCOUNT: Final = "bank:expert_fees"
#: Allowed fee state changes, as data.
FEE_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = {
    "computed": frozenset({"computed", "approved"}),
    "approved": frozenset({"sending"}),
    "sending": frozenset({"paid", "refused"}),
    "refused": frozenset({"approved", "failed"}),
    "failed": frozenset({"approved"}),
    "paid": frozenset(),
}

Fault = Callable[[str], None]


def _no_fault(step: str) -> None:
    return None


def _advance(fee: ExpertFee, to: str) -> None:
    if to not in FEE_TRANSITIONS[fee.state]:
        raise Conflict(
            "expert_fee.bad_state",
            f"评标费状态不能从 {fee.state} 变为 {to}",
            f"a fee cannot go from {fee.state} to {to}",
        )
    fee.state = to


def _key(fee_id: int, attempt: int) -> str:
    return f"EF{fee_id:010d}A{attempt:02d}"


def _payable(code: str) -> str:
    return f"payable:expert:{code}"


# --- configuration and the gateway ---------------------------------------------------------------------------


def fee_settings(session: Session) -> tuple[fee_rules.FeeScale, str]:
    """The centre's scale and who bears the fee (``centre`` or ``tenderer``)."""
    local = _centre_settings(session, "expert_fees")
    scale = fee_rules.scale_from_mapping(local.get("scale") or {})
    payer = str(local.get("payer", "centre"))
    if payer not in ("centre", "tenderer"):
        raise ValidationFailed("expert_fee.bad_payer", "评标费承担方须为 centre 或 tenderer", "payer: centre|tenderer")
    return scale, payer


_GATEWAYS: weakref.WeakKeyDictionary[Platform, PaymentGateway] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def gateway(platform: Platform) -> PaymentGateway:
    """The platform's payout gateway: the simulator unless a real one was installed."""
    with _LOCK:
        found = _GATEWAYS.get(platform)
        if found is None:
            found = _GATEWAYS[platform] = PaymentSimulator(platform.clock)
        return found


def install_gateway(platform: Platform, gw: PaymentGateway) -> None:
    """Use ``gw`` (a real payout interface, or a configured simulator) for ``platform``."""
    with _LOCK:
        _GATEWAYS[platform] = gw


# --- bank accounts ---------------------------------------------------------------------------------------------


def _bank_context(code: str) -> str:
    return f"{code}/bank-account"


def register_bank_account(
    uow: UnitOfWork, actor: Actor | None, keys: PoolKeys, code: str, account_no: str, account_name: str, bank: str
) -> ExpertBankAccount:
    """Record (or replace) the account an expert's fees go to; encrypted under the pool key, audited by tail."""
    require_manage(actor)
    number = "".join(account_no.split())
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise ValidationFailed("expert_fee.bad_account_no", "银行账号须为 8–32 位数字", "8-32 digits")
    if not account_name.strip() or not bank.strip():
        raise ValidationFailed("expert_fee.bad_account", "须填写户名和开户行", "account name and bank are required")
    expert = _expert(uow.session, code)
    sealed = seal_pii(
        keys.suite,
        keys.key,
        _bank_context(expert.code),
        {"account_no": number, "account_name": account_name.strip(), "bank": bank.strip()},
    )
    row = uow.session.get(ExpertBankAccount, expert.id)
    if row is None:
        row = ExpertBankAccount(expert_id=expert.id, sealed=sealed, account_tail=number[-4:], updated_at=uow.now)
        uow.session.add(row)
    else:
        row.sealed, row.account_tail, row.updated_at = sealed, number[-4:], uow.now
    uow.audit("expert:fee:bank_account", subject_type="expert", subject_id=expert.code, data={"tail": number[-4:]})
    return row


# --- computing and approving -----------------------------------------------------------------------------------


def compute_fee(
    uow: UnitOfWork, actor: Actor | None, draw_id: int, code: str, started_at: datetime, ended_at: datetime
) -> ExpertFee:
    """Compute (or recompute, until approved) an expert's fee for an evaluation from its duration."""
    require_manage(actor)
    s = uow.session
    expert = _expert(s, code)
    draw, project, outcome = served(s, draw_id, expert)
    if outcome != "confirmed":
        raise Conflict("expert_fee.not_served", f"专家 {expert.code} 未参加本次评标", "the expert did not sit")
    if started_at < draw.evaluation_starts_at - fee_rules.MAX_SESSION or ended_at > uow.now:
        raise ValidationFailed(
            "expert_fee.bad_period", "评标起止时间须在本次评标期间且不晚于当前", "the session must be real and over"
        )
    scale, payer = fee_settings(s)
    calendar = checker_for(s).calendar
    breakdown = fee_rules.compute_fee(scale, started_at, ended_at, calendar.is_working_day)
    if breakdown.total <= 0:
        raise ValidationFailed("expert_fee.zero", "评标费为零，无需发放", "the fee is zero")
    payer_account = "payer:centre" if payer == "centre" else f"payer:tenderer:{project.tenderer_org_id}"
    fee = s.scalar(select(ExpertFee).where(ExpertFee.draw_id == draw.id, ExpertFee.expert_id == expert.id))
    if fee is None:
        fee = ExpertFee(
            draw_id=draw.id,
            project_id=project.id,
            expert_id=expert.id,
            state="computed",
            attempt=1,
            payment_key=f"tmp-{draw.id}-{expert.id}",
            computed_at=uow.now,
            started_at=started_at,
            ended_at=ended_at,
            amount=breakdown.total,
            breakdown=breakdown.to_dict(),
            scale=scale.to_dict(),
            payer=payer_account,
        )
        s.add(fee)
        s.flush()
        fee.payment_key = _key(fee.id, fee.attempt)
    else:
        _advance(fee, "computed")
        fee.started_at, fee.ended_at, fee.amount = started_at, ended_at, breakdown.total
        fee.breakdown, fee.scale, fee.payer, fee.computed_at = (
            breakdown.to_dict(),
            scale.to_dict(),
            payer_account,
            uow.now,
        )
    uow.audit(
        "expert:fee:computed",
        subject_type="expert_fee",
        subject_id=fee.id,
        data={"expert": expert.code, "draw_id": draw.id, "amount": str(breakdown.total), "minutes": breakdown.minutes},
    )
    return fee


def compute_panel_fees(
    uow: UnitOfWork, actor: Actor | None, draw_id: int, started_at: datetime, ended_at: datetime
) -> list[ExpertFee]:
    """Every confirmed member's fee for one session (the committee sat together); fees already approved are
    left as they are."""
    require_manage(actor)
    s = uow.session
    members = list(
        s.execute(
            select(Expert.code, Expert.id)
            .join(ExpertDrawHistory, ExpertDrawHistory.expert_id == Expert.id)
            .where(ExpertDrawHistory.draw_id == draw_id, ExpertDrawHistory.outcome == "confirmed")
            .order_by(Expert.code)
        ).all()
    )
    if not members:
        raise Conflict(
            "expert_fee.no_members", "本次评标没有已确认参加的专家", "no confirmed member in this evaluation"
        )
    out: list[ExpertFee] = []
    for code, expert_id in members:
        state = s.scalar(select(ExpertFee.state).where(ExpertFee.draw_id == draw_id, ExpertFee.expert_id == expert_id))
        if state is None or state == "computed":
            out.append(compute_fee(uow, actor, draw_id, code, started_at, ended_at))
    return out


def _post(uow: UnitOfWork, key: str, fee: ExpertFee, debit: str, credit: str, kind: str, ref: str | None) -> None:
    """One ledger movement, once per ``key``."""
    if uow.session.scalar(select(ExpertFeeLedgerEntry.id).where(ExpertFeeLedgerEntry.entry_key == key)) is not None:
        return
    uow.session.add(
        ExpertFeeLedgerEntry(
            entry_key=key,
            fee_id=fee.id,
            debit=debit,
            credit=credit,
            amount=Decimal(fee.amount),
            kind=kind,
            gateway_ref=ref,
            occurred_at=uow.now,
        )
    )


def approve_fee(uow: UnitOfWork, actor: Actor | None, fee_id: int) -> ExpertFee:
    """Approve a computed fee for payment: book the accrual and enqueue the payout (exactly once)."""
    require_manage(actor)
    fee = _lock(uow, fee_id)
    expert = uow.session.get(Expert, fee.expert_id)
    assert expert is not None
    if uow.session.get(ExpertBankAccount, fee.expert_id) is None:
        raise Conflict("expert_fee.no_bank_account", f"专家 {expert.code} 未登记收款账户", "no bank account on file")
    _advance(fee, "approved")
    fee.approved_at = uow.now
    _post(uow, f"fee:{fee.id}:accrue", fee, fee.payer, _payable(expert.code), "accrue", None)
    uow.enqueue(PAY_TOPIC, {"fee_id": fee.id}, dedupe_key=f"expert.fee_pay:{fee.payment_key}")
    uow.audit(
        "expert:fee:approved",
        subject_type="expert_fee",
        subject_id=fee.id,
        data={"expert": expert.code, "amount": str(fee.amount), "key": fee.payment_key},
    )
    return fee


def retry_fee(uow: UnitOfWork, actor: Actor | None, fee_id: int, note: str) -> ExpertFee:
    """Pay a failed fee again (after the bank account was corrected), with a new key; audited."""
    require_manage(actor)
    if not note.strip():
        raise ValidationFailed("expert_fee.note_required", "须说明重新发放的理由", "state why it is paid again")
    fee = _lock(uow, fee_id)
    if fee.state != "failed":
        raise Conflict("expert_fee.not_failed", "只有发放失败的评标费可以重新发放", "only a failed fee is retried")
    _new_attempt(uow, fee)
    uow.audit("expert:fee:retry", subject_type="expert_fee", subject_id=fee.id, data={"note": note.strip()})
    return fee


def _new_attempt(uow: UnitOfWork, fee: ExpertFee) -> None:
    _advance(fee, "approved")
    fee.attempt += 1
    fee.payment_key = _key(fee.id, fee.attempt)
    uow.enqueue(PAY_TOPIC, {"fee_id": fee.id}, dedupe_key=f"expert.fee_pay:{fee.payment_key}")


# --- paying ----------------------------------------------------------------------------------------------------


def _lock(uow: UnitOfWork, fee_id: int) -> ExpertFee:
    stmt = select(ExpertFee).where(ExpertFee.id == fee_id)
    if uow.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    fee = uow.session.scalar(stmt)
    if fee is None:
        raise NotFound("expert_fee.not_found", f"评标费 {fee_id} 不存在", f"fee {fee_id} does not exist")
    return fee


def execute_payment(platform: Platform, fee_id: int, *, fault: Fault = _no_fault) -> str:
    """Drive one fee's payout as far as it goes now; returns its state. Safe to run again at any point."""
    gw = gateway(platform)
    keys = PoolKeys.of(platform)
    with platform.uow(WORKER_CONTEXT) as uow:
        fee = _lock(uow, fee_id)
        if fee.state == "approved":
            _advance(fee, "sending")
            fee.sent_at = uow.now
            uow.audit(
                "expert:fee:sending",
                subject_type="expert_fee",
                subject_id=fee.id,
                data={"key": fee.payment_key, "amount": str(fee.amount)},
            )
            fault("before_sending_commit")
            uow.commit()
        elif fee.state != "sending":
            return fee.state
        expert = uow.session.get(Expert, fee.expert_id)
        account = uow.session.get(ExpertBankAccount, fee.expert_id)
        assert expert is not None
        assert account is not None
        payee = open_pii(keys.suite, keys.key, _bank_context(expert.code), account.sealed)
        order = PaymentOrder(
            key=fee.payment_key,
            to_account=str(payee["account_no"]),
            to_name=str(payee["account_name"]),
            to_bank=str(payee["bank"]),
            amount=Decimal(fee.amount),
            memo=f"评标费 {fee.payment_key}",
        )
    fault("after_sending")
    result = gw.query(order.key)
    if result is None:
        try:
            result = gw.pay(order)
        except PaymentRefused as exc:
            result = PaymentResult(order.key, "refused", None, None, reason=exc.reason)
        # PaymentTimeout propagates: the fee stays SENDING and the outbox retries (query first)
    fault("after_gateway")
    with platform.uow(WORKER_CONTEXT) as uow:
        fee = _lock(uow, fee_id)
        _record(uow, fee, result.key, result.status, result.gateway_ref, result.reason)
        fault("before_result_commit")
        uow.commit()
        return fee.state


def _record(uow: UnitOfWork, fee: ExpertFee, key: str, status: str, ref: str | None, reason: str | None) -> bool:
    """Apply a gateway result for ``key`` to ``fee`` if it is still waiting for it; False if it changed nothing."""
    if fee.state != "sending" or fee.payment_key != key:
        return False
    expert = uow.session.get(Expert, fee.expert_id)
    assert expert is not None
    if status == "paid":
        _advance(fee, "paid")
        fee.paid_at, fee.gateway_ref, fee.last_error = uow.now, ref, None
        _post(uow, f"fee:{fee.id}:pay", fee, _payable(expert.code), PAYOUT_ACCOUNT, "pay", ref)
        uow.audit(
            "expert:fee:paid",
            subject_type="expert_fee",
            subject_id=fee.id,
            data={"key": key, "gateway_ref": ref, "amount": str(fee.amount)},
        )
        return True
    _advance(fee, "refused")
    fee.last_error = (reason or "refused")[:500]
    uow.audit(
        "expert:fee:refused", subject_type="expert_fee", subject_id=fee.id, data={"key": key, "reason": fee.last_error}
    )
    if fee.attempt < MAX_ATTEMPTS:
        _new_attempt(uow, fee)
    else:
        _advance(fee, "failed")
    return True


def apply_callback(uow: UnitOfWork, callback: PaymentCallback) -> bool:
    """Apply an asynchronous gateway notice (idempotent: duplicates and stale notices change nothing)."""
    fee_id = _fee_id_of(callback.key)
    fee = None if fee_id is None else _lock_or_none(uow, fee_id)
    if fee is None:
        uow.audit("expert:fee:callback_unknown", subject_type="expert_fee", data={"key": callback.key[:40]})
        return False
    if callback.status == "paid" and Decimal(callback.amount) != Decimal(fee.amount):
        uow.audit(
            "expert:fee:callback_mismatch",
            subject_type="expert_fee",
            subject_id=fee.id,
            data={"key": callback.key, "amount": str(callback.amount)},
        )
        return False
    return _record(uow, fee, callback.key, callback.status, callback.gateway_ref, callback.reason)


CALLBACK_KEY_FILE = "expert_payment_callback.key"  # a file name in the secret store


def callback_secret(platform: Platform) -> bytes:
    """The key the gateway signs its callbacks with (shared with the gateway; secret store, 0600)."""
    return platform.secrets.get_or_create(CALLBACK_KEY_FILE, lambda: secrets.token_bytes(32))


def receive_callback(platform: Platform, ctx: RequestContext, body: bytes, signature: str | None) -> bool:
    """A callback posted by the gateway: signature checked, then applied idempotently; True if it changed a fee."""
    callback = verify_callback(callback_secret(platform), body, signature)
    with platform.uow(ctx) as uow:
        changed = apply_callback(uow, callback)
        uow.commit()
    return changed


def _fee_id_of(key: str) -> int | None:
    if len(key) != 15 or not key.startswith("EF") or key[12] != "A" or not key[2:12].isdigit():
        return None
    return int(key[2:12])


def _lock_or_none(uow: UnitOfWork, fee_id: int) -> ExpertFee | None:
    try:
        return _lock(uow, fee_id)
    except NotFound:
        return None


# --- views -----------------------------------------------------------------------------------------------------


def fee_view(session: Session, fee: ExpertFee) -> dict[str, Any]:
    expert = session.get(Expert, fee.expert_id)
    project = session.get(Project, fee.project_id)
    return {
        "id": fee.id,
        "expert": None if expert is None else expert.code,
        "project": None if project is None else project.code,
        "draw_id": fee.draw_id,
        "started_at": fee.started_at.isoformat(),
        "ended_at": fee.ended_at.isoformat(),
        "amount": str(Decimal(fee.amount).quantize(fee_rules.FEN)),
        "state": fee.state,
        "attempt": fee.attempt,
        "payment_key": fee.payment_key,
        "payer": fee.payer,
        "gateway_ref": fee.gateway_ref,
        "last_error": fee.last_error,
        "breakdown": fee.breakdown,
    }


def list_fees(
    session: Session, *, draw_id: int | None = None, state: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Fees, newest first, optionally of one evaluation or in one state."""
    stmt = select(ExpertFee).order_by(ExpertFee.id.desc()).limit(min(limit, 1000))
    if draw_id is not None:
        stmt = stmt.where(ExpertFee.draw_id == draw_id)
    if state:
        stmt = stmt.where(ExpertFee.state == state)
    return [fee_view(session, f) for f in session.scalars(stmt)]


def ledger_balances(session: Session) -> dict[str, Decimal]:
    """Balance of every ledger account (debits positive); the sum over all accounts is always zero."""
    out: dict[str, Decimal] = {}
    for debit, credit, amount in session.execute(
        select(ExpertFeeLedgerEntry.debit, ExpertFeeLedgerEntry.credit, ExpertFeeLedgerEntry.amount)
    ):
        out[debit] = out.get(debit, Decimal("0.00")) + Decimal(amount)
        out[credit] = out.get(credit, Decimal("0.00")) - Decimal(amount)
    return out


# --- wiring ----------------------------------------------------------------------------------------------------


def register_handlers(platform: Platform) -> None:
    """Outbox handlers of expert management: ``expert.fee_pay``, ``expert.sanction_end``, ``expert.sanction_notice``."""
    from sunbid.experts import management

    def pay(mid: int, payload: dict[str, Any]) -> None:
        execute_payment(platform, int(payload["fee_id"]))

    def sanction_end(mid: int, payload: dict[str, Any]) -> None:
        with platform.uow(WORKER_CONTEXT) as uow:
            management.end_sanction(uow, int(payload["sanction_id"]))
            uow.commit()

    def notice(mid: int, payload: dict[str, Any]) -> None:
        management.deliver_sanction_notice(platform, int(payload["sanction_id"]), f"expert-sanction-{mid}")

    platform.worker.register(PAY_TOPIC, pay)
    platform.worker.register(management.SANCTION_END_TOPIC, sanction_end)
    platform.worker.register(management.SANCTION_NOTICE_TOPIC, notice)
