"""Authentication and authorisation for HTTP: bearer tokens, cookie sessions with CSRF, one permission check.

Deny by default: a route is reachable only through :func:`require`, which names a declared permission; the
decision itself is the pure :func:`sunbid.identity.domain.decide`.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from sunbid.core.errors import Forbidden, Unauthenticated
from sunbid.identity import domain
from sunbid.identity.service import Actor, resolve_bearer, resolve_session
from sunbid.platform.deps import get_platform

SESSION_COOKIE = "sunbid_session"
CSRF_COOKIE = "sunbid_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_failed() -> Forbidden:
    return Forbidden(
        "auth.csrf_failed",
        "请求缺少有效的 CSRF 令牌，请刷新页面后重试。",
        "The request lacks a valid CSRF token; reload the page and try again.",
    )


def check_csrf(expected: str | None, supplied: str | None) -> None:
    if not expected or not supplied or not hmac.compare_digest(expected, supplied):
        raise csrf_failed()


def authenticate(request: Request) -> Actor | None:
    """Resolve the caller from ``Authorization: Bearer`` or the session cookie (CSRF-checked when unsafe)."""
    if hasattr(request.state, "actor"):
        actor: Actor | None = request.state.actor
        return actor
    platform = get_platform(request)
    found: Actor | None = None
    auth = request.headers.get("authorization", "")
    now = platform.clock.now()
    with platform.db.read() as s:
        if auth:
            scheme, _, raw = auth.partition(" ")
            if scheme.lower() != "bearer" or not raw.strip():
                raise Unauthenticated(
                    "auth.bad_authorization", "Authorization 头格式错误。", "Malformed Authorization header."
                )
            found = resolve_bearer(s, raw.strip(), now)
            if found is None:
                raise Unauthenticated(
                    "auth.bad_token", "访问令牌无效或已过期。", "The access token is invalid or expired."
                )
        elif (cookie := request.cookies.get(SESSION_COOKIE)) is not None:
            res = resolve_session(s, cookie, now)
            if res is not None:
                found, sess = res
                if request.method not in SAFE_METHODS:
                    check_csrf(sess.csrf_token, request.headers.get(CSRF_HEADER))
                request.state.csrf_token = sess.csrf_token
    request.state.actor = found
    request.state.principal = found
    return found


def optional_actor(request: Request) -> Actor | None:
    return authenticate(request)


def current_actor(request: Request) -> Actor:
    actor = authenticate(request)
    if actor is None:
        raise Unauthenticated("auth.required", "请先登录。", "Please sign in first.")
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


def enforce(
    request: Request,
    actor: Actor | None,
    permission: domain.Permission,
    resource: domain.ResourceScope | None = None,
) -> domain.Decision:
    """Decide with the pure domain rule; raise 401/403 with a clear message when denied."""
    now = get_platform(request).clock.now()
    return domain.authorize(None if actor is None else actor.principal, permission, resource, now=now)


def require(permission: domain.Permission) -> Callable[[Request], Actor]:
    """A dependency allowing the route only to holders of ``permission`` (resource-free check)."""

    def dep(request: Request) -> Actor:
        actor = authenticate(request)
        enforce(request, actor, permission)
        assert actor is not None  # decide() never allows a non-public permission without a principal
        return actor

    dep.__name__ = f"require_{permission.name.replace('.', '_')}"
    return dep
