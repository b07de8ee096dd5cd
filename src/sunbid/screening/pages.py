"""The regulator's screening pages (SPEC S-3): stored screening imports and, per import, the riskiest tenders
with a plot of their bids and the screens that flagged them.

Only users with the regulator role may open them (anonymous visitors are sent to the login page, everyone else
gets 403). The import pages only read files under ``<data_dir>/screening/`` written by ``sunbid screen import``;
``/supervision/screening-platform`` (本平台已开标项目) scores the platform's own published opening records of the
projects the regulator supervises, and each viewing is audited (``screening:view``).
Texts are written in both languages here (Chinese first), so the pages need no new catalogue entries.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from sunbid.core.errors import DomainError
from sunbid.identity.domain import Role
from sunbid.platform.deps import request_context
from sunbid.screening.explain import fmt
from sunbid.screening.platform import screen_platform
from sunbid.screening.service import METHODS, ScreeningStore, feature_label
from sunbid.screening.svg import bids_svg
from sunbid.web import i18n
from sunbid.web.render import add_template_package, error_status, render_page
from sunbid.web.security import page_actor, platform_of

router = APIRouter(include_in_schema=False)

DEFAULT_TOP: Final = 30
MAX_TOP: Final = 200
REGULATORS_ONLY: Final = ("只有行政监督部门可以查看围标串标筛查。", "Only regulators may open the collusion screening.")


def install(app: FastAPI) -> None:
    """Add the screening pages and their templates to ``app``."""
    add_template_package("sunbid.screening")
    app.include_router(router)


def _guard(request: Request, back: str) -> Response | None:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse("/login?next=" + quote(back, safe="/"), status_code=303)
    if Role.REGULATOR not in actor.roles:
        english = i18n.negotiate(request) == "en"
        text = REGULATORS_ONLY[1] if english else REGULATORS_ONLY[0]
        return render_page(request, "message.html", {"message": text, "back": "/"}, status_code=403)
    return None


def _store(request: Request) -> ScreeningStore:
    return ScreeningStore.of_data_dir(platform_of(request).settings.data_dir)


@router.get("/supervision/screening", summary="围标串标筛查 Collusion screening")
def screening_list(request: Request) -> Response:
    """The stored screening imports, with their cross-validated results when labelled."""
    refused = _guard(request, "/supervision/screening")
    if refused is not None:
        return refused
    english = i18n.negotiate(request) == "en"
    items = _store(request).list()
    for item in items:
        item["method_text"] = METHODS.get(str(item["method"]), ("", ""))[1 if english else 0]
    return render_page(request, "screening/list.html", {"items": items})


@router.get("/supervision/screening-platform", summary="本平台已开标项目 Platform's opened tenders")
def screening_platform(request: Request, top: int = DEFAULT_TOP) -> Response:
    """The platform's own opened tenders the regulator supervises, scored now (unsupervised); the viewing is audited."""
    refused = _guard(request, "/supervision/screening-platform")
    if refused is not None:
        return refused
    english = i18n.negotiate(request) == "en"
    try:
        with platform_of(request).uow(request_context(request, "web")) as uow:
            found = screen_platform(uow, page_actor(request))
            uow.commit()
    except DomainError as exc:
        return _message(request, exc, english)
    return _render_doc(request, found.doc(english), top, english)


@router.get("/supervision/screening/{name}", summary="筛查结果 Screening results")
def screening_import(request: Request, name: str, top: int = DEFAULT_TOP) -> Response:
    """The riskiest tenders of one import, each with its bid plot and the screens that flagged it."""
    refused = _guard(request, f"/supervision/screening/{quote(name, safe='')}")
    if refused is not None:
        return refused
    english = i18n.negotiate(request) == "en"
    try:
        doc = _store(request).load(name)
    except DomainError as exc:
        return _message(request, exc, english)
    return _render_doc(request, doc, top, english)


def _message(request: Request, exc: DomainError, english: bool) -> Response:
    return render_page(
        request,
        "message.html",
        {"message": exc.message("en" if english else "zh-CN"), "back": "/supervision/screening"},
        status_code=error_status(exc),
    )


def _render_doc(request: Request, doc: dict[str, Any], top: int, english: bool) -> Response:
    top = max(1, min(top, MAX_TOP))
    bids: dict[str, Any] = doc.get("bids", {})
    tenders = []
    for row in doc.get("scores", [])[:top]:
        tid = str(row["tender_id"])
        tenders.append(
            {
                "tender_id": tid,
                "rank": row["rank"],
                "score": row["score"],
                "label": row.get("label"),
                "n_bids": row["n_bids"],
                "reasons": [r["text_en"] if english else r["text_zh"] for r in row.get("reasons", [])],
                "flagged": [feature_label(f, english) for f in row.get("flagged", [])],
                "svg": Markup(bids_svg(bids.get(tid, []), english=english)),  # noqa: S704 (escaped by bids_svg)
            }
        )
    method = METHODS.get(str(doc.get("method")), ("", ""))
    evaluation = doc.get("evaluation") or None
    return render_page(
        request,
        "screening/import.html",
        {
            "doc": doc,
            "tenders": tenders,
            "top": top,
            "method_text": method[1 if english else 0],
            "evaluation": evaluation,
            "warnings": [w["message_en" if english else "message_zh"] for w in doc["import"].get("warnings", [])],
            "fmt": fmt,
        },
    )
