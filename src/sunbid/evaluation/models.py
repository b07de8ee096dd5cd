"""Evaluation tables: the project's method, the evaluation, committee members, scores and interventions.

Experts' scores are stored per member, item and bid; nobody but the member reads them until every member has
submitted (the service enforces it). The report PDF under signature lives in storage (``report_key``) and
becomes a project document only once fully signed and submitted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sunbid.platform.db import Base, JSONType, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class EvaluationMethodDoc(Base):
    """The evaluation method 评标办法 attached to a project before the deadline (JSON, hash, published)."""

    __tablename__ = "evaluation_methods"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    method_id: Mapped[str] = mapped_column(String(64))
    method_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[int | None] = mapped_column(BigId)
    attached_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attached_by_user_id: Mapped[int] = mapped_column(BigId)


class Evaluation(Base):
    """One project's evaluation: committee, sign-in, scoring, the report under signature, the outcome."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    project_id: Mapped[int] = mapped_column(BigId, ForeignKey("projects.id", ondelete="CASCADE"), unique=True)
    draw_id: Mapped[int | None] = mapped_column(BigId)
    state: Mapped[str] = mapped_column(String(16))  # signin | scoring | signing | submitted | published
    drawn_k: Mapped[str | None] = mapped_column(String(32))
    formed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    report_key: Mapped[str | None] = mapped_column(String(300))
    report_sha256: Mapped[str | None] = mapped_column(String(64))  # content hash (canonical JSON)
    report_built_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signatures: Mapped[int] = mapped_column(Integer, default=0)
    report_document_id: Mapped[int | None] = mapped_column(BigId)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    candidates: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CommitteeMemberRow(Base):
    """A member of the evaluation committee 评标委员会成员: a platform user with a project-scoped EXPERT role."""

    __tablename__ = "evaluation_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))  # expert | representative
    expert_code: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(64))
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    access_digest: Mapped[str | None] = mapped_column(String(64))  # SHA-256 of the one-time access code
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certificate_serial: Mapped[str | None] = mapped_column(String(64))
    certificate_pem: Mapped[str | None] = mapped_column(Text)
    certificate_fingerprint: Mapped[str | None] = mapped_column(String(128))
    signed_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("evaluation_id", "user_id"), UniqueConstraint("evaluation_id", "seq"))


class ScoreRow(Base):
    """One member's score of one subjective item of one bid (``objective`` is kept for old rows: always False).

    Objective items are computed from the bids' facts (:mod:`sunbid.evaluation.objective`), never typed in.
    """

    __tablename__ = "evaluation_scores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluation_members.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(64))  # the section 标段 code
    bidder: Mapped[str] = mapped_column(String(32))  # the bidder's USCC
    item: Mapped[str] = mapped_column(String(64))
    objective: Mapped[bool] = mapped_column(Boolean, default=False)
    score: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint(
            "evaluation_id", "member_id", "section", "bidder", "item", name="uq_evaluation_scores_member_section_item"
        ),
    )


class InterventionRow(Base):
    """E-4: a deviating score that stopped a submission until the expert wrote a reason; reported to regulators."""

    __tablename__ = "evaluation_interventions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluation_members.id", ondelete="CASCADE"))
    section: Mapped[str] = mapped_column(String(64))  # the section 标段 code
    bidder: Mapped[str] = mapped_column(String(32))
    item: Mapped[str] = mapped_column(String(64))
    score: Mapped[str] = mapped_column(String(16))
    mean: Mapped[str] = mapped_column(String(32))
    deviation: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[str] = mapped_column(String(32))
    basis: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))  # open | explained | revised
    reason: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ledger_index: Mapped[int | None] = mapped_column(BigId)


class FactCorrectionRow(Base):
    """SPEC E-3: the group leader's correction of one fact 事实数据 an objective item is computed from.

    ``declared`` is what the bid's manifest said at the opening (None: not provided), ``value`` the verified value
    (None: not provided); the latest correction of a (bidder, field) wins. The points are never typed in.
    """

    __tablename__ = "evaluation_fact_corrections"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluations.id", ondelete="CASCADE"), index=True)
    section: Mapped[str] = mapped_column(String(64))  # the section code 标段 (a bidder's bids differ per section)
    bidder: Mapped[str] = mapped_column(String(32))  # the bidder's USCC
    field: Mapped[str] = mapped_column(String(80))  # duration_days | quality | extra.<key>
    declared: Mapped[str | None] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    member_id: Mapped[int] = mapped_column(BigId, ForeignKey("evaluation_members.id", ondelete="CASCADE"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ledger_index: Mapped[int | None] = mapped_column(BigId)
