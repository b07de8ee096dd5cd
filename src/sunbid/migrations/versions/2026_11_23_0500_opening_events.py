"""Opening hall events: the ordered, replayable stream of each project's opening session.

Revision ID: 7a1c0e5d2b01
Revises: 5bc9ba53cfde
Create Date: 2026-11-22 23:50:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "7a1c0e5d2b01"
down_revision: str | None = "5bc9ba53cfde"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opening_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("occurred_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_opening_events_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_events")),
        sa.UniqueConstraint("project_id", "seq", name=op.f("uq_opening_events_project_id_seq")),
    )
    with op.batch_alter_table("opening_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opening_events_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("opening_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_events_project_id"))
    op.drop_table("opening_events")
