"""Deposit pages: the bidder's own deposits (``/deposits/mine``) and the centre's console (``/deposits/console``).

Read-only pages over the services: a bidder sees only its own organisations' sub-accounts; the console shows
centre-wide totals, statistics, the unclaimed list (masked for sections not yet opened) and the stored
reconciliations. Anonymous visitors go to the login page, other roles get 403.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from sunbid.deposits import reconcile, refunds, service
from sunbid.deposits.models import DepositReconciliation
from sunbid.identity.domain import Role
from sunbid.identity.service import Actor
from sunbid.platform.context import RequestContext
from sunbid.web import i18n
from sunbid.web.render import add_template_package, render_page
from sunbid.web.security import page_actor, platform_of

router = APIRouter(include_in_schema=False)

BIDDERS_ONLY: Final = ("只有投标人可以查看本页。", "Only bidders may open this page.")
STAFF_ONLY: Final = ("只有交易中心工作人员可以查看保证金控制台。", "Only centre staff may open the deposit console.")


def install(app: FastAPI) -> None:
    """Add the deposit pages and their templates to ``app``."""
    add_template_package("sunbid.deposits")
    app.include_router(router)


def _guard(request: Request, back: str, roles: tuple[Role, ...], refusal: tuple[str, str]) -> Actor | Response:
    actor = page_actor(request)
    if actor is None:
        return RedirectResponse("/login?next=" + quote(back, safe="/"), status_code=303)
    if not set(roles) & set(actor.roles):
        text = refusal[1] if i18n.negotiate(request) == "en" else refusal[0]
        return render_page(request, "message.html", {"message": text, "back": "/"}, status_code=403)
    return actor


def _ctx(actor: Actor) -> RequestContext:
    return RequestContext(source="web", user_id=actor.user_id, org_id=actor.org_id, actor_name=actor.username)


@router.get("/deposits/mine", summary="我的投标保证金 My deposits")
def my_deposits(request: Request) -> Response:
    """The bidder's own sub-accounts, credits, refunds and guarantees."""
    actor = _guard(request, "/deposits/mine", (Role.BIDDER,), BIDDERS_ONLY)
    if isinstance(actor, Response):
        return actor
    platform = platform_of(request)
    with platform.uow(_ctx(actor)) as uow:
        items = service.my_accounts(uow, actor)
        return render_page(request, "deposits/mine.html", {"items": items})


@router.get("/deposits/console", summary="保证金控制台 Deposit console")
def console(request: Request) -> Response:
    """Centre staff: ledger totals, statistics, unclaimed deposits and reconciliations."""
    actor = _guard(request, "/deposits/console", (Role.OPERATOR, Role.ADMIN), STAFF_ONLY)
    if isinstance(actor, Response):
        return actor
    platform = platform_of(request)
    with platform.uow(_ctx(actor)) as uow:
        ledger = reconcile.ledger_check(uow)
        stats = reconcile.statistics(uow, actor)
        unclaimed = refunds.unclaimed(uow, actor)
        recs = list(
            uow.session.scalars(select(DepositReconciliation).order_by(DepositReconciliation.id.desc()).limit(20))
        )
        page = render_page(
            request,
            "deposits/console.html",
            {"ledger": ledger, "stats": stats, "unclaimed": unclaimed, "reconciliations": recs},
        )
        uow.commit()  # the unclaimed list read is audited
    return page
