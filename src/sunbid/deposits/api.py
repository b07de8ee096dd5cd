"""Deposits over HTTP (``/api/v1``).

Bidders: ``PUT /deposits/basic-account`` (their 基本账户), ``POST|GET /projects/{id}/sections/{code}/deposit-account``
(their own virtual sub-account, credits, refunds and guarantees — nobody else's), ``POST …/guarantees``.
Tenderer or agency: ``PUT …/deposit-requirement``. After opening only, the parties, the centre and the regulator:
``GET /projects/{id}/deposits`` (before opening: 403 ``deposit.sealed``, for every role). Decisions and the
centre's console: ``POST /deposits/accounts/{id}/forfeit``, ``GET /deposits/unclaimed``,
``POST /deposits/refunds/{id}/clear``, ``POST /deposits/statements`` (an MT940 statement as ``text/plain``,
answered with the reconciliation report), ``GET /deposits/ledger`` (totals only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from sunbid.core.errors import ValidationFailed
from sunbid.deposits import domain, forfeits, reconcile, refunds, service
from sunbid.deposits.models import DepositGuarantee
from sunbid.deposits.tasks import system
from sunbid.identity.auth import CurrentActor
from sunbid.platform.deps import request_context
from sunbid.platform.schemas import Out, StrictModel
from sunbid.projects.api_views import Pid, Plat

router = APIRouter(prefix="/api/v1", tags=["deposits 投标保证金"])
Code = Annotated[str, Path(min_length=1, max_length=20)]
Rid = Annotated[int, Path(ge=1, le=2**62)]
Money = Annotated[str, Field(pattern=r"^\d{1,16}(\.\d{1,2})?$", examples=["250000.00"])]
MAX_STATEMENT = 5 * 1024 * 1024
#: An ISO 8601 time with its zone (JSON has no datetime type, so strict mode would refuse every string).
When = Annotated[datetime, Field(strict=False)]


class BasicAccountIn(StrictModel):
    account_no: str = Field(min_length=8, max_length=40)
    account_name: str = Field(min_length=1, max_length=200)
    bank_name: str = Field(min_length=1, max_length=200)
    org_id: int | None = Field(default=None, ge=1)


class RequirementIn(StrictModel):
    amount: Money
    kind: str = Field(pattern=r"^(works|goods|services|survey_design)$")


class AccountIn(StrictModel):
    org_id: int | None = Field(default=None, ge=1)


class GuaranteeIn(StrictModel):
    number: str = Field(min_length=1, max_length=64)
    issuer: str = Field(min_length=1, max_length=200)
    form: str = Field(pattern=r"^(letter|insurance)$")
    amount: Money
    valid_from: When
    valid_until: When
    file_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    org_id: int | None = Field(default=None, ge=1)


class ForfeitIn(StrictModel):
    reason: str = Field(max_length=40)
    note: str = Field(min_length=1, max_length=2000)


class ClearIn(StrictModel):
    note: str = Field(min_length=1, max_length=2000)
    to_account: str | None = Field(default=None, max_length=40)
    to_name: str | None = Field(default=None, max_length=200)
    to_bank: str | None = Field(default=None, max_length=200)


class CreditOut(Out):
    bank_ref: str
    amount: str
    booked_at: datetime
    payer_account: str
    verdict: str


class RefundOut(Out):
    id: int
    reason: str
    state: str
    principal: str
    interest: str | None
    fee: str | None
    amount: str | None
    due_date: str | None
    confirmed_at: datetime | None


class GuaranteeOut(Out):
    id: int
    number: str
    issuer: str
    form: str
    amount: str
    status: str
    problems: list[str]


class AccountOut(Out):
    project_id: int
    section_id: int
    virtual_account: str
    payee_account: str
    required: str | None
    status: str
    credits: list[CreditOut]
    refunds: list[RefundOut]
    guarantees: list[GuaranteeOut]


class DepositRowOut(Out):
    section: str
    org_id: int
    org_name: str
    virtual_account: str
    status: str
    accepted: str
    required: str | None
    account_status: str
    refund_state: str | None


def _guarantee_out(g: DepositGuarantee) -> GuaranteeOut:
    return GuaranteeOut(
        id=g.id,
        number=g.number,
        issuer=g.issuer,
        form=g.form,
        amount=str(g.amount),
        status=g.status,
        problems=list(g.problems or []),
    )


def _account_out(uow: Any, actor: Any, project_id: int, code: str, org_id: int | None) -> AccountOut:
    account, credits, refs, guarantees = service.own_account(uow, actor, project_id, code, org_id=org_id)
    req = service.requirement(uow, account.section_id)
    return AccountOut(
        project_id=account.project_id,
        section_id=account.section_id,
        virtual_account=account.virtual_account,
        payee_account=getattr(system(uow.platform).bank, "account_no", ""),
        required=None if req is None else str(req.amount),
        status=account.status,
        credits=[
            CreditOut(
                bank_ref=c.bank_ref,
                amount=str(c.amount),
                booked_at=c.booked_at,
                payer_account=c.payer_account,
                verdict=c.verdict,
            )
            for c in credits
        ],
        refunds=[
            RefundOut(
                id=r.id,
                reason=r.reason,
                state=r.state,
                principal=str(r.principal),
                interest=None if r.interest is None else str(r.interest),
                fee=None if r.fee is None else str(r.fee),
                amount=None if r.amount is None else str(r.amount),
                due_date=None if r.due_date is None else r.due_date.isoformat(),
                confirmed_at=r.confirmed_at,
            )
            for r in refs
        ],
        guarantees=[_guarantee_out(g) for g in guarantees],
    )


@router.put("/deposits/basic-account", summary="登记基本账户 Register the basic account")
def put_basic_account(body: BasicAccountIn, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, str]:
    """The bidder's 基本账户: its cash deposits must come from this account (条例 §26)."""
    with platform.uow(request_context(request)) as uow:
        row = service.register_basic_account(
            uow,
            actor,
            account_no=body.account_no,
            account_name=body.account_name,
            bank_name=body.bank_name,
            org_id=body.org_id,
        )
        out = {"account_no": row.account_no, "account_name": row.account_name, "bank_name": row.bank_name}
        uow.commit()
    return out


@router.put("/projects/{project_id}/sections/{code}/deposit-requirement", summary="设定投标保证金 Set the deposit")
def put_requirement(
    project_id: Pid, code: Code, body: RequirementIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, str]:
    """The tenderer or agency sets the section's deposit (≤ 2% of the estimate, caps as configured)."""
    with platform.uow(request_context(request)) as uow:
        req = service.set_requirement(
            uow, system(platform), actor, project_id, code, amount=body.amount, kind=body.kind
        )
        out = {"amount": str(req.amount), "kind": req.kind}
        uow.commit()
    return out


@router.post(
    "/projects/{project_id}/sections/{code}/deposit-account",
    response_model=AccountOut,
    summary="生成保证金虚拟子账号 Get my virtual sub-account",
)
def post_account(
    project_id: Pid, code: Code, request: Request, actor: CurrentActor, platform: Plat, body: AccountIn | None = None
) -> JSONResponse:
    """The bidder's own virtual sub-account for the section: created on first call (201), then the same (200)."""
    org_id = body.org_id if body else None
    with platform.uow(request_context(request)) as uow:
        created = not service.has_account(uow, actor, project_id, code, org_id=org_id)
        service.open_account(uow, system(platform), actor, project_id, code, org_id=org_id)
        uow.commit()
    with platform.uow(request_context(request)) as uow:
        out = _account_out(uow, actor, project_id, code, org_id)
    return JSONResponse(
        out.model_dump(mode="json"), status_code=201 if created else 200, headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/projects/{project_id}/sections/{code}/deposit-account",
    response_model=AccountOut,
    summary="我的投标保证金 My deposit",
)
def get_account(
    project_id: Pid, code: Code, request: Request, actor: CurrentActor, platform: Plat, org_id: int | None = None
) -> JSONResponse:
    """The bidder's own deposit on the section (404 when it has none; nobody else's is ever shown)."""
    with platform.uow(request_context(request)) as uow:
        out = _account_out(uow, actor, project_id, code, org_id)
    return JSONResponse(out.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.post(
    "/projects/{project_id}/sections/{code}/guarantees",
    response_model=GuaranteeOut,
    status_code=201,
    summary="提交电子保函 Hand in a guarantee",
)
def post_guarantee(
    project_id: Pid, code: Code, body: GuaranteeIn, request: Request, actor: CurrentActor, platform: Plat
) -> GuaranteeOut:
    """An electronic guarantee or guarantee insurance instead of cash, verified with its issuer."""
    with platform.uow(request_context(request)) as uow:
        g = forfeits.submit_guarantee(
            uow,
            system(platform),
            actor,
            project_id,
            code,
            number=body.number,
            issuer=body.issuer,
            form=body.form,
            amount=body.amount,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            file_sha256=body.file_sha256,
            org_id=body.org_id,
        )
        out = _guarantee_out(g)
        uow.commit()
    return out


@router.get("/projects/{project_id}/deposits", response_model=list[DepositRowOut], summary="投标保证金情况（开标后）")
def get_project_deposits(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> list[DepositRowOut]:
    """Every bidder's deposit — after opening only, for the parties, the centre and the competent regulator."""
    with platform.uow(request_context(request)) as uow:
        rows = service.section_deposits(uow, system(platform), actor, project_id)
        out = [
            DepositRowOut(
                section=r.section,
                org_id=r.org_id,
                org_name=r.org_name,
                virtual_account=r.virtual_account,
                status=r.status,
                accepted=str(r.accepted),
                required=None if r.required is None else str(r.required),
                account_status=r.account_status,
                refund_state=r.refund_state,
            )
            for r in rows
        ]
        uow.commit()
    return out


@router.post("/deposits/accounts/{account_id}/forfeit", summary="不予退还投标保证金 Keep a deposit")
def post_forfeit(
    account_id: Rid, body: ForfeitIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, Any]:
    """Keep a deposit in a legal case (recorded with its basis); a guarantee is claimed instead."""
    with platform.uow(request_context(request)) as uow:
        account = forfeits.forfeit(uow, system(platform), actor, account_id, reason=body.reason, note=body.note)
        out = {"account_id": account.id, "status": account.status, "basis": account.forfeit_basis}
        uow.commit()
    return out


@router.get("/deposits/unclaimed", summary="历史沉淀保证金 Unclaimed deposits")
def get_unclaimed(request: Request, actor: CurrentActor, platform: Plat) -> list[dict[str, Any]]:
    """Refunds the bank refused after every attempt (centre staff only)."""
    with platform.uow(request_context(request)) as uow:
        rows = refunds.unclaimed(uow, actor)
        uow.commit()
    return rows


@router.post("/deposits/refunds/{refund_id}/clear", summary="清退沉淀保证金 Clear an unclaimed deposit")
def post_clear(refund_id: Rid, body: ClearIn, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """Pay an unclaimed refund again (to corrected payee details), with the grounds on record."""
    with platform.uow(request_context(request)) as uow:
        r = refunds.clear_unclaimed(
            uow,
            actor,
            refund_id,
            note=body.note,
            to_account=body.to_account,
            to_name=body.to_name,
            to_bank=body.to_bank,
        )
        out = {"id": r.id, "state": r.state, "attempt": r.attempt}
        uow.commit()
    return out


@router.post("/deposits/statements", summary="导入银行对账单并对账 Import a statement and reconcile")
async def post_statement(request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """An MT940 statement (``text/plain``); answers the day's reconciliation with every difference."""
    raw = await request.body()
    if len(raw) > MAX_STATEMENT:
        raise ValidationFailed("deposit.statement_too_large", "对账单过大。", "The statement is too large.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("deposit.bad_statement", "对账单须为 UTF-8 文本。", "UTF-8 text expected.") from None
    ctx = request_context(request)

    def work() -> dict[str, Any]:
        with platform.uow(ctx) as uow:
            row, report = reconcile.import_statement(uow, actor, text)
            out = {
                "id": row.id,
                "day": row.day.isoformat(),
                "balanced": row.balanced,
                "statement_lines": report.statement_lines,
                "ledger_moves": report.ledger_moves,
                "differences": row.differences,
            }
            uow.commit()
        return out

    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(work)


@router.get("/deposits/ledger", summary="保证金台账总览 Ledger totals")
def get_ledger(request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """Totals of the deposit ledger (centre staff only; no per-bidder figure)."""
    with platform.uow(request_context(request)) as uow:
        refunds._operator(actor)
        out = reconcile.ledger_check(uow)
        uow.commit()
    return out


@router.get("/deposits/statistics", summary="保证金统计 Deposit statistics")
def get_statistics(request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """Guarantee share, refunds on time, interest paid (centre staff only; centre-wide totals)."""
    with platform.uow(request_context(request)) as uow:
        return reconcile.statistics(uow, actor)


# --- the bank's notifications ------------------------------------------------------------------------------------

BANK_KEY = "bank_notify.key"  # HMAC key shared with the bank, created on first use in the secret store (0600)


class NoticeIn(StrictModel):
    bank_ref: str = Field(min_length=1, max_length=64)
    virtual_account: str = Field(min_length=1, max_length=32)
    payer_account: str = Field(min_length=1, max_length=40)
    payer_name: str = Field(min_length=1, max_length=200)
    payer_bank: str = Field(default="", max_length=200)
    amount: Money
    booked_at: When


def bank_key(platform: Any) -> bytes:
    """The HMAC-SHA256 key the bank signs its notifications with (``<data_dir>/secrets/bank_notify.key``)."""
    import secrets as pysecrets

    key: bytes = platform.secrets.get_or_create(BANK_KEY, lambda: pysecrets.token_hex(32).encode())
    return key


@router.post("/deposits/bank/notifications", summary="银行到账通知 Bank credit notification")
async def post_bank_notice(body: NoticeIn, request: Request, platform: Plat) -> dict[str, Any]:
    """A credit notice pushed by the bank, signed ``X-Bank-Signature: hex(HMAC-SHA256(key, body))``.

    Idempotent by ``bank_ref``: the bank may send a notice any number of times, in any order. The signature is
    checked over the exact bytes received, before anything is stored.
    """
    import hashlib
    import hmac

    from sunbid.core.errors import Unauthenticated
    from sunbid.deposits.bank import CreditNotice

    raw = await request.body()
    given = request.headers.get("X-Bank-Signature", "")
    wanted = hmac.new(bank_key(platform), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(given.lower(), wanted):
        raise Unauthenticated("deposit.bad_signature", "银行通知签名无效。", "The bank notice's signature is invalid.")
    if body.booked_at.tzinfo is None:
        raise ValidationFailed("deposit.bad_notice", "记账时间须带时区。", "booked_at needs a time zone.")
    notice = CreditNotice(
        bank_ref=body.bank_ref,
        virtual_account=body.virtual_account,
        payer_account=body.payer_account,
        payer_name=body.payer_name,
        payer_bank=body.payer_bank,
        amount=domain.parse_amount(body.amount),
        booked_at=body.booked_at,
    )
    ctx = request_context(request, source="bank")

    def work() -> dict[str, Any]:
        with platform.uow(ctx) as uow:
            _, new = service.receive_credit(uow, system(platform), notice)
            uow.commit()
        return {"status": "new" if new else "duplicate"}

    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(work)
