"""Section opening key: Shamir k-of-n split among custodians, commitment check, text form, encrypted shares."""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import replace
from datetime import UTC, datetime
from typing import cast

import pytest

from sunbid.bidding.container import BidManifest, open_bid, seal_bid
from sunbid.core.errors import DomainError
from sunbid.crypto.certificates import CertificateAuthority, Subject
from sunbid.crypto.suite import CryptoSuite, get_suite
from sunbid.opening.keys import (
    EncryptedShare,
    Share,
    combine_shares,
    decrypt_share,
    encrypt_share_for_custodian,
    new_opening_key,
    opening_key_fingerprint,
    split_key,
)

SECTION = "FJ-2026-0042-01"
NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module", params=["intl", "gm"])
def suite(request: pytest.FixtureRequest) -> CryptoSuite:
    return get_suite(request.param)


def _code(fn: object, *args: object, **kw: object) -> str:
    assert callable(fn)
    with pytest.raises(DomainError) as exc:
        fn(*args, **kw)
    return exc.value.code


def _flip(data: bytes, pos: int) -> bytes:
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1 :]


@pytest.mark.parametrize(("k", "n"), [(2, 3), (3, 5)])
def test_any_k_of_n_shares_rebuild_the_key_and_k_minus_1_do_not(suite: CryptoSuite, k: int, n: int) -> None:
    key = new_opening_key(suite)
    shares = split_key(key.private, k, n, suite=suite, section=SECTION)
    assert [s.index for s in shares] == list(range(1, n + 1))
    assert {s.key_fingerprint for s in shares} == {opening_key_fingerprint(suite, key.public)}
    assert all(len(s.data) == len(key.private) == 32 for s in shares)
    assert len({s.data for s in shares}) == n
    for subset in itertools.combinations(shares, k):
        assert combine_shares(subset, k) == key.private
        assert combine_shares(list(reversed(subset))) == key.private
    assert combine_shares(shares) == key.private  # more than k is fine
    for subset in itertools.combinations(shares, k - 1):
        assert _code(combine_shares, subset, k) == "opening.not_enough_shares"
    assert _code(combine_shares, [], k) == "opening.not_enough_shares"
    assert _code(combine_shares, [shares[0]] * k, k) == "opening.not_enough_shares"  # one share k times


def test_a_corrupted_share_is_refused_not_turned_into_a_wrong_key(suite: CryptoSuite) -> None:
    key = new_opening_key(suite)
    shares = split_key(key.private, 2, 3, suite=suite, section=SECTION)
    for pos in (0, 7, 15, 16, 31):
        bad = replace(shares[1], data=_flip(shares[1].data, pos))
        assert _code(combine_shares, [shares[0], bad], 2) == "opening.bad_shares"
        # with a spare good share, the bad one is worked around
        assert combine_shares([shares[0], bad, shares[2]], 2) == key.private
    assert _code(combine_shares, [shares[0], replace(shares[1], index=3)], 2) == "opening.bad_shares"


def test_shares_of_different_keys_or_disagreeing_shares_are_refused(suite: CryptoSuite) -> None:
    one = split_key(new_opening_key(suite).private, 2, 3, suite=suite, section=SECTION)
    two = split_key(new_opening_key(suite).private, 2, 3, suite=suite, section=SECTION)
    assert _code(combine_shares, [one[0], two[1]], 2) == "opening.bad_shares"
    relabelled = replace(two[1], key_fingerprint=one[0].key_fingerprint)  # same commitment, wrong key
    assert _code(combine_shares, [one[0], relabelled], 2) == "opening.bad_shares"
    assert _code(combine_shares, [one[0], replace(one[0], data=one[1].data), one[2]], 2) == "opening.bad_shares"
    assert _code(combine_shares, [one[0], replace(one[1], section="其他标段")], 2) == "opening.bad_shares"
    assert _code(combine_shares, one[:2], 3) == "opening.bad_shares"  # asked threshold differs


def test_splitting_twice_gives_unrelated_shares(suite: CryptoSuite) -> None:
    key = new_opening_key(suite)
    first = split_key(key.private, 2, 3, suite=suite, section=SECTION)
    second = split_key(key.private, 2, 3, suite=suite, section=SECTION)
    assert all(a.data != b.data for a, b in zip(first, second, strict=True))
    # shares of different splits do not combine into the key
    assert _code(combine_shares, [first[0], second[1]], 2) == "opening.bad_shares"


def test_split_refuses_bad_parameters(suite: CryptoSuite) -> None:
    private = new_opening_key(suite).private
    for k, n in ((1, 3), (4, 3), (2, 256), (0, 0)):
        assert _code(split_key, private, k, n, suite=suite, section=SECTION) == "opening.bad_split"
    assert _code(split_key, private[:24], 2, 3, suite=suite, section=SECTION) == "opening.bad_split"
    assert _code(split_key, private, 2, 3, suite=suite, section=" padded ") == "opening.bad_split"
    assert _code(split_key, b"\xff" * 32, 2, 3, suite="gm", section=SECTION) == "crypto.bad_key"  # SM2 d >= n


class _WideKeySuite:
    """A stand-in suite whose encryption keys are any length (the real ones are 32 bytes)."""

    name = "intl"

    def encryption_public_key(self, private: bytes) -> bytes:
        return hashlib.sha256(b"public" + private).digest()

    def public_key_fingerprint(self, public: bytes) -> str:
        return public.hex()


@pytest.mark.parametrize("size", [16, 48, 64])
def test_any_multiple_of_16_bytes_splits_and_rebuilds(size: int) -> None:
    wide = cast(CryptoSuite, _WideKeySuite())
    private = os.urandom(size)
    shares = split_key(private, 3, 4, suite=wide, section=SECTION)
    assert {len(s.data) for s in shares} == {size}
    for subset in itertools.combinations(shares, 3):
        assert combine_shares(subset, suite=wide) == private
    # each 16-byte block has its own polynomial: a change in the last block of one share spoils the key
    bad = replace(shares[0], data=_flip(shares[0].data, size - 1))
    assert _code(combine_shares, [bad, shares[1], shares[2]], suite=wide) == "opening.bad_shares"
    assert _code(split_key, private + b"x", 3, 4, suite=wide, section=SECTION) == "opening.bad_split"


def test_the_text_form_round_trips_and_catches_typing_mistakes(suite: CryptoSuite) -> None:
    key = new_opening_key(suite)
    shares = split_key(key.private, 2, 3, suite=suite, section="福建-2026-第42号-01标段")
    texts = [s.to_text() for s in shares]
    assert texts[0].startswith("-----BEGIN SUNBID OPENING KEY SHARE-----\n")
    assert "Section: 福建-2026-第42号-01标段\n" in texts[0]
    assert f"Key-Fingerprint: {shares[0].key_fingerprint}\n" in texts[0]
    back = [Share.from_text(t) for t in texts]
    assert back == shares
    assert Share.from_text("\r\n".join(texts[1].splitlines()) + "\r\n  ") == shares[1]  # CRLF, blanks
    assert combine_shares([back[2], back[0]]) == key.private
    data_line = next(line for line in texts[0].splitlines() if line.startswith("Data: "))
    typo = data_line[:10] + ("B" if data_line[10] != "B" else "C") + data_line[11:]
    for bad in (
        texts[0].replace(data_line, typo),
        texts[0].replace("Index: 1", "Index: 2"),
        texts[0].replace("Version: 1", "Version: 2"),
        texts[0].replace("-----END", "-----FIN"),
        "\n".join(texts[0].splitlines()[:-3] + texts[0].splitlines()[-2:]),
        "",
    ):
        assert _code(Share.from_text, bad) == "opening.bad_share_text"


def _custodian(suite: CryptoSuite, ca: CertificateAuthority, n: int) -> tuple[bytes, str]:
    pair = suite.generate_encryption_keypair()
    subject = Subject(common_name=f"保管人{n}", organisation_name="某市公证处", uscc="12350100MB0000001Y")
    return pair.private, ca.issue(subject, pair.public, "encryption", 500 + n, NOW, 365)


def test_shares_are_stored_encrypted_to_each_custodian(suite: CryptoSuite) -> None:
    ca = CertificateAuthority.create(suite, "交易中心 CA", now=NOW, validity_days=3650)
    key = new_opening_key(suite)
    shares = split_key(key.private, 2, 3, suite=suite, section=SECTION)
    custodians = [_custodian(suite, ca, i) for i in range(3)]
    sealed = [
        encrypt_share_for_custodian(suite, share, cert)
        for share, (_private, cert) in zip(shares, custodians, strict=True)
    ]
    for enc, share in zip(sealed, shares, strict=True):
        assert share.data not in enc.to_text().encode() and share.data not in enc.ciphertext
        assert EncryptedShare.from_text(enc.to_text()) == enc
    opened = [
        decrypt_share(suite, enc.to_text(), private) for enc, (private, _c) in zip(sealed, custodians, strict=True)
    ]
    assert opened == shares
    assert combine_shares(opened[1:]) == key.private
    # raw public keys work as well as certificates
    raw = encrypt_share_for_custodian(suite, shares[0], suite.encryption_public_key(custodians[0][0]))
    assert decrypt_share(suite, raw, custodians[0][0]) == shares[0]

    assert _code(decrypt_share, suite, sealed[0], custodians[1][0]) == "opening.wrong_custodian_key"
    for bad in (
        replace(sealed[0], ciphertext=_flip(sealed[0].ciphertext, 20)),
        replace(sealed[0], wrapped_key=_flip(sealed[0].wrapped_key, 40)),
        replace(sealed[0], index=2),  # metadata swapped: bound as AAD and wrap context
        replace(sealed[0], section="另一标段"),
    ):
        assert _code(decrypt_share, suite, bad, custodians[0][0]) == "opening.share_tampered"
    signing = suite.generate_signing_keypair()
    signing_cert = ca.issue(
        Subject(common_name="x", organisation_name="x", uscc="12350100MB0000001Y"),
        signing.public,
        "signing",
        9,
        NOW,
        30,
    )
    assert _code(encrypt_share_for_custodian, suite, shares[0], signing_cert) == "opening.bad_custodian_key"


def test_custodian_fallback_opens_a_sealed_bid_with_k_shares(suite: CryptoSuite) -> None:
    """The whole B-2 path: a bid sealed to the section key opens with the key rebuilt from 2 of 3 custodians."""
    ca = CertificateAuthority.create(suite, "交易中心 CA", now=NOW, validity_days=3650)
    bidder = Subject(common_name="某建设", organisation_name="某建设工程有限公司", uscc="91350100M000100Y43")
    signing, encryption = suite.generate_signing_keypair(), suite.generate_encryption_keypair()
    signing_pem = ca.issue(bidder, signing.public, "signing", 1, NOW, 365)
    section_key = new_opening_key(suite)
    manifest = BidManifest(
        project_code="FJ-2026-0042",
        section_code=SECTION,
        bidder_uscc=bidder.uscc,
        bidder_name=bidder.organisation_name,
        price="880000.00",
        duration_days=200,
        quality="优良",
        machine_fingerprint="cd" * 32,
        tool_version="sunbid-bidder 0.1.0",
        created_at=NOW,
    )
    data = seal_bid(
        suite,
        manifest,
        {"投标文件.pdf": b"%PDF-1.7 ..."},
        signing_private=signing.private,
        signing_cert_pem=signing_pem,
        bidder_encryption_public=encryption.public,
        opening_public=section_key.public,
        context=SECTION,
    )
    custodians = [_custodian(suite, ca, i) for i in range(3)]
    stored = [
        encrypt_share_for_custodian(suite, share, cert).to_text()
        for share, (_p, cert) in zip(
            split_key(section_key.private, 2, 3, suite=suite, section=SECTION), custodians, strict=True
        )
    ]
    del section_key  # from here on only the custodians can rebuild it
    approvals = [decrypt_share(suite, stored[i], custodians[i][0]) for i in (0, 2)]
    opened = open_bid(suite, data, opening_private=combine_shares(approvals, 2), context=SECTION)
    assert opened.manifest.price == "880000.00"
    assert opened.files == {"投标文件.pdf": b"%PDF-1.7 ..."}
    assert opened.signature_valid
    one = [decrypt_share(suite, stored[1], custodians[1][0])]
    assert _code(combine_shares, one, 2) == "opening.not_enough_shares"
