"""Expert fees 评标费 (SPEC E-8): the amount from the evaluation's duration by a configurable scale (pure).

The scale is data (:class:`FeeScale`, from a centre's settings with :func:`scale_from_mapping`), because every
centre publishes its own 评标专家劳务费标准. The computation, for one expert and one evaluation session:

1. The session is cut at local midnights (Asia/Shanghai); each local day is priced on its own.
2. A day's time fee: ``base_amount`` covers the first ``base_hours``; every further ``unit_minutes`` started
   costs ``unit_amount``, except that a last part unit of at most ``grace_minutes`` is not counted. The time fee
   is capped at ``daily_cap``.
3. On a non-working day (weekend or holiday, by the working calendar) the capped time fee is multiplied by
   ``holiday_multiplier`` and rounded once to the fen, half up (四舍五入).
4. Night supplement: each started hour (with the same grace) inside ``night_start``–``night_end`` adds
   ``night_amount_per_hour``; it is not capped.

Money is ``Decimal`` yuan with two places; nothing here uses floats, a database or the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from sunbid.core.clock import to_local
from sunbid.core.errors import ValidationFailed

__all__ = [
    "DEFAULT_SCALE",
    "DayFee",
    "FeeBreakdown",
    "FeeScale",
    "compute_fee",
    "scale_from_mapping",
]

FEN: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")
MAX_SESSION: Final = timedelta(days=14)


def _fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def _bad(zh: str, en: str) -> ValidationFailed:
    return ValidationFailed("expert_fee.bad_scale", f"评标费标准有误：{zh}", f"bad fee scale: {en}")


@dataclass(frozen=True, slots=True)
class FeeScale:
    """A centre's fee scale; every amount in yuan (two places), every duration in whole minutes/hours."""

    base_hours: int = 4
    base_amount: Decimal = Decimal("800.00")
    unit_minutes: int = 60
    unit_amount: Decimal = Decimal("150.00")
    grace_minutes: int = 10
    daily_cap: Decimal = Decimal("2000.00")
    holiday_multiplier: Decimal = Decimal("1.5")
    night_start: time = time(22, 0)
    night_end: time = time(6, 0)
    night_amount_per_hour: Decimal = Decimal("100.00")

    def __post_init__(self) -> None:
        if not 0 <= self.base_hours <= 24:
            raise _bad("基本时长须为 0–24 小时", "base_hours must be 0..24")
        if not 1 <= self.unit_minutes <= 24 * 60:
            raise _bad("计价单位须为 1–1440 分钟", "unit_minutes must be 1..1440")
        if not 0 <= self.grace_minutes < self.unit_minutes:
            raise _bad("宽限分钟须小于计价单位", "grace_minutes must be below unit_minutes")
        for name in ("base_amount", "unit_amount", "daily_cap", "night_amount_per_hour"):
            v = getattr(self, name)
            if not isinstance(v, Decimal) or not v.is_finite() or v < 0 or v != v.quantize(FEN):
                raise _bad(f"{name} 须为非负金额（最多两位小数）", f"{name} must be a non-negative amount")
        m = self.holiday_multiplier
        if not isinstance(m, Decimal) or not m.is_finite() or not Decimal(1) <= m <= Decimal(5):
            raise _bad("节假日系数须在 1–5 之间", "holiday_multiplier must be 1..5")
        if self.daily_cap < self.base_amount:
            raise _bad("日封顶不得低于基本费用", "daily_cap must be at least base_amount")
        if self.night_start == self.night_end:
            raise _bad("夜间起止时间不能相同", "night_start and night_end must differ")

    def to_dict(self) -> dict[str, Any]:
        """The scale as JSON-ready data (stored with each fee, so a later change of scale alters no fee)."""
        out = asdict(self)
        return {k: (v.isoformat(timespec="minutes") if isinstance(v, time) else str(v)) for k, v in out.items()}


DEFAULT_SCALE: Final = FeeScale()

_DECIMALS = ("base_amount", "unit_amount", "daily_cap", "holiday_multiplier", "night_amount_per_hour")
_INTS = ("base_hours", "unit_minutes", "grace_minutes")
_TIMES = ("night_start", "night_end")


def scale_from_mapping(values: Mapping[str, Any], base: FeeScale = DEFAULT_SCALE) -> FeeScale:
    """A scale from JSON data (amounts as strings, times ``HH:MM``) over ``base``; unknown keys are refused."""
    unknown = sorted(set(values) - set(_DECIMALS) - set(_INTS) - set(_TIMES))
    if unknown:
        raise _bad(f"未知项 {', '.join(unknown)}", f"unknown keys {unknown}")
    kw: dict[str, Any] = {}
    for k, v in values.items():
        if k in _DECIMALS:
            if isinstance(v, float | bool) or not isinstance(v, str | int):
                raise _bad(f"{k} 须为十进制字符串", f"{k} must be a decimal string")
            try:
                kw[k] = Decimal(str(v))
            except InvalidOperation:
                raise _bad(f"{k} 格式错误", f"{k} is malformed") from None
            if k != "holiday_multiplier" and kw[k].is_finite() and kw[k] == kw[k].quantize(FEN):
                kw[k] = kw[k].quantize(FEN)
        elif k in _INTS:
            if isinstance(v, bool) or not isinstance(v, int):
                raise _bad(f"{k} 须为整数", f"{k} must be an integer")
            kw[k] = v
        else:
            try:
                kw[k] = time.fromisoformat(str(v))
            except ValueError:
                raise _bad(f"{k} 须为 HH:MM", f"{k} must be HH:MM") from None
    merged = {**{f: getattr(base, f) for f in (*_DECIMALS, *_INTS, *_TIMES)}, **kw}
    return FeeScale(**merged)


@dataclass(frozen=True, slots=True)
class DayFee:
    """One local day of a session, priced."""

    day: date
    minutes: int
    working_day: bool
    base: Decimal
    extra_units: int
    extra: Decimal
    capped: bool
    holiday_supplement: Decimal
    night_minutes: int
    night_hours: int
    night_supplement: Decimal
    total: Decimal

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {
            k: (str(v) if isinstance(v, Decimal) else v.isoformat() if isinstance(v, date) else v)
            for k, v in out.items()
        }


@dataclass(frozen=True, slots=True)
class FeeBreakdown:
    """A fee with its computation, day by day."""

    minutes: int
    days: tuple[DayFee, ...]
    total: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"minutes": self.minutes, "total": str(self.total), "days": [d.to_dict() for d in self.days]}


def _units(minutes: int, unit: int, grace: int) -> int:
    """Started units of ``unit`` minutes, a last part unit of ≤ ``grace`` minutes not counted."""
    full, rest = divmod(minutes, unit)
    return full + (1 if rest > grace else 0)


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> int:
    start, end = max(a0, b0), min(a1, b1)
    return max(0, int((end - start).total_seconds() // 60))


def _night_minutes(scale: FeeScale, start: datetime, end: datetime) -> int:
    """Minutes of ``[start, end)`` (one local day) inside the night window (which may span midnight)."""
    day = start.date()
    tz = start.tzinfo
    midnight = datetime.combine(day, time(0), tz)
    next_midnight = midnight + timedelta(days=1)
    ns, ne = datetime.combine(day, scale.night_start, tz), datetime.combine(day, scale.night_end, tz)
    # 22:00–06:00 is two pieces of one day; 01:00–05:00 is one
    windows = [(midnight, ne), (ns, next_midnight)] if scale.night_start > scale.night_end else [(ns, ne)]
    return sum(_overlap(start, end, w0, w1) for w0, w1 in windows)


def compute_fee(
    scale: FeeScale, started_at: datetime, ended_at: datetime, is_working_day: Callable[[date], bool]
) -> FeeBreakdown:
    """The fee of one expert for a session from ``started_at`` to ``ended_at`` (aware datetimes)."""
    if started_at.tzinfo is None or ended_at.tzinfo is None:
        raise ValidationFailed("expert_fee.bad_time", "时间须带时区", "times need a UTC offset")
    if ended_at <= started_at:
        raise ValidationFailed("expert_fee.bad_period", "评标结束时间须晚于开始时间", "the end must be after the start")
    if ended_at - started_at > MAX_SESSION:
        raise ValidationFailed("expert_fee.bad_period", "评标时长超过 14 天", "an evaluation of over 14 days")
    start, end = to_local(started_at).replace(second=0, microsecond=0), to_local(ended_at).replace(microsecond=0)
    days: list[DayFee] = []
    cursor = start
    while cursor < end:
        next_midnight = datetime.combine(cursor.date() + timedelta(days=1), time(0), cursor.tzinfo)
        piece_end = min(end, next_midnight)
        minutes = int((piece_end - cursor).total_seconds() // 60)
        if minutes > 0:
            days.append(_day(scale, cursor, piece_end, minutes, is_working_day(cursor.date())))
        cursor = piece_end
    total = sum((d.total for d in days), ZERO)
    return FeeBreakdown(sum(d.minutes for d in days), tuple(days), total)


def _day(scale: FeeScale, start: datetime, end: datetime, minutes: int, working: bool) -> DayFee:
    extra_minutes = max(0, minutes - scale.base_hours * 60)
    units = _units(extra_minutes, scale.unit_minutes, scale.grace_minutes)
    extra = scale.unit_amount * units
    time_fee = scale.base_amount + extra
    capped = time_fee > scale.daily_cap
    time_fee = min(time_fee, scale.daily_cap)
    supplement = ZERO if working else _fen(time_fee * scale.holiday_multiplier) - time_fee
    night = _night_minutes(scale, start, end)
    night_hours = _units(night, 60, scale.grace_minutes)
    night_fee = scale.night_amount_per_hour * night_hours
    return DayFee(
        day=start.date(),
        minutes=minutes,
        working_day=working,
        base=scale.base_amount,
        extra_units=units,
        extra=extra,
        capped=capped,
        holiday_supplement=supplement,
        night_minutes=night,
        night_hours=night_hours,
        night_supplement=night_fee,
        total=time_fee + supplement + night_fee,
    )
