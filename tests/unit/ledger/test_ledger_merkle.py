"""RFC 9162 Merkle tree: published vectors, and proofs compared with a naive reference of RFC 9162 §2.1."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.ledger.merkle import (
    CompactRange,
    InvalidProofError,
    MemoryTree,
    check_consistency,
    check_inclusion,
    consistency_proof,
    empty_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_at,
    root_from_leaf_hashes,
    sha256,
    verify_consistency,
    verify_inclusion,
)

Hash = Callable[[bytes], bytes]

# --- naive reference: RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, written as the RFC states them -------------


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes], h: Hash = sha256) -> bytes:
    if not d:
        return h(b"")
    if len(d) == 1:
        return h(b"\x00" + d[0])
    k = ref_k(len(d))
    return h(b"\x01" + ref_mth(d[:k], h) + ref_mth(d[k:], h))


def ref_path(m: int, d: list[bytes], h: Hash = sha256) -> list[bytes]:
    if len(d) == 1:
        return []
    k = ref_k(len(d))
    if m < k:
        return [*ref_path(m, d[:k], h), ref_mth(d[k:], h)]
    return [*ref_path(m - k, d[k:], h), ref_mth(d[:k], h)]


def ref_subproof(m: int, d: list[bytes], b: bool, h: Hash = sha256) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d, h)]
    k = ref_k(n)
    if m <= k:
        return [*ref_subproof(m, d[:k], b, h), ref_mth(d[k:], h)]
    return [*ref_subproof(m - k, d[k:], False, h), ref_mth(d[:k], h)]


def ref_proof(m: int, d: list[bytes], h: Hash = sha256) -> list[bytes]:
    return ref_subproof(m, d, True, h)


# --- fixtures --------------------------------------------------------------------------------------------

DATA = [f"sunbid-entry-{i}".encode() for i in range(70)]
HASHES = [leaf_hash(sha256, d) for d in DATA]
TREE = MemoryTree(HASHES)

CT_DATA = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")] + [
    bytes.fromhex("606162636465666768696a6b6c6d6e6f")
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def flip(b: bytes) -> bytes:
    return bytes([b[0] ^ 1]) + b[1:]


# --- known values ----------------------------------------------------------------------------------------


def test_empty_tree_root_is_hash_of_empty_string() -> None:
    assert empty_root().hex() == EMPTY_SHA256
    assert CompactRange().root().hex() == EMPTY_SHA256
    assert root_from_leaf_hashes([]).hex() == EMPTY_SHA256
    assert MemoryTree().root().hex() == EMPTY_SHA256
    assert root_at(0, TREE.get_node).hex() == EMPTY_SHA256


def test_leaf_and_node_hashes_use_the_rfc_prefixes() -> None:
    assert leaf_hash(sha256, b"").hex() == CT_ROOTS[0]
    assert node_hash(sha256, leaf_hash(sha256, b""), leaf_hash(sha256, b"\x00")).hex() == CT_ROOTS[1]


def test_roots_match_the_certificate_transparency_vectors() -> None:
    tree = CompactRange()
    memory = MemoryTree(leaf_hash(sha256, d) for d in CT_DATA)
    for n, data in enumerate(CT_DATA, start=1):
        tree.append(leaf_hash(sha256, data))
        assert tree.root().hex() == CT_ROOTS[n - 1]
        assert memory.root(n).hex() == CT_ROOTS[n - 1]
        assert root_from_leaf_hashes(leaf_hash(sha256, d) for d in CT_DATA[:n]).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize(
    ("index", "size", "path"),
    [
        (0, 1, []),
        (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
        (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    ],
)  # fmt: skip
def test_inclusion_proofs_match_the_certificate_transparency_vectors(index: int, size: int, path: list[str]) -> None:
    tree = MemoryTree(leaf_hash(sha256, d) for d in CT_DATA)
    assert [p.hex() for p in tree.inclusion_proof(index, size)] == path
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(leaf_hash(sha256, CT_DATA[index]), index, size, [bytes.fromhex(p) for p in path], root)


@pytest.mark.parametrize(
    ("first", "second", "proof"),
    [
        (1, 1, []),
        (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
        (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
        (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
        (2, 8, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    ],
)  # fmt: skip
def test_consistency_proofs_match_the_certificate_transparency_vectors(
    first: int, second: int, proof: list[str]
) -> None:
    tree = MemoryTree(leaf_hash(sha256, d) for d in CT_DATA)
    assert [p.hex() for p in tree.consistency_proof(first, second)] == proof
    r1, r2 = bytes.fromhex(CT_ROOTS[first - 1]), bytes.fromhex(CT_ROOTS[second - 1])
    assert verify_consistency(first, r1, second, r2, [bytes.fromhex(p) for p in proof])


# --- against the reference, every size 1..70 -------------------------------------------------------------


def test_roots_equal_the_reference_for_every_size_up_to_70() -> None:
    tree = CompactRange()
    for n in range(1, 71):
        tree.append(HASHES[n - 1])
        expected = ref_mth(DATA[:n])
        assert tree.root() == expected
        assert TREE.root(n) == expected
        assert root_at(n, TREE.get_node) == expected


def test_inclusion_proofs_equal_the_reference_and_verify_for_every_size_up_to_70() -> None:
    for n in range(1, 71):
        root = TREE.root(n)
        for m in range(n):
            proof = TREE.inclusion_proof(m, n)
            assert proof == ref_path(m, DATA[:n])
            check_inclusion(HASHES[m], m, n, proof, root)


def test_consistency_proofs_equal_the_reference_and_verify_for_every_size_up_to_70() -> None:
    for n in range(1, 71):
        root = TREE.root(n)
        for m in range(1, n):
            proof = TREE.consistency_proof(m, n)
            assert proof == ref_proof(m, DATA[:n])
            check_consistency(m, TREE.root(m), n, root, proof)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.binary(max_size=40), min_size=1, max_size=70),
    choice=st.integers(min_value=0),
    choice2=st.integers(min_value=0),
)
def test_random_leaves_give_the_reference_root_and_proofs(data: list[bytes], choice: int, choice2: int) -> None:
    n = len(data)
    tree = MemoryTree(leaf_hash(sha256, d) for d in data)
    m, first = choice % n, choice2 % n + 1
    assert tree.root() == ref_mth(data)
    assert tree.inclusion_proof(m) == ref_path(m, data)
    assert tree.consistency_proof(first) == ref_proof(first, data)
    assert verify_inclusion(leaf_hash(sha256, data[m]), m, n, tree.inclusion_proof(m), tree.root())
    assert verify_consistency(first, tree.root(first), n, tree.root(), tree.consistency_proof(first))


BIG = [f"big-{i}".encode() for i in range(3000)]
BIG_TREE = MemoryTree(leaf_hash(sha256, d) for d in BIG)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=71, max_value=3000), a=st.integers(min_value=0), b=st.integers(min_value=0))
def test_large_random_trees_agree_with_the_reference(n: int, a: int, b: int) -> None:
    m, first = a % n, b % (n - 1) + 1
    data = BIG[:n]
    assert BIG_TREE.root(n) == ref_mth(data)
    proof = BIG_TREE.inclusion_proof(m, n)
    assert proof == ref_path(m, data)
    assert verify_inclusion(BIG_TREE.leaf_hash(m), m, n, proof, BIG_TREE.root(n))
    cproof = BIG_TREE.consistency_proof(first, n)
    assert cproof == ref_proof(first, data)
    assert verify_consistency(first, BIG_TREE.root(first), n, BIG_TREE.root(n), cproof)


# Huge trees cannot be materialised, but with every leaf equal a subtree's hash depends only on its size,
# so the RFC's recursion can be evaluated by size alone and compared with proofs built through get_node.
SAME_LEAF = leaf_hash(sha256, b"same")


@cache
def mth_of_size(n: int) -> bytes:
    if n == 1:
        return SAME_LEAF
    k = ref_k(n)
    return node_hash(sha256, mth_of_size(k), mth_of_size(n - k))


def path_of_size(m: int, n: int) -> list[bytes]:
    if n == 1:
        return []
    k = ref_k(n)
    if m < k:
        return [*path_of_size(m, k), mth_of_size(n - k)]
    return [*path_of_size(m - k, n - k), mth_of_size(k)]


def uniform_get_node(start: int, end: int) -> bytes:
    size = end - start
    assert size > 0
    assert size & (size - 1) == 0, "get_node asked for a range that is not a perfect subtree"
    assert start % size == 0, "get_node asked for an unaligned range"
    return mth_of_size(size)


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=2, max_value=2**63), a=st.integers(min_value=0), b=st.integers(min_value=0))
def test_proofs_in_huge_trees_match_the_rfc_recursion(n: int, a: int, b: int) -> None:
    m, first = a % n, b % (n - 1) + 1
    root = root_at(n, uniform_get_node)
    assert root == mth_of_size(n)
    proof = inclusion_proof(m, n, uniform_get_node)
    assert proof == path_of_size(m, n)
    assert verify_inclusion(SAME_LEAF, m, n, proof, root)
    cproof = consistency_proof(first, n, uniform_get_node)
    assert verify_consistency(first, mth_of_size(first), n, root, cproof)
    assert not verify_consistency(first, mth_of_size(first), n, flip(root), cproof)


def test_proofs_ask_get_node_only_for_aligned_perfect_subtrees_and_few_of_them() -> None:
    calls: list[tuple[int, int]] = []

    def get_node(start: int, end: int) -> bytes:
        calls.append((start, end))
        return uniform_get_node(start, end)

    for n in (2**20 - 1, 2**20 + 1, 1_000_003, 3 * 2**40 + 7):
        for m in (0, n // 3, n - 1):
            calls.clear()
            inclusion_proof(m, n, get_node)
            assert len(calls) <= 2 * n.bit_length()
        calls.clear()
        consistency_proof(n // 2 + 1, n, get_node)
        assert len(calls) <= 2 * n.bit_length()


# --- verification rejects what it must ----------------------------------------------------------------

CASES = [(n, m) for n in (1, 2, 3, 5, 7, 8, 9, 16, 31, 33, 64, 70) for m in {0, n // 2, n - 1}]


@pytest.mark.parametrize(("n", "m"), CASES)
def test_inclusion_verification_rejects_tampering(n: int, m: int) -> None:
    leaf, root, proof = HASHES[m], TREE.root(n), TREE.inclusion_proof(m, n)
    assert verify_inclusion(leaf, m, n, proof, root)
    for other in range(n):
        if other != m:
            assert not verify_inclusion(leaf, other, n, proof, root), f"wrong index {other}"
    assert not verify_inclusion(leaf, n, n, proof, root)
    for size in range(max(1, m + 1), 71):
        if size != n:
            assert not verify_inclusion(leaf, m, size, proof, TREE.root(size)), f"wrong size {size}"
    assert not verify_inclusion(flip(leaf), m, n, proof, root)
    assert not verify_inclusion(leaf, m, n, proof, flip(root))
    for i in range(len(proof)):
        altered = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
        assert not verify_inclusion(leaf, m, n, altered, root)
    if proof:
        assert not verify_inclusion(leaf, m, n, proof[:-1], root)
        assert not verify_inclusion(leaf, m, n, proof[1:], root)
        assert not verify_inclusion(leaf, m, n, [*proof[:-1], proof[-1][:31]], root)
    assert not verify_inclusion(leaf, m, n, [*proof, root], root)
    assert not verify_inclusion(leaf, m, n, [HASHES[0], *proof], root)


def test_inclusion_check_explains_why_it_failed() -> None:
    proof = TREE.inclusion_proof(3, 10)
    with pytest.raises(InvalidProofError, match="not in a tree"):
        check_inclusion(HASHES[3], 10, 10, proof, TREE.root(10))
    with pytest.raises(InvalidProofError, match="shorter"):
        check_inclusion(HASHES[3], 3, 10, proof[:-1], TREE.root(10))
    with pytest.raises(InvalidProofError, match="longer"):
        check_inclusion(HASHES[3], 3, 10, [*proof, HASHES[0]], TREE.root(10))
    with pytest.raises(InvalidProofError, match="different root"):
        check_inclusion(HASHES[4], 3, 10, proof, TREE.root(10))
    with pytest.raises(InvalidProofError, match="32 bytes"):
        check_inclusion(HASHES[3], 3, 10, [proof[0] + b"x", *proof[1:]], TREE.root(10))
    with pytest.raises(InvalidProofError, match="non-negative"):
        check_inclusion(HASHES[3], -1, 10, proof, TREE.root(10))
    assert not verify_inclusion(HASHES[0], 0, 0, [], empty_root())


@pytest.mark.parametrize(("n", "m"), [(n, m) for n, m in CASES if 0 < m < n])
def test_consistency_verification_rejects_tampering(n: int, m: int) -> None:
    r1, r2, proof = TREE.root(m), TREE.root(n), TREE.consistency_proof(m, n)
    assert verify_consistency(m, r1, n, r2, proof)
    for size in range(1, n):
        if size != m:
            assert not verify_consistency(size, TREE.root(size), n, r2, proof), f"wrong first size {size}"
    for size in range(m + 1, 71):
        if size != n:
            assert not verify_consistency(m, r1, size, TREE.root(size), proof), f"wrong second size {size}"
    assert not verify_consistency(m, flip(r1), n, r2, proof)
    assert not verify_consistency(m, r1, n, flip(r2), proof)
    assert not verify_consistency(n, r2, m, r1, proof)
    for i in range(len(proof)):
        altered = [*proof[:i], flip(proof[i]), *proof[i + 1 :]]
        assert not verify_consistency(m, r1, n, r2, altered)
    assert not verify_consistency(m, r1, n, r2, proof[:-1])
    assert not verify_consistency(m, r1, n, r2, proof[1:])
    assert not verify_consistency(m, r1, n, r2, [*proof, r2])
    assert not verify_consistency(m, r1, n, r2, [r1, *proof])


def test_consistency_edge_cases_follow_the_rfc_definitions() -> None:
    r5, r9 = TREE.root(5), TREE.root(9)
    assert consistency_proof(5, 5, TREE.get_node) == []
    assert consistency_proof(0, 9, TREE.get_node) == []
    assert consistency_proof(0, 0, TREE.get_node) == []
    assert verify_consistency(5, r5, 5, r5, [])
    assert not verify_consistency(5, r5, 5, r9, [])  # same size, different roots: a fork
    assert not verify_consistency(5, r5, 5, r5, [r5])  # same size needs an empty proof
    assert verify_consistency(0, empty_root(), 9, r9, [])
    assert verify_consistency(0, empty_root(), 0, empty_root(), [])
    assert not verify_consistency(0, r5, 9, r9, [])  # size 0 must carry the empty-tree hash
    assert not verify_consistency(0, empty_root(), 9, r9, [r9])
    assert not verify_consistency(3, TREE.root(3), 9, r9, [])  # RFC step 1: empty path fails
    with pytest.raises(InvalidProofError, match="larger"):
        check_consistency(9, r9, 5, r5, [])
    with pytest.raises(ValueError, match="larger"):
        consistency_proof(9, 5, TREE.get_node)
    with pytest.raises(InvalidProofError, match="different root hashes"):
        check_consistency(5, r5, 5, r9, [])
    with pytest.raises(InvalidProofError, match="second root"):
        check_consistency(5, r5, 9, flip(r9), TREE.consistency_proof(5, 9))
    with pytest.raises(InvalidProofError, match="first root"):
        check_consistency(5, flip(r5), 9, r9, TREE.consistency_proof(5, 9))
    proof = TREE.consistency_proof(5, 9)
    with pytest.raises(InvalidProofError, match="longer than needed"):
        check_consistency(5, r5, 9, r9, [*proof, r9])
    with pytest.raises(InvalidProofError, match="shorter than needed"):
        check_consistency(5, r5, 9, r9, proof[:-1])
    with pytest.raises(InvalidProofError, match="proof is empty"):
        check_consistency(5, r5, 9, r9, [])


def test_proof_builders_reject_out_of_range_arguments() -> None:
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(5, 5, TREE.get_node)
    with pytest.raises(ValueError, match="non-negative"):
        inclusion_proof(-1, 5, TREE.get_node)
    with pytest.raises(ValueError, match="outside"):
        TREE.inclusion_proof(0, 71)
    with pytest.raises(ValueError, match="not a complete aligned subtree"):
        TREE.get_node(1, 3)
    with pytest.raises(ValueError, match="not a complete aligned subtree"):
        TREE.get_node(64, 128)


# --- pluggable hash ----------------------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    try:
        return hashlib.new("sm3", data).digest()
    except ValueError:  # OpenSSL built without SM3: use the cryptography package
        from cryptography.hazmat.primitives import hashes

        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        return digest.finalize()


def sha3(data: bytes) -> bytes:
    return hashlib.sha3_256(data).digest()


@pytest.mark.parametrize("h", [sm3, sha3], ids=["sm3", "sha3-256"])
def test_the_tree_hash_is_pluggable(h: Hash) -> None:
    data = DATA[:13]
    tree = MemoryTree((leaf_hash(h, d) for d in data), h=h)
    assert tree.root() == ref_mth(data, h)
    assert tree.root() != ref_mth(data)
    assert CompactRange(h).root() == h(b"")
    assert root_from_leaf_hashes([leaf_hash(h, d) for d in data], h=h) == ref_mth(data, h)
    assert tree.inclusion_proof(6) == ref_path(6, data, h)
    assert tree.consistency_proof(5) == ref_proof(5, data, h)
    leaf, proof = leaf_hash(h, data[6]), tree.inclusion_proof(6)
    assert verify_inclusion(leaf, 6, 13, proof, tree.root(), h=h)
    assert not verify_inclusion(leaf, 6, 13, proof, tree.root())  # checked with SHA-256 instead
    assert verify_consistency(5, tree.root(5), 13, tree.root(), tree.consistency_proof(5), h=h)
    assert not verify_consistency(5, tree.root(5), 13, tree.root(), tree.consistency_proof(5))


def test_sm3_is_the_national_standard_hash() -> None:
    assert sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_a_hash_that_is_not_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32-byte"):
        CompactRange(lambda d: hashlib.sha1(d).digest())
    with pytest.raises(ValueError, match="32-byte"):
        MemoryTree(h=lambda d: hashlib.sha512(d).digest())
