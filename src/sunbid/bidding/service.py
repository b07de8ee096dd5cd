"""Bid submission (SPEC B-3): resumable uploads of sealed containers, commit, withdraw and replace.

Protocol (tus-like, documented in ``bidding/api.py``): a bidder opens an upload session declaring the length
and the container hash, appends chunks at the offset the server reports, and completes it. Chunks go to a
spool file under ``<data_dir>/uploads`` (written, fsynced, then the offset is recorded in the database, so a
crash never acknowledges bytes that are not on disk). Completion checks the container without keys, judges the
deadline by the server clock at that moment (strictly before ``bid_deadline``), stores the container, records
the bid, appends its hash to the transparency log and keeps the project's ``bids_received`` fact in step.

Before opening, nobody but the bidder may learn who bid: the log entries of submissions and withdrawals carry
no actor identity, only a salted commitment to the bidder (see :mod:`sunbid.bidding.receipts`).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from sunbid.bidding.container import MAX_BID_SIZE, check_container
from sunbid.bidding.models import Bid, BidUpload
from sunbid.bidding.receipts import bidder_commitment
from sunbid.core.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from sunbid.identity.domain import Role
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.platform.secrets import fsync_dir
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section
from sunbid.projects.timing import project_facts

#: Outbox topic: complete an upload made whole in time (see :func:`complete_upload_system`).
COMPLETE_TOPIC = "bid.complete"
#: Largest chunk one PATCH may carry.
MAX_CHUNK = 16 * 1024 * 1024
#: Largest container accepted (plaintext ceiling plus generous room for frame overhead and header).
MAX_CONTAINER = MAX_BID_SIZE + MAX_BID_SIZE // 1024 + 1024 * 1024
_HEX64 = re.compile(r"[0-9a-f]{64}")

#: Checks other features add later (deposit/guarantee status, credit restrictions): each returns a refusal or None.
EligibilityCheck = Callable[[UnitOfWork, Project, Section, Organisation], DomainError | None]
ELIGIBILITY_CHECKS: list[EligibilityCheck] = []

#: What the opening record shows as a bidder's deposit status (保证金状态), filled in by the deposits feature:
#: each provider returns ``(code, label_zh, label_en)`` — e.g. ``("paid", "已缴纳", "paid")``, ``("guarantee",
#: "电子保函", "guarantee")``, ``("missing", "未缴纳", "not paid")`` — or None when it has nothing to say. The
#: providers answer only "is this bidder's deposit in order"; before opening nobody else may ask.
DepositStatus = Callable[[UnitOfWork, Project, Section, Organisation], tuple[str, str, str] | None]
DEPOSIT_STATUS_PROVIDERS: list[DepositStatus] = []

NO_DEPOSIT_STATUS = ("not_checked", "未接入保证金系统", "not checked")


def deposit_status(uow: UnitOfWork, project: Project, section: Section, org: Organisation) -> tuple[str, str, str]:
    """The first provider's answer, or :data:`NO_DEPOSIT_STATUS` when no provider knows."""
    for provider in DEPOSIT_STATUS_PROVIDERS:
        answer = provider(uow, project, section, org)
        if answer is not None:
            return answer
    return NO_DEPOSIT_STATUS


# --- errors ------------------------------------------------------------------------------------------------


def _upload_not_found(upload_id: int) -> NotFound:
    return NotFound("bid.upload_not_found", f"上传 {upload_id} 不存在。", f"Upload {upload_id} not found.")


def _bid_not_found(bid_id: int) -> NotFound:
    return NotFound("bid.not_found", f"投标 {bid_id} 不存在。", f"Bid {bid_id} not found.")


def offset_mismatch(current: int) -> Conflict:
    """A chunk sent at the wrong offset: the client resumes from ``details.offset``."""
    return Conflict(
        "bid.offset_mismatch",
        f"上传偏移量不符，服务器已收到 {current} 字节，请从此处续传。",
        f"Upload offset mismatch: the server holds {current} bytes; resume from there.",
        details={"offset": current},
    )


# --- who may bid ---------------------------------------------------------------------------------------------


def bidder_org_ids(actor: Actor, project: Project, now: datetime) -> list[int]:
    """The organisations for which ``actor`` holds a bidder membership valid now and for this project."""
    out: list[int] = []
    for m in actor.principal.memberships:
        if m.role is not Role.BIDDER:
            continue
        if m.project_ids is not None and str(project.id) not in m.project_ids:
            continue
        if (m.valid_from is not None and now < m.valid_from) or (m.valid_until is not None and now >= m.valid_until):
            continue
        out.append(int(m.org_id))
    return sorted(set(out))


def _choose_org(uow: UnitOfWork, actor: Actor, project: Project, org_id: int | None) -> Organisation:
    allowed = bidder_org_ids(actor, project, uow.now)
    if org_id is None:
        org_id = actor.org_id if actor.org_id in allowed else (allowed[0] if allowed else None)
    if org_id is None or org_id not in allowed:
        raise Forbidden("bid.not_a_bidder", "只有投标人可以递交投标文件。", "Only a bidder may submit a bid.")
    org = uow.session.get(Organisation, org_id)
    if org is None:  # pragma: no cover - memberships point at existing organisations
        raise Forbidden("bid.not_a_bidder", "只有投标人可以递交投标文件。", "Only a bidder may submit a bid.")
    return org


def _section(uow: UnitOfWork, project: Project, code: str) -> Section:
    section = uow.session.scalar(select(Section).where(Section.project_id == project.id, Section.code == code))
    if section is None:
        raise NotFound("bid.section_not_found", f"标段 {code} 不存在。", f"Section {code} not found.")
    return section


def accepts_bids(project: Project, now: datetime) -> bool:
    """True while the project takes uploads and withdrawals: in ``bidding`` with its bid deadline still ahead."""
    deadline = project_facts(project, now).bid_deadline
    return project.state == "bidding" and deadline is not None and now < deadline


def _deadline(uow: UnitOfWork, project: Project) -> datetime:
    deadline = project_facts(project, uow.now).bid_deadline
    if project.state != "bidding" or deadline is None:
        raise Conflict("bid.not_open", "本项目当前不接受投标。", "This project does not accept bids now.")
    return deadline


def _late_after_close(uow: UnitOfWork, project: Project, section_id: int, what: str, at: datetime | None) -> None:
    """Raise the logged ``bid.deadline_passed`` if bidding has closed and ``at`` (default now) is past the deadline.

    Once the deadline passed and the project moved on (``opening`` and later; its open uploads expired), a chunk or
    a completion is refused for the same reason as one a millisecond late: ``bid.deadline_passed``, logged
    ``bid:late`` without naming the bidder. Otherwise (still bidding, suspended, no deadline yet) this returns.
    """
    deadline = project_facts(project, uow.now).bid_deadline
    moment = uow.now if at is None else at
    if deadline is None or moment < deadline or project.state in ("bidding", "suspended"):
        return
    section = uow.session.get(Section, section_id)
    assert section is not None
    raise _refuse_late(uow, project, section, what, deadline, moment)


def _open_deadline(
    uow: UnitOfWork, project: Project, section_id: int, what: str, at: datetime | None = None
) -> datetime:
    """The deadline of a project in ``bidding``; after bidding closed a late call is refused and logged
    (:func:`_late_after_close`); any other project not accepting bids answers ``bid.not_open``."""
    try:
        return _deadline(uow, project)
    except Conflict:
        _late_after_close(uow, project, section_id, what, at)
        raise


@contextmanager
def _sealed_identity(uow: UnitOfWork) -> Iterator[None]:
    """Audit without naming the actor: the log is public and must not tell who bid before opening."""
    saved = uow.ctx
    uow.ctx = replace(saved, user_id=None, org_id=None, actor_name=None, ip=None, user_agent=None)
    try:
        yield
    finally:
        uow.ctx = saved


def _refuse_late(
    uow: UnitOfWork, project: Project, section: Section, what: str, deadline: datetime, at: datetime | None = None
) -> Conflict:
    """Record the refusal (committed on its own) and return the error to raise."""
    at = uow.now if at is None else at
    uow.session.rollback()
    with _sealed_identity(uow):  # the log is public: a refusal tells the time, not who was late
        uow.audit(
            "bid:late",
            subject_type="project",
            subject_id=project.id,
            data={
                "project_code": project.code,
                "section": section.code,
                "what": what,
                "at": at.isoformat(timespec="microseconds"),
                "deadline": deadline.isoformat(timespec="microseconds"),
            },
        )
    uow.commit()
    return Conflict(
        "bid.deadline_passed",
        "投标截止时间已过，投标文件被拒收。",
        "The bid deadline has passed; the bid is refused.",
        details={"deadline": deadline.isoformat(timespec="microseconds"), "at": at.isoformat(timespec="microseconds")},
    )


# --- uploads -------------------------------------------------------------------------------------------------


def spool_path(uow: UnitOfWork, upload_id: int) -> Path:
    """Where an upload's bytes are appended (local disk under the data directory, whatever the storage)."""
    return uow.platform.settings.data_dir / "uploads" / f"{upload_id}.part"


def create_upload(
    uow: UnitOfWork,
    actor: Actor,
    project_id: int,
    section_code: str,
    *,
    length: int,
    container_hash: str,
    org_id: int | None = None,
) -> BidUpload:
    """Open an upload session for a bid on one section (bidders only, before the deadline)."""
    project = projects.get_project(uow, project_id)
    org = _choose_org(uow, actor, project, org_id)
    section = _section(uow, project, section_code)
    if uow.now >= _deadline(uow, project):
        raise Conflict("bid.deadline_passed", "投标截止时间已过。", "The bid deadline has passed.")
    if not 0 < length <= MAX_CONTAINER:
        raise ValidationFailed("bid.bad_length", "投标文件长度无效。", "Invalid container length.")
    if not _HEX64.fullmatch(container_hash):
        raise ValidationFailed(
            "bid.bad_hash", "投标文件哈希须为 64 位小写十六进制。", "The hash must be 64 lowercase hex."
        )
    upload = BidUpload(
        project_id=project.id,
        section_id=section.id,
        org_id=org.id,
        user_id=actor.user_id,
        declared_hash=container_hash,
        length=length,
        offset=0,
        status="open",
        created_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.add(upload)
    uow.session.flush()
    path = spool_path(uow, upload.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)
    return upload


def get_upload(
    uow: UnitOfWork,
    actor: Actor,
    upload_id: int,
    *,
    lock: bool = False,
    what: str | None = None,
    at: datetime | None = None,
) -> BidUpload:
    """An upload of the actor's own organisation (others get 404: existence is not revealed).

    With ``lock``, an expired upload is refused; ``what`` (``chunk`` / ``complete``) and ``at`` say what arrived
    when, so that one refused because bidding has closed is logged as late (:func:`_late_after_close`).
    """
    stmt = select(BidUpload).where(BidUpload.id == upload_id)
    if lock and uow.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    upload = uow.session.scalar(stmt)
    if upload is None:
        raise _upload_not_found(upload_id)
    project = projects.get_project(uow, upload.project_id)
    if upload.org_id not in bidder_org_ids(actor, project, uow.now):
        raise _upload_not_found(upload_id)
    if lock and upload.status == "expired":  # abandoned (see bidding.cleanup): its bytes are gone
        if what is not None:
            _late_after_close(uow, project, upload.section_id, what, at)
        raise Conflict(
            "bid.upload_expired",
            "该上传已过期作废，请重新上传投标文件。",
            "This upload has expired; upload the bid again.",
        )
    return upload


def append_chunk(
    uow: UnitOfWork, actor: Actor, upload_id: int, offset: int, data: bytes, *, received_at: datetime | None = None
) -> int:
    """Append ``data`` at ``offset``; returns the new offset.

    ``received_at`` is the server clock when the chunk's last byte arrived (the HTTP layer stamps it before the
    request waits for its turn to write); it defaults to now. A chunk received at or after the deadline is refused
    and logged. The chunk that makes the upload whole records ``final_chunk_at``: the moment the deadline is
    judged by at completion, so a bidder is never refused for the time the server took to write.

    A chunk at another offset than the server's is refused (409, ``details.offset``), except a re-sent range
    already stored with the same bytes, which is accepted without writing anything twice.
    """
    at = uow.now if received_at is None else min(received_at, uow.now)
    upload = get_upload(uow, actor, upload_id, lock=True, what="chunk", at=at)
    if upload.status != "open":
        raise Conflict("bid.upload_closed", "该上传已完成。", "This upload is already complete.")
    project = projects.get_project(uow, upload.project_id)
    deadline = _open_deadline(uow, project, upload.section_id, "chunk", at)
    if at >= deadline:
        section = uow.session.get(Section, upload.section_id)
        assert section is not None
        raise _refuse_late(uow, project, section, "chunk", deadline, at)
    current = upload.offset
    if offset > current or offset < 0:
        raise offset_mismatch(current)
    path = spool_path(uow, upload.id)
    fd = os.open(path, os.O_RDWR)
    try:
        if os.fstat(fd).st_size > current:  # bytes written before a crash were never acknowledged
            os.ftruncate(fd, current)
        if offset < current:
            overlap = min(current - offset, len(data))
            if os.pread(fd, overlap, offset) != data[:overlap]:
                raise offset_mismatch(current)
            data = data[overlap:]
        if current + len(data) > upload.length:
            raise ValidationFailed(
                "bid.upload_too_long",
                "上传内容超过声明的长度。",
                "The upload exceeds its declared length.",
                details={"offset": current, "length": upload.length},
            )
        if data:
            os.pwrite(fd, data, current)
            os.fsync(fd)
    finally:
        os.close(fd)
    if data:
        upload.offset = current + len(data)
        upload.updated_at = uow.now
        if upload.offset == upload.length:
            upload.final_chunk_at = at
            # the bytes are all in: the bid is completed even if the bidder's complete never comes
            uow.enqueue(COMPLETE_TOPIC, {"upload_id": upload.id}, dedupe_key=f"bid-complete:{upload.id}")
    return upload.offset


# --- commit ------------------------------------------------------------------------------------------------


def _count_bidders(uow: UnitOfWork, project_id: int) -> int:
    uow.session.flush()
    stmt = select(func.count(func.distinct(Bid.org_id))).where(Bid.project_id == project_id, Bid.status == "submitted")
    return int(uow.session.scalar(stmt) or 0)


def _sync_bids_received(uow: UnitOfWork, project: Project, reason: str) -> None:
    count = _count_bidders(uow, project.id)
    if project_facts(project, uow.now).bids_received != count:
        projects.update_facts(uow, project.id, reason, bids_received=count)


def complete_upload(uow: UnitOfWork, actor: Actor, upload_id: int) -> Bid:
    """Commit the upload as a bid (idempotent: a completed upload returns its bid).

    The deadline is judged by the server clock at the moment the final chunk was received (``final_chunk_at``,
    see :func:`append_chunk`): an upload made whole before the deadline completes while bidding is still open
    (the close of bidding waits ``submission_settle_seconds`` for such completions); anything later is refused
    with ``bid.deadline_passed`` and the refusal is logged. The bid's ``received_at`` is that moment.
    """
    upload = get_upload(uow, actor, upload_id, lock=True, what="complete")
    return _commit_upload(uow, upload)


def complete_upload_system(uow: UnitOfWork, upload_id: int) -> Bid | None:
    """The platform completes an upload made whole in time that the bidder did not complete (idempotent).

    Run by the ``bid.complete`` job the final chunk enqueues: a bid whose every byte reached the server before
    the deadline is never lost because the bidder's tool died before calling complete. None if there is nothing
    to do (already completed, expired or not whole).
    """
    upload = _whole_upload(uow, upload_id)
    if upload is None:
        return None
    with _sealed_identity(uow):
        return _commit_upload(uow, upload)


def complete_in_time_upload(uow: UnitOfWork, upload_id: int) -> Bid | None:
    """Before the close of bidding, the platform completes an open upload whose final chunk came in time.

    Run by the pre-close hook (:func:`sunbid.bidding.tasks.complete_before_closing`), each upload inside its own
    savepoint of the close. Stricter than :func:`complete_upload_system`: None (nothing done) unless the upload is
    whole, still open and has the time of its final chunk — only uploads made whole in time, and never a refusal
    that would roll the caller back. A refusal of the bid itself (the container does not check …) is raised as
    there, for the caller's savepoint to undo.
    """
    upload = _whole_upload(uow, upload_id)
    if upload is None or upload.status != "open" or upload.final_chunk_at is None:
        return None
    with _sealed_identity(uow):
        return _commit_upload(uow, upload)


def _whole_upload(uow: UnitOfWork, upload_id: int) -> BidUpload | None:
    """The upload, locked, if every byte is in and it is open or completed (None otherwise)."""
    stmt = select(BidUpload).where(BidUpload.id == upload_id)
    if uow.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    upload = uow.session.scalar(stmt)
    if upload is None or upload.status not in ("open", "completed") or upload.offset != upload.length:
        return None
    return upload


def _commit_upload(uow: UnitOfWork, upload: BidUpload) -> Bid:
    if upload.status == "completed" and upload.bid_id is not None:
        bid = uow.session.get(Bid, upload.bid_id)
        assert bid is not None
        return bid
    received_at = upload.final_chunk_at or uow.now
    project = projects.get_project(uow, upload.project_id, lock=True)
    section = uow.session.get(Section, upload.section_id)
    org = uow.session.get(Organisation, upload.org_id)
    assert section is not None
    assert org is not None
    deadline = _open_deadline(uow, project, section.id, "complete")
    if received_at >= deadline:
        raise _refuse_late(uow, project, section, "complete", deadline, received_at)
    if upload.offset != upload.length:
        raise Conflict(
            "bid.upload_incomplete",
            f"上传尚未完成：已收到 {upload.offset} / {upload.length} 字节。",
            f"The upload is incomplete: {upload.offset} of {upload.length} bytes.",
            details={"offset": upload.offset, "length": upload.length},
        )
    path = spool_path(uow, upload.id)
    suite = uow.platform.suite
    with path.open("rb") as f:
        check = check_container(f, suite)
    header = check.header
    if check.container_hash != upload.declared_hash:
        raise ValidationFailed("bid.hash_mismatch", "投标文件哈希与声明不符。", "The container hash does not match.")
    if (header.project_code, header.section_code, header.bidder_uscc) != (project.code, section.code, org.uscc):
        raise ValidationFailed(
            "bid.header_mismatch",
            "投标文件所载项目、标段或投标人与本次递交不符。",
            "The container names another project, section or bidder.",
        )
    from sunbid.opening.service import check_container_key

    check_container_key(uow, section, header)  # sealed to the section's published opening key and context
    for eligibility in ELIGIBILITY_CHECKS:
        refusal = eligibility(uow, project, section, org)
        if refusal is not None:
            raise refusal
    key = f"bids/{project.id}/{section.id}/{upload.id}-{check.container_hash[:16]}.sbid"
    uow.platform.storage.put_file(key, path)  # streamed: a 100 MB bid is never held in memory
    previous = uow.session.scalars(
        select(Bid).where(Bid.section_id == section.id, Bid.org_id == org.id, Bid.status == "submitted")
    ).all()
    salt = secrets.token_hex(16)
    bid = Bid(
        project_id=project.id,
        section_id=section.id,
        org_id=org.id,
        upload_id=upload.id,
        container_hash=check.container_hash,
        size=upload.length,
        storage_key=key,
        received_at=received_at,
        status="submitted",
        ledger_index=-1,
        bidder_salt=salt,
    )
    uow.session.add(bid)
    uow.session.flush()
    with _sealed_identity(uow):
        event = uow.audit(
            "bid:submit",
            subject_type="section",
            subject_id=section.id,
            data={
                "project_code": project.code,
                "section": section.code,
                "container_hash": check.container_hash,
                "hash": suite.hash_name,
                "size": upload.length,
                "received_at": received_at.isoformat(timespec="microseconds"),
                "bidder_commitment": bidder_commitment(suite, salt, org.uscc),
                "replaces": [p.container_hash for p in previous],
            },
        )
        bid.ledger_index = event.ledger_index
        for p in previous:
            p.status = "replaced"
            p.replaced_by_id = bid.id
        upload.status = "completed"
        upload.bid_id = bid.id
        upload.updated_at = received_at
        _sync_bids_received(uow, project, "bid submitted")
    return bid


def cleanup_spool(uow: UnitOfWork, upload_id: int) -> None:
    """Remove the spool file of a completed upload (call after commit; the stored container is the record)."""
    spool_path(uow, upload_id).unlink(missing_ok=True)


# --- bids ----------------------------------------------------------------------------------------------------


def get_bid(uow: UnitOfWork, actor: Actor, bid_id: int) -> Bid:
    """A bid of the actor's own organisation (anyone else gets 404, the operator and tenderer included)."""
    bid = uow.session.get(Bid, bid_id)
    if bid is None:
        raise _bid_not_found(bid_id)
    project = projects.get_project(uow, bid.project_id)
    if bid.org_id not in bidder_org_ids(actor, project, uow.now):
        raise _bid_not_found(bid_id)
    return bid


def own_bids(uow: UnitOfWork, actor: Actor, project_id: int) -> list[Bid]:
    """The actor's organisations' bids on a project (nobody sees anyone else's before opening)."""
    project = projects.get_project(uow, project_id)
    orgs = bidder_org_ids(actor, project, uow.now)
    if not orgs:
        return []
    stmt = select(Bid).where(Bid.project_id == project_id, Bid.org_id.in_(orgs)).order_by(Bid.id)
    return list(uow.session.scalars(stmt))


def withdraw_bid(uow: UnitOfWork, actor: Actor, bid_id: int) -> Bid:
    """Withdraw a submitted bid before the deadline (logged without naming the bidder)."""
    bid = get_bid(uow, actor, bid_id)
    project = projects.get_project(uow, bid.project_id, lock=True)
    section = uow.session.get(Section, bid.section_id)
    assert section is not None
    if bid.status != "submitted":
        raise Conflict("bid.not_submitted", "该投标已撤回或已被替换。", "This bid was already withdrawn or replaced.")
    deadline = _deadline(uow, project)
    if uow.now >= deadline:
        raise _refuse_late(uow, project, section, "withdraw", deadline)
    bid.status = "withdrawn"
    bid.withdrawn_at = uow.now
    with _sealed_identity(uow):
        uow.audit(
            "bid:withdraw",
            subject_type="section",
            subject_id=section.id,
            data={"project_code": project.code, "section": section.code, "container_hash": bid.container_hash},
        )
        _sync_bids_received(uow, project, "bid withdrawn")
    return bid
