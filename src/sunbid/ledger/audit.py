"""Audit events: who did what, when and from where, each appended to the transparency log.

The log entry of an audit event is the canonical JSON of the audit row itself, so that ``sunbid log verify``
can recompute it from the row and detect any change to either.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from sunbid.core.errors import ValidationFailed
from sunbid.ledger.canonical import canonical_json
from sunbid.ledger.models import AuditEvent
from sunbid.platform.context import RequestContext

if TYPE_CHECKING:
    from sunbid.ledger.service import LedgerTransaction

TAG = re.compile(r"^[a-z][a-z0-9_]*:[a-z][a-z0-9_.]*:[a-z][a-z0-9_.]*$")


def audit_body(
    *,
    tag: str,
    occurred_at: datetime,
    actor_user_id: int | None,
    actor_org_id: int | None,
    actor_name: str | None,
    ip: str | None,
    user_agent: str | None,
    request_id: str | None,
    subject_type: str | None,
    subject_id: str | None,
    data: dict[str, Any],
) -> bytes:
    """The canonical bytes logged for one audit event (also used to re-check a stored row)."""
    return canonical_json(
        {
            "type": "audit",
            "tag": tag,
            "at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor": {"user_id": actor_user_id, "org_id": actor_org_id, "name": actor_name},
            "origin": {"ip": ip, "user_agent": user_agent, "request_id": request_id},
            "subject": {"type": subject_type, "id": subject_id},
            "data": data,
        }
    )


def body_of_row(row: AuditEvent) -> bytes:
    """Recompute the log entry bytes from a stored audit row."""
    return audit_body(
        tag=row.tag,
        occurred_at=row.occurred_at,
        actor_user_id=row.actor_user_id,
        actor_org_id=row.actor_org_id,
        actor_name=row.actor_name,
        ip=row.ip,
        user_agent=row.user_agent,
        request_id=row.request_id,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        data=row.data,
    )


def record_audit(
    session: Session,
    ledger: LedgerTransaction,
    ctx: RequestContext,
    tag: str,
    *,
    occurred_at: datetime,
    subject_type: str | None,
    subject_id: str | None,
    data: dict[str, Any],
) -> AuditEvent:
    """Append an audit event to the log and store its row, in the caller's transaction."""
    if tag.count(":") == 1:  # "subject:action": the source is where the request came from
        tag = f"{ctx.source}:{tag}"
    if not TAG.match(tag):
        raise ValidationFailed(
            "audit.bad_tag",
            f"审计标签格式应为 来源:对象:动作，实际为 {tag!r}",
            f"audit tag must be source:subject:action, got {tag!r}",
        )
    fields: dict[str, Any] = {
        "tag": tag,
        "occurred_at": occurred_at.astimezone(UTC),
        "actor_user_id": ctx.user_id,
        "actor_org_id": ctx.org_id,
        "actor_name": ctx.actor_name,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
        "request_id": ctx.request_id,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": data,
    }
    index = ledger.append("audit", audit_body(**fields))
    row = AuditEvent(ledger_index=index, **fields)
    session.add(row)
    return row
