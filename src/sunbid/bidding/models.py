"""Bid tables: resumable upload sessions and the bids they commit (with their signed receipts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class BidUpload(Base):
    """A chunked, resumable upload of one sealed container (the bytes live in a spool file, not here).

    ``offset`` is the number of bytes known to be durable in the spool file; it is only advanced after the
    chunk was written and fsynced, so a crash never records bytes that are not on disk.
    """

    __tablename__ = "bid_uploads"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(BigId)
    declared_hash: Mapped[str] = mapped_column(String(64))
    length: Mapped[int] = mapped_column(BigId)
    offset: Mapped[int] = mapped_column(BigId, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | completed | expired
    bid_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    final_chunk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the server had received the chunk that made the upload whole: the time the deadline is judged by."""


class Bid(Base):
    """A submitted sealed bid (投标文件): who, which section, the container hash and its receipt (回执)."""

    __tablename__ = "bids"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    upload_id: Mapped[int] = mapped_column(BigId, ForeignKey("bid_uploads.id"), unique=True)
    container_hash: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigId)
    storage_key: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="submitted")  # submitted | withdrawn | replaced
    ledger_index: Mapped[int] = mapped_column(BigId)
    bidder_salt: Mapped[str] = mapped_column(String(64))
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (Index("ix_bids_project_section", "project_id", "section_id"),)
