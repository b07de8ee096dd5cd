"""One-click electronic archive of a project (电子档案一键归集, SPEC C-2).

Every document of the project, its step history, the contract signatures and the transparency-log entries of
everything that happened to it, each with an inclusion proof to one signed tree head — in one zip that
``sunbid archive verify`` checks offline. The archive's own SHA-256 is then recorded in the log.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sunbid.archive.package import ArchiveFile, LogInfo, Subject, build_archive
from sunbid.archive.service import collect_log_material
from sunbid.core.clock import to_local
from sunbid.core.errors import Conflict
from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.models import AuditEvent
from sunbid.platform.context import RequestContext
from sunbid.projects.models import ContractSignature, Project, ProjectDocument, ProjectEvent

if TYPE_CHECKING:
    from sunbid.platform.container import Platform
    from sunbid.platform.uow import UnitOfWork

log = logging.getLogger("sunbid.projects")
BUILD_TOPIC = "project.build_archive"
_SAFE = str.maketrans(dict.fromkeys('/\\:*?"<>|', "_"))


def archive_key(project: Project) -> str:
    return f"archives/{project.code}.zip"


def build_project_archive(platform: Platform, project_id: int) -> bytes:
    """Assemble the archive from storage and the log (read-only)."""
    with platform.db.read() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise Conflict("project.not_found", f"项目 {project_id} 不存在。", f"Project {project_id} not found.")
        docs = list(
            s.scalars(
                select(ProjectDocument).where(ProjectDocument.project_id == project_id).order_by(ProjectDocument.id)
            )
        )
        events = list(
            s.scalars(select(ProjectEvent).where(ProjectEvent.project_id == project_id).order_by(ProjectEvent.seq))
        )
        sigs = list(
            s.scalars(
                select(ContractSignature)
                .where(ContractSignature.project_id == project_id)
                .order_by(ContractSignature.id)
            )
        )
        audit_indices = list(
            s.scalars(
                select(AuditEvent.ledger_index).where(
                    AuditEvent.subject_type == "project", AuditEvent.subject_id == str(project_id)
                )
            )
        )
        material = collect_log_material(s, platform.ledger, audit_indices)
        files: list[ArchiveFile] = []
        for d in docs:
            name = d.filename.translate(_SAFE) or f"document-{d.id}"
            files.append(
                ArchiveFile(
                    path=f"documents/{d.id:04d}-{name}",
                    content=platform.storage.get(d.storage_key),
                    kind=d.kind,
                    title_zh=d.title,
                    ledger_index=d.ledger_index,
                )
            )
        timeline: list[dict[str, Any]] = [
            {
                "seq": e.seq,
                "action": e.action,
                "event": e.event,
                "from": e.from_state,
                "to": e.to_state,
                "role": e.actor_role,
                "at": to_local(e.occurred_at).isoformat(),
                "ledger_index": e.ledger_index,
            }
            for e in events
        ]
        files.append(
            ArchiveFile(
                path="records/timeline.json",
                content=canonical_json({"timeline": timeline}),
                kind="record",
                title_zh="项目流程记录",
            )
        )
        files.append(
            ArchiveFile(
                path="records/project.json",
                content=canonical_json(
                    {
                        "code": project.code,
                        "name": project.name,
                        "procedure": project.procedure_code,
                        "state": project.state,
                        "facts": project.facts,
                        "award_amount": None if project.award_amount is None else str(project.award_amount),
                    }
                ),
                kind="record",
                title_zh="项目基本信息",
            )
        )
        if sigs:
            files.append(
                ArchiveFile(
                    path="records/contract-signatures.json",
                    content=canonical_json(
                        {
                            "signatures": [
                                {
                                    "party": g.party,
                                    "org_id": g.org_id,
                                    "certificate_serial": g.certificate_serial,
                                    "document_sha256": g.document_sha256,
                                    "signature_b64": g.signature,
                                    "signed_at": g.signed_at.isoformat(),
                                }
                                for g in sigs
                            ]
                        }
                    ),
                    kind="signature",
                    title_zh="合同电子签名",
                )
            )
        info = LogInfo.from_public_info(platform.public_info())
        subject = Subject(kind="project", code=project.code, name=project.name)
        return build_archive(files, material.entries, material.head, info, subject)


def store_project_archive(platform: Platform, project_id: int) -> tuple[str, str]:
    """Build, store (``archives/<code>.zip``) and log the archive's SHA-256; returns (key, sha256)."""
    data = build_project_archive(platform, project_id)
    digest = hashlib.sha256(data).hexdigest()
    with platform.uow(RequestContext(source="system", actor_name="archiver")) as uow:
        project = uow.session.get(Project, project_id)
        assert project is not None
        key = archive_key(project)
        uow.platform.storage.put(key, data)
        uow.audit(
            "project:archive_built",
            subject_type="project_archive",
            subject_id=project.id,
            data={"code": project.code, "sha256": digest, "size": len(data), "key": key},
        )
        uow.commit()
    return key, digest


def enqueue_archive(uow: UnitOfWork, project: Project) -> None:
    """After the ``archive`` step commits, the worker builds the package (its proofs need the new head)."""
    uow.enqueue(BUILD_TOPIC, {"project_id": project.id}, dedupe_key=f"archive:{project.id}")


def handle_build(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    key, digest = store_project_archive(platform, int(payload["project_id"]))
    log.info("archive %s built (%s)", key, digest)
