"""The archive format: round trip, determinism, and every kind of tampering named by its problem code."""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import random
import zipfile
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from tests.unit.archive.archive_world import (
    LOG_ID,
    OPENING_RECORD,
    TENDER_DOC,
    World,
    files_of,
    make_world,
    manifest_of,
    members,
    sha256_hex,
    sign_head,
)

from sunbid.archive.package import (
    FORMAT,
    ArchiveEntry,
    ArchiveError,
    ArchiveFile,
    LogInfo,
    Subject,
    build_archive,
    entry_mentions,
    pack,
    verify_archive,
)
from sunbid.crypto.suite import get_suite
from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.merkle import MemoryTree, leaf_hash


@pytest.fixture
def world() -> World:
    return make_world()


def _repack(data: bytes, manifest: dict[str, Any] | None = None, files: dict[str, bytes] | None = None) -> bytes:
    """The archive re-packed canonically with a changed manifest and/or files (CRCs correct)."""
    return pack(
        manifest if manifest is not None else manifest_of(data),
        files if files is not None else files_of(data),
    )


# --- round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_round_trip_verifies_and_reports_what_it_checked(suite_name: str) -> None:
    w = make_world(suite_name)
    data = w.build()
    report = verify_archive(data, trusted_key=w.keypair.public)
    assert report.ok, report.problems
    assert report.trusted is True
    assert (report.files_checked, report.entries_checked) == (3, 4)
    assert report.tree_size == 11
    assert report.root_hash == w.tree.root().hex()
    assert report.log_id == LOG_ID
    assert report.subject == {"kind": "project", "code": "CZ-2026-001", "name": "池州市某道路工程施工"}
    assert report.created_at == "2025-11-23T06:40:00.000Z"  # defaults to the head's time
    assert report.archive_sha256 == hashlib.sha256(data).hexdigest()
    assert report.as_dict()["problems"] == []


def test_without_a_trusted_key_it_is_consistent_but_not_trusted(world: World) -> None:
    report = verify_archive(world.build())
    assert report.ok is True
    assert report.trusted is False


def test_trusted_fingerprint_is_checked(world: World) -> None:
    data = world.build()
    fingerprint = world.suite.public_key_fingerprint(world.keypair.public)
    assert verify_archive(data, trusted_fingerprint=fingerprint.upper()).trusted is True
    other = verify_archive(data, trusted_fingerprint="00" * 32)
    assert other.ok is False and other.codes() == ["archive.untrusted_key"]


def test_same_inputs_give_the_same_bytes_whatever_their_order(world: World) -> None:
    first = world.build()
    shuffled = copy.copy(world)
    shuffled.files = list(reversed(world.files))
    shuffled.entries = random.Random(7).sample(world.entries, len(world.entries))
    assert shuffled.build() == first
    assert world.build() == first
    later = world.build(created_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone(timedelta(hours=8))))
    assert later != first
    assert manifest_of(later)["created_at"] == "2026-01-01T19:04:05.678Z"


@pytest.mark.parametrize(("ms", "expected"), [(123, "06:40:00.123Z"), (1, "06:40:00.001Z"), (999, "06:40:00.999Z")])
def test_created_at_defaults_to_the_heads_exact_millisecond(world: World, ms: int, expected: str) -> None:
    world.head = sign_head(world.suite, world.keypair, world.tree, timestamp_ms=1_763_880_000_000 + ms)
    data = world.build()
    assert manifest_of(data)["created_at"] == "2025-11-23T" + expected
    assert verify_archive(data, trusted_key=world.keypair.public).created_at == "2025-11-23T" + expected


def test_any_zip_reader_sees_stored_members_manifest_first(world: World) -> None:
    data = world.build()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        infos = zf.infolist()
    assert [i.filename for i in infos] == [
        "manifest.json",
        "开标/开标记录.json",
        "招标文件/招标文件.pdf",
        "签名/合同签名.sig",
    ]
    assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert members(data)["招标文件/招标文件.pdf"] == TENDER_DOC


def test_manifest_is_canonical_json_listing_files_and_entries(world: World) -> None:
    data = world.build()
    raw = members(data)["manifest.json"]
    doc = json.loads(raw)
    assert canonical_json(doc) == raw
    assert doc["format"] == FORMAT and doc["version"] == 1
    assert doc["log"] == {
        "suite": "intl",
        "hash": "sha256",
        "log_id": LOG_ID,
        "public_key": world.keypair.public.hex(),
        "key_fingerprint": world.suite.public_key_fingerprint(world.keypair.public),
    }
    assert doc["signed_tree_head"] == world.head.to_dict()
    tender = next(f for f in doc["files"] if f["path"] == "招标文件/招标文件.pdf")
    assert tender == {
        "path": "招标文件/招标文件.pdf",
        "sha256": sha256_hex(TENDER_DOC),
        "size": len(TENDER_DOC),
        "kind": "document",
        "title_zh": "招标文件",
        "ledger_index": 3,
    }
    assert [e["index"] for e in doc["entries"]] == [0, 3, 5, 10]
    assert doc["entries"][1]["leaf_hash"] == world.tree.leaf_hash(3).hex()
    assert doc["entries"][1]["inclusion_proof"] == [p.hex() for p in world.tree.inclusion_proof(3)]


def test_an_archive_of_log_entries_only_verifies(world: World) -> None:
    data = build_archive([], world.entries[:1], world.head, world.log_info, Subject("log", LOG_ID, ""))
    report = verify_archive(data, trusted_key=world.keypair.public)
    assert report.ok and (report.files_checked, report.entries_checked) == (0, 1)


# --- tampering with files -------------------------------------------------------------------------


def test_an_added_file_fails(world: World) -> None:
    data = world.build()
    report = verify_archive(_repack(data, files={**files_of(data), "附件/补充.txt": b"extra"}))
    assert report.codes() == ["archive.unlisted_file"]
    assert report.problems[0].path_or_index == "附件/补充.txt"


def test_a_removed_file_fails(world: World) -> None:
    data = world.build()
    files = files_of(data)
    del files["签名/合同签名.sig"]
    report = verify_archive(_repack(data, files=files))
    assert report.codes() == ["archive.missing_file"]
    assert report.problems[0].path_or_index == "签名/合同签名.sig"


@pytest.mark.parametrize("path", ["招标文件/招标文件.pdf", "签名/合同签名.sig"])
def test_a_file_replaced_by_same_size_content_fails(world: World, path: str) -> None:
    data = world.build()
    files = files_of(data)
    original = files[path]
    files[path] = original[:-1] + bytes([original[-1] ^ 0x01])
    report = verify_archive(_repack(data, files=files), trusted_key=world.keypair.public)
    assert report.codes() == ["archive.hash_mismatch"]
    assert report.problems[0].path_or_index == path
    assert report.trusted is False


def test_a_file_replaced_with_its_manifest_hash_updated_breaks_the_ledger_link(world: World) -> None:
    data = world.build()
    forged = b"%PDF-1.7 another tender document"
    manifest = manifest_of(data)
    for f in manifest["files"]:
        if f["path"] == "招标文件/招标文件.pdf":
            f["sha256"], f["size"] = sha256_hex(forged), len(forged)
    report = verify_archive(_repack(data, manifest, {**files_of(data), "招标文件/招标文件.pdf": forged}))
    assert report.codes() == ["archive.entry_hash_mismatch"]
    assert report.problems[0].path_or_index == "招标文件/招标文件.pdf"


def test_a_changed_size_is_named(world: World) -> None:
    data = world.build()
    manifest = manifest_of(data)
    manifest["files"][2]["size"] += 1
    assert verify_archive(_repack(data, manifest)).codes() == ["archive.size_mismatch"]


# --- tampering with the log material --------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        lambda proof: [proof[0][::-1], *proof[1:]],  # one hash altered
        lambda proof: proof[:-1],  # too short
        lambda proof: [*proof, "00" * 32],  # too long
        lambda proof: list(reversed(proof)),  # reordered
    ],
)
def test_an_altered_proof_fails(world: World, change: Any) -> None:
    data = world.build()
    manifest = manifest_of(data)
    entry = manifest["entries"][1]
    entry["inclusion_proof"] = change(entry["inclusion_proof"])
    report = verify_archive(_repack(data, manifest))
    assert report.codes() == ["archive.bad_proof"]
    assert report.problems[0].path_or_index == 3


def test_an_altered_entry_body_fails_even_with_its_leaf_hash_updated(world: World) -> None:
    data = world.build()
    manifest = manifest_of(data)
    body = canonical_json({"type": "event", "seq": 10, "说明": "篡改"})
    manifest["entries"][3]["body"] = base64.b64encode(body).decode()
    assert verify_archive(_repack(data, manifest)).codes() == [
        "archive.leaf_hash_mismatch",
        "archive.bad_proof",
    ]
    manifest["entries"][3]["leaf_hash"] = leaf_hash(world.suite.digest, body).hex()
    assert verify_archive(_repack(data, manifest)).codes() == ["archive.bad_proof"]


def test_an_entry_moved_to_another_index_fails(world: World) -> None:
    data = world.build()
    manifest = manifest_of(data)
    manifest["entries"][3]["index"] = 9
    report = verify_archive(_repack(data, manifest))
    assert report.codes() == ["archive.bad_proof"] and report.problems[0].path_or_index == 9


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tree_size", 12),
        ("timestamp_ms", 1_763_880_000_001),
        ("root_hash", "11" * 32),
        ("log_id", "sunbid:other"),
    ],
)
def test_an_altered_head_fails_its_signature(world: World, field: str, value: Any) -> None:
    data = world.build()
    manifest = manifest_of(data)
    manifest["signed_tree_head"][field] = value
    if field == "log_id":
        manifest["log"]["log_id"] = value
    report = verify_archive(_repack(data, manifest))
    assert "archive.bad_signature" in report.codes()
    assert not report.ok


def _forge_with_own_key(world: World) -> tuple[bytes, bytes]:
    """A forger rewrites the tender document and its log entry, rebuilds the tree and signs with its key."""
    forged_doc = b"%PDF-1.7 forged"
    bodies = list(world.bodies)
    bodies[3] = canonical_json({"type": "document", "sha256": sha256_hex(forged_doc), "title": "招标文件"})
    forger = world.suite.generate_signing_keypair()
    tree = MemoryTree([leaf_hash(world.suite.digest, b) for b in bodies], h=world.suite.digest)
    forged = World(world.suite, forger, bodies, tree, sign_head(world.suite, forger, tree), [], [])
    forged.files = [
        f if f.ledger_index != 3 else ArchiveFile(f.path, forged_doc, f.kind, f.title_zh, 3) for f in world.files
    ]
    forged.entries = [forged.entry(e.index) for e in world.entries]
    return forged.build(), forger.public


def test_a_head_resigned_with_another_key_fails_against_the_trusted_key(world: World) -> None:
    data, forger_key = _forge_with_own_key(world)
    assert verify_archive(data).ok is True  # self-consistent: this is why a trusted key matters
    assert verify_archive(data, trusted_key=forger_key).trusted is True
    report = verify_archive(data, trusted_key=world.keypair.public)
    assert report.codes() == ["archive.untrusted_key"]
    assert report.trusted is False
    fingerprint = world.suite.public_key_fingerprint(world.keypair.public)
    assert verify_archive(data, trusted_fingerprint=fingerprint).codes() == ["archive.untrusted_key"]


def test_a_head_signed_by_another_key_fails_with_the_archived_key(world: World) -> None:
    data = world.build()
    forged, _ = _forge_with_own_key(world)
    manifest = manifest_of(data)
    manifest["signed_tree_head"]["signature"] = manifest_of(forged)["signed_tree_head"]["signature"]
    assert verify_archive(_repack(data, manifest)).codes() == ["archive.bad_signature"]


@pytest.mark.parametrize(
    ("path", "value", "code"),
    [
        (("log", "key_fingerprint"), "ab" * 32, "archive.fingerprint_mismatch"),
        (("log", "hash"), "sm3", "archive.log_mismatch"),
        (("log", "log_id"), "sunbid:other", "archive.log_mismatch"),
        (("log", "suite"), "nosuch", "archive.unknown_suite"),
    ],
)
def test_log_information_must_agree_with_the_head(world: World, path: tuple[str, str], value: str, code: str) -> None:
    data = world.build()
    manifest = manifest_of(data)
    manifest[path[0]][path[1]] = value
    assert code in verify_archive(_repack(data, manifest)).codes()


# --- the ledger link ------------------------------------------------------------------------------


def test_a_file_naming_an_entry_that_does_not_record_it_fails(world: World) -> None:
    data = world.build()
    manifest = manifest_of(data)
    manifest["files"][2]["ledger_index"] = 10  # included, but records something else
    report = verify_archive(_repack(data, manifest))
    assert report.codes() == ["archive.entry_hash_mismatch"]
    manifest["files"][2]["ledger_index"] = 7  # not included at all
    assert verify_archive(_repack(data, manifest)).codes() == ["archive.entry_not_included"]


def test_build_refuses_a_file_whose_entry_does_not_record_it(world: World) -> None:
    files = [*world.files[:2], ArchiveFile("签名/合同签名.sig", b"sig", "signature", "签名", ledger_index=10)]
    with pytest.raises(ArchiveError) as err:
        build_archive(files, world.entries, world.head, world.log_info, world.subject)
    assert err.value.code == "archive.entry_hash_mismatch"
    files[2] = ArchiveFile("签名/合同签名.sig", b"sig", "signature", "签名", ledger_index=7)
    with pytest.raises(ArchiveError) as err:
        build_archive(files, world.entries, world.head, world.log_info, world.subject)
    assert err.value.code == "archive.entry_not_included"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"sha256": "ab" * 32}, True),
        ({"type": "audit", "data": {"sha256": "ab" * 32}}, True),
        ({"type": "event", "data": {"sha256": "ab" * 32}}, False),
        ({"sha256": "AB" * 32}, False),
        ({"document": {"sha256": "ab" * 32}}, False),
        (["ab" * 32], False),
    ],
)
def test_ledger_link_convention(body: Any, expected: bool) -> None:
    assert entry_mentions(canonical_json(body), "ab" * 32) is expected


def test_ledger_link_convention_refuses_bytes_that_are_not_json() -> None:
    assert entry_mentions(b"\xff" + b"ab" * 32, "ab" * 32) is False


# --- what build refuses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../escape.txt",
        "/etc/passwd",
        "a/../../b",
        "./a",
        "a//b",
        "dir/",
        "C:/x",
        "a\\..\\b",
        "a\x00b",
        "manifest.json",
        "",
    ],
)
def test_build_refuses_unsafe_paths(world: World, path: str) -> None:
    files = [ArchiveFile(path, b"x", "document", "文件")]
    with pytest.raises(ArchiveError) as err:
        build_archive(files, [], world.head, world.log_info, world.subject)
    assert err.value.code == "archive.bad_field"
    assert err.value.message_zh and err.value.message_en


def test_build_refuses_paths_equal_after_case_folding(world: World) -> None:
    files = [ArchiveFile("Doc.pdf", b"1", "document", "甲"), ArchiveFile("doc.PDF", b"2", "document", "乙")]
    with pytest.raises(ArchiveError) as err:
        build_archive(files, [], world.head, world.log_info, world.subject)
    assert err.value.code == "archive.duplicate_path"


def test_build_refuses_duplicate_entries_bad_labels_and_naive_times(world: World) -> None:
    with pytest.raises(ArchiveError) as err:
        build_archive([], [world.entries[0], world.entries[0]], world.head, world.log_info, world.subject)
    assert err.value.code == "archive.duplicate_entry"
    with pytest.raises(ArchiveError):
        build_archive([ArchiveFile("a.txt", b"", "Document!", "文件")], [], world.head, world.log_info, world.subject)
    with pytest.raises(ArchiveError):
        build_archive([], [], world.head, world.log_info, world.subject, created_at=datetime(2026, 1, 1))
    assert build_archive([], [], world.head, world.log_info, world.subject, created_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_build_refuses_a_proof_that_does_not_lead_to_the_head(world: World) -> None:
    e = world.entries[1]
    bad = ArchiveEntry(e.index, e.body, e.leaf_hash, e.inclusion_proof[:-1])
    with pytest.raises(ArchiveError) as err:
        build_archive([], [bad], world.head, world.log_info, world.subject)
    assert err.value.code == "archive.bad_proof"


def test_build_refuses_a_key_that_did_not_sign_the_head(world: World) -> None:
    other = get_suite("intl").generate_signing_keypair().public
    info = LogInfo(world.log_info.suite, LOG_ID, other, world.suite.public_key_fingerprint(other))
    with pytest.raises(ArchiveError) as err:
        build_archive([], [], world.head, info, world.subject)
    assert "archive.bad_signature" in [p["code"] for p in err.value.details["problems"]]


# --- manifest strictness --------------------------------------------------------------------------


def test_a_manifest_in_non_canonical_json_fails(world: World) -> None:
    data = world.build()
    pretty = json.dumps(manifest_of(data), ensure_ascii=False, indent=2).encode()
    from sunbid.archive.zipio import canonical_order, write_zip

    repacked = write_zip(canonical_order({**files_of(data), "manifest.json": pretty}))
    assert verify_archive(repacked).codes() == ["archive.manifest_not_canonical"]


@pytest.mark.parametrize(
    ("mutate", "code", "where"),
    [
        (lambda m: m.update(version=2), "archive.unsupported_version", "manifest.json#version"),
        (lambda m: m.update(format="other"), "archive.manifest_invalid", "manifest.json#format"),
        (lambda m: m.update(extra=1), "archive.manifest_invalid", "manifest.json"),
        (lambda m: m["files"][0].pop("kind"), "archive.manifest_invalid", "manifest.json#files[0]"),
        (
            lambda m: m["files"][0].update(sha256=m["files"][0]["sha256"].upper()),
            "archive.manifest_invalid",
            "manifest.json#files[0].sha256",
        ),
        (
            lambda m: m["files"][0].update(path="../x"),
            "archive.manifest_invalid",
            "manifest.json#files[0].path",
        ),
        (lambda m: m["files"].reverse(), "archive.manifest_invalid", "manifest.json#files[1]"),
        (lambda m: m["entries"].reverse(), "archive.manifest_invalid", "manifest.json#entries[1]"),
        (
            lambda m: m["entries"][0].update(body="eyJ=="),
            "archive.manifest_invalid",
            "manifest.json#entries[0].body",
        ),
        (
            lambda m: m["entries"][0].update(index=True),
            "archive.manifest_invalid",
            "manifest.json#entries[0].index",
        ),
        (
            lambda m: m.update(created_at="2026-13-01T00:00:00.000Z"),
            "archive.manifest_invalid",
            "manifest.json#created_at",
        ),
        (
            lambda m: m["signed_tree_head"].update(signature="zz"),
            "archive.manifest_invalid",
            "manifest.json#signed_tree_head",
        ),
        (lambda m: m["files"][0].update(size=-1), "archive.manifest_invalid", "manifest.json#files[0].size"),
        (
            lambda m: m["signed_tree_head"].update(root_hash=m["signed_tree_head"]["root_hash"].upper()),
            "archive.manifest_invalid",
            "manifest.json#signed_tree_head",
        ),
    ],
)
def test_a_malformed_manifest_is_named(world: World, mutate: Any, code: str, where: str) -> None:
    data = world.build()
    manifest = manifest_of(data)
    mutate(manifest)
    report = verify_archive(_repack(data, manifest))
    assert report.codes() == [code]
    assert report.problems[0].path_or_index == where


def test_a_missing_manifest_is_named(world: World) -> None:
    from sunbid.archive.zipio import write_zip

    report = verify_archive(write_zip(sorted(files_of(world.build()).items())))
    assert report.codes() == ["archive.manifest_missing"]


def test_manifest_with_duplicate_keys_or_floats_is_refused(world: World) -> None:
    from sunbid.archive.zipio import canonical_order, write_zip

    data = world.build()
    raw = members(data)["manifest.json"]
    for bad in (
        raw.replace(b'{"created_at"', b'{"version":1,"created_at"', 1),
        raw.replace(b'"version":1', b'"version":1.0'),
    ):
        assert bad != raw
        report = verify_archive(write_zip(canonical_order({**files_of(data), "manifest.json": bad})))
        assert report.codes() == ["archive.manifest_invalid"]
        assert report.problems[0].path_or_index == "manifest.json"


def test_opening_record_is_linked_through_an_audit_entry(world: World) -> None:
    manifest = manifest_of(world.build())
    record = next(f for f in manifest["files"] if f["ledger_index"] == 5)
    assert record["sha256"] == sha256_hex(OPENING_RECORD)
    assert entry_mentions(world.bodies[5], record["sha256"])


def test_descriptive_fields_and_unanchored_files_are_not_signed(world: World) -> None:
    """Documented limit (docs/archive.md): only what the head anchors is protected against a custodian."""
    data = world.build()
    manifest = manifest_of(data)
    manifest["subject"]["name"] = "另一个项目"
    manifest["files"][2]["title_zh"] = "改过的标题"
    files = files_of(data)
    files["签名/合同签名.sig"] = b"replaced signature bytes"
    manifest["files"][2]["sha256"] = sha256_hex(files["签名/合同签名.sig"])
    manifest["files"][2]["size"] = len(files["签名/合同签名.sig"])
    assert manifest["files"][2]["ledger_index"] is None
    report = verify_archive(_repack(data, manifest, files), trusted_key=world.keypair.public)
    assert report.ok and report.trusted
    assert report.archive_sha256 != hashlib.sha256(data).hexdigest()  # the package's own hash shows it
