"""Adapters to the outside world: e-mail senders and SMS gateways, each a Protocol, real and simulated.

Which one runs is configuration (``[notifications]`` in the settings, see :func:`build_adapters`). Every
adapter reports failure with :class:`~sunbid.notifications.domain.PermanentDeliveryError` (the channel refused
the message for good: never retried) or :class:`~sunbid.notifications.domain.TransientDeliveryError` (down or
busy: the outbox tries again with backoff). ``message_id`` is stable across retries of one outbox message, so
that a receiver (mail client, SMS gateway) can recognise a repeat.
"""

from __future__ import annotations

import os
import random
import re
import smtplib
import ssl
import threading
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sunbid.core.clock import Clock, SystemClock
from sunbid.notifications.domain import (
    PermanentDeliveryError,
    TransientDeliveryError,
    normalise_cn_mobile,
    normalise_email,
    sms_segments,
)
from sunbid.notifications.models import SmsSimulatorMessage
from sunbid.platform.db import Database

if TYPE_CHECKING:
    from sunbid.platform.settings import NotificationSettings

_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]")


class EmailSender(Protocol):
    """Sends one plain-text e-mail."""

    def send(self, to: str, subject: str, body_text: str, message_id: str) -> str | None:
        """Send ``body_text`` to ``to``; return the provider's id if it gives one.

        ``message_id`` becomes the ``Message-ID`` header, identical on every retry. Raises
        ``PermanentDeliveryError`` when the address is refused for good, ``TransientDeliveryError`` otherwise.
        """
        ...


class SmsGateway(Protocol):
    """Sends one text message to a mainland Chinese mobile number."""

    def send(self, phone: str, text: str, message_id: str) -> str | None:
        """Send ``text`` to ``phone``; return the gateway's id if it gives one.

        A gateway that sees the same ``message_id`` twice sends once. Raises ``PermanentDeliveryError`` for a
        malformed or refused number, ``TransientDeliveryError`` when the gateway is down or busy.
        """
        ...


# --- e-mail ------------------------------------------------------------------------------------------------


def build_email(*, sender: str, to: str, subject: str, body_text: str, message_id: str, clock: Clock) -> EmailMessage:
    """A UTF-8 text message: RFC 2047 subject, base64 body (no 8BITMIME needed), stable Message-ID."""
    address = normalise_email(to)
    if address is None:
        raise PermanentDeliveryError(
            "notification.bad_email_address",
            "收件人电子邮箱格式不正确。",
            "The recipient's e-mail address is malformed.",
        )
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = sender
    msg["To"] = address
    msg["Subject"] = subject
    msg["Date"] = format_datetime(clock.now())
    msg["Message-ID"] = f"<{_SAFE_ID.sub('_', message_id)}@{domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg["Content-Language"] = "zh-CN"
    msg.set_content(body_text, charset="utf-8", cte="base64")
    return msg


def _smtp_transient(exc: BaseException) -> TransientDeliveryError:
    return TransientDeliveryError(
        "notification.smtp_unavailable",
        f"邮件服务器暂时无法投递：{exc}",
        f"The mail server could not take the message now: {exc}",
    )


def _smtp_refused(code: int, reply: Any) -> PermanentDeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return PermanentDeliveryError(
        "notification.email_refused",
        f"邮件服务器拒收（{code}）：{text}",
        f"The mail server refused the message ({code}): {text}",
        details={"smtp_code": code},
    )


class SmtpEmailSender:
    """Sends through an SMTP server with the standard library (optional STARTTLS and login, with a timeout).

    A 5xx reply to the recipient or to the message is permanent; anything else (connection refused, timeout,
    4xx, a refused sender or login, which are configuration to fix) is transient. The password is never
    logged or put into an error.
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.starttls = starttls
        self.username = username
        self._password = password
        self.timeout = timeout
        self.clock: Clock = clock or SystemClock()

    def __repr__(self) -> str:
        return f"SmtpEmailSender(host={self.host!r}, port={self.port}, starttls={self.starttls})"

    def send(self, to: str, subject: str, body_text: str, message_id: str) -> str | None:
        msg = build_email(
            sender=self.sender,
            to=to,
            subject=subject,
            body_text=body_text,
            message_id=message_id,
            clock=self.clock,
        )
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self._password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            if code >= 500:
                raise _smtp_refused(code, reply) from None
            raise _smtp_transient(exc) from None
        except smtplib.SMTPResponseException as exc:  # a refused sender or login is configuration: retry
            if isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500:
                raise _smtp_refused(exc.smtp_code, exc.smtp_error) from None
            raise _smtp_transient(exc) from None
        except (OSError, smtplib.SMTPException) as exc:  # refused, reset, timeout, TLS, protocol errors
            raise _smtp_transient(exc) from None
        return str(msg["Message-ID"])


class EmailSimulator:
    """Writes each message as an ``.eml`` file into a folder instead of sending it (demos, no SMTP server).

    The file is named after the message id, so a retried message is written once.
    """

    def __init__(self, directory: Path, *, sender: str, clock: Clock | None = None) -> None:
        self.directory = directory
        self.sender = sender
        self.clock: Clock = clock or SystemClock()

    def send(self, to: str, subject: str, body_text: str, message_id: str) -> str | None:
        msg = build_email(
            sender=self.sender,
            to=to,
            subject=subject,
            body_text=body_text,
            message_id=message_id,
            clock=self.clock,
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{_SAFE_ID.sub('_', message_id)}.eml"
        if not target.exists():
            tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_bytes(msg.as_bytes())
            tmp.replace(target)
        return target.name


# --- SMS ---------------------------------------------------------------------------------------------------


def _check_phone(phone: str) -> str:
    number = normalise_cn_mobile(phone)
    if number is None:
        raise PermanentDeliveryError(
            "notification.bad_mobile",
            "手机号码格式不正确（须为 11 位中国大陆手机号）。",
            "Malformed mobile number (11-digit mainland Chinese number expected).",
        )
    return number


def _check_text(text: str) -> None:
    if not text.strip():
        raise PermanentDeliveryError("notification.empty_sms", "短信内容为空。", "The text message is empty.")


def _gateway_busy(detail: str) -> TransientDeliveryError:
    return TransientDeliveryError(
        "notification.sms_unavailable",
        f"短信网关暂时不可用：{detail}",
        f"The SMS gateway is unavailable: {detail}",
    )


class SimulatedSmsGateway:
    """Behaves like a real SMS gateway without sending: keeps accepted texts in ``sms_simulator_messages``.

    It refuses malformed numbers for good, sends a repeated ``message_id`` once, and can be told to fail
    transiently: the next ``n`` calls (:meth:`fail_next`) or at random with ``failure_rate`` from a seeded RNG
    (reproducible). It stands for an outside system, so it writes its own rows in its own transaction.
    """

    def __init__(self, db: Database, clock: Clock, *, failure_rate: float = 0.0, seed: int = 0) -> None:
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        self.db = db
        self.clock = clock
        self.failure_rate = failure_rate
        self._rng = random.Random(seed)
        self._fail_next = 0
        self._lock = threading.Lock()

    def fail_next(self, n: int = 1) -> None:
        """Make the next ``n`` calls fail as if the gateway were down."""
        with self._lock:
            self._fail_next = max(n, 0)

    def _should_fail(self) -> bool:
        with self._lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return True
            return self.failure_rate > 0 and self._rng.random() < self.failure_rate

    def send(self, phone: str, text: str, message_id: str) -> str | None:
        if self._should_fail():
            raise _gateway_busy("simulated outage")
        number = _check_phone(phone)
        _check_text(text)
        with self.db.session() as s:
            found = s.scalar(select(SmsSimulatorMessage.id).where(SmsSimulatorMessage.message_id == message_id))
            if found is not None:
                return f"sim-{found}"
            row = SmsSimulatorMessage(
                message_id=message_id,
                phone=number,
                text=text,
                segments=sms_segments(text),
                received_at=self.clock.now(),
            )
            s.add(row)
            try:
                s.commit()
            except IntegrityError:  # the same message id sent at the same time by another process
                s.rollback()
                found = s.scalar(select(SmsSimulatorMessage.id).where(SmsSimulatorMessage.message_id == message_id))
                return f"sim-{found}"
            return f"sim-{row.id}"

    def messages(self, phone: str | None = None) -> list[SmsSimulatorMessage]:
        """The texts accepted so far (oldest first), optionally to one number."""
        with self.db.read() as s:
            q = select(SmsSimulatorMessage).order_by(SmsSimulatorMessage.id)
            if phone is not None:
                q = q.where(SmsSimulatorMessage.phone == phone)
            return list(s.scalars(q))


class HttpSmsGateway:
    """Posts ``{"message_id", "phone", "text"}`` as JSON to a gateway URL (bearer token optional).

    2xx is sent (the gateway's ``id`` is kept when it returns one); 408, 425, 429, 5xx and network errors are
    transient; any other 4xx is a permanent refusal. ``message_id`` is also sent as ``Idempotency-Key``.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._token = token
        self.timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return f"HttpSmsGateway(url={self.url!r})"

    def send(self, phone: str, text: str, message_id: str) -> str | None:
        number = _check_phone(phone)
        _check_text(text)
        headers = {"Idempotency-Key": message_id}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            with httpx.Client(timeout=self.timeout, transport=self._transport, follow_redirects=False) as client:
                resp = client.post(
                    self.url, json={"message_id": message_id, "phone": number, "text": text}, headers=headers
                )
        except httpx.HTTPError as exc:
            raise _gateway_busy(f"{type(exc).__name__}: {exc}") from None
        status = resp.status_code
        if 200 <= status < 300:
            try:
                data = resp.json()
            except ValueError:
                return None
            ident = data.get("id") if isinstance(data, dict) else None
            return None if ident is None else str(ident)[:128]
        detail = f"HTTP {status} {resp.text[:200]}".strip()
        if status in (408, 425, 429) or status >= 500:
            raise _gateway_busy(detail)
        raise PermanentDeliveryError(
            "notification.sms_refused",
            f"短信网关拒绝发送：{detail}",
            f"The SMS gateway refused the message: {detail}",
            details={"http_status": status},
        )


# --- configuration -----------------------------------------------------------------------------------------


def build_adapters(
    settings: NotificationSettings, *, db: Database, clock: Clock, mail_dir: Path
) -> tuple[EmailSender, SmsGateway]:
    """The e-mail sender and SMS gateway the settings choose."""
    email: EmailSender
    if settings.email_backend == "smtp":
        email = SmtpEmailSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout_seconds,
            clock=clock,
        )
    else:
        email = EmailSimulator(mail_dir, sender=settings.smtp_from, clock=clock)
    sms: SmsGateway
    if settings.sms_gateway == "http":
        if not settings.sms_url:
            raise ValueError("notifications.sms_url is required when sms_gateway = 'http'")
        sms = HttpSmsGateway(settings.sms_url, token=settings.sms_token, timeout=settings.sms_timeout_seconds)
    else:
        sms = SimulatedSmsGateway(db, clock, failure_rate=settings.sms_failure_rate, seed=settings.sms_seed)
    return email, sms
