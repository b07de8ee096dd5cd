"""Daily reconciliation (对账) of the deposit account: an MT940 statement against the ledger, stored with every
difference, and the ledger's own checks (double entry balances; sub-accounts at zero once settled)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from sunbid.core.calendar import local_date
from sunbid.deposits import domain
from sunbid.deposits.models import (
    DepositAccount,
    DepositCredit,
    DepositGuarantee,
    DepositLedgerEntry,
    DepositReconciliation,
    DepositRefund,
)
from sunbid.deposits.refunds import _operator
from sunbid.deposits.service import is_opened
from sunbid.deposits.statements import LedgerBankMove, Reconciliation, parse_mt940, reconcile
from sunbid.identity.service import Actor
from sunbid.platform.uow import UnitOfWork
from sunbid.projects.models import Project


def bank_moves(uow: UnitOfWork, day: date) -> list[LedgerBankMove]:
    """The ledger's movements of the bank account on ``day``, one per bank reference (postings summed)."""
    rows = uow.session.execute(
        select(DepositLedgerEntry).where(
            DepositLedgerEntry.booked_day == day,
            (DepositLedgerEntry.debit == domain.BANK) | (DepositLedgerEntry.credit == domain.BANK),
        )
    ).scalars()
    sums: dict[str, Decimal] = {}
    kinds: dict[str, set[str]] = {}
    for e in rows:
        ref = e.bank_ref or f"(no ref) {e.entry_key}"
        sign = Decimal(e.amount) if e.debit == domain.BANK else -Decimal(e.amount)
        sums[ref] = sums.get(ref, domain.ZERO) + sign
        kinds.setdefault(ref, set()).add(e.kind)
    # the ledger names only the kind of movement: accounts and payers stay out of the report (sealed sections)
    return [LedgerBankMove(ref, amount, "+".join(sorted(kinds[ref]))) for ref, amount in sums.items()]


def bank_balance(uow: UnitOfWork, *, before: date | None = None, through: date | None = None) -> Decimal:
    stmt = select(DepositLedgerEntry.debit, DepositLedgerEntry.credit, DepositLedgerEntry.amount)
    if before is not None:
        stmt = stmt.where(DepositLedgerEntry.booked_day < before)
    if through is not None:
        stmt = stmt.where(DepositLedgerEntry.booked_day <= through)
    total = domain.ZERO
    for d, c, a in uow.session.execute(stmt):
        if d == domain.BANK:
            total += Decimal(a)
        if c == domain.BANK:
            total -= Decimal(a)
    return total


def import_statement(uow: UnitOfWork, actor: Actor | None, text: str) -> tuple[DepositReconciliation, Reconciliation]:
    """Parse an MT940 statement, reconcile its day against the ledger and store the report (audited)."""
    if actor is not None:
        _operator(actor)
    statement = parse_mt940(text)
    report = reconcile(
        statement,
        bank_moves(uow, statement.day),
        ledger_opening=bank_balance(uow, before=statement.day),
        ledger_closing=bank_balance(uow, through=statement.day),
    )
    diffs: list[dict[str, Any]] = [
        {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(d).items()} for d in report.differences
    ]
    row = DepositReconciliation(
        day=statement.day,
        statement_ref=statement.reference[:64],
        statement_sha256=hashlib.sha256(text.encode()).hexdigest(),
        imported_at=uow.now,
        balanced=report.balanced,
        differences=diffs,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit(
        "deposit:reconcile",
        subject_type="deposit_reconciliation",
        subject_id=row.id,
        data={"day": statement.day.isoformat(), "differences": len(diffs), "sha256": row.statement_sha256},
    )
    return row, report


def ledger_check(uow: UnitOfWork) -> dict[str, Any]:
    """The ledger's invariants: balances per account, their sum (always zero), money still owed."""
    postings = [
        domain.Posting(d, c, Decimal(a))
        for d, c, a in uow.session.execute(
            select(DepositLedgerEntry.debit, DepositLedgerEntry.credit, DepositLedgerEntry.amount)
        )
    ]
    balances = domain.balances(postings)
    owed = domain.open_liabilities(postings)
    return {
        "entries": len(postings),
        "sum": str(sum(balances.values(), domain.ZERO)),
        "bank": str(balances.get(domain.BANK, domain.ZERO)),
        "interest": str(balances.get(domain.INTEREST, domain.ZERO)),
        "fees": str(balances.get(domain.FEES, domain.ZERO)),
        "forfeited": str(-balances.get(domain.FORFEITED, domain.ZERO)),
        "owed_total": str(-sum(owed.values(), domain.ZERO)),  # totals only: per account would tell who paid
        "owed_accounts": len(owed),
    }


def opened_accounts(uow: UnitOfWork) -> list[DepositAccount]:
    """The sub-accounts of projects already opened: statistics count only these (before opening even a count of
    deposits tells how many bid)."""
    opened: dict[int, bool] = {}

    def is_open(project_id: int) -> bool:
        if project_id not in opened:
            project = uow.session.get(Project, project_id)
            opened[project_id] = project is not None and is_opened(uow, project)
        return opened[project_id]

    return [a for a in uow.session.scalars(select(DepositAccount)) if is_open(a.project_id)]


def statistics(uow: UnitOfWork, actor: Actor | None) -> dict[str, Any]:
    """Inputs of the centre's statistics (seed 003): guarantee share, refunds on time, interest paid.

    Totals over the whole centre only (centre staff), and over opened sections only (:func:`opened_accounts`),
    so that no figure tells who paid — or how many — on a sealed section.
    """
    _operator(actor)
    ids = [a.id for a in opened_accounts(uow)] or [-1]
    with_guarantee = set(
        uow.session.scalars(
            select(DepositGuarantee.account_id).where(
                DepositGuarantee.account_id.in_(ids), DepositGuarantee.status.in_(("verified", "claimed"))
            )
        )
    )
    with_cash = set(
        uow.session.scalars(
            select(DepositCredit.account_id).where(
                DepositCredit.account_id.in_(ids), DepositCredit.verdict == "accepted"
            )
        )
    )
    secured = [i for i in ids if i in with_guarantee or i in with_cash]
    guaranteed = [a for a in secured if a in with_guarantee]
    rows = list(uow.session.scalars(select(DepositRefund).where(DepositRefund.account_id.in_(ids))))
    confirmed = [r for r in rows if r.state == "confirmed" and r.confirmed_at is not None]
    on_time = [r for r in confirmed if r.confirmed_at and not domain.paid_late(r.due_date, local_date(r.confirmed_at))]
    share = (Decimal(len(guaranteed)) / Decimal(len(secured)) * 100).quantize(domain.FEN) if secured else None
    return {
        "deposits": len(secured),
        "guarantees": len(guaranteed),
        "guarantee_share_percent": None if share is None else str(share),
        "refunds_confirmed": len(confirmed),
        "refunds_on_time": len(on_time),
        "refunds_late": len(confirmed) - len(on_time),
        "refunds_pending": len([r for r in rows if r.state != "confirmed" and not r.unclaimed]),
        "unclaimed": len([r for r in rows if r.unclaimed]),
        "interest_paid": str(sum((Decimal(r.interest or 0) for r in confirmed), domain.ZERO)),
        "fees_paid": str(sum((Decimal(r.fee or 0) for r in confirmed), domain.ZERO)),
    }
