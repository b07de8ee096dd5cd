"""Notification use cases: queue in the caller's unit of work, deliver from the outbox, read the inbox.

:meth:`Notifier.notify` writes, in the caller's transaction, one ``notifications`` row per user (the in-app
message), one ``notification_deliveries`` row per user and external channel, and for each reachable one an
outbox message ``notify.email`` / ``notify.sms`` with the dedupe key ``notify:{dedupe}:{user}:{channel}``.
So the notification exists exactly when the change that caused it commits, a repeated call adds nothing, and a
channel that is down loses nothing: the outbox retries with backoff.

:meth:`Notifier.deliver` is the outbox handler. It reads the delivery, sends through the adapter *outside*
any database transaction, then records the outcome in a unit of work (audited). A delivery already ``sent``
or ``failed`` is never sent again, which makes the handler idempotent for the message id. A permanent refusal
(malformed number, unknown mailbox) is recorded as ``failed`` and the handler returns normally, so the outbox
does not retry it; a transient failure is recorded and re-raised, so the outbox retries, and when the outbox
is on its last attempt the delivery is marked ``failed`` (``gave_up``) as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.identity.models import User
from sunbid.notifications import domain
from sunbid.notifications.adapters import EmailSender, SmsGateway
from sunbid.notifications.domain import (
    CHANNELS,
    Channel,
    DeliveryError,
    ExternalChannel,
    Message,
    Recipient,
    SkipReason,
    TransientDeliveryError,
)
from sunbid.notifications.models import Notification, NotificationDelivery
from sunbid.platform.db import Database
from sunbid.platform.models import OutboxMessage
from sunbid.platform.uow import UnitOfWork

log = logging.getLogger("sunbid.notifications")

#: Delivery states after which nothing is sent any more.
FINAL_STATES = frozenset({"sent", "failed", "skipped"})


@dataclass(frozen=True, slots=True)
class Skipped:
    """A user not reached on one channel, and why."""

    user_id: int
    channel: ExternalChannel
    reason: SkipReason


@dataclass(slots=True)
class NotifyResult:
    """What one :meth:`Notifier.notify` call wrote."""

    notification_ids: dict[int, int] = field(default_factory=dict)  # user id -> notification id
    in_app: list[int] = field(default_factory=list)  # users whose inbox got the message now
    queued: list[tuple[int, ExternalChannel]] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    duplicates: list[tuple[int, Channel]] = field(default_factory=list)  # already written by an earlier call

    @property
    def changed(self) -> bool:
        """Whether this call wrote anything (a repeated call with the same dedupe key writes nothing)."""
        return bool(self.in_app or self.queued or self.skipped)


class Notifier:
    """Sends notifications in-app, by e-mail and by SMS; adapters are injected (``tasks.build_notifier``)."""

    def __init__(
        self,
        *,
        email: EmailSender,
        sms: SmsGateway,
        db: Database,
        new_uow: Callable[[], UnitOfWork],
        centre_name: str,
        sms_signature: str | None = None,
    ) -> None:
        self.email = email
        self.sms = sms
        self._db = db
        self._new_uow = new_uow
        self.centre_name = centre_name
        self.sms_signature = sms_signature or centre_name

    # --- queue ---------------------------------------------------------------------------------------------

    def notify(
        self,
        uow: UnitOfWork,
        *,
        user_ids: Sequence[int],
        kind: str,
        subject_zh: str,
        body_zh: str,
        subject_en: str | None = None,
        body_en: str | None = None,
        channels: Iterable[str] = CHANNELS,
        dedupe: str,
        send_at: datetime | None = None,
    ) -> NotifyResult:
        """Queue a notification to ``user_ids`` in ``uow``'s transaction; sent after the caller commits.

        ``dedupe`` identifies the notification (e.g. ``contract-reminder:42:1``): calling again with the same
        key adds nothing for a (user, channel) already written, whatever the texts. Users without a usable
        e-mail or mobile number (or disabled users, for external channels) are skipped on that channel and
        the reason is stored and audited. ``send_at`` delays the external channels (e.g. no SMS at night).
        Raises ``ValidationFailed`` for bad fields and ``NotFound`` for unknown users.
        """
        message = domain.make_message(
            kind=kind,
            subject_zh=subject_zh,
            body_zh=body_zh,
            subject_en=subject_en,
            body_en=body_en,
            channels=channels,
            dedupe=dedupe,
        )
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            raise ValidationFailed(
                "notification.no_recipients", "通知至少要有一个接收人。", "A notification needs a recipient."
            )
        users = _load_users(uow.session, ids)
        s = uow.session
        existing = {
            n.user_id: n
            for n in s.scalars(
                select(Notification).where(Notification.user_id.in_(ids), Notification.dedupe_key == dedupe)
            )
        }
        done: set[tuple[int, str]] = set()
        if existing:
            done = {
                (d.notification_id, d.channel)
                for d in s.scalars(
                    select(NotificationDelivery).where(
                        NotificationDelivery.notification_id.in_([n.id for n in existing.values()])
                    )
                )
            }
        result = NotifyResult()
        audit_rows: list[dict[str, Any]] = []
        now = uow.now
        for uid in ids:
            row = self._inbox_row(uow, existing.get(uid), uid, message, result)
            recipient = _recipient(users[uid])
            entry: dict[str, Any] = {"user_id": uid, "notification_id": row.id, "queued": [], "skipped": {}}
            if uid in result.in_app:
                entry["queued"].append("inapp")
            for channel in message.external_channels:
                if (row.id, channel) in done:
                    result.duplicates.append((uid, channel))
                    continue
                found = domain.route(recipient, channel)
                delivery = NotificationDelivery(
                    notification_id=row.id,
                    user_id=uid,
                    channel=channel,
                    address=found.address,
                    status="skipped" if found.skipped else "queued",
                    reason=found.skipped.value if found.skipped else None,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                )
                s.add(delivery)
                s.flush()
                if found.skipped is not None:
                    result.skipped.append(Skipped(uid, channel, found.skipped))
                    entry["skipped"][channel] = found.skipped.value
                    continue
                uow.enqueue(
                    domain.outbox_topic(channel),
                    {"delivery_id": delivery.id},
                    dedupe_key=domain.outbox_dedupe_key(dedupe, uid, channel),
                    available_at=send_at,
                )
                result.queued.append((uid, channel))
                entry["queued"].append(channel)
            if entry["queued"] or entry["skipped"]:
                audit_rows.append(entry)
        if audit_rows:
            uow.audit(
                "notification:queue",
                subject_type="notification",
                subject_id=dedupe,
                data={
                    "kind": message.kind,
                    "dedupe": dedupe,
                    "subject_zh": message.subject_zh,
                    "body_zh": message.body_zh,
                    "subject_en": message.subject_en,
                    "body_en": message.body_en,
                    "channels": list(message.channels),
                    "send_at": None if send_at is None else send_at.isoformat(),
                    "recipients": audit_rows,
                },
            )
        return result

    @staticmethod
    def _inbox_row(
        uow: UnitOfWork, row: Notification | None, uid: int, message: Message, result: NotifyResult
    ) -> Notification:
        in_app = "inapp" in message.channels
        if row is None:
            row = Notification(
                user_id=uid,
                kind=message.kind,
                subject=message.subject_zh,
                body=message.body_zh,
                subject_en=message.subject_en,
                body_en=message.body_en,
                in_app=in_app,
                dedupe_key=message.dedupe,
                created_at=uow.now,
            )
            uow.session.add(row)
            uow.session.flush()
            if in_app:
                result.in_app.append(uid)
        elif in_app and not row.in_app:
            row.in_app = True
            result.in_app.append(uid)
        elif in_app:
            result.duplicates.append((uid, "inapp"))
        result.notification_ids[uid] = row.id
        return row

    # --- deliver (outbox handler) --------------------------------------------------------------------------

    def deliver(self, channel: ExternalChannel, mid: int, payload: dict[str, Any]) -> None:
        """Send one queued delivery (the ``notify.email`` / ``notify.sms`` outbox handler)."""
        delivery_id = int(payload["delivery_id"])
        with self._db.read() as s:
            delivery = s.get(NotificationDelivery, delivery_id)
            note = s.get(Notification, delivery.notification_id) if delivery is not None else None
            outbox = s.get(OutboxMessage, mid)
        if delivery is None or note is None:
            log.warning("notification delivery %s of outbox message %s no longer exists", delivery_id, mid)
            return
        if delivery.status in FINAL_STATES or delivery.channel != channel or delivery.address is None:
            return  # already done by an earlier run of this message (at-least-once), or nothing to send
        message = Message(
            kind=note.kind,
            subject_zh=note.subject,
            body_zh=note.body,
            subject_en=note.subject_en,
            body_en=note.body_en,
            channels=(channel,),
            dedupe=note.dedupe_key,
        )
        message_id = f"sunbid.notify.{mid}"
        error: DeliveryError | None = None
        provider_id: str | None = None
        try:
            if channel == "email":
                provider_id = self.email.send(
                    delivery.address,
                    domain.email_subject(message),
                    domain.email_body(message, centre_name=self.centre_name),
                    message_id,
                )
            else:
                provider_id = self.sms.send(
                    delivery.address, domain.sms_text(message, signature=self.sms_signature), message_id
                )
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # an adapter bug or an unexpected failure: retry, never lose the message
            error = TransientDeliveryError(
                "notification.adapter_failed",
                f"发送失败：{type(exc).__name__}: {exc}",
                f"Sending failed: {type(exc).__name__}: {exc}",
            )
        last_attempt = outbox is not None and outbox.attempts + 1 >= outbox.max_attempts
        self._record(delivery_id, mid, error, provider_id, last_attempt=last_attempt)
        if error is not None and not error.permanent:
            raise error

    def _record(
        self,
        delivery_id: int,
        mid: int,
        error: DeliveryError | None,
        provider_id: str | None,
        *,
        last_attempt: bool,
    ) -> None:
        with self._new_uow() as uow:
            d = uow.session.get(NotificationDelivery, delivery_id)
            if d is None or d.status in FINAL_STATES:
                return
            now = uow.now
            d.attempts += 1
            d.outbox_message_id = mid
            d.updated_at = now
            tag: str | None = None
            if error is None:
                d.status, d.sent_at, d.provider_id = "sent", now, provider_id
                d.last_error = None
                tag = "notification:send"
            else:
                d.last_error = f"{error.code}: {error.message_zh} / {error.message_en}"[:2000]
                if error.permanent or last_attempt:
                    d.status = "failed"
                    d.reason = error.code if error.permanent else "gave_up"
                    tag = "notification:fail"
                else:
                    d.status = "retrying"
            if tag is not None:
                uow.audit(
                    tag,
                    subject_type="notification_delivery",
                    subject_id=d.id,
                    data={
                        "notification_id": d.notification_id,
                        "user_id": d.user_id,
                        "channel": d.channel,
                        "outbox_message_id": mid,
                        "attempts": d.attempts,
                        "status": d.status,
                        "reason": d.reason,
                    },
                )
            uow.commit()


# --- inbox -------------------------------------------------------------------------------------------------


def inbox(session: Session, user_id: int, *, unread_only: bool = False, limit: int = 50) -> list[Notification]:
    """The user's in-app messages, newest first."""
    q = select(Notification).where(Notification.user_id == user_id, Notification.in_app.is_(True))
    if unread_only:
        q = q.where(Notification.read_at.is_(None))
    return list(session.scalars(q.order_by(Notification.id.desc()).limit(max(1, min(limit, 500)))))


def unread_count(session: Session, user_id: int) -> int:
    """How many in-app messages the user has not read."""
    q = select(func.count(Notification.id)).where(
        Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None)
    )
    return int(session.scalar(q) or 0)


def mark_read(uow: UnitOfWork, *, user_id: int, notification_id: int) -> Notification:
    """Mark one of the user's in-app messages read (idempotent); another user's message is not found."""
    row = uow.session.get(Notification, notification_id)
    if row is None or row.user_id != user_id or not row.in_app:
        raise NotFound("notification.not_found", "消息不存在。", "No such message.", details={"id": notification_id})
    if row.read_at is None:
        row.read_at = uow.now
        uow.audit("notification:read", subject_type="notification", subject_id=row.id, data={"user_id": user_id})
    return row


def deliveries_of(session: Session, notification_id: int) -> list[NotificationDelivery]:
    """The external-channel deliveries of one notification (status, reason, attempts)."""
    q = select(NotificationDelivery).where(NotificationDelivery.notification_id == notification_id)
    return list(session.scalars(q.order_by(NotificationDelivery.id)))


# --- helpers -----------------------------------------------------------------------------------------------


def _load_users(session: Session, ids: list[int]) -> dict[int, User]:
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))}
    missing = [i for i in ids if i not in users]
    if missing:
        raise NotFound(
            "notification.unknown_user",
            f"接收人不存在：{', '.join(map(str, missing))}。",
            f"Unknown recipients: {', '.join(map(str, missing))}.",
            details={"user_ids": missing},
        )
    return users


def _recipient(user: User) -> Recipient:
    return Recipient(user_id=user.id, active=user.status == "active", email=user.email, phone=user.phone)
