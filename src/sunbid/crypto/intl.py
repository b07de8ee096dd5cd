"""The international suite: Ed25519, X25519 + HKDF-SHA256 + AES-256-GCM, AES-256-GCM, SHA-256."""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from sunbid.crypto import errors
from sunbid.crypto.suite import Hasher, KeyPair, check_wrappable

NONCE_SIZE = 12
TAG_SIZE = 16
WRAP_VERSION = 1
_WRAP_INFO = b"sunbid/wrap/v1/x25519-hkdf-sha256-aes256gcm"
_RAW = (Encoding.Raw, PublicFormat.Raw)


def _raw_private(key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _wrap_kek(shared: bytes, ephemeral_public: bytes, recipient_public: bytes) -> tuple[bytes, bytes]:
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=32 + NONCE_SIZE,
        salt=None,
        info=_WRAP_INFO + ephemeral_public + recipient_public,
    ).derive(shared)
    return okm[:32], okm[32:]


class IntlSuite:
    """Ed25519 / X25519 / AES-256-GCM / SHA-256 (keys: raw 32-byte private and public keys)."""

    name = "intl"
    hash_name = "sha256"
    key_size = 32

    def digest(self, data: bytes) -> bytes:
        """SHA-256 of ``data``."""
        return hashlib.sha256(data).digest()

    def hasher(self) -> Hasher:
        """An incremental SHA-256."""
        return hashlib.sha256()

    # --- signatures ---------------------------------------------------------------------------------

    def generate_signing_keypair(self) -> KeyPair:
        """A new Ed25519 pair: 32-byte seed (RFC 8032 secret key) and 32-byte public key."""
        key = ed25519.Ed25519PrivateKey.generate()
        return KeyPair(_raw_private(key), key.public_key().public_bytes(*_RAW))

    def signing_public_key(self, private: bytes) -> bytes:
        """The Ed25519 public key of a 32-byte seed."""
        return self._signing_key(private).public_key().public_bytes(*_RAW)

    def _signing_key(self, private: bytes) -> ed25519.Ed25519PrivateKey:
        if len(private) != 32:
            raise errors.bad_key("Ed25519 private key must be 32 bytes")
        return ed25519.Ed25519PrivateKey.from_private_bytes(private)

    def sign(self, private: bytes, message: bytes) -> bytes:
        """Ed25519 signature (64 bytes)."""
        return self._signing_key(private).sign(message)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        """Check an Ed25519 signature; False for any malformed key or signature."""
        if len(public) != 32 or len(signature) != 64:
            return False
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    # --- key wrap -------------------------------------------------------------------------------------

    def generate_encryption_keypair(self) -> KeyPair:
        """A new X25519 pair (raw 32-byte private scalar and public u-coordinate)."""
        key = x25519.X25519PrivateKey.generate()
        return KeyPair(_raw_private(key), key.public_key().public_bytes(*_RAW))

    def encryption_public_key(self, private: bytes) -> bytes:
        """The X25519 public key of a raw private key."""
        return self._encryption_key(private).public_key().public_bytes(*_RAW)

    def _encryption_key(self, private: bytes) -> x25519.X25519PrivateKey:
        if len(private) != 32:
            raise errors.bad_key("X25519 private key must be 32 bytes")
        return x25519.X25519PrivateKey.from_private_bytes(private)

    def wrap_key(self, recipient_public: bytes, key: bytes, context: bytes) -> bytes:
        """``0x01 ‖ ephemeral X25519 public (32) ‖ AES-256-GCM(key, aad=context) ‖ tag (16)``.

        The AES key and nonce come from HKDF-SHA256 over the X25519 shared secret with
        ``info = label ‖ ephemeral public ‖ recipient public``; a new ephemeral key is made for every wrap.
        """
        check_wrappable(key)
        if len(recipient_public) != 32:
            raise errors.bad_key("X25519 public key must be 32 bytes")
        ephemeral = x25519.X25519PrivateKey.generate()
        ephemeral_public = ephemeral.public_key().public_bytes(*_RAW)
        try:
            shared = ephemeral.exchange(x25519.X25519PublicKey.from_public_bytes(recipient_public))
        except ValueError as exc:  # a low-order point gives an all-zero secret
            raise errors.bad_key("X25519 public key is not usable") from exc
        kek, nonce = _wrap_kek(shared, ephemeral_public, recipient_public)
        return bytes([WRAP_VERSION]) + ephemeral_public + AESGCM(kek).encrypt(nonce, key, context)

    def unwrap_key(self, private: bytes, wrapped: bytes, context: bytes) -> bytes:
        """Reverse :meth:`wrap_key`; ``crypto.unwrap_failed`` on any mismatch."""
        recipient = self._encryption_key(private)
        if len(wrapped) < 1 + 32 + TAG_SIZE or wrapped[0] != WRAP_VERSION:
            raise errors.unwrap_failed()
        ephemeral_public = wrapped[1:33]
        recipient_public = recipient.public_key().public_bytes(*_RAW)
        try:
            shared = recipient.exchange(x25519.X25519PublicKey.from_public_bytes(ephemeral_public))
            kek, nonce = _wrap_kek(shared, ephemeral_public, recipient_public)
            return AESGCM(kek).decrypt(nonce, wrapped[33:], context)
        except (ValueError, InvalidTag) as exc:
            raise errors.unwrap_failed() from exc

    # --- symmetric ------------------------------------------------------------------------------------

    def new_key(self) -> bytes:
        """A random 32-byte AES-256 key."""
        return os.urandom(self.key_size)

    def _aead(self, key: bytes) -> AESGCM:
        if len(key) != self.key_size:
            raise errors.bad_key("AES-256-GCM key must be 32 bytes")
        return AESGCM(key)

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """AES-256-GCM: ``nonce (12) ‖ ciphertext ‖ tag (16)``."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self._aead(key).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Reverse :meth:`seal`; ``crypto.decrypt_failed`` on any mismatch."""
        aead = self._aead(key)
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise errors.decrypt_failed()
        try:
            return aead.decrypt(sealed[:NONCE_SIZE], sealed[NONCE_SIZE:], aad)
        except InvalidTag as exc:
            raise errors.decrypt_failed() from exc

    def public_key_fingerprint(self, public: bytes) -> str:
        """Hex SHA-256 of the raw public key."""
        return hashlib.sha256(public).hexdigest()
