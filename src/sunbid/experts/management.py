"""Expert management (SPEC E-8): assessment 考评 after each evaluation, points, suspension, removal, appeals.

Who may assess an expert of an evaluation (the draw of its panel, once unsealed): the centre's staff, the
project's tenderer and agency, and a regulator of the project's region and sector — each organisation once
per expert and evaluation. The expert must have been called by that draw: an expert who confirmed (sat on the
panel) for the conduct offences, one who refused or never answered for "refused without valid reason".

The rules are :mod:`sunbid.experts.assessment` with the centre's configuration (``settings["expert_assessment"]``
on the centre row). Sanctions follow at once: a suspension 暂停抽取 changes the pool status (with history) for
its period and a job (``expert.sanction_end``, at the start of the day after the period) reinstates him; a
removal 清退出库 is final. Every step is audited; the expert is told by SMS and e-mail through the outbox
(``expert.sanction_notice``). Appeals are recorded and decided; a successful appeal takes the points back and
lifts a suspension that no longer holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sunbid.core.calendar import local_date, start_of_local_day
from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.experts import assessment as rules
from sunbid.experts.domain import ExpertStatus
from sunbid.experts.models import Expert, ExpertDraw, ExpertDrawHistory, ExpertStatusEvent
from sunbid.experts.models_management import ExpertAppeal, ExpertAssessment, ExpertDeduction, ExpertSanction
from sunbid.experts.pool import PoolKeys, change_status
from sunbid.experts.sealing import open_pii
from sunbid.identity.domain import Permission, ResourceScope, Role, Scope, Sector, decide
from sunbid.identity.models import Centre
from sunbid.platform.context import RequestContext
from sunbid.projects.models import Project

if TYPE_CHECKING:
    from sunbid.identity.service import Actor
    from sunbid.platform.container import Platform
    from sunbid.platform.uow import UnitOfWork

__all__ = [
    "ASSESS_CENTRE",
    "ASSESS_PARTY",
    "ASSESS_REGULATOR",
    "MANAGE",
    "DeductionIn",
    "assessment_scheme",
    "decide_appeal",
    "deliver_sanction_notice",
    "end_sanction",
    "expert_record",
    "file_appeal",
    "record_assessment",
]

SANCTION_END_TOPIC = "expert.sanction_end"
ASSESSMENT_REASON = "考评："  # prefix of the status changes made by assessment
SANCTION_NOTICE_TOPIC = "expert.sanction_notice"
WORKER_CONTEXT = RequestContext(source="worker", actor_name="expert-management")

_CENTRE = frozenset({Role.ADMIN, Role.OPERATOR})
ASSESS_CENTRE = Permission("expert.assess.centre", _CENTRE, Scope.ANY_AUTHENTICATED, "考评任一项目的评标专家")
ASSESS_PARTY = Permission(
    "expert.assess.party", frozenset({Role.TENDERER, Role.AGENCY}), Scope.PROJECT_PARTY, "考评本项目的评标专家"
)
ASSESS_REGULATOR = Permission(
    "expert.assess.regulator", frozenset({Role.REGULATOR}), Scope.REGION_SECTOR, "考评所监管项目的评标专家"
)
#: Appeals, fees and the pool's assessment records: centre staff (regulators read records and decide appeals).
MANAGE = Permission("expert.manage", _CENTRE, Scope.ANY_AUTHENTICATED, "专家考评申诉、评标费发放（交易中心）")
SUPERVISE = Permission(
    "expert.manage.supervise", _CENTRE | {Role.REGULATOR}, Scope.ANY_AUTHENTICATED, "查看专家考评记录、裁决申诉"
)


def _centre_settings(session: Session, key: str) -> dict[str, Any]:
    values = session.scalar(select(Centre.settings).order_by(Centre.id).limit(1)) or {}
    local = values.get(key) if isinstance(values, dict) else None
    return local if isinstance(local, dict) else {}


def assessment_scheme(session: Session) -> rules.AssessmentScheme:
    """The centre's scheme: the defaults overridden by ``settings["expert_assessment"]``."""
    local = _centre_settings(session, "expert_assessment")
    return rules.scheme_from_mapping(local) if local else rules.DEFAULT_SCHEME


def require_manage(actor: Actor | None, permission: Permission = MANAGE) -> None:
    """Centre staff (or the regulator for :data:`SUPERVISE`); ``None`` is the console on the server itself."""
    if actor is not None and not decide(actor.principal, permission):
        raise Forbidden("expert.manage_forbidden", "无权办理专家管理事项", "not permitted to manage experts")


def _expert(session: Session, code: str, *, lock: bool = False) -> Expert:
    stmt = select(Expert).where(Expert.code == code.strip().upper())
    if lock and session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = session.scalar(stmt)
    if row is None:
        raise NotFound("expert.not_found", f"专家 {code} 不存在", f"expert {code} does not exist")
    return row


def evaluation_of(session: Session, draw_id: int) -> tuple[ExpertDraw, Project]:
    """The draw of an evaluation and its project."""
    draw = session.get(ExpertDraw, draw_id)
    if draw is None:
        raise NotFound("expert.draw_not_found", f"抽取 {draw_id} 不存在", f"draw {draw_id} does not exist")
    project = session.get(Project, draw.project_id)
    assert project is not None
    return draw, project


def served(session: Session, draw_id: int, expert: Expert) -> tuple[ExpertDraw, Project, str]:
    """The draw, its project and the expert's outcome in it; only for an unsealed draw that called him.

    Callers check permissions first: the answer tells whether the expert sat on the panel."""
    draw, project = evaluation_of(session, draw_id)
    if draw.unsealed_at is None:
        raise Conflict(
            "expert_assess.panel_sealed",
            "专家名单启封（评标开始）后方可考评或计算评标费",
            "assessment and fees come after the panel is unsealed (evaluation started)",
        )
    outcome = session.scalar(
        select(ExpertDrawHistory.outcome).where(
            ExpertDrawHistory.draw_id == draw.id, ExpertDrawHistory.expert_id == expert.id
        )
    )
    if outcome is None or outcome == "standby":
        raise Conflict(
            "expert_assess.not_on_panel",
            f"专家 {expert.code} 未被本次抽取通知",
            f"expert {expert.code} was not called by this draw",
        )
    return draw, project, outcome


def project_scope(project: Project) -> ResourceScope:
    """The project as a permission resource: its parties, region and sector."""
    parties = {str(project.tenderer_org_id)} | ({str(project.agency_org_id)} if project.agency_org_id else set())
    sectors = frozenset(Sector(s) for s in {project.sector} if s in {x.value for x in Sector})
    return ResourceScope(
        project_id=str(project.id), party_org_ids=frozenset(parties), region_code=project.region_code, sectors=sectors
    )


def _rater(session: Session, actor: Actor | None, project: Project, now: Any) -> tuple[str, str, int | None]:
    """(role, rater key, user id) of who assesses; ``expert_assess.forbidden`` if he may not.

    ``actor=None`` is the console on the server: the centre's operator, one rater with the centre's staff."""
    if actor is None:
        centre = session.scalar(select(Centre.org_id).order_by(Centre.id).limit(1))
        return Role.OPERATOR.value, f"{Role.OPERATOR.value}:{centre or 'console'}", None
    resource = project_scope(project)
    for permission in (ASSESS_CENTRE, ASSESS_PARTY, ASSESS_REGULATOR):
        d = decide(actor.principal, permission, resource, now=now)
        if d.allowed and d.membership is not None:
            return d.membership.role.value, f"{d.membership.role.value}:{d.membership.org_id}", actor.user_id
    raise Forbidden(
        "expert_assess.forbidden",
        "只有交易中心、本项目招标人或代理机构、主管该行业的监管部门可以考评",
        "only the centre, the project's tenderer or agency, or its regulator may assess",
    )


@dataclass(frozen=True, slots=True)
class DeductionIn:
    """One offence to record: catalogue code, occurrences, a note and evidence (e.g. an intervention id)."""

    item: str
    count: int = 1
    note: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)


def _incidents(session: Session, expert_id: int, year: int) -> list[rules.Incident]:
    rows = session.execute(
        select(ExpertDeduction.draw_id, ExpertDeduction.item, ExpertDeduction.count, ExpertDeduction.state).where(
            ExpertDeduction.expert_id == expert_id, ExpertDeduction.year == year
        )
    )
    return [rules.Incident(d, i, c, s == "overturned") for d, i, c, s in rows]


def year_points(session: Session, scheme: rules.AssessmentScheme, expert_id: int, year: int) -> int:
    """Effective points deducted from the expert's account in ``year``."""
    return rules.effective_points(scheme, _incidents(session, expert_id, year))


def record_assessment(
    uow: UnitOfWork,
    actor: Actor | None,
    draw_id: int,
    expert_code: str,
    deductions: Sequence[DeductionIn],
    comment: str = "",
) -> dict[str, Any]:
    """Record one rater's assessment of an expert after an evaluation; apply any sanction it calls for."""
    s = uow.session
    scheme = assessment_scheme(s)
    _, scope_project = evaluation_of(s, draw_id)
    role, rater_key, user_id = _rater(s, actor, scope_project, uow.now)  # before anything about the panel
    expert = _expert(s, expert_code, lock=True)
    draw, project, outcome = served(s, draw_id, expert)
    if len(comment) > 2000 or any(len(d.note) > 2000 for d in deductions):
        raise ValidationFailed("expert_assess.too_long", "说明不超过 2000 字", "notes are at most 2000 characters")
    if len({d.item for d in deductions}) != len(deductions):
        raise ValidationFailed("expert_assess.repeated_item", "同一扣分项只能填一次（填次数）", "give each item once")
    existing = s.scalar(
        select(ExpertAssessment.id).where(
            ExpertAssessment.draw_id == draw.id,
            ExpertAssessment.expert_id == expert.id,
            ExpertAssessment.rater_key == rater_key,
        )
    )
    if existing is not None:
        raise Conflict(
            "expert_assess.already_assessed",
            "本单位已考评过该专家在本次评标中的表现",
            "your organisation has already assessed this expert for this evaluation",
        )
    points = {d.item: rules.check_incident(scheme, d.item, d.count, outcome, bool(d.evidence)) for d in deductions}
    year = local_date(draw.evaluation_starts_at).year
    today = local_date(uow.now)
    before = year_points(s, scheme, expert.id, year)
    row = ExpertAssessment(
        draw_id=draw.id,
        project_id=project.id,
        expert_id=expert.id,
        rater_key=rater_key,
        rater_role=role,
        rater_user_id=user_id,
        outcome=outcome,
        year=year,
        grades={},
        comment=comment.strip(),
        created_at=uow.now,
    )
    s.add(row)
    s.flush()
    for d in deductions:
        item = scheme.item(d.item)
        s.add(
            ExpertDeduction(
                assessment_id=row.id,
                expert_id=expert.id,
                draw_id=draw.id,
                item=item.code,
                dimension=item.dimension.value,
                count=d.count,
                points=points[d.item],
                year=year,
                note=d.note.strip(),
                evidence=dict(d.evidence),
                state="effective",
                recorded_on=today,
                recorded_at=uow.now,
            )
        )
    s.flush()
    after = year_points(s, scheme, expert.id, year)
    this_evaluation = [i for i in _incidents(s, expert.id, year) if i.evaluation == draw.id]
    row.grades = {k.value: v.value for k, v in rules.grades(scheme, this_evaluation).items()}
    uow.audit(
        "expert:assess:record",
        subject_type="expert",
        subject_id=expert.code,
        data={
            "draw_id": draw.id,
            "project": project.code,
            "rater": rater_key,
            "items": {d.item: d.count for d in deductions},
            "points_before": before,
            "points_after": after,
            "year": year,
        },
    )
    removal = next((d.item for d in deductions if scheme.item(d.item).removal), None)
    window_start = rules.add_months(today, -scheme.suspension_window_months)
    suspensions = (
        s.scalar(
            select(func.count())
            .select_from(ExpertSanction)
            .where(
                ExpertSanction.expert_id == expert.id,
                ExpertSanction.kind == rules.SanctionKind.SUSPEND.value,
                ExpertSanction.start_on >= window_start,
            )
        )
        or 0
    )
    sanction = rules.decide_sanction(
        scheme,
        points_before=before,
        points_after=after,
        removal_offence=removal,
        suspensions_in_window=suspensions,
        today=today,
    )
    applied = None if sanction is None else _apply_sanction(uow, expert, sanction, year)
    return {
        "assessment_id": row.id,
        "expert": expert.code,
        "draw_id": draw.id,
        "rater": rater_key,
        "year": year,
        "grades": row.grades,
        "points_deducted": after,
        "points_left": scheme.annual_points - after,
        "sanction": None if applied is None else sanction_view(applied),
    }


def _apply_sanction(uow: UnitOfWork, expert: Expert, sanction: rules.Sanction, year: int) -> ExpertSanction | None:
    if expert.status == ExpertStatus.REMOVED.value:
        return None
    row = ExpertSanction(
        expert_id=expert.id,
        kind=sanction.kind.value,
        basis=sanction.basis_zh,
        trigger_points=sanction.trigger_points,
        year=year,
        start_on=sanction.start,
        end_on=sanction.end,
        state="active",
        created_at=uow.now,
    )
    uow.session.add(row)
    uow.session.flush()
    if sanction.kind is rules.SanctionKind.REMOVE:
        change_status(uow, expert.code, ExpertStatus.REMOVED, f"{ASSESSMENT_REASON}{sanction.basis_zh}")
        for other in uow.session.scalars(
            select(ExpertSanction).where(
                ExpertSanction.expert_id == expert.id,
                ExpertSanction.state == "active",
                ExpertSanction.id != row.id,
            )
        ):
            other.state, other.closed_at = "ended", uow.now
    else:
        if expert.status == ExpertStatus.ACTIVE.value:
            change_status(uow, expert.code, ExpertStatus.SUSPENDED, f"{ASSESSMENT_REASON}{sanction.basis_zh}")
        assert sanction.end is not None
        uow.enqueue(
            SANCTION_END_TOPIC,
            {"sanction_id": row.id},
            dedupe_key=f"expert.sanction_end:{row.id}",
            available_at=start_of_local_day(sanction.end + timedelta(days=1)),
        )
    uow.enqueue(SANCTION_NOTICE_TOPIC, {"sanction_id": row.id}, dedupe_key=f"expert.sanction_notice:{row.id}")
    uow.audit(
        f"expert:assess:{sanction.kind.value}",
        subject_type="expert",
        subject_id=expert.code,
        data={
            "sanction_id": row.id,
            "basis": sanction.basis_zh,
            "points": sanction.trigger_points,
            "from": sanction.start.isoformat(),
            "to": None if sanction.end is None else sanction.end.isoformat(),
        },
    )
    return row


def sanction_view(row: ExpertSanction) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "basis": row.basis,
        "trigger_points": row.trigger_points,
        "from": row.start_on.isoformat(),
        "to": None if row.end_on is None else row.end_on.isoformat(),
        "state": row.state,
    }


def _reinstate_if_free(uow: UnitOfWork, expert: Expert, reason: str) -> bool:
    """Put a suspended expert back in the pool when no suspension of his is active any more."""
    still = uow.session.scalar(
        select(ExpertSanction.id).where(
            ExpertSanction.expert_id == expert.id,
            ExpertSanction.state == "active",
            ExpertSanction.kind == rules.SanctionKind.SUSPEND.value,
        )
    )
    if still is not None or expert.status != ExpertStatus.SUSPENDED.value:
        return False
    last = uow.session.scalar(
        select(ExpertStatusEvent.reason)
        .where(ExpertStatusEvent.expert_id == expert.id, ExpertStatusEvent.to_status == ExpertStatus.SUSPENDED.value)
        .order_by(ExpertStatusEvent.id.desc())
        .limit(1)
    )
    if last is None or not last.startswith(ASSESSMENT_REASON):
        return False  # suspended by hand for another reason: that stands until lifted by hand
    change_status(uow, expert.code, ExpertStatus.ACTIVE, reason)
    return True


def end_sanction(uow: UnitOfWork, sanction_id: int) -> bool:
    """Job at the end of a suspension: close it and reinstate the expert if nothing else holds him."""
    row = uow.session.get(ExpertSanction, sanction_id)
    if row is None or row.state != "active" or row.kind != rules.SanctionKind.SUSPEND.value or row.end_on is None:
        return False
    if local_date(uow.now) <= row.end_on:
        return False
    row.state, row.closed_at = "ended", uow.now
    expert = uow.session.get(Expert, row.expert_id)
    assert expert is not None
    uow.audit("expert:assess:suspension_ended", subject_type="expert", subject_id=expert.code, data={"id": row.id})
    _reinstate_if_free(uow, expert, "暂停期满，恢复抽取")
    return True


# --- appeals ---------------------------------------------------------------------------------------------------


def file_appeal(uow: UnitOfWork, actor: Actor | None, deduction_id: int, reason: str) -> ExpertAppeal:
    """Record an expert's written appeal 申诉 against a deduction (within the appeal period; once)."""
    require_manage(actor)
    if not reason.strip() or len(reason) > 4000:
        raise ValidationFailed("expert_assess.reason_required", "须填写申诉理由", "the appeal needs a reason")
    deduction = uow.session.get(ExpertDeduction, deduction_id)
    if deduction is None:
        raise NotFound("expert_assess.no_deduction", f"扣分记录 {deduction_id} 不存在", "no such deduction")
    scheme = assessment_scheme(uow.session)
    last = rules.appeal_deadline(scheme, deduction.recorded_on)
    if local_date(uow.now) > last:
        raise Conflict(
            "expert_assess.appeal_too_late",
            f"申诉期已过（截至 {last.isoformat()}）",
            f"the appeal period ended on {last.isoformat()}",
        )
    if uow.session.scalar(select(ExpertAppeal.id).where(ExpertAppeal.deduction_id == deduction.id)) is not None:
        raise Conflict("expert_assess.appeal_exists", "该扣分已有申诉", "this deduction has already been appealed")
    appeal = ExpertAppeal(
        deduction_id=deduction.id,
        reason=reason.strip(),
        state="pending",
        filed_at=uow.now,
        filed_by_user_id=None if actor is None else actor.user_id,
    )
    uow.session.add(appeal)
    uow.session.flush()
    expert = uow.session.get(Expert, deduction.expert_id)
    assert expert is not None
    uow.audit(
        "expert:assess:appeal",
        subject_type="expert",
        subject_id=expert.code,
        data={"appeal_id": appeal.id, "deduction_id": deduction.id, "item": deduction.item},
    )
    return appeal


def decide_appeal(uow: UnitOfWork, actor: Actor | None, appeal_id: int, *, overturn: bool, note: str) -> dict[str, Any]:
    """Decide an appeal: uphold the deduction, or overturn it (points back; a suspension that no longer holds is
    lifted). Removal stays final."""
    require_manage(actor, SUPERVISE)
    if not note.strip():
        raise ValidationFailed("expert_assess.reason_required", "须填写裁决理由", "the decision needs a reason")
    appeal = uow.session.get(ExpertAppeal, appeal_id)
    if appeal is None:
        raise NotFound("expert_assess.no_appeal", f"申诉 {appeal_id} 不存在", "no such appeal")
    if appeal.state != "pending":
        raise Conflict("expert_assess.appeal_decided", "该申诉已裁决", "this appeal has been decided")
    deduction = uow.session.get(ExpertDeduction, appeal.deduction_id)
    assert deduction is not None
    expert = _expert_by_id(uow.session, deduction.expert_id)
    appeal.state = "overturned" if overturn else "upheld"
    appeal.decided_at, appeal.decision_note = uow.now, note.strip()
    appeal.decided_by_user_id = None if actor is None else actor.user_id
    lifted: list[int] = []
    scheme = assessment_scheme(uow.session)
    if overturn:
        deduction.state = "overturned"
        uow.session.flush()
        now_points = year_points(uow.session, scheme, expert.id, deduction.year)
        for sanction in uow.session.scalars(
            select(ExpertSanction).where(
                ExpertSanction.expert_id == expert.id,
                ExpertSanction.year == deduction.year,
                ExpertSanction.state == "active",
                ExpertSanction.kind == rules.SanctionKind.SUSPEND.value,
            )
        ):
            if rules.should_lift(sanction.trigger_points, now_points):
                sanction.state, sanction.closed_at = "lifted", uow.now
                lifted.append(sanction.id)
        uow.session.flush()
        if lifted:
            _reinstate_if_free(uow, expert, "申诉成立，撤销暂停")
    uow.audit(
        "expert:assess:appeal_decided",
        subject_type="expert",
        subject_id=expert.code,
        data={"appeal_id": appeal.id, "overturned": overturn, "lifted": lifted},
    )
    return {"appeal_id": appeal.id, "state": appeal.state, "lifted_sanctions": lifted, "status": expert.status}


def _expert_by_id(session: Session, expert_id: int) -> Expert:
    expert = session.get(Expert, expert_id)
    assert expert is not None
    return expert


# --- views and notices -------------------------------------------------------------------------------------------


def expert_record(session: Session, code: str, year: int) -> dict[str, Any]:
    """An expert's assessment record for ``year``: points, every deduction with its appeal, every sanction."""
    scheme = assessment_scheme(session)
    expert = _expert(session, code)
    points = year_points(session, scheme, expert.id, year)
    deductions = []
    for d, a in session.execute(
        select(ExpertDeduction, ExpertAssessment)
        .join(ExpertAssessment, ExpertAssessment.id == ExpertDeduction.assessment_id)
        .where(ExpertDeduction.expert_id == expert.id, ExpertDeduction.year == year)
        .order_by(ExpertDeduction.id)
    ):
        appeal = session.scalar(select(ExpertAppeal).where(ExpertAppeal.deduction_id == d.id))
        deductions.append(
            {
                "id": d.id,
                "draw_id": d.draw_id,
                "item": d.item,
                "name": scheme.items[d.item].name_zh if d.item in scheme.items else d.item,
                "dimension": d.dimension,
                "count": d.count,
                "points": d.points,
                "rater": a.rater_key,
                "state": d.state,
                "recorded_on": d.recorded_on.isoformat(),
                "appeal_until": rules.appeal_deadline(scheme, d.recorded_on).isoformat(),
                "appeal": None if appeal is None else {"id": appeal.id, "state": appeal.state},
            }
        )
    sanctions = session.scalars(
        select(ExpertSanction).where(ExpertSanction.expert_id == expert.id).order_by(ExpertSanction.id)
    )
    return {
        "code": expert.code,
        "status": expert.status,
        "year": year,
        "annual_points": scheme.annual_points,
        "points_deducted": points,
        "points_left": scheme.annual_points - points,
        "deductions": deductions,
        "sanctions": [sanction_view(x) for x in sanctions],
    }


def deliver_sanction_notice(platform: Platform, sanction_id: int, message_id: str) -> None:
    """Outbox handler body: tell the expert of his suspension or removal (SMS and e-mail; nothing logged)."""
    with platform.db.read() as s:
        row = s.get(ExpertSanction, sanction_id)
        if row is None:
            return
        expert = _expert_by_id(s, row.expert_id)
        code, blob = expert.code, expert.pii
        kind, basis, start, end = row.kind, row.basis, row.start_on, row.end_on
    keys = PoolKeys.of(platform)
    pii = open_pii(keys.suite, keys.key, code, blob)
    notifier = platform.notifier
    if kind == rules.SanctionKind.SUSPEND.value:
        text = f"专家 {code}：{basis}，暂停抽取期间 {start.isoformat()} 至 {end.isoformat() if end else ''}。"
    else:
        text = f"专家 {code}：{basis}，自 {start.isoformat()} 起清退出库。"
    text += "如有异议，可在规定期限内向交易中心书面申诉。"
    if pii.get("phone"):
        notifier.sms.send(str(pii["phone"]), f"【{notifier.sms_signature}】{text}", message_id)
    if pii.get("email"):
        notifier.email.send(str(pii["email"]), f"{notifier.centre_name} 评标专家考评结果通知", text, message_id)
