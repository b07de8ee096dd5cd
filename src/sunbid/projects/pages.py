"""Working pages of projects (SPEC T-1 … T-6): the centre's acceptance list and witness view (见证), the project
page of the tenderer, agency, centre and regulator with the steps allowed now and the countdowns of every
running time limit, and the bidder's page (documents, objections, contract).

Every page asks ``service.project_roles`` / ``can_see`` who the reader is in the project; anonymous users are
sent to the login page. Every form carries the CSRF token and every change goes through ``service.perform``
(or the document, objection and contract use cases) in a unit of work with a ``web`` request context, so it
is audited and logged like the API. A refused step re-renders its page with the rule's message and the
error's HTTP status, and changes nothing. Read models and step forms live in :mod:`sunbid.portal`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sunbid.core.errors import DomainError, NotFound
from sunbid.identity.domain import Role
from sunbid.identity.models import Centre
from sunbid.identity.service import Actor
from sunbid.platform.deps import request_context
from sunbid.platform.uow import UnitOfWork
from sunbid.portal import documents, views
from sunbid.portal.forms import action_form, offered_steps, params_from_form, perform_step
from sunbid.portal.views import Lang, lang_of
from sunbid.projects import contracts, engine, service
from sunbid.projects.models import Objection, Project, ProjectDocument
from sunbid.projects.procedures import get_procedure
from sunbid.projects.timing import project_facts
from sunbid.web.i18n import N_
from sunbid.web.render import add_template_package, error_status, render_page
from sunbid.web.security import page_actor, platform_of, verify_csrf

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]

MAX_TEXT = 5000
MAX_PEM = 20_000
MAX_SIGNATURE = 4_000
LIST_LIMIT = 200
UPLOADERS = frozenset({"tenderer", "agency", "operator"})
ANSWERERS = frozenset({"tenderer", "agency"})
CLOSED_STATES = frozenset({"archived", "terminated"})
BIDDER = frozenset({"bidder"})

NOT_FOUND = N_("There is no such project.")
NOT_ALLOWED = N_("You may not open this page of the project.")
CENTRE_ONLY = N_("Only the staff of the trading centre may open this page.")
BIDDERS_ONLY = N_("Only bidders may open this page.")


def install(app: FastAPI) -> None:
    """Add the project pages and their templates to ``app``."""
    add_template_package("sunbid.projects")
    app.include_router(router)


# --- helpers -----------------------------------------------------------------------------------------------


def _login(request: Request, back: str) -> Response:
    return RedirectResponse("/login?next=" + quote(back, safe="/"), status_code=303)


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)


def _message(request: Request, status: int, msgid: str) -> Response:
    text = lang_of(request).text(msgid)
    return render_page(request, "message.html", {"message": text, "back": "/"}, status_code=status)


def _reader(request: Request) -> UnitOfWork:
    """A unit of work used only to read: never committed, so it rolls back."""
    return platform_of(request).uow(request_context(request, "web"))


def _guarded(
    request: Request, csrf: str | None, actor: Actor, fn: Callable[[UnitOfWork, Actor], object]
) -> DomainError | None:
    """Check the form's CSRF token, run ``fn`` in a unit of work and commit; the error that refused it, if any."""
    try:
        verify_csrf(request, csrf)
        with platform_of(request).uow(request_context(request, "web")) as uow:
            fn(uow, actor)
            uow.commit()
    except DomainError as exc:
        return exc
    return None


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _error(exc: DomainError | None, lang: Lang) -> dict[str, Any]:
    return {"error": exc.message(lang.tr.lang) if exc else "", "error_code": exc.code if exc else ""}


def _status(exc: DomainError | None) -> int:
    return 200 if exc is None else error_status(exc)


def _operator_centres(session: Session, actor: Actor) -> list[int]:
    """The centres whose staff the actor is (operator or administrator of the centre's organisation)."""
    orgs = {int(m.org_id) for m in actor.principal.memberships if m.role in (Role.OPERATOR, Role.ADMIN)}
    return list(session.scalars(select(Centre.id).where(Centre.org_id.in_(orgs)))) if orgs else []


def _sign(request: Request, project_id: int, form: Mapping[str, str], actor: Actor) -> DomainError | None:
    def sign(uow: UnitOfWork, who: Actor) -> None:
        pem = form.get("certificate_pem", "").strip()[:MAX_PEM]
        signature = form.get("signature_b64", "").strip()[:MAX_SIGNATURE]
        contracts.sign_contract(uow, who, project_id, certificate_pem=pem, signature_b64=signature)

    return _guarded(request, form.get("csrf_token"), actor, sign)


def _document(request: Request, project_id: int, doc_id: int, *, inline: bool, bidder: bool) -> Response:
    """A document's file: any for those who see the project, public ones for bidders."""
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/bidder/projects/{project_id}" if bidder else f"/projects/{project_id}")
    with _reader(request) as uow:
        project = uow.session.get(Project, project_id)
        doc = uow.session.get(ProjectDocument, doc_id)
        if project is None or doc is None or doc.project_id != project.id:
            return _message(request, 404, NOT_FOUND)
        if bidder:
            if "bidder" not in service.project_roles(uow, actor, project):
                return _message(request, 403, BIDDERS_ONLY)
            if not documents.is_public_document(doc, project_facts(project, uow.now)):
                return _message(request, 404, NOT_FOUND)
        elif not service.can_see(uow, actor, project):
            return _message(request, 403, NOT_ALLOWED)
        return documents.document_response(platform_of(request), doc, inline=inline)


# --- the centre: acceptance and witness --------------------------------------------------------------------


def _centre_page(
    request: Request,
    *,
    error: DomainError | None = None,
    failed: tuple[int, str] = (0, ""),
    values: Mapping[str, str] | None = None,
) -> Response:
    actor = page_actor(request)
    if actor is None:
        return _login(request, "/centre/projects")
    lang = lang_of(request)
    with _reader(request) as uow:
        s = uow.session
        centres = _operator_centres(s, actor)
        if not centres:
            return _message(request, 403, CENTRE_ONLY)
        mine = select(Project).where(Project.centre_id.in_(centres)).limit(LIST_LIMIT)
        pending = list(s.scalars(mine.where(Project.state == "registered").order_by(Project.created_at, Project.id)))
        others = list(
            s.scalars(mine.where(Project.state != "registered").order_by(Project.updated_at.desc(), Project.id.desc()))
        )
        items = [
            {
                "project": view,
                "complete": project_facts(p, uow.now).documents_complete,
                "forms": [
                    action_form(
                        a, f"/centre/projects/{p.id}/{path}", lang, values=values if failed == (p.id, a) else None
                    )
                    for a, path in (("accept", "accept"), ("return_registration", "return"))
                ],
            }
            for p, view in zip(pending, views.project_views(s, pending, lang), strict=True)
        ]
        ctx = {"pending": items, "others": views.project_views(s, others, lang)}
    ctx.update(_error(error, lang), current_path="/centre/projects")  # the language switch returns here
    return render_page(request, "projects/centre_list.html", ctx, status_code=_status(error))


@router.get("/centre/projects", summary="项目受理 Projects awaiting acceptance")
def centre_projects(request: Request) -> Response:
    """The centre's projects awaiting acceptance (accept or return), then its other projects."""
    return _centre_page(request)


def _centre_action(request: Request, project_id: int, action: str, form: dict[str, str]) -> Response:
    actor = page_actor(request)
    if actor is None:
        return _login(request, "/centre/projects")

    def step(uow: UnitOfWork, who: Actor) -> None:
        service.perform(uow, who, project_id, action, params_from_form(action, form))

    error = _guarded(request, form.get("csrf_token"), actor, step)
    if error is None:
        return _see_other(f"/centre/projects/{project_id}")
    return _centre_page(request, error=error, failed=(project_id, action), values=form)


@router.post("/centre/projects/{project_id}/accept", summary="受理项目 Accept a project")
async def centre_accept(request: Request, project_id: int) -> Response:
    """Accept a registered project, recording the green channel and acceptance on a credit promise."""
    return await run_in_threadpool(_centre_action, request, project_id, "accept", await _form(request))


@router.post("/centre/projects/{project_id}/return", summary="退回登记 Return a registration")
async def centre_return(request: Request, project_id: int) -> Response:
    """Return a registration to the tenderer for correction."""
    return await run_in_threadpool(_centre_action, request, project_id, "return_registration", await _form(request))


@router.get("/centre/projects/{project_id}", summary="见证 Witness view")
def centre_witness(request: Request, project_id: int) -> Response:
    """Everything that happened to the project: each step with who, when and its transparency-log entry."""
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/centre/projects/{project_id}")
    lang = lang_of(request)
    with _reader(request) as uow:
        s = uow.session
        project = s.get(Project, project_id)
        if project is None:
            return _message(request, 404, NOT_FOUND)
        if "operator" not in service.project_roles(uow, actor, project):
            return _message(request, 403, CENTRE_ONLY)
        ctx = {
            **views.countdown_context(s, project, lang, uow.now),
            "project": views.project_view(s, project, lang),
            "timeline": views.timeline(s, project, lang, public=False),
            "documents": documents.document_views(
                documents.project_documents(s, project, uow.now, public=False),
                lang,
                f"/projects/{project_id}/documents",
            ),
            "objections": views.objection_views(s, project, lang, "", org_ids=None),
            "dates": views.key_dates(project, lang, uow.now, public=False),
        }
    return render_page(request, "projects/witness.html", ctx)


# --- my projects -------------------------------------------------------------------------------------------


def _candidates(session: Session, actor: Actor) -> list[Project]:
    """Projects the actor may be a party to, narrowed in SQL; ``can_see`` decides."""
    ms = actor.principal.memberships
    conds: list[ColumnElement[bool]] = []
    if tenderers := {int(m.org_id) for m in ms if m.role is Role.TENDERER}:
        conds.append(Project.tenderer_org_id.in_(tenderers))
    if agencies := {int(m.org_id) for m in ms if m.role is Role.AGENCY}:
        conds.append(Project.agency_org_id.in_(agencies))
    if centres := _operator_centres(session, actor):
        conds.append(Project.centre_id.in_(centres))
    for m in ms:
        if m.role is Role.REGULATOR and m.region_code and m.sectors:
            code = m.region_code  # a province (xx0000) or city (xxyy00) contains the codes it prefixes
            prefix = code[:2] if code[2:] == "0000" else code[:4] if code[4:] == "00" else code
            sectors = {x.value for x in m.sectors}
            conds.append(and_(Project.sector.in_(sectors), Project.region_code.startswith(prefix, autoescape=True)))
    if assigned := {int(p) for m in ms if m.role is Role.EXPERT and m.project_ids for p in m.project_ids}:
        conds.append(Project.id.in_(assigned))
    if not conds:
        return []
    stmt = select(Project).where(or_(*conds)).order_by(Project.updated_at.desc(), Project.id.desc())
    return list(session.scalars(stmt.limit(LIST_LIMIT * 5)))


@router.get("/projects", summary="我的项目 My projects")
def my_projects(request: Request) -> Response:
    """The projects the signed-in user works on, most recently changed first, with their state."""
    actor = page_actor(request)
    if actor is None:
        return _login(request, "/projects")
    lang = lang_of(request)
    with _reader(request) as uow:
        visible = [p for p in _candidates(uow.session, actor) if service.can_see(uow, actor, p)][:LIST_LIMIT]
        ctx = {
            "projects": views.project_views(uow.session, visible, lang),
            "is_bidder": Role.BIDDER in actor.roles,
            "is_operator": bool(_operator_centres(uow.session, actor)),
        }
    return render_page(request, "projects/my_projects.html", ctx)


# --- the project page (tenderer, agency, centre, regulator, expert) ----------------------------------------


def _project_context(
    uow: UnitOfWork, actor: Actor, project: Project, lang: Lang, failed: str, values: Mapping[str, str] | None
) -> dict[str, Any]:
    s, ctx = uow.session, views.reading(uow)
    roles = service.project_roles(uow, actor, project)
    base = f"/projects/{project.id}"
    steps = offered_steps(project, roles, project_facts(project, ctx.now))
    docs = documents.project_documents(s, project, ctx.now, public=False)
    return {
        **views.countdown_context(s, project, lang, ctx.now),
        "project": views.project_view(s, project, lang),
        "roles": [lang.role(r) for r in sorted(roles)],
        "actions": [
            action_form(
                a, f"{base}/actions/{a}", lang, project=project, ctx=ctx, values=values if a == failed else None
            )
            for a in steps
        ],
        "can_upload": bool(roles & UPLOADERS) and project.state not in CLOSED_STATES,
        "kinds": [(k, lang.kind(k)) for k in service.DOCUMENT_KINDS],
        "documents": documents.document_views(docs, lang, f"{base}/documents"),
        "objections": views.objection_views(s, project, lang, base if roles & ANSWERERS else "", org_ids=None),
        "dates": views.key_dates(project, lang, ctx.now, public=False),
        "timeline": views.timeline(s, project, lang, public=False),
        "contract": views.contract_view(s, project, lang, "tenderer" if "tenderer" in roles else None, base),
        "portal_url": f"/portal/projects/{project.code}" if views.announced_at(s, project.id) else "",
    }


def _project_page(
    request: Request,
    project_id: int,
    *,
    error: DomainError | None = None,
    failed: str = "",
    values: Mapping[str, str] | None = None,
) -> Response:
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/projects/{project_id}")
    lang = lang_of(request)
    with _reader(request) as uow:
        project = uow.session.get(Project, project_id)
        if project is None:
            return _message(request, 404, NOT_FOUND)
        if not service.can_see(uow, actor, project):
            return _message(request, 403, NOT_ALLOWED)
        ctx = _project_context(uow, actor, project, lang, failed, values)
    ctx.update(_error(error, lang), failed=failed, current_path=f"/projects/{project_id}")
    return render_page(request, "projects/project.html", ctx, status_code=_status(error))


@router.get("/projects/{project_id}", summary="项目 Project")
def project_page(request: Request, project_id: int) -> Response:
    """A project for its parties, the centre and the competent regulator: steps, countdowns, documents."""
    return _project_page(request, project_id)


def _project_action(request: Request, project_id: int, action: str, form: dict[str, str]) -> Response:
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/projects/{project_id}")

    def step(uow: UnitOfWork, who: Actor) -> None:
        perform_step(uow, who, project_id, action, params_from_form(action, form))

    error = _guarded(request, form.get("csrf_token"), actor, step)
    if error is None:
        return _see_other(f"/projects/{project_id}")
    return _project_page(request, project_id, error=error, failed=action, values=form)


@router.post("/projects/{project_id}/actions/{action}", summary="办理步骤 Take a step")
async def project_action(request: Request, project_id: int, action: str) -> Response:
    """Take ``action`` with the form's parameters; a refusal shows the rule's message on the page."""
    return await run_in_threadpool(_project_action, request, project_id, action, await _form(request))


@router.post("/projects/{project_id}/documents", summary="上传文件 Upload a document")
def upload_document(
    request: Request,
    project_id: int,
    file: Annotated[UploadFile | None, File()] = None,
    kind: FormStr = "",
    title: FormStr = "",
    public: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """Store a document of the project; its SHA-256 goes into the transparency log."""
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/projects/{project_id}")
    data = file.file.read(service.MAX_DOCUMENT_BYTES + 1) if file is not None else b""
    name = PurePosixPath(((file.filename or "") if file else "").replace("\\", "/")).name or "document"
    content_type = (file.content_type or "") if file else ""

    def store(uow: UnitOfWork, who: Actor) -> None:
        service.add_document(
            uow,
            who,
            project_id,
            kind=kind,
            title=title.strip()[:300],
            filename=name,
            content_type=content_type,
            data=data,
            public=public == "1",
        )

    error = _guarded(request, csrf_token, actor, store)
    if error is None:
        return _see_other(f"/projects/{project_id}#documents")
    return _project_page(request, project_id, error=error)


@router.post("/projects/{project_id}/objections/{objection_id}/answer", summary="答复异议 Answer an objection")
def answer_objection(
    request: Request,
    project_id: int,
    objection_id: int,
    reply: FormStr = "",
    upheld: FormStr = "",
    csrf_token: FormStr = "",
) -> Response:
    """The tenderer or agency answers an objection; the procedure resumes when none is left open."""
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/projects/{project_id}")

    def answer(uow: UnitOfWork, who: Actor) -> None:
        obj = uow.session.get(Objection, objection_id)
        if obj is None or obj.project_id != project_id:
            raise NotFound("objection.not_found", "异议不存在。", "Objection not found.")
        service.answer_objection(uow, who, objection_id, reply=reply[:MAX_TEXT], upheld=upheld == "1")

    error = _guarded(request, csrf_token, actor, answer)
    if error is None:
        return _see_other(f"/projects/{project_id}#objections")
    return _project_page(request, project_id, error=error)


@router.post("/projects/{project_id}/contract/sign", summary="签署合同 Sign the contract")
async def sign_contract(request: Request, project_id: int) -> Response:
    """The tenderer signs the contract text with its certificate's key (the key never leaves its computer)."""
    form = await _form(request)

    def run() -> Response:
        actor = page_actor(request)
        if actor is None:
            return _login(request, f"/projects/{project_id}")
        error = _sign(request, project_id, form, actor)
        return (
            _see_other(f"/projects/{project_id}#contract")
            if error is None
            else _project_page(request, project_id, error=error)
        )

    return await run_in_threadpool(run)


@router.get("/projects/{project_id}/documents/{doc_id}", summary="下载文件 Download a document")
def project_document(request: Request, project_id: int, doc_id: int) -> Response:
    """Any document of the project, for those who see the project."""
    return _document(request, project_id, doc_id, inline=False, bidder=False)


@router.get("/projects/{project_id}/documents/{doc_id}/preview", summary="预览文件 Preview a document")
def project_document_preview(request: Request, project_id: int, doc_id: int) -> Response:
    """A PDF opened in the browser (``Content-Disposition: inline``)."""
    return _document(request, project_id, doc_id, inline=True, bidder=False)


# --- the bidder's page -------------------------------------------------------------------------------------


def _bidder_page(request: Request, project_id: int, *, error: DomainError | None = None, text: str = "") -> Response:
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/bidder/projects/{project_id}")
    lang = lang_of(request)
    with _reader(request) as uow:
        s, ctx = uow.session, views.reading(uow)
        project = s.get(Project, project_id)
        facts = project_facts(project, ctx.now) if project is not None else None
        if project is None or facts is None or facts.announcement_at is None:
            return _message(request, 404, NOT_FOUND)  # a project not yet announced does not exist for bidders
        if "bidder" not in service.project_roles(uow, actor, project):
            return _message(request, 403, BIDDERS_ONLY)
        procedure = get_procedure(project.procedure_code)
        orgs = {int(m.org_id) for m in actor.principal.memberships if m.role is Role.BIDDER}
        base = f"/bidder/projects/{project_id}"
        page = {
            **views.countdown_context(s, project, lang, ctx.now, BIDDER),
            "project": views.project_view(s, project, lang),
            "documents": documents.document_views(
                documents.project_documents(s, project, ctx.now, public=True), lang, f"{base}/documents"
            ),
            "can_object": "raise_objection"
            in engine.allowed_actions(procedure, project.state, BIDDER, facts, ctx.checker),
            "objection_text": text,
            "objections": views.objection_views(s, project, lang, "", org_ids=orgs),
            "dates": views.key_dates(project, lang, ctx.now, public=True),
            "contract": views.contract_view(
                s, project, lang, "winner" if project.winner_org_id in orgs else None, base
            ),
            "portal_url": f"/portal/projects/{project.code}" if views.announced_at(s, project.id) else "",
        }
    page.update(_error(error, lang), current_path=f"/bidder/projects/{project_id}")
    return render_page(request, "projects/bidder.html", page, status_code=_status(error))


@router.get("/bidder/projects/{project_id}", summary="投标人项目页 Bidder's project page")
def bidder_page(request: Request, project_id: int) -> Response:
    """For bidders: the issued documents (free download, online preview), objections and their answers."""
    return _bidder_page(request, project_id)


@router.post("/bidder/projects/{project_id}/objections", summary="提出异议 Raise an objection")
def bidder_objection(request: Request, project_id: int, text: FormStr = "", csrf_token: FormStr = "") -> Response:
    """A bidder objects to the documents; the procedure is suspended until the answer."""
    actor = page_actor(request)
    if actor is None:
        return _login(request, f"/bidder/projects/{project_id}")
    text = text.strip()[:MAX_TEXT]

    def object_(uow: UnitOfWork, who: Actor) -> None:
        service.raise_objection(uow, who, project_id, text=text)

    error = _guarded(request, csrf_token, actor, object_)
    if error is None:
        return _see_other(f"/bidder/projects/{project_id}#objections")
    return _bidder_page(request, project_id, error=error, text=text)


@router.post("/bidder/projects/{project_id}/contract/sign", summary="签署合同 Sign the contract")
async def bidder_sign_contract(request: Request, project_id: int) -> Response:
    """The winning bidder signs the contract text with its certificate's key."""
    form = await _form(request)

    def run() -> Response:
        actor = page_actor(request)
        if actor is None:
            return _login(request, f"/bidder/projects/{project_id}")
        error = _sign(request, project_id, form, actor)
        return (
            _see_other(f"/bidder/projects/{project_id}#contract")
            if error is None
            else _bidder_page(request, project_id, error=error)
        )

    return await run_in_threadpool(run)


@router.get("/bidder/projects/{project_id}/documents/{doc_id}", summary="下载招标文件 Download a document")
def bidder_document(request: Request, project_id: int, doc_id: int) -> Response:
    """An issued (public) document of the project, free of charge."""
    return _document(request, project_id, doc_id, inline=False, bidder=True)


@router.get("/bidder/projects/{project_id}/documents/{doc_id}/preview", summary="在线预览 Preview a document")
def bidder_document_preview(request: Request, project_id: int, doc_id: int) -> Response:
    """An issued PDF opened in the browser (``Content-Disposition: inline``)."""
    return _document(request, project_id, doc_id, inline=True, bidder=True)
