"""Outbox handlers of the expert draw: notify a drawn expert, and act when his time to answer runs out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sunbid.experts.service import DUE_TOPIC, NOTIFY_TOPIC, deliver_notification, response_due
from sunbid.platform.context import RequestContext

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

WORKER_CONTEXT = RequestContext(source="worker", actor_name="experts")


def register_handlers(platform: Platform) -> None:
    """Register ``expert.notify`` and ``expert.response_due`` with the platform's worker."""

    def notify(mid: int, payload: dict[str, Any]) -> None:
        deliver_notification(platform, int(payload["draw_id"]), int(payload["seq"]), f"expert-notify-{mid}")

    def due(mid: int, payload: dict[str, Any]) -> None:
        with platform.uow(WORKER_CONTEXT) as uow:
            response_due(uow, int(payload["draw_id"]), int(payload["seq"]))
            uow.commit()

    platform.worker.register(NOTIFY_TOPIC, notify)
    platform.worker.register(DUE_TOPIC, due)
