"""The national (国密) suite: SM2 signatures, SM2 key wrap, SM4-GCM, SM3."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sunbid.crypto import errors, sm2
from sunbid.crypto.suite import Hasher, KeyPair, check_wrappable

NONCE_SIZE = 12
TAG_SIZE = 16
WRAP_VERSION = 1


class CryptographySm3:
    """SM3 through ``cryptography`` for OpenSSL builds whose ``hashlib`` lacks it."""

    __slots__ = ("_hash",)

    def __init__(self, state: hashes.Hash | None = None) -> None:
        self._hash = state if state is not None else hashes.Hash(hashes.SM3())

    def update(self, data: bytes, /) -> None:
        """Feed more bytes."""
        self._hash.update(data)

    def digest(self) -> bytes:
        """The digest so far; the hasher stays usable."""
        return self._hash.copy().finalize()

    def copy(self) -> CryptographySm3:
        """An independent copy."""
        return CryptographySm3(self._hash.copy())


def _hashlib_has_sm3() -> bool:
    try:
        hashlib.new("sm3", b"abc")
    except ValueError:  # pragma: no cover - depends on the OpenSSL build
        return False
    return True


_HASHLIB_SM3 = _hashlib_has_sm3()


def _sm4_gcm(key: bytes, nonce: bytes, tag: bytes | None = None) -> Cipher[modes.GCM]:
    return Cipher(algorithms.SM4(key), modes.GCM(nonce, tag))


class GmSuite:
    """SM2 / SM3 / SM4-GCM.

    Keys: SM2 private = 32-byte big-endian scalar; SM2 public = 64 bytes ``x ‖ y`` (no ``04`` prefix).
    Signatures: SM2 with SM3 and the default user id ``1234567812345678``, encoded as raw ``r ‖ s``
    (64 bytes). Symmetric keys: 16 bytes (SM4).
    """

    name = "gm"
    hash_name = "sm3"
    key_size = 16

    def digest(self, data: bytes) -> bytes:
        """SM3 of ``data``."""
        return sm2.sm3(data)

    def hasher(self) -> Hasher:
        """An incremental SM3 (OpenSSL's through ``hashlib`` when available)."""
        if _HASHLIB_SM3:
            return hashlib.new("sm3")
        return CryptographySm3()  # pragma: no cover - depends on the OpenSSL build

    # --- signatures ---------------------------------------------------------------------------------

    def generate_signing_keypair(self) -> KeyPair:
        """A new SM2 pair."""
        private, public = sm2.generate_keypair()
        return KeyPair(private, public)

    def signing_public_key(self, private: bytes) -> bytes:
        """The SM2 public key ``x ‖ y`` of a private key."""
        try:
            return sm2.public_from_private(private)
        except ValueError as exc:
            raise errors.bad_key(f"SM2 private key: {exc}") from exc

    def sign(self, private: bytes, message: bytes) -> bytes:
        """SM2-with-SM3 signature, default user id, raw ``r ‖ s`` (64 bytes)."""
        self.signing_public_key(private)  # validates the key with a suite error
        return sm2.sign_raw(private, message)

    def verify(self, public: bytes, message: bytes, signature: bytes) -> bool:
        """Check a raw ``r ‖ s`` SM2 signature; False for any malformed key or signature."""
        return sm2.verify_raw(public, message, signature)

    # --- key wrap -------------------------------------------------------------------------------------

    def generate_encryption_keypair(self) -> KeyPair:
        """A new SM2 pair (separate from the signing pair, as 双证书 requires)."""
        return self.generate_signing_keypair()

    def encryption_public_key(self, private: bytes) -> bytes:
        """The SM2 public key of an encryption private key."""
        return self.signing_public_key(private)

    def wrap_key(self, recipient_public: bytes, key: bytes, context: bytes) -> bytes:
        """``0x01 ‖ SM2-Encrypt(recipient, key ‖ SM3(context))`` with GmSSL's DER C1C3C2 ciphertext."""
        check_wrappable(key)
        if not sm2.is_valid_public(recipient_public):
            raise errors.bad_key("SM2 public key must be 64 bytes x ‖ y on the curve")
        ciphertext = sm2.encrypt(recipient_public, key + sm2.sm3(context))
        return bytes([WRAP_VERSION]) + ciphertext

    def unwrap_key(self, private: bytes, wrapped: bytes, context: bytes) -> bytes:
        """Reverse :meth:`wrap_key`; ``crypto.unwrap_failed`` on any mismatch."""
        self.encryption_public_key(private)
        if not wrapped or wrapped[0] != WRAP_VERSION:
            raise errors.unwrap_failed()
        try:
            plain = sm2.decrypt(private, wrapped[1:])
        except ValueError as exc:
            raise errors.unwrap_failed() from exc
        key, bound = plain[:-32], plain[-32:]
        if len(key) < 1 or not hmac.compare_digest(bound, sm2.sm3(context)):
            raise errors.unwrap_failed()
        return key

    # --- symmetric ------------------------------------------------------------------------------------

    def new_key(self) -> bytes:
        """A random 16-byte SM4 key."""
        return os.urandom(self.key_size)

    def _check_key(self, key: bytes) -> None:
        if len(key) != self.key_size:
            raise errors.bad_key("SM4 key must be 16 bytes")

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """SM4-GCM (RFC 8998): ``nonce (12) ‖ ciphertext ‖ tag (16)``."""
        self._check_key(key)
        nonce = os.urandom(NONCE_SIZE)
        encryptor = _sm4_gcm(key, nonce).encryptor()
        encryptor.authenticate_additional_data(aad)
        body = encryptor.update(plaintext) + encryptor.finalize()
        return nonce + body + encryptor.tag

    def open(self, key: bytes, sealed: bytes, aad: bytes) -> bytes:
        """Reverse :meth:`seal`; ``crypto.decrypt_failed`` on any mismatch."""
        self._check_key(key)
        if len(sealed) < NONCE_SIZE + TAG_SIZE:
            raise errors.decrypt_failed()
        nonce, body, tag = sealed[:NONCE_SIZE], sealed[NONCE_SIZE:-TAG_SIZE], sealed[-TAG_SIZE:]
        decryptor = _sm4_gcm(key, nonce, tag).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            return decryptor.update(body) + decryptor.finalize()
        except InvalidTag as exc:
            raise errors.decrypt_failed() from exc

    def public_key_fingerprint(self, public: bytes) -> str:
        """Hex SM3 of the raw public key."""
        return sm2.sm3(public).hex()
