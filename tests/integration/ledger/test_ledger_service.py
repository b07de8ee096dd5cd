"""The transparency log on a real database: append, heads, proofs, and tamper detection."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from sunbid.ledger.models import AuditEvent, LedgerEntry, SignedHead
from sunbid.platform.container import Platform
from tests.support import rfc9162


def _append_audits(platform: Platform, n: int, batch: int = 1) -> None:
    done = 0
    while done < n:
        with platform.uow() as uow:
            for _ in range(min(batch, n - done)):
                uow.audit("test:append", subject_type="thing", subject_id=done, data={"i": done, "名": "测试"})
                done += 1
            uow.commit()


@pytest.mark.parametrize("suite_name", ["intl", "gm"], indirect=True)
def test_untouched_log_verifies_with_every_head_checked(platform: Platform) -> None:
    _append_audits(platform, 13, batch=3)
    with platform.db.read() as s:
        report = platform.ledger.verify(s)
        heads = s.scalars(select(SignedHead)).all()
    assert report.ok, report.as_dict()
    assert report.tree_size == 13
    assert report.audit_events_checked == 13
    assert report.heads_checked == len(heads) == 5  # one signed head per committed transaction


def test_rolled_back_work_leaves_no_entry(platform: Platform) -> None:
    _append_audits(platform, 2)
    with platform.uow() as uow:
        uow.audit("test:append", data={"lost": True})
        # no commit: leaving the block rolls back
    with platform.db.read() as s:
        assert platform.ledger.size(s) == 2
        assert platform.ledger.verify(s).ok


def test_inclusion_and_consistency_proofs_verify_independently(platform: Platform) -> None:
    _append_audits(platform, 21, batch=4)
    with platform.db.read() as s:
        size = platform.ledger.size(s)
        root = platform.ledger.root_at(s, size)
        for i in range(size):
            entry = platform.ledger.entry(s, i)
            assert rfc9162.leaf(entry.body) == entry.leaf_hash
            proof = platform.ledger.inclusion_proof(s, i, size)
            assert rfc9162.verify_inclusion(i, size, entry.leaf_hash, proof, root)
            assert not rfc9162.verify_inclusion(i, size, b"\x00" * 32, proof, root)
        for m in range(0, size + 1):
            proof = platform.ledger.consistency_proof(s, m, size)
            r1 = platform.ledger.root_at(s, m)
            assert rfc9162.verify_consistency(m, size, r1, root, proof)
            if 0 < m < size:
                assert not rfc9162.verify_consistency(m, size, b"\x11" * 32, root, proof)


def _tamper(platform: Platform, sql: str, **params: object) -> None:
    with platform.db.engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize("suite_name", ["intl", "gm"], indirect=True)
@pytest.mark.parametrize(
    ("sql", "what"),
    [
        ("UPDATE ledger_entries SET body = :b WHERE idx = 3", "ledger_entry"),
        ("UPDATE ledger_entries SET leaf_hash = :h WHERE idx = 3", "ledger_entry"),
        ("UPDATE audit_events SET ip = '10.9.9.9' WHERE ledger_index = 3", "audit_event"),
        ("UPDATE audit_events SET tag = 'system:test:append2' WHERE ledger_index = 3", "audit_event"),
        ("UPDATE ledger_heads SET root_hash = :h WHERE tree_size = 4", "signed_head"),
        ("UPDATE ledger_heads SET timestamp_ms = timestamp_ms + 1 WHERE tree_size = 4", "signed_head"),
    ],
)
def test_one_changed_byte_is_detected_and_named(platform: Platform, sql: str, what: str) -> None:
    _append_audits(platform, 6, batch=2)
    with platform.db.read() as s:
        body = s.get(LedgerEntry, 3).body  # type: ignore[union-attr]
    changed = bytearray(body)
    changed[10] ^= 0x01
    _tamper(platform, sql, b=bytes(changed), h=b"\x42" * 32)
    with platform.db.read() as s:
        report = platform.ledger.verify(s)
    assert not report.ok
    named = {(p.what, str(p.id)) for p in report.problems}
    expected_id = "4" if what == "signed_head" else "3"
    if what == "audit_event":
        with platform.db.read() as s:
            expected_id = str(s.scalar(select(AuditEvent.id).where(AuditEvent.ledger_index == 3)))
    assert (what, expected_id) in named, report.as_dict()


def test_deleted_entry_is_detected(platform: Platform) -> None:
    _append_audits(platform, 5)
    _tamper(platform, "DELETE FROM audit_events WHERE ledger_index = 4")
    _tamper(platform, "DELETE FROM ledger_entries WHERE idx = 4")
    with platform.db.read() as s:
        report = platform.ledger.verify(s)
    assert not report.ok
    assert any(p.what in ("signed_head", "state") for p in report.problems)


def test_appends_continue_the_same_tree_after_restart(platform: Platform, settings: object) -> None:
    _append_audits(platform, 7)
    again = Platform(platform.settings, clock=platform.clock)
    with again.uow() as uow:
        uow.audit("test:append", data={"after": "restart"})
        uow.commit()
    with again.db.read() as s:
        assert again.ledger.size(s) == 8
        assert again.ledger.verify(s).ok
    again.close()


@pytest.mark.parametrize("suite_name", ["gm"], indirect=True)
def test_gm_log_uses_sm3_and_sm2(platform: Platform) -> None:
    _append_audits(platform, 3)
    with platform.db.read() as s:
        head = platform.ledger.latest_head(s)
        entry = platform.ledger.entry(s, 0)
    assert head is not None and head.suite == "gm" and len(head.signature) == 64
    assert entry.leaf_hash == platform.suite.digest(b"\x00" + entry.body)


def test_platform_secrets_are_private(platform: Platform) -> None:
    import stat

    _append_audits(platform, 1)
    platform.ca()
    files = sorted(p.name for p in platform.settings.secrets_dir.iterdir())
    assert "log_signing.json" in files and "ca.json" in files
    for p in platform.settings.secrets_dir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
