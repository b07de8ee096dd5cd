"""The public portal's project data (SPEC P-1): announcements and what anyone may know about a published project.

Nothing here needs a sign-in and nothing non-public leaks: no objections, no working facts (how many bids
arrived), no internal steps, no non-public documents.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy import Subquery, func, select

from sunbid.core.errors import NotFound
from sunbid.identity.models import RegionRow
from sunbid.platform.deps import request_context
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import api_views as views
from sunbid.projects.api_views import Plat
from sunbid.projects.models import Project, ProjectDocument, ProjectEvent
from sunbid.projects.procedures import get_procedure
from sunbid.projects.schemas import (
    AnnouncementOut,
    AnnouncementPage,
    Moment,
    PublicProjectOut,
    PublicStep,
)
from sunbid.projects.timing import project_facts

router = APIRouter(prefix="/api/v1", tags=["public 信息公开"])

# --- the public portal -------------------------------------------------------------------------------------


def _region_names(uow: UnitOfWork, codes: set[str]) -> dict[str, str]:
    """Chinese names of region codes."""
    if not codes:
        return {}
    rows = uow.session.execute(select(RegionRow.code, RegionRow.name).where(RegionRow.code.in_(sorted(codes))))
    return {row.code: row.name for row in rows}


def _announced() -> Subquery:
    """Each announced project with the time of its latest announcement."""
    return (
        select(ProjectEvent.project_id, func.max(ProjectEvent.occurred_at).label("at"))
        .where(ProjectEvent.action.in_(views.ANNOUNCING))
        .group_by(ProjectEvent.project_id)
        .subquery()
    )


@router.get("/public/announcements", response_model=AnnouncementPage, summary="招标公告 Announcements")
def announcements(
    request: Request,
    platform: Plat,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AnnouncementPage:
    """Published announcements, newest first (anyone, no sign-in)."""
    with platform.uow(request_context(request)) as uow:
        ann = _announced()
        total = int(uow.session.scalar(select(func.count()).select_from(ann)) or 0)
        rows = uow.session.execute(
            select(Project, ann.c.at)
            .join(ann, ann.c.project_id == Project.id)
            .order_by(ann.c.at.desc(), Project.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        names = _region_names(uow, {p.region_code for p, _ in rows})
        items = []
        for project, at in rows:
            facts = project_facts(project, uow.now)
            items.append(
                AnnouncementOut(
                    code=project.code,
                    name=project.name,
                    procedure_code=project.procedure_code,
                    procedure_zh=get_procedure(project.procedure_code).name_zh,
                    region_code=project.region_code,
                    region_zh=names.get(project.region_code),
                    state=project.state,
                    state_zh=views.state_zh(project),
                    announced_at=Moment.of(facts.announcement_at or at),
                    bid_deadline=Moment.of(facts.bid_deadline),
                )
            )
    return AnnouncementPage(items=items, total=total, page=page, page_size=page_size)


@router.get("/public/projects/{code}", response_model=PublicProjectOut, summary="项目公开信息 Public")
def public_project(
    code: Annotated[str, Path(min_length=1, max_length=40)], request: Request, platform: Plat
) -> PublicProjectOut:
    """What anyone may know: the published steps, the public documents, the deadlines announced."""
    with platform.uow(request_context(request)) as uow:
        project = uow.session.scalars(select(Project).where(Project.code == code)).first()
        if project is None or not views.published(project, uow.now):
            raise NotFound("project.not_found", f"项目 {code} 不存在或尚未公开。", f"Project {code} is not public.")
        procedure = get_procedure(project.procedure_code)
        facts = project_facts(project, uow.now)
        docs = uow.session.scalars(
            select(ProjectDocument).where(ProjectDocument.project_id == project.id).order_by(ProjectDocument.id)
        )
        events = uow.session.scalars(
            select(ProjectEvent)
            .where(ProjectEvent.project_id == project.id, ProjectEvent.action.in_(sorted(views.PUBLIC_STEPS)))
            .order_by(ProjectEvent.seq)
        )
        steps = []
        for e in events:
            to = procedure.state(e.to_state)
            steps.append(
                PublicStep(
                    action=e.action,
                    action_zh=views.action_zh(e.action),
                    event=e.event,
                    state_zh=to.name_zh if to else e.to_state,
                    at=Moment.of(e.occurred_at),
                )
            )
        return PublicProjectOut(
            code=project.code,
            name=project.name,
            procedure_code=project.procedure_code,
            procedure_zh=procedure.name_zh,
            sector=project.sector,
            region_code=project.region_code,
            region_zh=_region_names(uow, {project.region_code}).get(project.region_code),
            state=project.state,
            state_zh=views.state_zh(project),
            announced_at=Moment.of(facts.announcement_at),
            bid_deadline=Moment.of(facts.bid_deadline),
            publicity_end=Moment.of(facts.publicity_end) if facts.publicity_start else None,
            sections=views.sections_out(uow, project, public=True),
            documents=[views.doc_out(d) for d in docs if views.doc_public(project, d, uow.now)],
            timeline=steps,
        )
