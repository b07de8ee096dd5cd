"""Project use cases: register, act through the procedure engine, schedule timed steps, documents, objections.

Every step goes through :func:`perform`: load the project (locked), work out the actor's roles in it, fill in
the facts the action records, let the pure engine decide, then store the new state and facts, record the step
(project event + audit event in the transparency log) and schedule the next timed transition in the outbox.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select

from sunbid.core.clock import ensure_utc
from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.identity.domain import Role
from sunbid.identity.models import Centre, Organisation
from sunbid.identity.regions import code_contains
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import engine, rules
from sunbid.projects.models import Objection, Project, ProjectDocument, ProjectEvent, Section
from sunbid.projects.procedures import get_procedure
from sunbid.projects.timing import checker_for, facts_to_json, project_facts, with_facts

SYSTEM = "system"
TIMED_TOPIC = "project.timed"
REMINDER_TOPIC = "project.contract_reminder"
MAX_DOCUMENT_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class SectionIn:
    code: str
    name: str
    budget: Decimal | None = None
    max_price: Decimal | None = None


def money(value: Any, what: str) -> Decimal | None:
    """Exact yuan with two places; never float."""
    if value is None:
        return None
    if isinstance(value, float | bool):
        raise ValidationFailed("project.bad_amount", f"{what}须为十进制字符串。", f"{what} must be a decimal string.")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed("project.bad_amount", f"{what}格式错误。", f"{what} is malformed.") from None
    if d < 0 or d != d.quantize(Decimal("0.01")):
        raise ValidationFailed(
            "project.bad_amount",
            f"{what}须为非负金额，最多两位小数。",
            f"{what} must be ≥ 0 with at most 2 decimals.",
        )
    return d.quantize(Decimal("0.01"))


def _not_found(project_id: int | str) -> NotFound:
    return NotFound("project.not_found", f"项目 {project_id} 不存在。", f"Project {project_id} not found.")


def get_project(uow: UnitOfWork, project_id: int, *, lock: bool = False) -> Project:
    stmt = select(Project).where(Project.id == project_id)
    if lock and uow.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    project = uow.session.scalar(stmt)
    if project is None:
        raise _not_found(project_id)
    return project


# --- roles in a project ------------------------------------------------------------------------------------


def project_roles(uow: UnitOfWork, actor: Actor | None, project: Project) -> frozenset[str]:
    """The procedure roles ``actor`` holds in ``project`` (deny by default: none unless a membership fits)."""
    if actor is None:
        return frozenset()
    centre_org = uow.session.scalar(select(Centre.org_id).where(Centre.id == project.centre_id))
    roles: set[str] = set()
    for m in actor.principal.memberships:
        org = int(m.org_id)
        if m.project_ids is not None and str(project.id) not in m.project_ids:
            continue
        if m.role is Role.TENDERER and org == project.tenderer_org_id:
            roles.add("tenderer")
        elif m.role is Role.AGENCY and org == project.agency_org_id:
            roles.add("agency")
        elif m.role in (Role.OPERATOR, Role.ADMIN) and org == centre_org:
            roles.add("operator")
        elif m.role is Role.REGULATOR and m.region_code and code_contains(m.region_code, project.region_code):
            if project.sector in {s.value for s in m.sectors}:
                roles.add("regulator")
        elif m.role is Role.BIDDER:
            roles.add("bidder")
        elif m.role is Role.EXPERT and m.project_ids is not None:
            roles.add("expert")
    return frozenset(roles)


def can_see(uow: UnitOfWork, actor: Actor | None, project: Project) -> bool:
    """Parties, the centre and the competent regulator see a project's working pages."""
    return bool(project_roles(uow, actor, project) & {"tenderer", "agency", "operator", "regulator", "expert"})


# --- registration ------------------------------------------------------------------------------------------


def _next_code(uow: UnitOfWork, region_code: str) -> str:
    year = uow.now.year
    prefix = f"{region_code}-{year}-"
    n = uow.session.scalar(select(func.count()).select_from(Project).where(Project.code.like(prefix + "%"))) or 0
    return f"{prefix}{n + 1:04d}"


def create_project(
    uow: UnitOfWork,
    actor: Actor,
    *,
    name: str,
    procedure_code: str,
    tenderer_org_id: int,
    agency_org_id: int | None = None,
    budget: Any = None,
    sections: list[SectionIn] | None = None,
    documents_complete: bool = True,
    plan_required: bool = False,
) -> Project:
    """Create a project (draft) for the tenderer, by the tenderer or its agency, then register it."""
    procedure = get_procedure(procedure_code)
    name = name.strip()
    if not name:
        raise ValidationFailed("project.name_required", "项目名称不能为空。", "The project name is required.")
    tenderer = uow.session.get(Organisation, tenderer_org_id)
    if tenderer is None or tenderer.kind != "tenderer":
        raise ValidationFailed("project.bad_tenderer", "招标人（采购人）不存在。", "Unknown tenderer organisation.")
    if agency_org_id is not None:
        agency = uow.session.get(Organisation, agency_org_id)
        if agency is None or agency.kind != "agency":
            raise ValidationFailed("project.bad_agency", "招标代理机构不存在。", "Unknown agency organisation.")
    memberships = {(int(m.org_id), m.role) for m in actor.principal.memberships}
    if (tenderer_org_id, Role.TENDERER) not in memberships and (
        agency_org_id,
        Role.AGENCY,
    ) not in memberships:
        raise Forbidden(
            "project.not_a_party",
            "只有招标人或其代理机构可以登记项目。",
            "Only the tenderer or its agency may register it.",
        )
    centre = uow.session.scalar(select(Centre).order_by(Centre.id).limit(1))
    if centre is None:
        raise Conflict("identity.no_centre", "尚未创建交易中心。", "No centre exists yet.")
    secs = sections or [SectionIn(code="01", name=name, budget=money(budget, "预算"))]
    if len({s.code for s in secs}) != len(secs):
        raise ValidationFailed("project.duplicate_section", "标段编号重复。", "Duplicate section codes.")
    facts = engine.Facts(
        now=uow.now,
        documents_complete=documents_complete,
        plan_required=plan_required,
        deposits_required=False,
    )
    project = Project(
        code=_next_code(uow, tenderer.region_code),
        name=name,
        procedure_code=procedure.code,
        sector=procedure.sector,
        region_code=tenderer.region_code,
        centre_id=centre.id,
        tenderer_org_id=tenderer_org_id,
        agency_org_id=agency_org_id,
        budget=money(budget, "预算"),
        state=procedure.initial_state.code,
        facts=facts_to_json(facts),
        created_at=uow.now,
        updated_at=uow.now,
    )
    uow.session.add(project)
    uow.session.flush()
    for s in secs:
        uow.session.add(
            Section(
                project_id=project.id,
                code=s.code,
                name=s.name,
                budget=money(s.budget, "标段预算"),
                max_price=money(s.max_price, "最高投标限价"),
            )
        )
    uow.audit(
        "project:create",
        subject_type="project",
        subject_id=project.id,
        data={
            "code": project.code,
            "name": name,
            "procedure": procedure.code,
            "tenderer_org_id": tenderer_org_id,
            "agency_org_id": agency_org_id,
            "budget": None if project.budget is None else str(project.budget),
            "sections": [s.code for s in secs],
        },
    )
    perform(uow, actor, project.id, "register")
    return project


# --- the one way a project moves -------------------------------------------------------------------------


def _time_param(params: dict[str, Any], key: str, required: bool = False) -> datetime | None:
    value = params.get(key)
    if value is None:
        if required:
            raise ValidationFailed(
                "project.param_missing",
                f"缺少参数 {key}。",
                f"Missing parameter {key}.",
                details={"param": key},
            )
        return None
    if isinstance(value, datetime):
        return ensure_utc(value)
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(
            "project.bad_time", f"时间格式错误：{key}。", f"Malformed time: {key}.", details={"param": key}
        ) from None
    if when.tzinfo is None:
        raise ValidationFailed(
            "project.bad_time",
            f"{key} 须带时区（如 +08:00）。",
            f"{key} needs a time zone (e.g. +08:00).",
        )
    return ensure_utc(when)


def proposed_changes(
    uow: UnitOfWork, project: Project, action: str, facts: engine.Facts, params: dict[str, Any]
) -> dict[str, Any]:
    """The facts an action records, before the engine checks it (the engine sees the project as it would be).

    Public so that views can ask the engine which actions would pass (``allowed-actions``)."""
    now = uow.now
    c: dict[str, Any] = {}
    if action == "accept":
        c["green_channel"] = bool(params.get("green_channel", False))
        c["accept_with_promise"] = bool(params.get("accept_with_promise", False))
    elif action == "publish_plan":
        c["plan_published_at"] = now
    elif action in ("publish_announcement", "send_invitations", "publish_single_source"):
        c["announcement_at"] = now
        if action == "send_invitations":
            c["invitations_sent_at"] = now
            c["invitees"] = int(params.get("invitees", 0))
        if action == "publish_single_source":
            c["source_publicity_start"] = now
            c["source_publicity_end"] = _time_param(params, "publicity_end", required=True)
        end = _time_param(params, "announcement_end")
        if end is not None:
            c["announcement_end"] = end
    elif action == "publish_prequalification":
        c["announcement_at"] = now
        c["sale_start"] = _time_param(params, "sale_start") or now
        c["sale_end"] = _time_param(params, "sale_end", required=True)
        c["preq_deadline"] = _time_param(params, "preq_deadline", required=True)
    elif action == "issue_documents":
        if not uow.session.scalar(
            select(func.count())
            .select_from(ProjectDocument)
            .where(ProjectDocument.project_id == project.id, ProjectDocument.kind == "tender_documents")
        ):
            raise Conflict(
                "project.documents_missing",
                "请先上传招标（采购）文件。",
                "Upload the tender documents first.",
            )
        c["documents_issued_at"] = now
        c["sale_start"] = _time_param(params, "sale_start") or now
        c["sale_end"] = _time_param(params, "sale_end") or _time_param(params, "bid_deadline", required=True)
        c["bid_deadline"] = _time_param(params, "bid_deadline", required=True)
    elif action == "amend_documents":
        deadline_fact = "preq_deadline" if project.state == "prequalification" else "bid_deadline"
        current = getattr(facts, deadline_fact)
        wanted = _time_param(params, "new_deadline") or current
        if wanted is not None:
            rule_id = (
                "eng.clarification_before_preq_deadline"
                if deadline_fact == "preq_deadline"
                else (
                    "eng.clarification_before_deadline"
                    if project.sector == "engineering"
                    else "gp.clarification_before_deadline"
                )
            )
            book = rules.RuleBook.default()
            if rule_id in {r.id for r in book.for_procedure(project.procedure_code)}:
                checker = checker_for(uow.session)
                wanted = rules.required_deadline_after_amendment(wanted, now, book.get(rule_id), checker.calendar)
            c[deadline_fact] = wanted
            if deadline_fact == "bid_deadline" and facts.sale_end and facts.sale_end == current:
                c["sale_end"] = wanted
    elif action == "raise_objection":
        c["open_objections"] = facts.open_objections + 1
        c["objection_raised_at"] = now
    elif action == "answer_objection":
        c["open_objections"] = max(0, facts.open_objections - 1)
    elif action == "finish_opening" and "valid_bids" in params:
        c["valid_bids"] = int(params["valid_bids"])
    elif action == "start_evaluation":
        c["committee_ready"] = bool(params.get("committee_ready", facts.committee_ready))
    elif action == "submit_report":
        c["report_received_at"] = now
        c["evaluation_finished_at"] = now
        c["award_confirm_due"] = _time_param(params, "award_confirm_due")
    elif action in ("publish_candidates", "publish_result"):
        c["publicity_start"] = now
        end = _time_param(params, "publicity_end")
        if end is None:
            rule_id = "eng.publicity_duration" if project.sector == "engineering" else "gp.result_announcement_duration"
            checker = checker_for(uow.session)
            end = rules.earliest_allowed(rules.RuleBook.default().get(rule_id), now, checker.calendar)
        c["publicity_end"] = end
    elif action == "confirm_award":
        c["award_confirmed_at"] = now
        c["award_notice_at"] = now
    elif action == "sign_contract":
        c["contract_signed_at"] = now
    return c


TransitionHook = Callable[[UnitOfWork, Project, str, str, str], None]
"""Called after every transition, in its transaction: ``(uow, project, from_state, to_state, action)``."""

#: Other features react to the lifecycle here (opening keys at publication, the opening session at the deadline …);
#: the platform container registers them at start-up, so the projects package imports none of them.
TRANSITION_HOOKS: list[TransitionHook] = []


BeforeTimedHook = Callable[[UnitOfWork, Project], None]
"""Called in :func:`fire_timed` before the due timed transitions are decided (the project row is locked)."""

#: E.g. bidding completes the uploads whose final chunk arrived before the deadline, so that the close of bidding
#: counts every bid received in time whatever order the worker runs its jobs in.
BEFORE_TIMED_HOOKS: list[BeforeTimedHook] = []


def register_before_timed_hook(hook: BeforeTimedHook) -> None:
    """Add ``hook`` once."""
    if hook not in BEFORE_TIMED_HOOKS:
        BEFORE_TIMED_HOOKS.append(hook)


def register_transition_hook(hook: TransitionHook) -> None:
    """Add ``hook`` once (registering the same function again does nothing)."""
    if hook not in TRANSITION_HOOKS:
        TRANSITION_HOOKS.append(hook)


def perform(
    uow: UnitOfWork,
    actor: Actor | None,
    project_id: int,
    action: str,
    params: dict[str, Any] | None = None,
    *,
    system: bool = False,
) -> engine.Outcome:
    """Try ``action`` on the project as ``actor`` (or the scheduler with ``system=True``)."""
    params = dict(params or {})
    project = get_project(uow, project_id, lock=True)
    procedure = get_procedure(project.procedure_code)
    roles = frozenset({SYSTEM}) if system else project_roles(uow, actor, project)
    before = project_facts(project, uow.now)
    proposed = with_facts(
        before,
        **{k: v for k, v in proposed_changes(uow, project, action, before, params).items() if v is not None},
    )
    checker = checker_for(uow.session)
    outcome = engine.decide(procedure, project.state, engine.Attempt(action, roles, proposed), checker)
    details = dict(outcome.details)
    stored = proposed
    if "suspended_from" in details:
        stored = with_facts(stored, suspended_from=details["suspended_from"])
    elif "resumed_to" in details:
        stored = with_facts(stored, suspended_from=None)
    from_state = project.state
    project.state = outcome.new_state
    project.facts = facts_to_json(stored)
    project.updated_at = uow.now
    if action == "accept":
        project.green_channel = stored.green_channel
        project.accept_with_promise = stored.accept_with_promise
    role = SYSTEM if system else _acting_role(outcome.transition.roles, roles)
    seq = (uow.session.scalar(select(func.max(ProjectEvent.seq)).where(ProjectEvent.project_id == project.id)) or 0) + 1
    data = {
        "code": project.code,
        "action": action,
        "event": outcome.event,
        "from": from_state,
        "to": outcome.new_state,
        "role": role,
        "params": _public_params(params),
        "warnings": [w.code for w in outcome.warnings],
    }
    audit = uow.audit(f"project:{action}", subject_type="project", subject_id=project.id, data=data)
    uow.session.add(
        ProjectEvent(
            project_id=project.id,
            seq=seq,
            action=action,
            event=outcome.event,
            from_state=from_state,
            to_state=outcome.new_state,
            occurred_at=uow.now,
            actor_user_id=None if actor is None else actor.user_id,
            actor_org_id=None if actor is None else actor.org_id,
            actor_role=role,
            data=data,
            ledger_index=audit.ledger_index,
        )
    )
    schedule_timed(uow, project)
    for hook in TRANSITION_HOOKS:
        hook(uow, project, from_state, outcome.new_state, action)
    if action == "confirm_award":
        schedule_contract_reminder(uow, project)
    if outcome.new_state == "archived":
        from sunbid.projects.archive import enqueue_archive

        enqueue_archive(uow, project)
    return outcome


def _acting_role(allowed: frozenset[str], held: frozenset[str]) -> str:
    both = sorted(allowed & held)
    return both[0] if both else "-"


def _public_params(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, datetime):
            out[k] = ensure_utc(v).isoformat()
        elif isinstance(v, Decimal):
            out[k] = str(v)
        elif isinstance(v, str | bool | int) or v is None:
            out[k] = v
        else:
            out[k] = str(v)
    return out


# --- timed transitions -----------------------------------------------------------------------------------


def schedule_timed(uow: UnitOfWork, project: Project) -> None:
    """Put the next timed transition of the project's state in the outbox (once per state and due time)."""
    procedure = get_procedure(project.procedure_code)
    due = engine.next_timed_due(procedure, project.state, project_facts(project, uow.now))
    if due is None:
        return
    available_at = due
    if project.state == "bidding":  # the close of bidding waits for submissions received before the deadline
        available_at = due + timedelta(seconds=uow.platform.settings.submission_settle_seconds)
    uow.enqueue(
        TIMED_TOPIC,
        {"project_id": project.id, "state": project.state, "due": due.isoformat()},
        dedupe_key=f"timed:{project.id}:{project.state}:{due.isoformat()}",
        available_at=available_at,
    )


def fire_timed(uow: UnitOfWork, project_id: int, state: str) -> list[str]:
    """Fire the timed transitions that are due now, if the project is still in ``state``; returns the actions.

    Called by the worker for a ``project.timed`` message. A message for a state the project has left, or a
    deadline that was moved, does nothing — so a message delivered twice never fires twice.
    """
    project = get_project(uow, project_id, lock=True)
    if project.state != state:
        return []
    for hook in BEFORE_TIMED_HOOKS:
        hook(uow, project)
    procedure = get_procedure(project.procedure_code)
    fired = []
    for action in engine.timed_transitions_due(procedure, project.state, project_facts(project, uow.now)):
        perform(uow, None, project.id, action, system=True)
        fired.append(action)
        break  # one step per state: the next state's timer is scheduled by perform()
    return fired


def update_facts(uow: UnitOfWork, project_id: int, reason: str, **changes: Any) -> Project:
    """Record facts that other features own (bids received, valid bids, committee ready …), audited."""
    project = get_project(uow, project_id, lock=True)
    facts = with_facts(project_facts(project, uow.now), **changes)
    project.facts = facts_to_json(facts)
    project.updated_at = uow.now
    uow.audit(
        "project:facts",
        subject_type="project",
        subject_id=project.id,
        data={"code": project.code, "reason": reason, "changes": _public_params(changes)},
    )
    schedule_timed(uow, project)
    return project


# --- contract reminder (T-4) -----------------------------------------------------------------------------


def schedule_contract_reminder(uow: UnitOfWork, project: Project) -> None:
    """25 working days (engineering) or 5 (procurement) after the award notice: remind if no contract."""
    rule_id = "eng.contract_reminder" if project.sector == "engineering" else "gp.contract_reminder"
    facts = project_facts(project, uow.now)
    if facts.award_notice_at is None:
        return
    checker = checker_for(uow.session)
    due = rules.latest_allowed(rules.RuleBook.default().get(rule_id), facts.award_notice_at, checker.calendar)
    due = due - timedelta(days=1) + timedelta(hours=9)  # 09:00 on the last working day of the limit
    uow.enqueue(
        REMINDER_TOPIC,
        {"project_id": project.id, "rule_id": rule_id, "award_notice_at": facts.award_notice_at.isoformat()},
        dedupe_key=f"reminder:{project.id}:{facts.award_notice_at.isoformat()}",
        available_at=due,
    )


# --- documents and objections ----------------------------------------------------------------------------


def add_document(
    uow: UnitOfWork,
    actor: Actor,
    project_id: int,
    *,
    kind: str,
    title: str,
    filename: str,
    content_type: str,
    data: bytes,
    public: bool = True,
) -> ProjectDocument:
    """Store a document of the project; its hash is appended to the transparency log."""
    project = get_project(uow, project_id)
    roles = project_roles(uow, actor, project)
    if not roles & {"tenderer", "agency", "operator"}:
        raise Forbidden("project.not_a_party", "只有项目当事人可以上传文件。", "Only the project's parties may upload.")
    if kind not in DOCUMENT_KINDS:
        raise ValidationFailed("project.bad_document_kind", f"未知的文件类型：{kind}", f"Unknown document kind: {kind}")
    if not data:
        raise ValidationFailed("project.empty_document", "文件为空。", "The file is empty.")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise ValidationFailed("project.document_too_large", "文件过大。", "The file is too large.")
    if project.state in ("archived", "terminated"):
        raise Conflict("project.closed", "项目已结束，不能再上传文件。", "The project is closed.")
    return store_document(
        uow,
        actor,
        project,
        kind=kind,
        title=title.strip() or filename,
        filename=filename,
        content_type=content_type,
        data=data,
        public=public,
    )


def store_document(
    uow: UnitOfWork,
    actor: Actor,
    project: Project,
    *,
    kind: str,
    title: str,
    filename: str,
    content_type: str,
    data: bytes,
    public: bool,
) -> ProjectDocument:
    """Store a document of the project and append its hash to the transparency log (callers check who may)."""
    digest = hashlib.sha256(data).hexdigest()
    key = f"projects/{project.id}/{digest}"
    uow.platform.storage.put(key, data)
    doc = ProjectDocument(
        project_id=project.id,
        kind=kind,
        title=title,
        filename=filename[:300],
        content_type=content_type[:100] or "application/octet-stream",
        size=len(data),
        sha256=digest,
        storage_key=key,
        public=public,
        uploaded_at=uow.now,
        uploaded_by_user_id=actor.user_id,
    )
    uow.session.add(doc)
    uow.session.flush()
    audit = uow.audit(
        "document:upload",
        subject_type="project",
        subject_id=project.id,
        data={
            "code": project.code,
            "document_id": doc.id,
            "kind": kind,
            "filename": doc.filename,
            "sha256": digest,
            "size": len(data),
        },
    )
    doc.ledger_index = audit.ledger_index
    return doc


DOCUMENT_KINDS = {
    "tender_documents": ("招标（采购）文件", "tender documents"),
    "announcement": ("公告", "announcement"),
    "amendment": ("澄清或修改", "clarification or amendment"),
    "objection_reply": ("异议答复", "objection reply"),
    "evaluation_report": ("评标报告", "evaluation report"),
    "award_notice": ("中标通知书", "award notice"),
    "contract": ("合同", "contract"),
    "other": ("其他", "other"),
}


def raise_objection(uow: UnitOfWork, actor: Actor, project_id: int, *, text: str) -> Objection:
    """A (potential) bidder objects to the documents or to the result; the procedure is suspended."""
    if not text.strip():
        raise ValidationFailed("objection.text_required", "请填写异议内容。", "Write the objection.")
    project = get_project(uow, project_id, lock=True)
    kind = "result" if project.state == "publicity" else "documents"
    bidder_org = next((int(m.org_id) for m in actor.principal.memberships if m.role is Role.BIDDER), None)
    if bidder_org is None:
        raise Forbidden("objection.not_a_bidder", "只有投标人可以提出异议。", "Only bidders may object.")
    perform(uow, actor, project_id, "raise_objection", {"kind": kind})
    checker = checker_for(uow.session)
    rule = rules.RuleBook.default().get(
        "eng.objection_reply" if project.sector == "engineering" else "gp.challenge_reply"
    )
    obj = Objection(
        project_id=project.id,
        kind=kind,
        org_id=bidder_org,
        user_id=actor.user_id,
        text=text.strip(),
        raised_at=uow.now,
        reply_due_at=rules.latest_allowed(rule, uow.now, checker.calendar),
        status="open",
    )
    uow.session.add(obj)
    uow.session.flush()
    uow.audit(
        "objection:raise",
        subject_type="project",
        subject_id=project.id,
        data={"objection_id": obj.id, "kind": kind, "org_id": bidder_org},
    )
    return obj


def answer_objection(uow: UnitOfWork, actor: Actor, objection_id: int, *, reply: str, upheld: bool) -> Objection:
    obj = uow.session.get(Objection, objection_id)
    if obj is None:
        raise NotFound("objection.not_found", "异议不存在。", "Objection not found.")
    if obj.status != "open":
        raise Conflict("objection.answered", "该异议已答复。", "This objection has been answered.")
    if not reply.strip():
        raise ValidationFailed("objection.reply_required", "请填写答复内容。", "Write the reply.")
    perform(uow, actor, obj.project_id, "answer_objection", {"objection_id": obj.id, "upheld": upheld})
    obj.reply, obj.replied_at, obj.replied_by_user_id = reply.strip(), uow.now, actor.user_id
    obj.upheld, obj.status = upheld, "answered"
    uow.audit(
        "objection:answer",
        subject_type="project",
        subject_id=obj.project_id,
        data={"objection_id": obj.id, "upheld": upheld},
    )
    return obj
