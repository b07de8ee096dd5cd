"""Evaluation of multi-section projects: scores and interventions carry the section 标段 code.

Existing rows get the code of their project's section (projects evaluated so far had exactly one).

Revision ID: e29b3d4f5a11
Revises: c07c6e1d8f09
Create Date: 2026-11-23 13:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e29b3d4f5a11"
down_revision: str | None = "c07c6e1d8f09"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILL = """
UPDATE {table} SET section = (
    SELECT MIN(project_sections.code) FROM project_sections
    JOIN evaluations ON evaluations.project_id = project_sections.project_id
    WHERE evaluations.id = {table}.evaluation_id
)
"""

_DROP_OTHERS = """
DELETE FROM {table} WHERE section <> (
    SELECT MIN(project_sections.code) FROM project_sections
    JOIN evaluations ON evaluations.project_id = project_sections.project_id
    WHERE evaluations.id = {table}.evaluation_id
)
"""


def upgrade() -> None:
    for table in ("evaluation_scores", "evaluation_interventions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("section", sa.String(length=64), nullable=True))
        op.execute(_FILL.format(table=table))
        op.execute(f"UPDATE {table} SET section = '01' WHERE section IS NULL")  # noqa: S608 (a constant name)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("section", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("evaluation_scores", schema=None) as batch_op:
        batch_op.drop_constraint("uq_evaluation_scores_evaluation_id_member_id_bidder_item", type_="unique")
        batch_op.create_unique_constraint(
            "uq_evaluation_scores_member_section_item", ["evaluation_id", "member_id", "section", "bidder", "item"]
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation_scores", schema=None) as batch_op:
        batch_op.drop_constraint("uq_evaluation_scores_member_section_item", type_="unique")
    # Scores of any section but the project's first are dropped: the old schema holds one section.
    for table in ("evaluation_scores", "evaluation_interventions"):
        op.execute(_DROP_OTHERS.format(table=table))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("section")
    with op.batch_alter_table("evaluation_scores", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_evaluation_scores_evaluation_id_member_id_bidder_item", ["evaluation_id", "member_id", "bidder", "item"]
        )
