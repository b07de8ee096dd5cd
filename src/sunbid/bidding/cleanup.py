"""Abandoned bid uploads: expire open sessions that can no longer complete and remove their spool files.

An upload session that is still ``open`` is abandoned when its project has left the bidding period (the bid
deadline passed and bidding closed, or the project failed or was terminated), when the deadline has passed on
the server clock, or when nobody appended a chunk for longer than the idle limit. It becomes ``expired``: its
spool file under ``<data_dir>/uploads`` is deleted (after the commit, so a rolled-back transaction never loses a
live upload's bytes) and each expiry is audited without naming the bidder, like every other bid event before
opening. The spool files of completed uploads (left behind by a crash between the commit and the clean-up the
API does) are removed as well: the stored container is the record.

Two callers: a lifecycle transition hook, run in the transaction that moves a project out of ``bidding``
(registered by the platform container), and the admin command ``sunbid db cleanup-uploads``.
A suspended project keeps its open uploads: bidding may resume.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from sunbid.bidding.models import BidUpload
from sunbid.bidding.service import _sealed_identity, spool_path
from sunbid.core.errors import ValidationFailed
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project, Section
from sunbid.projects.timing import project_facts

#: An open upload nobody appended to for this long is abandoned (even before the deadline).
UPLOAD_IDLE_LIMIT = timedelta(hours=24)
#: States in which an open upload may still be completed later.
_KEEP_OPEN_STATES = frozenset({"bidding", "suspended"})


@dataclass
class CleanupReport:
    """What one clean-up did: the uploads expired (by reason) and the spool files removed."""

    expired: list[int] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    spool_removed: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "expired": len(self.expired),
            "expired_upload_ids": list(self.expired),
            "reasons": dict(sorted(self.reasons.items())),
            "spool_removed": self.spool_removed,
        }


def abandoned_reason(
    project_state: str, deadline: datetime | None, updated_at: datetime, now: datetime, idle: timedelta
) -> str | None:
    """Why an open upload is abandoned at ``now`` (``bidding_closed``, ``deadline_passed``, ``idle``), or None."""
    if project_state not in _KEEP_OPEN_STATES:
        return "bidding_closed"
    if project_state == "bidding" and deadline is not None and now >= deadline:
        return "deadline_passed"
    if now - updated_at > idle:
        return "idle"
    return None


def _expire(uow: UnitOfWork, upload: BidUpload, project: Project, reason: str, report: CleanupReport) -> None:
    section = uow.session.get(Section, upload.section_id)
    upload.status = "expired"
    upload.updated_at = uow.now
    with _sealed_identity(uow):
        uow.audit(
            "bid:upload_expire",
            subject_type="section",
            subject_id=upload.section_id,
            data={
                "project_code": project.code,
                "section": section.code if section is not None else None,
                "upload_id": upload.id,
                "reason": reason,
            },
        )
    report.expired.append(upload.id)
    report.reasons[reason] = report.reasons.get(reason, 0) + 1


def _remove_spools_after_commit(uow: UnitOfWork, upload_ids: list[int], report: CleanupReport) -> None:
    paths = [spool_path(uow, uid) for uid in upload_ids]

    def remove() -> None:
        for path in paths:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            report.spool_removed += 1

    uow.after_commit(remove)


def expire_uploads(
    uow: UnitOfWork,
    *,
    project_id: int | None = None,
    idle: timedelta = UPLOAD_IDLE_LIMIT,
) -> CleanupReport:
    """Expire the abandoned open uploads (of one project, or all) and remove spool files that are no longer needed.

    The database changes are the caller's to commit; the spool files go after the commit. The returned report's
    ``spool_removed`` is filled in then.
    """
    if idle <= timedelta(0):
        raise ValidationFailed("bid.bad_idle_limit", "空闲时限须大于零。", "The idle limit must be positive.")
    now = uow.now
    settle = timedelta(seconds=uow.platform.settings.submission_settle_seconds)
    report = CleanupReport()
    stmt = select(BidUpload).where(BidUpload.status == "open").order_by(BidUpload.id)
    if project_id is not None:
        stmt = stmt.where(BidUpload.project_id == project_id)
    dialect = uow.session.get_bind().dialect.name
    if dialect != "sqlite":
        stmt = stmt.with_for_update(skip_locked=True)  # an upload being appended to right now is not abandoned
    projects: dict[int, Project] = {}
    for upload in uow.session.scalars(stmt).all():
        project = projects.get(upload.project_id)
        if project is None:
            project = uow.session.get(Project, upload.project_id)
            assert project is not None  # a foreign key
            projects[upload.project_id] = project
        deadline = project_facts(project, now).bid_deadline
        if upload.offset == upload.length and upload.final_chunk_at is not None:
            continue  # every byte is in: a bid the platform completes (bid.complete), never an abandoned upload
        # chunks received before the deadline may still be queued for writing during the settling time
        reason = abandoned_reason(project.state, deadline, upload.updated_at, now - settle, idle)
        if reason is not None:
            _expire(uow, upload, project, reason, report)
    uow.session.flush()
    leftovers = select(BidUpload.id).where(BidUpload.status != "open")
    if project_id is not None:
        leftovers = leftovers.where(BidUpload.project_id == project_id)
    candidates = [uid for uid in uow.session.scalars(leftovers) if spool_path(uow, uid).exists()]
    _remove_spools_after_commit(uow, sorted(set(report.expired) | set(candidates)), report)
    return report


def expire_when_bidding_closes(uow: UnitOfWork, project: Project, from_state: str, to_state: str, action: str) -> None:
    """Lifecycle hook: when a project leaves ``bidding`` (except into suspension), expire its open uploads."""
    if from_state == "bidding" and to_state not in _KEEP_OPEN_STATES:
        expire_uploads(uow, project_id=project.id)
