"""Closing decryption: failed bids are classified (RULES §3) and the signed opening record is published."""

from __future__ import annotations

from typing import Any

from sunbid.bidding.models import Bid
from sunbid.opening import record
from sunbid.opening.domain import (
    BidStatus,
    SessionState,
    classify_failure,
)
from sunbid.opening.events import append_event
from sunbid.opening.models import (
    OpeningSession,
)
from sunbid.opening.service import (
    iso,
)
from sunbid.opening.session_base import (
    opening_bids,
    org_of,
    section_of,
    touch,
)
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project


def finalize(uow: UnitOfWork, project: Project, s: OpeningSession) -> None:
    """Classify the bids still sealed (RULES §3) and publish the signed opening record."""
    for ob in opening_bids(uow, s):
        if ob.status != BidStatus.SEALED.value:
            continue
        failure = classify_failure(ob.last_problem)
        ob.status = failure.outcome.value
        ob.failure = {"problem": ob.last_problem, "reason_zh": failure.reason_zh, "reason_en": failure.reason_en}
        section = section_of(uow, ob.section_id)
        name = org_of(uow, ob.org_id).name
        append_event(
            uow,
            project.id,
            "bid.decryption_failed",
            {
                "section": section.code,
                "bidder_name": name,
                "outcome": failure.outcome.value,
                "reason_zh": failure.reason_zh,
                "reason_en": failure.reason_en,
            },
        )
        uow.audit(
            "opening:decryption_failed",
            subject_type="project",
            subject_id=project.id,
            data={"project_code": project.code, "bid_id": ob.bid_id, "outcome": failure.outcome.value},
        )
    _publish_record(uow, project, s)


def _rows(uow: UnitOfWork, s: OpeningSession) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for ob in opening_bids(uow, s):
        org = org_of(uow, ob.org_id)
        bid = uow.session.get(Bid, ob.bid_id)
        assert bid is not None
        status = BidStatus(ob.status)
        opened = status is BidStatus.DECRYPTED
        deposit = ob.deposit_status or {"code": "not_checked", "zh": "未接入保证金系统"}
        out.setdefault(ob.section_id, []).append(
            {
                "bidder_name": org.name,
                "bidder_uscc": org.uscc,
                "price": ob.price if opened else None,
                "duration_days": ob.duration_days if opened else None,
                "quality": ob.quality if opened else None,
                # the other declared items (manifest ``extra``), read out like the price (唱标)
                "extra": dict(sorted((ob.extra or {}).items())) if opened else None,
                "deposit_status": deposit["zh"],
                "deposit_status_code": deposit["code"],
                "decryption_status": status.value,
                "decryption_status_zh": status.label_zh,
                "opened_by": ob.opened_by,
                "container_hash": bid.container_hash,
            }
        )
    return out


def _publish_record(uow: UnitOfWork, project: Project, s: OpeningSession) -> None:
    platform = uow.platform
    rows = _rows(uow, s)
    draws = s.draws or {}
    sections = []
    for section_id in sorted(rows, key=lambda i: section_of(uow, i).code):
        section = section_of(uow, section_id)
        draw = draws.get(section.code)
        sections.append(
            {
                "section": section.code,
                "section_name": section.name,
                "rows": rows[section_id],
                "coefficient": None if draw is None else draw["value"],
                "draw_record": None if draw is None else draw["draw_record"],
            }
        )
    now = uow.now
    body = {
        "format": record.RECORD_FORMAT,
        "version": record.RECORD_VERSION,
        "suite": platform.suite.name,
        "log_id": platform.ledger.log_id,
        "log_public_key": platform.log_keypair.public.hex(),
        "project_code": project.code,
        "project_name": project.name,
        "started_at": iso(s.started_at),
        "decryption_closed_at": iso(s.decryption_closed_at or now),
        "published_at": iso(now),
        "sections": sections,
    }
    keypair = platform.log_keypair
    doc = record.sign_record(body, lambda data: platform.suite.sign(keypair.private, data))
    event = uow.audit(
        "opening:record",
        subject_type="project",
        subject_id=project.id,
        data={"project_code": project.code, "record_hash": doc["record_hash"]},
    )
    doc["ledger_index"] = event.ledger_index
    s.record = doc
    s.record_hash = doc["record_hash"]
    s.record_ledger_index = event.ledger_index
    s.published_at = now
    touch(uow, s, SessionState.RECORDED)
    append_event(
        uow,
        project.id,
        "record.published",
        {
            "sections": record.hall_sections(body),
            "record_hash": doc["record_hash"],
            "url": f"/api/projects/{project.id}/opening/record",
            "ledger_index": event.ledger_index,
        },
    )
