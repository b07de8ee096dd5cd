"""Bid deposits in ``sunbid demo``: basic accounts, sub-accounts, transfers, guarantees, refunds, reconciliation.

The demo's bank and guarantee issuer are the simulators of :mod:`sunbid.deposits` (the fake-time platform gets
its own :class:`~sunbid.deposits.bank.BankSimulator`, whose references start with ``DEMO`` so that they never
meet a served site's). The tender scripts of :mod:`sunbid.platform.demo_tenders` call this module:

* every demo bidder registers its 基本账户 on the first morning (:func:`register_basic_accounts`);
* the agency sets the section's deposit when the documents are issued (:func:`require`);
* before the deadline each bidder opens its virtual sub-account and pays by transfer from its basic account,
  or hands in an electronic guarantee letter / guarantee insurance that the issuer simulator confirms; one
  bidder first pays from its general account (一般户): the credit is flagged ``wrong_payer`` and sent back by
  itself, then the bidder pays again from its basic account (:func:`secure`, :func:`pay_again`). The bank's
  notifications arrive duplicated and out of order, as real ones do (:func:`deliver`);
* the opening record reads each bidder's deposit status; the award notice and the contract refund the losers
  and the winner with interest through the scheduler, with no application (免申即退);
* every morning the centre imports yesterday's MT940 statement of the deposit account, built by the bank
  simulator, and reconciles it with the ledger (:func:`daily_reconciliation`).

:func:`deposit_summary` reports per tender what the database holds (payments, guarantees, returns, refunds
with their interest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from sunbid.core.calendar import local_date
from sunbid.deposits import forfeits, reconcile, service, tasks
from sunbid.deposits.bank import BankSimulator
from sunbid.deposits.guarantees import GuaranteeRecord, IssuerSimulator
from sunbid.deposits.models import (
    DepositAccount,
    DepositCredit,
    DepositGuarantee,
    DepositReconciliation,
    DepositRefund,
    DepositRequirement,
)
from sunbid.deposits.service import DepositSystem
from sunbid.deposits.statements import parse_mt940
from sunbid.identity.models import Organisation
from sunbid.identity.service import Actor
from sunbid.opening.models import OpeningBid
from sunbid.platform.context import RequestContext
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts

if TYPE_CHECKING:
    from sunbid.platform.demo_tenders import DemoWorld

#: The demo section (every demo project has one section).
SECTION = "01"

#: Each bidder's 基本账户 (account number, bank).
BASIC_ACCOUNTS: Mapping[str, tuple[str, str]] = {
    "bidder1": ("6222020100012345678", "中国工商银行池州分行"),
    "bidder2": ("6227001234560011223", "中国建设银行池州分行"),
    "bidder3": ("6228480012345600987", "中国农业银行池州分行"),
    "bidder4": ("6216610100004455667", "中国银行池州分行"),
    "bidder5": ("6222620110008899001", "交通银行池州分行"),
}

#: The general account (一般户) bidder4 pays from by mistake first.
WRONG_ACCOUNTS: Mapping[str, tuple[str, str]] = {"bidder4": ("6216610100007788990", "中国银行池州分行")}

#: The issuers of the demo's guarantees by form.
ISSUERS: Mapping[str, str] = {
    "letter": "中国建设银行股份有限公司池州分行",
    "insurance": "中国人民财产保险股份有限公司池州市分公司",
}

#: How a bidder secures its deposit: a transfer from its basic account, first from a wrong account (returned,
#: then paid again with :func:`pay_again`), or a guarantee letter / guarantee insurance.
How = Literal["transfer", "wrong_account", "letter", "insurance"]

#: How the road tender's bidders secure their deposits (bidder4 then pays again from its basic account).
ROAD_PLAN: Mapping[str, How] = {
    "bidder1": "transfer",
    "bidder2": "letter",
    "bidder3": "transfer",
    "bidder4": "wrong_account",
    "bidder5": "transfer",
}
#: How the imaging tender's bidders secure their deposits.
IMAGING_PLAN: Mapping[str, How] = {"bidder1": "transfer", "bidder2": "transfer", "bidder3": "insurance"}

#: Days a demo guarantee stays valid after the bid deadline (the rules ask for at least 90).
GUARANTEE_DAYS_AFTER_DEADLINE = 120

BANK_CONTEXT = RequestContext(source="system", actor_name="bank notifications (demo)")
RECONCILE_CONTEXT = RequestContext(source="system", actor_name="daily reconciliation (demo)")


class DemoDepositError(RuntimeError):
    """The demo's deposits did not go as scripted."""


# --- the simulators ------------------------------------------------------------------------------------------------


def install(w: DemoWorld) -> DepositSystem:
    """Give the fake-time platform its own bank simulator (references ``DEMO…``); returns the deposit system."""
    base = tasks.system(w.platform)
    found = replace(base, bank=BankSimulator(w.platform.clock, ref_prefix="DEMO"), issuer=IssuerSimulator())
    tasks.install_system(w.platform, found)
    return found


def bank(w: DemoWorld) -> BankSimulator:
    """The demo's bank simulator."""
    b = tasks.system(w.platform).bank
    if not isinstance(b, BankSimulator):
        raise DemoDepositError("the demo needs the bank simulator")
    return b


def issuer(w: DemoWorld) -> IssuerSimulator:
    """The demo's guarantee issuer simulator."""
    i = tasks.system(w.platform).issuer
    if not isinstance(i, IssuerSimulator):
        raise DemoDepositError("the demo needs the guarantee issuer simulator")
    return i


# --- steps ---------------------------------------------------------------------------------------------------------


def register_basic_accounts(w: DemoWorld) -> None:
    """Every demo bidder records its basic account (its name is the organisation's)."""
    for who, (number, bank_name) in BASIC_ACCOUNTS.items():
        name = w.org_name(w.orgs[who])

        def record(uow: UnitOfWork, a: Actor, n: str = number, b: str = bank_name, nm: str = name) -> None:
            service.register_basic_account(uow, a, account_no=n, account_name=nm, bank_name=b)

        w.act(who, record)


def require(w: DemoWorld, pid: int, amount: str, kind: str) -> None:
    """The agency sets the deposit of the project's section (checked against the legal limit)."""
    system = tasks.system(w.platform)
    w.act("agency", lambda uow, a: service.set_requirement(uow, system, a, pid, SECTION, amount=amount, kind=kind))


def required(w: DemoWorld, pid: int) -> Decimal:
    """The deposit the project's section asks for."""
    with w.platform.db.read() as s:
        value = s.scalar(select(DepositRequirement.amount).where(DepositRequirement.project_id == pid))
    if value is None:
        raise DemoDepositError(f"demo project {pid} has no deposit requirement")
    return Decimal(value)


def deliver(w: DemoWorld) -> int:
    """The bank notifies every queued credit — some twice, out of order; returns how many were new."""
    system = tasks.system(w.platform)
    fresh = 0
    for notice in bank(w).deliveries(duplicate_rate=0.5, shuffle=True):
        with w.platform.uow(BANK_CONTEXT) as uow:
            _, new = service.receive_credit(uow, system, notice)
            uow.commit()
        fresh += int(new)
    return fresh


def _open_account(w: DemoWorld, who: str, pid: int) -> str:
    system = tasks.system(w.platform)
    return w.act(who, lambda uow, a: service.open_account(uow, system, a, pid, SECTION).virtual_account)


def _transfer(w: DemoWorld, who: str, virtual: str, amount: Decimal, accounts: Mapping[str, tuple[str, str]]) -> None:
    number, bank_name = accounts[who]
    bank(w).pay_in(
        virtual_account=virtual,
        payer_account=number,
        payer_name=w.org_name(w.orgs[who]),
        payer_bank=bank_name,
        amount=amount,
    )


def _guarantee(w: DemoWorld, who: str, pid: int, form: str) -> None:
    """The issuer issues a guarantee for the bidder; the bidder hands it in; the platform verifies it."""
    system = tasks.system(w.platform)
    project = w.project(pid)
    deadline = project_facts(project, w.now).bid_deadline
    if deadline is None:
        raise DemoDepositError(f"demo project {pid} has no bid deadline")
    with w.platform.db.read() as s:
        applicant = s.get(Organisation, w.orgs[who])
        tenderer = s.get(Organisation, project.tenderer_org_id)
        if applicant is None or tenderer is None:
            raise DemoDepositError("a demo organisation vanished")
        uscc, beneficiary = applicant.uscc, tenderer.name
    amount = required(w, pid)
    number = f"{'BH' if form == 'letter' else 'BX'}-{project.code}-{who[-1]:0>2}"
    policy = (
        f"{'投标保函' if form == 'letter' else '投标保证保险保单'} {number}\n受益人：{beneficiary}\n"
        f"投保人/申请人：{uscc}\n金额：{amount} 元\n（示范数据 / demo data）\n"
    ).encode()
    record = GuaranteeRecord(
        number=number,
        issuer=ISSUERS[form],
        form=form,
        beneficiary=beneficiary,
        applicant_uscc=uscc,
        amount=amount,
        valid_from=w.now - timedelta(hours=1),
        valid_until=deadline + timedelta(days=GUARANTEE_DAYS_AFTER_DEADLINE),
        file_sha256=hashlib.sha256(policy).hexdigest(),
    )
    issuer(w).issue(record)

    def submit(uow: UnitOfWork, a: Actor) -> str:
        row = forfeits.submit_guarantee(
            uow,
            system,
            a,
            pid,
            SECTION,
            number=record.number,
            issuer=record.issuer,
            form=record.form,
            amount=str(record.amount),
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            file_sha256=record.file_sha256,
        )
        return row.status

    status = w.act(who, submit)
    if status != "verified":
        raise DemoDepositError(f"the demo guarantee {number} was not verified")


def secure(w: DemoWorld, pid: int, plan: Mapping[str, How]) -> None:
    """Each bidder of ``plan`` opens its sub-account and secures its deposit as planned; the bank notifies."""
    amount = required(w, pid)
    for who, how in plan.items():
        virtual = _open_account(w, who, pid)
        if how == "transfer":
            _transfer(w, who, virtual, amount, BASIC_ACCOUNTS)
        elif how == "wrong_account":
            _transfer(w, who, virtual, amount, WRONG_ACCOUNTS)
        else:
            _guarantee(w, who, pid, how)
    deliver(w)


def pay_again(w: DemoWorld, pid: int, who: str) -> None:
    """After its credit from a wrong account came back, the bidder pays from its basic account."""
    _transfer(w, who, _open_account(w, who, pid), required(w, pid), BASIC_ACCOUNTS)
    deliver(w)


# --- the daily reconciliation -------------------------------------------------------------------------------------


def _settled(w: DemoWorld, pids: Iterable[int]) -> bool:
    return all(w.facts(pid).deposits_refunded_at is not None for pid in pids)


def reconcile_day(w: DemoWorld, day: date) -> bool:
    """Import the bank's MT940 statement of ``day`` when it booked anything; False: no movement that day."""
    text = bank(w).statement_mt940(day)
    if not parse_mt940(text).lines:
        return False
    with w.platform.uow(RECONCILE_CONTEXT) as uow:
        row, report = reconcile.import_statement(uow, None, text)
        uow.commit()
    if not report.balanced:
        raise DemoDepositError(f"the demo statement of {day} does not match the ledger: {row.differences}")
    return True


def daily_reconciliation(w: DemoWorld, pids: Iterable[int], *, until: datetime) -> Iterator[datetime]:
    """A tender script: every morning at 08:30 the centre imports yesterday's MT940 statement (when the bank
    booked anything) and reconciles it; stops the morning after the deposits of ``pids`` are all settled (no
    money moves after that), or at ``until``."""
    watched = list(pids)
    while True:
        morning = w.on(local_date(w.now), "08:30")
        yield morning if morning > w.now else w.on(local_date(w.now) + timedelta(days=1), "08:30")
        if w.now > until:
            return
        reconcile_day(w, local_date(w.now) - timedelta(days=1))
        if _settled(w, watched):
            return


# --- the summary ---------------------------------------------------------------------------------------------------


def _money(values: Iterable[Any]) -> str:
    return str(sum((Decimal(v or 0) for v in values), Decimal("0.00")))


def deposit_summary(s: Session, project: Project) -> dict[str, Any] | None:
    """What the project's deposits came to: payments, guarantees, returns, refunds with interest (None: no deposit)."""
    req = s.scalar(select(DepositRequirement).where(DepositRequirement.project_id == project.id))
    if req is None:
        return None
    accounts = list(s.scalars(select(DepositAccount).where(DepositAccount.project_id == project.id)))
    ids = [a.id for a in accounts] or [-1]
    credits = list(s.scalars(select(DepositCredit).where(DepositCredit.account_id.in_(ids))))
    guarantees = list(
        s.scalars(
            select(DepositGuarantee).where(DepositGuarantee.account_id.in_(ids), DepositGuarantee.status == "verified")
        )
    )
    refunds = list(s.scalars(select(DepositRefund).where(DepositRefund.project_id == project.id)))
    returned = [r for r in refunds if r.credit_id is not None]
    refunded = [r for r in refunds if r.account_id is not None]
    org_ids = [a.org_id for a in accounts]
    names = {o.id: o.name for o in s.scalars(select(Organisation).where(Organisation.id.in_(org_ids)))}
    at_opening = {
        ob.org_id: (ob.deposit_status or {}).get("code")
        for ob in s.scalars(select(OpeningBid).where(OpeningBid.org_id.in_(org_ids)))
        if ob.section_id == req.section_id
    }
    bidders = []
    for a in sorted(accounts, key=lambda x: x.id):
        own = [r for r in refunded if r.account_id == a.id]
        bidders.append(
            {
                "bidder": names.get(a.org_id, str(a.org_id)),
                "paid": _money(c.amount for c in credits if c.account_id == a.id and c.verdict == "accepted"),
                "flagged": sorted({c.verdict for c in credits if c.account_id == a.id and c.verdict != "accepted"}),
                "guarantees": [g.form for g in guarantees if g.account_id == a.id],
                "at_opening": at_opening.get(a.org_id),
                "refunds": [
                    {
                        "reason": r.reason,
                        "state": r.state,
                        "principal": str(r.principal),
                        "interest": str(r.interest),
                        "due": r.due_date.isoformat() if r.due_date else None,
                        "paid_on": local_date(r.confirmed_at).isoformat() if r.confirmed_at else None,
                    }
                    for r in own
                ],
            }
        )
    facts = project_facts(project, project.updated_at)
    return {
        "required": str(req.amount),
        "accounts": len(accounts),
        "paid": len([c for c in credits if c.verdict == "accepted"]),
        "paid_amount": _money(c.amount for c in credits if c.verdict == "accepted"),
        "guarantees": len(guarantees),
        "returned": len(returned),
        "returned_amount": _money(r.principal for r in returned if r.state == "confirmed"),
        "refunded": len([r for r in refunded if r.state == "confirmed"]),
        "refunded_principal": _money(r.principal for r in refunded if r.state == "confirmed"),
        "refunded_interest": _money(r.interest for r in refunded if r.state == "confirmed"),
        "settled_at": None if facts.deposits_refunded_at is None else facts.deposits_refunded_at.isoformat(),
        "bidders": bidders,
    }


def reconciliation_summary(s: Session) -> dict[str, Any]:
    """The stored daily reconciliations: how many, how many balanced, the days covered."""
    rows = list(s.scalars(select(DepositReconciliation).order_by(DepositReconciliation.day)))
    return {
        "statements": len(rows),
        "balanced": sum(1 for r in rows if r.balanced),
        "days": [r.day.isoformat() for r in rows],
    }


def deposit_line(d: Mapping[str, Any]) -> str:
    """One line of :func:`deposit_summary` for the demo's console output (Chinese first)."""
    return (
        f"每标 {d['required']} 元；转账 {d['paid']} 笔 {d['paid_amount']} 元，保函/保险 {d['guarantees']} 份，"
        f"退回错误账户 {d['returned']} 笔 {d['returned_amount']} 元，退还 {d['refunded']} 笔"
        f" {d['refunded_principal']} 元 + 利息 {d['refunded_interest']} 元"
        f" / paid {d['paid']}, guarantees {d['guarantees']}, returned {d['returned']}, refunded {d['refunded']}"
        f" with interest {d['refunded_interest']}"
    )
