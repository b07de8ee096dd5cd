"""The archive's ZIP container: one canonical byte layout, written exactly and read defensively.

An archive is a plain ZIP file (APPNOTE 6.3) that any unzip tool opens, restricted so that the same members
always give the same bytes and every byte is covered by a check:

* members are **stored** (method 0, no compression): deflate output differs between zlib versions and its
  padding bits are ignored on reading, so a compressed member could change without its content changing;
* ``manifest.json`` first, then the files sorted by path (Unicode code points, which is UTF-8 byte order);
* every header field is fixed: version 2.0, flags ``0x0800`` (UTF-8 names), time 00:00:00 and date
  1980-01-01 (DOS), Unix mode ``0100644``, no extra fields, no comments, no data descriptors, no ZIP64
  (so an archive stays below 4 GiB and 65,535 members);
* nothing before the first local header or after the end-of-central-directory record.

:func:`write_zip` writes this layout; :func:`read_zip` reads any ZIP with :mod:`zipfile`, refusing unsafe
names (absolute, ``..``, backslashes, control characters, names equal after Unicode case folding),
duplicates, encrypted or compressed members and anything beyond :class:`Limits`, then rebuilds the canonical
bytes from what it read and compares them with the input, so a change to any header byte is found even when
the content is intact.
"""

from __future__ import annotations

import io
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from sunbid.archive.report import ArchiveReport

__all__ = [
    "MANIFEST_NAME",
    "Limits",
    "ZipContents",
    "canonical_order",
    "fold",
    "read_zip",
    "unsafe_path_reason",
    "write_zip",
]

MANIFEST_NAME = "manifest.json"

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_LOCAL_SIG, _CENTRAL_SIG, _END_SIG = 0x04034B50, 0x02014B50, 0x06054B50
_VERSION = 20  # 2.0: the lowest version with the features used
_MADE_BY = (3 << 8) | _VERSION  # Unix
_FLAGS = 0x0800  # bit 11: names are UTF-8
_DOS_TIME = 0  # 00:00:00
_DOS_DATE = (1 << 5) | 1  # 1980-01-01, the earliest DOS date
_EXTERNAL_ATTR = 0o100644 << 16  # regular file, rw-r--r--
_U32 = 0xFFFF_FFFF
_MAX_NAME_BYTES = 240
_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
# What zipfile and struct raise for malformed input.
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    OverflowError,
    IndexError,
    KeyError,
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Upper bounds that keep a hostile archive from exhausting memory (zip-bomb safety)."""

    max_archive_bytes: int = 2 * 1024**3
    max_members: int = 10_000
    max_member_bytes: int = 1024**3
    max_manifest_bytes: int = 64 * 1024**2
    max_entries: int = 100_000


@dataclass(slots=True)
class ZipContents:
    """Members read from a ZIP; ``skipped`` names members that were present but could not be read safely."""

    members: dict[str, bytes] = field(default_factory=dict)
    skipped: set[str] = field(default_factory=set)
    readable: bool = False


def unsafe_path_reason(name: str) -> tuple[str, str] | None:
    """Why ``name`` may not be a member path (Chinese, English), or None if it is safe.

    A safe path is relative, uses ``/`` between non-empty segments, has no ``.`` or ``..`` segment, no
    backslash, colon or control character, is in Unicode NFC and is at most 240 bytes in UTF-8. Directory
    entries (names ending in ``/``) are refused too: folders are implied by the paths.
    """
    if not name:
        return "路径为空", "the path is empty"
    if len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        return f"路径超过 {_MAX_NAME_BYTES} 字节", f"the path is longer than {_MAX_NAME_BYTES} bytes"
    if _CONTROL.search(name):
        return "路径含控制字符", "the path contains a control character"
    if "\\" in name:
        return "路径含反斜杠", "the path contains a backslash"
    if ":" in name:
        return "路径含冒号（盘符或备用数据流）", "the path contains a colon (drive letter or stream)"
    if name.startswith("/"):
        return "路径是绝对路径", "the path is absolute"
    segments = name.split("/")
    if any(s == "" for s in segments):
        return "路径含空段或以 / 结尾", "the path has an empty segment or ends with /"
    if any(s in (".", "..") for s in segments):
        return "路径含 . 或 .. 段（可能越出解压目录）", "the path has a . or .. segment (it could escape)"
    if unicodedata.normalize("NFC", name) != name:
        return "路径不是 Unicode NFC 形式", "the path is not in Unicode NFC"
    return None


def fold(name: str) -> str:
    """The key under which two names collide on a case-insensitive file system."""
    return unicodedata.normalize("NFC", name).casefold()


def canonical_order(members: dict[str, bytes]) -> list[tuple[str, bytes]]:
    """Members in archive order: the manifest first, then the rest sorted by path."""
    rest = sorted((n, c) for n, c in members.items() if n != MANIFEST_NAME)
    head = [(MANIFEST_NAME, members[MANIFEST_NAME])] if MANIFEST_NAME in members else []
    return head + rest


def write_zip(members: Sequence[tuple[str, bytes]]) -> bytes:
    """The canonical ZIP of ``members`` in the order given (see the module docstring for the layout).

    Raises ``ValueError`` for more than 65,535 members or offsets and sizes beyond 4 GiB (no ZIP64).
    """
    if len(members) > 0xFFFF:
        raise ValueError("a ZIP without ZIP64 holds at most 65,535 members")
    out = bytearray()
    central = bytearray()
    for name, content in members:
        raw = name.encode("utf-8")
        size = len(content)
        offset = len(out)
        if offset > _U32 or size > _U32:
            raise ValueError("the archive would need ZIP64 (4 GiB or more)")
        crc = zlib.crc32(content)
        out += _LOCAL.pack(_LOCAL_SIG, _VERSION, _FLAGS, 0, _DOS_TIME, _DOS_DATE, crc, size, size, len(raw), 0)
        out += raw
        out += content
        central += _CENTRAL.pack(
            _CENTRAL_SIG,
            _MADE_BY,
            _VERSION,
            _FLAGS,
            0,
            _DOS_TIME,
            _DOS_DATE,
            crc,
            size,
            size,
            len(raw),
            0,
            0,
            0,
            0,
            _EXTERNAL_ATTR,
            offset,
        )
        central += raw
    if len(out) > _U32 or len(out) + len(central) > _U32:
        raise ValueError("the archive would need ZIP64 (4 GiB or more)")
    count = len(members)
    out += central
    out += _END.pack(_END_SIG, 0, 0, count, count, len(central), len(out) - len(central), 0)
    return bytes(out)


def read_zip(data: bytes, limits: Limits, report: ArchiveReport) -> ZipContents:
    """Read the members of ``data`` safely, recording every container problem in ``report``.

    Never raises for malformed input. ``readable`` is False if the ZIP could not be listed at all; members
    that were refused or unreadable are left out of ``members`` and named in ``skipped``.
    """
    result = ZipContents()
    if len(data) > limits.max_archive_bytes:
        report.add(
            "archive.too_large",
            f"档案包超过 {limits.max_archive_bytes} 字节上限",
            f"the archive is larger than the {limits.max_archive_bytes}-byte limit",
        )
        return result
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _READ_ERRORS as exc:
        report.add("archive.not_a_zip", "不是有效的 zip 文件", f"not a valid zip file ({exc})")
        return result
    if len(infos) > limits.max_members:
        report.add(
            "archive.too_many_members",
            f"zip 成员数 {len(infos)} 超过上限 {limits.max_members}",
            f"the zip has {len(infos)} members, more than the limit of {limits.max_members}",
        )
        return result
    if sum(i.compress_size for i in infos) > len(data):
        report.add(
            "archive.overlapping_members",
            "zip 成员声明的大小之和超过文件本身（可能是 zip 炸弹）",
            "the members' declared sizes add up to more than the file itself (a possible zip bomb)",
        )
        return result
    result.readable = True
    clean = True
    seen: dict[str, str] = {}
    for info in infos:
        name = info.orig_filename
        reason = unsafe_path_reason(name)
        if reason is not None:
            report.add(
                "archive.unsafe_path",
                f"不安全的成员路径：{reason[0]}",
                f"unsafe member path: {reason[1]}",
                name,
            )
            result.skipped.add(name)
            clean = False
            continue
        key = fold(name)
        if key in seen:
            report.add(
                "archive.duplicate_name",
                f"成员名重复（或仅大小写不同）：{seen[key]}",
                f"duplicate member name (or differing only in case): {seen[key]}",
                name,
            )
            result.skipped.add(name)
            result.members.pop(seen[key], None)
            result.skipped.add(seen[key])
            clean = False
            continue
        seen[key] = name
        if info.flag_bits & 0x1 or info.compress_type != zipfile.ZIP_STORED:
            report.add(
                "archive.unsupported_member",
                "成员被加密或压缩；档案包只使用不压缩的存储方式",
                "the member is encrypted or compressed; archives store members uncompressed",
                name,
            )
            result.skipped.add(name)
            clean = False
            continue
        if info.file_size > limits.max_member_bytes or info.compress_size != info.file_size:
            report.add(
                "archive.member_too_large",
                f"成员大小超过 {limits.max_member_bytes} 字节上限或与存储大小不符",
                f"the member is larger than the {limits.max_member_bytes}-byte limit or its sizes disagree",
                name,
            )
            result.skipped.add(name)
            clean = False
            continue
        try:
            with zf.open(info) as f:
                content = f.read(limits.max_member_bytes + 1)
        except _READ_ERRORS as exc:
            report.add(
                "archive.unreadable_member",
                "成员无法读取（校验和 CRC 不符或头部损坏）",
                f"the member cannot be read (CRC mismatch or damaged header: {exc})",
                name,
            )
            result.skipped.add(name)
            clean = False
            continue
        result.members[name] = content
    if clean and not _is_canonical(result.members, data):
        report.add(
            "archive.not_canonical",
            "zip 的字节不是本格式的规范编码（头部、顺序或附加数据被改动，或被其他工具重新打包）",
            "the zip bytes are not this format's canonical encoding (headers, order or extra data "
            "were changed, or it was re-packed by another tool)",
        )
    return result


def _is_canonical(members: dict[str, bytes], data: bytes) -> bool:
    try:
        return write_zip(canonical_order(members)) == data
    except ValueError:
        return False
