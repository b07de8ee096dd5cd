"""SM2 (GB/T 32918) helpers around the GmSSL binding ``gmssl_pyx``.

GmSSL does the expensive work (signing, verifying, encrypting); this module adds what the binding lacks:

* deriving the public key from a private scalar (the binding only generates pairs), with a fixed-base comb
  over the generator and a small cache keyed by a salted hash of the scalar (never by the scalar itself);
* the signer identity hash ``Z`` (GB/T 32918.2 §5.5) so messages can be signed through the fast digest entry
  point (``sm2_sign_sm3_digest`` is ~10x faster than the binding's own ``sm2_sign``);
* strict conversion between the raw ``r ‖ s`` signature (64 bytes) and the DER ``SEQUENCE {r, s}`` of
  GB/T 35276, so malformed input never reaches the C library.

Encodings: private key = 32-byte big-endian scalar ``d`` with ``1 <= d <= n-2``; public key = 64 bytes
``x ‖ y`` (big-endian affine coordinates, no ``04`` prefix).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import cast

import gmssl_pyx

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

DEFAULT_USER_ID = b"1234567812345678"
"""The default signer identity of GB/T 35276 (also GmSSL's and OpenSSL's default)."""

PRIVATE_KEY_SIZE = 32
PUBLIC_KEY_SIZE = 64
SIGNATURE_SIZE = 64
MAX_PLAINTEXT = 255
"""GmSSL's limit on SM2 encryption plaintext."""

CURVE_OID = "1.2.156.10197.1.301"
SM2_SM3_SIGNATURE_OID = "1.2.156.10197.1.501"
SM3_OID = "1.2.156.10197.1.401"

_Jacobian = tuple[int, int, int]
_Affine = tuple[int, int]


GmsslError: type[Exception] = gmssl_pyx.GmsslInnerError
"""Base class of every error the GmSSL binding raises."""


_HASHLIB_SM3_MIN = 4096
"""Above this size SM3 goes through ``hashlib`` (which releases the GIL); below, GmSSL is ~3x faster."""


def _hashlib_sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def _sm3_factory() -> Callable[[bytes], bytes]:
    try:
        hashlib.new("sm3", b"")
    except ValueError:  # pragma: no cover - depends on the OpenSSL build
        return _gmssl_sm3

    def both(data: bytes) -> bytes:
        return _gmssl_sm3(data) if len(data) < _HASHLIB_SM3_MIN else _hashlib_sm3(data)

    return both


def _gmssl_sm3(data: bytes) -> bytes:
    return cast(bytes, gmssl_pyx.sm3_hash(data))


sm3: Callable[[bytes], bytes] = _sm3_factory()
"""One-shot SM3 (GmSSL for short inputs, OpenSSL through ``hashlib`` for long ones when it has SM3)."""


# --- curve arithmetic (only to derive public keys: plain Python ints, not constant-time) ----


def _double(pt: _Jacobian) -> _Jacobian:
    x, y, z = pt
    if not y or not z:
        return (0, 1, 0)
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P  # a = -3
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    z3 = 2 * y * z % P
    return (x3, y3, z3)


def _add_affine(pt: _Jacobian, x2: int, y2: int) -> _Jacobian:
    x1, y1, z1 = pt
    if not z1:
        return (x2, y2, 1)
    z1z1 = z1 * z1 % P
    u2 = x2 * z1z1 % P
    s2 = y2 * z1 * z1z1 % P
    h = (u2 - x1) % P
    r = (s2 - y1) % P
    if not h:
        return _double(pt) if not r else (0, 1, 0)
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - y1 * hhh) % P
    return (x3, y3, z1 * h % P)


def _to_affine(pt: _Jacobian) -> _Affine:
    x, y, z = pt
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return (x * zi2 % P, y * zi2 * zi % P)


_COMB: list[list[_Affine]] = []
_COMB_LOCK = threading.Lock()


def _comb_table() -> list[list[_Affine]]:
    """``table[i][j] = j · 16^i · G`` for 64 windows of 4 bits; built once (~40 ms) on first use."""
    if _COMB:
        return _COMB
    with _COMB_LOCK:
        if _COMB:
            return _COMB
        table: list[list[_Affine]] = []
        base = (GX, GY)
        for _ in range(64):
            row: list[_Affine] = [(0, 0)]
            acc: _Jacobian = (0, 1, 0)
            for _j in range(1, 16):
                acc = _add_affine(acc, *base)
                row.append(_to_affine(acc))
            table.append(row)
            b: _Jacobian = (base[0], base[1], 1)
            for _k in range(4):
                b = _double(b)
            base = _to_affine(b)
        _COMB.extend(table)
    return _COMB


def _base_multiply(k: int) -> _Affine:
    table = _comb_table()
    acc: _Jacobian = (0, 1, 0)
    for i in range(64):
        j = (k >> (4 * i)) & 15
        if j:
            acc = _add_affine(acc, *table[i][j])
    return _to_affine(acc)


_CACHE_SALT = os.urandom(32)
_CACHE_SIZE = 64
_public_cache: OrderedDict[bytes, bytes] = OrderedDict()
_cache_lock = threading.Lock()


def private_scalar(private: bytes) -> int:
    """The scalar of a raw private key, or ``ValueError`` if it is not a valid SM2 private key."""
    if len(private) != PRIVATE_KEY_SIZE:
        raise ValueError("SM2 private key must be 32 bytes")
    d = int.from_bytes(private, "big")
    if not 1 <= d <= N - 2:
        raise ValueError("SM2 private key out of range")
    return d


def public_from_private(private: bytes) -> bytes:
    """The 64-byte public key ``x ‖ y`` of a 32-byte private key (``ValueError`` if invalid)."""
    d = private_scalar(private)
    tag = hmac.digest(_CACHE_SALT, private, "sha256")
    with _cache_lock:
        cached = _public_cache.get(tag)
        if cached is not None:
            _public_cache.move_to_end(tag)
            return cached
    x, y = _base_multiply(d)
    public = x.to_bytes(32, "big") + y.to_bytes(32, "big")
    with _cache_lock:
        _public_cache[tag] = public
        while len(_public_cache) > _CACHE_SIZE:
            _public_cache.popitem(last=False)
    return public


def is_valid_public(public: bytes) -> bool:
    """True if ``public`` is 64 bytes ``x ‖ y`` of a point on the SM2 curve (not the point at infinity)."""
    if len(public) != PUBLIC_KEY_SIZE:
        return False
    x = int.from_bytes(public[:32], "big")
    y = int.from_bytes(public[32:], "big")
    if x >= P or y >= P:
        return False
    return (y * y - (x * x * x + A * x + B)) % P == 0


def generate_keypair() -> tuple[bytes, bytes]:
    """A fresh ``(private, public)`` pair from GmSSL's generator."""
    public, private = gmssl_pyx.sm2_key_generate()
    return bytes(private), bytes(public)


def encrypt(public: bytes, plaintext: bytes) -> bytes:
    """SM2 public-key encryption (GmSSL): DER ``SEQUENCE {x, y, hash, ciphertext}`` (C1C3C2)."""
    if not 1 <= len(plaintext) <= MAX_PLAINTEXT:
        raise ValueError("SM2 plaintext must be 1-255 bytes")
    return bytes(gmssl_pyx.sm2_encrypt(public, plaintext))


def decrypt(private: bytes, ciphertext: bytes) -> bytes:
    """SM2 decryption; ``ValueError`` on any failure (bad length, wrong key, tampering)."""
    if not 45 <= len(ciphertext) <= 366:
        raise ValueError("SM2 ciphertext length out of range")
    try:
        return bytes(gmssl_pyx.sm2_decrypt(private, ciphertext))
    except GmsslError as exc:
        raise ValueError("SM2 decryption failed") from exc


# --- signer identity and digests ----

_CURVE_BYTES = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))


def identity_hash(public: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """``Z = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)`` of GB/T 32918.2."""
    bits = len(user_id) * 8
    if bits > 0xFFFF:
        raise ValueError("SM2 user id too long")
    return sm3(bits.to_bytes(2, "big") + user_id + _CURVE_BYTES + public)


def message_digest(public: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """``e = SM3(Z ‖ M)``: what is actually signed."""
    return sm3(identity_hash(public, user_id) + message)


# --- signature encodings ----


def _der_integer(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 8) // 8, "big")  # always room for a leading 0 bit
    return b"\x02" + bytes([len(body)]) + body


def rs_to_der(r: int, s: int) -> bytes:
    """DER ``SEQUENCE { r INTEGER, s INTEGER }`` for ``0 < r, s < n``."""
    body = _der_integer(r) + _der_integer(s)
    return b"\x30" + bytes([len(body)]) + body


def _read_der_integer(data: bytes, offset: int) -> tuple[int, int]:
    if offset + 2 > len(data) or data[offset] != 0x02:
        raise ValueError("expected INTEGER")
    length = data[offset + 1]
    start = offset + 2
    end = start + length
    if length == 0 or length > 33 or end > len(data):
        raise ValueError("bad INTEGER length")
    body = data[start:end]
    if body[0] & 0x80:
        raise ValueError("negative INTEGER")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise ValueError("non-minimal INTEGER")
    return int.from_bytes(body, "big"), end


def der_to_rs(der: bytes) -> tuple[int, int]:
    """Parse a strict DER SM2 signature into ``(r, s)``; ``ValueError`` when malformed or out of range."""
    if len(der) < 8 or der[0] != 0x30 or der[1] != len(der) - 2:
        raise ValueError("bad SM2 signature SEQUENCE")
    r, offset = _read_der_integer(der, 2)
    s, offset = _read_der_integer(der, offset)
    if offset != len(der) or not (0 < r < N and 0 < s < N):
        raise ValueError("bad SM2 signature values")
    return r, s


def raw_to_rs(raw: bytes) -> tuple[int, int] | None:
    """Split a 64-byte ``r ‖ s`` signature; ``None`` when the length or ranges are wrong."""
    if len(raw) != SIGNATURE_SIZE:
        return None
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:], "big")
    if not (0 < r < N and 0 < s < N):
        return None
    return r, s


# --- sign and verify ----


def sign_digest_der(private: bytes, digest: bytes) -> bytes:
    """Sign a 32-byte ``e`` and return the DER signature."""
    return bytes(gmssl_pyx.sm2_sign_sm3_digest(private, digest))


def verify_digest_der(public: bytes, digest: bytes, der: bytes) -> bool:
    """Verify a DER signature over ``e``; False (never an exception) on any malformed input."""
    if len(digest) != 32 or not is_valid_public(public):
        return False
    try:
        der_to_rs(der)
        return bool(gmssl_pyx.sm2_verify_sm3_digest(public, digest, der))
    except (ValueError, GmsslError):
        return False


def sign_raw(private: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """SM2-with-SM3 signature of ``message`` as 64 bytes ``r ‖ s``."""
    public = public_from_private(private)
    der = sign_digest_der(private, message_digest(public, message, user_id))
    r, s = der_to_rs(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_raw(public: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_USER_ID) -> bool:
    """Check a 64-byte ``r ‖ s`` signature; False on any bad input."""
    rs = raw_to_rs(signature)
    if rs is None or not is_valid_public(public):
        return False
    return verify_digest_der(public, message_digest(public, message, user_id), rs_to_der(*rs))
