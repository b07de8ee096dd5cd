"""Background job of bid submission: complete an upload whose final chunk arrived, if the bidder did not."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sunbid.bidding import service
from sunbid.bidding.models import BidUpload
from sunbid.core.errors import DomainError
from sunbid.platform.context import RequestContext
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project
from sunbid.projects.service import register_before_timed_hook
from sunbid.projects.timing import project_facts

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

log = logging.getLogger("sunbid.bidding")


def handle_complete(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    """Complete the upload (idempotent: an upload the bidder completed already is left as it is).

    A refusal (the container does not check, the deadline judged by its final chunk passed …) is final: it is
    logged, and the bidder's own complete call reports it; retrying would change nothing.
    """
    upload_id = int(payload["upload_id"])
    try:
        with platform.uow(RequestContext(source="system", actor_name="scheduler")) as uow:
            bid = service.complete_upload_system(uow, upload_id)
            uow.commit()
    except DomainError as exc:
        log.warning("upload %s: not completed by the platform (%s)", upload_id, exc.code)
        return
    if bid is not None:
        with platform.uow() as uow:
            service.cleanup_spool(uow, upload_id)


def complete_before_closing(uow: UnitOfWork, project: Project) -> None:
    """Before a timed step of a project in ``bidding`` (the close): complete its uploads made whole in time.

    Each in its own savepoint: one that does not check (its refusal is for the bidder's complete to report)
    never stops the close or the others.
    """
    if project.state != "bidding":
        return
    deadline = project_facts(project, uow.now).bid_deadline
    if deadline is None or uow.now < deadline:
        return
    pending = select(BidUpload.id).where(
        BidUpload.project_id == project.id,
        BidUpload.status == "open",
        BidUpload.offset == BidUpload.length,
        BidUpload.final_chunk_at < deadline,
    )
    for upload_id in list(uow.session.scalars(pending.order_by(BidUpload.id))):
        savepoint = uow.session.begin_nested()
        try:
            service.complete_in_time_upload(uow, upload_id)
            savepoint.commit()
        except DomainError as exc:
            savepoint.rollback()
            log.warning("upload %s: not completed before the close (%s)", upload_id, exc.code)


def register_handlers(platform: Platform) -> None:
    """Register the submission job and the completion before the close (called by the platform container)."""
    platform.worker.register(service.COMPLETE_TOPIC, lambda mid, p: handle_complete(platform, mid, p))
    register_before_timed_hook(complete_before_closing)
