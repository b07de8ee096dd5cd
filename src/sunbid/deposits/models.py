"""Deposit tables: basic accounts, requirements, virtual sub-accounts, credits, refunds, the ledger, guarantees."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
Amount = Numeric(18, 2)


class BidderBasicAccount(Base):
    """A bidder's 基本账户 (the one account its cash deposits must come from), kept apart from organisations."""

    __tablename__ = "bidder_basic_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), unique=True)
    account_no: Mapped[str] = mapped_column(String(40))
    account_name: Mapped[str] = mapped_column(String(200))
    bank_name: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    registered_by_user_id: Mapped[int | None] = mapped_column(BigId)


class DepositRequirement(Base):
    """The deposit a section asks for (set by the tenderer or agency, within the legal limit)."""

    __tablename__ = "deposit_requirements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"), unique=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    kind: Mapped[str] = mapped_column(String(20))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    set_by_user_id: Mapped[int | None] = mapped_column(BigId)


class DepositAccount(Base):
    """A virtual sub-account (虚拟子账号): one per bidder per section; the unit of refunds and forfeiture."""

    __tablename__ = "deposit_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(BigId, ForeignKey("project_sections.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(BigId, ForeignKey("organisations.id"), index=True)
    virtual_account: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | refunding | settled | forfeited
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    forfeit_reason: Mapped[str | None] = mapped_column(String(40))
    forfeit_basis: Mapped[str | None] = mapped_column(Text)
    forfeit_note: Mapped[str | None] = mapped_column(Text)
    forfeited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    forfeited_by_user_id: Mapped[int | None] = mapped_column(BigId)

    __table_args__ = (UniqueConstraint("section_id", "org_id"),)


class DepositCredit(Base):
    """An incoming bank credit, stored once per bank reference whatever the number of notifications."""

    __tablename__ = "deposit_credits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_ref: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("deposit_accounts.id"), index=True)
    virtual_account: Mapped[str] = mapped_column(String(32))
    payer_account: Mapped[str] = mapped_column(String(40))
    payer_name: Mapped[str] = mapped_column(String(200))
    payer_bank: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Amount)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verdict: Mapped[str] = mapped_column(String(20))  # accepted | wrong_payer | late | unknown_account
    notices: Mapped[int] = mapped_column(Integer, default=1)  # how many times the bank told us


class DepositRefund(Base):
    """A payment out: the refund of a sub-account or the return of one rejected credit (state machine)."""

    __tablename__ = "deposit_refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(40), unique=True)  # account:<id>:<round> | credit:<id>
    account_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("deposit_accounts.id"), index=True)
    credit_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("deposit_credits.id"))
    project_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    transfer_key: Mapped[str] = mapped_column(String(40), unique=True)
    to_account: Mapped[str] = mapped_column(String(40))
    to_name: Mapped[str] = mapped_column(String(200))
    to_bank: Mapped[str] = mapped_column(String(200))
    principal: Mapped[Decimal] = mapped_column(Amount)
    interest: Mapped[Decimal | None] = mapped_column(Amount)
    fee: Mapped[Decimal | None] = mapped_column(Amount)
    amount: Mapped[Decimal | None] = mapped_column(Amount)
    due_date: Mapped[date | None] = mapped_column(Date)
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bank_ref: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    unclaimed: Mapped[bool] = mapped_column(Boolean, default=False)  # 历史沉淀: refused after every attempt
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_by_user_id: Mapped[int | None] = mapped_column(BigId)
    clear_note: Mapped[str | None] = mapped_column(Text)


class DepositLedgerEntry(Base):
    """One double-entry movement of deposit money; ``entry_key`` makes each movement happen once."""

    __tablename__ = "deposit_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(80), unique=True)
    debit: Mapped[str] = mapped_column(String(40), index=True)
    credit: Mapped[str] = mapped_column(String(40), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    kind: Mapped[str] = mapped_column(String(20))  # credit | return | refund | interest | fee | forfeit | clear
    account_id: Mapped[int | None] = mapped_column(BigId)
    bank_ref: Mapped[str | None] = mapped_column(String(64), index=True)
    booked_day: Mapped[date] = mapped_column(Date, index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DepositGuarantee(Base):
    """An electronic guarantee or guarantee insurance handed in instead of cash, as verified with its issuer."""

    __tablename__ = "deposit_guarantees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigId, ForeignKey("deposit_accounts.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(200))
    form: Mapped[str] = mapped_column(String(20))
    beneficiary: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Amount)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    file_sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # verified | rejected | claimed
    problems: Mapped[list[str]] = mapped_column(JSONType, default=list)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claim_ref: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("account_id", "number"),)


class DepositReconciliation(Base):
    """A stored daily reconciliation: the statement imported and every difference found."""

    __tablename__ = "deposit_reconciliations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    statement_ref: Mapped[str] = mapped_column(String(64))
    statement_sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    balanced: Mapped[bool] = mapped_column(Boolean)
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
