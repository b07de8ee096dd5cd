"""FastAPI dependencies shared by every router: the platform, the request context, sessions."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from sunbid.platform.container import Platform
from sunbid.platform.context import RequestContext


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_context(request: Request, source: str = "api") -> RequestContext:
    """Who is asking (filled in by authentication when there is a principal) and from where."""
    principal = getattr(request.state, "principal", None)
    return RequestContext(
        source=source,
        user_id=getattr(principal, "user_id", None),
        org_id=getattr(principal, "org_id", None),
        actor_name=getattr(principal, "username", None),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        request_id=getattr(request.state, "request_id", None),
    )


def read_session(request: Request) -> Iterator[Session]:
    """A read-only database session for GET handlers."""
    with get_platform(request).db.read() as s:
        yield s
