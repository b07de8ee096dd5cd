"""Rendering server-side pages: one Jinja2 environment, the page context every template gets, static URLs.

A feature with pages keeps its templates in ``<feature>/templates/<feature>/`` (so names never clash), calls
:func:`add_template_package` once when its router is installed, extends ``base.html`` and returns
:func:`render_page` from its handlers.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from sunbid.core.errors import DomainError
from sunbid.platform.problems import STATUS
from sunbid.web import i18n
from sunbid.web.security import csrf_token, page_session, platform_of, set_csrf_cookie

STATIC_DIR = Path(__file__).parent / "static"
PLATFORM_NAME_ZH = "公共资源交易平台"
PLATFORM_NAME_EN = "Public Resource Trading Platform"
CHINA_TIME = timezone(timedelta(hours=8), "CST")  # Asia/Shanghai: no daylight saving time since 1991

_loaders: list[BaseLoader] = [PackageLoader("sunbid.web", "templates")]
env = Environment(
    loader=ChoiceLoader(_loaders),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def add_template_package(package: str, folder: str = "templates") -> None:
    """Let pages render templates from ``package``'s ``folder`` (after sunbid.web's own)."""
    loader = PackageLoader(package, folder)
    if not any(isinstance(x, PackageLoader) and x.package_name == package for x in _loaders):
        _loaders.append(loader)


@lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """``/static/<path>?v=<content hash>``: browsers may cache it for ever, a new release changes the URL."""
    file = (STATIC_DIR / path).resolve()
    if STATIC_DIR.resolve() not in file.parents or not file.is_file():
        raise ValueError(f"no static file {path!r}")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()[:10]
    return f"/static/{path}?v={digest}"


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A stored UTC time shown in China time (SPEC §11)."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(CHINA_TIME).strftime(fmt)


env.filters["local_time"] = local_time
env.globals["static_url"] = static_url


def error_text(exc: DomainError, lang: str) -> str:
    """The message of a domain error in the page language."""
    return exc.message(lang)


def error_status(exc: DomainError) -> int:
    """The HTTP status of a domain error (the same mapping as the API's problem details)."""
    return STATUS[exc.kind]


def page_context(request: Request) -> dict[str, Any]:
    """What every template can use: language, translations, the signed-in actor, CSRF token, names."""
    lang = i18n.negotiate(request)
    tr = i18n.translator(lang)
    platform = platform_of(request)
    token, _ = csrf_token(request)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")

    def label(value: Any) -> str:
        """The Chinese or English label of an enum with ``label_zh`` / ``label_en`` (English capitalised)."""
        if not tr.english:
            return str(value.label_zh)
        text = str(value.label_en)
        return text[:1].upper() + text[1:]

    actor = page_session(request).actor
    return {
        "nav_links": nav_links(actor),
        "request": request,
        "lang": lang,
        "english": tr.english,
        "_": tr.gettext,
        "gettext": tr.gettext,
        "ngettext": tr.ngettext,
        "label": label,
        "actor": actor,
        "csrf_token": token,
        "platform_name": PLATFORM_NAME_EN if tr.english else PLATFORM_NAME_ZH,
        "centre_name": platform.settings.centre_name,
        "current_path": path,
    }


def render_page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render ``template`` in the request's language; sets the CSRF cookie when missing; never cached."""
    ctx = page_context(request)
    ctx.update(context or {})
    html = env.get_template(template).render(ctx)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = ctx["lang"]
    response.headers["Vary"] = "Cookie, Accept-Language"
    token, set_cookie = csrf_token(request)
    if set_cookie:
        set_csrf_cookie(response, platform_of(request), token)
    return response


_WORKING_ROLES = frozenset({"tenderer", "agency", "operator", "admin", "regulator", "expert"})


def nav_links(actor: Any) -> list[tuple[str, str]]:
    """The main navigation for this visitor: (path, English msgid); the template translates the labels."""
    links = [("/portal", "Announcements")]
    roles = set() if actor is None else {m.role.value for m in actor.principal.memberships}
    if roles & _WORKING_ROLES:
        links.append(("/projects", "My projects"))
    if roles & {"operator", "admin"}:
        links.append(("/centre/projects", "Project acceptance"))
    if "regulator" in roles:
        links.append(("/supervision/screening", i18n.N_("Collusion screening")))
    return links
