"""Calendar: the centre's overrides of the official working-day calendar.

Revision ID: b3f1511ada8f
Revises: a6c0985a78e0
Create Date: 2026-11-22 21:23:06.568768+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sunbid.platform.db

revision: str = "b3f1511ada8f"
down_revision: str | None = "a6c0985a78e0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_overrides",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("is_working", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("date", name=op.f("pk_calendar_overrides")),
    )


def downgrade() -> None:
    op.drop_table("calendar_overrides")
