"""Expert pool and expert draws: experts (personal data encrypted), specialties, employments, status history,
penalties, draw history, draws (sealed panel) and their seats (by position only).

Revision ID: 9d4f3b8a5e04
Revises: ae5a4c9b6f06
Create Date: 2026-11-23 08:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "9d4f3b8a5e04"
down_revision: str | None = "ae5a4c9b6f06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "experts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("pii", sa.LargeBinary(), nullable=False),
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "regulator_sectors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "conflict_orgs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "conflict_persons",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experts")),
        sa.UniqueConstraint("code", name=op.f("uq_experts_code")),
        sa.UniqueConstraint("id_digest", name=op.f("uq_experts_id_digest")),
    )
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_experts_region_code"), ["region_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_experts_status"), ["status"], unique=False)

    op.create_table(
        "expert_employments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("employer_uscc", sa.String(length=18), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_employments_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_employments")),
    )
    with op.batch_alter_table("expert_employments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_employments_employer_uscc"), ["employer_uscc"], unique=False)
        batch_op.create_index(batch_op.f("ix_expert_employments_expert_id"), ["expert_id"], unique=False)

    op.create_table(
        "expert_penalties",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_penalties_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_penalties")),
    )
    with op.batch_alter_table("expert_penalties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_penalties_expert_id"), ["expert_id"], unique=False)

    op.create_table(
        "expert_specialties",
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_specialties_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("expert_id", "code", name=op.f("pk_expert_specialties")),
    )
    with op.batch_alter_table("expert_specialties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_specialties_code"), ["code"], unique=False)

    op.create_table(
        "expert_status_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("occurred_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_status_events_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_status_events")),
    )
    with op.batch_alter_table("expert_status_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_status_events_expert_id"), ["expert_id"], unique=False)

    op.create_table(
        "expert_draws",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suite", sa.String(length=8), nullable=False),
        sa.Column(
            "subject", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "requests", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "policy", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "persons", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column(
            "commitment", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("evaluation_starts_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("response_minutes", sa.Integer(), nullable=False),
        sa.Column("candidates_digest", sa.String(length=64), nullable=True),
        sa.Column("candidates_count", sa.Integer(), nullable=True),
        sa.Column("sealed_panel", sa.LargeBinary(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("record_json", sa.Text(), nullable=True),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("drawn_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unsealed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_expert_draws_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_draws")),
    )
    with op.batch_alter_table("expert_draws", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_draws_project_id"), ["project_id"], unique=False)

    op.create_table(
        "expert_draw_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("expert_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("draw_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("drawn_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["draw_id"],
            ["expert_draws.id"],
            name=op.f("fk_expert_draw_history_draw_id_expert_draws"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["expert_id"], ["experts.id"], name=op.f("fk_expert_draw_history_expert_id_experts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_draw_history")),
        sa.UniqueConstraint("draw_id", "expert_id", name=op.f("uq_expert_draw_history_draw_id_expert_id")),
    )
    with op.batch_alter_table("expert_draw_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_draw_history_expert_id"), ["expert_id"], unique=False)

    op.create_table(
        "expert_draw_seats",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("draw_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("specialty", sa.String(length=16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("reserve", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("notified_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("respond_by", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["draw_id"], ["expert_draws.id"], name=op.f("fk_expert_draw_seats_draw_id_expert_draws"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_expert_draw_seats")),
        sa.UniqueConstraint("draw_id", "seq", name=op.f("uq_expert_draw_seats_draw_id_seq")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_expert_draw_seats_token_digest")),
    )
    with op.batch_alter_table("expert_draw_seats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_expert_draw_seats_draw_id"), ["draw_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("expert_draw_seats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_draw_seats_draw_id"))

    op.drop_table("expert_draw_seats")
    with op.batch_alter_table("expert_draw_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_draw_history_expert_id"))

    op.drop_table("expert_draw_history")
    with op.batch_alter_table("expert_draws", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_draws_project_id"))

    op.drop_table("expert_draws")
    with op.batch_alter_table("expert_status_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_status_events_expert_id"))

    op.drop_table("expert_status_events")
    with op.batch_alter_table("expert_specialties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_specialties_code"))

    op.drop_table("expert_specialties")
    with op.batch_alter_table("expert_penalties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_penalties_expert_id"))

    op.drop_table("expert_penalties")
    with op.batch_alter_table("expert_employments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_expert_employments_expert_id"))
        batch_op.drop_index(batch_op.f("ix_expert_employments_employer_uscc"))

    op.drop_table("expert_employments")
    with op.batch_alter_table("experts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experts_status"))
        batch_op.drop_index(batch_op.f("ix_experts_region_code"))

    op.drop_table("experts")
