"""Domain errors with stable codes and bilingual messages.

Every error a person can see carries a stable machine code (``bid.deadline_passed``), a Chinese message
(shown first) and an English one. The platform maps the *kind* of an error to an HTTP status and renders
RFC 9457 problem details; the CLI prints the same messages and exits non-zero.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    """What kind of failure an error is; decides the HTTP status in one place."""

    INVALID = "invalid"  # 422: the input is malformed or breaks a rule of the domain
    NOT_FOUND = "not_found"  # 404
    CONFLICT = "conflict"  # 409: the state does not allow it (wrong step, duplicate, already done)
    UNAUTHENTICATED = "unauthenticated"  # 401
    FORBIDDEN = "forbidden"  # 403
    TOO_MANY = "too_many"  # 429
    UNAVAILABLE = "unavailable"  # 503: a dependency (bank, SMS, ...) failed
    INTEGRITY = "integrity"  # 500 in the API, non-zero exit in the CLI: stored data fails verification


class DomainError(Exception):
    """A failure the user must be told about, in Chinese and English, with a stable code."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        kind: ErrorKind | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        if kind is not None:
            self.kind = kind
        self.details: dict[str, Any] = dict(details or {})

    def message(self, lang: str = "zh-CN") -> str:
        """The message in the requested language (Chinese unless English is asked for)."""
        return self.message_en if lang.lower().startswith("en") else self.message_zh

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "kind": self.kind.value,
            "details": self.details,
        }


class ValidationFailed(DomainError):
    kind = ErrorKind.INVALID


class NotFound(DomainError):
    kind = ErrorKind.NOT_FOUND


class Conflict(DomainError):
    kind = ErrorKind.CONFLICT


class Unauthenticated(DomainError):
    kind = ErrorKind.UNAUTHENTICATED


class Forbidden(DomainError):
    kind = ErrorKind.FORBIDDEN


class TooManyRequests(DomainError):
    kind = ErrorKind.TOO_MANY


class Unavailable(DomainError):
    kind = ErrorKind.UNAVAILABLE


class IntegrityFailure(DomainError):
    kind = ErrorKind.INTEGRITY
