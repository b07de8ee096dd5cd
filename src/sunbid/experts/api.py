"""Experts over HTTP (``/api/v1``): the pool for centre staff, draws, replies by code, unsealing, the record.

Before evaluation starts no route returns a drawn expert's identity, to any role: draws are shown by seat
position and state only, ``/unseal`` and ``/record`` answer 403 ``expert.panel_sealed``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import Field

from sunbid.draws.domain import SeedInput
from sunbid.experts import permissions, pool, service
from sunbid.experts.domain import AvoidancePolicy, ExpertStatus, SlotRequest, aware_moment
from sunbid.identity.auth import require
from sunbid.identity.service import Actor
from sunbid.platform.deps import client_ip, request_context
from sunbid.platform.ratelimit import RateLimiter
from sunbid.platform.schemas import StrictModel
from sunbid.projects.api_views import Plat

router = APIRouter(prefix="/api/v1", tags=["experts 评标专家"])
REPLIES_PER_MINUTE = 10

PoolManager = Annotated[Actor, Depends(require(permissions.POOL_MANAGE))]
DrawRunner = Annotated[Actor, Depends(require(permissions.DRAW_RUN))]
DrawViewer = Annotated[Actor, Depends(require(permissions.DRAW_VIEW))]
Unsealer = Annotated[Actor, Depends(require(permissions.PANEL_UNSEAL))]
DrawId = Annotated[int, Path(ge=1, le=2**62)]
Code = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9-]+$")]


class StatusIn(StrictModel):
    status: ExpertStatus
    reason: str = Field(min_length=1, max_length=2000)


class SlotIn(StrictModel):
    specialty: str = Field(min_length=1, max_length=16)
    count: int = Field(ge=1, le=99)
    reserves: int = Field(default=0, ge=0, le=99)


class DrawIn(StrictModel):
    project_code: str = Field(min_length=1, max_length=40)
    evaluation_starts_at: str = Field(min_length=10, max_length=40, description="ISO 8601 with a UTC offset")
    slots: list[SlotIn] = Field(min_length=1, max_length=30)
    employment_years: int = Field(default=3, ge=0, le=50)
    max_draws: int | None = Field(default=None, ge=1, le=1000)
    draw_period_days: int = Field(default=365, ge=1, le=3660)
    supervising_sectors: list[str] = Field(default_factory=list, max_length=10)
    persons: list[str] = Field(default_factory=list, max_length=100)
    response_minutes: int = Field(default=30, ge=1, le=1440)
    draw_window_hours: int = Field(default=48, ge=1, le=24 * 14)


class SeedInputIn(StrictModel):
    name: str = Field(min_length=1, max_length=128)
    value_hex: str = Field(min_length=2, max_length=2 << 20, pattern=r"^(?:[0-9a-f]{2})+$")


class RunIn(StrictModel):
    seed_inputs: list[SeedInputIn] = Field(default_factory=list, max_length=8)


class UnsealIn(StrictModel):
    """No fields: unsealing needs no input (a body, if sent, must be ``{}``)."""


class ReplyIn(StrictModel):
    code: str = Field(min_length=4, max_length=32)
    accept: bool


@router.post("/experts/import", summary="导入专家 CSV Import experts (CSV)")
def import_experts(
    request: Request, platform: Plat, actor: PoolManager, body: Annotated[str, Body(media_type="text/csv")]
) -> dict[str, Any]:
    """All or nothing: ``ok`` false with every error by line and column, or the numbers created and updated."""
    keys = pool.PoolKeys.of(platform)
    with platform.uow(request_context(request)) as uow:
        result = pool.import_csv(uow, keys, body)
        if result.ok:
            uow.commit()
    return {
        "ok": result.ok,
        "created": result.created,
        "updated": result.updated,
        "errors": [e.as_dict() for e in result.errors],
    }


@router.get("/experts", summary="专家列表 List experts (no personal data)")
def experts(
    platform: Plat,
    actor: PoolManager,
    specialty: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    with platform.db.read() as s:
        return {"experts": pool.list_experts(s, specialty=specialty, status=status, limit=limit, offset=offset)}


@router.get("/experts/{code}", summary="专家详情 One expert (no personal data)")
def expert(platform: Plat, actor: PoolManager, code: Code) -> dict[str, Any]:
    with platform.db.read() as s:
        return pool.expert_view(s, code)


@router.post("/experts/{code}/status", summary="暂停、恢复、清退 Change an expert's status")
def expert_status(request: Request, platform: Plat, actor: PoolManager, code: Code, body: StatusIn) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        row = pool.change_status(uow, code, body.status, body.reason)
        out = {"code": row.code, "status": row.status}
        uow.commit()
    return out


@router.post("/expert-draws", status_code=201, summary="登记专家抽取并公布承诺 Commit an expert draw")
def commit_draw(request: Request, platform: Plat, actor: DrawRunner, body: DrawIn) -> dict[str, Any]:
    req = service.DrawRequest(
        project_code=body.project_code,
        evaluation_starts_at=aware_moment(body.evaluation_starts_at, "expert.bad_time"),
        slots=tuple(SlotRequest(s.specialty, s.count, s.reserves) for s in body.slots),
        policy=AvoidancePolicy(
            employment_years=body.employment_years, max_draws=body.max_draws, draw_period_days=body.draw_period_days
        ),
        supervising_sectors=frozenset(body.supervising_sectors),
        persons=tuple(body.persons),
        response_minutes=body.response_minutes,
        draw_window_hours=body.draw_window_hours,
    )
    keys = pool.PoolKeys.of(platform)
    with platform.uow(request_context(request)) as uow:
        row = service.commit_draw(uow, keys, req)
        uow.commit()
        draw_id = row.id
    with platform.db.read() as s:
        return service.draw_view(s, draw_id)


@router.post("/expert-draws/{draw_id}/run", summary="执行抽取 Run the draw")
def run_draw(request: Request, platform: Plat, actor: DrawRunner, draw_id: DrawId, body: RunIn) -> dict[str, Any]:
    inputs = [SeedInput(i.name, bytes.fromhex(i.value_hex)) for i in body.seed_inputs]
    keys = pool.PoolKeys.of(platform)
    with platform.uow(request_context(request)) as uow:
        service.run_draw(uow, keys, draw_id, inputs)
        uow.commit()
    with platform.db.read() as s:
        return service.draw_view(s, draw_id)


@router.get("/expert-draws/{draw_id}", summary="抽取进度（不含身份）A draw's state (no identity)")
def draw(platform: Plat, actor: DrawViewer, draw_id: DrawId) -> dict[str, Any]:
    with platform.db.read() as s:
        return service.draw_view(s, draw_id)


@router.post("/expert-draws/{draw_id}/unseal", summary="启封专家名单 Unseal the panel (from evaluation start)")
def unseal(
    request: Request, platform: Plat, actor: Unsealer, draw_id: DrawId, body: Annotated[UnsealIn | None, Body()] = None
) -> dict[str, Any]:
    with platform.uow(request_context(request)) as uow:
        panel = service.unseal(uow, draw_id)
        uow.commit()
    return panel


@router.get("/expert-draws/{draw_id}/record", summary="公开的抽取记录 The published draw record")
def record(platform: Plat, draw_id: DrawId) -> dict[str, Any]:
    """The canonical draw record once the panel has been unsealed; check it with ``sunbid draw verify``."""
    with platform.db.read() as s:
        rec = service.published_record(s, draw_id, platform.clock.now())
    return rec.to_dict()


def _reply_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, "expert_reply_limiter", None)
    if limiter is None:
        limiter = RateLimiter(REPLIES_PER_MINUTE, 60.0)
        request.app.state.expert_reply_limiter = limiter
    return limiter


@router.post("/expert-replies", summary="专家凭答复码答复 An expert answers with his reply code")
def reply(request: Request, platform: Plat, body: ReplyIn) -> dict[str, Any]:
    """Confirm or refuse by the reply code of the message (rate-limited per address: codes cannot be guessed)."""
    _reply_limiter(request).hit(f"ip:{client_ip(request)}")
    with platform.uow(request_context(request)) as uow:
        seat = service.respond(uow, body.code, body.accept)
        out = {"state": seat.state}
        uow.commit()
    return out
