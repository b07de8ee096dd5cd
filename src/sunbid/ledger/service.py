"""The transparency log on the database: append, sign heads, prove, verify.

Entries are appended inside the caller's transaction (the unit of work). The single ``ledger_state`` row is
locked for the rest of that transaction (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers), so indices are gap-free and the frontier stays consistent. When the transaction
finishes, the new tree head is signed and stored with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sunbid.core.errors import Conflict, NotFound, ValidationFailed
from sunbid.ledger import merkle
from sunbid.ledger.audit import body_of_row
from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.heads import SignedTreeHead, TreeHead, sign_tree_head, verify_tree_head
from sunbid.ledger.models import AuditEvent, LedgerEntry, LedgerState, SignedHead

HashFn = Callable[[bytes], bytes]


@dataclass(frozen=True)
class LogKey:
    """The log's signing key (private half only in the serving process) and how to verify it."""

    suite: str
    fingerprint: str
    sign: Callable[[bytes], bytes]
    verify: Callable[[bytes, bytes], bool]


@dataclass
class Problem:
    """One thing ``verify`` found wrong, named so that an auditor can find it."""

    what: str  # ledger_entry | audit_event | signed_head | state
    id: int | str
    code: str
    message_zh: str
    message_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "id": self.id,
            "code": self.code,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass
class VerifyReport:
    ok: bool = True
    tree_size: int = 0
    entries_checked: int = 0
    heads_checked: int = 0
    audit_events_checked: int = 0
    root_hash: str | None = None
    problems: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem) -> None:
        self.ok = False
        if len(self.problems) < 1000:
            self.problems.append(problem)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "tree_size": self.tree_size,
            "entries_checked": self.entries_checked,
            "heads_checked": self.heads_checked,
            "audit_events_checked": self.audit_events_checked,
            "root_hash": self.root_hash,
            "problems": [p.as_dict() for p in self.problems],
        }


def head_to_dict(h: SignedHead) -> dict[str, Any]:
    return {
        "tree_size": h.tree_size,
        "root_hash": h.root_hash.hex(),
        "timestamp_ms": h.timestamp_ms,
        "log_id": h.log_id,
        "suite": h.suite,
        "key_fingerprint": h.key_fingerprint,
        "signature": h.signature.hex(),
    }


def _sth_of_row(h: SignedHead) -> SignedTreeHead:
    return SignedTreeHead(
        head=TreeHead(tree_size=h.tree_size, root_hash=h.root_hash, timestamp_ms=h.timestamp_ms, log_id=h.log_id),
        signature=h.signature,
        key_fingerprint=h.key_fingerprint,
        suite=h.suite,
    )


class Ledger:
    """The platform's transparency log."""

    def __init__(self, *, hash_fn: HashFn, hash_name: str, key: LogKey, log_id: str, now_ms: Callable[[], int]):
        self.hash_fn = hash_fn
        self.hash_name = hash_name
        self.key = key
        self.log_id = log_id
        self.now_ms = now_ms

    # --- writing -----------------------------------------------------------------------------------------

    def begin(self, session: Session) -> LedgerTransaction:
        """Lock the log state for this transaction and return an appender."""
        return LedgerTransaction(self, session)

    # --- reading -----------------------------------------------------------------------------------------

    def latest_head(self, session: Session) -> SignedHead | None:
        return session.scalar(select(SignedHead).order_by(SignedHead.tree_size.desc()).limit(1))

    def head_at(self, session: Session, tree_size: int) -> SignedHead:
        head = session.get(SignedHead, tree_size)
        if head is None:
            raise NotFound(
                "log.head_not_found",
                f"没有树大小为 {tree_size} 的签名树头",
                f"no signed tree head of size {tree_size}",
            )
        return head

    def size(self, session: Session) -> int:
        state = session.get(LedgerState, 1)
        return 0 if state is None else state.tree_size

    def entry(self, session: Session, index: int) -> LedgerEntry:
        row = session.get(LedgerEntry, index)
        if row is None:
            raise NotFound("log.entry_not_found", f"日志条目 {index} 不存在", f"log entry {index} does not exist")
        return row

    def _leaf_hashes(self, session: Session, start: int, end: int) -> list[bytes]:
        rows = session.execute(
            select(LedgerEntry.leaf_hash)
            .where(LedgerEntry.index >= start, LedgerEntry.index < end)
            .order_by(LedgerEntry.index)
        ).scalars()
        return list(rows)

    def _node_getter(self, session: Session, size: int) -> Callable[[int, int], bytes]:
        leaves = self._leaf_hashes(session, 0, size)
        if len(leaves) != size:
            raise Conflict("log.incomplete", "日志条目不完整", "the log is missing entries")

        h = self.hash_fn
        memo: dict[tuple[int, int], bytes] = {}

        def get_node(start: int, end: int) -> bytes:
            # Perfect subtrees only (the proof builders ask for nothing else); memoised, so many proofs over
            # one tree cost at most one hash per node of it.
            if end - start == 1:
                return leaves[start]
            key = (start, end)
            node = memo.get(key)
            if node is None:
                mid = start + (end - start) // 2
                node = merkle.node_hash(h, get_node(start, mid), get_node(mid, end))
                memo[key] = node
            return node

        return get_node

    def _check_size(self, session: Session, tree_size: int) -> None:
        size = self.size(session)
        if tree_size < 0 or tree_size > size:
            raise ValidationFailed(
                "log.bad_size",
                f"树大小 {tree_size} 超出范围（当前 {size}）",
                f"tree size {tree_size} is out of range (current size {size})",
            )

    def inclusion_proof(self, session: Session, index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``tree_size`` leaves."""
        self._check_size(session, tree_size)
        if not 0 <= index < tree_size:
            raise ValidationFailed(
                "log.bad_index",
                f"条目序号 {index} 不在树大小 {tree_size} 内",
                f"leaf index {index} is not inside a tree of size {tree_size}",
            )
        return merkle.inclusion_proof(index, tree_size, self._node_getter(session, tree_size), h=self.hash_fn)

    def inclusion_proofs(self, session: Session, indices: list[int], tree_size: int) -> dict[int, list[bytes]]:
        """Inclusion proofs of many leaves in one tree, sharing the work (for archives)."""
        self._check_size(session, tree_size)
        bad = [i for i in indices if not 0 <= i < tree_size]
        if bad:
            raise ValidationFailed(
                "log.bad_index",
                f"条目序号 {bad[0]} 不在树大小 {tree_size} 内",
                f"leaf index {bad[0]} is not inside a tree of size {tree_size}",
            )
        get_node = self._node_getter(session, tree_size)
        return {i: merkle.inclusion_proof(i, tree_size, get_node, h=self.hash_fn) for i in indices}

    def consistency_proof(self, session: Session, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between tree sizes ``first`` ≤ ``second``."""
        self._check_size(session, second)
        if not 0 <= first <= second:
            raise ValidationFailed(
                "log.bad_range",
                f"一致性证明要求 0 ≤ {first} ≤ {second}",
                f"consistency proof needs 0 <= {first} <= {second}",
            )
        return merkle.consistency_proof(first, second, self._node_getter(session, second), h=self.hash_fn)

    def root_at(self, session: Session, tree_size: int) -> bytes:
        self._check_size(session, tree_size)
        return merkle.root_from_leaf_hashes(self._leaf_hashes(session, 0, tree_size), h=self.hash_fn)

    # --- verification ------------------------------------------------------------------------------------

    def verify(self, session: Session, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Recompute the whole tree from storage and check every entry, head and audit row."""
        report = VerifyReport()
        heads = list(session.scalars(select(SignedHead).order_by(SignedHead.tree_size)))
        head_iter = iter(heads)
        next_head = next(head_iter, None)
        rng = merkle.CompactRange(self.hash_fn)

        def check_heads_at(size: int) -> None:
            nonlocal next_head
            while next_head is not None and next_head.tree_size <= size:
                h = next_head
                report.heads_checked += 1
                if h.tree_size == size:
                    root = rng.root()
                    if root != h.root_hash:
                        report.add(
                            Problem(
                                "signed_head",
                                h.tree_size,
                                "log.head_root_mismatch",
                                f"树大小 {h.tree_size} 的签名树头根哈希与重新计算的不一致",
                                f"signed head {h.tree_size}: root differs from the recomputed root",
                            )
                        )
                    if not verify_tree_head(_sth_of_row(h), self.key.verify):
                        report.add(
                            Problem(
                                "signed_head",
                                h.tree_size,
                                "log.head_bad_signature",
                                f"树大小 {h.tree_size} 的签名树头签名无效",
                                f"signed head at size {h.tree_size}: the signature does not verify",
                            )
                        )
                next_head = next(head_iter, None)

        check_heads_at(0)
        expected = 0
        for idx, body, stored in self._stream_entries(session):
            if idx != expected:
                report.add(
                    Problem(
                        "ledger_entry",
                        expected,
                        "log.entry_missing",
                        f"日志条目 {expected} 缺失",
                        f"log entry {expected} is missing",
                    )
                )
                break
            leaf = merkle.leaf_hash(self.hash_fn, body)
            if leaf != stored:
                report.add(
                    Problem(
                        "ledger_entry",
                        idx,
                        "log.entry_altered",
                        f"日志条目 {idx} 的内容与其叶哈希不一致（已被篡改）",
                        f"log entry {idx}: its content does not match its leaf hash (altered)",
                    )
                )
            rng.append(leaf)
            expected += 1
            report.entries_checked += 1
            check_heads_at(expected)
            if progress is not None and expected % 10000 == 0:
                progress(expected)
        for h in [next_head, *head_iter]:
            if h is not None:
                report.add(
                    Problem(
                        "signed_head",
                        h.tree_size,
                        "log.head_beyond_log",
                        f"签名树头的大小 {h.tree_size} 超过日志条目数 {expected}",
                        f"signed head of size {h.tree_size} is beyond the {expected} stored entries",
                    )
                )
        state = session.get(LedgerState, 1)
        if state is not None and (state.tree_size != expected or state.frontier != frontier_state(rng)):
            report.add(
                Problem(
                    "state",
                    1,
                    "log.state_mismatch",
                    "日志状态（树大小或边界哈希）与条目不一致",
                    "the log state (size or frontier) does not match the entries",
                )
            )
        report.tree_size = expected
        report.root_hash = rng.root().hex()
        self._verify_audit(session, report)
        return report

    def _stream_entries(self, session: Session) -> Iterator[tuple[int, bytes, bytes]]:
        last = -1
        while True:
            rows = session.execute(
                select(LedgerEntry.index, LedgerEntry.body, LedgerEntry.leaf_hash)
                .where(LedgerEntry.index > last)
                .order_by(LedgerEntry.index)
                .limit(20000)
            ).all()
            if not rows:
                return
            for idx, body, leaf in rows:
                yield idx, bytes(body), bytes(leaf)
            last = rows[-1][0]

    def _verify_audit(self, session: Session, report: VerifyReport) -> None:
        last = 0
        while True:
            rows = session.execute(
                select(AuditEvent, LedgerEntry.body, LedgerEntry.kind)
                .join(LedgerEntry, LedgerEntry.index == AuditEvent.ledger_index, isouter=True)
                .where(AuditEvent.id > last)
                .order_by(AuditEvent.id)
                .limit(5000)
            ).all()
            if not rows:
                return
            for ev, body, kind in rows:
                report.audit_events_checked += 1
                try:
                    recomputed = body_of_row(ev)
                except (TypeError, ValueError):
                    recomputed = b""
                if body is None or kind != "audit" or bytes(body) != recomputed:
                    report.add(
                        Problem(
                            "audit_event",
                            ev.id,
                            "log.audit_altered",
                            f"审计事件 {ev.id} 与其日志条目 {ev.ledger_index} 不一致（已被篡改）",
                            f"audit event {ev.id} does not match its log entry {ev.ledger_index} (altered)",
                        )
                    )
            last = rows[-1][0].id
            session.expunge_all()


class LedgerTransaction:
    """Appends entries in one database transaction and signs the new head when it finishes."""

    def __init__(self, ledger: Ledger, session: Session) -> None:
        self.ledger = ledger
        self.session = session
        stmt = select(LedgerState).where(LedgerState.id == 1)
        if session.get_bind().dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        state = session.scalar(stmt)
        if state is None:
            state = LedgerState(id=1, tree_size=0, frontier=[], hash_name=ledger.hash_name)
            session.add(state)
            session.flush()
        elif state.hash_name != ledger.hash_name:
            raise Conflict(
                "log.hash_mismatch",
                f"日志使用 {state.hash_name} 哈希，不能改为 {ledger.hash_name}",
                f"the log uses {state.hash_name}; it cannot switch to {ledger.hash_name}",
            )
        self.state = state
        self.range = merkle.CompactRange(
            ledger.hash_fn, size=state.tree_size, nodes=[bytes.fromhex(x) for x in state.frontier]
        )
        self.appended = 0

    def append(self, kind: str, body: bytes | dict[str, Any]) -> int:
        """Append one entry; returns its index."""
        return self.append_many(kind, [body])[0]

    def append_many(self, kind: str, bodies: list[bytes] | list[dict[str, Any]] | list[Any]) -> list[int]:
        """Append entries in order with one INSERT; returns their indices."""
        h = self.ledger.hash_fn
        rng = self.range
        first = rng.size
        rows: list[tuple[int, str, bytes, bytes]] = []
        for b in bodies:
            data = b if isinstance(b, bytes) else canonical_json(b)
            leaf = merkle.leaf_hash(h, data)
            rows.append((rng.append(leaf), kind, data, leaf))
        if rows:
            conn = self.session.connection()
            if conn.dialect.name == "sqlite":
                # The hot path of every write: the driver's executemany skips SQLAlchemy's per-row work.
                conn.exec_driver_sql(
                    "INSERT INTO ledger_entries (idx, kind, body, leaf_hash) VALUES (?, ?, ?, ?)", rows
                )
            else:
                keys = ("idx", "kind", "body", "leaf_hash")
                conn.execute(insert(LedgerEntry), [dict(zip(keys, r, strict=True)) for r in rows])
            self.appended += len(rows)
        return list(range(first, first + len(rows)))

    def finish(self) -> SignedHead | None:
        """Store the new frontier and sign the new tree head (called by the unit of work before commit)."""
        if self.appended == 0:
            return None
        self.state.tree_size = self.range.size
        self.state.frontier = frontier_state(self.range)
        head = TreeHead(
            tree_size=self.range.size,
            root_hash=self.range.root(),
            timestamp_ms=self.ledger.now_ms(),
            log_id=self.ledger.log_id,
        )
        sth = sign_tree_head(
            head,
            self.ledger.key.sign,
            key_fingerprint=self.ledger.key.fingerprint,
            suite=self.ledger.key.suite,
        )
        row = SignedHead(
            tree_size=head.tree_size,
            root_hash=head.root_hash,
            timestamp_ms=head.timestamp_ms,
            log_id=head.log_id,
            suite=sth.suite,
            key_fingerprint=sth.key_fingerprint,
            signature=sth.signature,
        )
        self.session.add(row)
        self.appended = 0
        return row


def frontier_state(rng: merkle.CompactRange) -> list[str]:
    """The frontier as stored in ``ledger_state`` (hex strings, left to right)."""
    return [n.hex() for n in rng.nodes]
