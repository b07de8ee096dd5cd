"""The live opening hall 开标大厅 (SPEC B-6): the event stream (server-sent events), its replay as JSON, and the
hall page (live, or replaying a finished session step by step).

Public: the law publishes the opening, so anyone may watch, signed in or not; but nothing beyond the events and
the project's public facts is shown, and a project that was never announced (and has no opening events) does
not exist here.

Streaming across workers needs no broker: each stream polls the database for events after the last ``seq`` it
sent. :class:`EventFeed` keeps the newest ``seq`` of each project for one poll interval, so a process asks the
database once per interval per watched project however many visitors watch, and reads the events themselves
only when there is something new. A reconnecting browser sends ``Last-Event-ID`` and gets exactly the events it
missed. A stream ends after ``session.closed`` / ``session.failed`` / ``session.cancelled`` is sent (a reconnect
after that gets ``204 No Content``, which tells ``EventSource`` to stop), when the client leaves, or after
:attr:`StreamConfig.max_seconds` (the browser then reconnects and resumes).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, FastAPI, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse, ServerSentEvent

from sunbid.core.errors import NotFound, Unavailable
from sunbid.opening.events import OpeningEvent, events_after
from sunbid.opening.hall_state import TERMINAL_KINDS, HallEvent, fold
from sunbid.opening.hall_views import hall_context, script_texts
from sunbid.platform.db import Database
from sunbid.portal import views
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts
from sunbid.web.i18n import N_
from sunbid.web.render import add_template_package, render_page
from sunbid.web.security import platform_of

router = APIRouter(tags=["opening 开标"])

MAX_PAGE = 1000
ProjectId = Annotated[int, Path(ge=1, le=2**62)]
NOT_FOUND = N_("There is no such project.")


def install(app: FastAPI) -> None:
    """Add the hall (stream, replay JSON and page) and its templates to ``app``."""
    add_template_package("sunbid.opening")
    app.include_router(router)


# --- the stream --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamConfig:
    """How streams poll and when they give up (``app.state.opening_hall_config`` overrides the defaults)."""

    poll_seconds: float = 0.5
    heartbeat_seconds: float = 15.0
    max_seconds: float = 3600.0
    retry_ms: int = 3000
    batch: int = 200
    send_timeout_seconds: float = 30.0
    max_streams: int = 5000  # open streams per process; more are refused (503) rather than starving the server


@dataclass(frozen=True)
class Tip:
    """A project's newest event: its ``seq`` (0 when none) and kind."""

    seq: int
    kind: str

    @property
    def terminal(self) -> bool:
        """Whether the newest event ends the session."""
        return self.kind in TERMINAL_KINDS


class EventFeed:
    """Reads projects' events for the streams of one process (thread-safe; any event loop)."""

    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._tips: dict[int, tuple[float, Tip]] = {}
        self._locks: dict[int, threading.Lock] = {}
        self._guard = threading.Lock()
        self.streams = 0

    def count_stream(self, delta: int) -> None:
        """Count a stream in (+1) or out (-1)."""
        with self._guard:
            self.streams += delta

    def tip(self, project_id: int) -> Tip:
        """The project's newest event, as read at most ``ttl`` seconds ago."""
        cached = self._tips.get(project_id)
        if cached is not None and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        with self._guard:
            lock = self._locks.setdefault(project_id, threading.Lock())
        with lock:  # one reader per project; the others wait for its answer
            cached = self._tips.get(project_id)
            if cached is not None and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            with self.db.read() as s:
                tip = newest(s, project_id)
            self._tips[project_id] = (time.monotonic(), tip)
            if len(self._tips) > 10_000:  # forget projects nobody watched for a minute
                old = time.monotonic() - 60
                with self._guard:
                    for pid, (at, _) in list(self._tips.items()):
                        if at < old:
                            self._tips.pop(pid, None)
                            self._locks.pop(pid, None)
            return tip

    def after(self, project_id: int, after: int, limit: int) -> list[dict[str, Any]]:
        """Events with ``seq > after``, oldest first, as the hall receives them."""
        with self.db.read() as s:
            return [e.to_json() for e in events_after(s, project_id, after, limit)]


def newest(session: Session, project_id: int) -> Tip:
    """The project's newest event (``Tip(0, "")`` when there is none)."""
    row = session.execute(
        select(OpeningEvent.seq, OpeningEvent.kind)
        .where(OpeningEvent.project_id == project_id)
        .order_by(OpeningEvent.seq.desc())
        .limit(1)
    ).first()
    return Tip(0, "") if row is None else Tip(int(row[0]), str(row[1]))


def _sse(event: dict[str, Any]) -> ServerSentEvent:
    return ServerSentEvent(
        data=json.dumps(event, ensure_ascii=False, separators=(",", ":")), event=event["kind"], id=str(event["seq"])
    )


async def hall_stream(
    feed: EventFeed,
    project_id: int,
    after: int,
    config: StreamConfig,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[ServerSentEvent]:
    """The project's events after ``after`` as server-sent events, then new ones as they are committed.

    Ends once the newest event sent is terminal (``session.closed`` / ``session.failed`` / ``session.cancelled``) or
    after ``config.max_seconds``; the response's heartbeat comments keep proxies from closing an idle stream.
    """
    deadline = clock() + config.max_seconds
    last, last_kind = after, ""
    yield ServerSentEvent(comment="sunbid opening hall", retry=config.retry_ms)
    while True:
        tip = await anyio.to_thread.run_sync(feed.tip, project_id)
        while tip.seq > last:
            batch = await anyio.to_thread.run_sync(feed.after, project_id, last, config.batch)
            for event in batch:
                yield _sse(event)
                last, last_kind = int(event["seq"]), str(event["kind"])
            if len(batch) < config.batch:
                break
        kind = last_kind or (tip.kind if tip.seq == last else "")
        if tip.seq <= last and kind in TERMINAL_KINDS:
            return
        if clock() >= deadline:
            return
        await anyio.sleep(config.poll_seconds)


async def _counted(feed: EventFeed, stream: AsyncIterator[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    """``stream``, counted among the feed's open streams while it runs (until finished, cancelled or failed)."""
    feed.count_stream(+1)
    try:
        async for item in stream:
            yield item
    finally:
        feed.count_stream(-1)


def stream_config(app: Any) -> StreamConfig:
    """The app's stream settings."""
    config = getattr(app.state, "opening_hall_config", None)
    return config if isinstance(config, StreamConfig) else StreamConfig()


def event_feed(request: Request) -> EventFeed:
    """The app's feed (made on first use, shared by every stream of the process)."""
    app = request.app
    feed = getattr(app.state, "opening_hall_feed", None)
    if not isinstance(feed, EventFeed):
        feed = EventFeed(platform_of(request).db, stream_config(app).poll_seconds)
        app.state.opening_hall_feed = feed
    return feed


def public_project(session: Session, project_id: int) -> Project | None:
    """The project if anyone may watch its opening: announced, or already holding opening events."""
    project = session.get(Project, project_id)
    if project is None:
        return None
    if views.announced_at(session, project.id) is None and newest(session, project.id).seq == 0:
        return None
    return project


def _require_public(request: Request, project_id: int) -> Tip:
    with platform_of(request).db.read() as s:
        if public_project(s, project_id) is None:
            raise NotFound("project.not_found", "项目不存在。", "Project not found.")
        return newest(s, project_id)


def _last_event_id(value: str | None) -> int:
    text = (value or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else 0


@router.get(
    "/api/projects/{project_id}/opening/events",
    summary="开标大厅事件流 Opening hall event stream (server-sent events)",
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "id: seq, event: kind, data: the event's JSON"},
        204: {"description": "The session has ended and the client has every event: stop reconnecting."},
        404: {"description": "No such project (or not public)."},
        503: {"description": "Too many open streams in this process: retry later."},
    },
)
async def stream_events(
    request: Request,
    project_id: ProjectId,
    after: Annotated[int, Query(ge=0, le=2**31)] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    """Every event after ``after`` (or the ``Last-Event-ID`` a reconnecting browser sends), then live ones."""
    start = max(after, _last_event_id(last_event_id))
    tip = await anyio.to_thread.run_sync(_require_public, request, project_id)
    if tip.terminal and tip.seq <= start:
        return Response(status_code=204)
    config = stream_config(request.app)
    feed = event_feed(request)
    if feed.streams >= config.max_streams:  # checked here to answer 503; counted while the stream runs
        raise Unavailable(
            "opening.hall_busy",
            "开标大厅观看人数已满，请稍后再试或查看开标记录回放。",
            "The opening hall is full; try again later or replay the events.",
        )
    return EventSourceResponse(
        _counted(feed, hall_stream(feed, project_id, start, config)),
        ping=config.heartbeat_seconds,
        send_timeout=config.send_timeout_seconds,
        headers={"Cache-Control": "no-store"},
    )


class OpeningEventOut(BaseModel):
    """An event of the opening hall."""

    seq: int
    kind: str
    data: dict[str, Any]
    at: str


@router.get(
    "/api/projects/{project_id}/opening/events.json",
    response_model=list[OpeningEventOut],
    summary="开标大厅事件回放 Opening hall events (replay)",
)
def list_events(
    request: Request,
    project_id: ProjectId,
    after: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
) -> list[dict[str, Any]]:
    """The events with ``seq > after``, oldest first, at most ``limit``: ask again after the last to page."""
    _require_public(request, project_id)
    with platform_of(request).db.read() as s:
        return [e.to_json() for e in events_after(s, project_id, after, limit)]


# --- the page ----------------------------------------------------------------------------------------------


def all_events(session: Session, project_id: int) -> list[HallEvent]:
    """Every event of the project's opening, oldest first."""
    out: list[HallEvent] = []
    while True:
        batch = events_after(session, project_id, out[-1].seq if out else 0, MAX_PAGE)
        out += [HallEvent(e.seq, e.kind, e.data if isinstance(e.data, dict) else {}, e.occurred_at) for e in batch]
        if len(batch) < MAX_PAGE:
            return out


@router.get("/projects/{project_id}/opening", include_in_schema=False)
def hall_page(
    request: Request,
    project_id: ProjectId,
    replay: Annotated[int, Query(ge=0, le=1)] = 0,
    step: Annotated[int | None, Query(ge=0, le=2**31)] = None,
) -> Response:
    """The hall: the state after every event so far (live), or after ``step`` events (replay)."""
    platform = platform_of(request)
    lang = views.lang_of(request)
    now = platform.clock.now()
    with platform.db.read() as s:
        project = public_project(s, project_id)
        if project is None:
            text = lang.text(NOT_FOUND)
            return render_page(request, "message.html", {"message": text, "back": "/portal"}, status_code=404)
        events = all_events(s, project_id)
        view = views.project_view(s, project, lang)
        announced = views.announced_at(s, project.id) is not None
        opening_at = project_facts(project, now).time("bid_deadline")
    total = len(events)
    current = total if not replay else min(total, step if step is not None else 0)
    state = fold(events[:current])
    # A replay shows the countdown as it stood when the last event shown happened.
    shown_now = (events[current - 1].at or now) if replay and current else now
    base = f"/projects/{project_id}/opening"
    ctx: dict[str, Any] = {
        **hall_context(state, lang.tr, shown_now),
        "project": view,
        "portal_url": f"/portal/projects/{project.code}" if announced else "",
        "opening_at": views.minutes(opening_at) if opening_at else "",
        "replay": bool(replay),
        "step": current,
        "total": total,
        "base_url": base,
        "stream_url": f"/api/projects/{project_id}/opening/events",
        "events_url": f"/api/projects/{project_id}/opening/events.json",
        "now_iso": now.isoformat(),
        "script_texts": script_texts(lang.tr),
        "current_path": base + (f"?replay=1&step={current}" if replay else ""),
    }
    return render_page(request, "opening/hall.html", ctx)
