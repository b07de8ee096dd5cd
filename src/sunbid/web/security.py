"""Who is signed in on a page, and CSRF protection of page forms (double-submit cookie).

Pages use the cookie session only (never a bearer token). Every form carries the hidden field ``csrf_token``:

- signed in: it must equal the session's CSRF token (``set_session_cookies`` also writes it into the
  ``sunbid_csrf`` cookie);
- anonymous: it must equal the ``sunbid_csrf`` cookie, a random value set (SameSite=Strict) on the first GET.

A page's resolution is cached on ``request.state``, where :func:`sunbid.identity.auth.authenticate` also finds
it, so an identity dependency running after it agrees on who is asking.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from sunbid.identity.auth import CSRF_COOKIE, SESSION_COOKIE, check_csrf
from sunbid.identity.service import Actor, resolve_session
from sunbid.platform.container import Platform

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


@dataclass(frozen=True)
class PageSession:
    """The signed-in actor of a page request (None when anonymous) and the session's CSRF token."""

    actor: Actor | None
    csrf_token: str | None


def platform_of(request: Request) -> Platform:
    """The platform the app was built around."""
    platform: Platform = request.app.state.platform
    return platform


def page_session(request: Request) -> PageSession:
    """Resolve the session cookie (any method: forms carry their CSRF token in the body, not a header)."""
    cached: PageSession | None = getattr(request.state, "page_session", None)
    if cached is not None:
        return cached
    actor: Actor | None = None
    csrf: str | None = None
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        platform = platform_of(request)
        with platform.db.read() as s:
            found = resolve_session(s, raw, platform.clock.now())
            if found is not None:
                actor, sess = found
                csrf = sess.csrf_token
    result = PageSession(actor, csrf)
    request.state.page_session = result
    request.state.actor = actor
    request.state.principal = actor
    if csrf is not None:
        request.state.csrf_token = csrf
    return result


def page_actor(request: Request) -> Actor | None:
    """The signed-in user of this page request, or None."""
    return page_session(request).actor


def csrf_token(request: Request) -> tuple[str, bool]:
    """The token forms on this page carry, and whether the CSRF cookie must be (re)set to it."""
    sess = page_session(request)
    cookie = request.cookies.get(CSRF_COOKIE)
    if sess.csrf_token is not None:
        return sess.csrf_token, cookie != sess.csrf_token
    if cookie and _TOKEN.match(cookie):
        return cookie, False
    fresh: str | None = getattr(request.state, "fresh_csrf", None)
    if fresh is None:
        fresh = secrets.token_urlsafe(24)
        request.state.fresh_csrf = fresh
    return fresh, True


def set_csrf_cookie(response: Response, platform: Platform, token: str) -> None:
    """Write the double-submit cookie: readable by scripts (not HttpOnly), SameSite=Strict."""
    response.set_cookie(
        CSRF_COOKIE,
        token,
        httponly=False,
        samesite="strict",
        secure=platform.settings.cookie_secure,
        path="/",
    )


def verify_csrf(request: Request, supplied: str | None) -> None:
    """Refuse a form post (``auth.csrf_failed``, 403) whose ``csrf_token`` does not match."""
    sess = page_session(request)
    expected = sess.csrf_token if sess.csrf_token is not None else request.cookies.get(CSRF_COOKIE)
    check_csrf(expected, supplied)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after a form (open redirects refused: no scheme, host or ``//``)."""
    if not target or len(target) > 500 or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(c in target for c in "\r\n\\"):
        return default
    return target
