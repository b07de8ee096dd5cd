"""Notification rules, pure: channels, address checks, message texts and delivery errors.

A notification is one message (Chinese first, English optional) sent to a list of users over channels. The
in-app channel is a row in the user's inbox; the external channels (e-mail, SMS) each become one outbox
message per user, written in the caller's transaction and sent after commit by an adapter. This module decides
who can be reached on which channel and what the texts look like; it never touches the database.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal, cast, get_args

from sunbid.core.errors import DomainError, ErrorKind, ValidationFailed

__all__ = [
    "CHANNELS",
    "EXTERNAL_CHANNELS",
    "SMS_MAX_CHARS",
    "Channel",
    "DeliveryError",
    "ExternalChannel",
    "Message",
    "PermanentDeliveryError",
    "Recipient",
    "Route",
    "SkipReason",
    "TransientDeliveryError",
    "email_body",
    "email_subject",
    "make_message",
    "normalise_cn_mobile",
    "normalise_email",
    "outbox_dedupe_key",
    "outbox_topic",
    "route",
    "sms_segments",
    "sms_text",
]

Channel = Literal["inapp", "email", "sms"]
ExternalChannel = Literal["email", "sms"]

CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
EXTERNAL_CHANNELS: Final[tuple[ExternalChannel, ...]] = get_args(ExternalChannel)

#: Longest SMS text sent (signature included); carriers split it into 67-character parts.
SMS_MAX_CHARS: Final = 500
SUBJECT_MAX: Final = 200
BODY_MAX: Final = 20_000
#: Fits the audit subject id (128) and the outbox key ``notify:{dedupe}:{user}:{channel}`` (200).
DEDUPE_MAX: Final = 128

_KIND = re.compile(r"[a-z][a-z0-9_.]{0,63}")
_DEDUPE = re.compile(r"[A-Za-z0-9_.:/-]{1,128}")
_CN_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_PHONE_NOISE = re.compile(r"[\s()-]")
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SkipReason(StrEnum):
    """Why a user was not sent a notification on one channel (stored with the delivery and audited)."""

    NO_EMAIL = "no_email"
    INVALID_EMAIL = "invalid_email"
    NO_PHONE = "no_phone"
    INVALID_PHONE = "invalid_phone"
    USER_INACTIVE = "user_inactive"

    @property
    def message_zh(self) -> str:
        return _SKIP_TEXT[self][0]

    @property
    def message_en(self) -> str:
        return _SKIP_TEXT[self][1]


_SKIP_TEXT: Final[dict[SkipReason, tuple[str, str]]] = {
    SkipReason.NO_EMAIL: ("用户未登记电子邮箱。", "The user has no e-mail address."),
    SkipReason.INVALID_EMAIL: ("用户登记的电子邮箱格式不正确。", "The user's e-mail address is malformed."),
    SkipReason.NO_PHONE: ("用户未登记手机号码。", "The user has no mobile number."),
    SkipReason.INVALID_PHONE: (
        "用户登记的手机号码不是有效的中国大陆手机号。",
        "The user's phone is not a valid mainland Chinese mobile number.",
    ),
    SkipReason.USER_INACTIVE: ("用户已停用，不发送外部消息。", "The user is disabled: no external message."),
}


# --- errors --------------------------------------------------------------------------------------------


class DeliveryError(DomainError):
    """An adapter could not deliver a message; ``permanent`` says whether trying again can help."""

    permanent: bool = False


class PermanentDeliveryError(DeliveryError):
    """The channel refused the message for good (bad number, unknown mailbox): never retried."""

    kind = ErrorKind.INVALID
    permanent = True


class TransientDeliveryError(DeliveryError):
    """The channel is down or busy: the outbox retries with backoff."""

    kind = ErrorKind.UNAVAILABLE
    permanent = False


def _invalid(code: str, zh: str, en: str, **details: object) -> ValidationFailed:
    return ValidationFailed(f"notification.{code}", zh, en, details=dict(details))


# --- the message -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """A validated notification: texts, channels and the caller's idempotency key."""

    kind: str
    subject_zh: str
    body_zh: str
    subject_en: str | None
    body_en: str | None
    channels: tuple[Channel, ...]
    dedupe: str

    @property
    def external_channels(self) -> tuple[ExternalChannel, ...]:
        return tuple(c for c in self.channels if c != "inapp")


def _subject(value: str | None, *, field: str, required: bool) -> str | None:
    text = (value or "").strip()
    if not text:
        if required:
            raise _invalid("bad_subject", "消息标题不能为空。", "A subject is required.", field=field)
        return None
    if len(text) > SUBJECT_MAX or _CONTROL.search(text):
        raise _invalid(
            "bad_subject",
            f"消息标题须为一行且不超过 {SUBJECT_MAX} 个字符。",
            f"A subject is one line of at most {SUBJECT_MAX} characters.",
            field=field,
        )
    return text


def _body(value: str | None, *, field: str, required: bool) -> str | None:
    text = (value or "").replace("\r\n", "\n").strip()
    if not text:
        if required:
            raise _invalid("bad_body", "消息正文不能为空。", "A message body is required.", field=field)
        return None
    if len(text) > BODY_MAX or _CONTROL.search(text.replace("\n", "").replace("\t", "")):
        raise _invalid(
            "bad_body",
            f"消息正文不超过 {BODY_MAX} 个字符，且不得含控制字符。",
            f"A body has at most {BODY_MAX} characters and no control characters.",
            field=field,
        )
    return text


def make_message(
    *,
    kind: str,
    subject_zh: str,
    body_zh: str,
    subject_en: str | None = None,
    body_en: str | None = None,
    channels: Iterable[str] = CHANNELS,
    dedupe: str,
) -> Message:
    """Check a notification's fields and return it as a :class:`Message` (raises ``ValidationFailed``)."""
    if not _KIND.fullmatch(kind):
        raise _invalid(
            "bad_kind",
            "消息类型须为小写字母、数字、下划线或点，且以字母开头。",
            "A kind is lower-case letters, digits, '_' or '.', starting with a letter.",
            kind=kind,
        )
    if not _DEDUPE.fullmatch(dedupe):
        raise _invalid(
            "bad_dedupe",
            f"去重键须为 1–{DEDUPE_MAX} 位字母、数字或 _ . : / -。",
            f"A dedupe key has 1–{DEDUPE_MAX} letters, digits or _ . : / -.",
        )
    chosen: list[Channel] = []
    for c in channels:
        if c not in CHANNELS:
            raise _invalid(
                "bad_channel",
                f"不支持的通知渠道：{c}。",
                f"Unknown notification channel: {c}.",
                channel=c,
                allowed=list(CHANNELS),
            )
        if c not in chosen:
            chosen.append(c)
    if not chosen:
        raise _invalid("no_channel", "至少选择一个通知渠道。", "Choose at least one channel.")
    return Message(
        kind=kind,
        subject_zh=cast(str, _subject(subject_zh, field="subject_zh", required=True)),
        body_zh=cast(str, _body(body_zh, field="body_zh", required=True)),
        subject_en=_subject(subject_en, field="subject_en", required=False),
        body_en=_body(body_en, field="body_en", required=False),
        channels=tuple(chosen),
        dedupe=dedupe,
    )


# --- who is reached where ----------------------------------------------------------------------------------


def normalise_cn_mobile(raw: str | None) -> str | None:
    """A mainland Chinese mobile number as 11 digits (``+86``, spaces and dashes removed), or None."""
    if raw is None:
        return None
    digits = _PHONE_NOISE.sub("", raw)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    else:
        if len(digits) == 13 and digits.startswith("86"):
            digits = digits[2:]
    return digits if _CN_MOBILE.fullmatch(digits) else None


def normalise_email(raw: str | None) -> str | None:
    """An e-mail address (ASCII, one line, domain in lower case), or None when it is malformed.

    Addresses with spaces, line breaks, quotes or angle brackets are refused: they would let a stored value
    add headers to the message.
    """
    if raw is None:
        return None
    text = raw.strip()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        return None
    local, domain = text.rsplit("@", 1)
    if len(local) > 64:
        return None
    return f"{local}@{domain.lower()}"


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the notification service knows of a user: whether active, and the stored addresses."""

    user_id: int
    active: bool
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Route:
    """The outcome for one user on one external channel: an address to send to, or why not."""

    channel: ExternalChannel
    address: str | None
    skipped: SkipReason | None


def route(recipient: Recipient, channel: ExternalChannel) -> Route:
    """Where to send ``channel`` for ``recipient``, or the reason it is skipped."""
    if not recipient.active:
        return Route(channel, None, SkipReason.USER_INACTIVE)
    if channel == "email":
        if not (recipient.email or "").strip():
            return Route(channel, None, SkipReason.NO_EMAIL)
        email = normalise_email(recipient.email)
        return Route(channel, email, None if email else SkipReason.INVALID_EMAIL)
    if not (recipient.phone or "").strip():
        return Route(channel, None, SkipReason.NO_PHONE)
    phone = normalise_cn_mobile(recipient.phone)
    return Route(channel, phone, None if phone else SkipReason.INVALID_PHONE)


def outbox_topic(channel: ExternalChannel) -> str:
    """The outbox topic whose handler sends ``channel``."""
    return f"notify.{channel}"


def outbox_dedupe_key(dedupe: str, user_id: int, channel: ExternalChannel) -> str:
    """The outbox dedupe key: one message per (notification, user, channel), however often it is queued."""
    return f"notify:{dedupe}:{user_id}:{channel}"


# --- texts -------------------------------------------------------------------------------------------------


def email_subject(message: Message) -> str:
    """The e-mail subject: Chinese, then English when given."""
    if message.subject_en:
        return f"{message.subject_zh} / {message.subject_en}"
    return message.subject_zh


def email_body(message: Message, *, centre_name: str) -> str:
    """The plain-text e-mail body: Chinese, then English when given, then who sent it."""
    parts = [message.body_zh]
    if message.body_en or message.subject_en:
        english = "\n\n".join(t for t in (message.subject_en, message.body_en) if t)
        parts.append(f"—— English ——\n{english}")
    parts.append(
        f"——\n本邮件由{centre_name}系统自动发送，请勿直接回复。\n"
        "This message was sent automatically; please do not reply."
    )
    return "\n\n".join(parts) + "\n"


def sms_text(message: Message, *, signature: str) -> str:
    """The SMS text: ``【signature】subject：body`` in Chinese, cut to :data:`SMS_MAX_CHARS` with "…"."""
    head = f"【{signature}】{message.subject_zh}："
    body = " ".join(message.body_zh.split())
    room = SMS_MAX_CHARS - len(head)
    if len(body) > room:
        body = body[: max(room - 1, 0)] + "…"
    return (head + body)[:SMS_MAX_CHARS]


def sms_segments(text: str) -> int:
    """How many carrier messages a Chinese SMS takes (70 characters alone, 67 per part when split)."""
    if len(text) <= 70:
        return 1
    return math.ceil(len(text) / 67)
