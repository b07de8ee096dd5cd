"""Section opening keys (开标密钥) and their k-of-n split among custodians (开标密钥保管人), SPEC B-2.

Each tender section gets an encryption key pair when it is published; every sealed bid wraps its content key to
the public half as well as to the bidder's own key. The private half is split with Shamir's scheme (pycryptodome
``Crypto.Protocol.SecretSharing.Shamir``, GF(2^128), 16-byte secrets): a 32-byte key is cut into 16-byte blocks
and each block is shared with its own random polynomial at the same x-coordinates 1..n, so share *i* is the
concatenation of the blocks' *i*-th points. Any k shares rebuild the key; k−1 reveal nothing about it.

Every share carries a commitment: the fingerprint of the opening **public** key (published with the section).
A rebuilt key whose public key does not have that fingerprint is refused (``opening.bad_shares``), so a wrong
or corrupted share never yields a wrong key silently. Shares travel as text (:meth:`Share.to_text`) and are
stored encrypted to each custodian's encryption-certificate key (:func:`encrypt_share_for_custodian`).

Pure: no database, no clock. Whether the key may be rebuilt (after the deadline, tender rules allow it,
custodians' approvals logged) is the opening service's business.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from Crypto.Protocol.SecretSharing import Shamir

from sunbid.core.errors import DomainError, IntegrityFailure, ValidationFailed
from sunbid.crypto.certificates import read_certificate_key
from sunbid.crypto.suite import SUITE_NAMES, CryptoSuite, KeyPair, get_suite, resolve_suite
from sunbid.ledger.canonical import canonical_json

__all__ = [
    "MAX_SHARES",
    "EncryptedShare",
    "Share",
    "combine_shares",
    "decrypt_share",
    "encrypt_share_for_custodian",
    "new_opening_key",
    "opening_key_fingerprint",
    "split_key",
]

SHARE_VERSION = 1
BLOCK_SIZE = 16
MAX_SHARES = 255
MAX_COMBINATIONS = 2000
"""When more than k shares are given and the first k fail the commitment, at most this many other subsets are tried."""
_SHARE_ARMOR = "SUNBID OPENING KEY SHARE"
_ENCRYPTED_ARMOR = "SUNBID ENCRYPTED OPENING KEY SHARE"
_ENCRYPTION_LABEL = "sunbid-opening-share/1/encrypted"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_SHARE_KEYS = ("Version", "Section", "Suite", "Index", "Threshold", "Total", "Key-Fingerprint", "Data")
_ENCRYPTED_KEYS = (*_SHARE_KEYS[:-1], "Custodian-Key-Fingerprint", "Wrapped-Key", "Ciphertext")


# --- errors ------------------------------------------------------------------------------------------------


def _bad_split(reason_zh: str, reason_en: str) -> ValidationFailed:
    return ValidationFailed(
        "opening.bad_split", f"无法拆分开标密钥：{reason_zh}", f"Cannot split the opening key: {reason_en}"
    )


def _not_enough(have: int, need: int) -> ValidationFailed:
    return ValidationFailed(
        "opening.not_enough_shares",
        f"密钥份额不足：需要 {need} 份，只有 {have} 份",
        f"Not enough key shares: {need} needed, {have} given",
        details={"have": have, "need": need},
    )


def _bad_shares(reason: str) -> IntegrityFailure:
    return IntegrityFailure(
        "opening.bad_shares",
        f"密钥份额错误或已损坏，无法恢复开标密钥（{reason}）",
        f"The key shares are wrong or corrupted; the opening key cannot be rebuilt ({reason})",
        details={"reason": reason},
    )


def _bad_text(reason: str) -> ValidationFailed:
    return ValidationFailed(
        "opening.bad_share_text",
        f"密钥份额文本格式错误（{reason}）",
        f"The key share text is malformed ({reason})",
        details={"reason": reason},
    )


def _wrong_custodian_key() -> ValidationFailed:
    return ValidationFailed(
        "opening.wrong_custodian_key",
        "该密钥份额不是加密给此保管人密钥的",
        "This key share was not encrypted to this custodian's key",
    )


def _share_tampered() -> IntegrityFailure:
    return IntegrityFailure(
        "opening.share_tampered",
        "加密的密钥份额已被篡改或损坏",
        "The encrypted key share was tampered with or damaged",
    )


# --- keys -----------------------------------------------------------------------------------------------------


def new_opening_key(suite: CryptoSuite | str) -> KeyPair:
    """A fresh opening key pair for a section (an encryption pair of the suite: X25519 or SM2)."""
    return resolve_suite(suite).generate_encryption_keypair()


def opening_key_fingerprint(suite: CryptoSuite | str, public: bytes) -> str:
    """The fingerprint published with the section, and the commitment every share carries."""
    return resolve_suite(suite).public_key_fingerprint(public)


def _check_section(section: object) -> str:
    if (
        not isinstance(section, str)
        or not section
        or len(section) > 128
        or section != section.strip()
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in section)
    ):
        raise _bad_split("标段标识不合规", "section id must be 1-128 printable characters without surrounding blanks")
    return section


@dataclass(frozen=True, slots=True)
class Share:
    """One custodian's share of a section's opening private key."""

    section: str
    suite: str
    index: int
    threshold: int
    total: int
    key_fingerprint: str
    """Commitment: fingerprint of the opening public key this share rebuilds."""
    data: bytes = field(repr=False)

    def _fields(self) -> list[tuple[str, str]]:
        return [
            ("Version", str(SHARE_VERSION)),
            ("Section", self.section),
            ("Suite", self.suite),
            ("Index", str(self.index)),
            ("Threshold", str(self.threshold)),
            ("Total", str(self.total)),
            ("Key-Fingerprint", self.key_fingerprint),
            ("Data", base64.b64encode(self.data).decode("ascii")),
        ]

    def to_text(self) -> str:
        """An armoured text block a custodian can store or print; ``Check`` catches copying mistakes."""
        return _armor(_SHARE_ARMOR, self.suite, self._fields())

    @classmethod
    def from_text(cls, text: str) -> Share:
        """Parse :meth:`to_text` output (``opening.bad_share_text`` if malformed or mistyped)."""
        f = _unarmor(_SHARE_ARMOR, text, _SHARE_KEYS)
        return _validated_share(
            section=f["Section"],
            suite=f["Suite"],
            index=_int(f["Index"]),
            threshold=_int(f["Threshold"]),
            total=_int(f["Total"]),
            key_fingerprint=f["Key-Fingerprint"],
            data=_unb64(f["Data"]),
        )


def _validated_share(
    *, section: str, suite: str, index: int, threshold: int, total: int, key_fingerprint: str, data: bytes
) -> Share:
    if suite not in SUITE_NAMES or not _HEX64.fullmatch(key_fingerprint):
        raise _bad_text("suite or key fingerprint")
    if not 2 <= threshold <= total <= MAX_SHARES or not 1 <= index <= total:
        raise _bad_text("index, threshold or total out of range")
    if not data or len(data) % BLOCK_SIZE:
        raise _bad_text("share data length")
    try:
        _check_section(section)
    except DomainError as exc:
        raise _bad_text("section") from exc
    return Share(section, suite, index, threshold, total, key_fingerprint, data)


def split_key(private: bytes, k: int, n: int, *, suite: CryptoSuite | str, section: str) -> list[Share]:
    """Split an opening private key into ``n`` shares, any ``k`` of which rebuild it (2 ≤ k ≤ n ≤ 255).

    ``private`` must be a valid encryption private key of ``suite`` whose length is a multiple of 16 bytes (both
    suites' keys are 32). Refused with ``opening.bad_split`` or ``crypto.bad_key``.
    """
    chosen = resolve_suite(suite)
    _check_section(section)
    if type(k) is not int or type(n) is not int or not 2 <= k <= n <= MAX_SHARES:
        raise _bad_split("须满足 2 ≤ k ≤ n ≤ 255", "need 2 <= k <= n <= 255")
    if not private or len(private) % BLOCK_SIZE:
        raise _bad_split("私钥长度须为 16 字节的整数倍", "the key length must be a multiple of 16 bytes")
    fingerprint = chosen.public_key_fingerprint(chosen.encryption_public_key(private))
    points: list[list[bytes]] = [[] for _ in range(n)]
    for start in range(0, len(private), BLOCK_SIZE):
        block_shares = Shamir.split(k, n, private[start : start + BLOCK_SIZE])
        for position, (index, value) in enumerate(block_shares):
            if index != position + 1:  # pragma: no cover - pycryptodome numbers shares 1..n
                raise RuntimeError("unexpected Shamir share index")
            points[position].append(value)
    return [Share(section, chosen.name, i + 1, k, n, fingerprint, b"".join(p)) for i, p in enumerate(points)]


def _rebuild(chosen: CryptoSuite, shares: Sequence[Share]) -> bytes | None:
    """The key from exactly k shares, or None if it does not match the commitment."""
    size = len(shares[0].data)
    blocks = []
    for start in range(0, size, BLOCK_SIZE):
        blocks.append(Shamir.combine([(s.index, s.data[start : start + BLOCK_SIZE]) for s in shares]))
    private = b"".join(blocks)
    try:
        public = chosen.encryption_public_key(private)
    except DomainError:  # e.g. an SM2 scalar out of range
        return None
    return private if hmac.compare_digest(chosen.public_key_fingerprint(public), shares[0].key_fingerprint) else None


def combine_shares(shares: Sequence[Share], k: int | None = None, *, suite: CryptoSuite | None = None) -> bytes:
    """Rebuild the opening private key from at least k shares of one key.

    ``opening.not_enough_shares`` with fewer than k distinct shares; ``opening.bad_shares`` if they belong to
    different keys or sections, disagree, or rebuild a key whose public key does not match the commitment.
    With more than k shares, a subset that matches the commitment is used (a corrupted extra share is
    tolerated). ``suite`` defaults to the one the shares name.
    """
    if not shares:
        raise _not_enough(0, k or 2)
    first = shares[0]
    meta = (first.section, first.suite, first.threshold, first.total, first.key_fingerprint, len(first.data))
    by_index: dict[int, Share] = {}
    for share in shares:
        if (share.section, share.suite, share.threshold, share.total, share.key_fingerprint, len(share.data)) != meta:
            raise _bad_shares("shares of different keys, sections or thresholds")
        if not 1 <= share.index <= share.total or not share.data or len(share.data) % BLOCK_SIZE:
            raise _bad_shares("share index or length")
        known = by_index.setdefault(share.index, share)
        if known.data != share.data:
            raise _bad_shares(f"two different shares numbered {share.index}")
    threshold = first.threshold
    if k is not None and k != threshold:
        raise _bad_shares(f"threshold is {threshold}, not {k}")
    distinct = [by_index[i] for i in sorted(by_index)]
    if len(distinct) < threshold:
        raise _not_enough(len(distinct), threshold)
    chosen = suite if suite is not None else get_suite(first.suite)
    if chosen.name != first.suite:
        raise _bad_shares(f"shares of suite {first.suite}, not {chosen.name}")
    for subset in itertools.islice(itertools.combinations(distinct, threshold), MAX_COMBINATIONS):
        private = _rebuild(chosen, subset)
        if private is not None:
            return private
    raise _bad_shares("the rebuilt key does not match the opening key fingerprint")


# --- shares encrypted to custodians -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncryptedShare:
    """A share encrypted to one custodian's encryption key (hybrid: a fresh key wrapped, the share sealed)."""

    section: str
    suite: str
    index: int
    threshold: int
    total: int
    key_fingerprint: str
    custodian_key_fingerprint: str
    wrapped_key: bytes = field(repr=False)
    ciphertext: bytes = field(repr=False)

    def binding(self) -> bytes:
        """The wrap context and AAD: every public field, so none can be swapped."""
        return canonical_json(
            {
                "label": _ENCRYPTION_LABEL,
                "section": self.section,
                "suite": self.suite,
                "index": self.index,
                "threshold": self.threshold,
                "total": self.total,
                "key_fingerprint": self.key_fingerprint,
                "custodian_key_fingerprint": self.custodian_key_fingerprint,
            }
        )

    def _fields(self) -> list[tuple[str, str]]:
        return [
            ("Version", str(SHARE_VERSION)),
            ("Section", self.section),
            ("Suite", self.suite),
            ("Index", str(self.index)),
            ("Threshold", str(self.threshold)),
            ("Total", str(self.total)),
            ("Key-Fingerprint", self.key_fingerprint),
            ("Custodian-Key-Fingerprint", self.custodian_key_fingerprint),
            ("Wrapped-Key", base64.b64encode(self.wrapped_key).decode("ascii")),
            ("Ciphertext", base64.b64encode(self.ciphertext).decode("ascii")),
        ]

    def to_text(self) -> str:
        """Armoured text, as :meth:`Share.to_text`."""
        return _armor(_ENCRYPTED_ARMOR, self.suite, self._fields())

    @classmethod
    def from_text(cls, text: str) -> EncryptedShare:
        """Parse :meth:`to_text` output (``opening.bad_share_text``)."""
        f = _unarmor(_ENCRYPTED_ARMOR, text, _ENCRYPTED_KEYS)
        share = _validated_share(
            section=f["Section"],
            suite=f["Suite"],
            index=_int(f["Index"]),
            threshold=_int(f["Threshold"]),
            total=_int(f["Total"]),
            key_fingerprint=f["Key-Fingerprint"],
            data=b"\0" * BLOCK_SIZE,
        )
        if not _HEX64.fullmatch(f["Custodian-Key-Fingerprint"]):
            raise _bad_text("custodian key fingerprint")
        return cls(
            share.section,
            share.suite,
            share.index,
            share.threshold,
            share.total,
            share.key_fingerprint,
            f["Custodian-Key-Fingerprint"],
            _unb64(f["Wrapped-Key"]),
            _unb64(f["Ciphertext"]),
        )


def _custodian_public(chosen: CryptoSuite, custodian: bytes | str) -> bytes:
    if isinstance(custodian, bytes):
        return custodian
    usage, public = read_certificate_key(chosen, custodian)
    if usage != "encryption":
        raise ValidationFailed(
            "opening.bad_custodian_key",
            "保管人证书须为加密证书",
            "The custodian's certificate must be an encryption certificate",
        )
    return public


def encrypt_share_for_custodian(
    suite: CryptoSuite | str, share: Share, custodian_public: bytes | str
) -> EncryptedShare:
    """Encrypt ``share`` to a custodian: raw encryption public key, or the custodian's encryption certificate PEM."""
    chosen = resolve_suite(suite)
    if share.suite != chosen.name:
        raise _bad_shares(f"share of suite {share.suite}, not {chosen.name}")
    public = _custodian_public(chosen, custodian_public)
    shell = EncryptedShare(
        share.section,
        share.suite,
        share.index,
        share.threshold,
        share.total,
        share.key_fingerprint,
        chosen.public_key_fingerprint(public),
        b"",
        b"",
    )
    binding = shell.binding()
    key = chosen.new_key()
    wrapped = chosen.wrap_key(public, key, binding)
    return replace(shell, wrapped_key=wrapped, ciphertext=chosen.seal(key, share.data, binding))


def decrypt_share(suite: CryptoSuite | str, encrypted: EncryptedShare | str, custodian_private: bytes) -> Share:
    """Decrypt a custodian's share (``opening.wrong_custodian_key``, ``opening.share_tampered``)."""
    chosen = resolve_suite(suite)
    if isinstance(encrypted, str):
        encrypted = EncryptedShare.from_text(encrypted)
    if encrypted.suite != chosen.name:
        raise _bad_shares(f"share of suite {encrypted.suite}, not {chosen.name}")
    try:
        public = chosen.encryption_public_key(custodian_private)
    except DomainError as exc:
        raise _wrong_custodian_key() from exc
    if not hmac.compare_digest(chosen.public_key_fingerprint(public), encrypted.custodian_key_fingerprint):
        raise _wrong_custodian_key()
    binding = encrypted.binding()
    try:
        key = chosen.unwrap_key(custodian_private, encrypted.wrapped_key, binding)
        data = chosen.open(key, encrypted.ciphertext, binding)
    except DomainError as exc:
        raise _share_tampered() from exc
    try:
        return _validated_share(
            section=encrypted.section,
            suite=encrypted.suite,
            index=encrypted.index,
            threshold=encrypted.threshold,
            total=encrypted.total,
            key_fingerprint=encrypted.key_fingerprint,
            data=data,
        )
    except DomainError as exc:
        raise _share_tampered() from exc


# --- text armour ----------------------------------------------------------------------------------------------


def _check_value(fields: list[tuple[str, str]], suite: str) -> str:
    suite_obj = get_suite(suite)
    return suite_obj.digest(canonical_json([[k, v] for k, v in fields])).hex()[:16]


def _armor(kind: str, suite: str, fields: list[tuple[str, str]]) -> str:
    lines = [f"-----BEGIN {kind}-----"]
    lines += [f"{k}: {v}" for k, v in fields]
    lines.append(f"Check: {_check_value(fields, suite)}")
    lines.append(f"-----END {kind}-----")
    return "\n".join(lines) + "\n"


def _unarmor(kind: str, text: str, keys: Sequence[str]) -> dict[str, str]:
    if not isinstance(text, str):
        raise _bad_text("not text")
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) != len(keys) + 3 or lines[0] != f"-----BEGIN {kind}-----" or lines[-1] != f"-----END {kind}-----":
        raise _bad_text("armour lines")
    fields: list[tuple[str, str]] = []
    for line, key in zip(lines[1:-2], keys, strict=True):
        name, sep, value = line.partition(": ")
        if not sep or name != key:
            raise _bad_text(f"expected {key}")
        fields.append((name, value))
    values = dict(fields)
    if values["Version"] != str(SHARE_VERSION):
        raise _bad_text("unsupported version")
    if values["Suite"] not in SUITE_NAMES:
        raise _bad_text("suite")
    name, sep, check = lines[-2].partition(": ")
    if name != "Check" or not sep or not hmac.compare_digest(check, _check_value(fields, values["Suite"])):
        raise _bad_text("check value does not match: a character was changed or mistyped")
    return values


def _int(text: str) -> int:
    if not re.fullmatch(r"[1-9][0-9]{0,2}", text):
        raise _bad_text("number")
    return int(text)


def _unb64(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _bad_text("base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise _bad_text("base64 not canonical")
    return raw
