"""After the record: bidders confirm or object 开标异议, the operator answers on record and finishes; views."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.identity.service import Actor
from sunbid.opening.domain import (
    Action,
    BidStatus,
    attempts_left,
    ensure_allowed,
)
from sunbid.opening.events import append_event
from sunbid.opening.models import (
    OpeningBid,
    OpeningObjection,
)
from sunbid.opening.service import (
    iso,
    section_by_code,
)
from sunbid.opening.session_base import (
    MAX_OBJECTION,
    my_bids,
    opening_bids,
    org_of,
    require_role,
    require_session,
    section_of,
    settings_of,
    state_of,
)
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.engine_facts import min_bids
from sunbid.projects.procedures import get_procedure
from sunbid.projects.timing import project_facts


def confirm(uow: UnitOfWork, actor: Actor, project_id: int, section_code: str) -> list[OpeningBid]:
    """A bidder confirms the opening record of a section 无异议 (idempotent)."""
    project = projects.get_project(uow, project_id, lock=True)
    s = require_session(uow, project.id)
    ensure_allowed(state_of(s), Action.CONFIRM)
    section = section_by_code(uow, project.id, section_code)
    mine = [b for b in my_bids(uow, actor, project, s) if b.section_id == section.id]
    if not mine:
        raise Forbidden("opening.not_a_bidder", "您在本标段没有投标文件。", "You have no bid on this section.")
    for b in mine:
        if b.confirmed_at is None:
            b.confirmed_at = uow.now
            name = org_of(uow, b.org_id).name
            append_event(uow, project.id, "bidder.confirmed", {"section": section.code, "bidder_name": name})
            uow.audit(
                "opening:confirm",
                subject_type="project",
                subject_id=project.id,
                data={"project_code": project.code, "section": section.code, "bid_id": b.bid_id},
            )
    return mine


def raise_objection(uow: UnitOfWork, actor: Actor, project_id: int, section_code: str, text: str) -> OpeningObjection:
    """A bidder objects at the opening 开标异议 (on record; the project's ``open_objections`` goes up)."""
    text = text.strip()
    if not text or len(text) > MAX_OBJECTION:
        raise ValidationFailed(
            "opening.bad_objection", f"异议内容须为 1–{MAX_OBJECTION} 字。", f"Write 1-{MAX_OBJECTION} characters."
        )
    project = projects.get_project(uow, project_id, lock=True)
    s = require_session(uow, project.id)
    ensure_allowed(state_of(s), Action.OBJECT)
    section = section_by_code(uow, project.id, section_code)
    mine = [b for b in my_bids(uow, actor, project, s) if b.section_id == section.id]
    if not mine:
        raise Forbidden("opening.not_a_bidder", "您在本标段没有投标文件。", "You have no bid on this section.")
    org = org_of(uow, mine[0].org_id)
    obj = OpeningObjection(
        session_id=s.id,
        section_id=section.id,
        org_id=org.id,
        user_id=actor.user_id,
        text=text,
        raised_at=uow.now,
    )
    uow.session.add(obj)
    uow.session.flush()
    facts = project_facts(project, uow.now)
    projects.update_facts(uow, project.id, "opening objection raised", open_objections=facts.open_objections + 1)
    append_event(
        uow,
        project.id,
        "objection.raised",
        {"id": obj.id, "section": section.code, "bidder_name": org.name, "text": text},
    )
    uow.audit(
        "opening:objection",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "objection_id": obj.id, "section": section.code, "text": text},
    )
    return obj


def answer_objection(
    uow: UnitOfWork, actor: Actor, project_id: int, objection_id: int, answer: str
) -> OpeningObjection:
    """The operator answers an opening objection on record (``open_objections`` goes down)."""
    answer = answer.strip()
    if not answer or len(answer) > MAX_OBJECTION:
        raise ValidationFailed(
            "opening.bad_answer", f"答复内容须为 1–{MAX_OBJECTION} 字。", f"Write 1-{MAX_OBJECTION} characters."
        )
    project = projects.get_project(uow, project_id, lock=True)
    require_role(uow, actor, project, {"operator"}, "答复开标异议")
    s = require_session(uow, project.id)
    ensure_allowed(state_of(s), Action.ANSWER)
    obj = uow.session.get(OpeningObjection, objection_id)
    if obj is None or obj.session_id != s.id:
        raise NotFound("opening.objection_not_found", "异议不存在。", "Objection not found.")
    if obj.answered_at is not None:
        raise Conflict("opening.objection_answered", "该异议已答复。", "This objection was already answered.")
    obj.answer, obj.answered_at, obj.answered_by_user_id = answer, uow.now, actor.user_id
    facts = project_facts(project, uow.now)
    projects.update_facts(
        uow, project.id, "opening objection answered", open_objections=max(0, facts.open_objections - 1)
    )
    append_event(uow, project.id, "objection.answered", {"id": obj.id, "answer": answer})
    uow.audit(
        "opening:objection_answer",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "objection_id": obj.id, "answer": answer},
    )
    return obj


def finish(uow: UnitOfWork, actor: Actor, project_id: int) -> tuple[int, str]:
    """The operator ends the opening once every objection is answered; returns ``(valid_bids, outcome)``.

    With at least the legal minimum of decrypted bids: ``finish_opening`` (→ ``opened``); with fewer: the
    lifecycle's ``declare_failed`` (→ ``failed``, 有效投标不足). Either way ``valid_bids`` = decrypted bids.
    """
    project = projects.get_project(uow, project_id, lock=True)
    require_role(uow, actor, project, {"operator"}, "结束开标")
    s = require_session(uow, project.id)
    ensure_allowed(state_of(s), Action.FINISH)
    valid = sum(1 for b in opening_bids(uow, s) if b.status == BidStatus.DECRYPTED.value)
    facts = project_facts(project, uow.now)
    if valid < min_bids(get_procedure(project.procedure_code), facts):
        open_objections = uow.session.scalar(
            select(func.count())
            .select_from(OpeningObjection)
            .where(OpeningObjection.session_id == s.id, OpeningObjection.answered_at.is_(None))
        )
        if open_objections:
            raise Conflict(
                "opening.objections_open",
                "尚有开标异议未答复。",
                "Some objections at the opening are not answered yet.",
            )
        projects.update_facts(uow, project.id, "opening: too few valid bids", valid_bids=valid)
        projects.perform(uow, actor, project.id, "declare_failed", {"valid_bids": valid})
        return valid, "failed"
    projects.perform(uow, actor, project.id, "finish_opening", {"valid_bids": valid})
    return valid, "opened"


def status_view(uow: UnitOfWork, actor: Actor | None, project_id: int) -> dict[str, Any]:
    """The session as anyone may see it; a bidder also sees its own bids' decryption state. Never a price."""
    project = projects.get_project(uow, project_id)
    s = require_session(uow, project.id)
    bids = opening_bids(uow, s)
    sections: dict[str, dict[str, int]] = {}
    for b in bids:
        code = section_of(uow, b.section_id).code
        sec = sections.setdefault(code, {"bids": 0, "checked_in": 0, "decrypted": 0, "failed": 0, "confirmed": 0})
        sec["bids"] += 1
        sec["checked_in"] += b.checked_in_at is not None
        sec["decrypted"] += b.status == BidStatus.DECRYPTED.value
        sec["failed"] += b.status in (BidStatus.REVOKED.value, BidStatus.WITHDRAWN.value)
        sec["confirmed"] += b.confirmed_at is not None
    mine: list[dict[str, Any]] = []
    cap = settings_of(s).max_key_attempts
    if actor is not None:
        for b in my_bids(uow, actor, project, s):
            mine.append(
                {
                    "bid_id": b.bid_id,
                    "section": section_of(uow, b.section_id).code,
                    "status": b.status,
                    "attempts": b.attempts,
                    "last_problem": b.last_problem,
                    "attempts_left": attempts_left(b.attempts, cap, b.last_problem),
                    "checked_in": b.checked_in_at is not None,
                    "confirmed": b.confirmed_at is not None,
                }
            )
    objections = list(
        uow.session.scalars(
            select(OpeningObjection).where(OpeningObjection.session_id == s.id).order_by(OpeningObjection.id)
        )
    )
    return {
        "project_id": project.id,
        "project_code": project.code,
        "state": s.state,
        "state_zh": state_of(s).label_zh,
        "suspended": project.state == "suspended",  # the opening is paused until the project resumes
        "settings": settings_of(s).to_dict(),
        "started_at": iso(s.started_at),
        "closes_at": iso(s.closes_at),
        "decryption_closed_at": iso(s.decryption_closed_at),
        "published_at": iso(s.published_at),
        "record_hash": s.record_hash,
        "valid_bids": s.valid_bids,
        "sections": [{"section": k, **v} for k, v in sorted(sections.items())],
        "objections": [
            {
                "id": o.id,
                "section": section_of(uow, o.section_id).code,
                "bidder_name": org_of(uow, o.org_id).name,
                "text": o.text,
                "raised_at": iso(o.raised_at),
                "answer": o.answer,
                "answered_at": iso(o.answered_at),
            }
            for o in objections
        ],
        "mine": mine,
    }


def record_view(uow: UnitOfWork, project_id: int) -> dict[str, Any]:
    """The published, signed opening record (404 before it is published)."""
    s = require_session(uow, project_id)
    if s.record is None:
        raise NotFound("opening.no_record", "开标记录尚未公布。", "The opening record is not published yet.")
    return dict(s.record)
