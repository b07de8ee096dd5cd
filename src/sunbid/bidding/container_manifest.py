"""The structured bid manifest (投标清单) sealed inside a bid container, and the rules its fields follow.

The manifest is what the opening record (唱标) reads: bidder, price, duration, quality, key commitments, plus
the bid-maker's machine fingerprint (a collusion signal: two bidders' files made on one computer) and the tool
version. It is encoded as canonical JSON (:func:`sunbid.ledger.canonical.canonical_json`) together with the
name, size and digest of every document, and that exact byte string is what the bidder signs.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sunbid.bidding import container_errors as errors
from sunbid.core.errors import ValidationFailed
from sunbid.crypto.certificates import is_valid_uscc
from sunbid.crypto.suite import CryptoSuite
from sunbid.ledger.canonical import CanonicalJSONError, JsonValue, canonical_json

MANIFEST_FORMAT = "sunbid-bid-manifest"
MANIFEST_VERSION = 1
MAX_FILES = 1000
MAX_FILE_NAME_BYTES = 255
MAX_TEXT = 2000
MAX_COMMITMENTS = 100
MAX_EXTRA = 100
MAX_DURATION_DAYS = 100_000

_PRICE = re.compile(r"(0|[1-9][0-9]{0,15})\.[0-9]{2}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FORBIDDEN_NAME_CHARS = frozenset('/\\:*?"<>|')
_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"] + [f"COM{i}" for i in range(10)] + [f"LPT{i}" for i in range(10)]
)
_MANIFEST_KEYS = frozenset(
    {
        "format",
        "version",
        "suite",
        "project_code",
        "section_code",
        "bidder_uscc",
        "bidder_name",
        "price",
        "duration_days",
        "quality",
        "key_commitments",
        "machine_fingerprint",
        "tool_version",
        "created_at",
        "extra",
        "files",
    }
)


def format_price(amount: Decimal) -> str:
    """A ``Decimal`` amount in yuan as the manifest's price string (exactly two places, no rounding)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise errors.bad_price(amount)
    if amount != amount.quantize(Decimal("0.01")):
        raise errors.bad_price(amount)
    text = f"{amount.quantize(Decimal('0.01')):f}"
    check_price(text)
    return text


def check_price(price: object) -> str:
    """Return ``price`` if it is a decimal string in yuan with exactly two places (``bid.bad_price`` if not)."""
    if not isinstance(price, str) or not _PRICE.fullmatch(price):
        raise errors.bad_price(price)
    return price


def price_decimal(price: str) -> Decimal:
    """The manifest price as a ``Decimal``."""
    try:
        return Decimal(check_price(price))
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
        raise errors.bad_price(price) from exc


def check_file_name(name: object) -> str:
    """Return ``name`` if it is a safe plain file name (``bid.bad_file_name`` if not).

    Chinese and other non-ASCII names are fine. Refused: empty names, ``.``/``..``, path separators and the other
    characters Windows forbids, control characters, leading or trailing spaces, a trailing dot, Windows device
    names (``CON``, ``NUL.txt``...), names longer than 255 UTF-8 bytes and names not in Unicode NFC (two
    spellings of one visible name).
    """
    if not isinstance(name, str) or not name:
        raise errors.bad_file_name(str(name), "empty")
    if name in {".", ".."}:
        raise errors.bad_file_name(name, "dot name")
    if any(c in _FORBIDDEN_NAME_CHARS for c in name):
        raise errors.bad_file_name(name, "path separator or reserved character")
    if any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"} for c in name):
        raise errors.bad_file_name(name, "control or invisible character")
    if name != name.strip() or name.endswith("."):
        raise errors.bad_file_name(name, "leading/trailing space or trailing dot")
    if name.split(".", 1)[0].upper() in _WINDOWS_DEVICES:
        raise errors.bad_file_name(name, "reserved device name")
    if len(name.encode("utf-8")) > MAX_FILE_NAME_BYTES:
        raise errors.bad_file_name(name, f"longer than {MAX_FILE_NAME_BYTES} bytes")
    if unicodedata.normalize("NFC", name) != name:
        raise errors.bad_file_name(name, "not in Unicode NFC")
    return name


def check_file_names(names: Sequence[str]) -> None:
    """Every name safe, at most :data:`MAX_FILES`, and no two equal ignoring case (Windows folders)."""
    if len(names) > MAX_FILES:
        raise errors.too_large("文件数量 / number of files", MAX_FILES, len(names))
    seen: set[str] = set()
    for name in names:
        folded = check_file_name(name).casefold()
        if folded in seen:
            raise errors.bad_file_name(name, "duplicate name (ignoring case)")
        seen.add(folded)


def _check_text(field_name: str, value: object, *, required: bool = True, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise errors.bad_manifest(field_name, "须为字符串", "must be a string")
    if required and not value.strip():
        raise errors.bad_manifest(field_name, "不能为空", "must not be empty")
    if len(value) > limit:
        raise errors.bad_manifest(field_name, f"超过 {limit} 个字符", f"longer than {limit} characters")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
        raise errors.bad_manifest(field_name, "含有控制字符", "contains control characters")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise errors.bad_manifest(field_name, "含有无效字符", "contains a lone surrogate")
    return value


def _check_code(field_name: str, value: object) -> str:
    text = _check_text(field_name, value, limit=64)
    if text != text.strip() or "\n" in text or "\t" in text:
        raise errors.bad_manifest(field_name, "不能含空白首尾或换行", "no surrounding blanks or line breaks")
    return text


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: object) -> datetime:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text):
        raise errors.bad_manifest("created_at", "时间格式不正确", "not a UTC timestamp with microseconds")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError as exc:
        raise errors.bad_manifest("created_at", "时间格式不正确", "not a valid date") from exc


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One document of a bid as the manifest lists it: its name, size in bytes and suite digest (hex)."""

    name: str
    size: int
    digest: str

    def to_json(self) -> dict[str, JsonValue]:
        """The manifest's ``files`` item."""
        return {"name": self.name, "size": self.size, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class BidManifest:
    """What a bidder declares in a sealed bid; validated on construction (``bid.bad_manifest``, ``bid.bad_price``).

    ``price`` is a decimal string in yuan with two places (``"1234567.89"``; see :func:`format_price`); floats
    are refused. ``created_at`` must be timezone-aware (stored in UTC with microseconds).
    ``machine_fingerprint`` is 64 lower-case hex characters (see :func:`machine_fingerprint`). ``extra`` holds
    further items the tender asks to be read out at opening (string to string).
    """

    project_code: str
    section_code: str
    bidder_uscc: str
    bidder_name: str
    price: str
    duration_days: int
    quality: str
    machine_fingerprint: str
    tool_version: str
    created_at: datetime
    key_commitments: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)
    format_version: int = MANIFEST_VERSION

    def __post_init__(self) -> None:
        _check_code("project_code", self.project_code)
        _check_code("section_code", self.section_code)
        if not isinstance(self.bidder_uscc, str) or not is_valid_uscc(self.bidder_uscc):
            raise errors.bad_manifest("bidder_uscc", "统一社会信用代码不正确", "not a valid USCC")
        _check_text("bidder_name", self.bidder_name, limit=200)
        check_price(self.price)
        if type(self.duration_days) is not int or not 0 <= self.duration_days <= MAX_DURATION_DAYS:
            raise errors.bad_manifest("duration_days", "须为非负整数天数", "must be a whole number of days >= 0")
        _check_text("quality", self.quality, limit=200)
        if not isinstance(self.machine_fingerprint, str) or not _HEX64.fullmatch(self.machine_fingerprint):
            raise errors.bad_manifest("machine_fingerprint", "须为 64 位小写十六进制", "must be 64 lower-case hex")
        _check_code("tool_version", self.tool_version)
        if not isinstance(self.created_at, datetime) or self.created_at.tzinfo is None:
            raise errors.bad_manifest("created_at", "须为带时区的时间", "must be a timezone-aware datetime")
        if isinstance(self.key_commitments, str) or not isinstance(self.key_commitments, Sequence):
            raise errors.bad_manifest("key_commitments", "须为字符串列表", "must be a list of strings")
        commitments = tuple(self.key_commitments)
        if len(commitments) > MAX_COMMITMENTS:
            raise errors.bad_manifest("key_commitments", "条目过多", f"more than {MAX_COMMITMENTS} items")
        for item in commitments:
            _check_text("key_commitments", item)
        if not isinstance(self.extra, Mapping) or len(self.extra) > MAX_EXTRA:
            raise errors.bad_manifest("extra", "须为不超过 100 项的字符串映射", "must map at most 100 strings")
        for key, value in self.extra.items():
            _check_code("extra", key)
            _check_text("extra", value, required=False)
        if self.format_version != MANIFEST_VERSION:
            raise errors.bad_manifest("format_version", "不支持的清单版本", "unsupported manifest version")
        object.__setattr__(self, "key_commitments", commitments)
        object.__setattr__(self, "extra", dict(self.extra))
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))

    @property
    def price_decimal(self) -> Decimal:
        """The price as a ``Decimal`` in yuan."""
        return price_decimal(self.price)

    def to_json(self, suite: str, files: Sequence[FileEntry]) -> dict[str, JsonValue]:
        """The signed manifest object: these fields, the suite (whose hash made the digests) and the files."""
        return {
            "format": MANIFEST_FORMAT,
            "version": self.format_version,
            "suite": suite,
            "project_code": self.project_code,
            "section_code": self.section_code,
            "bidder_uscc": self.bidder_uscc,
            "bidder_name": self.bidder_name,
            "price": self.price,
            "duration_days": self.duration_days,
            "quality": self.quality,
            "key_commitments": list(self.key_commitments),
            "machine_fingerprint": self.machine_fingerprint,
            "tool_version": self.tool_version,
            "created_at": _format_time(self.created_at),
            "extra": dict(self.extra),
            "files": [f.to_json() for f in files],
        }


def encode_manifest(manifest: BidManifest, suite: str, files: Sequence[FileEntry]) -> bytes:
    """The canonical JSON bytes the bidder signs."""
    try:
        return canonical_json(manifest.to_json(suite, files))
    except CanonicalJSONError as exc:  # pragma: no cover - fields are validated on construction
        raise errors.bad_manifest("manifest", "无法编码", str(exc)) from exc


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def decode_manifest(data: bytes, digest_size: int) -> tuple[BidManifest, str, tuple[FileEntry, ...]]:
    """Parse signed manifest bytes back: ``(manifest, suite name, files)``.

    Strict: the bytes must be exactly the canonical encoding, with exactly the known fields. Errors are
    ``bid.bad_payload`` (the bytes came out of an authenticated container, so only the sealer wrote them).
    """
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_reject_duplicates)
        if not isinstance(obj, dict) or canonical_json(obj) != data:
            raise ValueError("not canonical JSON")
    except (ValueError, UnicodeDecodeError, CanonicalJSONError) as exc:
        raise errors.bad_payload("manifest is not canonical JSON") from exc
    if set(obj) != _MANIFEST_KEYS or obj["format"] != MANIFEST_FORMAT or obj["version"] != MANIFEST_VERSION:
        raise errors.bad_payload("manifest fields or format version")
    raw_files = obj["files"]
    if not isinstance(raw_files, list) or not isinstance(obj["suite"], str):
        raise errors.bad_payload("manifest files")
    entries: list[FileEntry] = []
    for item in raw_files:
        if not isinstance(item, dict) or set(item) != {"name", "size", "digest"}:
            raise errors.bad_payload("manifest file entry")
        size, digest = item["size"], item["digest"]
        if type(size) is not int or size < 0 or not isinstance(digest, str):
            raise errors.bad_payload("manifest file entry")
        if not re.fullmatch(f"[0-9a-f]{{{2 * digest_size}}}", digest):
            raise errors.bad_payload("manifest file digest")
        entries.append(FileEntry(item["name"], size, digest))
    try:
        check_file_names([e.name for e in entries])
        extra = obj["extra"]
        commitments = obj["key_commitments"]
        if not isinstance(extra, dict) or not isinstance(commitments, list):
            raise errors.bad_manifest("extra", "类型错误", "wrong type")
        manifest = BidManifest(
            project_code=obj["project_code"],
            section_code=obj["section_code"],
            bidder_uscc=obj["bidder_uscc"],
            bidder_name=obj["bidder_name"],
            price=obj["price"],
            duration_days=obj["duration_days"],
            quality=obj["quality"],
            machine_fingerprint=obj["machine_fingerprint"],
            tool_version=obj["tool_version"],
            created_at=_parse_time(obj["created_at"]),
            key_commitments=tuple(commitments),
            extra=extra,
        )
    except ValidationFailed as exc:
        raise errors.bad_payload(f"manifest field: {exc.message_en}", code=exc.code) from exc
    return manifest, obj["suite"], tuple(entries)


# --- the bid-maker machine fingerprint -----------------------------------------------------------------------


def _read_first(paths: Sequence[str], limit: int = 4096) -> str | None:
    for path in paths:
        try:
            text = Path(path).read_bytes()[:limit].decode("utf-8", "replace").strip()
        except OSError:
            continue
        if text:
            return text
    return None


def _cpu_model() -> str | None:
    text = _read_first(["/proc/cpuinfo"], limit=65536)
    if text:
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key.strip() in {"model name", "Hardware", "cpu model", "Processor"} and value.strip():
                return value.strip()
    import platform

    return platform.processor() or platform.machine() or None


def _disk_serials() -> list[str]:
    serials: list[str] = []
    try:
        blocks = sorted(Path("/sys/block").iterdir())
    except OSError:
        return serials
    for block in blocks:
        if block.name.startswith(("loop", "ram", "zram", "dm-", "md", "sr")):
            continue
        serial = _read_first([str(block / "device" / "serial"), str(block / "device" / "wwid")], limit=256)
        if serial:
            serials.append(f"{block.name}={serial}")
    return serials


def _windows_machine_guid() -> str | None:  # pragma: no cover - only on Windows
    if sys.platform != "win32":
        return None
    import winreg

    try:
        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography") as key:
            value, _kind = winreg.QueryValueEx(key, "MachineGuid")
    except OSError:
        return None
    return str(value)


def machine_identifiers() -> dict[str, JsonValue]:
    """What :func:`machine_fingerprint` hashes: CPU model, machine id, disk serials and the MAC address.

    Reads only what it can, portably: ``/proc/cpuinfo`` (else ``platform.processor()``), ``/etc/machine-id``
    (or the D-Bus one; on Windows the registry's MachineGuid), ``/sys/block/*/device/serial`` and
    ``uuid.getnode()``. A MAC that ``uuid`` had to invent (multicast bit set) is left out, since it changes on
    every run.
    """
    node = uuid.getnode()
    mac = None if node >> 40 & 1 else f"{node:012x}"
    return {
        "cpu": _cpu_model(),
        "machine_id": _read_first(["/etc/machine-id", "/var/lib/dbus/machine-id"]) or _windows_machine_guid(),
        "disks": list(_disk_serials()),
        "mac": mac,
    }


def machine_fingerprint(suite: CryptoSuite | None = None, identifiers: Mapping[str, JsonValue] | None = None) -> str:
    """Hex hash (SHA-256, or the suite's hash) of this machine's CPU/disk/MAC identifiers.

    The same computer gives the same value, so two bidders' containers made on one machine can be spotted at
    opening (a collusion sign). Tests pass ``identifiers`` (or a fixed fingerprint to :class:`BidManifest`).
    """
    data = canonical_json(
        {"sunbid-machine-fingerprint": 1, **(identifiers if identifiers is not None else machine_identifiers())}
    )
    return suite.digest(data).hex() if suite is not None else hashlib.sha256(data).hexdigest()
