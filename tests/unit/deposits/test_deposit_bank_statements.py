"""The bank simulator (faults, no dedupe of its own), MT940 statements and the reconciliation of one day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sunbid.core.clock import FakeClock
from sunbid.core.errors import ValidationFailed
from sunbid.deposits.bank import BankSimulator, TransferOrder, TransferRefused, TransferTimeout
from sunbid.deposits.guarantees import GuaranteeError, GuaranteeRecord, IssuerSimulator
from sunbid.deposits.statements import LedgerBankMove, parse_mt940, reconcile

D = Decimal
T = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _order(key: str, amount: str = "100.00") -> TransferOrder:
    return TransferOrder(key, "6222000011112222", "甲建筑公司", "工行", D(amount), "退还")


def test_simulator_faults_and_queries() -> None:
    bank = BankSimulator(FakeClock(T))
    bank.refuse_next()
    with pytest.raises(TransferRefused):
        bank.transfer(_order("K1"))
    q = bank.query_transfer("K1")
    assert q is not None and q.status == "refused"
    bank.timeout_next(executed=False)
    with pytest.raises(TransferTimeout):
        bank.transfer(_order("K2"))
    assert bank.query_transfer("K2") is None  # never executed: safe to send again
    bank.timeout_next(executed=True)
    with pytest.raises(TransferTimeout):
        bank.transfer(_order("K3"))
    paid = bank.query_transfer("K3")
    assert paid is not None and paid.status == "paid"  # the answer was lost, the money was not
    assert bank.times_paid("K3") == 1
    bank.transfer(_order("K3"))  # the bank does not deduplicate: callers must query first
    assert bank.times_paid("K3") == 2


def test_simulator_delivers_duplicated_and_reordered_notices() -> None:
    bank = BankSimulator(FakeClock(T), seed=3)
    refs = [
        bank.pay_in(virtual_account=f"VA{i}", payer_account="1", payer_name="x", amount=D("1.00")).bank_ref
        for i in range(20)
    ]
    got = bank.deliveries(duplicate_rate=0.5, shuffle=True)
    assert sorted({n.bank_ref for n in got}) == sorted(refs)
    assert len(got) > 20
    assert [n.bank_ref for n in got] != sorted(n.bank_ref for n in got)
    assert bank.deliveries() == []


def test_statement_round_trip_and_reconciliation_finds_every_difference() -> None:
    clock = FakeClock(T)
    bank = BankSimulator(clock)
    a = bank.pay_in(virtual_account="VA1", payer_account="6222000011112222", payer_name="甲", amount=D("800000.00"))
    b = bank.pay_in(virtual_account="VA2", payer_account="6222000033334444", payer_name="乙", amount=D("250000.50"))
    paid = bank.transfer(_order("SBR1", "250000.50"))
    fee_ref = bank.add_booking(D("-15.00"), "手续费")  # the bank books something we never heard of
    statement = parse_mt940(bank.statement_mt940(date(2026, 3, 2)))
    assert statement.day == date(2026, 3, 2)
    assert statement.opening == D("0.00")
    assert statement.closing == D("800000.00") - D("15.00")
    assert [line.amount for line in statement.lines] == [D("800000.00"), D("250000.50"), D("-250000.50"), D("-15.00")]
    assert paid.bank_ref is not None
    ours = [
        LedgerBankMove(a.bank_ref, D("800000.00"), "credit"),
        LedgerBankMove(b.bank_ref, D("250000.05"), "credit"),  # keyed wrongly on our side
        LedgerBankMove(paid.bank_ref, D("-250000.50"), "refund"),
        LedgerBankMove("BK999", D("-1.00"), "refund"),  # we think we paid; the bank has no such booking
    ]
    report = reconcile(statement, ours, ledger_opening=D("0.00"), ledger_closing=D("550000.55"))
    kinds = {(d.kind, d.bank_ref) for d in report.differences}
    assert kinds == {
        ("missing_in_ledger", fee_ref),
        ("amount_mismatch", b.bank_ref),
        ("missing_in_statement", "BK999"),
        ("closing_balance", None),
    }
    clean = reconcile(
        statement,
        [
            *ours[:1],
            LedgerBankMove(b.bank_ref, D("250000.50"), "credit"),
            ours[2],
            LedgerBankMove(fee_ref, D("-15.00"), "fee"),
        ],
        ledger_opening=D("0.00"),
        ledger_closing=D("799985.00"),
    )
    assert clean.balanced


@pytest.mark.parametrize("text", ["", "hello", ":20:X\n:25:1\n"])
def test_malformed_statements_are_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_mt940(text)


def test_issuer_simulator_verifies_each_field_and_claims_once() -> None:
    issuer = IssuerSimulator()
    rec = GuaranteeRecord("BH-1", "某银行", "letter", "城投", "91341700X", D("100.00"), T, T, "ab" * 32)
    issuer.issue(rec)
    assert issuer.verify(rec).ok
    forged = GuaranteeRecord("BH-1", "某银行", "letter", "城投", "91341700X", D("100.00"), T, T, "cd" * 32)
    assert issuer.verify(forged).mismatches == ("file_sha256",)
    assert issuer.verify(GuaranteeRecord("BH-2", *list(rec.__dict__.values())[1:])).mismatches == ("number",)
    first = issuer.claim("BH-1", D("100.00"), "refused_contract", key="c1")
    assert issuer.claim("BH-1", D("100.00"), "refused_contract", key="c1") == first
    with pytest.raises(GuaranteeError):
        issuer.claim("BH-1", D("100.00"), "again", key="c2")
