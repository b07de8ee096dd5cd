"""Projects: sections, step history, documents, objections, contract signatures.

Revision ID: 6f5c37b9dcc4
Revises: 4e38b041174c
Create Date: 2026-11-22 21:40:40.563454+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import sunbid.platform.db

revision: str = "6f5c37b9dcc4"
down_revision: str | None = "4e38b041174c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("procedure_code", sa.String(length=40), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("centre_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenderer_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("facts", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("green_channel", sa.Boolean(), nullable=False),
        sa.Column("accept_with_promise", sa.Boolean(), nullable=False),
        sa.Column("winner_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("award_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("created_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_org_id"], ["organisations.id"], name=op.f("fk_projects_agency_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["centre_id"], ["centres.id"], name=op.f("fk_projects_centre_id_centres")),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_projects_region_code_regions")),
        sa.ForeignKeyConstraint(
            ["tenderer_org_id"], ["organisations.id"], name=op.f("fk_projects_tenderer_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["winner_org_id"], ["organisations.id"], name=op.f("fk_projects_winner_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("code", name=op.f("uq_projects_code")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_projects_agency_org_id"), ["agency_org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_state"), ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_projects_tenderer_org_id"), ["tenderer_org_id"], unique=False)

    op.create_table(
        "project_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("filename", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("uploaded_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ledger_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_documents_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_documents")),
    )
    with op.batch_alter_table("project_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_documents_project_id"), ["project_id"], unique=False)

    op.create_table(
        "project_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("from_state", sa.String(length=40), nullable=False),
        sa.Column("to_state", sa.String(length=40), nullable=False),
        sa.Column("occurred_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("actor_org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("actor_role", sa.String(length=32), nullable=False),
        sa.Column("data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("ledger_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_events")),
        sa.UniqueConstraint("project_id", "seq", name=op.f("uq_project_events_project_id_seq")),
    )
    with op.batch_alter_table("project_events", schema=None) as batch_op:
        batch_op.create_index("ix_project_events_project", ["project_id"], unique=False)

    op.create_table(
        "project_objections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("raised_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reply_due_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("replied_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replied_by_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("upheld", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_project_objections_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_objections_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_objections")),
    )
    with op.batch_alter_table("project_objections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_objections_project_id"), ["project_id"], unique=False)

    op.create_table(
        "project_sections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("max_price", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_sections_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_sections")),
        sa.UniqueConstraint("project_id", "code", name=op.f("uq_project_sections_project_id_code")),
    )
    with op.batch_alter_table("project_sections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_project_sections_project_id"), ["project_id"], unique=False)

    op.create_table(
        "contract_signatures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("party", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("certificate_serial", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.Column("signed_at", sunbid.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["project_documents.id"],
            name=op.f("fk_contract_signatures_document_id_project_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_contract_signatures_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_contract_signatures_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_signatures")),
        sa.UniqueConstraint(
            "project_id",
            "document_id",
            "party",
            name=op.f("uq_contract_signatures_project_id_document_id_party"),
        ),
    )
    with op.batch_alter_table("contract_signatures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contract_signatures_project_id"), ["project_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("contract_signatures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contract_signatures_project_id"))

    op.drop_table("contract_signatures")
    with op.batch_alter_table("project_sections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_sections_project_id"))

    op.drop_table("project_sections")
    with op.batch_alter_table("project_objections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_objections_project_id"))

    op.drop_table("project_objections")
    with op.batch_alter_table("project_events", schema=None) as batch_op:
        batch_op.drop_index("ix_project_events_project")

    op.drop_table("project_events")
    with op.batch_alter_table("project_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_project_documents_project_id"))

    op.drop_table("project_documents")
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_projects_tenderer_org_id"))
        batch_op.drop_index(batch_op.f("ix_projects_state"))
        batch_op.drop_index(batch_op.f("ix_projects_agency_org_id"))

    op.drop_table("projects")
