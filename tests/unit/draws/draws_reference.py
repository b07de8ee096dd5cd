"""An independent re-implementation of the draw algorithm, written from ``docs/draws.md`` only.

It uses ``hashlib``/``hmac`` for SHA-256 and GmSSL (``gmssl_pyx``) for SM3 and HMAC-SM3, and none of
``sunbid.draws``, so that agreement between the two is evidence that the documentation and the code say the
same thing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct

import gmssl_pyx


def h(hash_name: str, data: bytes) -> bytes:
    if hash_name == "sha256":
        return hashlib.sha256(data).digest()
    assert hash_name == "sm3"
    return bytes(gmssl_pyx.sm3_hash(data))


def mac(hash_name: str, key: bytes, data: bytes) -> bytes:
    if hash_name == "sha256":
        return hmac.new(key, data, hashlib.sha256).digest()
    assert hash_name == "sm3"
    return bytes(gmssl_pyx.sm3_hmac(key, data))


def lp(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def canon(subject: dict[str, str]) -> bytes:
    # Flat objects of ASCII keys and string values: sorted keys, no spaces, UTF-8.
    return json.dumps(subject, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def commitment(hash_name: str, purpose: str, subject: dict[str, str], name: str, secret: bytes) -> bytes:
    return h(
        hash_name,
        lp(b"sunbid/draw/v1/commit") + lp(purpose.encode()) + lp(canon(subject)) + lp(name.encode()) + lp(secret),
    )


def seed(hash_name: str, purpose: str, subject: dict[str, str], inputs: dict[str, bytes]) -> bytes:
    body = lp(b"sunbid/draw/v1/seed") + lp(purpose.encode()) + lp(canon(subject)) + struct.pack(">I", len(inputs))
    for name in sorted(inputs):
        body += lp(name.encode()) + lp(inputs[name])
    return h(hash_name, body)


def stream(hash_name: str, seed_bytes: bytes, nbytes: int) -> bytes:
    out = b""
    i = 0
    while len(out) < nbytes:
        out += mac(hash_name, seed_bytes, lp(b"sunbid/draw/v1/drbg") + struct.pack(">Q", i))
        i += 1
    return out[:nbytes]


class Stream:
    def __init__(self, hash_name: str, seed_bytes: bytes) -> None:
        self.data = stream(hash_name, seed_bytes, 4096)
        self.pos = 0

    def below(self, n: int) -> int:
        if n == 1:
            return 0
        b = (n - 1).bit_length()
        w = (b + 7) // 8
        while True:
            x = int.from_bytes(self.data[self.pos : self.pos + w], "big") % (1 << b)
            self.pos += w
            if x < n:
                return x


def sample(hash_name: str, seed_bytes: bytes, n: int, k: int) -> list[int]:
    """Forward Fisher–Yates on a full array (the documented form, without the sparse trick)."""
    s = Stream(hash_name, seed_bytes)
    a = list(range(n))
    for i in range(k):
        j = i + s.below(n - i)
        a[i], a[j] = a[j], a[i]
    return a[:k]


def candidates_digest(hash_name: str, candidates: list[str]) -> bytes:
    body = lp(b"sunbid/draw/v1/candidates") + struct.pack(">I", len(candidates))
    for c in candidates:
        body += lp(c.encode())
    return h(hash_name, body)
