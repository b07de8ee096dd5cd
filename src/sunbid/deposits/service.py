"""Deposit use cases: basic accounts, requirements, virtual sub-accounts, bank credits, status at opening and the
listing of deposits once the section is opened. Guarantees and forfeiture are in :mod:`sunbid.deposits.forfeits`.

Refunds (planning on the lifecycle's award and contract steps, and their exactly-once execution against the
bank) are in :mod:`sunbid.deposits.refunds`; statements and reconciliation in :mod:`sunbid.deposits.reconcile`.

**Confidentiality.** Before opening, who paid reveals who bids (重庆条例 §16). Nobody but the bidder itself
learns anything about a section's deposits: the tenderer, agency, experts, centre staff and regulators are
refused (``deposit.sealed``); the only pre-opening reader is the opening step's status provider
(:func:`opening_deposit_status`), which answers "is this bidder's deposit in order". Pre-opening audit events
name the section, never the bidder.

**No refusal at submission.** A bid whose deposit is not (yet) in order is *not* refused when it is submitted:
arrival is judged by the bank's booking time and a notification may reach us after a bidder submits; the law
checks the deposit at opening and in evaluation (条例 §51: the committee rejects the bid); and a refusal would
turn the submission into an oracle about the deposit. The opening record flags it instead.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sunbid.core.calendar import local_date
from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.deposits import domain
from sunbid.deposits.bank import BankAdapter, CreditNotice
from sunbid.deposits.domain import DepositRules, ProjectKind
from sunbid.deposits.guarantees import GuaranteeIssuer
from sunbid.deposits.models import (
    BidderBasicAccount,
    DepositAccount,
    DepositCredit,
    DepositGuarantee,
    DepositLedgerEntry,
    DepositRefund,
    DepositRequirement,
)
from sunbid.identity.domain import Role
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service as projects
from sunbid.projects.models import Project, ProjectEvent, Section
from sunbid.projects.procedure_vocabulary import Phase
from sunbid.projects.procedures import get_procedure
from sunbid.projects.timing import project_facts


@dataclass
class DepositSystem:
    """The deposit feature's configuration and adapters (bank, guarantee issuer), chosen at start-up."""

    rules: DepositRules
    bank: BankAdapter
    issuer: GuaranteeIssuer
    virtual_prefix: str = "3417"


# --- helpers -----------------------------------------------------------------------------------------------


def section_of(uow: UnitOfWork, project: Project, code: str) -> Section:
    section = uow.session.scalar(select(Section).where(Section.project_id == project.id, Section.code == code))
    if section is None:
        raise NotFound("deposit.section_not_found", f"标段 {code} 不存在。", f"Section {code} not found.")
    return section


def bidder_orgs(actor: Actor) -> list[int]:
    return sorted({int(m.org_id) for m in actor.principal.memberships if m.role is Role.BIDDER})


def bidder_org(actor: Actor, org_id: int | None) -> int:
    orgs = bidder_orgs(actor)
    if org_id is None:
        org_id = actor.org_id if actor.org_id in orgs else (orgs[0] if orgs else None)
    if org_id is None or org_id not in orgs:
        raise Forbidden("deposit.not_a_bidder", "只有投标人可以办理投标保证金。", "Only a bidder may do this.")
    return org_id


#: Steps that finish an opening (the opening record then shows every bidder's deposit status).
OPENING_DONE = frozenset({"finish_opening"})


def is_opened(uow: UnitOfWork, project: Project) -> bool:
    """Has the opening of this project taken place (its deposit data is then no longer secret)?

    True once the opening was finished (the opening record is made), the project left the opening phase in
    any other way, or it reached a state after opening (procedures without an opening phase); a project that
    never got there stays sealed.
    """
    procedure = get_procedure(project.procedure_code)

    def phase(code: str) -> Phase | None:
        s = procedure.state(code)
        return None if s is None else s.phase

    after = {Phase.EVALUATION, Phase.PUBLICITY, Phase.AWARD, Phase.CONTRACT}
    if phase(project.state) in after:
        return True
    rows = uow.session.execute(
        select(ProjectEvent.action, ProjectEvent.from_state, ProjectEvent.to_state).where(
            ProjectEvent.project_id == project.id
        )
    ).all()
    return any(
        a in OPENING_DONE or (phase(f) is Phase.OPENING and phase(t) is not Phase.OPENING) or phase(t) in after
        for a, f, t in rows
    )


def sealed_error() -> Forbidden:
    return Forbidden(
        "deposit.sealed",
        "开标前，任何人不得查询标段的投标保证金缴纳情况。",
        "Before opening nobody may learn a section's deposit status.",
    )


def post(
    uow: UnitOfWork,
    key: str,
    debit: str,
    credit: str,
    amount: Decimal,
    *,
    kind: str,
    booked_at: datetime,
    account_id: int | None = None,
    bank_ref: str | None = None,
) -> None:
    """Write one ledger movement (once per ``key``; a zero amount writes nothing)."""
    if amount == 0:
        return
    domain.Posting(debit, credit, amount)  # validates
    exists = uow.session.scalar(select(DepositLedgerEntry.id).where(DepositLedgerEntry.entry_key == key))
    if exists is not None:
        return
    uow.session.add(
        DepositLedgerEntry(
            entry_key=key,
            debit=debit,
            credit=credit,
            amount=amount,
            kind=kind,
            account_id=account_id,
            bank_ref=bank_ref,
            booked_day=local_date(booked_at),
            occurred_at=uow.now,
        )
    )


def ledger_postings(uow: UnitOfWork) -> list[domain.Posting]:
    rows = uow.session.execute(select(DepositLedgerEntry.debit, DepositLedgerEntry.credit, DepositLedgerEntry.amount))
    return [domain.Posting(d, c, Decimal(a)) for d, c, a in rows]


# --- basic accounts and requirements ---------------------------------------------------------------------------


def register_basic_account(
    uow: UnitOfWork,
    actor: Actor,
    *,
    account_no: str,
    account_name: str,
    bank_name: str,
    org_id: int | None = None,
) -> BidderBasicAccount:
    """Record (or change) the bidder's 基本账户; cash deposits must come from it (条例 §26)."""
    org = bidder_org(actor, org_id)
    number = domain.normalise_account_no(account_no)
    if not 8 <= len(number) <= 32 or not number.isdigit():
        raise ValidationFailed("deposit.bad_account_no", "银行账号须为8–32位数字。", "Account numbers are 8–32 digits.")
    if not account_name.strip() or not bank_name.strip():
        raise ValidationFailed("deposit.account_name_required", "请填写户名和开户行。", "Name and bank are required.")
    row = uow.session.scalar(select(BidderBasicAccount).where(BidderBasicAccount.org_id == org))
    if row is None:
        row = BidderBasicAccount(org_id=org, account_no=number, account_name="", bank_name="", registered_at=uow.now)
        uow.session.add(row)
    row.account_no, row.account_name, row.bank_name = number, account_name.strip(), bank_name.strip()
    row.registered_at, row.registered_by_user_id = uow.now, actor.user_id
    uow.session.flush()
    uow.audit(
        "deposit:basic_account",
        subject_type="organisation",
        subject_id=org,
        data={"bank": row.bank_name, "account_tail": number[-4:]},
    )
    return row


def set_requirement(
    uow: UnitOfWork,
    system: DepositSystem,
    actor: Actor,
    project_id: int,
    section_code: str,
    *,
    amount: Any,
    kind: str,
) -> DepositRequirement:
    """The tenderer or agency sets the section's deposit, within the legal limit, before bids are taken."""
    project = projects.get_project(uow, project_id, lock=True)
    if not projects.project_roles(uow, actor, project) & {"tenderer", "agency"}:
        raise Forbidden("deposit.not_owner", "只有招标人或代理机构可以设定投标保证金。", "Owner only.")
    if project.state not in ("draft", "registered", "accepted", "plan_published", "announced", "bidding"):
        raise Conflict("deposit.too_late", "开标后不能再设定投标保证金。", "Too late to set the deposit.")
    section = section_of(uow, project, section_code)
    value = domain.parse_amount(amount, "投标保证金")
    try:
        pkind = ProjectKind(kind)
    except ValueError:
        raise ValidationFailed("deposit.bad_kind", f"未知的项目类别：{kind}", f"Unknown project kind: {kind}") from None
    estimate = section.budget if section.budget is not None else project.budget
    domain.check_requirement(
        system.rules, sector=project.sector, kind=pkind, estimate=Decimal(estimate or 0), amount=value
    )
    req = uow.session.scalar(select(DepositRequirement).where(DepositRequirement.section_id == section.id))
    if req is None:
        req = DepositRequirement(
            project_id=project.id, section_id=section.id, amount=value, kind=pkind.value, set_at=uow.now
        )
        uow.session.add(req)
    req.amount, req.kind, req.set_at, req.set_by_user_id = value, pkind.value, uow.now, actor.user_id
    uow.session.flush()
    uow.audit(
        "deposit:requirement",
        subject_type="project",
        subject_id=project.id,
        data={"section": section.code, "amount": str(value), "kind": pkind.value},
    )
    if not project_facts(project, uow.now).deposits_required:
        projects.update_facts(uow, project.id, "deposit required", deposits_required=True)
    return req


def requirement(uow: UnitOfWork, section_id: int) -> DepositRequirement | None:
    return uow.session.scalar(select(DepositRequirement).where(DepositRequirement.section_id == section_id))


# --- virtual sub-accounts --------------------------------------------------------------------------------------


def _new_virtual_number(uow: UnitOfWork, system: DepositSystem) -> str:
    serial = (uow.session.scalar(select(func.count()).select_from(DepositAccount)) or 0) + 1
    for _ in range(20):
        number = domain.virtual_account_number(system.virtual_prefix, serial, f"{secrets.randbelow(10**6):06d}")
        if uow.session.scalar(select(DepositAccount.id).where(DepositAccount.virtual_account == number)) is None:
            return number
    raise Conflict("deposit.no_number", "无法生成虚拟子账号，请重试。", "Could not allocate an account; retry.")


def open_account(
    uow: UnitOfWork,
    system: DepositSystem,
    actor: Actor,
    project_id: int,
    section_code: str,
    *,
    org_id: int | None = None,
) -> DepositAccount:
    """The bidder's own virtual sub-account for one section (created on first call, then the same one)."""
    org = bidder_org(actor, org_id)
    project = projects.get_project(uow, project_id)
    section = section_of(uow, project, section_code)
    existing = uow.session.scalar(
        select(DepositAccount).where(DepositAccount.section_id == section.id, DepositAccount.org_id == org)
    )
    deadline = project_facts(project, uow.now).bid_deadline
    bidding = project.state == "bidding" and (deadline is None or uow.now < deadline)
    if existing is not None:
        if existing.status == "settled" and bidding:  # a re-tender: the refunded sub-account takes money again
            existing.status = "open"
            uow.audit("deposit:account_reopen", subject_type="section", subject_id=section.id, data={})
            if project_facts(project, uow.now).deposits_refunded_at is not None:  # money is held again
                projects.update_facts(uow, project.id, "deposits held again", deposits_refunded_at=None)
        return existing
    if not bidding:
        raise Conflict("deposit.not_bidding", "本项目当前不接受投标登记。", "The project does not take bidders now.")
    account = DepositAccount(
        project_id=project.id,
        section_id=section.id,
        org_id=org,
        virtual_account=_new_virtual_number(uow, system),
        status="open",
        created_at=uow.now,
    )
    uow.session.add(account)
    uow.session.flush()
    uow.audit("deposit:account_open", subject_type="section", subject_id=section.id, data={"project": project.code})
    return account


def has_account(
    uow: UnitOfWork, actor: Actor, project_id: int, section_code: str, *, org_id: int | None = None
) -> bool:
    """Whether the bidder already has its sub-account for the section."""
    org = bidder_org(actor, org_id)
    section = section_of(uow, projects.get_project(uow, project_id), section_code)
    found = uow.session.scalar(
        select(DepositAccount.id).where(DepositAccount.section_id == section.id, DepositAccount.org_id == org)
    )
    return found is not None


def own_account(
    uow: UnitOfWork, actor: Actor, project_id: int, section_code: str, *, org_id: int | None = None
) -> tuple[DepositAccount, list[DepositCredit], list[DepositRefund], list[DepositGuarantee]]:
    """The bidder's own sub-account with its credits, refunds and guarantees (nobody else's: 404)."""
    org = bidder_org(actor, org_id)
    project = projects.get_project(uow, project_id)
    section = section_of(uow, project, section_code)
    account = uow.session.scalar(
        select(DepositAccount).where(DepositAccount.section_id == section.id, DepositAccount.org_id == org)
    )
    if account is None:
        raise NotFound("deposit.no_account", "尚未生成保证金虚拟子账号。", "No deposit account yet.")
    credits = list(uow.session.scalars(select(DepositCredit).where(DepositCredit.account_id == account.id)))
    credit_ids = [c.id for c in credits]
    refunds = list(
        uow.session.scalars(
            select(DepositRefund).where(
                (DepositRefund.account_id == account.id)
                | (DepositRefund.credit_id.in_(credit_ids) if credit_ids else DepositRefund.id < 0)
            )
        )
    )
    guarantees = list(uow.session.scalars(select(DepositGuarantee).where(DepositGuarantee.account_id == account.id)))
    return account, credits, refunds, guarantees


# --- incoming credits ------------------------------------------------------------------------------------------


def receive_credit(uow: UnitOfWork, system: DepositSystem, notice: CreditNotice) -> tuple[DepositCredit, bool]:
    """Process one bank notification; returns the credit and whether it was new.

    Idempotent by the bank reference: a repeated notification changes nothing but a counter. Matched by the
    virtual sub-account; the payer must be the bidder's basic account and the booking time before the deadline,
    otherwise the credit is flagged and its return to the payer is planned at once.
    """
    if notice.amount <= 0 or notice.amount != notice.amount.quantize(domain.FEN):
        raise ValidationFailed("deposit.bad_notice", "到账通知金额无效。", "The notice's amount is invalid.")
    existing = uow.session.scalar(select(DepositCredit).where(DepositCredit.bank_ref == notice.bank_ref))
    if existing is not None:
        existing.notices += 1
        return existing, False
    account = uow.session.scalar(select(DepositAccount).where(DepositAccount.virtual_account == notice.virtual_account))
    basic: str | None = None
    deadline: datetime | None = None
    if account is not None:
        basic = uow.session.scalar(
            select(BidderBasicAccount.account_no).where(BidderBasicAccount.org_id == account.org_id)
        )
        project = projects.get_project(uow, account.project_id)
        deadline = project_facts(project, uow.now).bid_deadline
    verdict = domain.judge_credit(
        account_known=account is not None,
        payer_account=notice.payer_account,
        basic_account=basic,
        booked_at=notice.booked_at,
        deadline=deadline,
    )
    credit = DepositCredit(
        bank_ref=notice.bank_ref,
        account_id=None if account is None else account.id,
        virtual_account=notice.virtual_account,
        payer_account=domain.normalise_account_no(notice.payer_account),
        payer_name=notice.payer_name,
        payer_bank=notice.payer_bank,
        amount=notice.amount,
        booked_at=notice.booked_at,
        received_at=uow.now,
        verdict=verdict.value,
        notices=1,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(credit)
            uow.session.flush()
    except IntegrityError:  # the same notice processed concurrently: it is there now
        again = uow.session.scalar(select(DepositCredit).where(DepositCredit.bank_ref == notice.bank_ref))
        if again is None:  # pragma: no cover - the conflict was on something else
            raise
        return again, False
    # a notice so late that the sub-account was already refunded or kept: the money goes straight back
    after_settlement = account is not None and account.status != "open"
    held = account is not None and verdict is domain.CreditVerdict.ACCEPTED and not after_settlement
    target = domain.sub_account(account.id) if held and account is not None else domain.SUSPENSE
    post(
        uow,
        f"credit:{notice.bank_ref}",
        domain.BANK,
        target,
        notice.amount,
        kind="credit",
        booked_at=notice.booked_at,
        account_id=None if account is None else account.id,
        bank_ref=notice.bank_ref,
    )
    uow.audit(
        "deposit:credit",
        subject_type="section" if account is not None else "deposit",
        subject_id=account.section_id if account is not None else None,
        data={"bank_ref": notice.bank_ref, "verdict": verdict.value},
    )
    if not held:
        from sunbid.deposits.refunds import plan_return

        plan_return(uow, system, credit)
    return credit, True


# --- status at opening (the only pre-opening reader) ---------------------------------------------------------


def deposit_state(
    uow: UnitOfWork, system: DepositSystem, project: Project, section: Section, org_id: int
) -> tuple[str, Decimal, Decimal | None]:
    """``(status code, accepted total, required)`` of one bidder on one section."""
    req = requirement(uow, section.id)
    account = uow.session.scalar(
        select(DepositAccount).where(DepositAccount.section_id == section.id, DepositAccount.org_id == org_id)
    )
    if req is None:
        return "not_required", domain.ZERO, None
    required = Decimal(req.amount)
    if account is None:
        return "missing", domain.ZERO, required
    credits = list(uow.session.scalars(select(DepositCredit).where(DepositCredit.account_id == account.id)))
    accepted = sum((Decimal(c.amount) for c in credits if c.verdict == "accepted"), domain.ZERO)
    guarantee_ok = (
        uow.session.scalar(
            select(DepositGuarantee.id).where(
                DepositGuarantee.account_id == account.id, DepositGuarantee.status.in_(("verified", "claimed"))
            )
        )
        is not None
    )
    code = domain.opening_status(
        required=required,
        accepted_total=accepted,
        guarantee_ok=guarantee_ok,
        wrong_payer_seen=any(c.verdict == "wrong_payer" for c in credits),
    )
    return code, accepted, required


def opening_deposit_status(
    uow: UnitOfWork, system: DepositSystem, project: Project, section: Section, org: Organisation
) -> tuple[str, str, str] | None:
    """The opening record's answer for one bidder: ``(code, label_zh, label_en)`` (audited, bidder not named)."""
    code, _, _ = deposit_state(uow, system, project, section, org.id)
    uow.audit(
        "deposit:status_read",
        subject_type="section",
        subject_id=section.id,
        data={"project": project.code, "section": section.code, "reader": "opening"},
    )
    zh, en = domain.STATUS_LABELS[code]
    return code, zh, en


# --- after opening ---------------------------------------------------------------------------------------------

VIEW_ROLES = frozenset({"tenderer", "agency", "operator", "regulator", "expert"})


@dataclass(frozen=True)
class DepositRow:
    section: str
    org_id: int
    org_name: str
    virtual_account: str
    status: str
    accepted: Decimal
    required: Decimal | None
    account_status: str
    refund_state: str | None


def section_deposits(uow: UnitOfWork, system: DepositSystem, actor: Actor, project_id: int) -> list[DepositRow]:
    """Every bidder's deposit on the project — for its parties, the centre and the regulator, after opening only."""
    project = projects.get_project(uow, project_id)
    if not projects.project_roles(uow, actor, project) & VIEW_ROLES:
        raise Forbidden("deposit.forbidden", "无权查看本项目的投标保证金。", "You may not see this project's deposits.")
    if not is_opened(uow, project):
        uow.session.rollback()
        uow.audit(
            "deposit:sealed_read_refused", subject_type="project", subject_id=project.id, data={"user": actor.user_id}
        )
        uow.commit()
        raise sealed_error()
    rows: list[DepositRow] = []
    accounts = uow.session.execute(
        select(DepositAccount, Section, Organisation)
        .join(Section, Section.id == DepositAccount.section_id)
        .join(Organisation, Organisation.id == DepositAccount.org_id)
        .where(DepositAccount.project_id == project.id)
        .order_by(Section.code, DepositAccount.id)
    ).all()
    for account, section, org in accounts:
        code, accepted, required = deposit_state(uow, system, project, section, org.id)
        refund = uow.session.scalar(
            select(DepositRefund.state)
            .where(DepositRefund.account_id == account.id)
            .order_by(DepositRefund.id.desc())
            .limit(1)
        )
        rows.append(
            DepositRow(
                section.code,
                org.id,
                org.name,
                account.virtual_account,
                code,
                accepted,
                required,
                account.status,
                refund,
            )
        )
    uow.audit("deposit:list", subject_type="project", subject_id=project.id, data={"rows": len(rows)})
    return rows


def accounts_of(uow: UnitOfWork, project_id: int) -> Sequence[DepositAccount]:
    return list(uow.session.scalars(select(DepositAccount).where(DepositAccount.project_id == project_id)))


def my_accounts(uow: UnitOfWork, actor: Actor) -> list[dict[str, Any]]:
    """All sub-accounts of the actor's bidder organisations, newest first, with their money (the bidder's page)."""
    orgs = bidder_orgs(actor)
    if not orgs:
        return []
    rows = uow.session.execute(
        select(DepositAccount, Project, Section)
        .join(Project, Project.id == DepositAccount.project_id)
        .join(Section, Section.id == DepositAccount.section_id)
        .where(DepositAccount.org_id.in_(orgs))
        .order_by(DepositAccount.id.desc())
    ).all()
    out: list[dict[str, Any]] = []
    for account, project, section in rows:
        req = requirement(uow, section.id)
        credits = list(uow.session.scalars(select(DepositCredit).where(DepositCredit.account_id == account.id)))
        ids = [c.id for c in credits]
        refunds = list(
            uow.session.scalars(
                select(DepositRefund).where(
                    (DepositRefund.account_id == account.id)
                    | (DepositRefund.credit_id.in_(ids) if ids else DepositRefund.id < 0)
                )
            )
        )
        guarantees = list(
            uow.session.scalars(select(DepositGuarantee).where(DepositGuarantee.account_id == account.id))
        )
        out.append(
            {
                "project": project,
                "section": section,
                "account": account,
                "required": None if req is None else Decimal(req.amount),
                "credits": credits,
                "refunds": refunds,
                "guarantees": guarantees,
            }
        )
    return out
