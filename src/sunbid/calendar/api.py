"""Working days and the legal time rules over HTTP (public, read-only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from sunbid.calendar import service
from sunbid.core.calendar import parse_iso_date
from sunbid.platform.deps import read_session
from sunbid.projects.rules import RuleBook

router = APIRouter(prefix="/api/v1", tags=["calendar 工作日历"])

Db = Annotated[Session, Depends(read_session)]


@router.get("/calendar/{day}", summary="某日是否工作日 Is a date a working day")
def calendar_day(day: str, db: Db) -> dict[str, Any]:
    """Whether ``day`` (YYYY-MM-DD) is a working day, whether the year is in the official calendar, and the
    next working day."""
    when = parse_iso_date(day)
    cal = service.load_calendar(db)
    return {
        **service.day_info(cal, when),
        "is_holiday": cal.is_holiday(when),
        "overridden": when in cal.overrides,
        "next_working_day": cal.next_working_day(when).isoformat(),
    }


@router.get("/rules", summary="法定时限规则表 Legal time rules")
def rules(procedure: Annotated[str | None, Query(max_length=32)] = None) -> dict[str, Any]:
    """The whole table of legal time rules with their sources, or those of one procedure."""
    book = RuleBook.default()
    selected = list(book) if procedure is None else list(book.for_procedure(procedure))
    return {"rules": [r.as_dict() for r in selected]}
