"""The schema module registers every feature's tables, in a fresh interpreter (as Alembic imports it)."""

from __future__ import annotations

import subprocess
import sys


def test_schema_module_alone_registers_every_table() -> None:
    code = "from sunbid.platform.schema import metadata; print(' '.join(sorted(metadata.tables)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for table in (
        "organisations",
        "ledger_entries",
        "audit_events",
        "outbox_messages",
        "calendar_overrides",
        "notifications",
        "projects",
        "project_events",
        "contract_signatures",
        "bids",
    ):
        assert table in out, table
