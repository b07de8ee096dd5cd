"""Who sees what of a project, and the response bodies built from it (shared by the ``api*`` routers).

The working view belongs to the roles :func:`~sunbid.projects.service.project_roles` grants (parties, the
centre's staff, the competent regulator, assigned experts). A project is *published* once its announcement is
out; its public documents (tender documents once issued, the contract once published) are then free for all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy import select

from sunbid.core.errors import Forbidden
from sunbid.identity.domain import Role
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.platform.container import Platform
from sunbid.platform.deps import get_platform
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import rules, service
from sunbid.projects.models import Project, ProjectDocument, ProjectEvent, Section
from sunbid.projects.procedure_vocabulary import ACTION_LABELS
from sunbid.projects.procedures import get_procedure
from sunbid.projects.schemas import (
    ActionOut,
    DocumentOut,
    Moment,
    OrgRef,
    ProjectOut,
    ProjectStepOut,
    SectionOut,
    WarningOut,
)
from sunbid.projects.timing import project_facts

Plat = Annotated[Platform, Depends(get_platform)]
Pid = Annotated[int, Path(ge=1, le=2**62)]

#: Roles in a project that see its working view.
WORKING_ROLES = frozenset({"tenderer", "agency", "operator", "regulator", "expert"})
#: Steps that publish the project on the portal.
ANNOUNCING = ("publish_announcement", "publish_prequalification", "publish_single_source")
#: Steps the portal shows (no objections, no internal steps of acceptance and evaluation).
PUBLIC_STEPS = frozenset(
    {
        "publish_plan",
        *ANNOUNCING,
        "close_prequalification",
        "issue_documents",
        "amend_documents",
        "close_bidding",
        "finish_opening",
        "publish_candidates",
        "end_publicity",
        "confirm_award",
        "publish_result",
        "sign_contract",
        "suspend",
        "resume",
        "terminate",
        "declare_failed",
        "retender",
        "archive",
    }
)
#: Kinds of document that are not public unless the uploader says so.
PRIVATE_KINDS = frozenset({"evaluation_report", "contract", "objection_reply", "award_notice", "other"})

# --- helpers -----------------------------------------------------------------------------------------------


def state_zh(project: Project) -> str:
    """The Chinese name of the project's state."""
    sdef = get_procedure(project.procedure_code).state(project.state)
    return sdef.name_zh if sdef else project.state


def action_zh(action: str) -> str:
    """The Chinese label of an action."""
    return ACTION_LABELS.get(action, (action, action))[0]


def forbidden() -> Forbidden:
    """The one refusal for callers outside a project: it tells them nothing about it."""
    return Forbidden(
        "project.forbidden",
        "您无权查看或办理该项目；公开信息请见信息公开栏目。",
        "You may not see or act on this project; its public information is on the portal.",
    )


def published(project: Project, now: datetime) -> bool:
    """Whether the project is on the portal: its announcement is out (invited tendering never is)."""
    if get_procedure(project.procedure_code).flags.invited:
        return False
    return project_facts(project, now).announcement_at is not None


def working(uow: UnitOfWork, actor: Actor, project_id: int) -> tuple[Project, frozenset[str]]:
    """The project and the caller's roles in it, if the caller may see its working view (else 403)."""
    project = service.get_project(uow, project_id)
    roles = service.project_roles(uow, actor, project)
    if not roles & WORKING_ROLES:
        raise forbidden()
    return project, roles


def may_act(uow: UnitOfWork, actor: Actor, project: Project) -> frozenset[str]:
    """Working roles, or a bidder's role on a published project; anyone else learns nothing of it."""
    roles = service.project_roles(uow, actor, project)
    if roles & WORKING_ROLES or ("bidder" in roles and published(project, uow.now)):
        return roles
    raise forbidden()


def doc_public(project: Project, doc: ProjectDocument, now: datetime) -> bool:
    """Public documents of published projects; tender documents once issued, the contract once published."""
    if not doc.public or not published(project, now):
        return False
    facts = project_facts(project, now)
    if doc.kind in ("tender_documents", "amendment"):
        return facts.documents_issued_at is not None
    if doc.kind == "contract":
        return facts.contract_published_at is not None
    return True


def winner_member(actor: Actor | None, project: Project) -> bool:
    """Whether the caller acts for the winning bidder."""
    if actor is None or project.winner_org_id is None:
        return False
    return any(
        int(m.org_id) == project.winner_org_id and m.role in (Role.BIDDER, Role.ADMIN)
        for m in actor.principal.memberships
    )


def org_ref(uow: UnitOfWork, org_id: int | None) -> OrgRef | None:
    """Id and name of an organisation."""
    org = None if org_id is None else uow.session.get(Organisation, org_id)
    return None if org is None else OrgRef(id=org.id, name=org.name)


def money_str(value: object) -> str | None:
    """An amount as a decimal string."""
    return None if value is None else str(value)


def doc_out(doc: ProjectDocument) -> DocumentOut:
    """A document's response body, with its download address."""
    return DocumentOut(
        id=doc.id,
        project_id=doc.project_id,
        kind=doc.kind,
        kind_zh=service.DOCUMENT_KINDS.get(doc.kind, (doc.kind, doc.kind))[0],
        title=doc.title,
        filename=doc.filename,
        content_type=doc.content_type,
        size=doc.size,
        sha256=doc.sha256,
        public=doc.public,
        uploaded_at=Moment.of(doc.uploaded_at),
        ledger_index=doc.ledger_index,
        download_url=f"/api/v1/documents/{doc.id}/download",
    )


def sections_out(uow: UnitOfWork, project: Project, *, public: bool = False) -> list[SectionOut]:
    """The sections; the public view leaves the budget out."""
    rows = uow.session.scalars(select(Section).where(Section.project_id == project.id).order_by(Section.code))
    return [
        SectionOut(
            code=s.code,
            name=s.name,
            budget=None if public else money_str(s.budget),
            max_price=money_str(s.max_price),
        )
        for s in rows
    ]


def project_out(uow: UnitOfWork, project: Project, roles: frozenset[str]) -> ProjectOut:
    """The working view of a project."""
    procedure = get_procedure(project.procedure_code)
    sdef = procedure.state(project.state)
    tenderer = org_ref(uow, project.tenderer_org_id)
    assert tenderer is not None
    return ProjectOut(
        id=project.id,
        code=project.code,
        name=project.name,
        procedure_code=project.procedure_code,
        procedure_zh=procedure.name_zh,
        sector=project.sector,
        region_code=project.region_code,
        state=project.state,
        state_zh=state_zh(project),
        phase=str(sdef.phase.value) if sdef else "",
        tenderer=tenderer,
        agency=org_ref(uow, project.agency_org_id),
        centre_id=project.centre_id,
        budget=money_str(project.budget),
        green_channel=project.green_channel,
        accept_with_promise=project.accept_with_promise,
        winner=org_ref(uow, project.winner_org_id),
        award_amount=money_str(project.award_amount),
        sections=sections_out(uow, project),
        facts=dict(project.facts or {}),
        your_roles=sorted(roles),
        created_at=Moment.of(project.created_at),
        updated_at=Moment.of(project.updated_at),
    )


def warning_out(code: str) -> WarningOut:
    """A warning recorded by code only (``rules.<id>``): its message is the rule's title."""
    book = rules.RuleBook.default()
    rule_id = code.removeprefix("rules.")
    if rule_id in book:
        rule = book.get(rule_id)
        return WarningOut(code=code, message_zh=f"未满足：{rule.title_zh}", message_en=f"Not met: {rule.title_en}")
    return WarningOut(code=code, message_zh=code, message_en=code)


def last_step(uow: UnitOfWork, project: Project) -> ActionOut:
    """The project's latest step as an action outcome (for steps done by a dedicated service)."""
    event = uow.session.scalars(
        select(ProjectEvent).where(ProjectEvent.project_id == project.id).order_by(ProjectEvent.seq.desc()).limit(1)
    ).one()
    return ActionOut(
        project_id=project.id,
        code=project.code,
        action=event.action,
        action_zh=action_zh(event.action),
        event=event.event,
        from_state=event.from_state,
        state=project.state,
        state_zh=state_zh(project),
        warnings=[warning_out(c) for c in (event.data or {}).get("warnings", [])],
    )


def step_out(project: Project) -> ProjectStepOut:
    """The project after a step outside the engine (contract publication, report)."""
    return ProjectStepOut(
        project_id=project.id,
        code=project.code,
        state=project.state,
        state_zh=state_zh(project),
        facts=dict(project.facts or {}),
    )
