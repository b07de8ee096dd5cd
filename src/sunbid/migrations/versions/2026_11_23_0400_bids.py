"""Bids: resumable upload sessions and submitted sealed bids with their receipts.

Revision ID: 5bc9ba53cfde
Revises: 6f5c37b9dcc4
Create Date: 2026-11-22 22:28:39.663886+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "5bc9ba53cfde"
down_revision: str | None = "6f5c37b9dcc4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bid_uploads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("declared_hash", sa.String(length=64), nullable=False),
        sa.Column("length", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("offset", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_bid_uploads_org_id_organisations")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_bid_uploads_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_bid_uploads_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_uploads")),
    )
    with op.batch_alter_table("bid_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bid_uploads_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_bid_uploads_project_id"), ["project_id"], unique=False)

    op.create_table(
        "bids",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("upload_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("container_hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("received_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ledger_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bidder_salt", sa.String(length=64), nullable=False),
        sa.Column("receipt", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("withdrawn_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaced_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_bids_org_id_organisations")),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_bids_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_bids_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["upload_id"], ["bid_uploads.id"], name=op.f("fk_bids_upload_id_bid_uploads")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bids")),
        sa.UniqueConstraint("upload_id", name=op.f("uq_bids_upload_id")),
    )
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bids_org_id"), ["org_id"], unique=False)
        batch_op.create_index("ix_bids_project_section", ["project_id", "section_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bids", schema=None) as batch_op:
        batch_op.drop_index("ix_bids_project_section")
        batch_op.drop_index(batch_op.f("ix_bids_org_id"))

    op.drop_table("bids")
    with op.batch_alter_table("bid_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bid_uploads_project_id"))
        batch_op.drop_index(batch_op.f("ix_bid_uploads_org_id"))

    op.drop_table("bid_uploads")
