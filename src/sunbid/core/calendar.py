"""The official working-day calendar (工作日历): holidays, make-up working days (调休) and deadline counting.

Working days follow the State Council's yearly holiday schedule as shipped by ``chinese_calendar`` (2004 to
the last year it knows), plus the centre's own overrides ``{date: is_working}``, which always win. For a year
the library does not know, every Monday to Friday is a working day and every weekend a rest day, except where
the centre has entered overrides. A year is *authoritative* when the library knows it or when the centre has
entered overrides for it (it is taken to have entered that year's official schedule); pages warn about dates
in other years.

Counting follows RULES.md (87号令 §85, 民法典 §201): the first day is not counted, so "N days after D" is the
N-th day after D; a deadline counted in calendar days that falls on a rest day moves to the next working day
where the law says so. Days are Asia/Shanghai calendar dates: use :func:`local_date` on stored UTC times.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Final, Literal

from sunbid.core.clock import SHANGHAI, ensure_utc
from sunbid.core.errors import ValidationFailed

__all__ = [
    "MAX_DAYS",
    "DayUnit",
    "WorkingCalendar",
    "end_of_local_day",
    "local_date",
    "parse_iso_date",
    "start_of_local_day",
]

DayUnit = Literal["calendar", "working"]

#: The longest period the calendar counts (about 100 years): anything longer is a typing error.
MAX_DAYS: Final = 36_600

_ONE_DAY: Final = timedelta(days=1)
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@functools.cache
def _official() -> tuple[frozenset[date], frozenset[date], frozenset[int]]:
    """Holidays, make-up working days and the years ``chinese_calendar`` knows (loaded once)."""
    import chinese_calendar

    holidays = frozenset(d for d in chinese_calendar.holidays if isinstance(d, date))
    workdays = frozenset(d for d in chinese_calendar.workdays if isinstance(d, date))
    first, last = min(holidays).year, max(holidays).year
    return holidays, workdays, frozenset(range(first, last + 1))


class WorkingCalendar:
    """Answers "is this a working day?" and counts periods in calendar or working days.

    ``overrides`` maps a date to whether it is a working day and wins over everything else. With
    ``official=False`` the library's schedule is ignored (weekends only, plus overrides): for tests and for
    centres that enter their schedule entirely by hand.
    """

    def __init__(self, overrides: Mapping[date, bool] | None = None, *, official: bool = True) -> None:
        self._overrides: dict[date, bool] = dict(overrides or {})
        if official:
            self._holidays, self._workdays, self._library_years = _official()
        else:
            self._holidays, self._workdays, self._library_years = frozenset(), frozenset(), frozenset()
        self._known_years = self._library_years | frozenset(d.year for d in self._overrides)

    # --- what a day is ---------------------------------------------------------------------------------

    @property
    def overrides(self) -> Mapping[date, bool]:
        """The centre's overrides (a copy)."""
        return dict(self._overrides)

    def library_years(self) -> frozenset[int]:
        """The years of the official schedule shipped by ``chinese_calendar``."""
        return self._library_years

    def known_years(self) -> frozenset[int]:
        """Years whose calendar is official: known to the library or entered by the centre as overrides."""
        return self._known_years

    def is_authoritative(self, d: date) -> bool:
        """Whether ``d``'s working status comes from an official schedule (else: a weekends-only guess)."""
        return d in self._overrides or d.year in self._known_years

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` is a working day: override, else official schedule (调休 included), else Mon–Fri."""
        found = self._overrides.get(d)
        if found is not None:
            return found
        if d.year in self._library_years:
            if d in self._workdays:
                return True
            if d in self._holidays:
                return False
        return d.weekday() < 5

    def is_holiday(self, d: date) -> bool:
        """Whether ``d`` is a rest day (weekend or public holiday, not a make-up working day)."""
        return not self.is_working_day(d)

    # --- counting --------------------------------------------------------------------------------------

    def add_calendar_days(self, d: date, n: int) -> date:
        """The ``n``-th calendar day after ``d`` (``n`` may be negative)."""
        _check_amount(n, allow_negative=True)
        try:
            return d + timedelta(days=n)
        except OverflowError:
            raise _out_of_range(d) from None

    def add_working_days(self, d: date, n: int) -> date:
        """The ``n``-th working day after ``d`` (``d`` itself is not counted); ``d`` when ``n`` is 0."""
        _check_amount(n)
        day = d
        left = n
        try:
            while left > 0:
                day += _ONE_DAY
                if self.is_working_day(day):
                    left -= 1
        except OverflowError:
            raise _out_of_range(d) from None
        return day

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        return self.add_working_days(d, 1)

    def working_day_on_or_after(self, d: date) -> date:
        """``d`` if it is a working day, else the next one (a deadline moved off a rest day)."""
        return d if self.is_working_day(d) else self.next_working_day(d)

    def working_day_on_or_before(self, d: date) -> date:
        """``d`` if it is a working day, else the last working day before it."""
        day = d
        try:
            while not self.is_working_day(day):
                day -= _ONE_DAY
        except OverflowError:
            raise _out_of_range(d) from None
        return day

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]`` (the first day not counted); negative when ``b`` is before ``a``.

        ``working_days_between(a, add_working_days(a, n)) == n`` for every ``n >= 0``.
        """
        if b < a:
            return -self.working_days_between(b, a)
        _check_amount((b - a).days)
        count = 0
        day = a
        while day < b:
            day += _ONE_DAY
            if self.is_working_day(day):
                count += 1
        return count

    def subtract_working_days(self, d: date, n: int) -> date:
        """The latest day ``a`` with at least ``n`` working days in ``(a, d]``.

        It is the inverse of :meth:`add_working_days`: ``add_working_days(a, n) <= d`` exactly when
        ``a <= subtract_working_days(d, n)``.
        """
        _check_amount(n)
        day = d
        left = n
        try:
            while left > 0:
                if self.is_working_day(day):
                    left -= 1
                day -= _ONE_DAY
        except OverflowError:
            raise _out_of_range(d) from None
        return day

    def deadline_for(self, start: date, amount: int, unit: DayUnit, *, shift_if_holiday: bool) -> date:
        """The last day of a period of ``amount`` days counted from the day after ``start``.

        In calendar days the result is ``start + amount``, moved to the next working day when it falls on
        a rest day and ``shift_if_holiday`` is set (87号令 §85). In working days it is the ``amount``-th
        working day after ``start`` (always a working day, so shifting changes nothing).
        """
        if unit == "working":
            return self.add_working_days(start, amount)
        if unit != "calendar":
            raise ValueError(f"unknown day unit {unit!r}")
        _check_amount(amount)
        end = self.add_calendar_days(start, amount)
        return self.working_day_on_or_after(end) if shift_if_holiday else end

    def latest_start_for(self, end: date, amount: int, unit: DayUnit, *, shift_if_holiday: bool) -> date:
        """The latest ``start`` whose :meth:`deadline_for` is on or before ``end`` (the inverse).

        Used for "at least N days before an event" limits: the last day an objection may be raised, the
        last day a clarification may be issued without moving the deadline.
        """
        if unit == "working":
            return self.subtract_working_days(end, amount)
        if unit != "calendar":
            raise ValueError(f"unknown day unit {unit!r}")
        _check_amount(amount)
        last = self.working_day_on_or_before(end) if shift_if_holiday else end
        return self.add_calendar_days(last, -amount)


# --- Asia/Shanghai dates of UTC instants ---------------------------------------------------------------


def local_date(when: datetime) -> date:
    """The Asia/Shanghai calendar date of an instant (naive datetimes are taken as UTC)."""
    return ensure_utc(when).astimezone(SHANGHAI).date()


def start_of_local_day(d: date) -> datetime:
    """00:00 Asia/Shanghai on ``d``, as a UTC datetime."""
    return ensure_utc(datetime.combine(d, time.min, SHANGHAI))


def end_of_local_day(d: date) -> datetime:
    """The last microsecond of ``d`` in Asia/Shanghai (期限最后一日的24时), as a UTC datetime."""
    return ensure_utc(datetime.combine(d, time.max, SHANGHAI))


def parse_iso_date(text: str) -> date:
    """Parse ``YYYY-MM-DD``; anything else is a bilingual ``calendar.bad_date`` error."""
    raw = text.strip()
    try:
        if not _ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(
            "calendar.bad_date",
            f"日期格式错误：{text!r}，应为 YYYY-MM-DD（如 2026-11-23）。",
            f"Bad date {text!r}: expected YYYY-MM-DD (e.g. 2026-11-23).",
            details={"value": text},
        ) from None


def _too_many(n: int) -> ValidationFailed:
    return ValidationFailed(
        "calendar.too_many_days",
        f"天数 {n} 超出范围（0 至 {MAX_DAYS}）。",
        f"{n} days is out of range (0 to {MAX_DAYS}).",
        details={"days": n, "max": MAX_DAYS},
    )


def _out_of_range(d: date) -> ValidationFailed:
    return ValidationFailed(
        "calendar.out_of_range",
        f"从 {d.isoformat()} 起算的日期超出日历范围。",
        f"Counting from {d.isoformat()} leaves the supported range of dates.",
        details={"date": d.isoformat()},
    )


def _check_amount(n: int, *, allow_negative: bool = False) -> None:
    if n < 0 and not allow_negative:
        raise ValidationFailed(
            "calendar.negative_days",
            f"天数不能为负数：{n}。",
            f"The number of days cannot be negative: {n}.",
            details={"days": n},
        )
    if abs(n) > MAX_DAYS:
        raise _too_many(n)
