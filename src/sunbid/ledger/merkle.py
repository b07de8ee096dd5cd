"""RFC 9162 (Certificate Transparency v2) Merkle tree: hashing, incremental append, proofs, verification.

Pure functions over 32-byte hashes; no storage. The hash is pluggable (any ``bytes -> bytes`` callable
returning 32 bytes): SHA-256 by default, SM3 where the deployment uses the national suite.

* ``leaf_hash(h, d) = H(0x00 || d)``, ``node_hash(h, l, r) = H(0x01 || l || r)``; the empty tree's root is
  ``H(b"")`` (RFC 9162 §2.1.1).
* :class:`CompactRange` is the append-only state of a tree of size ``n``: the roots of the perfect subtrees
  covering ``[0, n)``, one per set bit of ``n``, largest (leftmost) first. Appending costs amortised one
  node hash; the root costs ``popcount(n) - 1`` node hashes.
* Proofs are built from a ``get_node(start, end)`` callable returning the hash of the *perfect, aligned*
  subtree over leaves ``[start, end)`` (``end - start`` a power of two, ``start`` a multiple of it; a single
  leaf's node is its leaf hash). Storage supplies it from cached nodes or by recomputing; :class:`MemoryTree`
  supplies it from memory.
* Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step. ``check_*`` functions raise
  :class:`InvalidProofError` (a ``ValueError``) naming the reason; ``verify_*`` return a bool.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

__all__ = [
    "HASH_SIZE",
    "CompactRange",
    "HashFunc",
    "InvalidProofError",
    "MemoryTree",
    "NodeGetter",
    "NodeVisitor",
    "check_consistency",
    "check_inclusion",
    "consistency_proof",
    "empty_root",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "root_at",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "sha256",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every tree hash (SHA-256 and SM3 both give 32)."""

HashFunc = Callable[[bytes], bytes]
"""A hash function: message bytes in, 32-byte digest out."""

NodeGetter = Callable[[int, int], bytes]
"""``get_node(start, end)``: hash of the perfect aligned subtree over leaves ``[start, end)``."""

NodeVisitor = Callable[[int, int, bytes], None]
"""``on_node(start, end, hash)``: told of each perfect subtree of two or more leaves as it is completed."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class InvalidProofError(ValueError):
    """A proof, a size or a hash does not verify; the message says which check failed."""


def sha256(data: bytes) -> bytes:
    """SHA-256 digest of ``data`` (the default tree hash)."""
    return hashlib.sha256(data).digest()


def empty_root(h: HashFunc = sha256) -> bytes:
    """Root hash of the empty tree: ``H(b"")`` (RFC 9162 §2.1.1)."""
    return h(b"")


def leaf_hash(h: HashFunc, data: bytes) -> bytes:
    """Hash of a leaf: ``H(0x00 || data)``."""
    return h(_LEAF_PREFIX + data)


def node_hash(h: HashFunc, left: bytes, right: bytes) -> bytes:
    """Hash of an interior node: ``H(0x01 || left || right)``."""
    return h(_NODE_PREFIX + left + right)


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``): RFC 9162's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _require_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise InvalidProofError(f"{what} must be {HASH_SIZE} bytes")


def _require_size(value: int, what: str, error: type[ValueError] = ValueError) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise error(f"{what} must be a non-negative integer, got {value!r}")


def _checked_hash_func(h: HashFunc) -> HashFunc:
    if len(h(b"")) != HASH_SIZE:
        raise ValueError(f"the tree hash must give {HASH_SIZE}-byte digests")
    return h


def perfect_subtrees(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees ``[(start, end), ...]`` whose roots make up a tree of ``size`` leaves.

    One per set bit of ``size``, left to right (largest first). These are the nodes a :class:`CompactRange`
    of that size holds, and the nodes :func:`root_at` asks ``get_node`` for.
    """
    _require_size(size, "size")
    ranges: list[tuple[int, int]] = []
    start = 0
    for height in range(size.bit_length() - 1, -1, -1):
        if size >> height & 1:
            ranges.append((start, start + (1 << height)))
            start += 1 << height
    return ranges


def _range_root(start: int, end: int, get_node: NodeGetter, h: HashFunc) -> bytes:
    """MTH(D[start:end]) per RFC 9162 §2.1.1, asking ``get_node`` only for perfect aligned subtrees."""
    n = end - start
    if n & (n - 1) == 0 and start % n == 0:
        return get_node(start, end)
    k = _split(n)
    return node_hash(h, _range_root(start, start + k, get_node, h), _range_root(start + k, end, get_node, h))


def root_at(size: int, get_node: NodeGetter, *, h: HashFunc = sha256) -> bytes:
    """Root hash MTH(D[0:size]) from at most ``popcount(size)`` calls to ``get_node``.

    ``size == 0`` gives the empty-tree hash without calling ``get_node``.
    """
    _require_size(size, "size")
    if size == 0:
        return empty_root(h)
    nodes = [get_node(start, end) for start, end in perfect_subtrees(size)]
    root = nodes[-1]
    for node in reversed(nodes[:-1]):
        root = node_hash(h, node, root)
    return root


def root_from_leaf_hashes(leaf_hashes: Iterable[bytes], *, h: HashFunc = sha256) -> bytes:
    """MTH of a whole list of leaf hashes (RFC 9162 §2.1.1), in one pass of ``n - 1`` node hashes."""
    tree = CompactRange(h)
    tree.extend(leaf_hashes)
    return tree.root()


class CompactRange:
    """Append-only Merkle tree state over leaves ``[0, size)``: the frontier of perfect subtree roots.

    Holds one hash per set bit of ``size`` (at most 64), largest subtree first. ``append`` merges equal-height
    subtrees as a binary counter does, so it costs amortised one node hash; ``root`` folds the frontier right
    to left. The state serialises with :meth:`to_bytes` (or :meth:`frontier`) and resumes with
    :meth:`from_bytes` (or the constructor), so storage persists it next to the last entry and carries on.

    ``on_node``, if given, is called as ``on_node(start, end, hash)`` for every perfect subtree of two or more
    leaves completed by an append, so storage can cache exactly the nodes ``get_node`` will be asked for.
    """

    __slots__ = ("_h", "_nodes", "_on_node", "_size")

    def __init__(
        self,
        h: HashFunc = sha256,
        *,
        size: int = 0,
        nodes: Sequence[bytes] = (),
        on_node: NodeVisitor | None = None,
    ) -> None:
        """Start an empty tree, or resume one of ``size`` leaves from its frontier ``nodes``."""
        _require_size(size, "size")
        if size >= 1 << 64:
            raise ValueError("size must be below 2**64")
        if len(nodes) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} frontier nodes, got {len(nodes)}")
        for node in nodes:
            _require_hash(node, "frontier node")
        self._h = _checked_hash_func(h)
        self._size = size
        self._nodes = list(nodes)
        self._on_node = on_node

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def nodes(self) -> tuple[bytes, ...]:
        """Frontier hashes, left to right; ``nodes[i]`` covers ``perfect_subtrees(size)[i]``."""
        return tuple(self._nodes)

    def frontier(self) -> list[tuple[int, bytes]]:
        """The frontier as ``(height, hash)`` pairs, left to right (height 0 is a single leaf)."""
        heights = [h for h in range(self._size.bit_length() - 1, -1, -1) if self._size >> h & 1]
        return list(zip(heights, self._nodes, strict=True))

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash; return its index. Amortised one node hash."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes")
        index = self._size
        if index == 0xFFFF_FFFF_FFFF_FFFF:
            raise ValueError("the tree is full (2**64 - 1 leaves)")
        nodes = self._nodes
        h = self._h
        node = leaf_hash
        bits = index
        height = 0
        on_node = self._on_node
        while bits & 1:
            node = h(_NODE_PREFIX + nodes.pop() + node)
            bits >>= 1
            height += 1
            if on_node is not None:
                on_node(index + 1 - (1 << height), index + 1, node)
        nodes.append(node)
        self._size = index + 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes in order."""
        append = self.append
        for item in leaf_hashes:
            append(item)

    def root(self) -> bytes:
        """Root hash MTH(D[0:size]); ``popcount(size) - 1`` node hashes, at most 63."""
        nodes = self._nodes
        if not nodes:
            return empty_root(self._h)
        h = self._h
        root = nodes[-1]
        for node in reversed(nodes[:-1]):
            root = h(_NODE_PREFIX + node + root)
        return root

    def copy(self) -> CompactRange:
        """An independent copy (same hash, same ``on_node``)."""
        return CompactRange(self._h, size=self._size, nodes=self._nodes, on_node=self._on_node)

    def to_bytes(self) -> bytes:
        """Serialise as ``uint64 size`` (big-endian) followed by the frontier hashes, left to right."""
        return self._size.to_bytes(8, "big") + b"".join(self._nodes)

    @classmethod
    def from_bytes(cls, data: bytes, h: HashFunc = sha256, *, on_node: NodeVisitor | None = None) -> CompactRange:
        """Resume from :meth:`to_bytes` output; raises ``ValueError`` if it is malformed."""
        if len(data) < 8:
            raise ValueError("compact range data is shorter than its 8-byte size")
        size = int.from_bytes(data[:8], "big")
        body = data[8:]
        if len(body) != HASH_SIZE * size.bit_count():
            raise ValueError(f"compact range of size {size} needs {size.bit_count()} hashes")
        nodes = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
        return cls(h, size=size, nodes=nodes, on_node=on_node)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompactRange):
            return NotImplemented
        return self._size == other._size and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


def inclusion_proof(leaf_index: int, tree_size: int, get_node: NodeGetter, *, h: HashFunc = sha256) -> list[bytes]:
    """Audit path PATH(leaf_index, D[0:tree_size]) of RFC 9162 §2.1.3.1, leaf end first.

    Makes O(log n) ``get_node`` calls. Raises ``ValueError`` unless ``0 <= leaf_index < tree_size``.
    """
    _require_size(leaf_index, "leaf_index")
    _require_size(tree_size, "tree_size")
    if leaf_index >= tree_size:
        raise ValueError(f"leaf_index {leaf_index} is not in a tree of size {tree_size}")
    path: list[bytes] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = _split(end - start)
        if leaf_index < start + k:  # PATH(m, D[0:k]) : MTH(D[k:n])
            path.append(_range_root(start + k, end, get_node, h))
            end = start + k
        else:  # PATH(m - k, D[k:n]) : MTH(D[0:k])
            path.append(_range_root(start, start + k, get_node, h))
            start += k
    path.reverse()
    return path


def consistency_proof(first: int, second: int, get_node: NodeGetter, *, h: HashFunc = sha256) -> list[bytes]:
    """Consistency proof PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1.

    The RFC defines it for ``0 < first < second``; for ``first == 0`` or ``first == second`` there is nothing
    to prove and the proof is empty (see :func:`check_consistency`). Makes O(log n) ``get_node`` calls. Raises
    ``ValueError`` unless ``0 <= first <= second``.
    """
    _require_size(first, "first")
    _require_size(second, "second")
    if first > second:
        raise ValueError(f"first size {first} is larger than second size {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    start, end = 0, second
    whole = True  # SUBPROOF's flag b: the old tree is a whole subtree of the new one, so it is left out
    while True:
        if first == end:  # SUBPROOF(m, D[m], b): {} if b else {MTH(D[m])}
            if not whole:
                proof.append(_range_root(start, end, get_node, h))
            break
        k = _split(end - start)
        if first - start <= k:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
            proof.append(_range_root(start + k, end, get_node, h))
            end = start + k
        else:  # SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
            proof.append(_range_root(start, start + k, get_node, h))
            start += k
            whole = False
    proof.reverse()
    return proof


def root_from_inclusion_proof(
    leaf_hash: bytes, leaf_index: int, tree_size: int, proof: Sequence[bytes], *, h: HashFunc = sha256
) -> bytes:
    """The root an inclusion proof leads to: RFC 9162 §2.1.3.2 steps 1–4 and the ``sn == 0`` test of step 5.

    Raises :class:`InvalidProofError` if the index is outside the tree or the proof has the wrong length.
    """
    _require_size(leaf_index, "leaf_index", InvalidProofError)
    _require_size(tree_size, "tree_size", InvalidProofError)
    _require_hash(leaf_hash, "leaf hash")
    if leaf_index >= tree_size:  # step 1
        raise InvalidProofError(f"leaf_index {leaf_index} is not in a tree of size {tree_size}")
    fn, sn = leaf_index, tree_size - 1  # step 2
    r = leaf_hash  # step 3
    for p in proof:  # step 4
        _require_hash(p, "proof entry")
        if sn == 0:  # 4a
            raise InvalidProofError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:  # 4b
            r = h(_NODE_PREFIX + p + r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(_NODE_PREFIX + r + p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5
        raise InvalidProofError("inclusion proof is shorter than the path to the root")
    return r


def check_inclusion(
    leaf_hash: bytes,
    leaf_index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root_hash: bytes,
    *,
    h: HashFunc = sha256,
) -> None:
    """Verify an inclusion proof per RFC 9162 §2.1.3.2; raise :class:`InvalidProofError` if it fails."""
    _require_hash(root_hash, "root hash")
    if root_from_inclusion_proof(leaf_hash, leaf_index, tree_size, proof, h=h) != root_hash:
        raise InvalidProofError("inclusion proof leads to a different root hash")


def verify_inclusion(
    leaf_hash: bytes,
    leaf_index: int,
    tree_size: int,
    proof: Sequence[bytes],
    root_hash: bytes,
    *,
    h: HashFunc = sha256,
) -> bool:
    """True if ``proof`` shows the leaf at ``leaf_index`` in the tree of ``tree_size`` with ``root_hash``."""
    try:
        check_inclusion(leaf_hash, leaf_index, tree_size, proof, root_hash, h=h)
    except InvalidProofError:
        return False
    return True


def check_consistency(
    first: int,
    first_hash: bytes,
    second: int,
    second_hash: bytes,
    proof: Sequence[bytes],
    *,
    h: HashFunc = sha256,
) -> None:
    """Verify that the tree (``second``, ``second_hash``) extends (``first``, ``first_hash``).

    For ``0 < first < second`` this is RFC 9162 §2.1.4.2 step by step. The RFC defines proofs only for that
    case; the edge cases follow its definitions: ``first == second`` needs an empty proof and equal hashes,
    and ``first == 0`` needs an empty proof and ``first_hash`` equal to the empty-tree hash ``H(b"")``.
    Raises :class:`InvalidProofError` naming the failed check.
    """
    _require_size(first, "first", InvalidProofError)
    _require_size(second, "second", InvalidProofError)
    _require_hash(first_hash, "first hash")
    _require_hash(second_hash, "second hash")
    for p in proof:
        _require_hash(p, "proof entry")
    if first > second:
        raise InvalidProofError(f"first size {first} is larger than second size {second}")
    if first == second:
        if proof:
            raise InvalidProofError("a consistency proof between equal sizes must be empty")
        if first_hash != second_hash:
            raise InvalidProofError("two tree heads of the same size have different root hashes")
        return
    if first == 0:
        if proof:
            raise InvalidProofError("a consistency proof from the empty tree must be empty")
        if first_hash != empty_root(h):
            raise InvalidProofError("the first hash is not the empty-tree hash")
        return
    if not proof:  # step 1
        raise InvalidProofError("consistency proof is empty")
    path = list(proof)
    if first & (first - 1) == 0:  # step 2
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            raise InvalidProofError("consistency proof is longer than needed")
        if fn & 1 or fn == sn:  # 6b
            fr = h(_NODE_PREFIX + c + fr)
            sr = h(_NODE_PREFIX + c + sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h(_NODE_PREFIX + sr + c)
        fn >>= 1  # 6c
        sn >>= 1
    if sn != 0:  # step 7
        raise InvalidProofError("consistency proof is shorter than needed")
    if fr != first_hash:
        raise InvalidProofError("consistency proof does not lead to the first root hash")
    if sr != second_hash:
        raise InvalidProofError("consistency proof does not lead to the second root hash")


def verify_consistency(
    first: int,
    first_hash: bytes,
    second: int,
    second_hash: bytes,
    proof: Sequence[bytes],
    *,
    h: HashFunc = sha256,
) -> bool:
    """True if ``proof`` shows the tree (``second``, ``second_hash``) extends (``first``, ``first_hash``)."""
    try:
        check_consistency(first, first_hash, second, second_hash, proof, h=h)
    except InvalidProofError:
        return False
    return True


class MemoryTree:
    """A whole tree in memory (every level kept), for tests, tools and small logs.

    Appends in amortised O(1); ``get_node`` is O(1); roots and proofs for any past size are O(log n). Storage
    can mirror it: ``levels[k][i]`` is the node over leaves ``[i * 2**k, (i + 1) * 2**k)``.
    """

    __slots__ = ("_h", "_levels")

    def __init__(self, leaf_hashes: Iterable[bytes] = (), *, h: HashFunc = sha256) -> None:
        """A tree holding ``leaf_hashes`` (already leaf-hashed), in order."""
        self._h = _checked_hash_func(h)
        self._levels: list[list[bytes]] = [[]]
        for item in leaf_hashes:
            self.append(item)

    @property
    def size(self) -> int:
        """Number of leaves."""
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> int:
        """Append one leaf hash; return its index."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"a leaf hash must be {HASH_SIZE} bytes")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(leaf_hash)
        i, level = index, 0
        while i & 1:
            row = levels[level]
            if len(levels) == level + 1:
                levels.append([])
            levels[level + 1].append(self._h(_NODE_PREFIX + row[i - 1] + row[i]))
            i >>= 1
            level += 1
        return index

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self._levels[0][index]

    def get_node(self, start: int, end: int) -> bytes:
        """Hash of the perfect aligned subtree over ``[start, end)``; ``ValueError`` for any other range."""
        n = end - start
        if n <= 0 or n & (n - 1) or start % n or start < 0 or end > self.size:
            raise ValueError(f"[{start}, {end}) is not a complete aligned subtree of a tree of size {self.size}")
        height = n.bit_length() - 1
        return self._levels[height][start >> height]

    def _size_or_current(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is outside 0..{self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        """Root hash at ``size`` leaves (default: all)."""
        return root_at(self._size_or_current(size), self.get_node, h=self._h)

    def inclusion_proof(self, leaf_index: int, tree_size: int | None = None) -> list[bytes]:
        """Audit path for ``leaf_index`` in the tree of ``tree_size`` leaves (default: all)."""
        return inclusion_proof(leaf_index, self._size_or_current(tree_size), self.get_node, h=self._h)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """Consistency proof from size ``first`` to size ``second`` (default: all)."""
        return consistency_proof(first, self._size_or_current(second), self.get_node, h=self._h)

    def compact_range(self, size: int | None = None) -> CompactRange:
        """The :class:`CompactRange` of the first ``size`` leaves (default: all)."""
        n = self._size_or_current(size)
        nodes = [self.get_node(start, end) for start, end in perfect_subtrees(n)]
        return CompactRange(self._h, size=n, nodes=nodes)
