"""The evaluation report (SPEC E-5): members' signing certificates, the PDF, signatures in order, submission.

* :func:`register_certificate` — each member sends the public half of a signing key he generated himself; the
  centre CA issues him a personal signing certificate for this evaluation (stored on his committee seat, not in
  the organisations' certificate table, so it can never be used to log in). Its fingerprint goes into the report.
* :func:`build` — once every member has submitted, the group leader (or the centre) builds the report at
  ``uow.now`` (:func:`build_report`, :func:`render_report_pdf`); it is kept in storage, not yet a project document.
* Members sign **client-side**: ``sunbid calc sign-report report.pdf --bundle me.p12 --out signed.pdf`` (the
  private key never reaches the server) and upload the result with :func:`upload_signed`. The server accepts it
  only if it extends the stored revision byte for byte, verifies (:func:`verify_report`, revoked serials from the
  certificate table) with exactly one more signature, and that signature is the uploader's, in turn (leader
  first, then the committee order).
* When the last member has signed, the PDF becomes a non-public project document (``evaluation_report``, hash in
  the transparency log) and the lifecycle's ``submit_report`` is performed; the tender side may then
  :func:`publish` the candidates (``publish_candidates`` with ``report.publicity()``).
"""

from __future__ import annotations

import hashlib
import secrets
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from sunbid.core.errors import Conflict, Forbidden, ValidationFailed
from sunbid.crypto.certificates import Subject, verify_certificate
from sunbid.evaluation.methods import dec_text
from sunbid.evaluation.models import Evaluation
from sunbid.evaluation.objective import objective_points
from sunbid.evaluation.pdfsign import verify_report
from sunbid.evaluation.report import render_report_pdf
from sunbid.evaluation.report_model import (
    CommitteeMember,
    DeviationNote,
    FactCorrection,
    OpenedBid,
    build_report,
    merge_sections,
)
from sunbid.evaluation.scoring import ExpertScore, detect_deviations, evaluate
from sunbid.evaluation.service import _centre_org, evaluation_of, member_of, members_of, method_of, require_member
from sunbid.evaluation.service_scoring import (
    _interventions,
    _scores,
    corrections_of,
    member_key,
    objective_results,
    opened_lots,
    prices_of,
    result_sections,
)
from sunbid.identity.models import Certificate, Organisation
from sunbid.identity.service import Actor
from sunbid.opening.models import OpeningSession
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project
from sunbid.projects.service import DOCUMENT_KINDS

__all__ = [
    "CERTIFICATE_DAYS",
    "build",
    "candidates_view",
    "publish",
    "register_certificate",
    "report_pdf",
    "upload_signed",
]

CERTIFICATE_DAYS = 30
MAX_PDF_BYTES = 64 << 20


def register_certificate(uow: UnitOfWork, actor: Actor, project_id: int, signing_public_key: bytes) -> str:
    """Issue the member a personal signing certificate (PEM) for ``signing_public_key``, before the report."""
    project = projects.get_project(uow, project_id)
    member = require_member(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    if evaluation.report_key is not None:
        raise Conflict(
            "evaluation.report_built", "评标报告已生成，不能更换签名证书。", "The report exists: no new certificate."
        )
    centre = _centre_org(uow)
    platform = uow.platform
    serial = secrets.randbits(63) | (1 << 62)
    subject = Subject(
        common_name=member.name[:64],
        organisation_name=str(centre.name)[:64],
        uscc=str(centre.uscc),
        organisational_unit="评标委员会成员",
    )
    pem = platform.ca().issue(
        subject, signing_public_key, usage="signing", serial=serial, now=uow.now, validity_days=CERTIFICATE_DAYS
    )
    info = verify_certificate(platform.suite, platform.ca().certificate_pem, pem, now=uow.now, usage="signing")
    member.certificate_serial = format(serial, "x")
    member.certificate_pem = pem
    member.certificate_fingerprint = info.fingerprint
    uow.audit(
        "evaluation:member:certificate",
        subject_type="project",
        subject_id=project.id,
        data={"code": project.code, "member": member.seq, "serial": member.certificate_serial, "fp": info.fingerprint},
    )
    return pem


def _report_key(project: Project, n: int, data: bytes) -> str:
    return f"evaluations/{project.id}/report-{n}-{hashlib.sha256(data).hexdigest()[:16]}.pdf"


def build(uow: UnitOfWork, actor: Actor, project_id: int) -> dict[str, Any]:
    """Build the report PDF from the stored scores (group leader or centre staff), once every member submitted."""
    project = projects.get_project(uow, project_id, lock=True)
    roles = projects.project_roles(uow, actor, project)
    evaluation = evaluation_of(uow, project.id, lock=True)
    if "operator" not in roles:
        member = require_member(uow, actor, project)
        if not member.leader:
            raise Forbidden("evaluation.leader_only", "评标报告由评标组长生成。", "The group leader builds the report.")
    if evaluation.state != "scored":
        raise Conflict(
            "evaluation.not_scored",
            "全体成员提交评分后才能生成评标报告。",
            "The report is built once every member has submitted.",
        )
    members = members_of(uow, evaluation)
    unsigned = [m.seq for m in members if not m.certificate_fingerprint]
    if unsigned:
        raise Conflict(
            "evaluation.certificates_missing",
            f"成员 {'、'.join(map(str, unsigned))} 尚未登记签名证书。",
            f"Members {unsigned} have no signing certificate yet.",
        )
    method = method_of(uow, project.id)
    keys = {m.id: member_key(m) for m in members}
    all_rows = _scores(uow, evaluation, members)
    explained = {
        (i.section, keys[i.member_id], i.bidder, i.item, i.score): i.reason or ""
        for i in _interventions(uow, evaluation)
        if i.status == "explained"
    }
    session = uow.session.scalar(
        select(OpeningSession).where(OpeningSession.project_id == project.id).order_by(OpeningSession.round.desc())
    )
    tenderer = uow.session.get(Organisation, project.tenderer_org_id)
    committee = [
        CommitteeMember(
            id=keys[m.id],
            name=m.name,
            role="expert" if m.role == "expert" else "representative",
            leader=m.leader,
            certificate_fingerprint=m.certificate_fingerprint or "",
        )
        for m in members
    ]
    parts = []
    for lot in opened_lots(uow, project):  # one chapter per section, each evaluated on its own
        code = lot.section.code
        prices = prices_of(method, lot)
        rows = [r for r in all_rows if r.section == code]
        scores = [ExpertScore(keys[r.member_id], r.bidder, r.item, Decimal(r.score)) for r in rows if not r.objective]
        facts = objective_results(uow, evaluation, method, lot, sorted(ln.bidder for ln in prices.lines))
        result = evaluate(method, prices, scores, objective_points(facts), experts=[keys[m.id] for m in members])
        notes = []
        if method.deviation is not None:
            for d in detect_deviations(method.deviation, method.items, scores):
                why = explained.get((code, d.expert, d.bidder, d.item, dec_text(d.score)), "")
                notes.append(DeviationNote(d, why))
        opening = [
            OpenedBid(
                uscc,
                Decimal(str(ob.price)),
                _remark(ob.duration_days, ob.quality),
            )
            for uscc, ob in sorted(lot.bids.items())
            if ob.price is not None
        ]
        parts.append(
            build_report(
                project_code=project.code,
                project_name=project.name,
                section_code=code,
                section_name=lot.section.name,
                tenderer="" if tenderer is None else str(tenderer.name),
                method=method,
                prices=prices,
                evaluation=result,
                scores=scores,
                committee=committee,
                opening=opening,
                issued_at=uow.now,
                bidder_names=lot.names,
                deviations=notes,
                fact_corrections=[
                    FactCorrection(c.bidder, c.field, c.declared, c.value, c.reason, keys[c.member_id], c.corrected_at)
                    for c in corrections_of(uow, evaluation, code)
                ],
                opened_at=None if session is None else session.published_at,
                conclusion="评标委员会按招标文件规定的评标办法完成评审，推荐中标候选人如上。",
            )
        )
    report = merge_sections(parts)
    pdf = render_report_pdf(report)
    key = _report_key(project, 0, pdf)
    uow.platform.storage.put(key, pdf)
    evaluation.report_key = key
    evaluation.report_sha256 = report.content_sha256
    evaluation.report_built_at = uow.now
    evaluation.signatures = 0
    evaluation.candidates = report.publicity()
    evaluation.state = "signing"
    uow.audit(
        "evaluation:report:build",
        subject_type="project",
        subject_id=project.id,
        data={
            "code": project.code,
            "content_sha256": report.content_sha256,
            "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
            "candidates": list(report.candidates),
        },
    )
    return {"content_sha256": report.content_sha256, "signing_order": [m.id for m in report.signing_order]}


def _remark(duration_days: int | None, quality: str | None) -> str:
    parts = [f"工期 {duration_days} 日历天" if duration_days else "", quality or ""]
    return "；".join(x for x in parts if x)


def _pdf(uow: UnitOfWork, evaluation: Evaluation) -> bytes:
    assert evaluation.report_key is not None
    with uow.platform.storage.open(evaluation.report_key) as f:
        return f.read()


def report_pdf(uow: UnitOfWork, actor: Actor, project_id: int) -> bytes:
    """The report as it stands: for members, the centre and the regulator while it is being signed; for the
    tenderer and agency only once submitted."""
    project = projects.get_project(uow, project_id)
    roles = projects.project_roles(uow, actor, project)
    evaluation = evaluation_of(uow, project.id)
    if evaluation.report_key is None:
        raise Conflict("evaluation.no_report", "评标报告尚未生成。", "The report has not been built yet.")
    if not roles & {"operator", "regulator"} and member_of(uow, actor, project) is None:
        if roles & {"tenderer", "agency"}:
            if evaluation.submitted_at is None:
                raise Forbidden(
                    "evaluation.report_not_submitted",
                    "评标报告提交后招标人方可查看。",
                    "The tender side sees the report once it is submitted.",
                )
        else:
            raise Forbidden("evaluation.forbidden", "无权查看评标报告。", "You may not see the report.")
    uow.audit("evaluation:report:read", subject_type="project", subject_id=project.id, data={"code": project.code})
    return _pdf(uow, evaluation)


def _revoked(uow: UnitOfWork) -> set[int]:
    return {int(s, 16) for s in uow.session.scalars(select(Certificate.serial).where(Certificate.status == "revoked"))}


def upload_signed(uow: UnitOfWork, actor: Actor, project_id: int, pdf: bytes) -> dict[str, Any]:
    """Accept the report with the uploader's signature added (his turn, verified); submit when complete."""
    project = projects.get_project(uow, project_id, lock=True)
    member = require_member(uow, actor, project)
    evaluation = evaluation_of(uow, project.id, lock=True)
    if evaluation.state != "signing" or evaluation.report_key is None:
        raise Conflict("evaluation.not_signing", "评标报告当前不在签署阶段。", "The report is not being signed.")
    if len(pdf) > MAX_PDF_BYTES:
        raise ValidationFailed("report.too_large", "评标报告文件过大", "the report file is too large")
    current = _pdf(uow, evaluation)
    if len(pdf) <= len(current) or pdf[: len(current)] != current:
        raise ValidationFailed(
            "evaluation.not_an_update",
            "上传的文件须是在当前评标报告上追加签名的版本（增量更新）。",
            "The upload must be the current report with a signature appended (incremental update).",
        )
    platform = uow.platform
    status = verify_report(
        pdf, ca_cert_pem=platform.ca().certificate_pem, suite=platform.suite.name, revoked_serials=_revoked(uow)
    )
    if not status.ok or status.content_sha256 != evaluation.report_sha256:
        problems = [p.to_dict() for p in status.problems]
        raise ValidationFailed(
            "evaluation.signature_refused",
            "签署后的评标报告未通过校验：" + "；".join(p.message_zh for p in status.problems),
            "The signed report does not verify: " + "; ".join(p.message_en for p in status.problems),
            details={"problems": problems},
        )
    if len(status.signatures) != evaluation.signatures + 1:
        raise ValidationFailed(
            "evaluation.one_signature", "每次只能追加一个签名。", "Add exactly one signature per upload."
        )
    last = status.signatures[-1]
    if last.certificate_fingerprint != member.certificate_fingerprint:
        raise Forbidden(
            "evaluation.not_your_signature",
            "新增签名不是您的签名证书所签。",
            "The new signature is not made with your signing certificate.",
        )
    key = _report_key(project, len(status.signatures), pdf)
    platform.storage.put(key, pdf)
    evaluation.report_key = key
    evaluation.signatures = len(status.signatures)
    member.signed_report_at = uow.now
    uow.audit(
        "evaluation:report:sign",
        subject_type="project",
        subject_id=project.id,
        data={
            "code": project.code,
            "member": member.seq,
            "signature": len(status.signatures),
            "pdf_sha256": hashlib.sha256(pdf).hexdigest(),
        },
    )
    if status.complete:
        _submit(uow, actor, project, evaluation, pdf)
    return {"signatures": evaluation.signatures, "complete": status.complete, "state": evaluation.state}


def _submit(uow: UnitOfWork, actor: Actor, project: Project, evaluation: Evaluation, pdf: bytes) -> None:
    """The fully signed report becomes a non-public project document; ``submit_report`` is performed."""
    doc = projects.store_document(
        uow,
        actor,
        project,
        kind="evaluation_report",
        title=f"{DOCUMENT_KINDS['evaluation_report'][0]}（{project.code}）",
        filename=f"评标报告-{project.code}.pdf",
        content_type="application/pdf",
        data=pdf,
        public=False,
    )
    evaluation.report_document_id = doc.id
    evaluation.submitted_at = uow.now
    evaluation.state = "submitted"
    valid = sum(len(p.get("evaluation", {}).get("rows", [])) for p in result_sections(evaluation.result))
    projects.update_facts(uow, project.id, "评标报告签署完成", valid_bids=valid)
    projects.perform(uow, actor, project.id, "submit_report")


def publish(uow: UnitOfWork, actor: Actor, project_id: int) -> list[dict[str, Any]]:
    """The tender side publishes the report's candidates (``publish_candidates``, 中标候选人公示)."""
    project = projects.get_project(uow, project_id)
    evaluation = evaluation_of(uow, project.id, lock=True)
    if evaluation.state != "submitted":
        raise Conflict("evaluation.not_submitted", "评标报告尚未提交。", "The report has not been submitted.")
    projects.perform(uow, actor, project.id, "publish_candidates")
    evaluation.state = "published"
    evaluation.published_at = uow.now
    uow.audit(
        "evaluation:candidates:publish",
        subject_type="project",
        subject_id=project.id,
        data={"code": project.code, "candidates": evaluation.candidates},
    )
    return list(evaluation.candidates or [])


def candidates_view(uow: UnitOfWork, project_id: int) -> dict[str, Any]:
    """The published candidates (public); before publication nobody outside sees anything of the evaluation."""
    project = projects.get_project(uow, project_id)
    evaluation = uow.session.scalar(select(Evaluation).where(Evaluation.project_id == project.id))
    if evaluation is None or evaluation.published_at is None:
        raise Forbidden(
            "evaluation.not_published", "中标候选人尚未公示。", "The candidates have not been published yet."
        )
    return {
        "project": project.code,
        "published_at": evaluation.published_at.isoformat(),
        "candidates": evaluation.candidates or [],
    }
