"""Shared parts of the opening session: loading, permissions, and opening a stored bid with a key."""

from __future__ import annotations

import logging

from sqlalchemy import select

from sunbid.bidding import service as bidding
from sunbid.bidding.container import DiscardSink, OpenedBid, container_hash, open_bid_from
from sunbid.bidding.models import Bid
from sunbid.core.errors import Conflict, DomainError, Forbidden, NotFound
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.opening.domain import (
    BidStatus,
    OpeningSettings,
    SessionState,
)
from sunbid.opening.events import append_event
from sunbid.opening.models import (
    OpeningBid,
    OpeningKey,
    OpeningSession,
)
from sunbid.opening.service import (
    platform_open,
    platform_seal,
)
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section

log = logging.getLogger("sunbid.opening")

CLOSE_TOPIC = "opening.close_window"
MAX_OBJECTION = 2000
MAX_SHARE_TEXT = 4000


def get_session(uow: UnitOfWork, project_id: int) -> OpeningSession | None:
    """The project's current opening session (the latest round), if any."""
    return uow.session.scalar(
        select(OpeningSession)
        .where(OpeningSession.project_id == project_id)
        .order_by(OpeningSession.round.desc())
        .limit(1)
    )


def require_session(uow: UnitOfWork, project_id: int) -> OpeningSession:
    """The project's session (``opening.no_session`` 404 if none)."""
    s = get_session(uow, project_id)
    if s is None:
        raise NotFound("opening.no_session", "本项目没有开标会议。", "This project has no opening session.")
    return s


def ensure_session(uow: UnitOfWork, project: Project) -> OpeningSession:
    """The project's session, created ``scheduled`` with the default settings if missing."""
    s = get_session(uow, project.id)
    if s is None:
        s = OpeningSession(
            project_id=project.id,
            round=1,
            state=SessionState.SCHEDULED.value,
            settings=OpeningSettings().to_dict(),
            created_at=uow.now,
            updated_at=uow.now,
        )
        uow.session.add(s)
        uow.session.flush()
    return s


def settings_of(s: OpeningSession) -> OpeningSettings:
    """The session's settings."""
    return OpeningSettings.from_dict(s.settings)


def state_of(s: OpeningSession) -> SessionState:
    """The session's state as the domain enum."""
    return SessionState(s.state)


def opening_bids(uow: UnitOfWork, s: OpeningSession) -> list[OpeningBid]:
    """The session's bids, in the order they were taken in (receipt order)."""
    return list(uow.session.scalars(select(OpeningBid).where(OpeningBid.session_id == s.id).order_by(OpeningBid.id)))


def org_of(uow: UnitOfWork, org_id: int) -> Organisation:
    """An organisation that must exist (the bids point at it)."""
    org = uow.session.get(Organisation, org_id)
    assert org is not None
    return org


def section_of(uow: UnitOfWork, section_id: int) -> Section:
    """A section that must exist (the bids point at it)."""
    section = uow.session.get(Section, section_id)
    assert section is not None
    return section


def require_role(uow: UnitOfWork, actor: Actor, project: Project, allowed: set[str], what_zh: str) -> str:
    """The first of ``allowed`` procedure roles the actor holds in the project, else ``opening.forbidden``."""
    roles = projects.project_roles(uow, actor, project) & allowed
    if not roles:
        raise Forbidden(
            "opening.forbidden", f"您无权{what_zh}。", f"You may not do this ({', '.join(sorted(allowed))} only)."
        )
    return sorted(roles)[0]


def my_bids(uow: UnitOfWork, actor: Actor, project: Project, s: OpeningSession) -> list[OpeningBid]:
    """The session's bids of the actor's own bidder organisations (nobody else's)."""
    orgs = bidding.bidder_org_ids(actor, project, uow.now)
    if not orgs:
        return []
    return [b for b in opening_bids(uow, s) if b.org_id in orgs]


def touch(uow: UnitOfWork, s: OpeningSession, state: SessionState | None = None) -> None:
    """Mark the session changed now, moving it to ``state`` if given."""
    if state is not None:
        s.state = state.value
    s.updated_at = uow.now


def mark_checked_in(uow: UnitOfWork, project: Project, b: OpeningBid) -> None:
    """Check the bidder of ``b`` in (once): event ``bidder.checked_in`` and audit."""
    if b.checked_in_at is not None:
        return
    b.checked_in_at = uow.now
    section = section_of(uow, b.section_id)
    name = org_of(uow, b.org_id).name
    append_event(uow, project.id, "bidder.checked_in", {"section": section.code, "bidder_name": name})
    uow.audit(
        "opening:check_in",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "section": section.code, "bid_id": b.bid_id},
    )


def _stored_hash_ok(uow: UnitOfWork, bid: Bid) -> bool:
    try:
        with uow.platform.storage.open(bid.storage_key) as f:
            return container_hash(f, uow.platform.suite) == bid.container_hash
    except (OSError, DomainError):
        return False


def open_stored(
    uow: UnitOfWork,
    bid: Bid,
    key: OpeningKey,
    *,
    content_key: bytes | None = None,
    opening_private: bytes | None = None,
) -> tuple[OpenedBid | None, str | None]:
    """Open a stored bid; ``(opened, None)`` or ``(None, problem code)`` classified bidder vs platform."""
    platform = uow.platform
    try:
        with platform.storage.open(bid.storage_key) as src:
            opened = open_bid_from(
                platform.suite,
                src,
                DiscardSink(),
                content_key=content_key,
                opening_private=opening_private,
                context=key.context,
                expected_hash=bid.container_hash,
                ca_cert_pem=platform.ca().certificate_pem,
                now=bid.received_at,
            )
    except DomainError as exc:
        if not _stored_hash_ok(uow, bid):
            return None, "opening.stored_container_damaged"
        return None, "bid.wrong_key" if exc.code in ("bid.wrong_key", "bid.context_mismatch") else exc.code[:64]
    except OSError:
        log.exception("opening: stored bid %s unreadable", bid.id)
        return None, "opening.stored_container_damaged"
    except Exception:
        log.exception("opening: server error while opening bid %s", bid.id)
        return None, "opening.server_error"
    if not opened.signature_valid:
        return None, "bid.signature_invalid"
    return opened, None


def accept_opened(
    uow: UnitOfWork, project: Project, ob: OpeningBid, bid: Bid, opened: OpenedBid, by: str, content_key: bytes
) -> str | None:
    """Record an opened bid, or return the problem if it names someone else."""
    org = org_of(uow, ob.org_id)
    section = section_of(uow, ob.section_id)
    m = opened.manifest
    if (m.bidder_uscc, m.project_code, m.section_code) != (org.uscc, project.code, section.code):
        return "bid.manifest_other"
    ob.status = BidStatus.DECRYPTED.value
    ob.decrypted_at = uow.now
    ob.opened_by = by
    ob.price = m.price
    ob.duration_days = m.duration_days
    ob.quality = m.quality
    ob.extra = dict(m.extra)
    ob.manifest_digest = uow.platform.suite.digest(opened.manifest_json).hex()
    ob.documents = [{"name": f.name, "size": f.size, "digest": f.digest} for f in opened.file_entries]
    ob.content_key_sealed = platform_seal(uow.platform, content_key, f"content-key:{bid.id}:{bid.container_hash}")
    ob.last_problem = None
    append_event(uow, project.id, "bid.decrypted", {"section": section.code, "bidder_name": org.name, "by": by})
    uow.audit(
        "opening:decrypt",
        subject_type="project",
        subject_id=project.id,
        data={
            "project_code": project.code,
            "section": section.code,
            "bid_id": bid.id,
            "container_hash": bid.container_hash,
            "by": by,
            "manifest_digest": ob.manifest_digest,
        },
    )
    return None


def schedule_close(uow: UnitOfWork, project: Project, s: OpeningSession) -> None:
    """Queue the timed close of the window at ``closes_at`` (the job ignores a stale or early message)."""
    assert s.closes_at is not None
    uow.enqueue(
        CLOSE_TOPIC,
        {"project_id": project.id, "closes_at": s.closes_at.isoformat()},
        dedupe_key=f"opening-close:{project.id}:{s.closes_at.isoformat()}",
        available_at=s.closes_at,
    )


def ensure_not_suspended(project: Project) -> None:
    """Refuse any step of the opening while the project is suspended 暂停 (``opening.suspended``, 409)."""
    if project.state == "suspended":
        raise Conflict(
            "opening.suspended",
            "项目已暂停，开标暂停进行；恢复后继续。",
            "The project is suspended: the opening is paused until it resumes.",
        )


def content_key_of(uow: UnitOfWork, ob: OpeningBid) -> bytes:
    """The content key kept for a decrypted bid (for evaluation to re-open it); the access is audited."""
    bid = uow.session.get(Bid, ob.bid_id)
    if bid is None or ob.content_key_sealed is None:
        raise NotFound("opening.not_decrypted", "该投标文件尚未解密。", "This bid has not been decrypted.")
    uow.audit("opening:content_key_access", subject_type="bid", subject_id=bid.id, data={"bid_id": bid.id})
    return platform_open(uow.platform, ob.content_key_sealed, f"content-key:{bid.id}:{bid.container_hash}")
