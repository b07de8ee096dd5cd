"""Opening: section opening keys and custodian shares, sessions, bids at opening, posted shares, objections.

Revision ID: 7b2d1f6e3c02
Revises: 7a1c0e5d2b01
Create Date: 2026-11-23 06:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "7b2d1f6e3c02"
down_revision: str | None = "7a1c0e5d2b01"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opening_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("started_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decryption_closed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "draws", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "record", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("record_hash", sa.String(length=128), nullable=True),
        sa.Column("record_ledger_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("published_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("valid_bids", sa.Integer(), nullable=True),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_opening_sessions_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_sessions")),
        sa.UniqueConstraint("project_id", "round", name=op.f("uq_opening_sessions_project_id_round")),
    )
    with op.batch_alter_table("opening_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_sessions_project_id"), ["project_id"], unique=False)
    op.create_table(
        "opening_keys",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("suite", sa.String(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("context", sa.String(length=300), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("fallback_possible", sa.Boolean(), nullable=False),
        sa.Column(
            "draw_commitment",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("draw_secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_opening_keys_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_opening_keys_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_keys")),
        sa.UniqueConstraint("section_id", name=op.f("uq_opening_keys_section_id")),
    )
    with op.batch_alter_table("opening_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_keys_project_id"), ["project_id"], unique=False)

    op.create_table(
        "opening_objections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("raised_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_opening_objections_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_opening_objections_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["opening_sessions.id"],
            name=op.f("fk_opening_objections_session_id_opening_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_objections")),
    )
    with op.batch_alter_table("opening_objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_objections_session_id"), ["session_id"], unique=False)

    op.create_table(
        "opening_key_shares",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("share_index", sa.Integer(), nullable=False),
        sa.Column("custodian_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("certificate_serial", sa.String(length=64), nullable=False),
        sa.Column("encrypted_share", sa.Text(), nullable=False),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["custodian_org_id"],
            ["organisations.id"],
            name=op.f("fk_opening_key_shares_custodian_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["opening_keys.id"], name=op.f("fk_opening_key_shares_key_id_opening_keys"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_key_shares")),
        sa.UniqueConstraint("key_id", "share_index", name=op.f("uq_opening_key_shares_key_id_share_index")),
    )
    with op.batch_alter_table("opening_key_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_key_shares_custodian_org_id"), ["custodian_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opening_key_shares_key_id"), ["key_id"], unique=False)

    op.create_table(
        "opening_share_posts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("share_index", sa.Integer(), nullable=False),
        sa.Column("custodian_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("share_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("posted_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ledger_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["custodian_org_id"],
            ["organisations.id"],
            name=op.f("fk_opening_share_posts_custodian_org_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["key_id"], ["opening_keys.id"], name=op.f("fk_opening_share_posts_key_id_opening_keys"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["opening_sessions.id"],
            name=op.f("fk_opening_share_posts_session_id_opening_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_share_posts")),
        sa.UniqueConstraint("key_id", "share_index", name=op.f("uq_opening_share_posts_key_id_share_index")),
    )
    with op.batch_alter_table("opening_share_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_share_posts_session_id"), ["session_id"], unique=False)

    op.create_table(
        "opening_bids",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("bid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_problem", sa.String(length=64), nullable=True),
        sa.Column("checked_in_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decrypted_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("opened_by", sa.String(length=16), nullable=True),
        sa.Column("price", sa.String(length=32), nullable=True),
        sa.Column("duration_days", sa.Integer(), nullable=True),
        sa.Column("quality", sa.String(length=200), nullable=True),
        sa.Column("manifest_digest", sa.String(length=128), nullable=True),
        sa.Column(
            "documents", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("content_key_sealed", sa.LargeBinary(), nullable=True),
        sa.Column(
            "deposit_status",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "failure", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("confirmed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["bid_id"], ["bids.id"], name=op.f("fk_opening_bids_bid_id_bids")),
        sa.ForeignKeyConstraint(["org_id"], ["organisations.id"], name=op.f("fk_opening_bids_org_id_organisations")),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["project_sections.id"],
            name=op.f("fk_opening_bids_section_id_project_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["opening_sessions.id"],
            name=op.f("fk_opening_bids_session_id_opening_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_bids")),
        sa.UniqueConstraint("bid_id", name=op.f("uq_opening_bids_bid_id")),
    )
    with op.batch_alter_table("opening_bids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_bids_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opening_bids_session_id"), ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opening_bids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_bids_session_id"))
        batch_op.drop_index(batch_op.f("ix_opening_bids_org_id"))

    op.drop_table("opening_bids")
    with op.batch_alter_table("opening_share_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_share_posts_session_id"))

    op.drop_table("opening_share_posts")
    with op.batch_alter_table("opening_key_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_key_shares_key_id"))
        batch_op.drop_index(batch_op.f("ix_opening_key_shares_custodian_org_id"))

    op.drop_table("opening_key_shares")
    with op.batch_alter_table("opening_objections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_objections_session_id"))

    op.drop_table("opening_objections")
    with op.batch_alter_table("opening_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_keys_project_id"))

    op.drop_table("opening_keys")
    with op.batch_alter_table("opening_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_sessions_project_id"))
    op.drop_table("opening_sessions")
