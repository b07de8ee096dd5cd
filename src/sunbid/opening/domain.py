"""The remote opening session 不见面开标 as a pure state machine (SPEC B-4, RULES §3).

A project's session goes ``scheduled`` (opening keys made, settings may change until the bid deadline) →
``decrypting`` (started by the lifecycle at the deadline; the decryption window is open) → ``fallback`` (the
window closed, some bids are still sealed and the tender allows custodians to rebuild the opening key) →
``recorded`` (the opening record 唱标 is published; bidders confirm or object, the operator answers) →
``closed`` (the operator finished the opening). ``failed`` is the lifecycle's no-opening path (fewer than the
minimum of bids, or too few valid bids); ``cancelled`` ends a session whose project was terminated 终止.
A suspended project's session keeps its state but is frozen: no action, no timer, and the time left in the
decryption window is given back on resume (:func:`resumed_close`).

A bid in the session is ``sealed`` until it is ``decrypted``; a bid still sealed when decryption ends failed
(电子招标投标办法 §31): through the bidder's fault it is deemed **revoked** 撤销, through anyone else's it is
deemed **withdrawn** 撤回 (:func:`classify_failure`).

Pure: no database, no clock — callers pass ``now``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.draws.domain import DecimalRange, coefficient_set

__all__ = [
    "DEFAULT_MAX_KEY_ATTEMPTS",
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW_MINUTES",
    "MAX_EXTENSION_MINUTES",
    "MAX_KEY_ATTEMPTS",
    "MAX_TOTAL_WINDOW_MINUTES",
    "MAX_WINDOW_MINUTES",
    "MIN_WINDOW_MINUTES",
    "PLATFORM_FAULTS",
    "Action",
    "BidStatus",
    "Failure",
    "OpeningSettings",
    "SessionState",
    "attempts_exhausted",
    "attempts_left",
    "bid_context",
    "classify_failure",
    "ensure_allowed",
    "extended_close",
    "resumed_close",
    "share_plan",
    "window_is_open",
]

DEFAULT_WINDOW_MINUTES: Final = 30
"""RULES §3: "30分钟内完成解密，未完成的视为撤销" is typical."""
MIN_WINDOW_MINUTES: Final = 5
MAX_WINDOW_MINUTES: Final = 240
DEFAULT_MAX_KEY_ATTEMPTS: Final = 5
"""Wrong content keys a bidder may send per bid before further attempts are refused (the tender may change it)."""
MAX_KEY_ATTEMPTS: Final = 50
MAX_EXTENSION_MINUTES: Final = 60
"""One extension of the window by the operator (platform trouble …) adds at most this."""
MAX_TOTAL_WINDOW_MINUTES: Final = 480
"""The window, extensions included, never lasts longer than this from its start."""
DEFAULT_THRESHOLD: Final = 2
"""k of the k-of-n split of each opening key (2 of 3: centre, regulator, notary)."""


class SessionState(StrEnum):
    """Where a project's opening session is."""

    SCHEDULED = "scheduled"
    DECRYPTING = "decrypting"
    FALLBACK = "fallback"
    RECORDED = "recorded"
    CLOSED = "closed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def label_zh(self) -> str:
        """Chinese name shown in the hall."""
        return _STATE_LABELS[self]


_STATE_LABELS: Final[Mapping[SessionState, str]] = {
    SessionState.SCHEDULED: "待开标",
    SessionState.DECRYPTING: "解密中",
    SessionState.FALLBACK: "保管人应急解密",
    SessionState.RECORDED: "已唱标",
    SessionState.CLOSED: "开标结束",
    SessionState.FAILED: "未开标（流标）",
    SessionState.CANCELLED: "已取消（项目终止）",
}


class Action(StrEnum):
    """What may be done to a session."""

    CONFIGURE = "configure"
    START = "start"
    CHECK_IN = "check_in"
    DECRYPT = "decrypt"
    CLOSE_WINDOW = "close_window"
    EXTEND_WINDOW = "extend_window"
    POST_SHARE = "post_share"
    END_FALLBACK = "end_fallback"
    CONFIRM = "confirm"
    OBJECT = "object"
    ANSWER = "answer"
    FINISH = "finish"
    FAIL = "fail"


_ALLOWED: Final[Mapping[SessionState, frozenset[Action]]] = {
    SessionState.SCHEDULED: frozenset({Action.CONFIGURE, Action.START, Action.FAIL}),
    SessionState.DECRYPTING: frozenset(
        {Action.CHECK_IN, Action.DECRYPT, Action.CLOSE_WINDOW, Action.EXTEND_WINDOW, Action.FAIL}
    ),
    SessionState.FALLBACK: frozenset({Action.CHECK_IN, Action.POST_SHARE, Action.END_FALLBACK, Action.FAIL}),
    SessionState.RECORDED: frozenset(
        {Action.CHECK_IN, Action.CONFIRM, Action.OBJECT, Action.ANSWER, Action.FINISH, Action.FAIL}
    ),
    SessionState.CLOSED: frozenset(),
    SessionState.FAILED: frozenset(),
    SessionState.CANCELLED: frozenset(),
}

_ACTION_LABELS: Final[Mapping[Action, tuple[str, str]]] = {
    Action.CONFIGURE: ("修改开标设置", "change the opening settings"),
    Action.START: ("开始开标", "start the opening"),
    Action.CHECK_IN: ("签到", "check in"),
    Action.DECRYPT: ("解密投标文件", "decrypt a bid"),
    Action.CLOSE_WINDOW: ("结束解密", "close the decryption window"),
    Action.EXTEND_WINDOW: ("延长解密时间", "extend the decryption window"),
    Action.POST_SHARE: ("提交密钥份额", "post a key share"),
    Action.END_FALLBACK: ("结束应急解密", "end the custodian fallback"),
    Action.CONFIRM: ("确认开标记录", "confirm the opening record"),
    Action.OBJECT: ("提出开标异议", "object to the opening"),
    Action.ANSWER: ("答复开标异议", "answer an objection"),
    Action.FINISH: ("结束开标", "finish the opening"),
    Action.FAIL: ("宣布开标失败", "declare the opening failed"),
}


def allowed(state: SessionState, action: Action) -> bool:
    """Whether ``action`` is allowed in ``state``."""
    return action in _ALLOWED[state]


def ensure_allowed(state: SessionState, action: Action) -> None:
    """Raise ``opening.not_allowed`` (409) unless ``action`` is allowed in ``state``."""
    if not allowed(state, action):
        zh, en = _ACTION_LABELS[action]
        raise Conflict(
            "opening.not_allowed",
            f"开标当前处于「{state.label_zh}」阶段，不能{zh}。",
            f"The opening session is {state.value}: cannot {en} now.",
            details={"state": state.value, "action": action.value},
        )


def window_is_open(state: SessionState, closes_at: datetime | None, now: datetime) -> bool:
    """The decryption window is open: decrypting, and strictly before its close."""
    return state is SessionState.DECRYPTING and closes_at is not None and now < closes_at


def extended_close(started_at: datetime, closes_at: datetime, now: datetime, minutes: int) -> datetime:
    """The window's new close when the operator extends it by ``minutes`` (``opening.bad_extension``).

    Only an open window can be extended (``now < closes_at``), by 1–:data:`MAX_EXTENSION_MINUTES` minutes at a
    time, and never to more than :data:`MAX_TOTAL_WINDOW_MINUTES` after the window opened.
    """
    if type(minutes) is not int or not 1 <= minutes <= MAX_EXTENSION_MINUTES:
        raise ValidationFailed(
            "opening.bad_extension",
            f"每次延长须为 1–{MAX_EXTENSION_MINUTES} 分钟。",
            f"An extension must be 1-{MAX_EXTENSION_MINUTES} minutes.",
        )
    if now >= closes_at:
        raise Conflict("opening.window_closed", "解密时间已结束，不能延长。", "The decryption window has closed.")
    new = closes_at + timedelta(minutes=minutes)
    if new - started_at > timedelta(minutes=MAX_TOTAL_WINDOW_MINUTES):
        raise ValidationFailed(
            "opening.bad_extension",
            f"解密时间（含延长）不得超过 {MAX_TOTAL_WINDOW_MINUTES} 分钟。",
            f"The window, extensions included, cannot exceed {MAX_TOTAL_WINDOW_MINUTES} minutes.",
        )
    return new


def resumed_close(closes_at: datetime, suspended_at: datetime, resumed_at: datetime) -> datetime:
    """The window's close after a suspension: the time that was left when it was suspended, counted from the resume.

    A window already due when the project was suspended (its timer had not run yet) closes at the resume.
    """
    left = max(closes_at - suspended_at, timedelta(0))
    return resumed_at + left


def attempts_exhausted(attempts: int, cap: int, last_problem: str | None) -> bool:
    """Whether a bid's decryption attempts reached the cap: ``cap`` failed tries, the last one the bidder's.

    A platform fault (:data:`PLATFORM_FAULTS`) never uses up a bidder's attempts. Reaching the cap does not fail
    the bid by itself: the bid stays sealed and, like any bid still sealed, is judged when decryption ends.
    """
    return attempts >= cap and last_problem is not None and last_problem not in PLATFORM_FAULTS


def attempts_left(attempts: int, cap: int, last_problem: str | None) -> int:
    """How many more attempts a bidder has (at least one until the cap is reached: platform faults are free)."""
    return 0 if attempts_exhausted(attempts, cap, last_problem) else max(cap - attempts, 1)


# --- bids and failures ----------------------------------------------------------------------------------------


class BidStatus(StrEnum):
    """A bid's decryption status 解密状态."""

    SEALED = "sealed"
    DECRYPTED = "decrypted"
    REVOKED = "revoked"
    WITHDRAWN = "withdrawn"

    @property
    def label_zh(self) -> str:
        """Chinese label of the opening record."""
        return _BID_LABELS[self]


_BID_LABELS: Final[Mapping[BidStatus, str]] = {
    BidStatus.SEALED: "未解密",
    BidStatus.DECRYPTED: "解密成功",
    BidStatus.REVOKED: "解密失败（视为撤销投标文件）",
    BidStatus.WITHDRAWN: "解密失败（视为撤回投标文件）",
}

PLATFORM_FAULTS: Final = frozenset({"opening.stored_container_damaged", "opening.server_error"})
"""Problems that are not the bidder's: the stored container fails its hash, or the server failed while opening."""

_BIDDER_REASONS: Final[Mapping[str, tuple[str, str]]] = {
    "bid.wrong_key": ("投标人提供的解密密钥错误", "the bidder released a wrong key"),
    "bid.signature_invalid": ("投标文件签名无效", "the bid's signature is invalid"),
    "bid.manifest_other": (
        "投标文件所载投标人、项目或标段与递交不符",
        "the bid names another bidder, project or section",
    ),
}


@dataclass(frozen=True, slots=True)
class Failure:
    """How a failed decryption ends: ``revoked`` (bidder's fault) or ``withdrawn`` (platform's), with the reason."""

    outcome: BidStatus
    reason_zh: str
    reason_en: str


def classify_failure(problem: str | None) -> Failure:
    """The legal outcome of a bid still sealed when decryption ends (电子招标投标办法 §31).

    ``problem`` is the last problem recorded for the bid (a code) or None if the bidder never decrypted it. A
    platform fault (:data:`PLATFORM_FAULTS`) → withdrawn 撤回 (deposit refunded); anything else — never
    decrypted, a wrong key, an invalid signature, a bid naming someone else — is the bidder's → revoked 撤销.
    """
    if problem in PLATFORM_FAULTS:
        if problem == "opening.stored_container_damaged":
            zh, en = "平台存储的投标文件校验失败", "the stored container failed its hash check"
        else:
            zh, en = "平台解密时发生故障", "the platform failed while opening the bid"
        return Failure(BidStatus.WITHDRAWN, f"非投标人原因解密失败：{zh}，视为撤回", f"Not the bidder's fault: {en}")
    if problem is None:
        return Failure(
            BidStatus.REVOKED,
            "投标人未在解密时限内完成解密，视为撤销",
            "The bidder did not decrypt within the window: deemed revoked",
        )
    zh, en = _BIDDER_REASONS.get(problem, ("投标人原因解密失败", f"bidder's problem {problem}"))
    return Failure(
        BidStatus.REVOKED, f"投标人原因解密失败：{zh}，视为撤销", f"The bidder's fault: {en}; deemed revoked"
    )


# --- settings -------------------------------------------------------------------------------------------------


def _bad_settings(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed("opening.bad_settings", f"开标设置无效：{zh}", f"Invalid opening settings: {en}")


@dataclass(frozen=True, slots=True)
class OpeningSettings:
    """What the tender documents say about the opening: window length, custodian fallback, coefficient draw."""

    window_minutes: int = DEFAULT_WINDOW_MINUTES
    custodian_fallback: bool = False
    coefficient: DecimalRange | None = None
    max_key_attempts: int = DEFAULT_MAX_KEY_ATTEMPTS

    def __post_init__(self) -> None:
        if type(self.window_minutes) is not int or not MIN_WINDOW_MINUTES <= self.window_minutes <= MAX_WINDOW_MINUTES:
            raise _bad_settings(
                f"解密时限须为 {MIN_WINDOW_MINUTES}–{MAX_WINDOW_MINUTES} 分钟",
                f"the window must be {MIN_WINDOW_MINUTES}-{MAX_WINDOW_MINUTES} minutes",
            )
        if type(self.custodian_fallback) is not bool:
            raise _bad_settings("应急解密须为是或否", "custodian_fallback must be a boolean")
        if type(self.max_key_attempts) is not int or not 1 <= self.max_key_attempts <= MAX_KEY_ATTEMPTS:
            raise _bad_settings(
                f"解密尝试次数上限须为 1–{MAX_KEY_ATTEMPTS}",
                f"max_key_attempts must be 1-{MAX_KEY_ATTEMPTS}",
            )
        if self.coefficient is not None:
            values = coefficient_set(self.coefficient.start, self.coefficient.stop, self.coefficient.step)
            if len(values) < 2:
                raise _bad_settings("系数区间至少须含两个值", "the coefficient range needs at least two values")
            if any(v <= 0 for v in values):
                raise _bad_settings("系数须为正数", "coefficients must be positive")

    def window(self) -> timedelta:
        """The decryption window's length."""
        return timedelta(minutes=self.window_minutes)

    def to_dict(self) -> dict[str, object]:
        """JSON form (stored on the session, returned by the API)."""
        coefficient = None
        if self.coefficient is not None:
            c = self.coefficient
            coefficient = {"low": c.start, "high": c.stop, "step": c.step}
        return {
            "window_minutes": self.window_minutes,
            "custodian_fallback": self.custodian_fallback,
            "coefficient": coefficient,
            "max_key_attempts": self.max_key_attempts,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> OpeningSettings:
        """Parse :meth:`to_dict` output or an API body (``opening.bad_settings``)."""
        window = data.get("window_minutes", DEFAULT_WINDOW_MINUTES)
        fallback = data.get("custodian_fallback", False)
        raw = data.get("coefficient")
        attempts = data.get("max_key_attempts", DEFAULT_MAX_KEY_ATTEMPTS)
        coefficient: DecimalRange | None = None
        if raw is not None:
            if not isinstance(raw, Mapping) or set(raw) != {"low", "high", "step"}:
                raise _bad_settings("系数须写成 {low, high, step}", "coefficient must be {low, high, step}")
            parts = [raw["low"], raw["high"], raw["step"]]
            if not all(isinstance(p, str | Decimal) for p in parts):
                raise _bad_settings("系数须写成十进制字符串", "coefficient values must be decimal strings")
            coefficient = DecimalRange(str(parts[0]), str(parts[1]), str(parts[2]))
        if type(window) is not int:
            raise _bad_settings("解密时限须为整数分钟", "window_minutes must be an integer")
        if type(fallback) is not bool:
            raise _bad_settings("应急解密须为是或否", "custodian_fallback must be a boolean")
        if type(attempts) is not int:
            raise _bad_settings("解密尝试次数上限须为整数", "max_key_attempts must be an integer")
        return cls(window, fallback, coefficient, attempts)


# --- keys -----------------------------------------------------------------------------------------------------


def bid_context(centre_code: str, project_code: str, section_code: str, fingerprint: str) -> str:
    """The context every bid of a section is sealed with: binds platform, project, section and the key.

    ``"sunbid:<centre>:<project>:<section>:<fingerprint[:16]>"`` — a bid sealed for another centre, project,
    section or opening key fails with ``bid.context_mismatch``.
    """
    for part in (centre_code, project_code, section_code):
        if not part or ":" in part or part != part.strip():
            raise ValidationFailed(
                "opening.bad_context", "开标上下文的组成部分不合规", "a part of the bid context is malformed"
            )
    return f"sunbid:{centre_code}:{project_code}:{section_code}:{fingerprint[:16]}"


def share_plan(custodians: int, threshold: int = DEFAULT_THRESHOLD) -> tuple[int, int] | None:
    """``(k, n)`` for splitting an opening key among ``custodians``, or None when no fallback is possible.

    n is the number of custodians (each holds one share, at most 255); k is ``threshold`` but never more than n
    and never less than 2 (one custodian alone must not be able to open bids). Fewer than 2 custodians: None.
    """
    if type(threshold) is not int or threshold < 2:
        raise ValidationFailed("opening.bad_threshold", "门限 k 至少为 2", "the threshold k must be at least 2")
    if custodians < 2:
        return None
    n = min(custodians, 255)
    return min(threshold, n), n
