"""Tree heads: the signing encoding, signatures with injected keys, and the witness's consistency check."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.heads import (
    TREE_HEAD_MAGIC,
    SignedTreeHead,
    TreeHead,
    check_head_consistency,
    sign_tree_head,
    verify_head_consistency,
    verify_tree_head,
)
from sunbid.ledger.merkle import InvalidProofError, MemoryTree, leaf_hash, sha256

ROOT8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
HEAD = TreeHead(tree_size=8, root_hash=ROOT8, timestamp_ms=1_763_880_000_000, log_id="sunbid-test")


def verifier(key: Ed25519PrivateKey) -> Callable[[bytes, bytes], bool]:
    public = key.public_key()

    def verify(message: bytes, signature: bytes) -> bool:
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    return verify


def test_signing_bytes_follow_the_documented_layout() -> None:
    expected = bytes.fromhex(
        "73756e6269642d747265652d686561642d763100"  # magic "sunbid-tree-head-v1\0"
        "0b" + "73756e6269642d74657374"  # log_id, 11 bytes
        "0000000000000008"  # tree_size
        "0000019aaf70da00"  # timestamp_ms 1763880000000
        "20" + ROOT8.hex()  # root hash, 32 bytes
    )
    assert HEAD.to_bytes() == expected
    assert HEAD.to_bytes().startswith(TREE_HEAD_MAGIC)
    assert len(HEAD.to_bytes()) == 70 + len(HEAD.log_id)


def test_signing_bytes_parse_back_and_nothing_else_does() -> None:
    data = HEAD.to_bytes()
    assert TreeHead.from_bytes(data) == HEAD
    with pytest.raises(ValueError, match="magic"):
        TreeHead.from_bytes(b"X" + data[1:])
    with pytest.raises(ValueError, match="expected"):
        TreeHead.from_bytes(data + b"\x00")
    with pytest.raises(ValueError, match="expected"):
        TreeHead.from_bytes(data[:-1])
    with pytest.raises(ValueError, match="root hash length"):
        TreeHead.from_bytes(data[:48] + b"\x21" + data[49:])
    with pytest.raises(ValueError, match="ASCII"):
        TreeHead.from_bytes(data[:21] + b"\xff" + data[22:])


def test_each_field_changes_the_signing_bytes() -> None:
    for change in (
        {"tree_size": 9},
        {"root_hash": bytes(32)},
        {"timestamp_ms": HEAD.timestamp_ms + 1},
        {"log_id": "sunbid-tesu"},
    ):
        assert dataclasses.replace(HEAD, **change).to_bytes() != HEAD.to_bytes()


@pytest.mark.parametrize(
    "fields",
    [
        {"tree_size": -1},
        {"tree_size": 2**64},
        {"tree_size": True},
        {"timestamp_ms": -5},
        {"root_hash": b"\x00" * 31},
        {"log_id": ""},
        {"log_id": "has space"},
        {"log_id": "池州市"},
        {"log_id": "x" * 256},
    ],
)
def test_invalid_heads_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        dataclasses.replace(HEAD, **fields)  # type: ignore[arg-type]


def test_signed_head_round_trip_and_tamper() -> None:
    key = Ed25519PrivateKey.generate()
    sth = sign_tree_head(HEAD, key.sign, key_fingerprint="ed25519:ab12cd", suite="intl-v1")
    assert sth.head == HEAD
    assert verify_tree_head(sth, verifier(key))
    restored = SignedTreeHead.from_dict(sth.to_dict())
    assert restored == sth
    assert verify_tree_head(restored, verifier(key))
    assert b'"root_hash":"5dc9da79' in canonical_json(sth.to_dict())

    for change in (
        {"tree_size": 9},
        {"root_hash": bytes(32)},
        {"timestamp_ms": HEAD.timestamp_ms + 1},
        {"log_id": "sunbid-other"},
    ):
        forged = dataclasses.replace(sth, head=dataclasses.replace(HEAD, **change))
        assert not verify_tree_head(forged, verifier(key))
    bad_sig = dataclasses.replace(sth, signature=bytes([sth.signature[0] ^ 1]) + sth.signature[1:])
    assert not verify_tree_head(bad_sig, verifier(key))
    assert not verify_tree_head(sth, verifier(Ed25519PrivateKey.generate()))


def test_only_an_explicit_true_accepts_a_signature() -> None:
    sth = sign_tree_head(HEAD, lambda _m: b"sig", key_fingerprint="k1", suite="test")
    assert verify_tree_head(sth, lambda _m, _s: True)
    assert not verify_tree_head(sth, lambda _m, _s: None)  # type: ignore[arg-type,return-value]
    assert not verify_tree_head(sth, lambda _m, _s: b"ok")  # type: ignore[arg-type,return-value]


def test_malformed_signed_heads_are_refused() -> None:
    good = sign_tree_head(HEAD, lambda _m: b"sig", key_fingerprint="k1", suite="test").to_dict()
    with pytest.raises(ValueError, match="signature"):
        SignedTreeHead.from_dict({**good, "signature": ""})
    with pytest.raises(ValueError, match="hex"):
        SignedTreeHead.from_dict({**good, "root_hash": "zz"})
    with pytest.raises(ValueError, match="suite"):
        SignedTreeHead.from_dict({k: v for k, v in good.items() if k != "suite"})
    with pytest.raises(ValueError, match="tree_size"):
        SignedTreeHead.from_dict({**good, "tree_size": "8"})


def test_witness_accepts_a_head_that_extends_the_old_one_and_nothing_else() -> None:
    tree = MemoryTree(leaf_hash(sha256, bytes([i])) for i in range(20))
    old = TreeHead(12, tree.root(12), 1_000, "sunbid-test")
    new = TreeHead(20, tree.root(), 2_000, "sunbid-test")
    proof = tree.consistency_proof(12)
    assert verify_head_consistency(old, new, proof)
    check_head_consistency(old, old, [])
    with pytest.raises(InvalidProofError, match="different logs"):
        check_head_consistency(old, dataclasses.replace(new, log_id="sunbid-fork"), proof)
    with pytest.raises(InvalidProofError, match="shrank"):
        check_head_consistency(new, old, proof)
    with pytest.raises(InvalidProofError, match="earlier"):
        check_head_consistency(old, dataclasses.replace(new, timestamp_ms=999), proof)
    forked = dataclasses.replace(new, root_hash=tree.root(19))
    assert not verify_head_consistency(old, forked, proof)
    rewritten = dataclasses.replace(old, root_hash=tree.root(11))
    assert not verify_head_consistency(rewritten, new, proof)
