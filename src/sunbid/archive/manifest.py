"""The archive manifest (``manifest.json``, ``sunbid-archive`` version 1): its fields and strict parser.

The parser accepts exactly the documented shape (``docs/archive.md``): known keys only, lower-case hex,
canonical base64, safe paths, sorted files and entries. It reports the first malformed field as a
:class:`ManifestError` naming it (``manifest.json#files[2].sha256``). Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sunbid.archive.zipio import MANIFEST_NAME, Limits, fold, unsafe_path_reason
from sunbid.ledger.canonical import CanonicalJSONError, canonical_json
from sunbid.ledger.heads import SignedTreeHead

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ArchiveEntry",
    "FileRecord",
    "Manifest",
    "ManifestError",
    "check_label",
    "check_path",
    "check_text",
    "check_uint",
    "parse_manifest",
]

FORMAT = "sunbid-archive"
FORMAT_VERSION = 1

_HEX = re.compile(r"(?:[0-9a-f]{2})+")
_LABEL = re.compile(r"[a-z][a-z0-9_.-]{0,63}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_MAX_TEXT = 1000
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_MAX_PROOF = 64
_KEYS = {
    "top": {"format", "version", "subject", "created_at", "log", "signed_tree_head", "files", "entries"},
    "subject": {"kind", "code", "name"},
    "log": {"suite", "hash", "log_id", "public_key", "key_fingerprint"},
    "sth": {"log_id", "tree_size", "timestamp_ms", "root_hash", "signature", "key_fingerprint", "suite"},
    "file": {"path", "sha256", "size", "kind", "title_zh", "ledger_index"},
    "entry": {"index", "body", "leaf_hash", "inclusion_proof"},
}


@dataclass(frozen=True, slots=True)
class ArchiveEntry:
    """A log entry as archived: its index, exact body bytes, leaf hash and inclusion proof to the head."""

    index: int
    body: bytes
    leaf_hash: bytes
    inclusion_proof: tuple[bytes, ...]


class ManifestError(Exception):
    """A malformed manifest field: ``where`` names it; ``zh`` and ``en`` say what is wrong."""

    def __init__(self, where: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.where, self.zh, self.en = where, zh, en


def _obj(value: object, where: str, keys: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(where, "必须是 JSON 对象", "must be a JSON object")
    expected = _KEYS[keys]
    if set(value) != expected:
        missing, extra = sorted(expected - set(value)), sorted(set(value) - expected)
        raise ManifestError(
            where,
            f"字段不符：缺少 {missing}，多出 {extra}",
            f"wrong fields: missing {missing}, extra {extra}",
        )
    return value


def check_uint(value: object, where: str) -> int:
    """A non-negative integer (not a bool)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ManifestError(where, "必须是非负整数", "must be a non-negative integer")
    return value


def check_text(value: object, where: str, *, allow_empty: bool = False) -> str:
    """Text of at most 1000 characters without control characters (non-empty unless allowed)."""
    if not isinstance(value, str) or len(value) > _MAX_TEXT or (not value and not allow_empty):
        raise ManifestError(where, f"必须是 1–{_MAX_TEXT} 个字符的文本", f"must be text of 1-{_MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise ManifestError(where, "不能含控制字符", "must not contain control characters")
    return value


def check_label(value: object, where: str) -> str:
    """A short lower-case label: ``[a-z][a-z0-9_.-]{0,63}``."""
    if not isinstance(value, str) or not _LABEL.fullmatch(value):
        raise ManifestError(where, "必须是小写标签（a-z0-9_.-）", "must be a lower-case label (a-z0-9_.-)")
    return value


def _hex(value: object, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value):
        raise ManifestError(where, "必须是小写十六进制", "must be lower-case hex")
    raw = bytes.fromhex(value)
    if size is not None and len(raw) != size:
        raise ManifestError(where, f"必须是 {size} 字节", f"must be {size} bytes")
    return raw


def check_path(value: object, where: str) -> str:
    """A safe member path (:func:`~sunbid.archive.zipio.unsafe_path_reason`) other than the manifest's."""
    if not isinstance(value, str):
        raise ManifestError(where, "必须是文本", "must be text")
    reason = unsafe_path_reason(value)
    if reason is not None:
        raise ManifestError(where, f"不安全的路径：{reason[0]}", f"unsafe path: {reason[1]}")
    if value == MANIFEST_NAME:
        raise ManifestError(where, f"{MANIFEST_NAME} 是保留名", f"{MANIFEST_NAME} is reserved")
    return value


def _list(value: object, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise ManifestError(where, "必须是数组", "must be an array")
    if len(value) > limit:
        raise ManifestError(where, f"超过 {limit} 项", f"has more than {limit} items")
    return value


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    sha256: str
    size: int
    ledger_index: int | None


@dataclass(frozen=True, slots=True)
class Manifest:
    subject: dict[str, str]
    created_at: str
    suite: str
    hash_name: str
    log_id: str
    public_key: bytes
    key_fingerprint: str
    sth: SignedTreeHead
    files: list[FileRecord]
    entries: list[ArchiveEntry]


def _reject_constant(value: str) -> Any:
    raise ValueError(f"{value} is not allowed")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return result


def parse_manifest(raw: bytes, limits: Limits) -> tuple[Manifest, bool]:
    """Parse and check the manifest's shape; returns it and whether its encoding is canonical."""
    try:
        doc = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_float=_reject_constant,
            parse_constant=_reject_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ManifestError(MANIFEST_NAME, "不是有效的 UTF-8 JSON", f"is not valid UTF-8 JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ManifestError(f"{MANIFEST_NAME}#format", f"必须是 {FORMAT!r}", f"must be {FORMAT!r}")
    if doc.get("version") != FORMAT_VERSION:
        raise ManifestError(f"{MANIFEST_NAME}#version", "版本不受支持", "unsupported version")
    top = _obj(doc, MANIFEST_NAME, "top")
    at = f"{MANIFEST_NAME}#"
    subject = _obj(top["subject"], at + "subject", "subject")
    subj = {
        "kind": check_label(subject["kind"], at + "subject.kind"),
        "code": check_text(subject["code"], at + "subject.code"),
        "name": check_text(subject["name"], at + "subject.name", allow_empty=True),
    }
    created_at = top["created_at"]
    if not isinstance(created_at, str) or not _TIME.fullmatch(created_at):
        raise ManifestError(
            at + "created_at", "必须形如 2026-01-02T03:04:05.678Z", "must look like 2026-01-02T03:04:05.678Z"
        )
    try:
        datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        raise ManifestError(at + "created_at", "不是有效的时间", "is not a valid time") from None
    log = _obj(top["log"], at + "log", "log")
    sth_doc = _obj(top["signed_tree_head"], at + "signed_tree_head", "sth")
    try:
        sth = SignedTreeHead.from_dict(sth_doc)
    except ValueError as exc:
        raise ManifestError(
            at + "signed_tree_head", "签名树头格式不正确", f"malformed signed tree head ({exc})"
        ) from None
    if sth.to_dict() != sth_doc:
        raise ManifestError(
            at + "signed_tree_head", "签名树头不是规范形式", "the signed tree head is not in canonical form"
        )
    files: list[FileRecord] = []
    for i, item in enumerate(_list(top["files"], at + "files", limits.max_members)):
        w = f"{at}files[{i}]"
        f = _obj(item, w, "file")
        check_label(f["kind"], w + ".kind")
        check_text(f["title_zh"], w + ".title_zh")
        idx = f["ledger_index"]
        files.append(
            FileRecord(
                path=check_path(f["path"], w + ".path"),
                sha256=_hex(f["sha256"], w + ".sha256", 32).hex(),
                size=check_uint(f["size"], w + ".size"),
                ledger_index=None if idx is None else check_uint(idx, w + ".ledger_index"),
            )
        )
    for i in range(1, len(files)):
        if not files[i - 1].path < files[i].path or fold(files[i - 1].path) == fold(files[i].path):
            raise ManifestError(
                f"{at}files[{i}]", "文件须按路径排序且不重复", "files must be sorted by path, no duplicates"
            )
    entries: list[ArchiveEntry] = []
    for i, item in enumerate(_list(top["entries"], at + "entries", limits.max_entries)):
        w = f"{at}entries[{i}]"
        e = _obj(item, w, "entry")
        body = e["body"]
        try:
            decoded = base64.b64decode(body, validate=True) if isinstance(body, str) else None
        except (binascii.Error, ValueError):
            decoded = None
        if decoded is None or base64.b64encode(decoded).decode("ascii") != body:
            raise ManifestError(w + ".body", "必须是规范的 base64", "must be canonical base64")
        proof = _list(e["inclusion_proof"], w + ".inclusion_proof", _MAX_PROOF)
        entries.append(
            ArchiveEntry(
                index=check_uint(e["index"], w + ".index"),
                body=decoded,
                leaf_hash=_hex(e["leaf_hash"], w + ".leaf_hash", 32),
                inclusion_proof=tuple(_hex(p, f"{w}.inclusion_proof[{j}]", 32) for j, p in enumerate(proof)),
            )
        )
    for i in range(1, len(entries)):
        if entries[i - 1].index >= entries[i].index:
            raise ManifestError(
                f"{at}entries[{i}]", "条目须按序号递增且不重复", "entries must be in increasing index order"
            )
    manifest = Manifest(
        subject=subj,
        created_at=created_at,
        suite=check_label(log["suite"], at + "log.suite"),
        hash_name=check_label(log["hash"], at + "log.hash"),
        log_id=check_text(log["log_id"], at + "log.log_id"),
        public_key=_hex(log["public_key"], at + "log.public_key"),
        key_fingerprint=check_text(log["key_fingerprint"], at + "log.key_fingerprint"),
        sth=sth,
        files=files,
        entries=entries,
    )
    try:
        canonical = canonical_json(doc) == raw
    except CanonicalJSONError:
        canonical = False
    return manifest, canonical
