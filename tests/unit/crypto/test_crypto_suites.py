"""Round trips, tampering and bad input for every method of both suites."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.core.errors import DomainError, ErrorKind, ValidationFailed
from sunbid.crypto.suite import CryptoSuite, KeyPair, get_suite

SUITES = ["intl", "gm"]


@pytest.fixture(params=SUITES)
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    return get_suite(request.param)


def _flip(data: bytes, index: int) -> bytes:
    damaged = bytearray(data)
    damaged[index] ^= 0x01
    return bytes(damaged)


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


# --- suite lookup ----


def test_get_suite_returns_named_suites() -> None:
    assert get_suite("intl").name == "intl"
    assert get_suite("gm").name == "gm"
    assert get_suite("intl").hash_name == "sha256"
    assert get_suite("gm").hash_name == "sm3"
    assert get_suite("intl") is get_suite("intl")


def test_unknown_suite_is_a_bilingual_validation_error() -> None:
    with pytest.raises(ValidationFailed) as exc:
        get_suite("rsa")
    assert exc.value.code == "crypto.unknown_suite"
    assert exc.value.kind is ErrorKind.INVALID
    assert "rsa" in exc.value.message_zh
    assert "rsa" in exc.value.message_en
    assert exc.value.message_zh != exc.value.message_en


# --- hashing ----


def test_digest_is_32_bytes_and_matches_hasher(suite: CryptoSuite) -> None:
    hasher = suite.hasher()
    hasher.update(b"leaf-")
    hasher.update(b"data")
    assert len(suite.digest(b"x")) == 32
    assert hasher.digest() == suite.digest(b"leaf-data")
    assert suite.digest(b"a") != suite.digest(b"b")


def test_hasher_copy_is_independent(suite: CryptoSuite) -> None:
    hasher = suite.hasher()
    hasher.update(b"prefix")
    fork = hasher.copy()
    fork.update(b"-left")
    hasher.update(b"-right")
    assert fork.digest() == suite.digest(b"prefix-left")
    assert hasher.digest() == suite.digest(b"prefix-right")


def test_hasher_is_fast_enough_for_merkle_leaves(suite: CryptoSuite) -> None:
    leaves = [i.to_bytes(8, "big") * 8 for i in range(20_000)]
    start = time.perf_counter()
    for leaf in leaves:
        hasher = suite.hasher()
        hasher.update(b"\x00")
        hasher.update(leaf)
        hasher.digest()
    rate = len(leaves) / (time.perf_counter() - start)
    assert rate >= 40_000, f"{suite.name}: {rate:.0f} leaves/s"


def test_public_key_fingerprint_is_hex_digest_of_key(suite: CryptoSuite) -> None:
    pair = suite.generate_signing_keypair()
    assert suite.public_key_fingerprint(pair.public) == suite.digest(pair.public).hex()
    other = suite.generate_signing_keypair()
    assert suite.public_key_fingerprint(pair.public) != suite.public_key_fingerprint(other.public)


# --- signatures ----


def test_sign_and_verify_round_trip(suite: CryptoSuite) -> None:
    pair = suite.generate_signing_keypair()
    signature = suite.sign(pair.private, "开标记录".encode())
    assert len(signature) == 64
    assert suite.verify(pair.public, "开标记录".encode(), signature)
    assert suite.signing_public_key(pair.private) == pair.public


def test_verify_rejects_changed_message_key_or_signature(suite: CryptoSuite) -> None:
    pair = suite.generate_signing_keypair()
    other = suite.generate_signing_keypair()
    signature = suite.sign(pair.private, b"message")
    assert not suite.verify(pair.public, b"messagE", signature)
    assert not suite.verify(other.public, b"message", signature)
    for index in range(len(signature)):
        assert not suite.verify(pair.public, b"message", _flip(signature, index)), index


@pytest.mark.parametrize(
    ("public", "signature"),
    [
        (b"", b""),
        (b"\x00" * 64, b"\x01" * 64),
        (b"\xff" * 65, b"\x01" * 64),
        (None, b""),
        (None, b"\x00" * 64),
        (None, b"\xff" * 64),
        (None, b"\x01" * 63),
        (None, b"\x01" * 72),
    ],
)
def test_verify_returns_false_for_garbage(suite: CryptoSuite, public: bytes | None, signature: bytes) -> None:
    key = public if public is not None else suite.generate_signing_keypair().public
    assert suite.verify(key, b"message", signature) is False


def test_signature_of_the_other_suite_does_not_verify() -> None:
    intl, gm = get_suite("intl"), get_suite("gm")
    gm_pair = gm.generate_signing_keypair()
    intl_pair = intl.generate_signing_keypair()
    assert not gm.verify(gm_pair.public, b"m", intl.sign(intl_pair.private, b"m"))
    assert not intl.verify(intl_pair.public, b"m", gm.sign(gm_pair.private, b"m"))


@pytest.mark.parametrize("bad", [b"", b"\x01" * 31, b"\x01" * 33])
def test_sign_with_malformed_private_key_is_bad_key(suite: CryptoSuite, bad: bytes) -> None:
    with pytest.raises(ValidationFailed) as exc:
        suite.sign(bad, b"m")
    assert _code(exc) == "crypto.bad_key"


def test_gm_rejects_out_of_range_private_key() -> None:
    with pytest.raises(ValidationFailed) as exc:
        get_suite("gm").sign(b"\x00" * 32, b"m")
    assert _code(exc) == "crypto.bad_key"


# --- key wrap ----


def _wrap_pair(suite: CryptoSuite) -> tuple[KeyPair, bytes, bytes]:
    pair = suite.generate_encryption_keypair()
    key = suite.new_key()
    return pair, key, suite.wrap_key(pair.public, key, b"section:1")


def test_wrap_and_unwrap_round_trip(suite: CryptoSuite) -> None:
    pair, key, wrapped = _wrap_pair(suite)
    assert suite.unwrap_key(pair.private, wrapped, b"section:1") == key
    assert wrapped[0] == 1
    assert key not in wrapped
    assert suite.encryption_public_key(pair.private) == pair.public


def test_every_wrap_uses_fresh_randomness(suite: CryptoSuite) -> None:
    pair = suite.generate_encryption_keypair()
    key = suite.new_key()
    assert suite.wrap_key(pair.public, key, b"c") != suite.wrap_key(pair.public, key, b"c")


def test_unwrap_with_wrong_private_key_fails(suite: CryptoSuite) -> None:
    _pair, _key, wrapped = _wrap_pair(suite)
    other = suite.generate_encryption_keypair()
    with pytest.raises(DomainError) as exc:
        suite.unwrap_key(other.private, wrapped, b"section:1")
    assert _code(exc) == "crypto.unwrap_failed"
    assert exc.value.kind is ErrorKind.INTEGRITY


def test_unwrap_with_wrong_context_fails(suite: CryptoSuite) -> None:
    pair, _key, wrapped = _wrap_pair(suite)
    for context in (b"section:2", b"", b"section:1\x00"):
        with pytest.raises(DomainError) as exc:
            suite.unwrap_key(pair.private, wrapped, context)
        assert _code(exc) == "crypto.unwrap_failed"


def test_unwrap_rejects_every_single_byte_tamper(suite: CryptoSuite) -> None:
    pair, _key, wrapped = _wrap_pair(suite)
    for index in range(len(wrapped)):
        with pytest.raises(DomainError) as exc:
            suite.unwrap_key(pair.private, _flip(wrapped, index), b"section:1")
        assert _code(exc) == "crypto.unwrap_failed", index


def test_unwrap_rejects_truncated_and_extended_input(suite: CryptoSuite) -> None:
    pair, _key, wrapped = _wrap_pair(suite)
    for damaged in (b"", wrapped[:1], wrapped[:-1], wrapped + b"\x00"):
        with pytest.raises(DomainError) as exc:
            suite.unwrap_key(pair.private, damaged, b"section:1")
        assert _code(exc) == "crypto.unwrap_failed"


@pytest.mark.parametrize("size", [15, 65, 0])
def test_wrap_refuses_keys_outside_16_to_64_bytes(suite: CryptoSuite, size: int) -> None:
    pair = suite.generate_encryption_keypair()
    with pytest.raises(ValidationFailed) as exc:
        suite.wrap_key(pair.public, b"k" * size, b"c")
    assert _code(exc) == "crypto.bad_input"


@pytest.mark.parametrize("size", [16, 32, 64])
def test_wrap_accepts_keys_of_16_to_64_bytes(suite: CryptoSuite, size: int) -> None:
    pair = suite.generate_encryption_keypair()
    key = bytes(range(size))
    assert suite.unwrap_key(pair.private, suite.wrap_key(pair.public, key, b"c"), b"c") == key


@pytest.mark.parametrize("public", [b"", b"\x00" * 31, b"\x01" * 64])
def test_wrap_refuses_malformed_public_key(suite: CryptoSuite, public: bytes) -> None:
    if suite.name == "intl" and len(public) == 64:
        public = public[:33]
    with pytest.raises(ValidationFailed) as exc:
        suite.wrap_key(public, b"k" * 16, b"c")
    assert _code(exc) == "crypto.bad_key"


def test_intl_wrap_refuses_low_order_point() -> None:
    with pytest.raises(ValidationFailed) as exc:
        get_suite("intl").wrap_key(b"\x00" * 32, b"k" * 16, b"c")
    assert _code(exc) == "crypto.bad_key"


# --- seal / open ----


def test_seal_and_open_round_trip(suite: CryptoSuite) -> None:
    key = suite.new_key()
    assert len(key) == suite.key_size
    sealed = suite.seal(key, "投标报价：¥1,234,567.00".encode(), b"bid:9")
    assert len(sealed) == 12 + len("投标报价：¥1,234,567.00".encode()) + 16
    assert suite.open(key, sealed, b"bid:9") == "投标报价：¥1,234,567.00".encode()


def test_seal_uses_a_fresh_nonce(suite: CryptoSuite) -> None:
    key = suite.new_key()
    first, second = suite.seal(key, b"same", b""), suite.seal(key, b"same", b"")
    assert first[:12] != second[:12]
    assert first != second


def test_seal_accepts_empty_plaintext(suite: CryptoSuite) -> None:
    key = suite.new_key()
    assert suite.open(key, suite.seal(key, b"", b"aad"), b"aad") == b""


def test_open_rejects_every_single_byte_tamper(suite: CryptoSuite) -> None:
    key = suite.new_key()
    sealed = suite.seal(key, b"sealed bid", b"aad")
    for index in range(len(sealed)):
        with pytest.raises(DomainError) as exc:
            suite.open(key, _flip(sealed, index), b"aad")
        assert _code(exc) == "crypto.decrypt_failed", index


def test_open_rejects_wrong_key_aad_or_length(suite: CryptoSuite) -> None:
    key = suite.new_key()
    sealed = suite.seal(key, b"sealed bid", b"aad")
    attempts = [
        (suite.new_key(), sealed, b"aad"),
        (key, sealed, b"aae"),
        (key, sealed, b""),
        (key, sealed[:27], b"aad"),
        (key, sealed[:-1], b"aad"),
        (key, b"", b"aad"),
    ]
    for attempt_key, attempt_sealed, aad in attempts:
        with pytest.raises(DomainError) as exc:
            suite.open(attempt_key, attempt_sealed, aad)
        assert _code(exc) == "crypto.decrypt_failed"


def test_seal_and_open_refuse_wrong_key_size(suite: CryptoSuite) -> None:
    wrong = b"k" * (suite.key_size + 8)
    with pytest.raises(ValidationFailed) as exc:
        suite.seal(wrong, b"x", b"")
    assert _code(exc) == "crypto.bad_key"
    with pytest.raises(ValidationFailed) as exc:
        suite.open(wrong, b"\x00" * 40, b"")
    assert _code(exc) == "crypto.bad_key"


def test_suites_use_their_own_key_sizes() -> None:
    assert get_suite("intl").key_size == 32
    assert get_suite("gm").key_size == 16


# --- properties ----


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(SUITES), plaintext=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_seal_open_property(name: str, plaintext: bytes, aad: bytes) -> None:
    suite = get_suite(name)
    key = suite.new_key()
    assert suite.open(key, suite.seal(key, plaintext, aad), aad) == plaintext


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(SUITES), key=st.binary(min_size=16, max_size=64), context=st.binary(max_size=128))
def test_wrap_unwrap_property(name: str, key: bytes, context: bytes) -> None:
    suite = get_suite(name)
    pair = suite.generate_encryption_keypair()
    assert suite.unwrap_key(pair.private, suite.wrap_key(pair.public, key, context), context) == key


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(SUITES), message=st.binary(max_size=512))
def test_sign_verify_property(name: str, message: bytes) -> None:
    suite = get_suite(name)
    pair = suite.generate_signing_keypair()
    signature = suite.sign(pair.private, message)
    assert suite.verify(pair.public, message, signature)
    assert not suite.verify(pair.public, message + b"\x00", signature)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(SUITES),
    public=st.binary(max_size=80),
    signature=st.binary(max_size=80),
    message=st.binary(max_size=32),
)
def test_verify_never_raises_on_arbitrary_bytes(name: str, public: bytes, signature: bytes, message: bytes) -> None:
    assert get_suite(name).verify(public, message, signature) is False
