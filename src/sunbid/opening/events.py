"""The opening hall's event stream 开标大厅事件 (SPEC B-6): every step of an opening session, in order.

Each project's opening session appends events here (check-in, decryption progress, the opening record,
objections and answers …) in the same transaction as the change they describe; the live hall streams them
(server-sent events) and a finished session replays from them. ``seq`` counts from 1 per project with no gaps,
so a client that reconnects asks for the events after the last ``seq`` it saw and misses nothing.

Event data is public once written (it is shown in the hall): never put a price before the opening record is
published, nor a secret, nor a bidder's identity before the session starts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime
from sunbid.platform.uow import UnitOfWork

BigId = BigInteger().with_variant(Integer, "sqlite")


class OpeningEvent(Base):
    """One event of a project's opening session."""

    __tablename__ = "opening_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "seq"),)

    def to_json(self) -> dict[str, Any]:
        """The event as the hall receives it."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "data": self.data,
            "at": self.occurred_at.isoformat(timespec="milliseconds"),
        }


def append_event(uow: UnitOfWork, project_id: int, kind: str, data: dict[str, Any]) -> OpeningEvent:
    """Append an event (in the caller's transaction; the caller holds the project's row lock)."""
    last = uow.session.scalar(select(func.max(OpeningEvent.seq)).where(OpeningEvent.project_id == project_id))
    event = OpeningEvent(project_id=project_id, seq=(last or 0) + 1, kind=kind, data=data, occurred_at=uow.now)
    uow.session.add(event)
    uow.session.flush()
    return event


def events_after(session: Session, project_id: int, after: int = 0, limit: int = 500) -> list[OpeningEvent]:
    """The project's events with ``seq > after``, oldest first (at most ``limit``)."""
    stmt = (
        select(OpeningEvent)
        .where(OpeningEvent.project_id == project_id, OpeningEvent.seq > after)
        .order_by(OpeningEvent.seq)
        .limit(limit)
    )
    return list(session.scalars(stmt))
