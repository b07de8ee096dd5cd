"""Bank statements (MT940, parsed with the maintained ``mt-940`` library) and the daily reconciliation (对账).

The reconciliation compares, for one day, every booking of the bank's statement with every movement of our
ledger that touches the bank account, matched by the bank's reference, and lists **every** difference:

* ``missing_in_ledger`` — the bank booked it, we have no record (an unnotified credit, a bank fee …);
* ``missing_in_statement`` — we recorded it, the bank did not book it that day;
* ``amount_mismatch`` — same reference, different amount or direction;
* ``opening_balance`` / ``closing_balance`` — the statement's balance differs from the ledger's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import mt940

from sunbid.core.errors import ValidationFailed


@dataclass(frozen=True)
class StatementLine:
    bank_ref: str
    customer_ref: str
    day: date
    amount: Decimal  # signed: credits positive
    details: str


@dataclass(frozen=True)
class Statement:
    account: str
    reference: str
    opening: Decimal
    closing: Decimal
    day: date
    lines: tuple[StatementLine, ...]


def _signed(balance: object) -> Decimal:
    amount = getattr(balance, "amount", None)
    value = getattr(amount, "amount", None)
    if not isinstance(value, Decimal):
        raise ValueError("no amount")
    return value


def parse_mt940(text: str) -> Statement:
    """Parse one MT940 statement; malformed input is a validation error, never a crash."""
    try:
        parsed = mt940.models.Transactions()
        parsed.parse(text)
        data = parsed.data
        opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
        closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
        if opening is None or closing is None or "account_identification" not in data:
            raise ValueError("missing balances or account")
        lines: list[StatementLine] = []
        for tr in parsed:
            d = tr.data
            amount = d["amount"].amount
            lines.append(
                StatementLine(
                    bank_ref=str(d.get("bank_reference") or ""),
                    customer_ref=str(d.get("customer_reference") or ""),
                    day=date(d["date"].year, d["date"].month, d["date"].day),
                    amount=Decimal(amount),
                    details=str(d.get("transaction_details") or ""),
                )
            )
        close_date = closing.date
        return Statement(
            account=str(data["account_identification"]),
            reference=str(data.get("transaction_reference") or ""),
            opening=_signed(opening),
            closing=_signed(closing),
            day=date(close_date.year, close_date.month, close_date.day),
            lines=tuple(lines),
        )
    except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
        raise ValidationFailed(
            "deposit.bad_statement",
            f"银行对账单（MT940）格式错误：{exc}",
            f"Malformed MT940 statement: {exc}",
        ) from None


@dataclass(frozen=True)
class LedgerBankMove:
    """A ledger movement of the bank account: signed amount (money in positive) and the bank's reference."""

    bank_ref: str
    amount: Decimal
    what: str


@dataclass(frozen=True)
class Difference:
    kind: str
    bank_ref: str | None
    statement_amount: Decimal | None
    ledger_amount: Decimal | None
    note: str


@dataclass
class Reconciliation:
    day: date
    statement_lines: int
    ledger_moves: int
    differences: list[Difference] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.differences


def reconcile(
    statement: Statement,
    moves: Iterable[LedgerBankMove],
    *,
    ledger_opening: Decimal,
    ledger_closing: Decimal,
) -> Reconciliation:
    """Every difference between one day's statement and the ledger's bank movements of that day."""
    ledger = {m.bank_ref: m for m in moves}
    report = Reconciliation(day=statement.day, statement_lines=len(statement.lines), ledger_moves=len(ledger))
    seen: set[str] = set()
    for line in statement.lines:
        seen.add(line.bank_ref)
        mine = ledger.get(line.bank_ref)
        if mine is None:
            report.differences.append(
                Difference("missing_in_ledger", line.bank_ref, line.amount, None, line.details[:200])
            )
        elif mine.amount != line.amount:
            report.differences.append(Difference("amount_mismatch", line.bank_ref, line.amount, mine.amount, mine.what))
    for ref, mine in sorted(ledger.items()):
        if ref not in seen:
            report.differences.append(Difference("missing_in_statement", ref, None, mine.amount, mine.what))
    if statement.opening != ledger_opening:
        report.differences.append(
            Difference("opening_balance", None, statement.opening, ledger_opening, "期初余额不符")
        )
    if statement.closing != ledger_closing:
        report.differences.append(
            Difference("closing_balance", None, statement.closing, ledger_closing, "期末余额不符")
        )
    return report
