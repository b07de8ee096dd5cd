"""Project documents over HTTP (upload with a logged hash, list, download) and objections (异议).

Public documents of published projects are free to download for anyone (tender documents once issued); the
others only for the project's parties, and each such download is audited.
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response
from sqlalchemy import select

from sunbid.core.errors import Forbidden, IntegrityFailure, NotFound, Unauthenticated
from sunbid.identity.auth import CurrentActor, OptionalActor
from sunbid.identity.domain import Role
from sunbid.platform.deps import request_context
from sunbid.projects import api_views as views
from sunbid.projects import service
from sunbid.projects.api_views import Pid, Plat
from sunbid.projects.models import Objection, Project, ProjectDocument
from sunbid.projects.schemas import (
    DocumentOut,
    Moment,
    ObjectionAnswer,
    ObjectionCreate,
    ObjectionOut,
)

router = APIRouter(prefix="/api/v1", tags=["projects 交易项目"])

# --- documents ---------------------------------------------------------------------------------------------


@router.post(
    "/projects/{project_id}/documents",
    response_model=DocumentOut,
    status_code=201,
    summary="上传项目文件 Upload a document",
)
def upload_document(
    project_id: Pid,
    request: Request,
    actor: CurrentActor,
    platform: Plat,
    kind: Annotated[str, Form(min_length=1, max_length=40)],
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form(max_length=300)] = "",
    public: Annotated[bool | None, Form()] = None,
) -> DocumentOut:
    """Multipart upload (kind, title, file, public); the SHA-256 is appended to the transparency log.

    Tender documents, announcements and amendments are public by default (free download once issued);
    contracts, reports, award notices and replies are not, unless ``public`` says so.
    """
    data = file.file.read(service.MAX_DOCUMENT_BYTES + 1)
    with platform.uow(request_context(request)) as uow:
        doc = service.add_document(
            uow,
            actor,
            project_id,
            kind=kind,
            title=title,
            filename=(file.filename or "document").rsplit("/", 1)[-1].rsplit("\\", 1)[-1],
            content_type=file.content_type or "application/octet-stream",
            data=data,
            public=(kind not in views.PRIVATE_KINDS) if public is None else public,
        )
        out = views.doc_out(doc)
        uow.commit()
    return out


@router.get("/projects/{project_id}/documents", response_model=list[DocumentOut], summary="项目文件 Documents")
def list_documents(project_id: Pid, request: Request, actor: OptionalActor, platform: Plat) -> list[DocumentOut]:
    """All documents for those who see the working view; the public ones for everyone else."""
    with platform.uow(request_context(request)) as uow:
        project = service.get_project(uow, project_id)
        working = bool(service.project_roles(uow, actor, project) & views.WORKING_ROLES)
        if not working and not views.published(project, uow.now):
            if actor is None:
                raise Unauthenticated("auth.required", "请先登录。", "Please sign in first.")
            raise views.forbidden()
        docs = uow.session.scalars(
            select(ProjectDocument).where(ProjectDocument.project_id == project.id).order_by(ProjectDocument.id)
        )
        return [views.doc_out(d) for d in docs if working or views.doc_public(project, d, uow.now)]


def _attachment(name: str) -> str:
    """A Content-Disposition for a download (ASCII fallback plus RFC 5987 UTF-8 name)."""
    ascii_name = name.encode("ascii", "ignore").decode().replace('"', "").replace("\\", "") or "document"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@router.get(
    "/documents/{doc_id}/download",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "文件内容 The file"}},
    summary="下载文件 Download a document",
)
def download_document(doc_id: Pid, request: Request, actor: OptionalActor, platform: Plat) -> Response:
    """Public documents of published projects are free for anyone; others only for the project's parties (and
    the contract for the winner), and each such download is audited."""
    with platform.uow(request_context(request)) as uow:
        doc = uow.session.get(ProjectDocument, doc_id)
        if doc is None:
            raise NotFound("document.not_found", "文件不存在。", "Document not found.")
        project = service.get_project(uow, doc.project_id)
        public = views.doc_public(project, doc, uow.now)
        if not public:
            if actor is None:
                raise Unauthenticated(
                    "auth.required", "该文件不公开，请先登录。", "This document is not public; sign in."
                )
            party = bool(service.project_roles(uow, actor, project) & views.WORKING_ROLES)
            if not party and not (doc.kind == "contract" and views.winner_member(actor, project)):
                raise Forbidden("document.forbidden", "您无权下载该文件。", "You may not download this document.")
            uow.audit(
                "document:download",
                subject_type="project",
                subject_id=project.id,
                data={"code": project.code, "document_id": doc.id, "kind": doc.kind, "sha256": doc.sha256},
            )
        data = platform.storage.get(doc.storage_key)
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            raise IntegrityFailure(
                "document.hash_mismatch", "文件内容与登记的哈希值不符。", "The stored file does not match its hash."
            )
        uow.commit()
    return Response(
        data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": _attachment(doc.filename),
            "X-Content-SHA256": doc.sha256,
            "Cache-Control": "public, max-age=300" if public else "private, no-store",
        },
    )


# --- objections --------------------------------------------------------------------------------------------


def _objection_out(obj: Objection, project: Project) -> ObjectionOut:
    """The objection, with the project's state after the step."""
    return ObjectionOut(
        id=obj.id,
        project_id=obj.project_id,
        kind=obj.kind,
        org_id=obj.org_id,
        text=obj.text,
        status=obj.status,
        raised_at=Moment.of(obj.raised_at),
        reply_due_at=Moment.of(obj.reply_due_at),
        reply=obj.reply,
        upheld=obj.upheld,
        replied_at=Moment.of(obj.replied_at),
        state=project.state,
        state_zh=views.state_zh(project),
    )


@router.post(
    "/projects/{project_id}/objections", response_model=ObjectionOut, status_code=201, summary="提出异议 Object"
)
def raise_objection(
    project_id: Pid, body: ObjectionCreate, request: Request, actor: CurrentActor, platform: Plat
) -> ObjectionOut:
    """A bidder objects to the documents (≥10 days before the deadline) or to the result; the procedure is
    suspended until the answer."""
    with platform.uow(request_context(request)) as uow:
        views.may_act(uow, actor, service.get_project(uow, project_id, lock=True))
        obj = service.raise_objection(uow, actor, project_id, text=body.text)
        out = _objection_out(obj, service.get_project(uow, project_id))
        uow.commit()
    return out


@router.get("/projects/{project_id}/objections", response_model=list[ObjectionOut], summary="异议 Objections")
def list_objections(project_id: Pid, request: Request, actor: CurrentActor, platform: Plat) -> list[ObjectionOut]:
    """All objections for the working view; a bidder sees only its own organisation's."""
    with platform.uow(request_context(request)) as uow:
        project = service.get_project(uow, project_id)
        roles = views.may_act(uow, actor, project)
        stmt = select(Objection).where(Objection.project_id == project.id).order_by(Objection.id)
        if not roles & views.WORKING_ROLES:
            own = [int(m.org_id) for m in actor.principal.memberships if m.role is Role.BIDDER]
            stmt = stmt.where(Objection.org_id.in_(own))
        return [_objection_out(o, project) for o in uow.session.scalars(stmt)]


@router.post("/objections/{objection_id}/answer", response_model=ObjectionOut, summary="答复异议 Answer")
def answer_objection(
    objection_id: Pid, body: ObjectionAnswer, request: Request, actor: CurrentActor, platform: Plat
) -> ObjectionOut:
    """The tenderer or agency answers on record; the last answer resumes the procedure."""
    with platform.uow(request_context(request)) as uow:
        obj = service.answer_objection(uow, actor, objection_id, reply=body.reply, upheld=body.upheld)
        out = _objection_out(obj, service.get_project(uow, obj.project_id))
        uow.commit()
    return out
