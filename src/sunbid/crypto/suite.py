"""Crypto suites: one interface, two families of algorithms.

* ``intl`` — Ed25519 signatures, X25519 + HKDF-SHA256 + AES-256-GCM key wrap, AES-256-GCM, SHA-256.
* ``gm`` (国密) — SM2 signatures, SM2 public-key encryption for key wrap, SM4-GCM, SM3.

Every method is pure (no database, no clock). Byte formats are documented in ``docs/crypto.md``; they are
part of the stored data and must not change without a new format version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from sunbid.crypto import errors

SUITE_NAMES: tuple[str, ...] = ("intl", "gm")


class Hasher(Protocol):
    """An incremental hash, shaped like ``hashlib``'s objects."""

    def update(self, data: bytes, /) -> None:
        """Feed more bytes."""
        ...

    def digest(self) -> bytes:
        """The digest of everything fed so far (the hasher stays usable)."""
        ...

    def copy(self) -> Hasher:
        """An independent hasher in the same state."""
        ...


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A raw private key and its raw public key (encodings per suite, see ``docs/crypto.md``)."""

    private: bytes = field(repr=False)
    public: bytes


class CryptoSuite(Protocol):
    """What every suite offers. Implementations are stateless and thread-safe."""

    @property
    def name(self) -> str:
        """``"intl"`` or ``"gm"``."""
        ...

    @property
    def hash_name(self) -> str:
        """``"sha256"`` or ``"sm3"``."""
        ...

    @property
    def key_size(self) -> int:
        """Length in bytes of a symmetric key for :meth:`seal` (32 for AES-256, 16 for SM4)."""
        ...

    def digest(self, data: bytes) -> bytes:
        """The 32-byte hash of ``data``."""
        ...

    def hasher(self) -> Hasher:
        """A fresh incremental hasher for the suite's hash."""
        ...

    def generate_signing_keypair(self) -> KeyPair:
        """A new signing key pair."""
        ...

    def signing_public_key(self, private: bytes) -> bytes:
        """The public key of a signing private key (``crypto.bad_key`` if malformed)."""
        ...

    def sign(self, private: bytes, message: bytes) -> bytes:
        """Sign ``message``; the signature is always 64 bytes."""
        ...

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        """True only for a valid signature; False (never raises) for a bad key, message or signature."""
        ...

    def generate_encryption_keypair(self) -> KeyPair:
        """A new key pair for :meth:`wrap_key` / :meth:`unwrap_key`."""
        ...

    def encryption_public_key(self, private: bytes) -> bytes:
        """The public key of an encryption private key (``crypto.bad_key`` if malformed)."""
        ...

    def wrap_key(self, recipient_public: bytes, key: bytes, context: bytes) -> bytes:
        """Encrypt a short secret (16–64 bytes) to ``recipient_public``, bound to ``context``."""
        ...

    def unwrap_key(self, private: bytes, wrapped: bytes, context: bytes) -> bytes:
        """Recover a wrapped secret; ``crypto.unwrap_failed`` on wrong key, wrong context or tampering."""
        ...

    def new_key(self) -> bytes:
        """A random symmetric key of :attr:`key_size` bytes."""
        ...

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AEAD-encrypt: ``nonce (12) ‖ ciphertext ‖ tag (16)`` with a random nonce."""
        ...

    def open(self, key: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Reverse :meth:`seal`; ``crypto.decrypt_failed`` on wrong key, wrong ``aad`` or tampering."""
        ...

    def public_key_fingerprint(self, public: bytes) -> str:
        """Lower-case hex of the suite hash of the raw public key."""
        ...


MIN_WRAPPED_KEY = 16
MAX_WRAPPED_KEY = 64

_SUITES: dict[str, CryptoSuite] = {}


def get_suite(name: str) -> CryptoSuite:
    """The suite called ``name`` (``"intl"`` or ``"gm"``); ``crypto.unknown_suite`` otherwise."""
    suite = _SUITES.get(name)
    if suite is not None:
        return suite
    if name == "intl":
        from sunbid.crypto.intl import IntlSuite

        suite = IntlSuite()
    elif name == "gm":
        from sunbid.crypto.gm import GmSuite

        suite = GmSuite()
    else:
        raise errors.unknown_suite(name)
    _SUITES[name] = suite
    return suite


def resolve_suite(suite: CryptoSuite | str) -> CryptoSuite:
    """Accept a suite or its name."""
    return get_suite(suite) if isinstance(suite, str) else suite


def check_wrappable(key: bytes) -> None:
    """Both suites wrap only short secrets (``crypto.bad_input`` otherwise)."""
    if not MIN_WRAPPED_KEY <= len(key) <= MAX_WRAPPED_KEY:
        raise errors.bad_input(f"wrapped key must be {MIN_WRAPPED_KEY}-{MAX_WRAPPED_KEY} bytes")
