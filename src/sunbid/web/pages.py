"""Server-rendered pages of the shell: home (public and per role), login (password and certificate), logout,
language switch and the account page. Every form posts a CSRF token and every change goes through a unit of
work with a ``web`` request context, so it is audited like the API.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.identity import certs, service
from sunbid.identity.api import login_limiter, set_session_cookies
from sunbid.identity.auth import CSRF_COOKIE, SESSION_COOKIE
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.platform.deps import client_ip, request_context
from sunbid.portal import pages as portal_pages
from sunbid.projects import pages as project_pages
from sunbid.web import i18n
from sunbid.web.render import STATIC_DIR, error_status, error_text, render_page
from sunbid.web.roles import role_homes
from sunbid.web.security import page_actor, platform_of, safe_next, verify_csrf

router = APIRouter(include_in_schema=False)

TABS = ("password", "cert")
MAX_FIELD = 256
MAX_PEM = 20_000
MAX_SIGNATURE = 4_000
LANG_COOKIE_DAYS = 365

FormStr = Annotated[str, Form()]


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _org_names(request: Request, actor: Actor) -> dict[str, str]:
    """Names of the organisations the actor belongs to, by id (as in the principal's memberships)."""
    ids = {int(m.org_id) for m in actor.principal.memberships}
    if not ids:
        return {}
    with platform_of(request).db.read() as s:
        rows = s.execute(select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))).all()
    return {str(i): n for i, n in rows}


# --- home --------------------------------------------------------------------------------------------------


@router.get("/", summary="首页 Home")
def home(request: Request) -> Response:
    """A landing page for visitors; for a signed-in user, what each of his roles does here."""
    actor = page_actor(request)
    if actor is None:
        return render_page(request, "home_public.html")
    orgs = _org_names(request, actor)
    memberships = sorted(actor.principal.memberships, key=lambda m: (m.org_id, m.role.value))
    return render_page(
        request,
        "home_user.html",
        {
            "sections": role_homes(actor.roles),
            "memberships": memberships,
            "org_names": orgs,
            "primary_org": orgs.get(str(actor.org_id), ""),
        },
    )


@router.get("/me", summary="我的账户 My account")
def me(request: Request) -> Response:
    """The signed-in user's account: name, sign-in method and roles."""
    actor = page_actor(request)
    if actor is None:
        return _see_other("/login?next=/me")
    memberships = sorted(actor.principal.memberships, key=lambda m: (m.org_id, m.role.value))
    return render_page(request, "me.html", {"memberships": memberships, "org_names": _org_names(request, actor)})


# --- login -------------------------------------------------------------------------------------------------


def _challenge(request: Request) -> dict[str, Any]:
    """A fresh certificate-login challenge (a unit of work), or the reason none could be made."""
    platform = platform_of(request)
    try:
        login_limiter(request).hit(f"challenge:{client_ip(request)}")
        with platform.uow(request_context(request, "web")) as uow:
            ch = certs.new_challenge(uow)
            uow.commit()
    except DomainError as exc:
        return {"challenge": None, "challenge_error": error_text(exc, i18n.negotiate(request))}
    return {
        "challenge": {
            "nonce": ch.nonce,
            "message": certs.login_message(platform, ch.nonce),
            "expires_at": ch.expires_at,
        },
        "challenge_error": None,
    }


def _login_page(
    request: Request,
    *,
    tab: str,
    next_url: str,
    status_code: int = 200,
    error: str | None = None,
    username: str = "",
    certificate_pem: str = "",
) -> Response:
    query = f"?tab={tab}" + (f"&next={quote(next_url, safe='/')}" if next_url != "/" else "")
    ctx: dict[str, Any] = {
        "current_path": "/login" + query,  # where the language switch returns (also after a failed POST)
        "tab": tab,
        "next": next_url,
        "error": error,
        "username": username,
        "certificate_pem": certificate_pem,
        "challenge": None,
        "challenge_error": None,
    }
    if tab == "cert":
        ctx.update(_challenge(request))
    return render_page(request, "login.html", ctx, status_code=status_code)


@router.get("/login", summary="登录 Sign in")
def login_form(request: Request, tab: str = "password", next: str = "/") -> Response:
    """The sign-in page: password, or certificate (a fresh challenge to sign on the bidder's machine)."""
    target = safe_next(next)
    if page_actor(request) is not None:
        return _see_other(target)
    return _login_page(request, tab=tab if tab in TABS else "password", next_url=target)


def _signed_in(request: Request, raw: str, csrf: str, next_url: str) -> Response:
    response = _see_other(safe_next(next_url))
    set_session_cookies(response, platform_of(request), raw, csrf)
    return response


@router.post("/login", summary="密码登录 Password sign-in")
def login_password(
    request: Request,
    username: FormStr = "",
    password: FormStr = "",
    csrf_token: FormStr = "",
    next: FormStr = "/",
) -> Response:
    """Check the CSRF token and the rate limit, then the password; on success a session cookie."""
    username = username.strip()[:MAX_FIELD]
    platform = platform_of(request)
    previous = request.cookies.get(SESSION_COOKIE)
    try:
        verify_csrf(request, csrf_token)
        login_limiter(request).hit(f"ip:{client_ip(request)}")
        if not username or not password or len(password) > 1024:
            raise ValidationFailed(
                "auth.credentials_required", "请输入用户名和密码。", "Enter your username and password."
            )
        with platform.uow(request_context(request, "web")) as uow:
            sess, raw = service.login_password(uow, username, password)
            if previous:
                service.logout(uow, previous)
            uow.commit()
    except DomainError as exc:
        lang = i18n.negotiate(request)
        return _login_page(
            request,
            tab="password",
            next_url=safe_next(next),
            status_code=error_status(exc),
            error=error_text(exc, lang),
            username=username,
        )
    return _signed_in(request, raw, sess.csrf_token, next)


@router.post("/login/certificate", summary="证书登录 Certificate sign-in")
def login_certificate(
    request: Request,
    nonce: FormStr = "",
    certificate_pem: FormStr = "",
    signature_b64: FormStr = "",
    username: FormStr = "",
    csrf_token: FormStr = "",
    next: FormStr = "/",
) -> Response:
    """Verify the signature of the challenge with the pasted signing certificate (the key stays at home)."""
    platform = platform_of(request)
    pem = certificate_pem.strip()[:MAX_PEM]
    previous = request.cookies.get(SESSION_COOKIE)
    try:
        verify_csrf(request, csrf_token)
        login_limiter(request).hit(f"ip:{client_ip(request)}")
        if not pem or not signature_b64.strip() or not nonce.strip():
            raise ValidationFailed(
                "auth.certificate_required",
                "请粘贴签名证书和签名值。",
                "Paste the signing certificate and the signature.",
            )
        try:
            signature = base64.b64decode(signature_b64.strip()[:MAX_SIGNATURE], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed(
                "auth.bad_signature_encoding", "签名不是合法的 Base64。", "The signature is not valid base64."
            ) from None
        with platform.uow(request_context(request, "web")) as uow:
            sess, raw, _actor = certs.login_certificate(
                uow, pem, nonce.strip()[:MAX_FIELD], signature, username=username.strip()[:MAX_FIELD] or None
            )
            if previous:
                service.logout(uow, previous)
            uow.commit()
    except DomainError as exc:
        lang = i18n.negotiate(request)
        return _login_page(
            request,
            tab="cert",
            next_url=safe_next(next),
            status_code=error_status(exc),
            error=error_text(exc, lang),
            username=username.strip()[:MAX_FIELD],
            certificate_pem=pem,
        )
    return _signed_in(request, raw, sess.csrf_token, next)


# --- logout, language --------------------------------------------------------------------------------------


def _refused(request: Request, exc: DomainError, back: str) -> Response:
    """A form refused before doing anything (bad CSRF token): a short page saying why, with a way back."""
    return render_page(
        request,
        "message.html",
        {"message": error_text(exc, i18n.negotiate(request)), "back": back, "current_path": back},
        status_code=error_status(exc),
    )


@router.post("/logout", summary="退出登录 Sign out")
def logout(request: Request, csrf_token: FormStr = "") -> Response:
    """End the session (audited) and clear its cookies."""
    try:
        verify_csrf(request, csrf_token)
    except DomainError as exc:
        return _refused(request, exc, "/")
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        with platform_of(request).uow(request_context(request, "web")) as uow:
            service.logout(uow, raw)
            uow.commit()
    response = _see_other("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.post("/lang", summary="切换语言 Switch language")
def switch_language(
    request: Request,
    lang: FormStr = "",
    csrf_token: FormStr = "",
    next: FormStr = "/",
) -> Response:
    """Remember the chosen page language in the ``sunbid_lang`` cookie and go back."""
    target = safe_next(next)
    try:
        verify_csrf(request, csrf_token)
    except DomainError as exc:
        return _refused(request, exc, target)
    chosen = i18n.normalise(lang) or i18n.DEFAULT_LANG
    response = _see_other(target)
    response.set_cookie(
        i18n.LANG_COOKIE,
        chosen,
        max_age=LANG_COOKIE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=platform_of(request).settings.cookie_secure,
        path="/",
    )
    return response


def install_pages(app: FastAPI) -> None:
    """Add the pages and the static files (``/static``, served by sunbid itself: no CDN) to ``app``."""
    app.include_router(router)
    project_pages.install(app)
    portal_pages.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    def html_problem(request: Request, status: int, message_zh: str, message_en: str) -> Response:
        message = message_en if i18n.negotiate(request) == "en" else message_zh
        return render_page(request, "message.html", {"message": message, "back": "/"}, status_code=status)

    app.state.html_problem = html_problem
