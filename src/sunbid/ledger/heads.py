"""Tree heads and signed tree heads (STH) of the transparency log.

A :class:`TreeHead` states "log ``log_id`` had ``tree_size`` entries with root ``root_hash`` at
``timestamp_ms``". Its signing input is a fixed binary layout (all integers big-endian)::

    offset  size  field
    0       20    magic  b"sunbid-tree-head-v1\\x00"   (domain separation: never valid as anything else)
    20      1     L      length of log_id in bytes, 1..255
    21      L     log_id ASCII, visible characters only (0x21..0x7e)
    21+L    8     tree_size     uint64
    29+L    8     timestamp_ms  uint64, milliseconds since the Unix epoch, UTC
    37+L    1     32     length of root_hash
    38+L    32    root_hash

so a head of a 24-character log id is 94 bytes. :meth:`TreeHead.to_bytes` writes it and
:meth:`TreeHead.from_bytes` reads it back strictly (one encoding per head, nothing trailing).

A :class:`SignedTreeHead` adds the signature over those bytes, the signing key's fingerprint (so a verifier
can pick the key) and the crypto suite's name (so it can pick the algorithm). Signing and verifying are
injected callables: this module knows no algorithm.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sunbid.ledger.merkle import HASH_SIZE, HashFunc, InvalidProofError, check_consistency, sha256

__all__ = [
    "TREE_HEAD_MAGIC",
    "SignedTreeHead",
    "TreeHead",
    "check_head_consistency",
    "sign_tree_head",
    "verify_head_consistency",
    "verify_tree_head",
]

TREE_HEAD_MAGIC = b"sunbid-tree-head-v1\x00"
"""First 20 bytes of every tree head's signing input."""

_UINT64_MAX = 2**64 - 1
_LABEL = re.compile(r"[\x21-\x7e]{1,255}")


def _check_label(value: object, what: str) -> None:
    if not isinstance(value, str) or not _LABEL.fullmatch(value):
        raise ValueError(f"{what} must be 1..255 visible ASCII characters, got {value!r}")


def _check_uint64(value: object, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _UINT64_MAX:
        raise ValueError(f"{what} must be an integer in 0..2**64-1, got {value!r}")


def _field(data: Mapping[str, Any], key: str) -> Any:
    """``data[key]`` or None; the dataclass checks the type."""
    return data.get(key)


def _hex_field(data: Mapping[str, Any], key: str) -> bytes:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise ValueError(f"{key} is not valid hex") from exc


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The state of one log at one moment: size, root hash, time and log identity."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    log_id: str

    def __post_init__(self) -> None:
        _check_uint64(self.tree_size, "tree_size")
        _check_uint64(self.timestamp_ms, "timestamp_ms")
        _check_label(self.log_id, "log_id")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"root_hash must be {HASH_SIZE} bytes")

    def to_bytes(self) -> bytes:
        """The canonical signing input (layout in the module docstring)."""
        log_id = self.log_id.encode("ascii")
        return b"".join(
            (
                TREE_HEAD_MAGIC,
                len(log_id).to_bytes(1, "big"),
                log_id,
                self.tree_size.to_bytes(8, "big"),
                self.timestamp_ms.to_bytes(8, "big"),
                len(self.root_hash).to_bytes(1, "big"),
                self.root_hash,
            )
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> TreeHead:
        """Parse :meth:`to_bytes` output; ``ValueError`` unless it is exactly one well-formed head."""
        magic_len = len(TREE_HEAD_MAGIC)
        if len(data) < magic_len + 1 or data[:magic_len] != TREE_HEAD_MAGIC:
            raise ValueError("not a sunbid tree head (bad magic)")
        id_len = data[magic_len]
        pos = magic_len + 1
        expected = pos + id_len + 8 + 8 + 1 + HASH_SIZE
        if len(data) != expected:
            raise ValueError(f"tree head is {len(data)} bytes, expected {expected}")
        try:
            log_id = data[pos : pos + id_len].decode("ascii")
        except UnicodeDecodeError as exc:
            raise ValueError("log_id is not ASCII") from exc
        pos += id_len
        tree_size = int.from_bytes(data[pos : pos + 8], "big")
        timestamp_ms = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if data[pos + 16] != HASH_SIZE:
            raise ValueError(f"root hash length must be {HASH_SIZE}")
        return cls(tree_size, data[pos + 17 :], timestamp_ms, log_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"log_id", "tree_size", "timestamp_ms", "root_hash": hex}``."""
        return {
            "log_id": self.log_id,
            "tree_size": self.tree_size,
            "timestamp_ms": self.timestamp_ms,
            "root_hash": self.root_hash.hex(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeHead:
        """Inverse of :meth:`to_dict`; ``ValueError`` for missing or malformed fields."""
        return cls(
            tree_size=_field(data, "tree_size"),
            root_hash=_hex_field(data, "root_hash"),
            timestamp_ms=_field(data, "timestamp_ms"),
            log_id=_field(data, "log_id"),
        )


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A tree head with the log's signature over ``head.to_bytes()``."""

    head: TreeHead
    signature: bytes
    key_fingerprint: str
    suite: str

    def __post_init__(self) -> None:
        if not isinstance(self.head, TreeHead):
            raise ValueError("head must be a TreeHead")
        if not isinstance(self.signature, bytes) or not self.signature:
            raise ValueError("signature must be non-empty bytes")
        _check_label(self.key_fingerprint, "key_fingerprint")
        _check_label(self.suite, "suite")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: the head's fields plus ``signature`` (hex), ``key_fingerprint`` and ``suite``."""
        return {
            **self.head.to_dict(),
            "signature": self.signature.hex(),
            "key_fingerprint": self.key_fingerprint,
            "suite": self.suite,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignedTreeHead:
        """Inverse of :meth:`to_dict`; ``ValueError`` for missing or malformed fields."""
        return cls(
            head=TreeHead.from_dict(data),
            signature=_hex_field(data, "signature"),
            key_fingerprint=_field(data, "key_fingerprint"),
            suite=_field(data, "suite"),
        )


def sign_tree_head(
    head: TreeHead,
    sign: Callable[[bytes], bytes],
    *,
    key_fingerprint: str,
    suite: str,
) -> SignedTreeHead:
    """Sign ``head.to_bytes()`` with ``sign`` (e.g. an Ed25519 or SM2 private key's sign function)."""
    return SignedTreeHead(head, sign(head.to_bytes()), key_fingerprint, suite)


def verify_tree_head(sth: SignedTreeHead, verify: Callable[[bytes, bytes], bool]) -> bool:
    """True if ``verify(message, signature)`` accepts the signature over ``sth.head.to_bytes()``.

    ``verify`` must be the public key of ``sth.key_fingerprint`` under ``sth.suite``; choosing it is the
    caller's job. Exceptions it raises propagate.
    """
    return verify(sth.head.to_bytes(), sth.signature) is True


def check_head_consistency(old: TreeHead, new: TreeHead, proof: Sequence[bytes], *, h: HashFunc = sha256) -> None:
    """Check that ``new`` extends ``old`` (what a witness checks before countersigning a new head).

    Same ``log_id``, size not smaller, time not earlier, and a valid RFC 9162 consistency proof between the
    two roots. Raises :class:`~sunbid.ledger.merkle.InvalidProofError` naming the failed check. Signatures are
    not checked here: verify both heads with :func:`verify_tree_head` first.
    """
    if old.log_id != new.log_id:
        raise InvalidProofError(f"heads of different logs: {old.log_id!r} and {new.log_id!r}")
    if new.tree_size < old.tree_size:
        raise InvalidProofError(f"the log shrank from {old.tree_size} to {new.tree_size} entries")
    if new.timestamp_ms < old.timestamp_ms:
        raise InvalidProofError("the newer head has an earlier timestamp")
    check_consistency(old.tree_size, old.root_hash, new.tree_size, new.root_hash, proof, h=h)


def verify_head_consistency(old: TreeHead, new: TreeHead, proof: Sequence[bytes], *, h: HashFunc = sha256) -> bool:
    """True if :func:`check_head_consistency` passes."""
    try:
        check_head_consistency(old, new, proof, h=h)
    except InvalidProofError:
        return False
    return True
