"""Verifiable random draws 可验证随机抽取 (SPEC B-5): commit–reveal, seed derivation, an unbiased DRBG.

Every random draw of the platform (the coefficient draw 系数抽取 at opening, the expert draw 专家抽取 later)
uses the functions here, so that anyone can recompute a draw from its published record (:mod:`sunbid.draws.record`,
checked by :mod:`sunbid.draws.verify`). The byte-level algorithm is fixed in ``docs/draws.md``; in short, with ``H`` the
suite hash (SHA-256 for ``intl``, SM3 for ``gm``), ``lp(x) = u32be(len(x)) ‖ x`` and ``canon(subject)`` the
canonical JSON of the subject:

* commitment ``= H(lp("sunbid/draw/v1/commit") ‖ lp(purpose) ‖ lp(canon(subject)) ‖ lp(name) ‖ lp(secret))``;
* seed ``= H(lp("sunbid/draw/v1/seed") ‖ lp(purpose) ‖ lp(canon(subject)) ‖ u32be(m) ‖ lp(name_i) ‖ lp(value_i) …)``
  over the ``m`` seed inputs sorted by name;
* DRBG stream ``= HMAC-H(seed, lp("sunbid/draw/v1/drbg") ‖ u64be(0)) ‖ HMAC-H(seed, … ‖ u64be(1)) ‖ …``;
* ``below(n)``: take ``ceil(b/8)`` stream bytes (``b`` = bit length of ``n − 1``), big-endian, keep the low ``b``
  bits, retry while ``≥ n`` (rejection sampling: no modulo bias);
* selection: forward Fisher–Yates with ``j = i + below(n − i)``; the first ``k`` positions are the draw.

Pure: no database, no clock, no network; the only randomness is :func:`new_secret`.
"""

from __future__ import annotations

import hmac
import itertools
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from sunbid.core.errors import ValidationFailed
from sunbid.crypto.suite import CryptoSuite, resolve_suite
from sunbid.ledger.canonical import JsonValue, canonical_json

__all__ = [
    "COMMIT_LABEL",
    "DRBG_LABEL",
    "HASH_OF_SUITE",
    "MIN_SECRET_BYTES",
    "SECRET_BYTES",
    "SEED_LABEL",
    "Commitment",
    "DecimalRange",
    "Drbg",
    "SeedInput",
    "choose_index",
    "coefficient_set",
    "commit",
    "commitment_hash",
    "decimal_text",
    "derive_seed",
    "draw_coefficient",
    "draw_from_values",
    "hmac_digest",
    "invalid",
    "new_secret",
    "parse_decimal",
    "reveal_matches",
    "sample_indexes",
    "sample_without_replacement",
    "sealed_bids_input",
]

T = TypeVar("T")

COMMIT_LABEL = b"sunbid/draw/v1/commit"
"""Domain-separation label of a commitment hash."""
SEED_LABEL = b"sunbid/draw/v1/seed"
"""Domain-separation label of the seed derivation."""
DRBG_LABEL = b"sunbid/draw/v1/drbg"
"""Domain-separation label of every DRBG block."""

HASH_OF_SUITE: Mapping[str, str] = {"intl": "sha256", "gm": "sm3"}
"""The hash each crypto suite draws with."""

SECRET_BYTES = 32
"""Length of a secret made by :func:`new_secret`."""
MIN_SECRET_BYTES = 16
"""A committed secret shorter than this could be guessed from its commitment (128 bits at least)."""
MAX_INPUT_BYTES = 1 << 20
"""Largest seed input (1 MiB: 32,768 bid hashes)."""
MAX_CANDIDATES = 10_000_000
"""Largest population a draw may choose from."""
MAX_RANGE_VALUES = 10_000
"""Largest coefficient set :func:`coefficient_set` builds."""

_BLOCK = 64  # HMAC block size of SHA-256 and of SM3
_PURPOSE_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_SUBJECT_KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_DECIMAL_RE = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?")


def invalid(code: str, message_zh: str, message_en: str) -> ValidationFailed:
    """A draw input error (``draw.*``) with both messages."""
    return ValidationFailed(code, message_zh, message_en)


def _lp(data: bytes) -> bytes:
    """Length-prefixed bytes: ``u32be(len) ‖ data``."""
    return len(data).to_bytes(4, "big") + data


def _check_purpose(purpose: str) -> bytes:
    if not isinstance(purpose, str) or not _PURPOSE_RE.fullmatch(purpose):
        raise invalid(
            "draw.bad_purpose",
            f"抽取用途 {purpose!r} 不合规：须为小写字母开头的 1–32 位小写字母、数字或下划线",
            f"draw purpose {purpose!r} must be 1-32 lower-case letters, digits or '_', starting with a letter",
        )
    return purpose.encode("ascii")


def _subject_bytes(subject: Mapping[str, str] | None) -> bytes:
    """``canon(subject)``: the canonical JSON of the subject (``{}`` when None)."""
    subject = {} if subject is None else subject
    for key, value in subject.items():
        if not isinstance(key, str) or not _SUBJECT_KEY_RE.fullmatch(key):
            raise invalid(
                "draw.bad_subject",
                f"抽取对象的键 {key!r} 不合规（小写字母、数字、下划线）",
                f"subject key {key!r} must be lower-case letters, digits or '_'",
            )
        if not isinstance(value, str) or not 1 <= len(value) <= 200:
            raise invalid(
                "draw.bad_subject",
                f"抽取对象 {key} 的值须为 1–200 个字符的字符串",
                f"subject value of {key} must be a string of 1-200 characters",
            )
    return canonical_json(dict(subject))


def _check_name(name: str, what_zh: str, what_en: str) -> bytes:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise invalid(
            "draw.bad_name",
            f"{what_zh}名称 {name!r} 不合规：1–128 位字母、数字或 _ . : -",
            f"{what_en} name {name!r} must be 1-128 ASCII letters, digits or _ . : -",
        )
    return name.encode("ascii")


def _hmac_pads(suite: CryptoSuite, key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer padded keys of HMAC (RFC 2104); both SHA-256 and SM3 have 64-byte blocks."""
    if len(key) > _BLOCK:
        key = suite.digest(key)
    key = key.ljust(_BLOCK, b"\x00")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_digest(suite: CryptoSuite | str, key: bytes, message: bytes) -> bytes:
    """HMAC-H(key, message) with the suite hash H (HMAC-SHA256 or HMAC-SM3)."""
    s = resolve_suite(suite)
    inner, outer = _hmac_pads(s, key)
    return s.digest(outer + s.digest(inner + message))


# --- commit–reveal -------------------------------------------------------------------------------------


def new_secret() -> bytes:
    """A fresh 32-byte secret from the operating system's CSPRNG, to commit to before the event."""
    return secrets.token_bytes(SECRET_BYTES)


def commitment_hash(
    purpose: str, subject: Mapping[str, str] | None, name: str, secret: bytes, *, suite: CryptoSuite | str
) -> bytes:
    """``H(lp(COMMIT_LABEL) ‖ lp(purpose) ‖ lp(canon(subject)) ‖ lp(name) ‖ lp(secret))``.

    Binding the purpose, the subject and the input name means a commitment cannot be reused for another draw,
    another section or another seed input. No salt is needed: the secret itself must have ≥ 128 bits of
    entropy (:data:`MIN_SECRET_BYTES`), which makes the commitment hiding.
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) < MIN_SECRET_BYTES:
        raise invalid(
            "draw.weak_secret",
            f"承诺的秘密值至少须 {MIN_SECRET_BYTES} 字节随机数",
            f"a committed secret must be at least {MIN_SECRET_BYTES} random bytes",
        )
    if len(secret) > MAX_INPUT_BYTES:
        raise invalid("draw.input_too_large", "秘密值过长", "secret is too long")
    body = (
        _lp(COMMIT_LABEL)
        + _lp(_check_purpose(purpose))
        + _lp(_subject_bytes(subject))
        + _lp(_check_name(name, "承诺", "commitment"))
        + _lp(bytes(secret))
    )
    return resolve_suite(suite).digest(body)


@dataclass(frozen=True, slots=True)
class Commitment:
    """A party's promise, published before the event, to a secret it reveals after.

    ``name`` is the seed input the revealed secret becomes (``"operator"``); ``value_hash`` is
    :func:`commitment_hash`. ``committed_at`` (ISO 8601 with offset) and ``log_index`` (transparency-log entry
    that published the commitment) are evidence of *when* it was made; the log proves them, not this object.
    """

    purpose: str
    subject: Mapping[str, str] = field(hash=False)
    name: str
    value_hash: bytes
    committed_at: str | None = None
    log_index: int | None = None

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form (hex hash); what the record and the transparency log carry."""
        return {
            "purpose": self.purpose,
            "subject": dict(self.subject),
            "name": self.name,
            "value_hash": self.value_hash.hex(),
            "committed_at": self.committed_at,
            "log_index": self.log_index,
        }


def commit(
    purpose: str,
    subject: Mapping[str, str] | None,
    name: str,
    secret: bytes,
    *,
    suite: CryptoSuite | str,
    committed_at: str | None = None,
    log_index: int | None = None,
) -> Commitment:
    """Commit to ``secret`` as seed input ``name`` of the ``purpose`` draw of ``subject``."""
    value_hash = commitment_hash(purpose, subject, name, secret, suite=suite)
    return Commitment(purpose, dict(subject or {}), name, value_hash, committed_at, log_index)


def reveal_matches(commitment: Commitment, secret: bytes, *, suite: CryptoSuite | str) -> bool:
    """True if ``secret`` is what ``commitment`` promised (constant-time compare); False for a weak secret."""
    try:
        expected = commitment_hash(commitment.purpose, commitment.subject, commitment.name, secret, suite=suite)
    except ValidationFailed:
        return False
    return hmac.compare_digest(expected, commitment.value_hash)


# --- seed ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeedInput:
    """One named byte string the seed is derived from (a revealed secret, the sealed bids, a beacon)."""

    name: str
    value: bytes = field(repr=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "种子输入", "seed input")
        if not isinstance(self.value, bytes) or not 1 <= len(self.value) <= MAX_INPUT_BYTES:
            raise invalid(
                "draw.bad_input_value",
                f"种子输入 {self.name} 的值须为 1 字节至 1 MiB",
                f"seed input {self.name} must be 1 byte to 1 MiB",
            )


def sealed_bids_input(container_hashes: Iterable[bytes], name: str = "sealed_bids") -> SeedInput:
    """The seed input made of all sealed bids: their container hashes, sorted bytewise and concatenated.

    Every hash must have the same length (32 bytes for both suites); duplicates are refused (one container
    cannot be two bids). Sorting makes the value independent of arrival order.
    """
    hashes = sorted(bytes(h) for h in container_hashes)
    if not hashes:
        raise invalid("draw.no_bids", "没有投标文件哈希可作种子输入", "no sealed-bid hash to derive a seed from")
    if any(len(h) != 32 for h in hashes):
        raise invalid("draw.bad_bid_hash", "投标文件哈希须为 32 字节", "every sealed-bid hash must be 32 bytes")
    if any(a == b for a, b in itertools.pairwise(hashes)):
        raise invalid("draw.duplicate_bid_hash", "投标文件哈希重复", "a sealed-bid hash appears twice")
    return SeedInput(name, b"".join(hashes))


def derive_seed(
    purpose: str,
    inputs: Sequence[SeedInput],
    *,
    suite: CryptoSuite | str,
    subject: Mapping[str, str] | None = None,
) -> bytes:
    """The 32-byte seed: ``H(lp(SEED_LABEL) ‖ lp(purpose) ‖ lp(canon(subject)) ‖ u32be(m) ‖ …)``.

    The ``m`` inputs follow sorted by name (ASCII byte order), each as ``lp(name) ‖ lp(value)``. Names must
    be unique and there must be at least one input.
    """
    if not inputs:
        raise invalid("draw.no_inputs", "没有种子输入", "no seed input given")
    ordered = sorted(inputs, key=lambda i: i.name.encode("ascii"))
    for a, b in itertools.pairwise(ordered):
        if a.name == b.name:
            raise invalid("draw.duplicate_input", f"种子输入 {a.name} 重复", f"seed input {a.name} given twice")
    parts = [
        _lp(SEED_LABEL),
        _lp(_check_purpose(purpose)),
        _lp(_subject_bytes(subject)),
        len(ordered).to_bytes(4, "big"),
    ]
    for item in ordered:
        parts.append(_lp(_check_name(item.name, "种子输入", "seed input")))
        parts.append(_lp(item.value))
    return resolve_suite(suite).digest(b"".join(parts))


# --- DRBG and unbiased selection -----------------------------------------------------------------------


class Drbg:
    """Deterministic random bytes from a seed: HMAC-H in counter mode.

    Block ``i`` is ``HMAC-H(seed, lp(DRBG_LABEL) ‖ u64be(i))``; the stream is blocks 0, 1, 2 … concatenated
    and read strictly in order. ``bytes_used`` and ``rejections`` count what :meth:`below` consumed and threw
    away (for tests and for people checking a draw by hand).
    """

    __slots__ = ("_buffer", "_counter", "_inner", "_outer", "_suite", "bytes_used", "rejections")

    def __init__(self, seed: bytes, *, suite: CryptoSuite | str) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise invalid("draw.bad_seed", "种子须为 32 字节", "the seed must be 32 bytes")
        self._suite = resolve_suite(suite)
        self._inner, self._outer = _hmac_pads(self._suite, seed)
        self._counter = 0
        self._buffer = b""
        self.bytes_used = 0
        self.rejections = 0

    def read(self, n: int) -> bytes:
        """The next ``n`` bytes of the stream."""
        while len(self._buffer) < n:
            message = _lp(DRBG_LABEL) + self._counter.to_bytes(8, "big")
            block = self._suite.digest(self._outer + self._suite.digest(self._inner + message))
            self._buffer += block
            self._counter += 1
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        self.bytes_used += n
        return out

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)`` by rejection sampling.

        ``n == 1`` gives 0 and reads nothing. Otherwise ``b = (n − 1).bit_length()``; read ``ceil(b/8)``
        bytes as a big-endian integer, keep its low ``b`` bits, and accept it if it is below ``n`` — else
        read again. Each try is accepted with probability > 1/2, and every accepted value is equally likely.
        """
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CANDIDATES:
            raise invalid("draw.bad_n", f"候选数 {n} 超出范围", f"population size {n} out of range")
        if n == 1:
            return 0
        bits = (n - 1).bit_length()
        width, mask = (bits + 7) // 8, (1 << bits) - 1
        while True:
            x = int.from_bytes(self.read(width), "big") & mask
            if x < n:
                return x
            self.rejections += 1


def choose_index(seed: bytes, n: int, *, suite: CryptoSuite | str) -> int:
    """One uniform index in ``[0, n)``: the first :meth:`Drbg.below` of the seed's stream."""
    return Drbg(seed, suite=suite).below(n)


def sample_indexes(seed: bytes, n: int, k: int, *, suite: CryptoSuite | str) -> list[int]:
    """``k`` distinct indexes of ``[0, n)`` in draw order: the first ``k`` steps of a forward Fisher–Yates.

    Step ``i`` (0-based) swaps position ``i`` with ``j = i + below(n − i)`` and outputs what is then at ``i``.
    The result for ``k`` is a prefix of the result for any larger ``k`` (reserves 候补 extend a draw without
    changing it). Positions are tracked sparsely, so the cost is O(k) whatever ``n`` is.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CANDIDATES:
        raise invalid("draw.bad_n", f"候选数 {n} 超出范围", f"population size {n} out of range")
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= n:
        raise invalid("draw.bad_k", f"抽取数 {k} 须在 0 与候选数 {n} 之间", f"draw count {k} must be 0..{n}")
    drbg = Drbg(seed, suite=suite)
    moved: dict[int, int] = {}
    out: list[int] = []
    for i in range(k):
        j = i + drbg.below(n - i)
        at_i, at_j = moved.get(i, i), moved.get(j, j)
        moved[j] = at_i
        out.append(at_j)
    return out


def sample_without_replacement(seed: bytes, items: Sequence[T], k: int, *, suite: CryptoSuite | str) -> list[T]:
    """``k`` distinct positions of ``items`` chosen by :func:`sample_indexes`, as items, in draw order."""
    return [items[i] for i in sample_indexes(seed, len(items), k, suite=suite)]


def draw_from_values(seed: bytes, values: Sequence[T], *, suite: CryptoSuite | str) -> T:
    """One value of ``values``, uniformly: ``values[choose_index(seed, len(values))]``."""
    return values[choose_index(seed, len(values), suite=suite)]


# --- coefficients (exact decimals) ---------------------------------------------------------------------


def parse_decimal(value: str | Decimal | int, what: str = "value") -> Decimal:
    """An exact decimal from ``"0.955"``, a ``Decimal`` or an ``int``; floats, NaN, exponents are refused."""
    if isinstance(value, bool | float):
        raise invalid("draw.bad_decimal", f"{what} 须写成十进制字符串", f"{what} must be a decimal string")
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    if not _DECIMAL_RE.fullmatch(text):
        raise invalid(
            "draw.bad_decimal",
            f"{what} 不是十进制数：{text!r}（例：0.955）",
            f"{what} is not a plain decimal: {text!r} (e.g. 0.955)",
        )
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only valid decimals
        raise invalid("draw.bad_decimal", f"{what} 不是十进制数", f"{what} is not a decimal") from exc


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without exponent (``Decimal("0.950")`` → ``"0.950"``)."""
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class DecimalRange:
    """An inclusive arithmetic range of exact decimals, as a tender declares it (from, to, step)."""

    start: str
    stop: str
    step: str

    def values(self) -> list[Decimal]:
        """The values, ascending; see :func:`coefficient_set`."""
        return coefficient_set(self.start, self.stop, self.step)

    def to_dict(self) -> dict[str, JsonValue]:
        """JSON-ready form."""
        return {"kind": "decimal_range", "from": self.start, "to": self.stop, "step": self.step}


def coefficient_set(
    start: str | Decimal | int = "0.95", stop: str | Decimal | int = "0.98", step: str | Decimal | int = "0.005"
) -> list[Decimal]:
    """``start, start + step, …, stop`` (inclusive), exactly, all written to the finest of the three scales.

    ``coefficient_set("0.95", "0.98", "0.005")`` is ``0.950, 0.955, …, 0.980`` (7 values). ``stop − start``
    must be a whole multiple of ``step`` (``draw.bad_range`` otherwise: a range that does not land on its end
    is ambiguous). Negative values are allowed (Fujian's r from −4 to −1 %).
    """
    a, b, s = parse_decimal(start, "from"), parse_decimal(stop, "to"), parse_decimal(step, "step")
    if s <= 0 or b < a:
        raise invalid("draw.bad_range", "须满足 步长 > 0 且 起点 ≤ 终点", "the range needs step > 0 and from ≤ to")
    count, rest = divmod(b - a, s)
    if rest != 0:
        raise invalid(
            "draw.bad_range",
            f"终点 {b} 与起点 {a} 之差不是步长 {s} 的整数倍",
            f"to ({b}) − from ({a}) is not a whole multiple of step ({s})",
        )
    if count + 1 > MAX_RANGE_VALUES:
        raise invalid("draw.bad_range", "系数个数过多", f"more than {MAX_RANGE_VALUES} values")
    exponent = min(int(x.as_tuple().exponent) for x in (a, b, s))
    quantum = Decimal(1).scaleb(exponent)
    return [(a + s * i).quantize(quantum) for i in range(int(count) + 1)]


def draw_coefficient(seed: bytes, values: Sequence[Decimal], *, suite: CryptoSuite | str) -> Decimal:
    """The drawn coefficient K (or r, or 浮动点): one of ``values`` by :func:`draw_from_values`."""
    if len(set(values)) != len(values):
        raise invalid("draw.duplicate_candidate", "系数集合有重复值", "the coefficient set has a duplicate value")
    return draw_from_values(seed, values, suite=suite)
