"""The working-day calendar: official holidays and make-up days, overrides, unknown years, counting rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.core.calendar import (
    MAX_DAYS,
    WorkingCalendar,
    end_of_local_day,
    local_date,
    parse_iso_date,
    start_of_local_day,
)
from sunbid.core.errors import ValidationFailed

OFFICIAL = WorkingCalendar()
WEEKENDS_ONLY = WorkingCalendar(official=False)


def _working_days(cal: WorkingCalendar, after: date, until: date) -> list[date]:
    days = [after + timedelta(days=i) for i in range(1, (until - after).days + 1)]
    return [d for d in days if cal.is_working_day(d)]


# --- the must-show case: 25 working days after 2024-09-20 across the 2024 National Day holiday ----------

# Worked by hand from the State Council's 2024 schedule (国办发明电〔2023〕7号): National Day off 1–7 October,
# make-up working days Sunday 29 September and Saturday 12 October. 2024-09-20 is a Friday; it is not counted.
MUST_SHOW_DAYS = [
    date(2024, 9, 23), date(2024, 9, 24), date(2024, 9, 25), date(2024, 9, 26), date(2024, 9, 27),  # 1–5
    date(2024, 9, 29),  # 6: Sunday, make-up working day
    date(2024, 9, 30),  # 7; then 1–7 October are the holiday
    date(2024, 10, 8), date(2024, 10, 9), date(2024, 10, 10), date(2024, 10, 11),  # 8–11
    date(2024, 10, 12),  # 12: Saturday, make-up working day
    date(2024, 10, 14), date(2024, 10, 15), date(2024, 10, 16), date(2024, 10, 17), date(2024, 10, 18),
    date(2024, 10, 21), date(2024, 10, 22), date(2024, 10, 23), date(2024, 10, 24), date(2024, 10, 25),
    date(2024, 10, 28), date(2024, 10, 29), date(2024, 10, 30),  # 23–25
]  # fmt: skip


def test_25_working_days_after_2024_09_20_is_2024_10_30() -> None:
    assert OFFICIAL.add_working_days(date(2024, 9, 20), 25) == date(2024, 10, 30)


def test_must_show_count_skips_national_day_and_counts_both_make_up_days() -> None:
    counted = _working_days(OFFICIAL, date(2024, 9, 20), date(2024, 10, 30))
    assert counted == MUST_SHOW_DAYS
    assert len(counted) == 25
    assert date(2024, 9, 29) in counted and date(2024, 10, 12) in counted
    assert not any(date(2024, 10, 1) <= d <= date(2024, 10, 7) for d in counted)
    for n, expected in enumerate(MUST_SHOW_DAYS, start=1):
        assert OFFICIAL.add_working_days(date(2024, 9, 20), n) == expected


def test_weekends_only_count_differs_so_the_official_schedule_is_used() -> None:
    # 25 weekdays after Friday 2024-09-20 is Friday 2024-10-25: five holiday weekdays, two make-up days.
    assert WEEKENDS_ONLY.add_working_days(date(2024, 9, 20), 25) == date(2024, 10, 25)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2024, 9, 29), True),  # Sunday, make-up
        (date(2024, 10, 12), True),  # Saturday, make-up
        (date(2024, 10, 1), False),
        (date(2024, 10, 7), False),  # Monday inside the holiday
        (date(2024, 10, 8), True),
        (date(2024, 10, 13), False),  # ordinary Sunday
    ],
)
def test_2024_national_day_schedule(day: date, working: bool) -> None:
    assert OFFICIAL.is_working_day(day) is working
    assert OFFICIAL.is_holiday(day) is (not working)


# --- 2025 and 2026 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # Spring Festival 2025: off 28 Jan – 4 Feb, make-up Sunday 26 Jan and Saturday 8 Feb.
        (date(2025, 1, 24), 1, date(2025, 1, 26)),
        (date(2025, 1, 24), 2, date(2025, 1, 27)),
        (date(2025, 1, 24), 3, date(2025, 2, 5)),
        (date(2025, 1, 24), 6, date(2025, 2, 8)),
        (date(2025, 1, 24), 7, date(2025, 2, 10)),
        # National Day and Mid-Autumn 2025: off 1–8 Oct, make-up Sunday 28 Sep and Saturday 11 Oct.
        (date(2025, 9, 26), 1, date(2025, 9, 28)),
        (date(2025, 9, 26), 3, date(2025, 9, 30)),
        (date(2025, 9, 26), 4, date(2025, 10, 9)),
        (date(2025, 9, 26), 6, date(2025, 10, 11)),
        (date(2025, 9, 26), 7, date(2025, 10, 13)),
    ],
)
def test_2025_spring_festival_and_national_day(start: date, n: int, expected: date) -> None:
    assert OFFICIAL.add_working_days(start, n) == expected


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # New Year 2026: off 1–3 Jan, make-up Sunday 4 Jan.
        (date(2025, 12, 31), 1, date(2026, 1, 4)),
        # Spring Festival 2026: off 15–23 Feb, make-up Saturdays 14 and 28 Feb.
        (date(2026, 2, 13), 1, date(2026, 2, 14)),
        (date(2026, 2, 13), 2, date(2026, 2, 24)),
        (date(2026, 2, 26), 2, date(2026, 2, 28)),
        # Mid-Autumn (25–27 Sep) and National Day (1–7 Oct) 2026, make-up Sunday 20 Sep and Saturday 10 Oct.
        (date(2026, 9, 18), 1, date(2026, 9, 20)),
        (date(2026, 9, 24), 1, date(2026, 9, 28)),
        (date(2026, 9, 30), 1, date(2026, 10, 8)),
        (date(2026, 9, 30), 3, date(2026, 10, 10)),
    ],
)
def test_2026_schedule(start: date, n: int, expected: date) -> None:
    assert OFFICIAL.add_working_days(start, n) == expected


# --- years the library does not know, and overrides ---------------------------------------------------------


def test_known_years_are_2004_to_2026_and_other_years_fall_back_to_weekends() -> None:
    years = OFFICIAL.known_years()
    assert min(years) == 2004 and max(years) == 2026 and len(years) == 23
    assert OFFICIAL.is_authoritative(date(2026, 12, 31))
    assert not OFFICIAL.is_authoritative(date(2027, 1, 1))
    assert not OFFICIAL.is_authoritative(date(2003, 6, 2))
    # 2027-01-01 (New Year's Day, a Friday) is unknown: weekends only, so a working day.
    assert OFFICIAL.is_working_day(date(2027, 1, 1))
    assert OFFICIAL.is_holiday(date(2027, 1, 2))  # Saturday
    assert OFFICIAL.add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 4)


def test_override_makes_a_2027_date_a_holiday_and_the_year_authoritative() -> None:
    cal = WorkingCalendar({date(2027, 1, 1): False})
    assert cal.is_holiday(date(2027, 1, 1))
    assert cal.is_authoritative(date(2027, 1, 1))
    assert cal.is_authoritative(date(2027, 10, 1))  # the centre entered 2027: the whole year is official
    assert 2027 in cal.known_years() and 2028 not in cal.known_years()
    assert cal.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert OFFICIAL.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 1)


def test_override_wins_over_the_official_schedule_both_ways() -> None:
    cal = WorkingCalendar({date(2024, 10, 8): False, date(2024, 10, 5): True})
    assert cal.is_holiday(date(2024, 10, 8))
    assert cal.is_working_day(date(2024, 10, 5))
    assert cal.add_working_days(date(2024, 9, 30), 1) == date(2024, 10, 5)
    assert cal.add_working_days(date(2024, 9, 30), 2) == date(2024, 10, 9)
    assert cal.overrides == {date(2024, 10, 8): False, date(2024, 10, 5): True}


# --- counting ----------------------------------------------------------------------------------------------


def test_zero_working_days_is_the_day_itself_even_on_a_holiday() -> None:
    assert OFFICIAL.add_working_days(date(2024, 10, 3), 0) == date(2024, 10, 3)


def test_next_working_day_is_strictly_after_and_on_or_after_keeps_a_working_day() -> None:
    assert OFFICIAL.next_working_day(date(2024, 9, 30)) == date(2024, 10, 8)
    assert OFFICIAL.next_working_day(date(2024, 9, 27)) == date(2024, 9, 29)
    assert OFFICIAL.working_day_on_or_after(date(2024, 9, 30)) == date(2024, 9, 30)
    assert OFFICIAL.working_day_on_or_after(date(2024, 10, 1)) == date(2024, 10, 8)
    assert OFFICIAL.working_day_on_or_before(date(2024, 10, 7)) == date(2024, 9, 30)


def test_working_days_between_skips_the_first_day_and_is_signed() -> None:
    assert OFFICIAL.working_days_between(date(2024, 9, 20), date(2024, 10, 30)) == 25
    assert OFFICIAL.working_days_between(date(2024, 10, 30), date(2024, 9, 20)) == -25
    assert OFFICIAL.working_days_between(date(2024, 10, 1), date(2024, 10, 7)) == 0
    assert OFFICIAL.working_days_between(date(2024, 9, 30), date(2024, 9, 30)) == 0


def _calendar_deadline(start: date, n: int, shift: bool) -> date:
    return OFFICIAL.deadline_for(start, n, "calendar", shift_if_holiday=shift)


def test_calendar_deadline_moves_off_a_holiday_only_when_told() -> None:
    start = date(2024, 9, 11)  # + 20 days = 2024-10-01, National Day
    assert _calendar_deadline(start, 20, False) == date(2024, 10, 1)
    assert _calendar_deadline(start, 20, True) == date(2024, 10, 8)
    # 2024-09-22 + 20 = Saturday 2024-10-12, a make-up working day: it stays.
    assert _calendar_deadline(date(2024, 9, 22), 20, True) == date(2024, 10, 12)
    # An ordinary Saturday moves to Monday.
    assert _calendar_deadline(date(2024, 11, 2), 7, True) == date(2024, 11, 11)
    assert _calendar_deadline(date(2024, 11, 2), 7, False) == date(2024, 11, 9)


def test_working_deadline_is_the_nth_working_day() -> None:
    end = OFFICIAL.deadline_for(date(2024, 9, 20), 25, "working", shift_if_holiday=False)
    assert end == date(2024, 10, 30)


def test_add_calendar_days_counts_plain_days_both_ways() -> None:
    assert OFFICIAL.add_calendar_days(date(2024, 9, 30), 1) == date(2024, 10, 1)
    assert OFFICIAL.add_calendar_days(date(2024, 10, 1), -1) == date(2024, 9, 30)


def test_latest_start_inverts_the_deadline_across_a_holiday() -> None:
    end = date(2024, 10, 5)  # inside the holiday
    last = OFFICIAL.latest_start_for(end, 20, "calendar", shift_if_holiday=True)
    assert last == date(2024, 9, 10)
    assert OFFICIAL.deadline_for(last, 20, "calendar", shift_if_holiday=True) <= end
    assert OFFICIAL.deadline_for(last + timedelta(days=1), 20, "calendar", shift_if_holiday=True) > end
    assert OFFICIAL.latest_start_for(end, 20, "calendar", shift_if_holiday=False) == date(2024, 9, 15)
    assert OFFICIAL.subtract_working_days(date(2024, 10, 30), 25) == date(2024, 9, 22)


# --- bad input ---------------------------------------------------------------------------------------------


def test_negative_and_huge_counts_are_bilingual_errors() -> None:
    with pytest.raises(ValidationFailed) as neg:
        OFFICIAL.add_working_days(date(2024, 1, 1), -1)
    assert neg.value.code == "calendar.negative_days"
    assert "负数" in neg.value.message_zh and "negative" in neg.value.message_en
    with pytest.raises(ValidationFailed) as big:
        OFFICIAL.add_working_days(date(2024, 1, 1), MAX_DAYS + 1)
    assert big.value.code == "calendar.too_many_days"
    with pytest.raises(ValidationFailed) as over:
        OFFICIAL.add_working_days(date(9999, 12, 30), 5)
    assert over.value.code == "calendar.out_of_range"


BAD_DATES = ["2026-02-30", "20261123", "2026-W47-1", "", "2026/11/23", "tomorrow", "2026-1-5"]


@pytest.mark.parametrize("text", BAD_DATES)
def test_bad_dates_are_refused_in_both_languages(text: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        parse_iso_date(text)
    assert err.value.code == "calendar.bad_date"
    assert "日期格式错误" in err.value.message_zh and "YYYY-MM-DD" in err.value.message_en


def test_good_date_parses() -> None:
    assert parse_iso_date(" 2024-09-20 ") == date(2024, 9, 20)


# --- Asia/Shanghai dates of UTC instants -------------------------------------------------------------------


def test_local_date_turns_at_16_00_utc() -> None:
    assert local_date(datetime(2026, 11, 24, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 24)
    assert local_date(datetime(2026, 11, 24, 16, 0, tzinfo=UTC)) == date(2026, 11, 25)
    assert local_date(datetime(2026, 11, 24, 16, 0)) == date(2026, 11, 25)  # naive = UTC


def test_local_day_bounds_in_utc() -> None:
    assert start_of_local_day(date(2026, 12, 15)) == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)
    assert end_of_local_day(date(2026, 12, 15)) == datetime(2026, 12, 15, 15, 59, 59, 999999, tzinfo=UTC)


# --- properties --------------------------------------------------------------------------------------------

days = st.dates(min_value=date(2003, 6, 1), max_value=date(2028, 6, 30))  # known and unknown years
counts = st.integers(min_value=0, max_value=80)
overrides = st.dictionaries(st.dates(date(2024, 1, 1), date(2027, 12, 31)), st.booleans(), max_size=20)


@settings(max_examples=150, deadline=None)
@given(d=days, n=counts, m=counts, ov=overrides)
def test_adding_is_associative(d: date, n: int, m: int, ov: dict[date, bool]) -> None:
    cal = WorkingCalendar(ov)
    assert cal.add_working_days(d, n + m) == cal.add_working_days(cal.add_working_days(d, n), m)


@settings(max_examples=150, deadline=None)
@given(a=days, b=days, n=counts, m=counts, ov=overrides)
def test_adding_is_monotonic(a: date, b: date, n: int, m: int, ov: dict[date, bool]) -> None:
    cal = WorkingCalendar(ov)
    lo, hi = min(a, b), max(a, b)
    assert cal.add_working_days(lo, n) <= cal.add_working_days(hi, n)
    small, large = min(n, m), max(n, m)
    assert cal.add_working_days(lo, small) <= cal.add_working_days(lo, large)
    if small < large:
        assert cal.add_working_days(lo, small) < cal.add_working_days(lo, large)


@settings(max_examples=150, deadline=None)
@given(d=days, n=st.integers(min_value=1, max_value=80), ov=overrides)
def test_result_is_a_later_working_day_with_n_working_days_in_between(d: date, n: int, ov: dict[date, bool]) -> None:
    cal = WorkingCalendar(ov)
    result = cal.add_working_days(d, n)
    assert result > d
    assert cal.is_working_day(result)
    assert cal.working_days_between(d, result) == n
    assert cal.working_days_between(d, result - timedelta(days=1)) == n - 1


@settings(max_examples=150, deadline=None)
@given(a=days, b=days, n=counts, shift=st.booleans(), unit=st.sampled_from(["calendar", "working"]))
def test_latest_start_is_the_exact_inverse_of_the_deadline(a: date, b: date, n: int, shift: bool, unit: str) -> None:
    u = "working" if unit == "working" else "calendar"
    last = OFFICIAL.latest_start_for(b, n, u, shift_if_holiday=shift)
    assert (OFFICIAL.deadline_for(a, n, u, shift_if_holiday=shift) <= b) == (a <= last)
