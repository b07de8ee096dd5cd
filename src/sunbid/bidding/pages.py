"""The bidder's bid page ``/projects/{id}/bid`` 投标文件递交: upload a sealed container, see the receipt, withdraw.

Sealing stays on the bidder's machine (``sunbid bidder seal``): the page never sees a document or a key. It lets
a signed-in bidder choose a section and a sealed ``.sbid`` file; ``static/bid_upload.js`` computes the file's
SHA-256 with WebCrypto, uploads it in chunks with the resumable protocol of :mod:`sunbid.bidding.api` (the same
one the CLI uses, authenticated by the page session and its CSRF token), completes it and shows the receipt with
a download of the receipt JSON. Withdrawing a bid is a plain form (CSRF-checked), so it works without scripts.

Who may open it: the same rule as the API — a bidder membership valid now and for this project
(:func:`sunbid.bidding.service.bidder_org_ids`). A project not yet announced is 404 for bidders (as on the
bidder's project page); anyone else signed in gets 403; an anonymous visitor is sent to the login page.

Texts: Chinese first, English with the language switch. They live here (not in the shared gettext catalogue)
so that this page can change without touching other features' files.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sunbid.bidding import service
from sunbid.bidding.models import Bid
from sunbid.core.errors import DomainError, NotFound
from sunbid.platform.deps import request_context
from sunbid.platform.uow import UnitOfWork
from sunbid.portal import views
from sunbid.portal.views import lang_of
from sunbid.projects.models import Project, Section
from sunbid.projects.timing import project_facts
from sunbid.web import i18n
from sunbid.web.render import add_template_package, error_status, local_time, render_page
from sunbid.web.security import page_actor, platform_of, verify_csrf

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]

#: Chunk size the page uploads with (the server accepts up to 16 MiB per PATCH).
PAGE_CHUNK = 2 * 1024 * 1024

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("递交投标文件", "Submit a sealed bid"),
    "eyebrow": ("投标文件递交", "Bid submission"),
    "project_page": ("投标人项目页", "Bidder's project page"),
    "deadline": ("投标截止时间", "Bid deadline"),
    "deadline_note": (
        "以服务器时间为准：最后一块数据在截止时刻之前提交完成才被接收，晚 1 毫秒即被拒收。",
        "The server clock decides: the upload must be completed before the deadline; 1 ms late is refused.",
    ),
    "closed": ("本项目当前不接受投标。", "This project does not accept bids now."),
    "how_title": ("第一步：在本机加密封装", "Step 1: seal on your computer"),
    "how_text": (
        "投标文件必须在您自己的电脑上用投标工具签名并加密，平台和任何人都无法在开标前读取。"
        "本页面只上传已封装的 .sbid 文件。",
        "Sign and encrypt the bid on your own computer with the bidder tool; nobody, the platform included, can "
        "read it before opening. This page only uploads the sealed .sbid file.",
    ),
    "command": ("封装命令示例", "Example sealing command"),
    "upload_title": ("第二步：上传已封装的投标文件", "Step 2: upload the sealed container"),
    "section": ("标段", "Section"),
    "file": ("投标文件（.sbid）", "Sealed container (.sbid)"),
    "start": ("上传并递交", "Upload and submit"),
    "retry": ("重试（从断点续传）", "Retry (resume)"),
    "progress": ("上传进度", "Upload progress"),
    "upload_note": (
        "网络中断后重新选择同一文件即可从断点续传；文件哈希在浏览器中计算（SHA-256）。",
        "After a network failure choose the same file again to resume; the hash is computed in the browser.",
    ),
    "gm_note": (
        "本平台使用国密套件（SM3），浏览器无法计算 SM3 哈希：请使用命令行 sunbid bidder submit 递交。",
        "This platform uses the SM (国密) suite; browsers cannot compute SM3: submit with `sunbid bidder submit`.",
    ),
    "receipt_title": ("投标回执", "Receipt"),
    "received_at": ("服务器接收时间", "Server time of receipt"),
    "container_hash": ("投标文件哈希", "Container hash"),
    "ledger_index": ("透明日志序号", "Transparency-log index"),
    "bid_id": ("投标编号", "Bid id"),
    "download": ("下载回执（JSON）", "Download the receipt (JSON)"),
    "receipt_note": (
        "请妥善保存回执；可用 sunbid bidder receipt verify 离线校验。",
        "Keep the receipt; check it offline with `sunbid bidder receipt verify`.",
    ),
    "mine_title": ("我的投标", "My bids"),
    "none": ("尚未递交投标文件。", "No bid submitted yet."),
    "status": ("状态", "Status"),
    "size": ("大小（字节）", "Size (bytes)"),
    "receipt": ("回执", "Receipt"),
    "actions": ("操作", "Actions"),
    "withdraw": ("撤回", "Withdraw"),
    "withdraw_confirm": ("确定撤回该投标？撤回后可在截止前重新递交。", "Withdraw this bid? You may submit again."),
    "refused": ("操作被拒绝：", "Refused: "),
    "withdrawn_ok": ("投标已撤回。", "The bid was withdrawn."),
    "no_project": ("该项目不存在。", "There is no such project."),
    "bidders_only": ("只有本项目的投标人可以打开此页面。", "Only bidders of this project may open this page."),
    "st_submitted": ("已递交", "submitted"),
    "st_withdrawn": ("已撤回", "withdrawn"),
    "st_replaced": ("已被替换", "replaced"),
    # messages of the script (data-texts)
    "js_choose": ("请选择标段和已封装的投标文件。", "Choose a section and a sealed container."),
    "js_hashing": ("正在计算文件哈希…", "Computing the file hash…"),
    "js_opening": ("正在建立上传…", "Opening the upload…"),
    "js_resuming": ("从断点续传：已上传 {done} / {total} 字节", "Resuming: {done} of {total} bytes already there"),
    "js_uploading": ("正在上传：{done} / {total} 字节", "Uploading: {done} of {total} bytes"),
    "js_completing": ("正在提交…", "Submitting…"),
    "js_done": ("递交成功，回执如下。", "Submitted. Here is the receipt."),
    "js_network": ("网络中断，正在重试（第 {n} 次）…", "Network failure, retrying ({n})…"),
    "js_failed": ("上传失败：", "Upload failed: "),
    "js_no_crypto": (
        "此浏览器不支持 WebCrypto（需 https 或本机地址），请使用命令行工具。",
        "This browser has no WebCrypto (needs https or localhost); use the command-line tool.",
    ),
    "js_not_sbid": ("所选文件不是已封装的投标文件（.sbid）。", "The chosen file is not a sealed container (.sbid)."),
}


def texts(lang: str) -> dict[str, str]:
    """The page's texts in ``lang`` (Chinese unless English was chosen)."""
    english = lang == "en"
    return {k: (en if english else zh) for k, (zh, en) in TEXTS.items()}


def install(app: FastAPI) -> None:
    """Add the bid page and its templates to ``app``."""
    add_template_package("sunbid.bidding")
    app.include_router(router)


def _message(request: Request, status: int, key: str) -> Response:
    text = texts(i18n.negotiate(request))[key]
    return render_page(request, "message.html", {"message": text, "back": "/"}, status_code=status)


def _method_facts(uow: UnitOfWork, project_id: int) -> list[str]:
    """The ``extra`` names the project's evaluation method computes objective items from (for ``--fact``)."""
    from sunbid.evaluation.objective import EXTRA_PREFIX, fact_fields
    from sunbid.evaluation.service import method_of

    try:
        method = method_of(uow, project_id)
    except DomainError:  # no method yet (or a stored one that no longer checks): no facts to suggest
        return []
    return [f.removeprefix(EXTRA_PREFIX) for f in fact_fields(method) if f.startswith(EXTRA_PREFIX)]


def _bid_page(request: Request, project_id: int, *, error: DomainError | None = None, notice: str = "") -> Response:
    actor = page_actor(request)
    path = f"/projects/{project_id}/bid"
    if actor is None:
        return RedirectResponse("/login?next=" + quote(path, safe="/"), status_code=303)
    lang_code = i18n.negotiate(request)
    t = texts(lang_code)
    platform = platform_of(request)
    with platform.uow(request_context(request, "web")) as uow:
        s = uow.session
        project = s.get(Project, project_id)
        facts = project_facts(project, uow.now) if project is not None else None
        if project is None or facts is None or facts.announcement_at is None:
            return _message(request, 404, "no_project")
        orgs = service.bidder_org_ids(actor, project, uow.now)
        if not orgs:
            return _message(request, 403, "bidders_only")
        sections = list(s.scalars(select(Section).where(Section.project_id == project.id).order_by(Section.code)))
        codes = {sec.id: sec.code for sec in sections}
        bids = list(
            s.scalars(select(Bid).where(Bid.project_id == project.id, Bid.org_id.in_(orgs)).order_by(Bid.id.desc()))
        )
        deadline = facts.bid_deadline
        open_now = service.accepts_bids(project, uow.now)
        page: dict[str, Any] = {
            "t": t,
            "project": views.project_view(s, project, lang_of(request)),
            "sections": [{"code": sec.code, "name": sec.name} for sec in sections],
            "deadline": local_time(deadline),
            "deadline_iso": deadline.isoformat() if deadline else "",
            "open_now": open_now,
            "suite": platform.suite.name,
            "chunk": PAGE_CHUNK,
            "bids": [
                {
                    "id": b.id,
                    "section": codes.get(b.section_id, ""),
                    "hash": b.container_hash,
                    "size": b.size,
                    "received_at": local_time(b.received_at, "%Y-%m-%d %H:%M:%S"),
                    "status": t.get(f"st_{b.status}", b.status),
                    "can_withdraw": open_now and b.status == "submitted",
                    "ledger_index": b.ledger_index,
                }
                for b in bids
            ],
            "command_project": f"{project.id}:{project.code}",
            "command_facts": _method_facts(uow, project.id),
            "server": str(request.base_url).rstrip("/"),
            "first_section": sections[0].code if sections else "01",
            "js_texts": {k: v for k, v in t.items() if k.startswith("js_")},
            "error": "" if error is None else error.message(lang_code),
            "error_code": "" if error is None else error.code,
            "notice": notice,
            "current_path": path,
        }
    status = 200 if error is None else error_status(error)
    return render_page(request, "bidding/bid.html", page, status_code=status)


@router.get("/projects/{project_id}/bid", summary="递交投标文件 Submit a sealed bid")
def bid_page(request: Request, project_id: int) -> Response:
    """The bid page: sections, the upload form (script), the bidder's own bids with withdraw."""
    done = request.query_params.get("withdrawn", "")
    notice = texts(i18n.negotiate(request))["withdrawn_ok"] if done.isdigit() else ""
    return _bid_page(request, project_id, notice=notice)


@router.post("/projects/{project_id}/bid/{bid_id}/withdraw", summary="撤回投标 Withdraw a bid")
def withdraw(request: Request, project_id: int, bid_id: int, csrf_token: FormStr = "") -> Response:
    """Withdraw one of the bidder's own bids before the deadline (CSRF-checked form, audited like the API)."""
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse("/login?next=" + quote(f"/projects/{project_id}/bid", safe="/"), status_code=303)
    try:
        verify_csrf(request, csrf_token)
        with platform_of(request).uow(request_context(request, "web")) as uow:
            bid = service.get_bid(uow, actor, bid_id)
            if bid.project_id != project_id:
                raise NotFound("bid.not_found", f"投标 {bid_id} 不存在。", f"Bid {bid_id} not found.")
            service.withdraw_bid(uow, actor, bid_id)
            uow.commit()
    except DomainError as exc:
        return _bid_page(request, project_id, error=exc)
    return RedirectResponse(f"/projects/{project_id}/bid?withdrawn={bid_id}#mine", status_code=303)
