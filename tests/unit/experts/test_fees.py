"""Expert fees by the scale: hand-computed examples to the fen, configuration, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.core.calendar import WorkingCalendar
from sunbid.core.clock import SHANGHAI
from sunbid.core.errors import ValidationFailed
from sunbid.experts.fees import DEFAULT_SCALE, FeeScale, compute_fee, scale_from_mapping

CAL = WorkingCalendar()


def at(day: str, hm: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), time.fromisoformat(hm), SHANGHAI)


def fee(start: datetime, end: datetime, scale: FeeScale = DEFAULT_SCALE) -> Decimal:
    return compute_fee(scale, start, end, CAL.is_working_day).total


def test_half_day_on_a_working_day_is_the_base_amount() -> None:
    # Tuesday 24 Nov 2026, 09:00–13:00: exactly the 4 base hours → 800.00
    assert fee(at("2026-11-24", "09:00"), at("2026-11-24", "13:00")) == Decimal("800.00")
    # shorter is still the base
    assert fee(at("2026-11-24", "09:00"), at("2026-11-24", "10:30")) == Decimal("800.00")


def test_extra_hours_are_counted_per_started_hour_after_the_grace() -> None:
    # 09:00–15:10 = 370 min; 130 min beyond the base = 2 full hours + 10 min (≤ 10 min grace: free)
    # 800 + 2 × 150 = 1100.00
    b = compute_fee(DEFAULT_SCALE, at("2026-11-24", "09:00"), at("2026-11-24", "15:10"), CAL.is_working_day)
    assert b.total == Decimal("1100.00") and b.minutes == 370 and b.days[0].extra_units == 2
    # 09:00–15:11: 11 min past the second hour starts a third: 800 + 3 × 150 = 1250.00
    assert fee(at("2026-11-24", "09:00"), at("2026-11-24", "15:11")) == Decimal("1250.00")


def test_evening_session_adds_night_hours() -> None:
    # 14:00–23:30 = 570 min; 330 beyond the base = 5 h 30 → 6 units: 800 + 900 = 1700.00 (cap 2000 not hit);
    # night 22:00–23:30 = 90 min → 2 started hours × 100 = 200.00; total 1900.00
    b = compute_fee(DEFAULT_SCALE, at("2026-11-24", "14:00"), at("2026-11-24", "23:30"), CAL.is_working_day)
    assert b.days[0].night_minutes == 90 and b.days[0].night_supplement == Decimal("200.00")
    assert b.total == Decimal("1900.00")


def test_daily_cap_then_the_next_day_is_priced_again() -> None:
    # Tue 08:00 → Wed 02:00 (local). Tuesday: 960 min → 800 + 12 × 150 = 2600 → capped 2000.00; night
    # 22:00–24:00 = 2 h → 200.00. Wednesday: 120 min → base 800.00; night 00:00–02:00 → 200.00.
    # Total 2000 + 200 + 800 + 200 = 3200.00
    b = compute_fee(DEFAULT_SCALE, at("2026-11-24", "08:00"), at("2026-11-25", "02:00"), CAL.is_working_day)
    assert [d.day.isoformat() for d in b.days] == ["2026-11-24", "2026-11-25"]
    assert b.days[0].capped and b.days[0].total == Decimal("2200.00")
    assert b.days[1].total == Decimal("1000.00")
    assert b.total == Decimal("3200.00")


def test_holiday_multiplier_rounds_once_to_the_fen() -> None:
    # 3 Oct 2026 (国庆, not a working day) 09:00–13:00: 800 × 1.5 = 1200.00
    assert fee(at("2026-10-03", "09:00"), at("2026-10-03", "13:00")) == Decimal("1200.00")
    # a multiplier giving a third of a fen: 950 × 1.333 = 1266.35 (exactly 1266.350) → 1266.35
    odd = scale_from_mapping({"base_amount": "950.00", "holiday_multiplier": "1.333"})
    assert fee(at("2026-11-28", "09:00"), at("2026-11-28", "12:00"), odd) == Decimal("1266.35")
    # 955 × 1.333 = 1273.015 → half up 1273.02
    odd2 = scale_from_mapping({"base_amount": "955.00", "holiday_multiplier": "1.333"})
    assert fee(at("2026-11-28", "09:00"), at("2026-11-28", "12:00"), odd2) == Decimal("1273.02")


def test_times_in_utc_are_priced_in_local_time() -> None:
    # 01:00–05:00 UTC = 09:00–13:00 Shanghai: no night hours
    start = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert fee(start, start + timedelta(hours=4)) == Decimal("800.00")


def test_a_scale_from_configuration_and_its_validation() -> None:
    s = scale_from_mapping({"base_hours": 3, "base_amount": "600", "unit_minutes": 30, "unit_amount": "60.00"})
    # 09:00–12:45: 45 min past 3 h = 1 full half hour + 15 min (> 10 grace) → 2 units: 600 + 120 = 720.00
    assert fee(at("2026-11-24", "09:00"), at("2026-11-24", "12:45"), s) == Decimal("720.00")
    assert s.to_dict()["base_amount"] == "600.00" and s.to_dict()["night_start"] == "22:00"
    for bad in (
        {"base_amount": 800.0},
        {"unit_amount": "-1"},
        {"unit_amount": "1.001"},
        {"grace_minutes": 60},
        {"holiday_multiplier": "0.5"},
        {"daily_cap": "100"},
        {"night_start": "25:00"},
        {"colour": "blue"},
        {"base_hours": True},
    ):
        with pytest.raises(ValidationFailed) as exc:
            scale_from_mapping(bad)
        assert exc.value.code == "expert_fee.bad_scale", bad


def test_periods_are_checked() -> None:
    with pytest.raises(ValidationFailed):
        fee(at("2026-11-24", "10:00"), at("2026-11-24", "09:00"))
    with pytest.raises(ValidationFailed):
        fee(at("2026-11-01", "10:00"), at("2026-11-24", "09:00"))
    with pytest.raises(ValidationFailed):
        compute_fee(DEFAULT_SCALE, datetime(2026, 11, 24, 9), datetime(2026, 11, 24, 10), CAL.is_working_day)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20)),
    st.integers(min_value=1, max_value=3 * 24 * 60),
    st.integers(min_value=1, max_value=120),
)
def test_fees_never_decrease_with_time_and_respect_the_cap(start: datetime, minutes: int, more: int) -> None:
    begin = start.replace(tzinfo=SHANGHAI, second=0, microsecond=0)
    a = compute_fee(DEFAULT_SCALE, begin, begin + timedelta(minutes=minutes), CAL.is_working_day)
    b = compute_fee(DEFAULT_SCALE, begin, begin + timedelta(minutes=minutes + more), CAL.is_working_day)
    assert b.total >= a.total > 0
    assert a.total == a.total.quantize(Decimal("0.01"))
    assert sum(d.minutes for d in a.days) == minutes
    for d in a.days:
        time_fee = d.base + d.extra if not d.capped else DEFAULT_SCALE.daily_cap
        assert d.total == min(time_fee, DEFAULT_SCALE.daily_cap) + d.holiday_supplement + d.night_supplement
        assert d.night_hours <= 9
