"""Calendar tables: the centre's overrides of the official working-day calendar."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, String
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, UTCDateTime


class CalendarOverride(Base):
    """A day whose working status the centre sets itself (a year the library does not know, a local holiday).

    An override always wins over the official schedule shipped by ``chinese_calendar``.
    """

    __tablename__ = "calendar_overrides"

    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
