"""The electronic archive package (电子档案包, SPEC C-2): build it, and verify it offline.

An archive is a canonical ZIP (:mod:`sunbid.archive.zipio`) holding ``manifest.json`` and the files. The
manifest (format ``sunbid-archive`` version 1, canonical JSON) lists every file with its SHA-256 and size,
the log's public information, one signed tree head (STH) and the log entries with RFC 9162 inclusion proofs
to that head. ``docs/archive.md`` documents every field.

:func:`verify_archive` needs nothing but the bytes (no database, no network): every member listed and every
listed member present, hashes and sizes, the manifest's shape and canonical encoding, each entry's leaf hash
and inclusion proof, the head's signature, and the link between a file and the log entry that recorded its
hash. A key the verifier trusts (``trusted_key`` or ``trusted_fingerprint``) turns "internally consistent"
into "signed by that log".

File hashes are SHA-256 in every deployment (so ``sha256sum`` checks them); the tree and the head use the
log's own hash (SHA-256 for ``intl``, SM3 for ``gm``).

**Ledger link convention.** A file that names ``ledger_index`` must be mentioned by that entry: the entry
body is a JSON object whose ``sha256`` field is the file's hash (lower-case hex), or an audit entry
(``"type": "audit"``) whose ``data.sha256`` is. Services that record documents in the log follow it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sunbid.archive.manifest import (
    FORMAT,
    FORMAT_VERSION,
    ArchiveEntry,
    Manifest,
    ManifestError,
    check_label,
    check_path,
    check_text,
    check_uint,
    parse_manifest,
)
from sunbid.archive.report import ArchiveReport, Problem
from sunbid.archive.zipio import MANIFEST_NAME, Limits, canonical_order, fold, read_zip
from sunbid.archive.zipio import write_zip as _write_zip
from sunbid.core.errors import DomainError, ValidationFailed
from sunbid.crypto.suite import CryptoSuite, get_suite
from sunbid.ledger.canonical import CanonicalJSONError, canonical_json
from sunbid.ledger.heads import SignedTreeHead, verify_tree_head
from sunbid.ledger.merkle import InvalidProofError, check_inclusion, leaf_hash

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ArchiveEntry",
    "ArchiveError",
    "ArchiveFile",
    "ArchiveReport",
    "Limits",
    "LogInfo",
    "Problem",
    "Subject",
    "build_archive",
    "entry_mentions",
    "pack",
    "verify_archive",
]


class ArchiveError(ValidationFailed):
    """The inputs cannot make a valid archive (the message says which one and why)."""


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """A file to put in the archive.

    ``path`` is its name inside the zip (relative, ``/``-separated, e.g. ``招标文件/招标文件.pdf``);
    ``kind`` a short lower-case label (``document``, ``record``, ``signature``, ``receipt`` …);
    ``title_zh`` what a person reads; ``ledger_index`` the log entry that recorded the file's SHA-256, if
    any.
    """

    path: str
    content: bytes
    kind: str
    title_zh: str
    ledger_index: int | None = None

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the content."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class LogInfo:
    """The log's public information: crypto suite, log id and signing public key (with its fingerprint)."""

    suite: str
    log_id: str
    public_key: bytes
    key_fingerprint: str

    @classmethod
    def from_public_info(cls, info: Mapping[str, Any]) -> LogInfo:
        """From the dict ``Platform.public_info()`` returns (``log_public_key`` in hex)."""
        return cls(
            suite=str(info["suite"]),
            log_id=str(info["log_id"]),
            public_key=bytes.fromhex(str(info["log_public_key"])),
            key_fingerprint=str(info["log_key_fingerprint"]),
        )


@dataclass(frozen=True, slots=True)
class Subject:
    """What the archive is about: ``kind`` (``project``, ``log`` …), a ``code`` (项目编号) and a ``name``."""

    kind: str
    code: str
    name: str


# --- building ------------------------------------------------------------------------------------------


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        raise ArchiveError("archive.bad_field", "created_at 必须带时区", "created_at must be timezone-aware")
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _build_problem(where: str, zh: str, en: str) -> ArchiveError:
    return ArchiveError("archive.bad_field", f"{where}：{zh}", f"{where}: {en}", details={"where": where})


def _check_inputs(files: Sequence[ArchiveFile], entries: Sequence[ArchiveEntry], subject: Subject) -> None:
    """Refuse inputs the manifest could not represent, with a message naming the bad one."""
    try:
        check_label(subject.kind, "subject.kind")
        check_text(subject.code, "subject.code")
        check_text(subject.name, "subject.name", allow_empty=True)
        seen: dict[str, str] = {}
        for f in files:
            check_path(f.path, f"files[{f.path!r}].path")
            if fold(f.path) in seen:
                raise ArchiveError(
                    "archive.duplicate_path",
                    f"文件路径重复（或仅大小写不同）：{f.path}",
                    f"duplicate file path (or differing only in case): {f.path}",
                )
            seen[fold(f.path)] = f.path
            if not isinstance(f.content, bytes):
                raise ManifestError(f"files[{f.path!r}].content", "必须是字节串", "must be bytes")
            check_label(f.kind, f"files[{f.path!r}].kind")
            check_text(f.title_zh, f"files[{f.path!r}].title_zh")
            if f.ledger_index is not None:
                check_uint(f.ledger_index, f"files[{f.path!r}].ledger_index")
        indices = [check_uint(e.index, f"entries[{e.index!r}].index") for e in entries]
        included = set(indices)
        if len(included) != len(indices):
            raise ArchiveError("archive.duplicate_entry", "日志条目重复", "a log entry is given twice")
        for f in files:
            if f.ledger_index is not None and f.ledger_index not in included:
                raise ArchiveError(
                    "archive.entry_not_included",
                    f"文件 {f.path} 引用的日志条目 {f.ledger_index} 不在档案包中",
                    f"file {f.path} names log entry {f.ledger_index}, which is not in the archive",
                )
    except ManifestError as bad:
        raise _build_problem(bad.where, bad.zh, bad.en) from None


def pack(manifest: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    """The canonical archive bytes of a manifest (as a JSON object) and file contents by path.

    Low level: no check that they agree. Tools and tests use it to re-pack an archive; applications call
    :func:`build_archive`.
    """
    members = {MANIFEST_NAME: canonical_json(manifest), **files}
    return _write_zip(canonical_order(members))


def build_archive(
    files: Sequence[ArchiveFile],
    entries: Sequence[ArchiveEntry],
    head: SignedTreeHead,
    log_info: LogInfo,
    subject: Subject,
    *,
    created_at: datetime | None = None,
    limits: Limits | None = None,
) -> bytes:
    """Build an archive; the same inputs always give the same bytes (input order does not matter).

    ``created_at`` defaults to the head's timestamp (so it is deterministic too). The result is verified
    with :func:`verify_archive` (trusting ``log_info.public_key``) before it is returned: an archive that
    would not verify is refused with :class:`ArchiveError` carrying the first problem's code.
    """
    limits = limits or Limits()
    _check_inputs(files, entries, subject)
    head_time = _EPOCH + timedelta(milliseconds=head.head.timestamp_ms)
    stamp = _timestamp(created_at if created_at is not None else head_time)
    ordered_files = sorted(files, key=lambda f: f.path)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "subject": {"kind": subject.kind, "code": subject.code, "name": subject.name},
        "created_at": stamp,
        "log": {
            "suite": log_info.suite,
            "hash": get_suite(log_info.suite).hash_name,
            "log_id": log_info.log_id,
            "public_key": log_info.public_key.hex(),
            "key_fingerprint": log_info.key_fingerprint,
        },
        "signed_tree_head": head.to_dict(),
        "files": [
            {
                "path": f.path,
                "sha256": f.sha256,
                "size": len(f.content),
                "kind": f.kind,
                "title_zh": f.title_zh,
                "ledger_index": f.ledger_index,
            }
            for f in ordered_files
        ],
        "entries": [
            {
                "index": e.index,
                "body": base64.b64encode(e.body).decode("ascii"),
                "leaf_hash": e.leaf_hash.hex(),
                "inclusion_proof": [p.hex() for p in e.inclusion_proof],
            }
            for e in sorted(entries, key=lambda e: e.index)
        ],
    }
    try:
        data = pack(manifest, {f.path: f.content for f in ordered_files})
    except (ValueError, CanonicalJSONError) as exc:
        raise ArchiveError(
            "archive.too_large", "档案包过大或字段无法编码", f"the archive is too large or unencodable: {exc}"
        ) from exc
    report = verify_archive(data, trusted_key=log_info.public_key, limits=limits)
    if not report.ok:
        first = report.problems[0]
        raise ArchiveError(
            first.code,
            f"无法生成档案包：{first.message_zh}",
            f"cannot build the archive: {first.message_en}",
            details={"problems": [p.as_dict() for p in report.problems]},
        )
    return data


# --- reading the manifest ------------------------------------------------------------------------------


# --- verifying -----------------------------------------------------------------------------------------


def entry_mentions(body: bytes, sha256_hex: str) -> bool:
    """True if the log entry ``body`` records ``sha256_hex`` (the ledger link convention above)."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    if not isinstance(doc, dict):
        return False
    if doc.get("sha256") == sha256_hex:
        return True
    data = doc.get("data")
    return doc.get("type") == "audit" and isinstance(data, dict) and data.get("sha256") == sha256_hex


def _check_log(
    m: Manifest,
    report: ArchiveReport,
    trusted_key: bytes | None,
    trusted_fingerprint: str | None,
) -> tuple[CryptoSuite | None, bool]:
    """Check the log's key and the head's signature; returns the suite (None if unknown) and trust."""
    try:
        suite = get_suite(m.suite)
    except DomainError:
        report.add("archive.unknown_suite", f"未知的密码套件 {m.suite}", f"unknown crypto suite {m.suite}")
        return None, False
    where = f"{MANIFEST_NAME}#log"
    fingerprint = suite.public_key_fingerprint(m.public_key)
    if m.hash_name != suite.hash_name or m.sth.suite != m.suite or m.sth.head.log_id != m.log_id:
        report.add(
            "archive.log_mismatch",
            "日志信息（套件、哈希或日志标识）与签名树头不一致",
            "the log information (suite, hash or log id) disagrees with the signed tree head",
            where,
        )
    if fingerprint != m.key_fingerprint or fingerprint != m.sth.key_fingerprint:
        report.add(
            "archive.fingerprint_mismatch",
            "公钥指纹与档案包中的公钥不符",
            "the key fingerprint does not match the public key in the archive",
            where,
        )
    signed = verify_tree_head(m.sth, lambda msg, sig: suite.verify(m.public_key, msg, sig))
    if not signed:
        report.add(
            "archive.bad_signature",
            "签名树头的签名无法用档案包中的日志公钥验证",
            "the signed tree head's signature does not verify with the log public key in the archive",
            f"{MANIFEST_NAME}#signed_tree_head",
        )
    anchored = trusted_key is not None or trusted_fingerprint is not None
    if trusted_key is not None and trusted_key != m.public_key:
        report.add(
            "archive.untrusted_key",
            "档案包中的日志公钥不是所指定的可信公钥",
            "the log public key in the archive is not the trusted key given",
            where,
        )
    if trusted_fingerprint is not None and trusted_fingerprint.strip().lower() != fingerprint:
        report.add(
            "archive.untrusted_key",
            "档案包中的日志公钥指纹不是所指定的可信指纹",
            "the log public key's fingerprint is not the trusted fingerprint given",
            where,
        )
    return suite, signed and anchored


def _check_entries(m: Manifest, suite: CryptoSuite, report: ArchiveReport) -> None:
    head = m.sth.head
    for e in m.entries:
        leaf = leaf_hash(suite.digest, e.body)
        if leaf != e.leaf_hash:
            report.add(
                "archive.leaf_hash_mismatch",
                f"日志条目 {e.index} 的内容与其叶哈希不符",
                f"log entry {e.index}: its body does not match its leaf hash",
                e.index,
            )
        try:
            check_inclusion(leaf, e.index, head.tree_size, e.inclusion_proof, head.root_hash, h=suite.digest)
        except InvalidProofError as exc:
            report.add(
                "archive.bad_proof",
                f"日志条目 {e.index} 的包含证明不能推出签名树头的根哈希",
                f"log entry {e.index}: the inclusion proof does not lead to the signed root ({exc})",
                e.index,
            )
        report.entries_checked += 1


def _check_files(m: Manifest, members: dict[str, bytes], skipped: set[str], report: ArchiveReport) -> None:
    listed = {f.path for f in m.files}
    for name in sorted(set(members) | skipped):
        if name != MANIFEST_NAME and name not in listed:
            report.add(
                "archive.unlisted_file",
                "zip 中有清单未列出的文件",
                "the zip holds a file the manifest does not list",
                name,
            )
    entries = {e.index: e for e in m.entries}
    for f in m.files:
        content = members.get(f.path)
        if content is None:
            if f.path not in skipped:
                report.add(
                    "archive.missing_file",
                    "清单列出的文件不在 zip 中",
                    "a file the manifest lists is not in the zip",
                    f.path,
                )
            continue
        report.files_checked += 1
        if len(content) != f.size:
            report.add(
                "archive.size_mismatch",
                f"文件大小不是清单所记的 {f.size} 字节",
                f"the file is not {f.size} bytes as listed",
                f.path,
            )
        if hashlib.sha256(content).hexdigest() != f.sha256:
            report.add(
                "archive.hash_mismatch",
                "文件的 SHA-256 与清单不符（内容已被改动）",
                "the file's SHA-256 differs from the manifest (altered)",
                f.path,
            )
        if f.ledger_index is not None:
            entry = entries.get(f.ledger_index)
            if entry is None:
                report.add(
                    "archive.entry_not_included",
                    f"文件引用的日志条目 {f.ledger_index} 不在档案包中",
                    f"the file names log entry {f.ledger_index}, which is not in the archive",
                    f.path,
                )
            elif not entry_mentions(entry.body, f.sha256):
                report.add(
                    "archive.entry_hash_mismatch",
                    f"日志条目 {f.ledger_index} 没有记录该文件的 SHA-256",
                    f"log entry {f.ledger_index} does not record this file's SHA-256",
                    f.path,
                )


def verify_archive(
    data: bytes,
    *,
    trusted_key: bytes | None = None,
    trusted_fingerprint: str | None = None,
    limits: Limits | None = None,
) -> ArchiveReport:
    """Verify an archive offline; never raises for malformed input (every finding is a :class:`Problem`).

    Without ``trusted_key`` (the log's raw public key) or ``trusted_fingerprint`` (its hex fingerprint) the
    archive is checked against the key it carries, which proves internal consistency only: ``report.ok``
    can be True while ``report.trusted`` is False.
    """
    limits = limits or Limits()
    report = ArchiveReport(archive_sha256=hashlib.sha256(data).hexdigest())
    contents = read_zip(data, limits, report)
    if not contents.readable:
        return report
    raw = contents.members.get(MANIFEST_NAME)
    if raw is None:
        if MANIFEST_NAME not in contents.skipped:
            report.add(
                "archive.manifest_missing",
                "zip 中没有 manifest.json",
                "the zip has no manifest.json",
                MANIFEST_NAME,
            )
        return report
    if len(raw) > limits.max_manifest_bytes:
        report.add("archive.manifest_too_large", "manifest.json 过大", "manifest.json is too large", MANIFEST_NAME)
        return report
    try:
        m, canonical = parse_manifest(raw, limits)
    except ManifestError as bad:
        code = "archive.unsupported_version" if bad.where.endswith("#version") else "archive.manifest_invalid"
        report.add(code, f"清单不正确：{bad.zh}", f"malformed manifest: {bad.en}", bad.where)
        return report
    report.format_version = FORMAT_VERSION
    report.subject = m.subject
    report.created_at = m.created_at
    report.log_id = m.log_id
    report.key_fingerprint = m.key_fingerprint
    report.tree_size = m.sth.head.tree_size
    report.root_hash = m.sth.head.root_hash.hex()
    if not canonical:
        report.add(
            "archive.manifest_not_canonical",
            "manifest.json 不是规范 JSON 编码",
            "manifest.json is not in canonical JSON",
            MANIFEST_NAME,
        )
    suite, anchored = _check_log(m, report, trusted_key, trusted_fingerprint)
    if suite is not None:
        _check_entries(m, suite, report)
    _check_files(m, contents.members, contents.skipped, report)
    report.trusted = report.ok and anchored
    return report
