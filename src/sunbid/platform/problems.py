"""RFC 9457 problem details for every error, with a stable code and messages in zh-CN and en."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sunbid.core.errors import DomainError, ErrorKind

log = logging.getLogger("sunbid.api")

STATUS = {
    ErrorKind.INVALID: 422,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.TOO_MANY: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.INTEGRITY: 500,
}

PROBLEM_BASE = "https://sunbid.org/problems/"

# Messages for HTTP-level failures that happen before any domain code runs.
HTTP_MESSAGES: dict[int, tuple[str, str, str]] = {
    400: ("request.bad", "请求格式错误。", "The request is malformed."),
    401: ("auth.required", "请先登录。", "Authentication is required."),
    403: ("auth.forbidden", "您无权执行此操作。", "You are not allowed to do this."),
    404: ("request.not_found", "请求的资源不存在。", "The requested resource does not exist."),
    405: ("request.method_not_allowed", "不支持该请求方法。", "This method is not allowed here."),
    413: ("request.too_large", "请求内容过大。", "The request is too large."),
    415: ("request.unsupported_media", "不支持的内容类型。", "Unsupported content type."),
    429: ("request.too_many", "请求过于频繁，请稍后再试。", "Too many requests; try again later."),
}


def wants_english(request: Request) -> bool:
    """English when the user chose it (cookie) or the client asks for it before Chinese."""
    lang = request.cookies.get("sunbid_lang")
    if lang:
        return lang.lower().startswith("en")
    accept = request.headers.get("accept-language", "").lower()
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag.startswith("zh"):
            return False
        if tag.startswith("en"):
            return True
    return False


def _wants_html_page(request: Request) -> bool:
    """A browser asking for a page (not the API): it gets an HTML error page when the app has one."""
    if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
        return False
    return "text/html" in request.headers.get("accept", "") and hasattr(request.app.state, "html_problem")


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    message_zh: str,
    message_en: str,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    english = wants_english(request)
    if _wants_html_page(request):
        page: Response = request.app.state.html_problem(request, status, message_zh, message_en)
        return page
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": message_en if english else message_zh,
        "status": status,
        "detail": message_en if english else message_zh,
        "instance": request.url.path,
        "code": code,
        "message_zh": message_zh,
        "message_en": message_en,
        "request_id": getattr(request.state, "request_id", None),
    }
    if extra:
        body.update(extra)
    return JSONResponse(
        body,
        status_code=status,
        media_type="application/problem+json",
        headers={"Content-Language": "en" if english else "zh-CN", **(headers or {})},
    )


def _validation_problem(request: Request, exc: RequestValidationError) -> Response:
    errors = []
    malformed = False
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            malformed = True
        errors.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "type": err.get("type"),
                "msg": err.get("msg"),
            }
        )
    if malformed:
        return problem_response(
            request,
            status=400,
            code="request.malformed_json",
            message_zh="请求体不是合法的 JSON。",
            message_en="The request body is not valid JSON.",
            extra={"errors": errors},
        )
    fields = "、".join(".".join(e["loc"][1:] or e["loc"]) for e in errors[:5])
    return problem_response(
        request,
        status=422,
        code="request.invalid",
        message_zh=f"请求参数有误：{fields}。",
        message_en=f"Invalid request parameters: {fields.replace('、', ', ')}.",
        extra={"errors": errors},
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error the app can raise to a problem document."""

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        status = STATUS[exc.kind]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if status >= 500:
            log.error("integrity failure %s", exc.code)
        return problem_response(
            request,
            status=status,
            code=exc.code,
            message_zh=exc.message_zh,
            message_en=exc.message_en,
            extra={"details": exc.details} if exc.details else None,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _validation_problem(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code, zh, en = HTTP_MESSAGES.get(exc.status_code, ("request.error", "请求失败。", "The request failed."))
        return problem_response(
            request,
            status=exc.status_code,
            code=code,
            message_zh=zh,
            message_en=en,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return problem_response(
            request,
            status=500,
            code="server.error",
            message_zh="服务器内部错误，已记录，请稍后再试。",
            message_en="Internal server error; it has been logged.",
        )
