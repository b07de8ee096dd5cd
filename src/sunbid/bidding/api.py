"""Bid submission over HTTP: a chunked, resumable upload protocol in the style of tus 1.0, then commit.

Protocol (all under ``/api/v1``, bidders only, each bidder sees only its own organisation's uploads and bids):

1. ``POST /projects/{id}/sections/{code}/uploads`` with ``{"length": n, "container_hash": "<hex>"}`` opens a
   session; 201 with ``Location`` and ``Upload-Offset: 0``.
2. ``PATCH /uploads/{id}`` with header ``Upload-Offset: k`` and the raw bytes (``application/offset+octet-stream``
   or ``application/octet-stream``, at most 16 MiB) appends at ``k``; 204 with the new ``Upload-Offset``. The
   bytes are fsynced before the offset is recorded. ``k`` must equal the server's offset: otherwise 409
   ``bid.offset_mismatch`` with ``details.offset`` (and the ``Upload-Offset`` header). Re-sending a range the
   server already holds, with the same bytes, is accepted and changes nothing (safe retry after a lost reply).
   The server clock is read when the chunk's last byte has arrived, before the request waits for its turn to
   write: a chunk received at or after the deadline is refused (409 ``bid.deadline_passed``, logged). The chunk
   that makes the upload whole fixes the bid's time (``final_chunk_at``); the platform then completes the bid by
   itself (a ``bid.complete`` job) if the client's step 4 does not come, so no bid received in time is lost.
3. ``HEAD`` or ``GET /uploads/{id}`` tells the current offset (resume after a crash on either side).
4. ``POST /uploads/{id}/complete`` checks the container (hash, header names this project, section and bidder,
   sealed to the section's opening key), judges the deadline by the time the final chunk was received (1 ms
   late: 409 ``bid.deadline_passed``, logged), records the bid and returns it with its signed receipt. Repeating
   it returns the same bid and receipt.

Then ``GET /bids/{id}``, ``GET /bids/{id}/receipt``, ``POST /bids/{id}/withdraw`` and
``GET /projects/{id}/bids/mine``.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import Field

from sunbid.bidding import service
from sunbid.bidding.models import Bid, BidUpload
from sunbid.bidding.receipts import ensure_receipt
from sunbid.core.errors import ValidationFailed
from sunbid.identity.auth import CurrentActor
from sunbid.identity.service import Actor
from sunbid.platform.deps import request_context
from sunbid.platform.schemas import Out, StrictModel
from sunbid.projects.api_views import Pid, Plat

#: Submissions write one at a time anyway (the upload row, the log, SQLite's single writer); letting only a few
#: threads at them keeps the rest asleep instead of contending for locks and the GIL, so the event loop stays free
#: to read — and time-stamp — the chunks still arriving in a last-second rush.
_WRITERS = threading.BoundedSemaphore(2)
router = APIRouter(prefix="/api/v1", tags=["bids 投标"])
Uid = Annotated[int, Path(ge=1, le=2**62)]
CHUNK_TYPES = frozenset({"application/offset+octet-stream", "application/octet-stream"})


class UploadCreate(StrictModel):
    """Open an upload: the container's total length and its hash (``container_hash`` of the sealed file)."""

    length: int = Field(ge=1, le=service.MAX_CONTAINER)
    container_hash: str = Field(min_length=64, max_length=64)
    org_id: int | None = Field(default=None, ge=1)


class NoBody(StrictModel):
    """Actions that take no body refuse any field (bad input is refused, not ignored)."""


class UploadOut(Out):
    id: int
    project_id: int
    section_id: int
    length: int
    offset: int
    status: str
    bid_id: int | None


class BidOut(Out):
    id: int
    project_id: int
    section_id: int
    container_hash: str
    size: int
    received_at: datetime
    status: str
    ledger_index: int
    replaced_by_id: int | None


class Submitted(Out):
    bid: BidOut
    receipt: dict[str, Any]


def _upload_out(u: BidUpload) -> UploadOut:
    return UploadOut(
        id=u.id,
        project_id=u.project_id,
        section_id=u.section_id,
        length=u.length,
        offset=u.offset,
        status=u.status,
        bid_id=u.bid_id,
    )


def _bid_out(b: Bid) -> BidOut:
    return BidOut(
        id=b.id,
        project_id=b.project_id,
        section_id=b.section_id,
        container_hash=b.container_hash,
        size=b.size,
        received_at=b.received_at,
        status=b.status,
        ledger_index=b.ledger_index,
        replaced_by_id=b.replaced_by_id,
    )


def _offset_headers(u: UploadOut) -> dict[str, str]:
    return {"Upload-Offset": str(u.offset), "Upload-Length": str(u.length), "Cache-Control": "no-store"}


@router.post(
    "/projects/{project_id}/sections/{code}/uploads",
    response_model=UploadOut,
    status_code=201,
    summary="开始上传投标文件 Open a bid upload",
)
def create_upload(
    project_id: Pid,
    code: Annotated[str, Path(min_length=1, max_length=20)],
    body: UploadCreate,
    request: Request,
    actor: CurrentActor,
    platform: Plat,
) -> JSONResponse:
    """Open a resumable upload session for a sealed bid on one section (bidders, before the deadline)."""
    with platform.uow(request_context(request)) as uow:
        upload = service.create_upload(
            uow, actor, project_id, code, length=body.length, container_hash=body.container_hash, org_id=body.org_id
        )
        out = _upload_out(upload)
        uow.commit()
    headers = {**_offset_headers(out), "Location": f"/api/v1/uploads/{out.id}"}
    return JSONResponse(out.model_dump(mode="json"), status_code=201, headers=headers)


def _get_upload(platform: Any, request: Request, actor: Actor, upload_id: int) -> UploadOut:
    with platform.uow(request_context(request)) as uow:
        return _upload_out(service.get_upload(uow, actor, upload_id))


@router.get("/uploads/{upload_id}", response_model=UploadOut, summary="上传进度 Upload offset")
def get_upload(upload_id: Uid, request: Request, actor: CurrentActor, platform: Plat) -> JSONResponse:
    """The upload's state; ``Upload-Offset`` tells where to resume."""
    out = _get_upload(platform, request, actor, upload_id)
    return JSONResponse(out.model_dump(mode="json"), headers=_offset_headers(out))


@router.head("/uploads/{upload_id}", summary="上传进度 Upload offset (HEAD)")
def head_upload(upload_id: Uid, request: Request, actor: CurrentActor, platform: Plat) -> Response:
    """tus-style ``HEAD``: the offset in ``Upload-Offset``, no body."""
    out = _get_upload(platform, request, actor, upload_id)
    return Response(status_code=200, headers=_offset_headers(out))


@router.patch("/uploads/{upload_id}", status_code=204, summary="上传分块 Append a chunk")
async def patch_upload(
    upload_id: Uid,
    request: Request,
    actor: CurrentActor,
    platform: Plat,
    upload_offset: Annotated[int, Header(alias="Upload-Offset", ge=0)],
) -> Response:
    """Append the raw request body at ``Upload-Offset`` (see the module docstring for the rules)."""
    content_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if content_type not in CHUNK_TYPES:
        raise ValidationFailed(
            "bid.bad_chunk_type",
            "分块的内容类型须为 application/offset+octet-stream。",
            "A chunk must be sent as application/offset+octet-stream.",
        )
    data = bytearray()
    async for piece in request.stream():
        data += piece
        if len(data) > service.MAX_CHUNK:
            raise ValidationFailed("bid.chunk_too_large", "分块过大（上限 16 MiB）。", "Chunk too large (16 MiB max).")
    # when the chunk's last byte arrived (stamped by ChunkArrivalMiddleware before any waiting): the deadline's judge
    received_at = getattr(request.state, "chunk_received_at", None) or platform.clock.now()
    ctx = request_context(request)

    def work() -> int:
        with _WRITERS, platform.uow(ctx) as uow:
            new_offset = service.append_chunk(
                uow, actor, upload_id, upload_offset, bytes(data), received_at=received_at
            )
            uow.commit()
        return new_offset

    offset = await run_in_threadpool(work)
    return Response(status_code=204, headers={"Upload-Offset": str(offset), "Cache-Control": "no-store"})


def _complete(platform: Any, ctx: Any, actor: Actor, upload_id: int) -> int:
    """Commit the upload as a bid (idempotent), remove its spool file; returns the bid id."""
    with platform.uow(ctx) as uow:
        bid = service.complete_upload(uow, actor, upload_id)
        bid_id = int(bid.id)
        uow.commit()
    with platform.uow() as uow:
        service.cleanup_spool(uow, upload_id)
    return bid_id


@router.post("/uploads/{upload_id}/complete", response_model=Submitted, summary="递交投标 Complete and submit")
def complete_upload(
    upload_id: Uid, request: Request, actor: CurrentActor, platform: Plat, body: NoBody | None = None
) -> Submitted:
    """Commit the upload as a bid and return the signed receipt (idempotent)."""
    with _WRITERS:
        bid_id = _complete(platform, request_context(request), actor, upload_id)
    receipt = ensure_receipt(platform, bid_id)
    with platform.uow(request_context(request)) as uow:
        out = _bid_out(service.get_bid(uow, actor, bid_id))
    return Submitted(bid=out, receipt=receipt)


@router.get("/bids/{bid_id}", response_model=BidOut, summary="投标 Bid")
def get_bid(bid_id: Uid, request: Request, actor: CurrentActor, platform: Plat) -> BidOut:
    """One of the actor's own bids."""
    with platform.uow(request_context(request)) as uow:
        return _bid_out(service.get_bid(uow, actor, bid_id))


@router.get("/bids/{bid_id}/receipt", summary="投标回执 Receipt")
def get_receipt(bid_id: Uid, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """The signed receipt of one of the actor's own bids (the same bytes every time)."""
    with platform.uow(request_context(request)) as uow:
        service.get_bid(uow, actor, bid_id)
    return ensure_receipt(platform, bid_id)


@router.post("/bids/{bid_id}/withdraw", response_model=BidOut, summary="撤回投标 Withdraw")
def withdraw_bid(
    bid_id: Uid, request: Request, actor: CurrentActor, platform: Plat, body: NoBody | None = None
) -> BidOut:
    """Withdraw one of the actor's own bids before the deadline."""
    with platform.uow(request_context(request)) as uow:
        bid = service.withdraw_bid(uow, actor, bid_id)
        out = _bid_out(bid)
        uow.commit()
    return out


@router.get("/projects/{project_id}/bids/mine", response_model=list[BidOut], summary="我的投标 My bids")
def my_bids(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> list[BidOut]:
    """The actor's organisations' bids on a project; nobody can list anyone else's."""
    with platform.uow(request_context(request)) as uow:
        return [_bid_out(b) for b in service.own_bids(uow, actor, project_id)]
