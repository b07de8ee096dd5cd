"""Award, online contract and the written report over HTTP (SPEC C-1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request
from sqlalchemy import select

from sunbid.identity.auth import CurrentActor
from sunbid.identity.service import Actor
from sunbid.platform.deps import request_context
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import api_views as views
from sunbid.projects import contracts, service
from sunbid.projects.api_views import Pid, Plat
from sunbid.projects.models import ContractSignature, Project, ProjectDocument
from sunbid.projects.schemas import (
    ActionOut,
    AwardCreate,
    ContractOut,
    Moment,
    NoParams,
    ProjectStepOut,
    SignatureCreate,
    SignatureOut,
)
from sunbid.projects.timing import project_facts

router = APIRouter(prefix="/api/v1", tags=["projects 交易项目"])

# --- award and contract ------------------------------------------------------------------------------------


@router.post("/projects/{project_id}/award", response_model=ActionOut, summary="确认中标 Confirm the award")
def confirm_award(
    project_id: Pid, body: AwardCreate, request: Request, actor: CurrentActor, platform: Plat
) -> ActionOut:
    """The tenderer confirms the winner and the amount (a decimal string); the award notice is issued."""
    with platform.uow(request_context(request)) as uow:
        project = contracts.confirm_award(uow, actor, project_id, winner_org_id=body.winner_org_id, amount=body.amount)
        out = views.last_step(uow, project)
        uow.commit()
    return out


def _contract_doc(uow: UnitOfWork, project: Project) -> ProjectDocument | None:
    """The latest contract document of the project, if uploaded."""
    return uow.session.scalars(
        select(ProjectDocument)
        .where(ProjectDocument.project_id == project.id, ProjectDocument.kind == "contract")
        .order_by(ProjectDocument.id.desc())
        .limit(1)
    ).first()


def _contract_out(uow: UnitOfWork, project: Project) -> ContractOut:
    """The contract as the parties see it: document, message to sign, signatures."""
    doc = _contract_doc(uow, project)
    sigs = (
        []
        if doc is None
        else list(
            uow.session.scalars(
                select(ContractSignature)
                .where(ContractSignature.project_id == project.id, ContractSignature.document_id == doc.id)
                .order_by(ContractSignature.id)
            )
        )
    )
    facts = project_facts(project, uow.now)
    return ContractOut(
        project_id=project.id,
        state=project.state,
        state_zh=views.state_zh(project),
        winner=views.org_ref(uow, project.winner_org_id),
        award_amount=views.money_str(project.award_amount),
        document=None if doc is None else views.doc_out(doc),
        message=None if doc is None else contracts.contract_message(project, doc),
        signatures=[
            SignatureOut(
                party=s.party,
                org_id=s.org_id,
                certificate_serial=s.certificate_serial,
                document_sha256=s.document_sha256,
                signed_at=Moment.of(s.signed_at),
            )
            for s in sigs
        ],
        signed=facts.contract_signed_at is not None,
        published=facts.contract_published_at is not None,
    )


def _contract_view(uow: UnitOfWork, actor: Actor, project_id: int) -> Project:
    """The project, if the caller works on it or is the winner (else 403)."""
    project = service.get_project(uow, project_id)
    if service.project_roles(uow, actor, project) & views.WORKING_ROLES or views.winner_member(actor, project):
        return project
    raise views.forbidden()


@router.get("/projects/{project_id}/contract", response_model=ContractOut, summary="合同 The contract")
def get_contract(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> ContractOut:
    """The contract document, the exact message each party signs, and the signatures so far."""
    with platform.uow(request_context(request)) as uow:
        return _contract_out(uow, _contract_view(uow, actor, project_id))


@router.post(
    "/projects/{project_id}/contract/signatures",
    response_model=ContractOut,
    status_code=201,
    summary="签署合同 Sign the contract",
)
def sign_contract(
    project_id: Pid, body: SignatureCreate, request: Request, actor: CurrentActor, platform: Plat
) -> ContractOut:
    """A party signs ``message`` with its certificate's signing key; the second signature completes the step."""
    with platform.uow(request_context(request)) as uow:
        contracts.sign_contract(
            uow, actor, project_id, certificate_pem=body.certificate_pem, signature_b64=body.signature_b64
        )
        out = _contract_out(uow, service.get_project(uow, project_id))
        uow.commit()
    return out


@router.post("/projects/{project_id}/contract/publish", response_model=ProjectStepOut, summary="公开合同 Publish")
def publish_contract(
    project_id: Pid,
    request: Request,
    actor: CurrentActor,
    platform: Plat,
    body: Annotated[NoParams | None, Body()] = None,
) -> ProjectStepOut:
    """Publish the contract signed by both parties (合同公开): it becomes free to download."""
    with platform.uow(request_context(request)) as uow:
        out = views.step_out(contracts.publish_contract(uow, actor, project_id))
        uow.commit()
    return out


@router.post("/projects/{project_id}/regulator-report", response_model=ProjectStepOut, summary="书面报告 Report")
def regulator_report(
    project_id: Pid,
    request: Request,
    actor: CurrentActor,
    platform: Plat,
    body: Annotated[NoParams | None, Body()] = None,
) -> ProjectStepOut:
    """The tenderer's written report to the regulator after the award (招投标情况书面报告)."""
    with platform.uow(request_context(request)) as uow:
        out = views.step_out(contracts.file_regulator_report(uow, actor, project_id))
        uow.commit()
    return out
