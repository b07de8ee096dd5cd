"""Calendar overrides on a real database (SQLite; PostgreSQL in CI's second pass): stored, audited, used."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sunbid.calendar import service
from sunbid.calendar.models import CalendarOverride
from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.platform.context import RequestContext

MONDAY_2027 = date(2027, 1, 4)


def _audits(platform: Platform) -> list[AuditEvent]:
    with platform.db.read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.subject_type == "calendar_day")))


def test_a_2027_override_makes_a_date_a_holiday(platform: Platform) -> None:
    with platform.db.read() as s:
        before = service.load_calendar(s)
    assert before.is_working_day(MONDAY_2027) and not before.is_authoritative(MONDAY_2027)
    assert before.add_working_days(date(2027, 1, 1), 1) == MONDAY_2027

    ctx = RequestContext(source="cli", actor_name="cli:operator@centre")
    with platform.uow(ctx) as uow:
        service.set_override(uow, MONDAY_2027, False, "元旦调休（示例）")
        uow.commit()

    with platform.db.read() as s:
        after = service.load_calendar(s)
        row = s.get(CalendarOverride, MONDAY_2027)
    assert after.is_holiday(MONDAY_2027)
    assert after.is_authoritative(MONDAY_2027) and after.is_authoritative(date(2027, 6, 1))
    assert after.add_working_days(date(2027, 1, 1), 1) == date(2027, 1, 5)
    assert row is not None and row.note == "元旦调休（示例）" and row.created_by == "cli:operator@centre"
    assert row.created_at == platform.clock.now()

    (event,) = _audits(platform)
    assert event.tag == "cli:calendar:override_set"
    assert event.subject_id == "2027-01-04"
    assert event.data == {
        "date": "2027-01-04",
        "is_working": False,
        "note": "元旦调休（示例）",
        "previous": None,
    }
    with platform.db.read() as s:
        assert platform.ledger.verify(s).ok


def test_override_beats_the_official_schedule_and_can_be_removed(platform: Platform) -> None:
    day = date(2024, 10, 8)  # an official working day after National Day 2024
    with platform.uow() as uow:
        service.set_override(uow, day, False, "台风停工")
        uow.commit()
    with platform.db.read() as s:
        assert service.load_calendar(s).add_working_days(date(2024, 9, 30), 1) == date(2024, 10, 9)
    with platform.uow() as uow:
        service.remove_override(uow, day)
        uow.commit()
    with platform.db.read() as s:
        assert service.load_calendar(s).add_working_days(date(2024, 9, 30), 1) == day
        assert service.list_overrides(s) == []
    assert [e.tag for e in _audits(platform)] == [
        "system:calendar:override_set",
        "system:calendar:override_remove",
    ]


def test_changing_an_override_records_the_previous_value_and_repeating_it_records_nothing(
    platform: Platform,
) -> None:
    for working in (False, False, True):
        with platform.uow() as uow:
            service.set_override(uow, MONDAY_2027, working, "")
            uow.commit()
    events = _audits(platform)
    assert [e.data["previous"] for e in events] == [None, False]
    with platform.db.read() as s:
        assert service.load_calendar(s).is_working_day(MONDAY_2027)
        assert len(service.list_overrides(s)) == 1


def test_work_not_committed_leaves_no_override(platform: Platform) -> None:
    with platform.uow() as uow:
        service.set_override(uow, MONDAY_2027, False, "")
    with platform.db.read() as s:
        assert service.list_overrides(s) == []
    assert _audits(platform) == []


def test_bad_input_changes_nothing(platform: Platform) -> None:
    with platform.uow() as uow, pytest.raises(ValidationFailed) as err:
        service.set_override(uow, MONDAY_2027, False, "长" * 201)
    assert err.value.code == "calendar.note_too_long"
    with platform.uow() as uow, pytest.raises(NotFound) as missing:
        service.remove_override(uow, MONDAY_2027)
    assert missing.value.code == "calendar.override_not_found"
    with platform.db.read() as s:
        assert service.list_overrides(s) == []
    assert _audits(platform) == []
