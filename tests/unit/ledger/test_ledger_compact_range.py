"""The incremental tree state: append, root, node reports, persistence and resumption."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.ledger.merkle import (
    CompactRange,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    perfect_subtrees,
    root_at,
    sha256,
)


def ref_mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes, split at the largest power of two below n."""
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:]))


LEAVES = [leaf_hash(sha256, i.to_bytes(4, "big")) for i in range(600)]


def test_every_prefix_root_equals_the_reference() -> None:
    tree = CompactRange()
    for n in range(1, 301):
        assert tree.append(LEAVES[n - 1]) == n - 1
        assert tree.size == n
        assert tree.root() == ref_mth(LEAVES[:n])


def test_frontier_holds_one_perfect_subtree_per_set_bit() -> None:
    tree = CompactRange()
    tree.extend(LEAVES[:13])  # 13 = 8 + 4 + 1
    assert perfect_subtrees(13) == [(0, 8), (8, 12), (12, 13)]
    assert tree.frontier() == [
        (3, ref_mth(LEAVES[0:8])),
        (2, ref_mth(LEAVES[8:12])),
        (0, LEAVES[12]),
    ]
    assert tree.nodes == tuple(node for _, node in tree.frontier())


@settings(max_examples=50, deadline=None)
@given(split=st.integers(min_value=0, max_value=600), end=st.integers(min_value=0, max_value=600))
def test_a_persisted_tree_resumes_where_it_stopped(split: int, end: int) -> None:
    split, end = min(split, end), max(split, end)
    first = CompactRange()
    first.extend(LEAVES[:split])
    saved = first.to_bytes()
    assert len(saved) == 8 + 32 * split.bit_count()
    resumed = CompactRange.from_bytes(saved)
    rebuilt = CompactRange(size=split, nodes=[node for _, node in first.frontier()])
    resumed.extend(LEAVES[split:end])
    rebuilt.extend(LEAVES[split:end])
    assert resumed.root() == ref_mth(LEAVES[:end])
    assert resumed == rebuilt
    assert resumed.to_bytes() == MemoryTree(LEAVES[:end]).compact_range().to_bytes()


def test_on_node_reports_every_completed_subtree_exactly_once() -> None:
    seen: dict[tuple[int, int], bytes] = {}

    def on_node(start: int, end: int, node: bytes) -> None:
        assert (start, end) not in seen
        seen[(start, end)] = node

    tree = CompactRange(on_node=on_node)
    tree.extend(LEAVES[:100])
    expected = {(start, start + size) for size in (2, 4, 8, 16, 32, 64) for start in range(0, 100 - size + 1, size)}
    assert set(seen) == expected
    for (start, end), node in seen.items():
        assert node == ref_mth(LEAVES[start:end])


def test_node_reports_can_serve_proofs_for_a_later_size() -> None:
    cache: dict[tuple[int, int], bytes] = {}
    tree = CompactRange(on_node=lambda s, e, node: cache.__setitem__((s, e), node))
    tree.extend(LEAVES[:77])

    def get_node(start: int, end: int) -> bytes:
        return LEAVES[start] if end - start == 1 else cache[(start, end)]

    memory = MemoryTree(LEAVES[:77])
    assert root_at(77, get_node) == tree.root()
    assert inclusion_proof(40, 77, get_node) == memory.inclusion_proof(40)
    assert consistency_proof(33, 77, get_node) == memory.consistency_proof(33)


def test_copies_are_independent_and_equality_compares_state() -> None:
    tree = CompactRange()
    tree.extend(LEAVES[:5])
    twin = tree.copy()
    assert twin == tree
    twin.append(LEAVES[5])
    assert twin != tree
    assert tree.size == 5
    assert tree.root() == ref_mth(LEAVES[:5])


def test_malformed_states_are_refused() -> None:
    with pytest.raises(ValueError, match="frontier nodes"):
        CompactRange(size=3, nodes=[LEAVES[0]])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange(size=1, nodes=[b"short"])
    with pytest.raises(ValueError, match="non-negative"):
        CompactRange(size=-1)
    with pytest.raises(ValueError, match="shorter"):
        CompactRange.from_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match="needs 2 hashes"):
        CompactRange.from_bytes((3).to_bytes(8, "big") + LEAVES[0])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"\x00" * 31)
    assert CompactRange.from_bytes(bytes(8)).root() == sha256(b"")
