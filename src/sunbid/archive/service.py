"""Log material for archives from the database: entries, their inclusion proofs and the signed head.

Independent of projects: a project service picks the ledger indices of its documents and records, calls
:func:`collect_log_material`, and passes the result with its files to
:func:`~sunbid.archive.package.build_archive`. :func:`build_log_archive` does this for log entries alone
(``sunbid archive build-log``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from sunbid.archive.package import ArchiveEntry, LogInfo, Subject, build_archive
from sunbid.core.errors import Conflict, IntegrityFailure, ValidationFailed
from sunbid.ledger import merkle
from sunbid.ledger.heads import SignedTreeHead, verify_tree_head
from sunbid.ledger.service import Ledger, head_to_dict

__all__ = ["LogMaterial", "build_log_archive", "collect_log_material"]


class LogMaterial(NamedTuple):
    """Entries with inclusion proofs, all to ``head`` (the latest signed tree head)."""

    entries: list[ArchiveEntry]
    head: SignedTreeHead


def _inconsistent(index: int, what_zh: str, what_en: str) -> IntegrityFailure:
    return IntegrityFailure(
        "archive.log_inconsistent",
        f"日志条目 {index} 校验失败：{what_zh}。请运行 sunbid log verify",
        f"log entry {index} fails verification: {what_en}. Run sunbid log verify",
        details={"index": index},
    )


def collect_log_material(session: Session, ledger: Ledger, indices: Iterable[int]) -> LogMaterial:
    """The latest signed head and, for each of ``indices`` (deduplicated, ascending), the entry and its proof.

    Every piece is checked before it is returned (leaf hash of the stored body, proof to the head's root,
    head signature), so a tampered database gives :class:`~sunbid.core.errors.IntegrityFailure` here rather
    than an archive that fails later. Raises ``archive.log_empty`` if no head has been signed yet and
    ``archive.index_out_of_range`` for an index the head does not cover.
    """
    row = ledger.latest_head(session)
    if row is None:
        raise Conflict(
            "archive.log_empty",
            "透明日志为空，尚无签名树头",
            "the transparency log is empty: no tree head has been signed yet",
        )
    head = SignedTreeHead.from_dict(head_to_dict(row))
    if not verify_tree_head(head, ledger.key.verify):
        raise IntegrityFailure(
            "archive.head_bad_signature",
            f"树大小 {head.head.tree_size} 的签名树头签名无效",
            f"the signed tree head of size {head.head.tree_size} does not verify",
        )
    size = head.head.tree_size
    wanted = sorted(set(indices))
    for index in wanted:
        if not 0 <= index < size:
            raise ValidationFailed(
                "archive.index_out_of_range",
                f"日志条目序号 {index} 不在 0–{size - 1} 范围内",
                f"log entry index {index} is not within 0-{size - 1}",
                details={"index": index, "tree_size": size},
            )
    entries: list[ArchiveEntry] = []
    proofs = ledger.inclusion_proofs(session, wanted, size)
    for index in wanted:
        entry = ledger.entry(session, index)
        body, leaf = bytes(entry.body), bytes(entry.leaf_hash)
        if merkle.leaf_hash(ledger.hash_fn, body) != leaf:
            raise _inconsistent(index, "内容与叶哈希不符", "its body does not match its leaf hash")
        proof = proofs[index]
        if not merkle.verify_inclusion(leaf, index, size, proof, head.head.root_hash, h=ledger.hash_fn):
            raise _inconsistent(index, "包含证明不能推出签名树头的根", "its proof does not lead to the signed root")
        entries.append(ArchiveEntry(index=index, body=body, leaf_hash=leaf, inclusion_proof=tuple(proof)))
    return LogMaterial(entries, head)


def build_log_archive(
    session: Session,
    ledger: Ledger,
    log_info: LogInfo,
    indices: Iterable[int],
    *,
    created_at: datetime,
) -> bytes:
    """An archive of the chosen log entries only (no files), for auditors and end-to-end checks."""
    material = collect_log_material(session, ledger, indices)
    shown = ", ".join(str(e.index) for e in material.entries[:20])
    more = " …" if len(material.entries) > 20 else ""
    subject = Subject(kind="log", code=log_info.log_id, name=f"透明日志条目 {shown}{more}")
    return build_archive([], material.entries, material.head, log_info, subject, created_at=created_at)
