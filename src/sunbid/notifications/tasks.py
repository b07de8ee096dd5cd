"""Wiring: the platform's notifier (adapters chosen by configuration) and its outbox handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sunbid.notifications.adapters import build_adapters
from sunbid.notifications.domain import EXTERNAL_CHANNELS, ExternalChannel, outbox_topic
from sunbid.notifications.service import Notifier
from sunbid.platform.context import RequestContext
from sunbid.platform.outbox import Handler

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

#: Who the audit events of deliveries name as the actor.
WORKER_CONTEXT = RequestContext(source="worker", actor_name="notifications")


def build_notifier(platform: Platform) -> Notifier:
    """The notifier of ``platform``: e-mail and SMS adapters from ``settings.notifications``.

    With the default settings both are simulators: e-mails become ``.eml`` files in ``<data_dir>/mail`` and
    texts rows of ``sms_simulator_messages``, so one command runs everything without outside services.
    """
    settings = platform.settings
    email, sms = build_adapters(
        settings.notifications, db=platform.db, clock=platform.clock, mail_dir=settings.data_dir / "mail"
    )
    return Notifier(
        email=email,
        sms=sms,
        db=platform.db,
        new_uow=lambda: platform.uow(WORKER_CONTEXT),
        centre_name=settings.centre_name,
        sms_signature=settings.notifications.sms_signature,
    )


def _handler(platform: Platform, channel: ExternalChannel) -> Handler:
    def handle(mid: int, payload: dict[str, Any]) -> None:
        platform.notifier.deliver(channel, mid, payload)

    return handle


def register_handlers(platform: Platform) -> None:
    """Register the ``notify.email`` and ``notify.sms`` outbox handlers with the platform's worker."""
    for channel in EXTERNAL_CHANNELS:
        platform.worker.register(outbox_topic(channel), _handler(platform, channel))
