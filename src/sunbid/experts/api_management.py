"""Expert management over HTTP (``/api/v1``): assessment after an evaluation, appeals, fees and their ledger.

Assessing is open to the centre's staff, the project's tenderer and agency and the regulator of its region and
sector (the service checks the project scope); appeals, bank accounts and fees are for centre staff; regulators
read an expert's record and decide appeals. Bank account numbers are accepted, never returned (tail only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from sunbid.core.clock import to_local
from sunbid.core.errors import ValidationFailed
from sunbid.experts import management as mgmt
from sunbid.experts import management_fees as fees
from sunbid.experts.domain import aware_moment
from sunbid.experts.pool import PoolKeys
from sunbid.identity.auth import require
from sunbid.identity.domain import Permission, Role, Scope
from sunbid.identity.service import Actor
from sunbid.platform.deps import request_context
from sunbid.platform.schemas import StrictModel
from sunbid.projects.api_views import Plat

router = APIRouter(prefix="/api/v1", tags=["expert management 专家考评与评标费"])

ASSESS = Permission(
    "expert.assess",
    frozenset({Role.ADMIN, Role.OPERATOR, Role.TENDERER, Role.AGENCY, Role.REGULATOR}),
    Scope.ANY_AUTHENTICATED,
    "考评评标专家（再按项目范围核验）",
)
Assessor = Annotated[Actor, Depends(require(ASSESS))]
Manager = Annotated[Actor, Depends(require(mgmt.MANAGE))]
Supervisor = Annotated[Actor, Depends(require(mgmt.SUPERVISE))]
Id = Annotated[int, Path(ge=1, le=2**62)]
Code = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]


class DeductionBody(StrictModel):
    item: str = Field(min_length=1, max_length=40)
    count: int = Field(default=1, ge=1, le=20)
    note: str = Field(default="", max_length=2000)
    evidence: dict[str, Any] = Field(default_factory=dict)


class AssessmentBody(StrictModel):
    expert_code: str = Field(min_length=3, max_length=32)
    deductions: list[DeductionBody] = Field(default_factory=list, max_length=30)
    comment: str = Field(default="", max_length=2000)


class AppealBody(StrictModel):
    reason: str = Field(min_length=1, max_length=4000)


class DecisionBody(StrictModel):
    overturn: bool
    note: str = Field(min_length=1, max_length=2000)


class BankAccountBody(StrictModel):
    account_no: str = Field(min_length=8, max_length=40)
    account_name: str = Field(min_length=1, max_length=200)
    bank: str = Field(min_length=1, max_length=200)


class FeeBody(StrictModel):
    expert_code: str = Field(min_length=3, max_length=32)
    started_at: str = Field(min_length=10, max_length=40, description="ISO 8601 with a UTC offset")
    ended_at: str = Field(min_length=10, max_length=40, description="ISO 8601 with a UTC offset")


class ApproveBody(StrictModel):
    """No fields: approval needs no input (a body, if sent, must be ``{}``)."""


class RetryBody(StrictModel):
    note: str = Field(min_length=1, max_length=2000)


def _when(text: str) -> datetime:
    return aware_moment(text, "expert_fee.bad_time")


@router.get("/expert-assessment/items", summary="考评扣分项目录 The assessment catalogue")
def catalogue(platform: Plat, actor: Assessor) -> dict[str, Any]:
    with platform.db.read() as s:
        scheme = mgmt.assessment_scheme(s)
    return {
        "annual_points": scheme.annual_points,
        "removal_points": scheme.removal_points,
        "suspension_steps": [{"points": x.points, "months": x.months} for x in scheme.suspension_steps],
        "appeal_days": scheme.appeal_days,
        "items": [
            {
                "code": i.code,
                "dimension": i.dimension.value,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "points": i.points,
                "max_count": i.max_count,
                "applies_to": sorted(i.applies_to),
                "removal": i.removal,
                "needs_evidence": i.needs_evidence,
            }
            for i in scheme.items.values()
        ],
    }


@router.post(
    "/expert-draws/{draw_id}/assessments", status_code=201, summary="评标后考评专家 Assess an expert after evaluation"
)
def assess(request: Request, platform: Plat, actor: Assessor, draw_id: Id, body: AssessmentBody) -> dict[str, Any]:
    deductions = [mgmt.DeductionIn(d.item, d.count, d.note, d.evidence) for d in body.deductions]
    with platform.uow(request_context(request)) as uow:
        out = mgmt.record_assessment(uow, actor, draw_id, body.expert_code, deductions, body.comment)
        uow.commit()
    return out


@router.get("/experts/{code}/assessment", summary="专家年度考评记录 An expert's assessment record")
def record(
    request: Request,
    platform: Plat,
    actor: Supervisor,
    code: Code,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        view = mgmt.expert_record(uow.session, code, year or to_local(uow.now).year)
        uow.audit("expert:assess:view", subject_type="expert", subject_id=view["code"])
        uow.commit()
    return view


@router.post("/expert-deductions/{deduction_id}/appeal", status_code=201, summary="登记申诉 Record an appeal")
def appeal(request: Request, platform: Plat, actor: Manager, deduction_id: Id, body: AppealBody) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        row = mgmt.file_appeal(uow, actor, deduction_id, body.reason)
        out = {"appeal_id": row.id, "state": row.state}
        uow.commit()
    return out


@router.post("/expert-appeals/{appeal_id}/decision", summary="裁决申诉 Decide an appeal")
def decision(request: Request, platform: Plat, actor: Supervisor, appeal_id: Id, body: DecisionBody) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        out = mgmt.decide_appeal(uow, actor, appeal_id, overturn=body.overturn, note=body.note)
        uow.commit()
    return out


@router.put("/experts/{code}/bank-account", summary="登记收款账户 Record an expert's bank account")
def bank_account(request: Request, platform: Plat, actor: Manager, code: Code, body: BankAccountBody) -> dict[str, Any]:
    keys = PoolKeys.of(platform)
    with platform.uow(request_context(request)) as uow:
        row = fees.register_bank_account(uow, actor, keys, code, body.account_no, body.account_name, body.bank)
        out = {"code": code.upper(), "account_tail": row.account_tail}
        uow.commit()
    return out


@router.post("/expert-draws/{draw_id}/fees", status_code=201, summary="计算评标费 Compute an expert's fee")
def compute(request: Request, platform: Plat, actor: Manager, draw_id: Id, body: FeeBody) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        fee = fees.compute_fee(uow, actor, draw_id, body.expert_code, _when(body.started_at), _when(body.ended_at))
        uow.commit()
        return fees.fee_view(uow.session, fee)


class PanelFeeBody(StrictModel):
    started_at: str = Field(min_length=10, max_length=40, description="ISO 8601 with a UTC offset")
    ended_at: str = Field(min_length=10, max_length=40, description="ISO 8601 with a UTC offset")


@router.post(
    "/expert-draws/{draw_id}/fees/panel", status_code=201, summary="计算全体专家评标费 Compute the panel's fees"
)
def compute_panel(request: Request, platform: Plat, actor: Manager, draw_id: Id, body: PanelFeeBody) -> dict[str, Any]:
    """Every confirmed member's fee for one session; fees already approved are left as they are."""
    with platform.uow(request_context(request)) as uow:
        rows = fees.compute_panel_fees(uow, actor, draw_id, _when(body.started_at), _when(body.ended_at))
        uow.commit()
        return {"fees": [fees.fee_view(uow.session, f) for f in rows]}


@router.post("/expert-fees/{fee_id}/approve", summary="审核并发放评标费 Approve a fee for payment")
def approve(
    request: Request, platform: Plat, actor: Manager, fee_id: Id, body: Annotated[ApproveBody | None, Body()] = None
) -> dict[str, Any]:
    """Books the accrual and queues the payout; the worker pays it exactly once."""
    with platform.uow(request_context(request)) as uow:
        fee = fees.approve_fee(uow, actor, fee_id)
        uow.commit()
        return fees.fee_view(uow.session, fee)


@router.post("/expert-fees/{fee_id}/retry", summary="重新发放 Pay a failed fee again")
def retry(request: Request, platform: Plat, actor: Manager, fee_id: Id, body: RetryBody) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        fee = fees.retry_fee(uow, actor, fee_id, body.note)
        uow.commit()
        return fees.fee_view(uow.session, fee)


@router.get("/expert-fees", summary="评标费列表 List fees")
def list_fees(
    platform: Plat,
    actor: Manager,
    draw_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    state: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    with platform.db.read() as s:
        return {
            "fees": fees.list_fees(s, draw_id=draw_id, state=state),
            "ledger": {k: str(v) for k, v in sorted(fees.ledger_balances(s).items())},
        }


class CallbackBody(StrictModel):
    """The gateway's notice (the signature covers the exact bytes; this only checks the shape)."""

    key: str = Field(min_length=1, max_length=64)
    status: Literal["paid", "refused"]
    gateway_ref: str | None = Field(default=None, max_length=64)
    amount: str = Field(min_length=1, max_length=24)
    at: str = Field(min_length=10, max_length=40)
    reason: str | None = Field(default=None, max_length=500)


@router.post("/expert-fee-callbacks", summary="支付网关回调 Payment gateway callback (signed)")
async def gateway_callback(request: Request, platform: Plat, body: CallbackBody) -> dict[str, Any]:
    """The gateway's result notice, signed with HMAC-SHA256 over the exact body (``X-Payment-Signature``).

    Applied idempotently by the order key: duplicates and stale notices change nothing (``applied`` false)."""
    raw = await request.body()
    if len(raw) > 16_384:
        raise ValidationFailed("expert_fee.bad_callback", "支付回调过大", "the callback is too large")
    signature = request.headers.get("x-payment-signature")
    ctx = request_context(request)
    applied = await run_in_threadpool(fees.receive_callback, platform, ctx, raw, signature)
    return {"ok": True, "applied": applied}
