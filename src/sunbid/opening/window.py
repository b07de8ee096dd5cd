"""The decryption window when the project leaves its course, and the operator's window control.

* **Suspension 暂停** (complaint, supervision instruction …) from ``bidding`` or ``opening``: the session keeps its
  state but is frozen (:func:`sunbid.opening.session_base.ensure_not_suspended` refuses every step, the window's
  timer does nothing); on resume the window gets back the time it had left (``domain.resumed_close``) and a new
  timer is queued. Events ``session.suspended`` {state, remaining_ms} and ``session.resumed`` {closes_at}.
* **Termination 终止**: a session not yet closed or failed is cancelled (``cancelled``); posted custodian shares
  are wiped; the bids stay sealed for ever. Event ``session.cancelled`` {reason_zh, reason_en}.
* **Extension 延长解密时间**: the operator extends an open window, with a reason on record (platform trouble,
  network failure …): ``decryption.extended`` {minutes, closes_at, reason}, audited ``opening:window_extend``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from sunbid.core.errors import ValidationFailed
from sunbid.identity.service import Actor
from sunbid.opening.domain import Action, SessionState, ensure_allowed, extended_close, resumed_close
from sunbid.opening.events import OpeningEvent, append_event
from sunbid.opening.models import OpeningSession, OpeningSharePost
from sunbid.opening.service import iso
from sunbid.opening.session_base import (
    ensure_not_suspended,
    get_session,
    require_role,
    require_session,
    schedule_close,
    state_of,
    touch,
)
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project

__all__ = ["MAX_REASON", "extend_window", "on_resume", "on_suspend", "on_terminate"]

MAX_REASON = 500
_ENDED = frozenset({SessionState.CLOSED, SessionState.FAILED, SessionState.CANCELLED})


def _live(uow: UnitOfWork, project: Project) -> OpeningSession | None:
    """The session if it started and has not ended (a scheduled one has nothing running)."""
    s = get_session(uow, project.id)
    if s is None or state_of(s) in _ENDED or state_of(s) is SessionState.SCHEDULED:
        return None
    return s


def on_suspend(uow: UnitOfWork, project: Project) -> None:
    """The project was suspended: freeze a running session and note how long its window had left."""
    s = _live(uow, project)
    if s is None:
        return
    data: dict[str, object] = {"state": s.state}
    if state_of(s) is SessionState.DECRYPTING and s.closes_at is not None:
        data["remaining_ms"] = max((s.closes_at - uow.now) // timedelta(milliseconds=1), 0)
    append_event(uow, project.id, "session.suspended", data)
    uow.audit(
        "opening:suspend", subject_type="project", subject_id=project.id, data={"project_code": project.code, **data}
    )
    touch(uow, s)


def _suspended_at(uow: UnitOfWork, project: Project) -> datetime | None:
    return uow.session.scalar(
        select(OpeningEvent.occurred_at)
        .where(OpeningEvent.project_id == project.id, OpeningEvent.kind == "session.suspended")
        .order_by(OpeningEvent.seq.desc())
        .limit(1)
    )


def on_resume(uow: UnitOfWork, project: Project) -> None:
    """The project resumed: a decrypting session's window gets back the time it had left, with a new timer."""
    s = _live(uow, project)
    if s is None:
        return
    data: dict[str, object] = {"state": s.state}
    if state_of(s) is SessionState.DECRYPTING and s.closes_at is not None:
        since = _suspended_at(uow, project) or uow.now
        s.closes_at = resumed_close(s.closes_at, since, uow.now)
        data["closes_at"] = iso(s.closes_at)
        schedule_close(uow, project, s)
    append_event(uow, project.id, "session.resumed", data)
    uow.audit(
        "opening:resume", subject_type="project", subject_id=project.id, data={"project_code": project.code, **data}
    )
    touch(uow, s)


def on_terminate(uow: UnitOfWork, project: Project) -> None:
    """The project was terminated: cancel its session unless it already ended; wipe posted custodian shares."""
    s = get_session(uow, project.id)
    if s is None or state_of(s) in _ENDED:
        return
    was = s.state
    for post in uow.session.scalars(select(OpeningSharePost).where(OpeningSharePost.session_id == s.id)):
        post.share_sealed = None
    s.closed_at = uow.now
    touch(uow, s, SessionState.CANCELLED)
    append_event(
        uow,
        project.id,
        "session.cancelled",
        {"reason_zh": "项目已终止，开标取消", "reason_en": "The project was terminated: the opening is cancelled"},
    )
    uow.audit(
        "opening:cancel",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "from": was},
    )


def extend_window(uow: UnitOfWork, actor: Actor, project_id: int, minutes: int, reason: str) -> OpeningSession:
    """The operator extends the open decryption window by ``minutes``, giving the reason on record.

    Only while the window is open (``opening.window_closed`` after it), at most ``MAX_EXTENSION_MINUTES`` at a time
    and ``MAX_TOTAL_WINDOW_MINUTES`` in all. The old timer becomes stale; a new one is queued at the new close.
    """
    project = projects.get_project(uow, project_id, lock=True)
    require_role(uow, actor, project, {"operator"}, "延长解密时间")
    s = require_session(uow, project.id)
    ensure_not_suspended(project)
    ensure_allowed(state_of(s), Action.EXTEND_WINDOW)
    text = reason.strip()
    if not 2 <= len(text) <= MAX_REASON:
        raise ValidationFailed(
            "opening.reason_required",
            f"延长解密时间须说明理由（2–{MAX_REASON} 字）。",
            f"Extending the window needs a reason (2-{MAX_REASON} characters).",
        )
    assert s.started_at is not None
    assert s.closes_at is not None
    before = s.closes_at
    s.closes_at = extended_close(s.started_at, s.closes_at, uow.now, minutes)
    touch(uow, s)
    data = {"minutes": minutes, "closes_at": iso(s.closes_at), "reason": text}
    append_event(uow, project.id, "decryption.extended", data)
    uow.audit(
        "opening:window_extend",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "from": iso(before), **data},
    )
    schedule_close(uow, project, s)
    return s
