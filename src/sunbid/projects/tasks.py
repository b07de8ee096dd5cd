"""Background jobs of projects: timed transitions and the contract reminder, run by the outbox worker."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sunbid.identity.models import Membership, Organisation, User
from sunbid.platform.context import RequestContext
from sunbid.projects import service
from sunbid.projects.timing import project_facts

if TYPE_CHECKING:
    from sunbid.platform.container import Platform

log = logging.getLogger("sunbid.projects")


def _ctx() -> RequestContext:
    return RequestContext(source="system", actor_name="scheduler")


def handle_timed(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    """Fire a project's due timed transition (idempotent: stale or repeated messages do nothing)."""
    with platform.uow(_ctx()) as uow:
        fired = service.fire_timed(uow, int(payload["project_id"]), str(payload["state"]))
        uow.commit()
    if fired:
        log.info("project %s: fired %s", payload["project_id"], ",".join(fired))


def _party_users(platform: Platform, org_ids: list[int]) -> list[int]:
    with platform.db.read() as s:
        rows = s.scalars(
            select(User.id)
            .join(Membership, Membership.user_id == User.id)
            .join(Organisation, Organisation.id == Membership.org_id)
            .where(Membership.org_id.in_(org_ids), User.status == "active", Organisation.status == "active")
            .order_by(User.id)
        )
        return list(dict.fromkeys(rows))


def handle_contract_reminder(platform: Platform, mid: int, payload: dict[str, Any]) -> None:
    """Remind tenderer, agency and winner when the contract is still not signed online (SPEC T-4)."""
    with platform.uow(_ctx()) as uow:
        project = service.get_project(uow, int(payload["project_id"]))
        facts = project_facts(project, uow.now)
        if project.state != "awarded" or facts.contract_signed_at is not None:
            uow.rollback()
            return
        if facts.award_notice_at is None or facts.award_notice_at.isoformat() != payload["award_notice_at"]:
            uow.rollback()
            return  # a later award notice has its own reminder
        orgs = [o for o in (project.tenderer_org_id, project.agency_org_id, project.winner_org_id) if o is not None]
        users = _party_users(platform, orgs)
        days = "25个工作日" if project.sector == "engineering" else "5个工作日"
        platform.notifier.notify(
            uow,
            user_ids=users,
            kind="contract_reminder",
            subject_zh=f"合同签订提醒：{project.name}",
            body_zh=(
                f"项目「{project.name}」（{project.code}）中标通知书发出已满{days}，尚未在线签订合同。"
                "请招标人与中标人尽快通过平台签订合同（招标投标法第46条：应自中标通知书发出之日起30日内签订）。"
            ),
            subject_en=f"Contract reminder: {project.code}",
            body_en=(
                f"The award notice of project {project.code} was issued {days.replace('个工作日', ' working days')}"
                " ago and no contract has been signed online yet. Please sign it on the platform."
            ),
            dedupe=f"contract-reminder:{project.id}:{int(facts.award_notice_at.timestamp())}",
        )
        uow.audit(
            "project:contract_reminder",
            subject_type="project",
            subject_id=project.id,
            data={"code": project.code, "rule": payload["rule_id"], "users": users},
        )
        uow.commit()


def register_handlers(platform: Platform) -> None:
    from sunbid.projects.archive import BUILD_TOPIC, handle_build

    platform.worker.register(BUILD_TOPIC, lambda mid, p: handle_build(platform, mid, p))
    platform.worker.register(service.TIMED_TOPIC, lambda mid, p: handle_timed(platform, mid, p))
    platform.worker.register(service.REMINDER_TOPIC, lambda mid, p: handle_contract_reminder(platform, mid, p))
