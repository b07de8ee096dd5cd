"""Expert tables: the pool (personal data encrypted), its history, and draws whose panel is sealed.

Nothing here names a drawn expert in plaintext: a draw's seats (:class:`ExpertDrawSeat`) carry a position and a
state but no expert; who sits where is inside :attr:`ExpertDraw.sealed_panel` (AES-GCM / SM4-GCM under a key
wrapped to the sealing key of the secret store). Draw history rows are written only when the panel is unsealed;
until then the draw service counts a sealed panel's seats for the too-many-draws rule by opening it in memory
at each later draw (audited ``expert:panel:count``, no identities), so nothing here names them early.
Personal data (name, identity number, phone, e-mail) is encrypted too (:attr:`Expert.pii`); the identity
number is findable only through a keyed digest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class Expert(Base):
    """One expert of the pool 专家库, by pool code 专家编号."""

    __tablename__ = "experts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    pii: Mapped[bytes] = mapped_column(LargeBinary)
    id_digest: Mapped[str] = mapped_column(String(64), unique=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    regulator_sectors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    conflict_orgs: Mapped[list[str]] = mapped_column(JSONType, default=list)
    conflict_persons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ExpertSpecialty(Base):
    """A specialty code an expert holds."""

    __tablename__ = "expert_specialties"

    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), primary_key=True, index=True)


class ExpertEmployment(Base):
    """A period of employment (the employer's USCC); ``end_on`` NULL means current."""

    __tablename__ = "expert_employments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    employer_uscc: Mapped[str] = mapped_column(String(18), index=True)
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date | None] = mapped_column(Date)


class ExpertStatusEvent(Base):
    """One status change of an expert (在库 → 暂停 → 清退出库 …), with its reason."""

    __tablename__ = "expert_status_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_user_id: Mapped[int | None] = mapped_column(BigId)


class ExpertPenalty(Base):
    """A penalty 处罚 barring draws from ``start_on`` to ``end_on`` (inclusive; NULL: until lifted)."""

    __tablename__ = "expert_penalties"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    start_on: Mapped[dt.date] = mapped_column(Date)
    end_on: Mapped[dt.date | None] = mapped_column(Date)
    basis: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ExpertDrawHistory(Base):
    """An expert's draw 抽取记录, written when the draw's panel is unsealed (never before).

    Draws still sealed are counted for the too-many-draws rule from their sealed panels, in memory, at draw time.
    """

    __tablename__ = "expert_draw_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    draw_id: Mapped[int] = mapped_column(BigId, ForeignKey("expert_draws.id", ondelete="CASCADE"))
    drawn_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # confirmed | refused | timed_out | standby

    __table_args__ = (UniqueConstraint("draw_id", "expert_id"),)


class ExpertDraw(Base):
    """One expert draw of a project: commitment, request, public digests, the sealed panel, the record."""

    __tablename__ = "expert_draws"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # committed | drawn | short | unsealed
    suite: Mapped[str] = mapped_column(String(8))
    subject: Mapped[dict[str, Any]] = mapped_column(JSONType)
    requests: Mapped[list[Any]] = mapped_column(JSONType)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType)
    persons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    commitment: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evaluation_starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    response_minutes: Mapped[int] = mapped_column(Integer)
    candidates_digest: Mapped[str | None] = mapped_column(String(64))
    candidates_count: Mapped[int | None] = mapped_column(Integer)
    sealed_panel: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    record_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    unsealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ExpertDrawSeat(Base):
    """A drawn place (member or reserve), by position only: who holds it is sealed."""

    __tablename__ = "expert_draw_seats"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draw_id: Mapped[int] = mapped_column(BigId, ForeignKey("expert_draws.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    slot: Mapped[int] = mapped_column(Integer)
    specialty: Mapped[str] = mapped_column(String(16))
    rank: Mapped[int] = mapped_column(Integer)
    reserve: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16))  # standby | notified | confirmed | refused | timed_out
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    notified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    respond_by: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("draw_id", "seq"),)
