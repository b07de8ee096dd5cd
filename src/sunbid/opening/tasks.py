"""Background jobs and hooks of the opening: the lifecycle hook and the timed close of the decryption window."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sunbid.opening import session
from sunbid.platform.context import RequestContext
from sunbid.projects.service import register_transition_hook

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

log = logging.getLogger("sunbid.opening")


def handle_close(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    """Close a session's decryption window when due (idempotent: an early, stale or repeated message does nothing)."""
    with platform.uow(RequestContext(source="system", actor_name="scheduler")) as uow:
        acted = session.close_window(uow, int(payload["project_id"]))
        uow.commit()
    if acted:
        log.info("project %s: decryption window closed", payload["project_id"])


def register_handlers(platform: Platform) -> None:
    """Register the opening's lifecycle hook and outbox handler (called by the platform container)."""
    register_transition_hook(session.on_transition)
    platform.worker.register(session.CLOSE_TOPIC, lambda mid, p: handle_close(platform, mid, p))
