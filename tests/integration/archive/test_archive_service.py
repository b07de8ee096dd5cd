"""Archives from a real log: entries and proofs from the database, verified offline and independently."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from typing import Any

import pytest
from sqlalchemy import text

from sunbid.archive.package import ArchiveFile, LogInfo, Subject, build_archive, verify_archive
from sunbid.archive.service import build_log_archive, collect_log_material
from sunbid.core.errors import Conflict, IntegrityFailure, ValidationFailed
from sunbid.platform.container import Platform
from tests.support import rfc9162

TENDER = "%PDF-1.7\n招标文件（施工）\n".encode() * 30


def _append(platform: Platform, n: int, *, document: bytes | None = None) -> int | None:
    """``n`` audit events; with ``document``, the middle one records its SHA-256. Returns that index."""
    doc_index = None
    for i in range(n):
        with platform.uow() as uow:
            data: dict[str, Any] = {"i": i, "说明": "归档测试"}
            if document is not None and i == n // 2:
                data["sha256"] = hashlib.sha256(document).hexdigest()
            event = uow.audit("test:archive", subject_type="thing", subject_id=i, data=data)
            uow.commit()
            if "sha256" in data:
                doc_index = event.ledger_index
    return doc_index


def _info(platform: Platform) -> LogInfo:
    return LogInfo.from_public_info(platform.public_info())


@pytest.mark.parametrize("suite_name", ["intl", "gm"], indirect=True)
def test_archive_of_real_entries_and_a_recorded_document_verifies(platform: Platform) -> None:
    doc_index = _append(platform, 9, document=TENDER)
    assert doc_index is not None
    with platform.db.read() as s:
        entries, head = collect_log_material(s, platform.ledger, [7, doc_index, 1, 7])
    assert [e.index for e in entries] == sorted({1, 7, doc_index})
    assert head.head.tree_size == 9
    files = [ArchiveFile("招标文件/招标文件.pdf", TENDER, "document", "招标文件", ledger_index=doc_index)]
    data = build_archive(files, entries, head, _info(platform), Subject("project", "CZ-2026-007", "测试项目"))
    report = verify_archive(data, trusted_key=platform.log_keypair.public)
    assert report.ok, report.problems
    assert report.trusted is True
    assert (report.files_checked, report.entries_checked, report.tree_size) == (1, 3, 9)
    with platform.db.read() as s:
        assert report.root_hash == platform.ledger.root_at(s, 9).hex()


def test_one_archived_proof_checks_with_independent_rfc9162_code(platform: Platform) -> None:
    _append(platform, 13)
    with platform.db.read() as s:
        data = build_log_archive(s, platform.ledger, _info(platform), [4, 12], created_at=platform.clock.now())
    assert verify_archive(data, trusted_key=platform.log_keypair.public).ok
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("manifest.json"))
    sth = manifest["signed_tree_head"]
    entry = manifest["entries"][0]
    body = base64.b64decode(entry["body"])
    assert json.loads(body)["data"] == {"i": 4, "说明": "归档测试"}
    assert rfc9162.leaf(body).hex() == entry["leaf_hash"]
    proof = [bytes.fromhex(p) for p in entry["inclusion_proof"]]
    root = bytes.fromhex(sth["root_hash"])
    assert rfc9162.verify_inclusion(4, sth["tree_size"], rfc9162.leaf(body), proof, root)
    assert not rfc9162.verify_inclusion(5, sth["tree_size"], rfc9162.leaf(body), proof, root)


def test_an_archive_stays_valid_after_the_log_grows(platform: Platform) -> None:
    _append(platform, 5)
    with platform.db.read() as s:
        old = build_log_archive(s, platform.ledger, _info(platform), [2], created_at=platform.clock.now())
    _append(platform, 6)
    with platform.db.read() as s:
        new = build_log_archive(s, platform.ledger, _info(platform), [2], created_at=platform.clock.now())
    old_report = verify_archive(old, trusted_key=platform.log_keypair.public)
    new_report = verify_archive(new, trusted_key=platform.log_keypair.public)
    assert old_report.ok and new_report.ok
    assert (old_report.tree_size, new_report.tree_size) == (5, 11)


def test_indices_outside_the_signed_head_are_refused(platform: Platform) -> None:
    _append(platform, 3)
    with platform.db.read() as s, pytest.raises(ValidationFailed) as err:
        collect_log_material(s, platform.ledger, [1, 3])
    assert err.value.code == "archive.index_out_of_range"
    assert "3" in err.value.message_zh and "3" in err.value.message_en
    with platform.db.read() as s, pytest.raises(ValidationFailed):
        collect_log_material(s, platform.ledger, [-1])


def test_an_empty_log_has_nothing_to_archive(platform: Platform) -> None:
    with platform.db.read() as s, pytest.raises(Conflict) as err:
        collect_log_material(s, platform.ledger, [0])
    assert err.value.code == "archive.log_empty"


def test_a_tampered_entry_is_refused_before_archiving(platform: Platform) -> None:
    _append(platform, 6)
    with platform.db.engine.begin() as conn:
        body = bytes(conn.execute(text("SELECT body FROM ledger_entries WHERE idx = 2")).scalar_one())
        changed = body.replace(b'"i":2', b'"i":9')
        assert changed != body
        conn.execute(text("UPDATE ledger_entries SET body = :b WHERE idx = 2"), {"b": changed})
    with platform.db.read() as s:
        assert len(collect_log_material(s, platform.ledger, [1, 3]).entries) == 2  # others are fine
        with pytest.raises(IntegrityFailure) as err:
            collect_log_material(s, platform.ledger, [2])
    assert err.value.code == "archive.log_inconsistent"


def test_a_tampered_leaf_hash_is_refused_before_archiving(platform: Platform) -> None:
    _append(platform, 6)
    with platform.db.engine.begin() as conn:
        body = bytes(conn.execute(text("SELECT body FROM ledger_entries WHERE idx = 4")).scalar_one())
        changed = body.replace(b'"i":4', b'"i":8')
        assert changed != body
        leaf = rfc9162.leaf(changed)
        conn.execute(
            text("UPDATE ledger_entries SET body = :b, leaf_hash = :l WHERE idx = 4"),
            {"b": changed, "l": leaf},
        )
    with platform.db.read() as s, pytest.raises(IntegrityFailure) as err:
        collect_log_material(s, platform.ledger, [4])
    assert err.value.code == "archive.log_inconsistent"
