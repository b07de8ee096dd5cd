"""Low-level SM2 helpers: key derivation, encodings, identity hash."""

from __future__ import annotations

import gmssl_pyx
import pytest

from sunbid.crypto import sm2


def test_public_key_derivation_matches_gmssl_key_generation() -> None:
    for _ in range(25):
        public, private = gmssl_pyx.sm2_key_generate()
        assert sm2.public_from_private(private) == public
        assert sm2.public_from_private(private) == public  # cached path
        assert sm2.is_valid_public(public)


def test_public_key_of_scalar_one_is_the_generator() -> None:
    generator = sm2.GX.to_bytes(32, "big") + sm2.GY.to_bytes(32, "big")
    assert sm2.public_from_private((1).to_bytes(32, "big")) == generator
    assert sm2.is_valid_public(generator)


@pytest.mark.parametrize("scalar", [0, sm2.N - 1, sm2.N, 2**256 - 1])
def test_private_scalar_out_of_range_is_rejected(scalar: int) -> None:
    with pytest.raises(ValueError, match="range"):
        sm2.private_scalar(scalar.to_bytes(32, "big"))


def test_private_key_must_be_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        sm2.private_scalar(b"\x01" * 31)


def test_largest_allowed_scalar_is_accepted() -> None:
    assert sm2.private_scalar((sm2.N - 2).to_bytes(32, "big")) == sm2.N - 2


def test_is_valid_public_rejects_off_curve_and_out_of_field_points() -> None:
    generator = sm2.GX.to_bytes(32, "big") + sm2.GY.to_bytes(32, "big")
    off_curve = generator[:-1] + bytes([generator[-1] ^ 1])
    too_big = sm2.P.to_bytes(32, "big") + generator[32:]
    assert not sm2.is_valid_public(off_curve)
    assert not sm2.is_valid_public(too_big)
    assert not sm2.is_valid_public(b"\x04" + generator)
    assert not sm2.is_valid_public(b"\x00" * 64)


def test_der_and_raw_signature_encodings_round_trip() -> None:
    for r, s in [(1, 1), (0x80, 0x7F), (sm2.N - 1, 2**255), (2**200, 12345)]:
        der = sm2.rs_to_der(r, s)
        assert sm2.der_to_rs(der) == (r, s)
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        assert sm2.raw_to_rs(raw) == (r, s)


def test_der_integer_gets_leading_zero_when_high_bit_set() -> None:
    assert sm2.rs_to_der(0x80, 1) == bytes.fromhex("3007020200800201 01".replace(" ", ""))


@pytest.mark.parametrize(
    "der",
    [
        bytes.fromhex("3006020101020101") + b"\x00",  # trailing byte
        bytes.fromhex("300702020001020101"),  # non-minimal INTEGER
        bytes.fromhex("3006020180020101"),  # negative r
        bytes.fromhex("3006020100020101"),  # r = 0
        bytes.fromhex("3106020101020101"),  # not a SEQUENCE
        bytes.fromhex("3005020101020101"),  # wrong length
        sm2.rs_to_der(1, 1)[:-1],
    ],
)
def test_der_to_rs_rejects_malformed_signatures(der: bytes) -> None:
    with pytest.raises(ValueError, match=r"SM2 signature|INTEGER"):
        sm2.der_to_rs(der)


def test_der_to_rs_rejects_s_not_below_order() -> None:
    with pytest.raises(ValueError, match="values"):
        sm2.der_to_rs(sm2.rs_to_der(1, sm2.N))


def test_raw_to_rs_rejects_bad_lengths_and_ranges() -> None:
    assert sm2.raw_to_rs(b"\x01" * 63) is None
    assert sm2.raw_to_rs(b"\x00" * 32 + b"\x01" * 32) is None
    assert sm2.raw_to_rs(sm2.N.to_bytes(32, "big") + b"\x01" * 32) is None


def test_identity_hash_depends_on_user_id_and_key() -> None:
    public = sm2.generate_keypair()[1]
    other = sm2.generate_keypair()[1]
    base = sm2.identity_hash(public)
    assert len(base) == 32
    assert sm2.identity_hash(public, b"other-id") != base
    assert sm2.identity_hash(other) != base


def test_signature_with_another_user_id_does_not_verify() -> None:
    private, public = sm2.generate_keypair()
    signature = sm2.sign_raw(private, b"m", user_id=b"alice@example")
    assert sm2.verify_raw(public, b"m", signature, user_id=b"alice@example")
    assert not sm2.verify_raw(public, b"m", signature)


def test_verify_digest_der_is_false_for_bad_digest_length() -> None:
    private, public = sm2.generate_keypair()
    digest = sm2.message_digest(public, b"m")
    der = sm2.sign_digest_der(private, digest)
    assert sm2.verify_digest_der(public, digest, der)
    assert not sm2.verify_digest_der(public, digest[:31], der)


def test_encrypt_refuses_plaintext_gmssl_cannot_take() -> None:
    public = sm2.generate_keypair()[1]
    with pytest.raises(ValueError, match="1-255"):
        sm2.encrypt(public, b"")
    with pytest.raises(ValueError, match="1-255"):
        sm2.encrypt(public, b"x" * 256)


def test_decrypt_wraps_gmssl_failures_as_value_error() -> None:
    private, public = sm2.generate_keypair()
    other_private, _ = sm2.generate_keypair()
    ciphertext = sm2.encrypt(public, b"secret")
    assert sm2.decrypt(private, ciphertext) == b"secret"
    with pytest.raises(ValueError, match="failed"):
        sm2.decrypt(other_private, ciphertext)
    with pytest.raises(ValueError, match="length"):
        sm2.decrypt(private, b"\x30" * 10)
