"""Project tables: projects and their sections, the step history, documents and objections."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
Amount = Numeric(18, 2)


class Project(Base):
    """A trade (项目): its procedure, parties, current state and the facts the procedure engine reads."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    procedure_code: Mapped[str] = mapped_column(String(40))
    sector: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str] = mapped_column(String(6), ForeignKey("regions.code"))
    centre_id: Mapped[int] = mapped_column(BigId, ForeignKey("centres.id"))
    tenderer_org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    agency_org_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    budget: Mapped[Decimal | None] = mapped_column(Amount)
    state: Mapped[str] = mapped_column(String(40), index=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    green_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    accept_with_promise: Mapped[bool] = mapped_column(Boolean, default=False)
    winner_org_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("organisations.id"))
    award_amount: Mapped[Decimal | None] = mapped_column(Amount)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's declared form


class Section(Base):
    """A section (标段/包) of a project; bids, opening and award are per section."""

    __tablename__ = "project_sections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    budget: Mapped[Decimal | None] = mapped_column(Amount)
    max_price: Mapped[Decimal | None] = mapped_column(Amount)

    __table_args__ = (UniqueConstraint("project_id", "code"),)


class ProjectEvent(Base):
    """One step of a project (a transition of its procedure), linked to its transparency-log entry."""

    __tablename__ = "project_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    event: Mapped[str] = mapped_column(String(60))
    from_state: Mapped[str] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_user_id: Mapped[int | None] = mapped_column(BigId)
    actor_org_id: Mapped[int | None] = mapped_column(BigId)
    actor_role: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    ledger_index: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (UniqueConstraint("project_id", "seq"), Index("ix_project_events_project", "project_id"))


class ProjectDocument(Base):
    """A document of a project (tender documents, amendment, announcement, report, contract …)."""

    __tablename__ = "project_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(300))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigId)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(BigId)
    ledger_index: Mapped[int | None] = mapped_column(BigId)


class Objection(Base):
    """An objection (异议) to the documents or the result, with the reply on record."""

    __tablename__ = "project_objections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # documents | result
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    user_id: Mapped[int | None] = mapped_column(BigId)
    text: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply: Mapped[str | None] = mapped_column(Text)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_by_user_id: Mapped[int | None] = mapped_column(BigId)
    upheld: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | answered


class ContractSignature(Base):
    """One party's signature on the contract document, made with its certificate's signing key."""

    __tablename__ = "contract_signatures"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_documents.id"))
    document_sha256: Mapped[str] = mapped_column(String(64))
    party: Mapped[str] = mapped_column(String(16))  # tenderer | winner
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    certificate_serial: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)  # base64
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (UniqueConstraint("project_id", "document_id", "party"),)
