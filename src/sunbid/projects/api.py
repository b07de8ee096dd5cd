"""The tender lifecycle over HTTP: projects, procedure actions, timeline, countdowns, what the caller may do
(SPEC T-1 … T-3). Documents, objections, contract and the public portal are in the ``api_*`` modules, whose
routers this one includes.

Every action goes through :func:`sunbid.projects.service.perform`: the procedure engine decides, and its
refusals come out as problem documents (409 illegal step or failed condition, 403 role, 422 a legal time rule
``rules.<id>``). Who sees what is in :mod:`sunbid.projects.api_views`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Path, Query, Request
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from sunbid.core.errors import Conflict, DomainError
from sunbid.identity.auth import CurrentActor, enforce
from sunbid.identity.domain import Permission, Role, Scope
from sunbid.identity.models import Centre
from sunbid.identity.service import Actor
from sunbid.platform.deps import request_context
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import api_views as views
from sunbid.projects import engine, service
from sunbid.projects.api_views import Pid, Plat
from sunbid.projects.models import ContractSignature, Project, ProjectDocument, ProjectEvent
from sunbid.projects.procedure_vocabulary import ACTION_LABELS, ROLE_LABELS
from sunbid.projects.procedures import get_procedure
from sunbid.projects.schemas import (
    ActionOut,
    ActionParams,
    AllowedAction,
    AllowedActionsOut,
    DeadlineOut,
    DeadlinesOut,
    Moment,
    ProjectCreate,
    ProjectOut,
    ProjectPage,
    ProjectSummary,
    TimelineItem,
    WarningOut,
)
from sunbid.projects.timing import checker_for, project_facts, with_facts

#: This module's own routes; :data:`router` (what the app includes) adds the ``api_*`` modules' routes.
routes = APIRouter(prefix="/api/v1", tags=["projects 交易项目"])

PROJECT_REGISTER = Permission(
    "project.register",
    frozenset({Role.TENDERER, Role.AGENCY}),
    Scope.ANY_AUTHENTICATED,
    "登记交易项目（招标人或代理机构）",
)
#: Engine actions that have their own endpoint (they record more than a step).
DEDICATED = {
    "confirm_award": "/api/v1/projects/{id}/award",
    "sign_contract": "/api/v1/projects/{id}/contract/signatures",
    "raise_objection": "/api/v1/projects/{id}/objections",
    "answer_objection": "/api/v1/objections/{objection_id}/answer",
}

# --- projects ----------------------------------------------------------------------------------------------


@routes.post("/projects", response_model=ProjectOut, status_code=201, summary="登记项目 Register a project")
def create_project(body: ProjectCreate, request: Request, actor: CurrentActor, platform: Plat) -> ProjectOut:
    """The tenderer or its agency creates the project and registers it (项目登记); the centre then accepts it."""
    enforce(request, actor, PROJECT_REGISTER)
    with platform.uow(request_context(request)) as uow:
        sections = [
            service.SectionIn(
                s.code, s.name, service.money(s.budget, "标段预算"), service.money(s.max_price, "最高投标限价")
            )
            for s in body.sections or []
        ]
        project = service.create_project(
            uow,
            actor,
            name=body.name,
            procedure_code=body.procedure_code,
            tenderer_org_id=body.tenderer_org_id,
            agency_org_id=body.agency_org_id,
            budget=body.budget,
            sections=sections or None,
            documents_complete=body.documents_complete,
            plan_required=body.plan_required,
        )
        out = views.project_out(uow, project, service.project_roles(uow, actor, project))
        uow.commit()
    return out


def _mine(actor: Actor) -> ColumnElement[bool]:
    """The projects the caller works on, by role (what ``project_roles`` grants, as a query)."""
    conds: list[ColumnElement[bool]] = []
    for m in actor.principal.memberships:
        org = int(m.org_id)
        cond: ColumnElement[bool] | None = None
        if m.role is Role.TENDERER:
            cond = Project.tenderer_org_id == org
        elif m.role is Role.AGENCY:
            cond = Project.agency_org_id == org
        elif m.role in (Role.OPERATOR, Role.ADMIN):
            cond = Project.centre_id.in_(select(Centre.id).where(Centre.org_id == org))
        elif m.role is Role.REGULATOR and m.region_code and m.sectors:
            code = m.region_code
            region = (
                Project.region_code.like(code[:2] + "%")
                if code[2:] == "0000"
                else Project.region_code.like(code[:4] + "%")
                if code[4:] == "00"
                else Project.region_code == code
            )
            cond = and_(region, Project.sector.in_(sorted(s.value for s in m.sectors)))
        elif m.role is Role.EXPERT and m.project_ids is not None:
            cond = true()
        if cond is None:
            continue
        if m.project_ids is not None:
            cond = and_(cond, Project.id.in_(sorted(int(p) for p in m.project_ids)))
        conds.append(cond)
    return or_(*conds) if conds else false()


@routes.get("/projects", response_model=ProjectPage, summary="我的项目 My projects")
def list_projects(
    request: Request,
    actor: CurrentActor,
    platform: Plat,
    state: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ProjectPage:
    """The caller's projects: as tenderer, agency, centre staff, competent regulator or assigned expert."""
    where = _mine(actor)
    if state is not None:
        where = and_(where, Project.state == state)
    with platform.db.read() as s:
        total = int(s.scalar(select(func.count()).select_from(Project).where(where)) or 0)
        rows = s.scalars(select(Project).where(where).order_by(Project.id.desc()).offset(offset).limit(limit))
        items = [
            ProjectSummary(
                id=p.id,
                code=p.code,
                name=p.name,
                procedure_code=p.procedure_code,
                procedure_zh=get_procedure(p.procedure_code).name_zh,
                state=p.state,
                state_zh=views.state_zh(p),
                updated_at=Moment.of(p.updated_at),
            )
            for p in rows
        ]
    return ProjectPage(items=items, total=total, limit=limit, offset=offset)


@routes.get("/projects/{project_id}", response_model=ProjectOut, summary="项目详情（工作视图） Project")
def get_project(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> ProjectOut:
    """The working view: parties, the centre's operators, the competent regulator, assigned experts; 403 else."""
    with platform.uow(request_context(request)) as uow:
        project, roles = views.working(uow, actor, project_id)
        return views.project_out(uow, project, roles)


@routes.post(
    "/projects/{project_id}/actions/{action}", response_model=ActionOut, summary="执行程序操作 Perform an action"
)
def perform_action(
    project_id: Pid,
    action: Annotated[str, Path(min_length=1, max_length=40)],
    request: Request,
    actor: CurrentActor,
    platform: Plat,
    body: Annotated[ActionParams | None, Body()] = None,
) -> ActionOut:
    """Try a procedure action (see docs/procedures.md). Refusals: 409 illegal step or failed condition, 403
    role, 422 a legal time rule (``rules.<id>``, naming the rule) or a missing parameter."""
    with platform.uow(request_context(request)) as uow:
        project = service.get_project(uow, project_id, lock=True)  # locked before perform() reads it
        views.may_act(uow, actor, project)
        if action in DEDICATED:
            endpoint = _endpoint(action, project.id)
            raise Conflict(
                "project.use_dedicated_endpoint",
                f"「{views.action_zh(action)}」请通过 {endpoint} 办理。",
                f"Use {endpoint} for {action}.",
                details={"action": action, "endpoint": endpoint},
            )
        params = {} if body is None else body.model_dump(exclude_none=True)
        outcome = service.perform(uow, actor, project_id, action, params)
        out = ActionOut(
            project_id=project.id,
            code=project.code,
            action=action,
            action_zh=views.action_zh(action),
            event=outcome.event,
            from_state=str(outcome.details.get("from", "")),
            state=outcome.new_state,
            state_zh=views.state_zh(project),
            warnings=[
                WarningOut(code=w.code, message_zh=w.message_zh, message_en=w.message_en) for w in outcome.warnings
            ],
        )
        uow.commit()
    return out


@routes.get("/projects/{project_id}/timeline", response_model=list[TimelineItem], summary="项目进程 Timeline")
def timeline(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> list[TimelineItem]:
    """Every step of the project, with its transparency-log index, in order."""
    with platform.uow(request_context(request)) as uow:
        project, _ = views.working(uow, actor, project_id)
        procedure = get_procedure(project.procedure_code)
        events = uow.session.scalars(
            select(ProjectEvent).where(ProjectEvent.project_id == project.id).order_by(ProjectEvent.seq)
        )
        items = []
        for e in events:
            to = procedure.state(e.to_state)
            items.append(
                TimelineItem(
                    seq=e.seq,
                    action=e.action,
                    action_zh=views.action_zh(e.action),
                    event=e.event,
                    from_state=e.from_state,
                    to_state=e.to_state,
                    to_state_zh=to.name_zh if to else e.to_state,
                    role=e.actor_role,
                    role_zh=ROLE_LABELS.get(e.actor_role, (e.actor_role, e.actor_role))[0],
                    at=Moment.of(e.occurred_at),
                    ledger_index=e.ledger_index,
                    params=dict((e.data or {}).get("params") or {}),
                    warnings=list((e.data or {}).get("warnings") or []),
                )
            )
        return items


@routes.get("/projects/{project_id}/deadlines", response_model=DeadlinesOut, summary="时限倒计时 Countdowns")
def deadlines(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> DeadlinesOut:
    """Every time limit running in the current state: due time, seconds left, the legal rule and its source."""
    with platform.uow(request_context(request)) as uow:
        project, _ = views.working(uow, actor, project_id)
        now = uow.now
        checker = checker_for(uow.session)
        running = engine.deadlines(
            get_procedure(project.procedure_code), project.state, project_facts(project, now), checker.resolve
        )
        items = []
        for d in sorted(running, key=lambda d: (d.due is None, d.due or now)):
            rule = checker.book.get(d.rule_id) if d.rule_id and d.rule_id in checker.book else None
            left = None if d.due is None else int((d.due - now) // timedelta(seconds=1))
            items.append(
                DeadlineOut(
                    kind=d.kind,
                    label_zh=d.label_zh,
                    label_en=d.label_en,
                    action=d.action,
                    rule_id=d.rule_id,
                    rule_title_zh=rule.title_zh if rule else None,
                    rule_source=rule.source if rule else None,
                    severity=None if d.severity is None else str(d.severity.value),
                    due=Moment.of(d.due),
                    seconds_remaining=left,
                    overdue=left is not None and left < 0,
                )
            )
        return DeadlinesOut(
            state=project.state,
            state_zh=views.state_zh(project),
            now=Moment.of(now),
            deadlines=items,
        )


# --- allowed actions ---------------------------------------------------------------------------------------


def _endpoint(action: str, project_id: int) -> str:
    """Where the caller sends ``action`` (the generic action endpoint or a dedicated one)."""
    return DEDICATED.get(action, "/api/v1/projects/{id}/actions/" + action).replace("{id}", str(project_id))


def _engine_action_allowed(uow: UnitOfWork, project: Project, action: str, roles: frozenset[str]) -> bool:
    """Whether ``action`` would pass now, judged on the facts it would record (as ``perform`` does)."""
    procedure = get_procedure(project.procedure_code)
    facts = project_facts(project, uow.now)
    try:
        # The service's own account of what the action records: one source of truth for the probe.
        changes = service.proposed_changes(uow, project, action, facts, {})
    except DomainError as exc:
        if exc.code != "project.param_missing":
            return False  # e.g. the tender documents are not uploaded yet
        # The caller supplies deadlines with the action: judge its role and conditions only.
        return action in engine.allowed_actions(procedure, project.state, roles, facts)
    probe = with_facts(facts, **{k: v for k, v in changes.items() if v is not None})
    checker = checker_for(uow.session)
    return action in engine.allowed_actions(procedure, project.state, roles, probe, checker)


def _contract_parties(actor: Actor, project: Project) -> set[str]:
    """The contract parties (``tenderer``, ``winner``) the caller may sign for."""
    mine = {(int(m.org_id), m.role) for m in actor.principal.memberships}
    parties = set()
    if (project.tenderer_org_id, Role.TENDERER) in mine:
        parties.add("tenderer")
    if project.winner_org_id is not None and (project.winner_org_id, Role.BIDDER) in mine:
        parties.add("winner")
    return parties


def _allowed(uow: UnitOfWork, actor: Actor, project: Project, roles: frozenset[str]) -> list[AllowedAction]:
    """The steps to offer the caller now, with their endpoints (engine actions and contract steps)."""
    procedure = get_procedure(project.procedure_code)
    facts = project_facts(project, uow.now)
    names: list[str] = []
    for action in dict.fromkeys(t.action for t in procedure.transitions_from(project.state) if t.roles & roles):
        if action == "sign_contract":  # each party signs on its own; the step completes with the second
            signed = set(
                uow.session.scalars(select(ContractSignature.party).where(ContractSignature.project_id == project.id))
            )
            uploaded = uow.session.scalar(
                select(func.count())
                .select_from(ProjectDocument)
                .where(ProjectDocument.project_id == project.id, ProjectDocument.kind == "contract")
            )
            if uploaded and _contract_parties(actor, project) - signed:
                names.append(action)
        elif _engine_action_allowed(uow, project, action, roles):
            names.append(action)
    out = [
        AllowedAction(
            action=a,
            label_zh=ACTION_LABELS.get(a, (a, a))[0],
            label_en=ACTION_LABELS.get(a, (a, a))[1],
            method="POST",
            endpoint=_endpoint(a, project.id),
        )
        for a in names
    ]
    parties = roles & {"tenderer", "agency", "operator"}
    if parties and facts.contract_signed_at is not None and facts.contract_published_at is None:
        out.append(
            AllowedAction(
                action="publish_contract",
                label_zh="公开合同",
                label_en="publish the contract",
                method="POST",
                endpoint=f"/api/v1/projects/{project.id}/contract/publish",
            )
        )
    if roles & {"tenderer", "agency"} and facts.award_confirmed_at is not None and facts.regulator_report_at is None:
        out.append(
            AllowedAction(
                action="file_regulator_report",
                label_zh="提交书面报告",
                label_en="file the written report to the regulator",
                method="POST",
                endpoint=f"/api/v1/projects/{project.id}/regulator-report",
            )
        )
    return out


@routes.get(
    "/projects/{project_id}/allowed-actions",
    response_model=AllowedActionsOut,
    summary="当前可执行的操作 What the caller may do now",
)
def allowed_actions(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> AllowedActionsOut:
    """The buttons to show the caller: actions whose role, conditions and legal time rules allow them now."""
    with platform.uow(request_context(request)) as uow:
        project = service.get_project(uow, project_id)
        roles = views.may_act(uow, actor, project)
        return AllowedActionsOut(
            state=project.state,
            state_zh=views.state_zh(project),
            roles=sorted(roles),
            actions=_allowed(uow, actor, project, roles),
        )


def _router() -> APIRouter:
    """One router for the app: these routes, documents and objections, contract, the public portal."""
    from sunbid.projects import api_contract, api_documents, api_public

    whole = APIRouter()
    for part in (routes, api_documents.router, api_contract.router, api_public.router):
        whole.include_router(part)
    return whole


router = _router()
