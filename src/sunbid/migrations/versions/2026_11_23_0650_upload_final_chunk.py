"""Bid uploads remember when their final chunk was received (the moment the deadline is judged by).

Revision ID: ae5a4c9b6f06
Revises: 7b2d1f6e3c02
Create Date: 2026-11-23 00:20:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import sunbid.platform.db

revision: str = "ae5a4c9b6f06"
down_revision: str | None = "7b2d1f6e3c02"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bid_uploads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("final_chunk_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bid_uploads", schema=None) as batch_op:
        batch_op.drop_column("final_chunk_at")
