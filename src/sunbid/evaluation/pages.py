"""The committee member's scoring page 评分页面 (SPEC E-3, E-4) and the expert's access page.

``GET /evaluation/{project_id}`` shows a committee member the opened bids (manifest fields, documents to
download), the price computation, a score form for the subjective items and, read-only, the objective items
computed from the bids' facts (value, points, basis); the group leader also gets a small form to correct a fact
with a written reason (``POST /evaluation/{project_id}/facts``). ``POST`` saves the scores, or submits them: a
deviating score comes back with the intervention and a field for the written reason, and the submission waits
for it. ``/evaluation/access`` redeems the one-time access
code sent to an expert. Every form carries the CSRF token; every change goes through the services in a unit of
work with a ``web`` request context (audited like the API). Nobody else opens these pages (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from sunbid.core.errors import DomainError, Forbidden
from sunbid.evaluation import service, service_objective, service_report, service_scoring
from sunbid.evaluation.api import access_limiter
from sunbid.identity.service import Actor
from sunbid.platform.deps import client_ip, request_context
from sunbid.projects import service as projects
from sunbid.web import i18n
from sunbid.web.render import add_template_package, error_status, render_page
from sunbid.web.security import page_actor, platform_of, verify_csrf

router = APIRouter(include_in_schema=False)
MAX_FIELDS = 4000


def install(app: FastAPI) -> None:
    """Add the evaluation pages and their templates to ``app``."""
    add_template_package("sunbid.evaluation")
    app.include_router(router)


async def _form(request: Request) -> dict[str, str]:
    form = await request.form(max_fields=MAX_FIELDS)
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _refused(request: Request, exc: DomainError) -> Response:
    return render_page(
        request,
        "message.html",
        {"message": exc.message(i18n.negotiate(request)), "back": "/"},
        status_code=error_status(exc),
    )


def _phase(project_state: str, evaluation_state: str, signed_in: bool) -> str:
    if not signed_in:
        return "signin"
    if project_state == "opened":
        return "waiting"
    if project_state == "evaluation" and evaluation_state in {"signin", "scoring"}:
        return "scoring"
    return "report"


def _section_arg(request: Request, form: dict[str, str] | None = None) -> str | None:
    """The section 标段 asked for (query ``?section=`` or the form's hidden field); ``None``: the first one."""
    value = (form or {}).get("section") or request.query_params.get("section") or ""
    return value.strip()[:64] or None


def _context(
    request: Request, actor: Actor, project_id: int, section: str | None = None, **extra: Any
) -> dict[str, Any]:
    platform = platform_of(request)
    ctx: dict[str, Any] = {
        "notice": "",
        "error": "",
        "held": False,
        "interventions": [],
        "bids": [],
        "results": None,
        "sections": [],
        "section": None,
        "objective": None,
        "fact_form": {},
    }
    with platform.uow(request_context(request, "web")) as uow:
        project = projects.get_project(uow, project_id)
        member = service.require_member(uow, actor, project)
        ev = service.evaluation_of(uow, project.id)
        phase = _phase(project.state, ev.state, member.signed_in_at is not None)
        ctx.update(project=project, member=member, phase=phase, evaluation_state=ev.state, signatures=ev.signatures)
        if phase in {"scoring", "report"}:
            sections = service_scoring.sections_of(uow, project)
            if section is None and sections:
                section = sections[0].code
            bids = service_scoring.bids_view(uow, actor, project_id, section)
            mine = service_scoring.my_scores(uow, actor, project_id)
            ctx.update(_scoring_context(bids, mine))
            ctx["objective"] = service_objective.objective_view(uow, actor, project_id, section)
            for c in ctx["objective"]["corrections"]:
                c["corrected_at"] = datetime.fromisoformat(c["corrected_at"])  # shown in China time
        if phase == "report" and ev.result is not None:
            names = {u: n for lot in service_scoring.opened_lots(uow, project) for u, n in lot.names.items()}
            ctx["names"] = {**names, **ctx.get("names", {})}
            ctx["results"] = service_scoring.results_view(uow, actor, project_id)["sections"]
        ctx.update(
            has_certificate=member.certificate_fingerprint is not None,
            signed_report=member.signed_report_at is not None,
            report_ready=ev.report_key is not None,
        )
        uow.commit()  # the audit of reading the bids
    ctx.update(extra)
    return ctx


def _scoring_context(bids: dict[str, Any], mine: dict[str, Any]) -> dict[str, Any]:
    method = bids["method"]
    items = [
        {**item, "factor": f["name_zh"]} for f in method["factors"] for item in f.get("items", []) if item["subjective"]
    ]
    section = bids["section"]
    return {
        "section": section,
        "section_name": bids["section_name"],
        "sections": bids["sections"],
        "bids": bids["bids"],
        "names": {b["bidder"]: b["name"] for b in bids["bids"]},
        "items": items,
        "scores": {(s["bidder"], s["item"]): s["score"] for s in mine["scores"] if s["section"] == section},
        "prices": {ln["bidder"]: ln for ln in bids["prices"]["bids"]},
        "drawn": bids["drawn"],
        "method": method,
        "submitted": mine["submitted"],
        "interventions": [i for i in mine["interventions"] if i["status"] == "open"],
    }


@router.get("/evaluation/access", summary="专家访问码 Expert access")
def access_page(request: Request) -> Response:
    return render_page(request, "evaluation/access.html", {"error": "", "username": ""})


def _access(request: Request, form: dict[str, str]) -> Response:
    try:
        verify_csrf(request, form.get("csrf_token"))
        access_limiter(request).hit(f"ip:{client_ip(request)}")
        with platform_of(request).uow(request_context(request, "web")) as uow:
            service.redeem_access(uow, form.get("username", ""), form.get("code", ""), form.get("password", ""))
            uow.commit()
    except DomainError as exc:
        ctx = {"error": exc.message(i18n.negotiate(request)), "username": form.get("username", "")}
        return render_page(request, "evaluation/access.html", ctx, status_code=error_status(exc))
    return RedirectResponse("/login?next=/", status_code=303)


@router.post("/evaluation/access", summary="专家设置密码 Redeem an access code")
async def access_post(request: Request) -> Response:
    return await run_in_threadpool(_access, request, await _form(request))


@router.get("/evaluation/{project_id}/interventions", summary="评分偏离干预 Interventions (regulator, centre)")
def interventions_page(request: Request, project_id: int) -> Response:
    """Every deviation intervention of the project, for the competent regulator and the centre."""
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next=/evaluation/{project_id}/interventions", status_code=303)
    try:
        with platform_of(request).uow(request_context(request, "web")) as uow:
            project = projects.get_project(uow, project_id)
            if not projects.project_roles(uow, actor, project) & {"regulator", "operator"}:
                raise Forbidden(
                    "evaluation.forbidden",
                    "只有监督部门和交易中心可以查看干预记录。",
                    "Regulators and the centre only.",
                )
            rows = service_scoring.interventions_view(uow, actor, project_id)
            head = {"name": project.name, "code": project.code}
            several = len(service_scoring.sections_of(uow, project)) > 1
    except DomainError as exc:
        return _refused(request, exc)
    return render_page(request, "evaluation/interventions.html", {"project": head, "rows": rows, "several": several})


@router.get("/evaluation/{project_id}", summary="评分 Scoring page")
def scoring_page(request: Request, project_id: int) -> Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next=/evaluation/{project_id}", status_code=303)
    try:
        ctx = _context(request, actor, project_id, _section_arg(request))
    except DomainError as exc:
        return _refused(request, exc)
    return render_page(request, "evaluation/scoring.html", ctx)


def _post(request: Request, project_id: int, form: dict[str, str]) -> Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next=/evaluation/{project_id}", status_code=303)
    try:
        verify_csrf(request, form.get("csrf_token"))
    except DomainError as exc:
        return _refused(request, exc)
    section = _section_arg(request, form)
    entries = []
    reasons: dict[tuple[str, ...], str] = {}
    for key, value in form.items():
        kind, _, rest = key.partition("|")
        bidder, _, rest = rest.partition("|")
        item, _, in_section = rest.partition("|")  # a reason names its section in a multi-section project
        if kind == "s" and value.strip():
            entries.append(service_scoring.ScoreIn(bidder, item, value.strip(), section))
        elif kind == "r" and value.strip():
            reasons[(in_section, bidder, item) if in_section else (bidder, item)] = value.strip()
    platform = platform_of(request)
    outcome: dict[str, Any] | None = None
    error: DomainError | None = None
    try:
        with platform.uow(request_context(request, "web")) as uow:
            if entries:
                service_scoring.save_scores(uow, actor, project_id, entries)
            if form.get("action") == "submit":
                outcome = service_scoring.submit(uow, actor, project_id, reasons)
            uow.commit()
    except DomainError as exc:
        error = exc
    try:
        notice = ""
        if error is None and outcome is not None and outcome["status"] == "submitted":
            notice = "评分已提交。Your scores are submitted."
        elif error is None and outcome is None:
            notice = "评分已保存（尚未提交）。Saved (not yet submitted)."
        ctx = _context(
            request,
            actor,
            project_id,
            section,
            notice=notice,
            error="" if error is None else f"{error.message_zh} {error.message_en}",
            held=outcome is not None and outcome["status"] == "held",
        )
    except DomainError as exc:
        return _refused(request, exc)
    status = 409 if ctx["held"] else (200 if error is None else error_status(error))
    return render_page(request, "evaluation/scoring.html", ctx, status_code=status)


@router.post("/evaluation/{project_id}", summary="保存或提交评分 Save or submit scores")
async def scoring_post(request: Request, project_id: int) -> Response:
    return await run_in_threadpool(_post, request, project_id, await _form(request))


def _page_after(
    request: Request,
    actor: Actor,
    project_id: int,
    section: str | None,
    notice: str,
    error: DomainError | None,
    **extra: Any,
) -> Response:
    """The scoring page again after an action: the notice when it succeeded, else the error with its status."""
    try:
        ctx = _context(
            request,
            actor,
            project_id,
            section,
            notice=notice if error is None else "",
            error="" if error is None else f"{error.message_zh} {error.message_en}",
            **extra,
        )
    except DomainError as exc:
        return _refused(request, exc)
    return render_page(
        request, "evaluation/scoring.html", ctx, status_code=200 if error is None else error_status(error)
    )


def _fact(request: Request, project_id: int, form: dict[str, str]) -> Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next=/evaluation/{project_id}", status_code=303)
    try:
        verify_csrf(request, form.get("csrf_token"))
    except DomainError as exc:
        return _refused(request, exc)
    error: DomainError | None = None
    section = _section_arg(request, form)
    fields = {k: form.get(k, "") for k in ("bidder", "field", "value", "reason")}
    try:
        with platform_of(request).uow(request_context(request, "web")) as uow:
            service_objective.correct_fact(
                uow, actor, project_id, fields["bidder"], fields["field"], fields["value"], fields["reason"], section
            )
            uow.commit()
    except DomainError as exc:
        error = exc
    notice = "数据已更正，客观评分项已重新计算。The fact is corrected; points recomputed."
    return _page_after(request, actor, project_id, section, notice, error, fact_form=fields if error else {})


@router.post("/evaluation/{project_id}/facts", summary="更正客观评分数据 Correct a fact (group leader)")
async def fact_post(request: Request, project_id: int) -> Response:
    return await run_in_threadpool(_fact, request, project_id, await _form(request))


def _sign_in(request: Request, project_id: int, form: dict[str, str]) -> Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next=/evaluation/{project_id}", status_code=303)
    try:
        verify_csrf(request, form.get("csrf_token"))
        with platform_of(request).uow(request_context(request, "web")) as uow:
            service.sign_in(uow, actor, project_id)
            uow.commit()
    except DomainError as exc:
        return _refused(request, exc)
    return RedirectResponse(f"/evaluation/{project_id}", status_code=303)


@router.post("/evaluation/{project_id}/sign-in", summary="签到 Check in")
async def sign_in_post(request: Request, project_id: int) -> Response:
    return await run_in_threadpool(_sign_in, request, project_id, await _form(request))


def _upload(request: Request, project_id: int, csrf: str | None, data: bytes) -> Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse(f"/login?next=/evaluation/{project_id}", status_code=303)
    error: DomainError | None = None
    notice = ""
    try:
        verify_csrf(request, csrf)
        with platform_of(request).uow(request_context(request, "web")) as uow:
            out = service_report.upload_signed(uow, actor, project_id, data)
            uow.commit()
        notice = f"已接受您的签名（第 {out['signatures']} 个）。Your signature is accepted."
    except DomainError as exc:
        error = exc
    return _page_after(request, actor, project_id, None, notice, error)


@router.post("/evaluation/{project_id}/report", summary="上传签署后的评标报告 Upload the signed report")
async def report_post(request: Request, project_id: int) -> Response:
    form = await request.form(max_files=1, max_fields=10)
    file = form.get("file")
    csrf = form.get("csrf_token")
    data = b""
    if file is not None and not isinstance(file, str):
        data = await file.read(service_report.MAX_PDF_BYTES + 1)
    return await run_in_threadpool(_upload, request, project_id, csrf if isinstance(csrf, str) else None, data)
