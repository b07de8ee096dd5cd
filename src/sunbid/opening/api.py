"""The remote opening over HTTP 不见面开标: opening keys, settings, check-in, decryption, fallback, record, objections.

Mounted twice: under ``/api/v1`` like every other feature, and under ``/api`` — the paths the bidder tool and the
opening hall were given (``/api/projects/{id}/sections/{code}/opening-key``, ``/api/projects/{id}/opening/...``).

Who may do what:

* everyone (the project must be on the portal, or the actor a party, bidder or custodian): the opening key of a
  section, the session status (counts only; never a price), the published record;
* agency, tenderer, operator: the opening settings, before the bid deadline;
* a bidder, for its own bids only: check in, decrypt, confirm, object (and it sees its own decryption state);
* a custodian, for its own share only: fetch the encrypted share, post the decrypted share (after the deadline,
  when the tender allows the fallback);
* the operator: extend the open window (with a reason), close the window / end the fallback, answer objections,
  finish the opening.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import Field

from sunbid.bidding.service import bidder_org_ids
from sunbid.core.errors import NotFound
from sunbid.draws.domain import DecimalRange
from sunbid.identity.auth import CurrentActor, OptionalActor
from sunbid.identity.service import Actor
from sunbid.opening import service, session, window
from sunbid.opening.domain import (
    DEFAULT_MAX_KEY_ATTEMPTS,
    DEFAULT_WINDOW_MINUTES,
    MAX_EXTENSION_MINUTES,
    MAX_KEY_ATTEMPTS,
    MAX_WINDOW_MINUTES,
    MIN_WINDOW_MINUTES,
    OpeningSettings,
)
from sunbid.platform.deps import request_context
from sunbid.platform.schemas import StrictModel
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.api_views import Pid, Plat, published

router = APIRouter(tags=["opening 开标"])
Code = Annotated[str, Path(min_length=1, max_length=20)]
Oid = Annotated[int, Path(ge=1, le=2**62)]


class Coefficient(StrictModel):
    """The coefficient range the tender declares, e.g. 0.95–0.98 step 0.005 (decimal strings)."""

    low: str = Field(min_length=1, max_length=20)
    high: str = Field(min_length=1, max_length=20)
    step: str = Field(min_length=1, max_length=20)


class SettingsIn(StrictModel):
    """The opening settings of the tender documents."""

    window_minutes: int = Field(default=DEFAULT_WINDOW_MINUTES, ge=MIN_WINDOW_MINUTES, le=MAX_WINDOW_MINUTES)
    custodian_fallback: bool = False
    coefficient: Coefficient | None = None
    max_key_attempts: int = Field(default=DEFAULT_MAX_KEY_ATTEMPTS, ge=1, le=MAX_KEY_ATTEMPTS)


class SectionIn(StrictModel):
    section: str = Field(min_length=1, max_length=20)


class DecryptIn(StrictModel):
    """The content key of one of the actor's bids, unwrapped on the bidder's machine (base64)."""

    bid_id: int = Field(ge=1, le=2**62)
    content_key: str = Field(min_length=1, max_length=200)


class ShareIn(StrictModel):
    """A custodian's decrypted share (the armoured text ``opening.keys.Share.to_text``)."""

    share: str = Field(min_length=1, max_length=session.MAX_SHARE_TEXT)


class ObjectionIn(StrictModel):
    section: str = Field(min_length=1, max_length=20)
    text: str = Field(min_length=1, max_length=session.MAX_OBJECTION)


class AnswerIn(StrictModel):
    answer: str = Field(min_length=1, max_length=session.MAX_OBJECTION)


class ExtendIn(StrictModel):
    """The operator extends the open decryption window, giving the reason on record (platform trouble …)."""

    minutes: int = Field(ge=1, le=MAX_EXTENSION_MINUTES)
    reason: str = Field(min_length=2, max_length=window.MAX_REASON)


class NoBody(StrictModel):
    """Actions without a body refuse any field."""


def _visible(uow: UnitOfWork, actor: Actor | None, project_id: int) -> None:
    project = projects.get_project(uow, project_id)
    if published(project, uow.now) or projects.can_see(uow, actor, project):
        return
    if actor is not None and (
        bidder_org_ids(actor, project, uow.now) or service.custodian_org_ids(actor.principal, project.id)
    ):
        return
    raise NotFound("project.not_found", f"项目 {project_id} 不存在。", f"Project {project_id} not found.")


@router.get("/projects/{project_id}/sections/{code}/opening-key", summary="开标公钥 Section opening key")
def opening_key(project_id: Pid, code: Code, request: Request, actor: OptionalActor, platform: Plat) -> dict[str, Any]:
    """What bids of the section are sealed to: ``{suite, public_key, key_fingerprint, context, threshold, total}``."""
    with platform.uow(request_context(request)) as uow:
        _visible(uow, actor, project_id)
        return service.public_key_info(uow, project_id, code)


@router.put("/projects/{project_id}/opening/settings", summary="开标设置 Opening settings")
def put_settings(
    project_id: Pid, body: SettingsIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, Any]:
    """Set the decryption window, custodian fallback and coefficient range (before the bid deadline)."""
    c = body.coefficient
    wanted = OpeningSettings(
        body.window_minutes,
        body.custodian_fallback,
        None if c is None else DecimalRange(c.low, c.high, c.step),
        body.max_key_attempts,
    )
    with platform.uow(request_context(request)) as uow:
        s = session.configure(uow, actor, project_id, wanted)
        out = dict(s.settings)
        uow.commit()
    return out


@router.get("/projects/{project_id}/opening", summary="开标状态 Opening session")
def get_session(project_id: Pid, request: Request, actor: OptionalActor, platform: Plat) -> dict[str, Any]:
    """The session (state, window, counts per section, objections); a bidder also sees its own bids' state."""
    with platform.uow(request_context(request)) as uow:
        _visible(uow, actor, project_id)
        return session.status_view(uow, actor, project_id)


@router.post("/projects/{project_id}/opening/check-in", summary="签到 Check in")
def check_in(project_id: Pid, body: SectionIn, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """A bidder checks in to the opening of a section."""
    with platform.uow(request_context(request)) as uow:
        mine = session.check_in(uow, actor, project_id, body.section)
        out = {"section": body.section, "bids": [b.bid_id for b in mine], "checked_in": True}
        uow.commit()
    return out


@router.post("/projects/{project_id}/opening/decrypt", summary="解密投标文件 Decrypt a bid")
def decrypt(project_id: Pid, body: DecryptIn, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """Release the content key of one of the actor's bids; the server opens the bid (during the window)."""
    with platform.uow(request_context(request)) as uow:
        ob = session.decrypt(uow, actor, project_id, body.bid_id, body.content_key)
        out = {"bid_id": ob.bid_id, "status": ob.status, "attempts": ob.attempts}
        uow.commit()
    return out


@router.post("/projects/{project_id}/opening/close-window", summary="结束解密 Close the window")
def close_window(
    project_id: Pid, request: Request, actor: CurrentActor, platform: Plat, body: NoBody | None = None
) -> dict[str, Any]:
    """The operator closes the decryption window now, or ends a pending custodian fallback."""
    with platform.uow(request_context(request)) as uow:
        session.operator_close(uow, actor, project_id)
        uow.commit()
    with platform.uow(request_context(request)) as uow:
        return session.status_view(uow, actor, project_id)


@router.post("/projects/{project_id}/opening/extend-window", summary="延长解密时间 Extend the window")
def extend_window(
    project_id: Pid, body: ExtendIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, Any]:
    """The operator extends the open decryption window by some minutes, with the reason on record."""
    with platform.uow(request_context(request)) as uow:
        window.extend_window(uow, actor, project_id, body.minutes, body.reason)
        uow.commit()
    with platform.uow(request_context(request)) as uow:
        return session.status_view(uow, actor, project_id)


@router.get("/projects/{project_id}/opening/sections/{code}/shares/mine", summary="我保管的份额 My encrypted share")
def my_share(project_id: Pid, code: Code, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """A custodian's encrypted share of the section's opening key (decrypt it offline with the custodian's key)."""
    with platform.uow(request_context(request)) as uow:
        orgs = service.custodian_org_ids(actor.principal, project_id)
        shares = service.my_encrypted_shares(uow, orgs, project_id, section=code)  # audited there
        if not shares:
            raise NotFound("opening.no_share", "您未保管该标段的密钥份额。", "You hold no share of this section's key.")
        uow.commit()
    return {"shares": shares}


@router.post("/projects/{project_id}/opening/sections/{code}/shares", summary="提交密钥份额 Post a share")
def post_share(
    project_id: Pid, code: Code, body: ShareIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, Any]:
    """A custodian approves the fallback with its decrypted share; with k shares the key is rebuilt and used."""
    with platform.uow(request_context(request)) as uow:
        out = session.post_share(uow, actor, project_id, code, body.share)
        uow.commit()
    return out


@router.get("/projects/{project_id}/opening/record", summary="开标记录 Opening record")
def get_record(project_id: Pid, request: Request, actor: OptionalActor, platform: Plat) -> dict[str, Any]:
    """The signed opening record (唱标), verifiable offline with ``sunbid opening verify``."""
    with platform.uow(request_context(request)) as uow:
        _visible(uow, actor, project_id)
        return session.record_view(uow, project_id)


@router.post("/projects/{project_id}/opening/confirm", summary="确认开标记录 Confirm")
def confirm(project_id: Pid, body: SectionIn, request: Request, actor: CurrentActor, platform: Plat) -> dict[str, Any]:
    """A bidder confirms the opening record of a section (无异议)."""
    with platform.uow(request_context(request)) as uow:
        mine = session.confirm(uow, actor, project_id, body.section)
        out = {"section": body.section, "bids": [b.bid_id for b in mine], "confirmed": True}
        uow.commit()
    return out


@router.post("/projects/{project_id}/opening/objections", status_code=201, summary="开标异议 Object")
def raise_objection(
    project_id: Pid, body: ObjectionIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, Any]:
    """A bidder objects at the opening; the operator must answer before the opening can finish."""
    with platform.uow(request_context(request)) as uow:
        obj = session.raise_objection(uow, actor, project_id, body.section, body.text)
        out = {"id": obj.id, "section": body.section, "text": obj.text}
        uow.commit()
    return out


@router.post("/projects/{project_id}/opening/objections/{oid}/answer", summary="答复开标异议 Answer")
def answer_objection(
    project_id: Pid, oid: Oid, body: AnswerIn, request: Request, actor: CurrentActor, platform: Plat
) -> dict[str, Any]:
    """The operator answers an objection on record."""
    with platform.uow(request_context(request)) as uow:
        obj = session.answer_objection(uow, actor, project_id, oid, body.answer)
        out = {"id": obj.id, "answer": obj.answer}
        uow.commit()
    return out


@router.post("/projects/{project_id}/opening/finish", summary="结束开标 Finish the opening")
def finish(
    project_id: Pid, request: Request, actor: CurrentActor, platform: Plat, body: NoBody | None = None
) -> dict[str, Any]:
    """The operator ends the opening: ``opened`` with enough decrypted bids, else ``failed`` (有效投标不足)."""
    with platform.uow(request_context(request)) as uow:
        valid, outcome = session.finish(uow, actor, project_id)
        uow.commit()
    return {"valid_bids": valid, "outcome": outcome}
