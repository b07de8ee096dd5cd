"""Expert management tables: assessments and their deductions, appeals, sanctions, bank accounts, fees, ledger."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, LargeBinary, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")
Amount = Numeric(18, 2)


class ExpertAssessment(Base):
    """One rater's assessment 考评 of one expert after one evaluation (the draw of the panel)."""

    __tablename__ = "expert_assessments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draw_id: Mapped[int] = mapped_column(BigId, ForeignKey("expert_draws.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    rater_key: Mapped[str] = mapped_column(String(40))  # role:org_id (one assessment per rater organisation)
    rater_role: Mapped[str] = mapped_column(String(16))
    rater_user_id: Mapped[int | None] = mapped_column(BigId)
    outcome: Mapped[str] = mapped_column(String(16))  # the expert's draw outcome
    year: Mapped[int] = mapped_column(Integer)
    grades: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("draw_id", "expert_id", "rater_key"),)


class ExpertDeduction(Base):
    """An offence recorded in an assessment, with its points; ``state`` effective or overturned (on appeal)."""

    __tablename__ = "expert_deductions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("expert_assessments.id", ondelete="CASCADE"), index=True
    )
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    draw_id: Mapped[int] = mapped_column(BigId)
    item: Mapped[str] = mapped_column(String(40))
    dimension: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[str] = mapped_column(String(16))  # effective | overturned
    recorded_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExpertAppeal(Base):
    """An expert's appeal 申诉 against a deduction, and its decision."""

    __tablename__ = "expert_appeals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    deduction_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("expert_deductions.id", ondelete="CASCADE"), unique=True
    )
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending | upheld (deduction stands) | overturned
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    filed_by_user_id: Mapped[int | None] = mapped_column(BigId)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_user_id: Mapped[int | None] = mapped_column(BigId)
    decision_note: Mapped[str | None] = mapped_column(Text)


class ExpertSanction(Base):
    """A suspension or removal decided by assessment (the credit record: basis, restriction, dates)."""

    __tablename__ = "expert_sanctions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # suspend | remove
    basis: Mapped[str] = mapped_column(Text)
    trigger_points: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), index=True)  # active | ended | lifted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ExpertBankAccount(Base):
    """The account an expert's fees are paid to; number, name and bank encrypted under the pool key."""

    __tablename__ = "expert_bank_accounts"

    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    account_tail: Mapped[str] = mapped_column(String(4))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ExpertFee(Base):
    """One expert's fee for one evaluation: the computation, then a payout state machine paid exactly once."""

    __tablename__ = "expert_fees"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    draw_id: Mapped[int] = mapped_column(BigId, ForeignKey("expert_draws.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    expert_id: Mapped[int] = mapped_column(BigId, ForeignKey("experts.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount: Mapped[Decimal] = mapped_column(Amount)
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSONType)
    scale: Mapped[dict[str, Any]] = mapped_column(JSONType)
    payer: Mapped[str] = mapped_column(String(40))  # ledger account of who bears the fee
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    payment_key: Mapped[str] = mapped_column(String(40), unique=True)
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("draw_id", "expert_id"),)


class ExpertFeeLedgerEntry(Base):
    """One double-entry movement of fee money; ``entry_key`` makes each movement happen once."""

    __tablename__ = "expert_fee_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(80), unique=True)
    fee_id: Mapped[int] = mapped_column(BigId, ForeignKey("expert_fees.id", ondelete="CASCADE"), index=True)
    debit: Mapped[str] = mapped_column(String(60), index=True)
    credit: Mapped[str] = mapped_column(String(60), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount)
    kind: Mapped[str] = mapped_column(String(16))  # accrue | pay
    gateway_ref: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
