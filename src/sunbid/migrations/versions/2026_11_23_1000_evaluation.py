"""Evaluation: the project's method, the evaluation, committee members, scores and deviation interventions.

Revision ID: bf6b5d0c7e08
Revises: 8c3e2a7f4d03
Create Date: 2026-11-23 10:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "bf6b5d0c7e08"
down_revision: str | None = "8c3e2a7f4d03"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _time() -> sunbid.platform.db.UTCDateTime:
    return sunbid.platform.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "evaluation_methods",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("method_id", sa.String(length=64), nullable=False),
        sa.Column("method_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_id", _ID, nullable=True),
        sa.Column("attached_at", _time(), nullable=False),
        sa.Column("attached_by_user_id", _ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_evaluation_methods_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_methods")),
        sa.UniqueConstraint("project_id", name=op.f("uq_evaluation_methods_project_id")),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", _ID, nullable=False),
        sa.Column("project_id", _ID, nullable=False),
        sa.Column("draw_id", _ID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("drawn_k", sa.String(length=32), nullable=True),
        sa.Column("formed_at", _time(), nullable=False),
        sa.Column("started_at", _time(), nullable=True),
        sa.Column("scored_at", _time(), nullable=True),
        sa.Column("result", _json(), nullable=True),
        sa.Column("report_key", sa.String(length=300), nullable=True),
        sa.Column("report_sha256", sa.String(length=64), nullable=True),
        sa.Column("report_built_at", _time(), nullable=True),
        sa.Column("signatures", sa.Integer(), nullable=False),
        sa.Column("report_document_id", _ID, nullable=True),
        sa.Column("submitted_at", _time(), nullable=True),
        sa.Column("candidates", _json(), nullable=True),
        sa.Column("published_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_evaluations_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
        sa.UniqueConstraint("project_id", name=op.f("uq_evaluations_project_id")),
    )
    op.create_table(
        "evaluation_members",
        sa.Column("id", _ID, nullable=False),
        sa.Column("evaluation_id", _ID, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("expert_code", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("leader", sa.Boolean(), nullable=False),
        sa.Column("access_digest", sa.String(length=64), nullable=True),
        sa.Column("access_expires_at", _time(), nullable=True),
        sa.Column("signed_in_at", _time(), nullable=True),
        sa.Column("submitted_at", _time(), nullable=True),
        sa.Column("certificate_serial", sa.String(length=64), nullable=True),
        sa.Column("certificate_pem", sa.Text(), nullable=True),
        sa.Column("certificate_fingerprint", sa.String(length=128), nullable=True),
        sa.Column("signed_report_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_members_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_evaluation_members_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_members")),
        sa.UniqueConstraint("evaluation_id", "seq", name=op.f("uq_evaluation_members_evaluation_id_seq")),
        sa.UniqueConstraint("evaluation_id", "user_id", name=op.f("uq_evaluation_members_evaluation_id_user_id")),
    )
    with op.batch_alter_table("evaluation_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluation_members_evaluation_id"), ["evaluation_id"], unique=False)
    op.create_table(
        "evaluation_scores",
        sa.Column("id", _ID, nullable=False),
        sa.Column("evaluation_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("bidder", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("objective", sa.Boolean(), nullable=False),
        sa.Column("score", sa.String(length=16), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_scores_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["evaluation_members.id"],
            name=op.f("fk_evaluation_scores_member_id_evaluation_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_scores")),
        sa.UniqueConstraint(
            "evaluation_id",
            "member_id",
            "bidder",
            "item",
            name=op.f("uq_evaluation_scores_evaluation_id_member_id_bidder_item"),
        ),
    )
    with op.batch_alter_table("evaluation_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluation_scores_evaluation_id"), ["evaluation_id"], unique=False)
    op.create_table(
        "evaluation_interventions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("evaluation_id", _ID, nullable=False),
        sa.Column("member_id", _ID, nullable=False),
        sa.Column("bidder", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("score", sa.String(length=16), nullable=False),
        sa.Column("mean", sa.String(length=32), nullable=False),
        sa.Column("deviation", sa.String(length=32), nullable=False),
        sa.Column("threshold", sa.String(length=32), nullable=False),
        sa.Column("basis", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detected_at", _time(), nullable=False),
        sa.Column("resolved_at", _time(), nullable=True),
        sa.Column("ledger_index", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["evaluation_id"],
            ["evaluations.id"],
            name=op.f("fk_evaluation_interventions_evaluation_id_evaluations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["evaluation_members.id"],
            name=op.f("fk_evaluation_interventions_member_id_evaluation_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_interventions")),
    )
    with op.batch_alter_table("evaluation_interventions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluation_interventions_evaluation_id"), ["evaluation_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("evaluation_interventions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_interventions_evaluation_id"))
    op.drop_table("evaluation_interventions")
    with op.batch_alter_table("evaluation_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_scores_evaluation_id"))
    op.drop_table("evaluation_scores")
    with op.batch_alter_table("evaluation_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_members_evaluation_id"))
    op.drop_table("evaluation_members")
    op.drop_table("evaluations")
    op.drop_table("evaluation_methods")
