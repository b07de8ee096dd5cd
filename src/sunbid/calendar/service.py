"""Calendar use cases: the working calendar of the centre (official schedule + overrides) and its overrides.

Every change goes through a unit of work and leaves an audit event in the transparency log.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sunbid.calendar.models import CalendarOverride
from sunbid.core.calendar import WorkingCalendar
from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.platform.uow import UnitOfWork

NOTE_MAX = 200


def load_calendar(session: Session) -> WorkingCalendar:
    """The centre's working calendar: ``chinese_calendar``'s official schedule plus the stored overrides."""
    rows = session.execute(select(CalendarOverride.date, CalendarOverride.is_working)).all()
    return WorkingCalendar({d: bool(w) for d, w in rows})


def list_overrides(session: Session) -> list[CalendarOverride]:
    """Every override, oldest date first."""
    return list(session.scalars(select(CalendarOverride).order_by(CalendarOverride.date)))


def override_dict(row: CalendarOverride) -> dict[str, Any]:
    """An override as JSON-friendly data."""
    return {
        "date": row.date.isoformat(),
        "is_working": row.is_working,
        "note": row.note,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }


def day_info(calendar: WorkingCalendar, day: date) -> dict[str, Any]:
    """What the calendar says about one day (for the CLI and the API)."""
    return {
        "date": day.isoformat(),
        "is_working_day": calendar.is_working_day(day),
        "authoritative": calendar.is_authoritative(day),
    }


def _actor(uow: UnitOfWork) -> str:
    ctx = uow.ctx
    if ctx.actor_name:
        return ctx.actor_name[:100]
    return f"user:{ctx.user_id}" if ctx.user_id is not None else ctx.source


def set_override(uow: UnitOfWork, day: date, is_working: bool, note: str = "") -> CalendarOverride:
    """Make ``day`` a working day or a rest day for this centre, whatever the official schedule says.

    Setting the same value and note again changes nothing and records nothing.
    """
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise ValidationFailed(
            "calendar.note_too_long",
            f"说明不能超过 {NOTE_MAX} 个字符。",
            f"The note cannot be longer than {NOTE_MAX} characters.",
        )
    row = uow.session.get(CalendarOverride, day)
    previous = None if row is None else row.is_working
    if row is not None and row.is_working == is_working and row.note == note:
        return row
    if row is None:
        row = CalendarOverride(date=day)
        uow.session.add(row)
    row.is_working = is_working
    row.note = note
    row.created_by = _actor(uow)
    row.created_at = uow.now
    uow.session.flush()
    uow.audit(
        "calendar:override_set",
        subject_type="calendar_day",
        subject_id=day.isoformat(),
        data={"date": day.isoformat(), "is_working": is_working, "note": note, "previous": previous},
    )
    return row


def remove_override(uow: UnitOfWork, day: date) -> None:
    """Drop the centre's override of ``day``: the official schedule (or weekends) applies again."""
    row = uow.session.get(CalendarOverride, day)
    if row is None:
        raise NotFound(
            "calendar.override_not_found",
            f"{day.isoformat()} 没有自定义设置。",
            f"There is no override for {day.isoformat()}.",
        )
    data = {"date": day.isoformat(), "previous": row.is_working, "note": row.note}
    uow.session.delete(row)
    uow.session.flush()
    uow.audit("calendar:override_remove", subject_type="calendar_day", subject_id=day.isoformat(), data=data)
