"""Bid deposits: basic accounts, requirements, virtual sub-accounts, credits, refunds, ledger, guarantees, reconciliations.

Revision ID: 8c3e2a7f4d03
Revises: 9d4f3b8a5e04
Create Date: 2026-11-23 07:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "8c3e2a7f4d03"
down_revision: str | None = "9d4f3b8a5e04"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deposit_ledger",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_key", sa.String(length=80), nullable=False),
        sa.Column("debit", sa.String(length=40), nullable=False),
        sa.Column("credit", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("bank_ref", sa.String(length=64), nullable=True),
        sa.Column("booked_day", sa.Date(), nullable=False),
        sa.Column("occurred_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_ledger")),
        sa.UniqueConstraint("entry_key", name=op.f("uq_deposit_ledger_entry_key")),
    )
    with op.batch_alter_table("deposit_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_ledger_bank_ref"), ["bank_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_ledger_booked_day"), ["booked_day"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_ledger_credit"), ["credit"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_ledger_debit"), ["debit"], unique=False)

    op.create_table(
        "deposit_reconciliations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("statement_ref", sa.String(length=64), nullable=False),
        sa.Column("statement_sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("balanced", sa.Boolean(), nullable=False),
        sa.Column(
            "differences", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_reconciliations")),
    )
    with op.batch_alter_table("deposit_reconciliations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_reconciliations_day"), ["day"], unique=False)

    op.create_table(
        "bidder_basic_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_no", sa.String(length=40), nullable=False),
        sa.Column("account_name", sa.String(length=200), nullable=False),
        sa.Column("bank_name", sa.String(length=200), nullable=False),
        sa.Column("registered_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registered_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bidder_basic_accounts_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bidder_basic_accounts")),
        sa.UniqueConstraint("org_id", name=op.f("uq_bidder_basic_accounts_org_id")),
    )
    op.create_table(
        "deposit_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("virtual_account", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("forfeit_reason", sa.String(length=40), nullable=True),
        sa.Column("forfeit_basis", sa.Text(), nullable=True),
        sa.Column("forfeit_note", sa.Text(), nullable=True),
        sa.Column("forfeited_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("forfeited_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_deposit_accounts_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_deposit_accounts_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_deposit_accounts_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_accounts")),
        sa.UniqueConstraint("section_id", "org_id", name=op.f("uq_deposit_accounts_section_id_org_id")),
        sa.UniqueConstraint("virtual_account", name=op.f("uq_deposit_accounts_virtual_account")),
    )
    with op.batch_alter_table("deposit_accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_accounts_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_accounts_project_id"), ["project_id"], unique=False)

    op.create_table(
        "deposit_requirements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("set_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("set_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_deposit_requirements_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_deposit_requirements_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_requirements")),
        sa.UniqueConstraint("section_id", name=op.f("uq_deposit_requirements_section_id")),
    )
    with op.batch_alter_table("deposit_requirements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_requirements_project_id"), ["project_id"], unique=False)

    op.create_table(
        "deposit_credits",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bank_ref", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("virtual_account", sa.String(length=32), nullable=False),
        sa.Column("payer_account", sa.String(length=40), nullable=False),
        sa.Column("payer_name", sa.String(length=200), nullable=False),
        sa.Column("payer_bank", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("booked_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("notices", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["deposit_accounts.id"], name=op.f("fk_deposit_credits_account_id_deposit_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_credits")),
        sa.UniqueConstraint("bank_ref", name=op.f("uq_deposit_credits_bank_ref")),
    )
    with op.batch_alter_table("deposit_credits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_credits_account_id"), ["account_id"], unique=False)

    op.create_table(
        "deposit_guarantees",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("beneficiary", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("valid_from", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "problems", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("submitted_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claim_ref", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["deposit_accounts.id"], name=op.f("fk_deposit_guarantees_account_id_deposit_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_guarantees")),
        sa.UniqueConstraint("account_id", "number", name=op.f("uq_deposit_guarantees_account_id_number")),
    )
    with op.batch_alter_table("deposit_guarantees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_guarantees_account_id"), ["account_id"], unique=False)

    op.create_table(
        "deposit_refunds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("credit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("transfer_key", sa.String(length=40), nullable=False),
        sa.Column("to_account", sa.String(length=40), nullable=False),
        sa.Column("to_name", sa.String(length=200), nullable=False),
        sa.Column("to_bank", sa.String(length=200), nullable=False),
        sa.Column("principal", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("interest", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("fee", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("planned_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("bank_ref", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("unclaimed", sa.Boolean(), nullable=False),
        sa.Column("cleared_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("clear_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["deposit_accounts.id"], name=op.f("fk_deposit_refunds_account_id_deposit_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["credit_id"], ["deposit_credits.id"], name=op.f("fk_deposit_refunds_credit_id_deposit_credits")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_deposit_refunds_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deposit_refunds")),
        sa.UniqueConstraint("purpose", name=op.f("uq_deposit_refunds_purpose")),
        sa.UniqueConstraint("transfer_key", name=op.f("uq_deposit_refunds_transfer_key")),
    )
    with op.batch_alter_table("deposit_refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deposit_refunds_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_refunds_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deposit_refunds_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deposit_refunds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_refunds_state"))
        batch_op.drop_index(batch_op.f("ix_deposit_refunds_project_id"))
        batch_op.drop_index(batch_op.f("ix_deposit_refunds_account_id"))

    op.drop_table("deposit_refunds")
    with op.batch_alter_table("deposit_guarantees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_guarantees_account_id"))

    op.drop_table("deposit_guarantees")
    with op.batch_alter_table("deposit_credits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_credits_account_id"))

    op.drop_table("deposit_credits")
    with op.batch_alter_table("deposit_requirements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_requirements_project_id"))

    op.drop_table("deposit_requirements")
    with op.batch_alter_table("deposit_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_accounts_project_id"))
        batch_op.drop_index(batch_op.f("ix_deposit_accounts_org_id"))

    op.drop_table("deposit_accounts")
    op.drop_table("bidder_basic_accounts")
    with op.batch_alter_table("deposit_reconciliations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_reconciliations_day"))

    op.drop_table("deposit_reconciliations")
    with op.batch_alter_table("deposit_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deposit_ledger_debit"))
        batch_op.drop_index(batch_op.f("ix_deposit_ledger_credit"))
        batch_op.drop_index(batch_op.f("ix_deposit_ledger_booked_day"))
        batch_op.drop_index(batch_op.f("ix_deposit_ledger_bank_ref"))

    op.drop_table("deposit_ledger")
