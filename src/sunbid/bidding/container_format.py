"""The byte layout of a sealed bid container (version 1): the plaintext header, framing, AAD and wrap contexts.

See ``docs/bid-container.md``. In short (integers big-endian)::

    magic (8) ‖ version u16 ‖ H u32 ‖ header JSON (H) ‖ frame_0 ‖ … ‖ frame_{n-1} ‖ trailer (32)

    frame_i  = suite.seal(K, P_i, aad_i) = nonce (12) ‖ ciphertext ‖ tag (16)
    aad_i    = "sunbid-bid/1/frame" ‖ 0x00 ‖ D ‖ u64 i ‖ u8 final      D = suite digest of magic‖version‖H‖header
    trailer  = suite digest of every byte before it

This module is pure bookkeeping: no keys, no I/O beyond the reader it is handed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sunbid.bidding import container_errors as errors
from sunbid.crypto.certificates import is_valid_uscc
from sunbid.crypto.suite import SUITE_NAMES, CryptoSuite
from sunbid.ledger.canonical import CanonicalJSONError, JsonValue, canonical_json

MAGIC = b"\x89SBID\r\n\x1a"
"""8 bytes: a high byte (catches 7-bit transfers), ``SBID``, CR LF and Ctrl-Z (catch text-mode line rewriting)."""
FORMAT_VERSION = 1
PREFIX = struct.Struct(">8sHI")
PREFIX_SIZE = PREFIX.size  # 14
MAX_HEADER_SIZE = 64 * 1024
NONCE_SIZE = 12
TAG_SIZE = 16
FRAME_OVERHEAD = NONCE_SIZE + TAG_SIZE
"""What ``CryptoSuite.seal`` adds to each chunk (both suites: 12-byte nonce, 16-byte GCM tag)."""
TRAILER_SIZE = 32
DEFAULT_CHUNK_SIZE = 64 * 1024
MIN_CHUNK_SIZE = 4 * 1024
MAX_CHUNK_SIZE = 16 * 1024 * 1024
MAX_BID_SIZE = 2 * 1024**3
"""Default ceiling on a bid's plaintext (documents + manifest + signature + certificate): 2 GiB."""
ROLES: tuple[str, ...] = ("bidder", "opening")
FRAME_LABEL = b"sunbid-bid/1/frame\x00"
WRAP_LABEL = "sunbid-bid/1/wrap"
CONTEXT_LABEL = b"sunbid-bid/1/context\x00"

_HEADER_KEYS = frozenset(
    {
        "suite",
        "project_code",
        "section_code",
        "bidder_uscc",
        "context_digest",
        "chunk_size",
        "body_length",
        "recipients",
    }
)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_MAX_WRAPPED = 1024


class Reader(Protocol):
    """Anything with ``read(n)`` returning at most ``n`` bytes (``b""`` at the end): files, sockets, BytesIO."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes."""
        ...


def read_exact(src: Reader, size: int) -> bytes:
    """Read ``size`` bytes, fewer only at the end of the stream."""
    data = src.read(size)
    if len(data) >= size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = src.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One wrapped copy of the content key: the recipient key's fingerprint and the wrap (``wrap_key`` output)."""

    key_fingerprint: str
    wrapped_key: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class BidHeader:
    """The plaintext header: all that the server sees before opening (no price, no manifest, no file names)."""

    version: int
    suite: str
    project_code: str
    section_code: str
    bidder_uscc: str
    context_digest: str
    chunk_size: int
    body_length: int
    recipients: Mapping[str, Recipient]
    header_length: int
    """Bytes before the first frame (prefix + header JSON)."""

    @property
    def frame_count(self) -> int:
        """How many frames the body holds."""
        return -(-self.body_length // (self.chunk_size + FRAME_OVERHEAD))

    @property
    def plaintext_length(self) -> int:
        """Length of the sealed inner payload."""
        return self.body_length - self.frame_count * FRAME_OVERHEAD

    @property
    def total_length(self) -> int:
        """Length of the whole container."""
        return self.header_length + self.body_length + TRAILER_SIZE

    def frame_length(self, index: int) -> int:
        """Byte length of frame ``index``."""
        full = self.chunk_size + FRAME_OVERHEAD
        return full if index < self.frame_count - 1 else self.body_length - (self.frame_count - 1) * full

    def to_json(self) -> dict[str, JsonValue]:
        """The header JSON object (wrapped keys in base64)."""
        return header_json(
            suite=self.suite,
            project_code=self.project_code,
            section_code=self.section_code,
            bidder_uscc=self.bidder_uscc,
            context_digest=self.context_digest,
            chunk_size=self.chunk_size,
            body_length=self.body_length,
            recipients=self.recipients,
        )


def body_length_for(plaintext_length: int, chunk_size: int) -> int:
    """Ciphertext length of a payload of ``plaintext_length`` bytes cut into ``chunk_size`` chunks."""
    frames = -(-plaintext_length // chunk_size)
    return plaintext_length + frames * FRAME_OVERHEAD


def check_chunk_size(chunk_size: int) -> int:
    """``chunk_size`` if it is within the format's bounds (``bid.malformed`` otherwise)."""
    if type(chunk_size) is not int or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
        raise errors.malformed(f"chunk size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
    return chunk_size


def context_digest(suite: CryptoSuite, context: bytes | str) -> str:
    """Hex suite digest of the caller's binding context (a ``str`` is taken as UTF-8)."""
    raw = context.encode("utf-8") if isinstance(context, str) else bytes(context)
    return suite.digest(CONTEXT_LABEL + raw).hex()


def wrap_context(
    suite: str, project_code: str, section_code: str, bidder_uscc: str, ctx_digest: str, role: str
) -> bytes:
    """The ``context`` the content key is wrapped under for ``role`` (binds project, section, bidder, role)."""
    return canonical_json(
        {
            "label": WRAP_LABEL,
            "role": role,
            "suite": suite,
            "project_code": project_code,
            "section_code": section_code,
            "bidder_uscc": bidder_uscc,
            "context_digest": ctx_digest,
        }
    )


def frame_aad(header_digest: bytes, index: int, final: bool) -> bytes:
    """Associated data of frame ``index``: binds the header, the position and whether it is the last frame."""
    return FRAME_LABEL + header_digest + index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def header_json(
    *,
    suite: str,
    project_code: str,
    section_code: str,
    bidder_uscc: str,
    context_digest: str,
    chunk_size: int,
    body_length: int,
    recipients: Mapping[str, Recipient],
) -> dict[str, JsonValue]:
    """The header object in the order-free form :func:`canonical_json` encodes."""
    return {
        "suite": suite,
        "project_code": project_code,
        "section_code": section_code,
        "bidder_uscc": bidder_uscc,
        "context_digest": context_digest,
        "chunk_size": chunk_size,
        "body_length": body_length,
        "recipients": {
            role: {
                "key_fingerprint": r.key_fingerprint,
                "wrapped_key": base64.b64encode(r.wrapped_key).decode("ascii"),
            }
            for role, r in recipients.items()
        },
    }


def encode_header(obj: Mapping[str, JsonValue]) -> bytes:
    """``magic ‖ version ‖ H ‖ canonical header JSON``."""
    body = canonical_json(obj)
    if len(body) > MAX_HEADER_SIZE:
        raise errors.too_large("封装头 / header", MAX_HEADER_SIZE, len(body))
    return PREFIX.pack(MAGIC, FORMAT_VERSION, len(body)) + body


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _b64(text: object) -> bytes:
    if not isinstance(text, str) or len(text) > 2 * _MAX_WRAPPED:
        raise errors.malformed("wrapped key")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.malformed("wrapped key is not base64") from exc
    if base64.b64encode(raw).decode("ascii") != text or not raw:
        raise errors.malformed("wrapped key is not canonical base64")
    return raw


def _text(obj: dict[str, Any], key: str, limit: int = 64) -> str:
    value = obj[key]
    if not isinstance(value, str) or not value or len(value) > limit:
        raise errors.malformed(f"header field {key}")
    return value


def parse_prefix(prefix: bytes) -> int:
    """Check magic and version of the first 14 bytes; return the header JSON length."""
    if len(prefix) < PREFIX_SIZE:
        if MAGIC.startswith(prefix[: len(MAGIC)]):
            raise errors.truncated(PREFIX_SIZE, len(prefix))
        raise errors.malformed("not a sealed bid")
    magic, version, length = PREFIX.unpack_from(prefix)
    if magic != MAGIC:
        raise errors.malformed("not a sealed bid")
    if version != FORMAT_VERSION:
        raise errors.unsupported_version(version)
    if not 2 <= length <= MAX_HEADER_SIZE:
        raise errors.malformed("header length")
    return int(length)


def parse_header(raw: bytes) -> BidHeader:
    """Parse the plaintext header from the first bytes of a container (at least prefix + header JSON).

    Checks only the form (``bid.malformed``, ``bid.unsupported_version``, ``bid.truncated``): whether the header
    is authentic is known only when a frame decrypts (every frame's AAD binds it).
    """
    length = parse_prefix(raw[:PREFIX_SIZE])
    end = PREFIX_SIZE + length
    if len(raw) < end:
        raise errors.truncated(end, len(raw))
    body = bytes(raw[PREFIX_SIZE:end])
    try:
        obj = json.loads(body.decode("utf-8"), object_pairs_hook=_reject_duplicates)
        if not isinstance(obj, dict) or canonical_json(obj) != body:
            raise ValueError("not canonical")
    except (ValueError, UnicodeDecodeError, CanonicalJSONError) as exc:
        raise errors.malformed("header is not canonical JSON") from exc
    if set(obj) != _HEADER_KEYS:
        raise errors.malformed("header fields")
    suite = obj["suite"]
    if suite not in SUITE_NAMES:
        raise errors.malformed("unknown suite")
    uscc = _text(obj, "bidder_uscc")
    if not is_valid_uscc(uscc):
        raise errors.malformed("bidder USCC")
    digest = obj["context_digest"]
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise errors.malformed("context digest")
    chunk_size = check_chunk_size(obj["chunk_size"])
    body_length = obj["body_length"]
    if type(body_length) is not int or body_length <= FRAME_OVERHEAD:
        raise errors.malformed("body length")
    frames = -(-body_length // (chunk_size + FRAME_OVERHEAD))
    last = body_length - (frames - 1) * (chunk_size + FRAME_OVERHEAD)
    if last <= FRAME_OVERHEAD:
        raise errors.malformed("body length does not fit the chunk size")
    recipients_obj = obj["recipients"]
    if not isinstance(recipients_obj, dict) or set(recipients_obj) != set(ROLES):
        raise errors.malformed("recipients")
    recipients: dict[str, Recipient] = {}
    for role in ROLES:
        item = recipients_obj[role]
        if not isinstance(item, dict) or set(item) != {"key_fingerprint", "wrapped_key"}:
            raise errors.malformed("recipient")
        fingerprint = item["key_fingerprint"]
        if not isinstance(fingerprint, str) or not _HEX64.fullmatch(fingerprint):
            raise errors.malformed("recipient key fingerprint")
        recipients[role] = Recipient(fingerprint, _b64(item["wrapped_key"]))
    return BidHeader(
        version=FORMAT_VERSION,
        suite=suite,
        project_code=_text(obj, "project_code"),
        section_code=_text(obj, "section_code"),
        bidder_uscc=uscc,
        context_digest=digest,
        chunk_size=chunk_size,
        body_length=body_length,
        recipients=recipients,
        header_length=end,
    )


def read_header_bytes(src: Reader) -> bytes:
    """Read prefix + header JSON from the start of a stream (checks magic, version and length only)."""
    prefix = read_exact(src, PREFIX_SIZE)
    length = parse_prefix(prefix)
    rest = read_exact(src, length)
    if len(rest) < length:
        raise errors.truncated(PREFIX_SIZE + length, PREFIX_SIZE + len(rest))
    return prefix + rest
