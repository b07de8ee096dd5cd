"""Tables of the transparency log and of the audit trail that feeds it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class LedgerEntry(Base):
    """One leaf of the Merkle tree: the canonical JSON bytes exactly as hashed."""

    __tablename__ = "ledger_entries"

    index: Mapped[int] = mapped_column("idx", BigId, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(32))  # audit | event | document | receipt | draw | signature
    body: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LedgerState(Base):
    """The single row holding the tree size and the compact-range frontier (locked while appending)."""

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigId)
    frontier: Mapped[list[Any]] = mapped_column(JSONType)
    hash_name: Mapped[str] = mapped_column(String(16))


class SignedHead(Base):
    """A signed tree head (STH)."""

    __tablename__ = "ledger_heads"

    tree_size: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigId)
    log_id: Mapped[str] = mapped_column(String(128))
    suite: Mapped[str] = mapped_column(String(16))
    key_fingerprint: Mapped[str] = mapped_column(String(128))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEvent(Base):
    """Who did what, when, from where: one row per action, each linked to its log entry."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tag: Mapped[str] = mapped_column(String(128))  # source:subject:action
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_user_id: Mapped[int | None] = mapped_column(BigId)
    actor_org_id: Mapped[int | None] = mapped_column(BigId)
    actor_name: Mapped[str | None] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    subject_type: Mapped[str | None] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    ledger_index: Mapped[int] = mapped_column(BigId, ForeignKey("ledger_entries.idx"), unique=True)

    __table_args__ = (
        Index("ix_audit_subject", "subject_type", "subject_id"),
        Index("ix_audit_tag", "tag"),
    )
