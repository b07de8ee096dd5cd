"""Voice calls 语音自动通知 (seed 002): an automated call reads the draw notice; the expert presses 1 to confirm or
2 to refuse. A ``Protocol`` with a simulator (default) and an HTTP adapter for a telephony provider.

The simulator stands in for the provider: it keeps each call as ``<data_dir>/voice/<message_id>.json`` (what a
provider's call log would hold) and answers with the key scripted for the number (:meth:`press`), or no answer.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from sunbid.core.clock import Clock
from sunbid.notifications.domain import PermanentDeliveryError, TransientDeliveryError, normalise_cn_mobile
from sunbid.platform.secrets import atomic_write

__all__ = ["CONFIRM_KEY", "REFUSE_KEY", "CallResult", "HttpVoiceGateway", "SimulatedVoiceCaller", "VoiceCaller"]

CONFIRM_KEY = "1"
REFUSE_KEY = "2"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class CallResult:
    """How a call went: answered or not, and the key pressed (``"1"`` confirm, ``"2"`` refuse, None)."""

    answered: bool
    pressed: str | None = None


class VoiceCaller(Protocol):
    """Places one automated call."""

    def call(self, phone: str, script: str, message_id: str) -> CallResult:
        """Call ``phone``, read ``script``, collect one key. ``message_id`` is stable across retries.

        Raises ``PermanentDeliveryError`` for a malformed or refused number, ``TransientDeliveryError`` when
        the provider is down or busy.
        """
        ...


def _number(phone: str) -> str:
    number = normalise_cn_mobile(phone)
    if number is None:
        raise PermanentDeliveryError(
            "notification.bad_phone", "手机号码格式不正确。", "The mobile number is malformed."
        )
    return number


class SimulatedVoiceCaller:
    """Keeps calls as JSON files and answers as scripted (default: nobody answers)."""

    def __init__(self, directory: Path, clock: Clock) -> None:
        self.directory = directory
        self.clock = clock
        self._answers: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def press(self, phone: str, key: str | None) -> None:
        """Script the answer of ``phone``: ``"1"``, ``"2"``, another key, or None (answers, presses nothing)."""
        with self._lock:
            self._answers[_number(phone)] = key

    def call(self, phone: str, script: str, message_id: str) -> CallResult:
        number = _number(phone)
        with self._lock:
            answered = number in self._answers
            pressed = self._answers.get(number)
        record = {
            "message_id": message_id,
            "phone": number,
            "script": script,
            "at": self.clock.now().isoformat(),
            "answered": answered,
            "pressed": pressed,
        }
        atomic_write(
            self.directory / f"{_SAFE.sub('_', message_id)}.json", json.dumps(record, ensure_ascii=False).encode()
        )
        return CallResult(answered, pressed)

    def calls(self) -> list[dict[str, object]]:
        """Every call placed, oldest first (tests)."""
        if not self.directory.exists():
            return []
        out = [json.loads(p.read_text(encoding="utf-8")) for p in self.directory.glob("*.json")]
        return sorted(out, key=lambda c: str(c["at"]))


class HttpVoiceGateway:
    """Posts ``{"message_id", "phone", "script", "keys"}`` to a provider; expects ``{"answered", "pressed"}``.

    2xx is a completed call; 408, 425, 429, 5xx and network errors are transient; other 4xx are permanent.
    """

    def __init__(
        self, url: str, *, token: str | None = None, timeout: float = 90.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url
        self._token = token
        self.timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return f"HttpVoiceGateway(url={self.url!r})"

    def call(self, phone: str, script: str, message_id: str) -> CallResult:
        headers = {"Idempotency-Key": message_id}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        body = {
            "message_id": message_id,
            "phone": _number(phone),
            "script": script,
            "keys": {CONFIRM_KEY: "confirm", REFUSE_KEY: "refuse"},
        }
        try:
            with httpx.Client(timeout=self.timeout, transport=self._transport, follow_redirects=False) as client:
                resp = client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(
                "notification.voice_unavailable", "语音平台暂时不可用。", f"The voice provider is unavailable: {exc}"
            ) from None
        if 200 <= resp.status_code < 300:
            try:
                data = resp.json()
            except ValueError:
                data = {}
            pressed = data.get("pressed") if isinstance(data, dict) else None
            answered = bool(data.get("answered")) if isinstance(data, dict) else False
            return CallResult(answered, None if pressed is None else str(pressed)[:4])
        if resp.status_code in (408, 425, 429) or resp.status_code >= 500:
            raise TransientDeliveryError(
                "notification.voice_unavailable",
                "语音平台繁忙。",
                f"The voice provider is busy (HTTP {resp.status_code}).",
            )
        raise PermanentDeliveryError(
            "notification.voice_refused",
            "语音平台拒绝呼叫。",
            f"The voice provider refused the call (HTTP {resp.status_code}).",
        )
