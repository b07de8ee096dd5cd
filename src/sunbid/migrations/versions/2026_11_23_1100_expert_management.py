"""Expert management: assessments, deductions, appeals, sanctions, bank accounts, fees and the fee ledger.

Revision ID: c07c6e1d8f09
Revises: bf6b5d0c7e08
Create Date: 2026-11-23 11:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "c07c6e1d8f09"
down_revision: str | None = "bf6b5d0c7e08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "expert_bank_accounts",
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("account_tail", sa.String(length=4), nullable=False),
        sa.Column("updated_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_bank_accounts_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("expert_id", name=op.f("pk_expert_bank_accounts")),
    )
    op.create_table(
        "expert_sanctions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("trigger_points", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_sanctions_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_sanctions")),
    )
    with op.batch_alter_table("expert_sanctions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_sanctions_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_sanctions_state"), ["state"], unique=False)

    op.create_table(
        "expert_assessments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("draw_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rater_key", sa.String(length=40), nullable=False),
        sa.Column("rater_role", sa.String(length=16), nullable=False),
        sa.Column("rater_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column(
            "grades", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["expert_draws.id"],
            name=op.f("fk_expert_assessments_draw_id_expert_draws"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_assessments_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_expert_assessments_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_assessments")),
        sa.UniqueConstraint(
            "draw_id", "expert_id", "rater_key", name=op.f("uq_expert_assessments_draw_id_expert_id_rater_key")
        ),
    )
    with op.batch_alter_table("expert_assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_assessments_draw_id"), ["draw_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_assessments_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_assessments_project_id"), ["project_id"], unique=False)

    op.create_table(
        "expert_fees",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("draw_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("started_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column(
            "breakdown", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "scale", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("payer", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("payment_key", sa.String(length=40), nullable=False),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("computed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["draw_id"], ["expert_draws.id"], name=op.f("fk_expert_fees_draw_id_expert_draws"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_fees_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_expert_fees_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_fees")),
        sa.UniqueConstraint("draw_id", "expert_id", name=op.f("uq_expert_fees_draw_id_expert_id")),
        sa.UniqueConstraint("payment_key", name=op.f("uq_expert_fees_payment_key")),
    )
    with op.batch_alter_table("expert_fees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_fees_draw_id"), ["draw_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_fees_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_fees_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_fees_state"), ["state"], unique=False)

    op.create_table(
        "expert_deductions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("assessment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("draw_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("item", sa.String(length=40), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("recorded_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["expert_assessments.id"],
            name=op.f("fk_expert_deductions_assessment_id_expert_assessments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_deductions_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_deductions")),
    )
    with op.batch_alter_table("expert_deductions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_deductions_assessment_id"), ["assessment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_deductions_expert_id"), ["expert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_deductions_year"), ["year"], unique=False)

    op.create_table(
        "expert_fee_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_key", sa.String(length=80), nullable=False),
        sa.Column("fee_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("debit", sa.String(length=60), nullable=False),
        sa.Column("credit", sa.String(length=60), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("gateway_ref", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["fee_id"], ["expert_fees.id"], name=op.f("fk_expert_fee_ledger_fee_id_expert_fees"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_fee_ledger")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_expert_fee_ledger_entry_key")),
    )
    with op.batch_alter_table("expert_fee_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_fee_ledger_credit"), ["credit"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_fee_ledger_debit"), ["debit"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_fee_ledger_fee_id"), ["fee_id"], unique=False)

    op.create_table(
        "expert_appeals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("deduction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("filed_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["deduction_id"],
            ["expert_deductions.id"],
            name=op.f("fk_expert_appeals_deduction_id_expert_deductions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_appeals")),
        sa.UniqueConstraint("deduction_id", name=op.f("uq_expert_appeals_deduction_id")),
    )


def downgrade() -> None:
    op.drop_table("expert_appeals")
    with op.batch_alter_table("expert_fee_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_fee_ledger_fee_id"))
        batch_op.drop_index(batch_op.f("ix_expert_fee_ledger_debit"))
        batch_op.drop_index(batch_op.f("ix_expert_fee_ledger_credit"))

    op.drop_table("expert_fee_ledger")
    with op.batch_alter_table("expert_deductions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_deductions_year"))
        batch_op.drop_index(batch_op.f("ix_expert_deductions_expert_id"))
        batch_op.drop_index(batch_op.f("ix_expert_deductions_assessment_id"))

    op.drop_table("expert_deductions")
    with op.batch_alter_table("expert_fees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_fees_state"))
        batch_op.drop_index(batch_op.f("ix_expert_fees_project_id"))
        batch_op.drop_index(batch_op.f("ix_expert_fees_expert_id"))
        batch_op.drop_index(batch_op.f("ix_expert_fees_draw_id"))

    op.drop_table("expert_fees")
    with op.batch_alter_table("expert_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_assessments_project_id"))
        batch_op.drop_index(batch_op.f("ix_expert_assessments_expert_id"))
        batch_op.drop_index(batch_op.f("ix_expert_assessments_draw_id"))

    op.drop_table("expert_assessments")
    with op.batch_alter_table("expert_sanctions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_sanctions_state"))
        batch_op.drop_index(batch_op.f("ix_expert_sanctions_expert_id"))

    op.drop_table("expert_sanctions")
    op.drop_table("expert_bank_accounts")
