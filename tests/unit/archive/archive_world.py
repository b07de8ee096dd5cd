"""A small log and archive built in memory, shared by the archive unit tests (no database)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from sunbid.archive.package import ArchiveEntry, ArchiveFile, LogInfo, Subject, build_archive
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite
from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.heads import SignedTreeHead, TreeHead, sign_tree_head
from sunbid.ledger.merkle import MemoryTree, leaf_hash

LOG_ID = "sunbid:341700:test"
TIMESTAMP_MS = 1_763_880_000_000  # 2025-11-23T06:40:00Z

TENDER_DOC = "%PDF-1.7\n招标文件 第一章 招标公告\n".encode() * 12
OPENING_RECORD = canonical_json({"开标时间": "2026-03-01T09:30:00+08:00", "投标人": ["甲公司", "乙公司"]})
SIGNATURE = bytes(range(64))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def log_bodies(n: int) -> list[bytes]:
    """``n`` log entries: plain events, one document entry (index 3) and one audit entry (index 5)."""
    bodies = [canonical_json({"type": "event", "seq": i, "说明": "测试"}) for i in range(n)]
    bodies[3] = canonical_json({"type": "document", "sha256": sha256_hex(TENDER_DOC), "title": "招标文件"})
    bodies[5] = canonical_json(
        {
            "type": "audit",
            "tag": "api:project:opening_recorded",
            "data": {"sha256": sha256_hex(OPENING_RECORD)},
        }
    )
    return bodies


def sign_head(
    suite: CryptoSuite, keypair: KeyPair, tree: MemoryTree, timestamp_ms: int = TIMESTAMP_MS
) -> SignedTreeHead:
    head = TreeHead(tree_size=tree.size, root_hash=tree.root(), timestamp_ms=timestamp_ms, log_id=LOG_ID)
    return sign_tree_head(
        head,
        lambda m: suite.sign(keypair.private, m),
        key_fingerprint=suite.public_key_fingerprint(keypair.public),
        suite=suite.name,
    )


@dataclass
class World:
    """Everything ``build_archive`` takes, from a log of ``len(bodies)`` entries signed by ``keypair``."""

    suite: CryptoSuite
    keypair: KeyPair
    bodies: list[bytes]
    tree: MemoryTree
    head: SignedTreeHead
    files: list[ArchiveFile]
    entries: list[ArchiveEntry]
    subject: Subject = field(default_factory=lambda: Subject("project", "CZ-2026-001", "池州市某道路工程施工"))

    @property
    def log_info(self) -> LogInfo:
        return LogInfo(
            suite=self.suite.name,
            log_id=LOG_ID,
            public_key=self.keypair.public,
            key_fingerprint=self.suite.public_key_fingerprint(self.keypair.public),
        )

    def entry(self, index: int) -> ArchiveEntry:
        return ArchiveEntry(
            index, self.bodies[index], self.tree.leaf_hash(index), tuple(self.tree.inclusion_proof(index))
        )

    def build(self, **kwargs: Any) -> bytes:
        return build_archive(self.files, self.entries, self.head, self.log_info, self.subject, **kwargs)


def make_world(suite_name: str = "intl", n: int = 11, chosen: tuple[int, ...] = (0, 3, 5, 10)) -> World:
    suite = get_suite(suite_name)
    keypair = suite.generate_signing_keypair()
    bodies = log_bodies(n)
    tree = MemoryTree([leaf_hash(suite.digest, b) for b in bodies], h=suite.digest)
    files = [
        ArchiveFile("招标文件/招标文件.pdf", TENDER_DOC, "document", "招标文件", ledger_index=3),
        ArchiveFile("开标/开标记录.json", OPENING_RECORD, "record", "开标记录", ledger_index=5),
        ArchiveFile("签名/合同签名.sig", SIGNATURE, "signature", "合同电子签名"),
    ]
    world = World(suite, keypair, bodies, tree, sign_head(suite, keypair, tree), files, [])
    world.entries = [world.entry(i) for i in chosen]
    return world


def members(data: bytes) -> dict[str, bytes]:
    """The members of a zip, by name (with Python's own reader)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def manifest_of(data: bytes) -> dict[str, Any]:
    doc = json.loads(members(data)["manifest.json"])
    assert isinstance(doc, dict)
    return doc


def files_of(data: bytes) -> dict[str, bytes]:
    return {k: v for k, v in members(data).items() if k != "manifest.json"}
