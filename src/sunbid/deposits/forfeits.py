"""Guarantees instead of cash (M-3) and deposits kept in the legal cases (forfeiture), with the decision on record."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.deposits import domain
from sunbid.deposits.guarantees import GuaranteeRecord
from sunbid.deposits.models import DepositAccount, DepositGuarantee
from sunbid.deposits.service import (
    DepositSystem,
    bidder_org,
    is_opened,
    open_account,
    post,
    requirement,
    sealed_error,
    section_of,
)
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.timing import project_facts

# --- guarantees ------------------------------------------------------------------------------------------------


def submit_guarantee(
    uow: UnitOfWork,
    system: DepositSystem,
    actor: Actor,
    project_id: int,
    section_code: str,
    *,
    number: str,
    issuer: str,
    form: str,
    amount: Any,
    valid_from: datetime,
    valid_until: datetime,
    file_sha256: str,
    org_id: int | None = None,
) -> DepositGuarantee:
    """Hand in an electronic guarantee (or guarantee insurance) for one section; verified with the issuer."""
    org_key = bidder_org(actor, org_id)
    account = open_account(uow, system, actor, project_id, section_code, org_id=org_key)
    project = projects.get_project(uow, project_id)
    section = section_of(uow, project, section_code)
    org = uow.session.get(Organisation, org_key)
    tenderer = uow.session.get(Organisation, project.tenderer_org_id)
    assert org is not None
    assert tenderer is not None
    if valid_from.tzinfo is None or valid_until.tzinfo is None:
        raise ValidationFailed("deposit.bad_time", "保函有效期须带时区（如 +08:00）。", "Validity needs a time zone.")
    value = domain.parse_amount(amount, "保函金额")
    try:
        gform = domain.GuaranteeForm(form)
    except ValueError:
        raise ValidationFailed(
            "deposit.bad_form", "保函形式须为 letter 或 insurance。", "letter or insurance."
        ) from None
    if len(file_sha256) != 64 or any(c not in "0123456789abcdef" for c in file_sha256):
        raise ValidationFailed("deposit.bad_hash", "保函文件哈希须为64位小写十六进制。", "64 lowercase hex.")
    if not number.strip() or not issuer.strip():
        raise ValidationFailed("deposit.guarantee_fields", "请填写保函编号和出具机构。", "Number and issuer needed.")
    req = requirement(uow, section.id)
    deadline = project_facts(project, uow.now).bid_deadline
    problems: list[str] = []
    if req is not None and deadline is not None:
        terms = domain.GuaranteeTerms(
            beneficiary=tenderer.name,
            amount=Decimal(req.amount),
            deadline=deadline,
            min_days_after_deadline=system.rules.min_guarantee_days_after_deadline,
        )
        problems += domain.guarantee_problems(
            terms, beneficiary=tenderer.name, amount=value, valid_from=valid_from, valid_until=valid_until
        )
    check = system.issuer.verify(
        GuaranteeRecord(
            number=number.strip(),
            issuer=issuer.strip(),
            form=gform.value,
            beneficiary=tenderer.name,
            applicant_uscc=org.uscc,
            amount=value,
            valid_from=valid_from,
            valid_until=valid_until,
            file_sha256=file_sha256,
        )
    )
    problems += [f"issuer:{m}" for m in check.mismatches]
    row = uow.session.scalar(
        select(DepositGuarantee).where(DepositGuarantee.account_id == account.id, DepositGuarantee.number == number)
    )
    if row is None:
        row = DepositGuarantee(account_id=account.id, number=number.strip(), submitted_at=uow.now)
        uow.session.add(row)
    row.issuer, row.form, row.beneficiary, row.amount = issuer.strip(), gform.value, tenderer.name, value
    row.valid_from, row.valid_until, row.file_sha256 = valid_from, valid_until, file_sha256
    row.status = "rejected" if problems else "verified"
    row.problems = problems
    row.submitted_at = uow.now
    uow.session.flush()
    uow.audit("deposit:guarantee", subject_type="section", subject_id=section.id, data={"status": row.status})
    return row


# --- forfeiture ----------------------------------------------------------------------------------------------


def forfeit(
    uow: UnitOfWork, system: DepositSystem, actor: Actor, account_id: int, *, reason: str, note: str
) -> DepositAccount:
    """Keep a deposit in one of the legal cases (decision on record); a guarantee is claimed instead."""
    account = uow.session.get(DepositAccount, account_id)
    if account is None:
        raise NotFound("deposit.no_account", "保证金账户不存在。", "No such deposit account.")
    project = projects.get_project(uow, account.project_id, lock=True)
    roles = projects.project_roles(uow, actor, project)
    if not roles & {"tenderer", "agency", "operator"}:
        raise Forbidden("deposit.not_owner", "只有招标人、代理机构或交易中心可以作出该决定。", "Not allowed.")
    if not is_opened(uow, project):  # the decision names the bidder: not before the opening record
        raise sealed_error()
    if account.status != "open":
        raise Conflict("deposit.not_open", "该保证金已退还或已处理。", "This deposit was already settled.")
    decision = domain.decide_forfeit(reason, decided_by=actor.username, note=note)
    account.status = "forfeited"
    account.forfeit_reason, account.forfeit_basis, account.forfeit_note = (
        decision.reason.value,
        decision.basis_zh,
        decision.note,
    )
    account.forfeited_at, account.forfeited_by_user_id = uow.now, actor.user_id
    from sunbid.deposits.refunds import check_settled, held_credits

    held = sum((Decimal(c.amount) for c in held_credits(uow, account.id)), domain.ZERO)
    post(
        uow,
        f"forfeit:{account.id}",
        domain.sub_account(account.id),
        domain.FORFEITED,
        held,
        kind="forfeit",
        booked_at=uow.now,
        account_id=account.id,
    )
    req = requirement(uow, account.section_id)
    for g in uow.session.scalars(
        select(DepositGuarantee).where(DepositGuarantee.account_id == account.id, DepositGuarantee.status == "verified")
    ):
        if req is not None and held < Decimal(req.amount):
            result = system.issuer.claim(
                g.number, Decimal(req.amount), decision.reason.value, key=f"claim:{account.id}"
            )
            g.status, g.claim_ref = "claimed", result.claim_ref
    uow.audit(
        "deposit:forfeit",
        subject_type="project",
        subject_id=project.id,
        data={
            "account_id": account.id,
            "org_id": account.org_id,
            "reason": decision.reason.value,
            "basis": decision.basis_zh,
            "note": decision.note,
            "amount": str(held),
        },
    )
    check_settled(uow, project.id)
    return account
