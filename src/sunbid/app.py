"""The FastAPI application factory: API, pages and live streams in one process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import text

from sunbid.platform import migrate
from sunbid.platform.container import Platform
from sunbid.platform.logging import configure_logging
from sunbid.platform.middleware import RequestContextMiddleware
from sunbid.platform.problems import install_problem_handlers, problem_response
from sunbid.platform.settings import Settings

log = logging.getLogger("sunbid.app")


def create_app(platform: Platform | None = None, *, start_worker: bool | None = None) -> FastAPI:
    """Build the app around ``platform`` (or one made from the environment's settings)."""
    if platform is None:
        settings = Settings()
        configure_logging(settings.log_level, settings.log_json)
        platform = Platform(settings)
    run_worker = platform.settings.embedded_worker if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_worker:
            platform.worker.start(platform.settings.worker_poll_seconds)
        try:
            yield
        finally:
            platform.worker.stop()

    app = FastAPI(
        title="sunbid 公共资源交易平台 API",
        version="0.1.0",
        description=(
            "公共资源交易平台（电子交易、行政监督、公共服务、信息网）接口。Errors are RFC 9457 problem details."
        ),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.platform = platform
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware)
    from sunbid.bidding.arrival import ChunkArrivalMiddleware

    app.add_middleware(ChunkArrivalMiddleware)  # stamps when a bid chunk's last byte arrived (the deadline's judge)

    @app.get("/health", tags=["system"], summary="存活检查 Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["system"], summary="就绪检查 Readiness", response_model=None)
    def ready(request: Request) -> dict[str, Any] | Response:
        try:
            with platform.db.read() as s:
                s.execute(text("SELECT 1"))
            current = migrate.current(platform.db)
            wanted = migrate.head(platform.db)
        except Exception:
            log.exception("readiness check failed")
            return problem_response(
                request,
                status=503,
                code="server.db_unavailable",
                message_zh="数据库不可用。",
                message_en="The database is unavailable.",
            )
        if current != wanted:
            return problem_response(
                request,
                status=503,
                code="server.migrations_pending",
                message_zh="数据库结构未升级，请运行 sunbid db upgrade。",
                message_en="Database migrations are pending; run `sunbid db upgrade`.",
                extra={"current": current, "head": wanted},
            )
        return {"status": "ready", "schema": current}

    from sunbid.calendar.api import router as calendar_router
    from sunbid.identity.api import router as identity_router
    from sunbid.ledger.api import router as ledger_router

    app.include_router(ledger_router)
    app.include_router(identity_router)
    app.include_router(calendar_router)
    from sunbid.projects.api import router as projects_router

    app.include_router(projects_router)
    from sunbid.bidding.api import router as bids_router

    app.include_router(bids_router)
    from sunbid.opening.api import router as opening_router

    app.include_router(opening_router, prefix="/api/v1")
    app.include_router(opening_router, prefix="/api")  # the paths the bidder tool and the opening hall use
    from sunbid.experts.api import router as experts_router

    app.include_router(experts_router)
    from sunbid.experts.api_management import router as expert_management_router

    app.include_router(expert_management_router)
    from sunbid.deposits.api import router as deposits_router

    app.include_router(deposits_router)
    from sunbid.evaluation.api import router as evaluation_router

    app.include_router(evaluation_router)
    from sunbid.opening import hall as opening_hall

    opening_hall.install(app)
    from sunbid.web.pages import install_pages

    install_pages(app)
    from sunbid.evaluation.pages import install as install_evaluation_pages

    install_evaluation_pages(app)
    from sunbid.screening.pages import install as install_screening_pages

    install_screening_pages(app)
    from sunbid.deposits.pages import install as install_deposit_pages

    install_deposit_pages(app)
    from sunbid.bidding import pages as bid_pages

    bid_pages.install(app)
    return app
