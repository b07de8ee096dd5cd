"""Opening tables: section opening keys and custodian shares, sessions, bids at opening, shares posted, objections.

No private key, no plaintext share and no content key is ever stored in the clear: the opening private key is
forgotten once split; shares are stored encrypted to their custodians; content keys released by bidders and
shares posted by custodians are sealed under the platform's opening secret (``service.platform_seal``), and
posted shares are wiped once the key was rebuilt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class OpeningKey(Base):
    """A section's opening key 开标密钥: the public half, its fingerprint, the bid context and the split."""

    __tablename__ = "opening_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"), unique=True)
    suite: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(128))
    context: Mapped[str] = mapped_column(String(300))
    threshold: Mapped[int] = mapped_column(Integer)  # k; 0 when the key was not split
    total: Mapped[int] = mapped_column(Integer)  # n; 0 when the key was not split
    fallback_possible: Mapped[bool] = mapped_column(Boolean, default=False)
    draw_commitment: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    draw_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ledger_index: Mapped[int] = mapped_column(BigId)


class OpeningKeyShare(Base):
    """One custodian's share of an opening key, encrypted to the custodian organisation's encryption certificate."""

    __tablename__ = "opening_key_shares"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[int] = mapped_column(BigId, ForeignKey("opening_keys.id", ondelete="CASCADE"), index=True)
    share_index: Mapped[int] = mapped_column(Integer)
    custodian_org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    certificate_serial: Mapped[str] = mapped_column(String(64))
    encrypted_share: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("key_id", "share_index"),)


class OpeningSession(Base):
    """A project's opening session (one per round): state, settings, window and, once published, the signed record."""

    __tablename__ = "opening_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)  # a re-tender (重新招标) opens a new round
    state: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decryption_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    draws: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    record: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    record_hash: Mapped[str | None] = mapped_column(String(128))
    record_ledger_index: Mapped[int | None] = mapped_column(BigId)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    valid_bids: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("project_id", "round"),)


class OpeningBid(Base):
    """A sealed bid in an opening session: check-in, decryption attempts, and what was read when it was opened."""

    __tablename__ = "opening_bids"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(BigId, ForeignKey("opening_sessions.id", ondelete="CASCADE"), index=True)
    bid_id: Mapped[int] = mapped_column(BigId, ForeignKey("bids.id"), unique=True)
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # sealed | decrypted | revoked | withdrawn
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_problem: Mapped[str | None] = mapped_column(String(64))
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decrypted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_by: Mapped[str | None] = mapped_column(String(16))  # bidder | custodian
    price: Mapped[str | None] = mapped_column(String(32))
    duration_days: Mapped[int | None] = mapped_column(Integer)
    quality: Mapped[str | None] = mapped_column(String(200))
    extra: Mapped[dict[str, str] | None] = mapped_column(JSONType)  # the manifest's ``extra`` (objective facts)
    manifest_digest: Mapped[str | None] = mapped_column(String(128))
    documents: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    content_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    deposit_status: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OpeningSharePost(Base):
    """A custodian's approval: its share, posted after the deadline, held sealed until k are present, then wiped."""

    __tablename__ = "opening_share_posts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(BigId, ForeignKey("opening_sessions.id", ondelete="CASCADE"), index=True)
    key_id: Mapped[int] = mapped_column(BigId, ForeignKey("opening_keys.id", ondelete="CASCADE"))
    share_index: Mapped[int] = mapped_column(Integer)
    custodian_org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    user_id: Mapped[int] = mapped_column(BigId)
    share_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ledger_index: Mapped[int] = mapped_column(BigId)

    __table_args__ = (UniqueConstraint("key_id", "share_index"),)


class OpeningObjection(Base):
    """An objection at the opening 开标异议 and the operator's answer, both on record."""

    __tablename__ = "opening_objections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[int] = mapped_column(BigId, ForeignKey("opening_sessions.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"))
    user_id: Mapped[int] = mapped_column(BigId)
    text: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_user_id: Mapped[int | None] = mapped_column(BigId)
