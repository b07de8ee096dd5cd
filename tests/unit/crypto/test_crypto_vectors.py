"""Published test vectors: GB/T 32905 (SM3), GB/T 32907 (SM4), RFC 8998 (SM4-GCM), RFC 8032, RFC 7748."""

from __future__ import annotations

import hashlib
import os

import gmssl_pyx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sunbid.crypto import gm, intl, sm2
from sunbid.crypto.suite import get_suite

SM3_ABC = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
SM3_ABCD_X16 = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

RFC8998_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
RFC8998_NONCE = bytes.fromhex("00001234567800000000ABCD")
RFC8998_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
RFC8998_PLAIN = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
RFC8998_CIPHER = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
RFC8998_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")

ED25519_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ED25519_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
ED25519_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

X25519_ALICE_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
X25519_ALICE_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
X25519_BOB_PRIVATE = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
X25519_BOB_PUBLIC = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
X25519_SHARED = bytes.fromhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")


# --- SM3 ----


def test_sm3_digest_matches_gbt_32905_examples() -> None:
    suite = get_suite("gm")
    assert suite.digest(b"abc").hex() == SM3_ABC
    assert suite.digest(b"abcd" * 16).hex() == SM3_ABCD_X16


def test_sm3_hasher_matches_gbt_32905_when_fed_in_pieces() -> None:
    hasher = get_suite("gm").hasher()
    hasher.update(b"ab")
    hasher.update(b"c")
    assert hasher.digest().hex() == SM3_ABC


def test_sm3_long_inputs_agree_across_gmssl_openssl_and_cryptography() -> None:
    data = os.urandom(sm2._HASHLIB_SM3_MIN * 3 + 5)
    reference = hashes.Hash(hashes.SM3())
    reference.update(data)
    expected = reference.finalize()
    assert sm2.sm3(data) == expected
    assert gmssl_pyx.sm3_hash(data) == expected
    assert get_suite("gm").digest(data) == expected


def test_cryptography_sm3_fallback_matches_vector_and_copies_independently() -> None:
    hasher = gm.CryptographySm3()
    hasher.update(b"ab")
    fork = hasher.copy()
    hasher.update(b"c")
    assert hasher.digest().hex() == SM3_ABC
    assert hasher.digest().hex() == SM3_ABC  # digest() does not consume the state
    fork.update(b"x")
    assert fork.digest() == get_suite("gm").digest(b"abx")


# --- SM4 ----


def test_sm4_block_matches_gbt_32907_example() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    block = encryptor.update(key) + encryptor.finalize()
    assert block.hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_seal_produces_rfc_8998_vector(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda n: RFC8998_NONCE[:n])
    sealed = get_suite("gm").seal(RFC8998_KEY, RFC8998_PLAIN, RFC8998_AAD)
    assert sealed == RFC8998_NONCE + RFC8998_CIPHER + RFC8998_TAG


def test_sm4_gcm_open_reads_rfc_8998_vector() -> None:
    sealed = RFC8998_NONCE + RFC8998_CIPHER + RFC8998_TAG
    assert get_suite("gm").open(RFC8998_KEY, sealed, RFC8998_AAD) == RFC8998_PLAIN


def test_sm4_gcm_agrees_with_gmssl_implementation() -> None:
    suite = get_suite("gm")
    key = suite.new_key()
    sealed = suite.seal(key, b"bid document", b"aad")
    nonce, body, tag = sealed[:12], sealed[12:-16], sealed[-16:]
    assert gmssl_pyx.sm4_gcm_decrypt(key, nonce, b"aad", body, tag) == b"bid document"
    ciphertext, gm_tag = gmssl_pyx.sm4_gcm_encrypt(key, nonce, b"aad", b"bid document")
    assert suite.open(key, nonce + ciphertext + gm_tag, b"aad") == b"bid document"


# --- SHA-256, Ed25519, X25519 ---------------------------------------------------------------------------


def test_sha256_of_abc() -> None:
    suite = get_suite("intl")
    assert suite.digest(b"abc").hex() == SHA256_ABC
    hasher = suite.hasher()
    hasher.update(b"a")
    hasher.update(b"bc")
    assert hasher.digest().hex() == SHA256_ABC


def test_ed25519_rfc_8032_test_1() -> None:
    suite = get_suite("intl")
    assert suite.signing_public_key(ED25519_SECRET) == ED25519_PUBLIC
    assert suite.sign(ED25519_SECRET, b"") == ED25519_SIGNATURE
    assert suite.verify(ED25519_PUBLIC, b"", ED25519_SIGNATURE)
    assert not suite.verify(ED25519_PUBLIC, b"\x00", ED25519_SIGNATURE)


def test_x25519_rfc_7748_public_keys() -> None:
    suite = get_suite("intl")
    assert suite.encryption_public_key(X25519_ALICE_PRIVATE) == X25519_ALICE_PUBLIC
    assert suite.encryption_public_key(X25519_BOB_PRIVATE) == X25519_BOB_PUBLIC


def test_intl_unwrap_reads_the_documented_format() -> None:
    """Rebuild a wrap by hand from docs/crypto.md (Bob ephemeral, Alice recipient) and unwrap it."""
    secret = bytes(range(32))
    context = b"project:42/bid:7"
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=44,
        salt=None,
        info=b"sunbid/wrap/v1/x25519-hkdf-sha256-aes256gcm" + X25519_BOB_PUBLIC + X25519_ALICE_PUBLIC,
    )
    okm = hkdf.derive(X25519_SHARED)
    wrapped = b"\x01" + X25519_BOB_PUBLIC + AESGCM(okm[:32]).encrypt(okm[32:], secret, context)
    assert get_suite("intl").unwrap_key(X25519_ALICE_PRIVATE, wrapped, context) == secret
    assert intl.WRAP_VERSION == 1


def test_gm_unwrap_reads_the_documented_format() -> None:
    suite = get_suite("gm")
    pair = suite.generate_encryption_keypair()
    secret = bytes(range(16))
    context = "项目 42 / 投标 7".encode()
    wrapped = b"\x01" + gmssl_pyx.sm2_encrypt(pair.public, secret + hashlib.new("sm3", context).digest())
    assert suite.unwrap_key(pair.private, wrapped, context) == secret


# --- SM2 against GmSSL's own message-level API (it computes Z itself) ------------------------------------


def test_sm2_signature_verifies_with_gmssl_default_user_id() -> None:
    suite = get_suite("gm")
    pair = suite.generate_signing_keypair()
    signature = suite.sign(pair.private, "投标文件".encode())
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    assert gmssl_pyx.sm2_verify(pair.public, "投标文件".encode(), sm2.rs_to_der(r, s))
    assert not gmssl_pyx.sm2_verify(pair.public, "投标文件!".encode(), sm2.rs_to_der(r, s))


def test_gmssl_signature_verifies_with_suite() -> None:
    suite = get_suite("gm")
    pair = suite.generate_signing_keypair()
    der = gmssl_pyx.sm2_sign(pair.private, pair.public, b"receipt")
    r, s = sm2.der_to_rs(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert suite.verify(pair.public, b"receipt", raw)
    assert not suite.verify(pair.public, b"receipt.", raw)
