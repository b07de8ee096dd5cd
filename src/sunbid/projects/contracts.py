"""Award and contract: winner confirmation, online contract signing with both parties' certificate keys,
publication (SPEC C-1)."""

from __future__ import annotations

import base64
import binascii
import html
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from sunbid.core.clock import to_local
from sunbid.core.errors import Conflict, Forbidden, Unauthenticated, ValidationFailed
from sunbid.crypto.certificates import verify_certificate
from sunbid.identity.domain import Role
from sunbid.identity.models import Certificate, Organisation
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import ContractSignature, Project, ProjectDocument
from sunbid.projects.service import add_document, get_project, money, perform, project_roles
from sunbid.projects.timing import facts_to_json, project_facts, with_facts

CONTRACT_CONTEXT = "sunbid-contract-v1"


def contract_message(project: Project, document: ProjectDocument) -> str:
    """The exact text each party signs: the project and the SHA-256 of the contract document."""
    return f"{CONTRACT_CONTEXT}|{project.code}|{document.sha256}"


def confirm_award(uow: UnitOfWork, actor: Actor, project_id: int, *, winner_org_id: int, amount: Any) -> Project:
    """The tenderer confirms the winner (定标) and the award notice (中标通知书) is issued."""
    winner = uow.session.get(Organisation, winner_org_id)
    if winner is None or winner.kind != "bidder":
        raise ValidationFailed(
            "award.bad_winner", "中标人须为已登记的投标人。", "The winner must be a registered bidder."
        )
    award_amount = money(amount, "中标金额")
    if award_amount is None:
        raise ValidationFailed("award.amount_required", "请填写中标金额。", "The award amount is required.")
    perform(uow, actor, project_id, "confirm_award", {"winner_org_id": winner_org_id, "amount": str(award_amount)})
    project = get_project(uow, project_id)
    project.winner_org_id = winner_org_id
    project.award_amount = award_amount
    tenderer = uow.session.get(Organisation, project.tenderer_org_id)
    add_document(
        uow,
        actor,
        project.id,
        kind="award_notice",
        title=f"中标通知书（{winner.name}）",
        filename=f"award-notice-{project.code}.html",
        content_type="text/html; charset=utf-8",
        data=award_notice_html(project, winner, tenderer, award_amount, uow.now).encode(),
        public=False,
    )
    return project


def award_notice_html(
    project: Project, winner: Organisation, tenderer: Organisation | None, amount: Decimal, at: datetime
) -> str:
    """The award notice (中标通知书) as a printable HTML document; its hash goes into the log."""
    day = to_local(at).strftime("%Y年%m月%d日")
    t = html.escape
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>中标通知书</title></head><body>'
        f"<h1>中标通知书</h1><p>编号：{t(project.code)}</p>"
        f"<p>{t(winner.name)}（统一社会信用代码 {t(winner.uscc)}）：</p>"
        f"<p>你方参加的「{t(project.name)}」投标，经评标委员会评审和招标人确定，你方为中标人，"
        f"中标价为人民币 {amount:,} 元。</p>"
        "<p>请自本通知书发出之日起30日内，通过本平台与招标人在线签订合同（招标投标法第46条）。</p>"
        f"<p>招标人：{t(tenderer.name if tenderer else '')}</p><p>{day}</p></body></html>"
    )


def _contract_document(uow: UnitOfWork, project: Project) -> ProjectDocument:
    doc = uow.session.scalar(
        select(ProjectDocument)
        .where(ProjectDocument.project_id == project.id, ProjectDocument.kind == "contract")
        .order_by(ProjectDocument.id.desc())
        .limit(1)
    )
    if doc is None:
        raise Conflict("contract.no_document", "请先上传合同文本。", "Upload the contract text first.")
    return doc


def sign_contract(
    uow: UnitOfWork, actor: Actor, project_id: int, *, certificate_pem: str, signature_b64: str
) -> ContractSignature:
    """One party signs the contract text with its signing key; when both have signed, the step completes."""
    project = get_project(uow, project_id, lock=True)
    if project.state != "awarded" or project.winner_org_id is None:
        raise Conflict("contract.not_awarded", "项目尚未定标，不能签订合同。", "The project has no award yet.")
    doc = _contract_document(uow, project)
    platform = uow.platform
    try:
        info = verify_certificate(
            platform.suite, platform.ca().certificate_pem, certificate_pem, now=uow.now, usage="signing"
        )
    except (Unauthenticated, ValidationFailed) as exc:
        raise ValidationFailed(exc.code, exc.message_zh, exc.message_en) from None
    cert = uow.session.scalar(select(Certificate).where(Certificate.serial == format(info.serial, "x")))
    if cert is None or cert.fingerprint != info.fingerprint or cert.status != "valid":
        raise ValidationFailed(
            "contract.bad_certificate", "证书无效或已吊销。", "The certificate is invalid or revoked."
        )
    if project.tenderer_org_id == cert.org_id:
        party = "tenderer"
    elif project.winner_org_id == cert.org_id:
        party = "winner"
    else:
        raise Forbidden("contract.not_a_party", "该证书不属于合同当事人。", "This certificate is not a party's.")
    member = any(
        int(m.org_id) == cert.org_id and m.role in (Role.TENDERER, Role.BIDDER, Role.ADMIN)
        for m in actor.principal.memberships
    )
    if not member:
        raise Forbidden(
            "contract.not_your_certificate",
            "只能使用本单位的证书签署。",
            "Sign with your own organisation's certificate.",
        )
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed("contract.bad_signature", "签名格式错误。", "Malformed signature.") from None
    if not platform.suite.verify(info.public_key, contract_message(project, doc).encode(), signature):
        raise ValidationFailed(
            "contract.bad_signature",
            "签名验证失败：签名与合同文本或证书不符。",
            "The signature does not verify for this contract text and certificate.",
        )
    existing = uow.session.scalar(
        select(ContractSignature).where(
            ContractSignature.project_id == project.id,
            ContractSignature.document_id == doc.id,
            ContractSignature.party == party,
        )
    )
    if existing is not None:
        raise Conflict("contract.already_signed", "贵方已签署该合同。", "Your party has already signed.")
    sig = ContractSignature(
        project_id=project.id,
        document_id=doc.id,
        document_sha256=doc.sha256,
        party=party,
        org_id=cert.org_id,
        certificate_serial=cert.serial,
        signature=signature_b64,
        signed_at=uow.now,
        user_id=actor.user_id,
    )
    uow.session.add(sig)
    uow.session.flush()
    uow.audit(
        "contract:sign",
        subject_type="project",
        subject_id=project.id,
        data={
            "code": project.code,
            "party": party,
            "serial": cert.serial,
            "document_sha256": doc.sha256,
            "signature": signature_b64,
        },
    )
    parties = set(
        uow.session.scalars(
            select(ContractSignature.party).where(
                ContractSignature.project_id == project.id, ContractSignature.document_id == doc.id
            )
        )
    )
    flags = {
        "contract_signed_by_tenderer": "tenderer" in parties,
        "contract_signed_by_winner": "winner" in parties,
    }
    project.facts = facts_to_json(with_facts(project_facts(project, uow.now), **flags))
    if parties == {"tenderer", "winner"}:
        perform(uow, actor, project.id, "sign_contract")
    return sig


def publish_contract(uow: UnitOfWork, actor: Actor, project_id: int) -> Project:
    """Publish the signed contract (合同公开)."""
    project = get_project(uow, project_id, lock=True)
    if not project_roles(uow, actor, project) & {"tenderer", "agency", "operator"}:
        raise Forbidden(
            "project.not_a_party", "只有项目当事人可以公开合同。", "Only the project's parties may publish."
        )
    facts = project_facts(project, uow.now)
    if facts.contract_signed_at is None:
        raise Conflict("contract.not_signed", "合同尚未由双方签署。", "The contract is not signed by both parties.")
    if facts.contract_published_at is not None:
        return project
    doc = _contract_document(uow, project)
    doc.public = True
    project.facts = facts_to_json(with_facts(facts, contract_published_at=uow.now))
    uow.audit(
        "contract:publish",
        subject_type="project",
        subject_id=project.id,
        data={"code": project.code, "document_sha256": doc.sha256},
    )
    return project


def file_regulator_report(uow: UnitOfWork, actor: Actor, project_id: int) -> Project:
    """The tenderer's written report to the regulator (招投标情况书面报告, 法 §47)."""
    project = get_project(uow, project_id, lock=True)
    if not project_roles(uow, actor, project) & {"tenderer", "agency"}:
        raise Forbidden(
            "project.not_a_party",
            "只有招标人或代理机构可以提交书面报告。",
            "Only the tenderer or agency may report.",
        )
    facts = project_facts(project, uow.now)
    if facts.award_confirmed_at is None:
        raise Conflict("report.no_award", "定标后才能提交书面报告。", "Report after the award.")
    project.facts = facts_to_json(with_facts(facts, regulator_report_at=uow.now))
    uow.audit("project:regulator_report", subject_type="project", subject_id=project.id, data={"code": project.code})
    return project
