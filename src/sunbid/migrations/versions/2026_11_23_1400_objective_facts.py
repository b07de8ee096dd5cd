"""Objective facts: the manifest's ``extra`` kept at the opening, and the committee's fact corrections (per section).

Revision ID: d18a2c3e4f10
Revises: e29b3d4f5a11
Create Date: 2026-11-23 14:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "d18a2c3e4f10"
down_revision: str | None = "e29b3d4f5a11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("opening_bids", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "extra", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )
    op.create_table(
        "evaluation_fact_corrections",
        sa.Column("id", _ID, nullable=False),
        sa.Column("evaluation_id", _ID, nullable=False),
        sa.Column("section", sa.String(length=64), nullable=False),
        sa.Column("bidder", sa.String(length=32), nullable=False),
        sa.Column("field", sa.String(length=80), nullable=False),
        sa.Column("declared", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("corrected_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_fact_corrections_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["evaluation_members.id"],
            name=op.f("fk_evaluation_fact_corrections_member_id_evaluation_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_fact_corrections")),
    )
    with op.batch_alter_table("evaluation_fact_corrections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evaluation_fact_corrections_evaluation_id"), ["evaluation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation_fact_corrections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_fact_corrections_evaluation_id"))
    op.drop_table("evaluation_fact_corrections")
    with op.batch_alter_table("opening_bids", schema=None) as batch_op:
        batch_op.drop_column("extra")
