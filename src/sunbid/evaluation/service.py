"""Evaluation set-up (SPEC E-3, E-8): the method, the committee, one-time access, sign-in 签到, the group leader.

1. :func:`attach_method` — before the bid deadline the agency (or the centre) attaches the evaluation method
   (``sunbid.evaluation-method/1``, validated by :func:`load_method_json`); its SHA-256 is stored and the file is
   published with the tender documents (a public project document, hash in the transparency log).
2. :func:`form_committee` — from the start of evaluation the centre forms the committee: the confirmed experts of
   the project's expert draw (their identities unsealed, audited: ``expert:panel:contacts``) plus the tenderer's
   representatives (platform users the tenderer names), checked with :func:`ensure_committee`. Each member gets a
   platform user (created for an expert if needed) with an EXPERT membership scoped to this project only, and
   experts receive a one-time access code through the notifier (SMS and e-mail).
3. :func:`redeem_access` — the expert sets a password with the code (valid ``access_hours``, used once).
4. :func:`sign_in` — each member, logged in, checks in (签到, time recorded); :func:`record_leader` records the
   group leader the members elected. Once everybody has signed in and a leader is known, the project's
   ``committee_ready`` fact is set and ``start_evaluation`` may be performed.

Scoring is in :mod:`sunbid.evaluation.service_scoring`, the report in :mod:`sunbid.evaluation.service_report`.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.evaluation.committee import Member, ensure_committee
from sunbid.evaluation.methods import EvaluationMethod, load_method_json
from sunbid.evaluation.models import CommitteeMemberRow, Evaluation, EvaluationMethodDoc
from sunbid.experts import service as experts
from sunbid.experts.models import ExpertDraw
from sunbid.identity import service as identity
from sunbid.identity.domain import Role
from sunbid.identity.models import Membership, Organisation, User
from sunbid.identity.passwords import hash_password
from sunbid.identity.regions import code_contains
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts

__all__ = [
    "ACCESS_HOURS",
    "attach_method",
    "committee_view",
    "evaluation_of",
    "form_committee",
    "member_of",
    "method_of",
    "record_leader",
    "redeem_access",
    "regulator_user_ids",
    "sign_in",
]

ACCESS_HOURS = 24
MAX_METHOD_BYTES = 256 * 1024
CLOSED_FOR_METHOD = frozenset(
    {"opening", "opened", "evaluation", "reported", "publicity", "awarded", "contracted", "archived", "failed"}
)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _roles(uow: UnitOfWork, actor: Actor | None, project: Project) -> frozenset[str]:
    return projects.project_roles(uow, actor, project)


def _require(uow: UnitOfWork, actor: Actor, project: Project, allowed: set[str], what_zh: str, what_en: str) -> None:
    if not _roles(uow, actor, project) & allowed:
        raise Forbidden("evaluation.forbidden", f"无权{what_zh}。", f"You may not {what_en}.")


# --- the method --------------------------------------------------------------------------------------------


def attach_method(uow: UnitOfWork, actor: Actor, project_id: int, method_json: str | bytes) -> EvaluationMethodDoc:
    """Attach (or replace) the project's evaluation method before the bid deadline; published, hash logged."""
    project = projects.get_project(uow, project_id, lock=True)
    _require(uow, actor, project, {"agency", "operator", "tenderer"}, "设置评标办法", "set the evaluation method")
    data = method_json.encode("utf-8") if isinstance(method_json, str) else method_json
    if len(data) > MAX_METHOD_BYTES:
        raise ValidationFailed("evaluation.method_too_large", "评标办法文件过大。", "The method file is too large.")
    method = load_method_json(data)
    if method.sector != project.sector:
        raise ValidationFailed(
            "evaluation.method_sector",
            "评标办法的领域与项目不一致（工程建设或政府采购）。",
            "The method is for another sector than the project.",
        )
    deadline = project_facts(project, uow.now).bid_deadline
    if (deadline is not None and uow.now >= deadline) or project.state in CLOSED_FOR_METHOD:
        raise Conflict(
            "evaluation.method_too_late",
            "投标截止后不得设置或修改评标办法。",
            "The evaluation method cannot be set or changed after the bid deadline.",
        )
    digest = hashlib.sha256(data).hexdigest()
    doc = projects.add_document(
        uow,
        actor,
        project.id,
        kind="tender_documents",
        title=f"评标办法：{method.name_zh}",
        filename=f"评标办法-{method.id}.json",
        content_type="application/json",
        data=data,
        public=True,
    )
    row = uow.session.scalar(select(EvaluationMethodDoc).where(EvaluationMethodDoc.project_id == project.id))
    if row is None:
        row = EvaluationMethodDoc(project_id=project.id)
        uow.session.add(row)
    row.method_id = method.id
    row.method_json = data.decode("utf-8")
    row.sha256 = digest
    row.document_id = doc.id
    row.attached_at = uow.now
    row.attached_by_user_id = actor.user_id
    uow.session.flush()
    uow.audit(
        "evaluation:method:attach",
        subject_type="project",
        subject_id=project.id,
        data={"code": project.code, "method": method.id, "sha256": digest, "document_id": doc.id},
    )
    return row


def method_row(uow: UnitOfWork, project_id: int) -> EvaluationMethodDoc:
    row = uow.session.scalar(select(EvaluationMethodDoc).where(EvaluationMethodDoc.project_id == project_id))
    if row is None:
        raise NotFound("evaluation.no_method", "该项目尚未设置评标办法。", "The project has no evaluation method.")
    return row


def method_of(uow: UnitOfWork, project_id: int) -> EvaluationMethod:
    """The project's method, re-validated from the stored JSON (its hash must still match)."""
    row = method_row(uow, project_id)
    if hashlib.sha256(row.method_json.encode("utf-8")).hexdigest() != row.sha256:
        from sunbid.core.errors import IntegrityFailure

        raise IntegrityFailure(
            "evaluation.method_tampered", "评标办法与登记的哈希不一致。", "The stored method does not match its hash."
        )
    return load_method_json(row.method_json)


# --- the committee -----------------------------------------------------------------------------------------


def evaluation_of(uow: UnitOfWork, project_id: int, *, lock: bool = False) -> Evaluation:
    stmt = select(Evaluation).where(Evaluation.project_id == project_id)
    if lock and uow.session.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    row = uow.session.scalar(stmt)
    if row is None:
        raise NotFound("evaluation.not_formed", "评标委员会尚未组建。", "The committee has not been formed yet.")
    return row


def members_of(uow: UnitOfWork, evaluation: Evaluation) -> list[CommitteeMemberRow]:
    return list(
        uow.session.scalars(
            select(CommitteeMemberRow)
            .where(CommitteeMemberRow.evaluation_id == evaluation.id)
            .order_by(CommitteeMemberRow.seq)
        )
    )


def member_of(uow: UnitOfWork, actor: Actor | None, project: Project) -> CommitteeMemberRow | None:
    """The caller's committee seat in this project, if the caller holds the project-scoped EXPERT role."""
    if actor is None or "expert" not in _roles(uow, actor, project):
        return None
    evaluation = uow.session.scalar(select(Evaluation).where(Evaluation.project_id == project.id))
    if evaluation is None:
        return None
    return uow.session.scalar(
        select(CommitteeMemberRow).where(
            CommitteeMemberRow.evaluation_id == evaluation.id, CommitteeMemberRow.user_id == actor.user_id
        )
    )


def require_member(uow: UnitOfWork, actor: Actor, project: Project) -> CommitteeMemberRow:
    member = member_of(uow, actor, project)
    if member is None:
        raise Forbidden(
            "evaluation.not_a_member",
            "只有本项目评标委员会成员可以进行此操作。",
            "Only members of this project's committee may do this.",
        )
    return member


def _centre_org(uow: UnitOfWork) -> Organisation:
    org = uow.session.get(Organisation, identity.centre_org_id(uow.session))
    assert org is not None
    return org


def _grant(uow: UnitOfWork, user: User, project: Project) -> None:
    """Add this project to the user's EXPERT membership at the centre (created if needed)."""
    centre = _centre_org(uow)
    m = uow.session.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.org_id == centre.id, Membership.role == Role.EXPERT.value
        )
    )
    if m is None:
        identity.add_membership(uow, user=user, org=centre, role="expert", project_ids=[project.id])
        return
    ids = [int(p) for p in (m.project_ids or [])]
    if project.id not in ids:
        m.project_ids = [*ids, project.id]


def form_committee(
    uow: UnitOfWork,
    actor: Actor,
    project_id: int,
    *,
    draw_id: int,
    representatives: Sequence[str] = (),
    access_hours: int = ACCESS_HOURS,
) -> Evaluation:
    """Form the committee from the confirmed experts of ``draw_id`` plus the tenderer's representatives.

    Centre staff only, from the evaluation start of the draw (the experts' identities are unsealed here, audited).
    ``representatives`` are usernames of the tenderer's (purchaser's) staff. Refused if the composition breaks
    the rules (``committee.*``) or a committee exists already (``evaluation.already_formed``).
    """
    project = projects.get_project(uow, project_id, lock=True)
    _require(uow, actor, project, {"operator"}, "组建评标委员会", "form the committee")
    if project.state not in {"opened", "evaluation"}:
        raise Conflict(
            "evaluation.not_opened", "开标结束后才能组建评标委员会。", "The committee is formed after the opening."
        )
    if uow.session.scalar(select(Evaluation.id).where(Evaluation.project_id == project.id)) is not None:
        raise Conflict("evaluation.already_formed", "评标委员会已组建。", "The committee has already been formed.")
    method = method_of(uow, project.id)
    draw = uow.session.get(ExpertDraw, draw_id)
    if draw is None or draw.project_id != project.id:
        raise NotFound("evaluation.draw_not_found", "该项目没有此专家抽取。", "No such expert draw for this project.")
    experts.unseal(uow, draw_id)  # audited; publishes the draw record the first time
    contacts = experts.committee_contacts(uow, draw_id)
    reps: list[User] = []
    for username in dict.fromkeys(representatives):
        user = uow.session.scalar(select(User).where(User.username == username))
        held = (
            set()
            if user is None
            else set(
                uow.session.scalars(
                    select(Membership.role).where(
                        Membership.user_id == user.id,
                        Membership.org_id == project.tenderer_org_id,
                        Membership.role.in_([Role.TENDERER.value, Role.ADMIN.value]),
                    )
                )
            )
        )
        if user is None or not held:
            raise ValidationFailed(
                "evaluation.bad_representative",
                f"{username} 不是招标人（采购人）的人员，不能担任招标人代表。",
                f"{username} is not staff of the tenderer and cannot be its representative.",
            )
        reps.append(user)
    composition = [Member(c["code"], "expert") for c in contacts]
    composition += [Member(f"rep:{u.id}", "representative") for u in reps]
    ensure_committee(composition, sector=method.sector, budget=getattr(project, "budget", None))
    evaluation = Evaluation(project_id=project.id, draw_id=draw_id, state="signin", formed_at=uow.now, signatures=0)
    uow.session.add(evaluation)
    uow.session.flush()
    seq = 0
    codes: list[tuple[User, str]] = []
    for c in contacts:
        seq += 1
        username = f"expert-{str(c['code']).lower()}"
        user = uow.session.scalar(select(User).where(User.username == username))
        if user is None:
            user = identity.create_user(
                uow,
                username=username,
                display_name=str(c["name"]),
                password=None,
                phone=c.get("phone"),
                email=c.get("email"),
            )
        else:
            user.phone, user.email = c.get("phone") or user.phone, c.get("email") or user.email
        _grant(uow, user, project)
        code = secrets.token_hex(5).upper()
        uow.session.add(
            CommitteeMemberRow(
                evaluation_id=evaluation.id,
                seq=seq,
                user_id=user.id,
                role="expert",
                expert_code=str(c["code"]),
                name=str(c["name"])[:64],
                leader=False,
                access_digest=_digest(code),
                access_expires_at=uow.now + timedelta(hours=access_hours),
            )
        )
        codes.append((user, code))
    for user in reps:
        seq += 1
        _grant(uow, user, project)
        uow.session.add(
            CommitteeMemberRow(
                evaluation_id=evaluation.id,
                seq=seq,
                user_id=user.id,
                role="representative",
                name=user.display_name[:64],
                leader=False,
            )
        )
    uow.session.flush()
    for user, code in codes:
        uow.platform.notifier.notify(
            uow,
            user_ids=[user.id],
            kind="evaluation.access",
            subject_zh=f"项目 {project.code} 评标系统登录",
            body_zh=(
                f"您是项目 {project.code} 的评标委员会成员。登录名 {user.username}，一次性访问码 {code}，"
                f"请在 {access_hours} 小时内访问 /evaluation/access 设置密码后登录并签到。请勿向他人透露。"
            ),
            subject_en=f"Evaluation access for project {project.code}",
            body_en=(
                f"You are on the evaluation committee of {project.code}. User {user.username}, one-time code "
                f"{code}: open /evaluation/access within {access_hours} h to set a password, sign in and check in."
            ),
            channels=("sms", "email"),
            dedupe=f"evaluation-access:{evaluation.id}:{user.id}",
        )
    uow.audit(
        "evaluation:committee:form",
        subject_type="project",
        subject_id=project.id,
        data={
            "code": project.code,
            "draw_id": draw_id,
            "experts": [c["code"] for c in contacts],
            "representatives": [u.username for u in reps],
        },
    )
    return evaluation


def redeem_access(uow: UnitOfWork, username: str, code: str, new_password: str) -> User:
    """An expert's one-time access code: sets the password (the code is then spent)."""
    user = uow.session.scalar(select(User).where(User.username == username.strip()))
    refused = ValidationFailed(
        "evaluation.bad_access_code", "登录名或访问码不正确，或已失效。", "Wrong or expired user or access code."
    )
    if user is None:
        raise refused
    row = uow.session.scalar(
        select(CommitteeMemberRow).where(
            CommitteeMemberRow.user_id == user.id, CommitteeMemberRow.access_digest == _digest(code.strip().upper())
        )
    )
    if row is None or row.access_expires_at is None or uow.now >= row.access_expires_at:
        uow.audit("evaluation:access:refused", subject_type="user", subject_id=user.id, data={})
        uow.commit()  # the refusal stays on record (as refused certificate logins do)
        raise refused
    if len(new_password) < 10:
        raise ValidationFailed("evaluation.weak_password", "密码至少 10 位。", "The password needs 10 characters.")
    user.password_hash = hash_password(new_password)
    row.access_digest = None
    row.access_expires_at = None
    uow.audit("evaluation:access:redeemed", subject_type="user", subject_id=user.id, data={"member": row.id})
    return user


def _check_ready(uow: UnitOfWork, project: Project, evaluation: Evaluation) -> None:
    members = members_of(uow, evaluation)
    ready = all(m.signed_in_at is not None for m in members) and sum(m.leader for m in members) == 1
    if ready and not project_facts(project, uow.now).committee_ready:
        projects.update_facts(uow, project.id, "评标委员会成员全部签到并推选组长", committee_ready=True)


def sign_in(uow: UnitOfWork, actor: Actor, project_id: int) -> CommitteeMemberRow:
    """签到: a member, signed in to the platform (identity confirmed by login), checks in; the time is recorded."""
    project = projects.get_project(uow, project_id, lock=True)
    member = require_member(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    if member.signed_in_at is None:
        member.signed_in_at = uow.now
        uow.audit(
            "evaluation:member:sign_in",
            subject_type="project",
            subject_id=project.id,
            data={"code": project.code, "member": member.seq, "method": actor.auth_method},
        )
    _check_ready(uow, project, evaluation)
    return member


def record_leader(uow: UnitOfWork, actor: Actor, project_id: int, member_seq: int) -> CommitteeMemberRow:
    """Record the group leader 组长 the members elected (centre staff, before scoring starts)."""
    project = projects.get_project(uow, project_id, lock=True)
    _require(uow, actor, project, {"operator"}, "登记评标组长", "record the group leader")
    evaluation = evaluation_of(uow, project.id)
    if evaluation.report_key is not None:
        raise Conflict("evaluation.report_built", "评标报告已生成，不能更换组长。", "The report exists already.")
    members = members_of(uow, evaluation)
    chosen = next((m for m in members if m.seq == member_seq), None)
    if chosen is None:
        raise NotFound("evaluation.no_member", "没有该成员。", "No such member.")
    if chosen.role != "expert":
        raise ValidationFailed(
            "evaluation.leader_expert", "评标组长须由评标专家担任。", "The group leader must be an expert."
        )
    for m in members:
        m.leader = m.id == chosen.id
    uow.audit(
        "evaluation:leader",
        subject_type="project",
        subject_id=project.id,
        data={"code": project.code, "member": chosen.seq},
    )
    _check_ready(uow, project, evaluation)
    return chosen


def committee_view(uow: UnitOfWork, actor: Actor, project_id: int) -> dict[str, Any]:
    """The committee for its members, the centre, the regulator and (from the evaluation) the tender side."""
    project = projects.get_project(uow, project_id)
    roles = _roles(uow, actor, project)
    if not roles & {"operator", "regulator", "expert"}:
        raise Forbidden("evaluation.forbidden", "无权查看评标委员会。", "You may not see the committee.")
    if "expert" in roles and not roles & {"operator", "regulator"}:
        require_member(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    return {
        "project": project.code,
        "state": evaluation.state,
        "committee_ready": project_facts(project, uow.now).committee_ready,
        "members": [
            {
                "seq": m.seq,
                "name": m.name,
                "role": m.role,
                "expert_code": m.expert_code,
                "leader": m.leader,
                "signed_in_at": None if m.signed_in_at is None else m.signed_in_at.isoformat(),
                "submitted": m.submitted_at is not None,
                "certificate": m.certificate_fingerprint,
                "signed_report": m.signed_report_at is not None,
            }
            for m in members_of(uow, evaluation)
        ],
    }


def regulator_user_ids(uow: UnitOfWork, project: Project) -> list[int]:
    """Users of the regulators competent for the project (its region and sector)."""
    rows = uow.session.execute(
        select(Membership.user_id, Membership.sectors, Organisation.region_code)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(Membership.role == Role.REGULATOR.value, Organisation.status == "active")
    ).all()
    return sorted(
        {
            int(uid)
            for uid, sectors, region in rows
            if region and code_contains(region, project.region_code) and project.sector in (sectors or [])
        }
    )
