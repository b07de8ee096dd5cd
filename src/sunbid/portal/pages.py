"""The public portal (公共资源交易信息网, SPEC P-1): announcements, and each announced project's public page.

Anyone may read it; nothing that is not public shows. A project appears once an announcement step is recorded;
its page lists the public documents (free download, PDFs previewed online), the public dates and running
deadlines, and the public steps with their transparency-log entries. Bid counts, objections, non-public
documents and who acted never appear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from sunbid.portal import documents, views
from sunbid.portal.views import ANNOUNCE_ACTIONS, Lang, ProjectView, lang_of, minutes
from sunbid.projects.models import Project, ProjectDocument, ProjectEvent
from sunbid.projects.timing import project_facts
from sunbid.web.i18n import N_
from sunbid.web.render import add_template_package, render_page
from sunbid.web.security import platform_of

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
MAX_PAGE = 10_000
#: The deadline the list shows for a project: the first of these that is recorded.
LIST_DEADLINES = ("bid_deadline", "preq_deadline", "source_publicity_end")
NOT_PUBLISHED = N_("There is no such announcement.")
PUBLIC_ROLES: frozenset[str] = frozenset()  # the public takes no step: only the timed deadlines show


def install(app: FastAPI) -> None:
    """Add the portal pages and their templates to ``app``."""
    add_template_package("sunbid.portal")
    app.include_router(router)


@dataclass(frozen=True)
class Announcement:
    """A row of the announcement list."""

    project: ProjectView
    announced_at: str
    deadline_label: str
    deadline: str


def _deadline(project: Project, lang: Lang, now: datetime) -> tuple[str, str]:
    facts = project_facts(project, now)
    for name in LIST_DEADLINES:
        when = facts.time(name)
        if when is not None:
            return lang.fact(name), minutes(when)
    return "", ""


def _not_found(request: Request) -> Response:
    text = lang_of(request).text(NOT_PUBLISHED)
    return render_page(request, "message.html", {"message": text, "back": "/portal"}, status_code=404)


@router.get("/portal", summary="交易公告 Announcements")
def announcements(request: Request, page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1) -> Response:
    """Published announcements, newest first, twenty a page."""
    lang = lang_of(request)
    platform = platform_of(request)
    now = platform.clock.now()
    with platform.db.read() as s:
        latest = (
            select(ProjectEvent.project_id.label("pid"), func.max(ProjectEvent.occurred_at).label("at"))
            .where(ProjectEvent.action.in_(ANNOUNCE_ACTIONS))
            .group_by(ProjectEvent.project_id)
            .subquery()
        )
        total = int(s.scalar(select(func.count()).select_from(latest)) or 0)
        rows = s.execute(
            select(Project, latest.c.at)
            .join(latest, latest.c.pid == Project.id)
            .order_by(latest.c.at.desc(), Project.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        ).all()
        projects = [r[0] for r in rows]
        items = [
            Announcement(view, minutes(at), *_deadline(p, lang, now))
            for (p, at), view in zip(rows, views.project_views(s, projects, lang), strict=True)
        ]
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        return _not_found(request)
    return render_page(
        request,
        "portal/list.html",
        {
            "items": items,
            "total": total,
            "page": page,
            "pages": pages,
            "prev_url": f"/portal?page={page - 1}" if page > 1 else "",
            "next_url": f"/portal?page={page + 1}" if page < pages else "",
        },
    )


@router.get("/portal/projects/{code}", summary="项目公告详情 Announced project")
def project(request: Request, code: str) -> Response:
    """An announced project: public facts, dates, deadlines, documents and steps."""
    lang = lang_of(request)
    platform = platform_of(request)
    now = platform.clock.now()
    with platform.db.read() as s:
        p = s.scalar(select(Project).where(Project.code == code[:40]))
        if p is None or views.announced_at(s, p.id) is None:
            return _not_found(request)
        base = f"/portal/projects/{p.code}/documents"
        ctx = {
            **views.countdown_context(s, p, lang, now, PUBLIC_ROLES),
            "project": views.project_view(s, p, lang),
            "dates": views.key_dates(p, lang, now, public=True),
            "documents": documents.document_views(documents.project_documents(s, p, now, public=True), lang, base),
            "timeline": views.timeline(s, p, lang, public=True),
            "bidder_url": f"/bidder/projects/{p.id}",
        }
    return render_page(request, "portal/project.html", ctx)


def _public_document(request: Request, code: str, doc_id: int, *, inline: bool) -> Response:
    platform = platform_of(request)
    with platform.db.read() as s:
        p = s.scalar(select(Project).where(Project.code == code[:40]))
        doc = s.get(ProjectDocument, doc_id)
        if p is None or doc is None or doc.project_id != p.id or views.announced_at(s, p.id) is None:
            return _not_found(request)
        if not documents.is_public_document(doc, project_facts(p, platform.clock.now())):
            return _not_found(request)
        return documents.document_response(platform, doc, inline=inline)


@router.get("/portal/projects/{code}/documents/{doc_id}", summary="下载公开文件 Download a public document")
def public_document(request: Request, code: str, doc_id: int) -> Response:
    """A public document of an announced project, free of charge."""
    return _public_document(request, code, doc_id, inline=False)


@router.get("/portal/projects/{code}/documents/{doc_id}/preview", summary="在线预览 Preview a public document")
def public_document_preview(request: Request, code: str, doc_id: int) -> Response:
    """A public PDF opened in the browser (``Content-Disposition: inline``)."""
    return _public_document(request, code, doc_id, inline=True)
