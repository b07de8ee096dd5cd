"""Deposits through the services on a real database: accounts, bank notices, refunds by the lifecycle, faults."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from sunbid.bidding.service import deposit_status
from sunbid.core.calendar import local_date
from sunbid.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from sunbid.deposits import forfeits, reconcile, refunds, service
from sunbid.deposits.domain import open_liabilities
from sunbid.deposits.models import DepositCredit, DepositLedgerEntry
from sunbid.ledger.models import AuditEvent
from sunbid.projects.models import Section
from tests.integration.deposits.conftest import REQUIRED, Dw

D = Decimal


def _ledger_ok(dw: Dw) -> dict[str, object]:
    with dw.platform.uow() as uow:
        check = reconcile.ledger_check(uow)
        postings = service.ledger_postings(uow)
    assert check["sum"] == "0.00"
    assert D(str(check["bank"])) == dw.bank.balance()  # our books agree with the bank's
    assert open_liabilities(postings) == {}
    return check


def test_one_virtual_account_per_bidder_and_section(dw: Dw) -> None:
    a1 = dw.open_account("bidder_a")
    assert dw.open_account("bidder_a") == a1  # the same on every call
    b1 = dw.open_account("bidder_b")
    assert a1 != b1 and len(a1) == 19 and a1.startswith("3417")
    with pytest.raises(Forbidden), dw.platform.uow() as uow:
        service.open_account(uow, dw.system, dw.tw.actor("tenderer"), dw.pid, "01")
    with dw.platform.uow() as uow:
        account, credits, _, _ = service.own_account(uow, dw.tw.actor("bidder_b"), dw.pid, "01")
        assert account.virtual_account == b1 and credits == []


def test_duplicated_and_reordered_notices_credit_once(dw: Dw) -> None:
    first = dw.pay("bidder_a", D("100000.00"))
    second = dw.pay("bidder_a", D("150000.00"))
    notices = [second, first, second, first, first]  # out of order, three times, twice
    assert [dw.receive(n) for n in notices] == [True, True, False, False, False]
    with dw.platform.db.read() as s:
        rows = s.scalars(select(DepositCredit).order_by(DepositCredit.id)).all()
        assert [(r.bank_ref, r.notices, r.verdict) for r in rows] == [
            (second.bank_ref, 2, "accepted"),
            (first.bank_ref, 3, "accepted"),
        ]
        assert s.scalar(select(func.count()).select_from(DepositLedgerEntry)) == 2
    with dw.platform.uow() as uow:
        project = service.projects.get_project(uow, dw.pid)
        section = uow.session.scalars(select(Section).where(Section.project_id == dw.pid)).one()
        assert service.deposit_state(uow, dw.system, project, section, dw.org("bidder_a").id)[:2] == (
            "paid",
            REQUIRED,
        )


def test_wrong_payer_and_late_credits_are_flagged_and_returned_once(dw: Dw) -> None:
    wrong = dw.pay("bidder_b", from_account="6222999988887777")
    dw.deliver_all(duplicate_rate=1.0)
    late = dw.pay("bidder_c", booked_at=dw.deadline)
    dw.receive(late)
    unknown = dw.bank.pay_in(
        virtual_account="3417000000999999990", payer_account="1234567890", payer_name="某人", amount=D("10.00")
    )
    dw.receive(unknown)
    dw.run_worker()
    with dw.platform.db.read() as s:
        verdicts = dict(s.execute(select(DepositCredit.bank_ref, DepositCredit.verdict)).all())
    assert verdicts == {wrong.bank_ref: "wrong_payer", late.bank_ref: "late", unknown.bank_ref: "unknown_account"}
    returned = dw.refunds()
    assert [(r.reason, r.state, r.to_account, r.amount) for r in returned] == [
        ("returned", "confirmed", "6222999988887777", REQUIRED),
        ("returned", "confirmed", "6222000011110003", REQUIRED),
        ("returned", "confirmed", "1234567890", D("10.00")),
    ]
    assert all(dw.bank.times_paid(r.transfer_key) == 1 for r in returned)
    with dw.platform.uow() as uow:
        project = service.projects.get_project(uow, dw.pid)
        section = uow.session.scalars(select(Section).where(Section.project_id == dw.pid)).one()
        assert deposit_status(uow, project, section, dw.org("bidder_b"))[0] == "wrong_payer"
        assert deposit_status(uow, project, section, dw.org("bidder_c"))[0] == "missing"
    _ledger_ok(dw)


def test_sealed_before_opening_for_every_role_then_visible(dw: Dw) -> None:
    dw.pay("bidder_a")
    dw.deliver_all()
    for who in ("tenderer", "agency", "operator", "regulator", "expert", "admin"):
        with pytest.raises(Forbidden) as err, dw.platform.uow() as uow:
            service.section_deposits(uow, dw.system, dw.tw.actor(who), dw.pid)
        assert err.value.code == "deposit.sealed", who
    for who in ("bidder_a", "bidder_b", "regulator_far"):
        with pytest.raises(Forbidden) as err, dw.platform.uow() as uow:
            service.section_deposits(uow, dw.system, dw.tw.actor(who), dw.pid)
        assert err.value.code == "deposit.forbidden", who
    with pytest.raises(NotFound), dw.platform.uow() as uow:  # a bidder sees only its own
        service.own_account(uow, dw.tw.actor("bidder_b"), dw.pid, "01")
    with dw.platform.db.read() as s:  # nothing in the public log names the payer before opening
        for e in s.scalars(select(AuditEvent).where(AuditEvent.tag.like("deposit:%"))):
            assert str(dw.org("bidder_a").id) not in {str(v) for v in (e.data or {}).values()}
            assert dw.org("bidder_a").name not in str(e.data)
    dw.to_opened()
    with dw.platform.uow() as uow:
        rows = service.section_deposits(uow, dw.system, dw.tw.actor("tenderer"), dw.pid)
    assert [(r.org_name, r.status, r.accepted) for r in rows] == [("甲建筑公司", "paid", REQUIRED)]


def test_refunds_follow_award_and_contract_with_interest_to_the_fen(dw: Dw) -> None:
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        dw.pay(who)  # booked Monday 2 March 2026
    dw.deliver_all(duplicate_rate=0.5, shuffle=True)
    dw.to_opened()
    dw.to_award("bidder_a")  # award notice on 27 March (local)
    dw.run_worker()
    by_reason = {(r.reason, r.to_account): r for r in dw.refunds()}
    loser = by_reason[("lost", "6222000011110002")]
    assert loser.state == "confirmed"
    # 250000.00 × 0.35% × 25 days / 360 = 60.7638… → 60.76 (2 → 27 March, 算头不算尾)
    assert (loser.principal, loser.interest, loser.fee, loser.amount) == (
        REQUIRED,
        D("60.76"),
        D("0.00"),
        D("250060.76"),
    )
    assert by_reason[("lost", "6222000011110003")].amount == D("250060.76")
    assert dw.account("bidder_a").status == "open"  # the winner waits for the contract
    assert dw.refunded_at() is None
    dw.clock.advance(timedelta(days=10))  # contract on 6 April
    dw.sign_contract("bidder_a")
    dw.run_worker()
    winner = next(r for r in dw.refunds() if r.reason == "won")
    # 250000.00 × 0.35% × 35 / 360 = 85.0694… → 85.07
    assert (winner.state, winner.interest, winner.amount) == ("confirmed", D("85.07"), D("250085.07"))
    assert dw.refunded_at() is not None  # deposits_settled: the archive step may go
    check = _ledger_ok(dw)
    assert check["interest"] == "206.59"  # 60.76 + 60.76 + 85.07
    assert sorted(dw.bank.paid_keys().values()) == [1, 1, 1]
    with dw.platform.uow() as uow:
        stats = reconcile.statistics(uow, dw.tw.actor("operator"))
    assert (stats["deposits"], stats["guarantees"], stats["guarantee_share_percent"]) == (3, 0, "0.00")
    assert (stats["refunds_confirmed"], stats["refunds_on_time"], stats["interest_paid"]) == (3, 3, "206.59")


def test_timeout_is_queried_before_retry_and_refusals_end_unclaimed_then_cleared(dw: Dw) -> None:
    dw.pay("bidder_a")
    dw.pay("bidder_b")
    dw.open_account("bidder_c")
    dw.deliver_all()
    dw.to_opened()
    dw.bank.timeout_next(executed=True)  # b's refund is paid but the answer is lost
    dw.bank.closed_accounts.add("6222000011110003")
    dw.to_award("bidder_a")
    dw.run_worker(rounds=10)
    rb = next(r for r in dw.refunds() if r.to_account == "6222000011110002")
    assert rb.state == "confirmed" and dw.bank.times_paid(rb.transfer_key) == 1
    # c paid nothing: its account settles without a transfer; now c pays late into a closed account
    late = dw.pay("bidder_c")
    dw.receive(late)
    dw.run_worker(rounds=12)
    ret = next(r for r in dw.refunds() if r.reason == "returned")
    assert (ret.state, ret.attempt, ret.unclaimed) == ("failed", 3, True)
    with dw.platform.uow() as uow:
        listed = refunds.unclaimed(uow, dw.tw.actor("operator"))
        uow.commit()
    assert [row["id"] for row in listed] == [ret.id] and listed[0]["to_account"] == "6222000011110003"
    with pytest.raises(Forbidden), dw.platform.uow() as uow:
        refunds.unclaimed(uow, dw.tw.actor("tenderer"))
    with pytest.raises(ValidationFailed), dw.platform.uow() as uow:
        refunds.clear_unclaimed(uow, dw.tw.actor("operator"), ret.id, note=" ")
    with dw.platform.uow() as uow:
        refunds.clear_unclaimed(
            uow, dw.tw.actor("operator"), ret.id, note="投标人来函更正收款账户", to_account="6222000011119999"
        )
        uow.commit()
    with pytest.raises(Conflict), dw.platform.uow() as uow:
        refunds.clear_unclaimed(uow, dw.tw.actor("operator"), ret.id, note="again")
    dw.run_worker()
    ret = next(r for r in dw.refunds() if r.reason == "returned")
    assert (ret.state, ret.to_account, ret.attempt) == ("confirmed", "6222000011119999", 4)
    assert sum(dw.bank.paid_keys().values()) == 2  # b's refund and the cleared return, once each


def test_guarantee_replaces_cash_and_is_claimed_on_forfeit(dw: Dw) -> None:
    from sunbid.deposits.guarantees import GuaranteeRecord

    start, end = dw.clock.now(), dw.deadline + timedelta(days=120)
    tenderer = dw.org("tenderer").name
    rec = GuaranteeRecord(
        "BH2026-001", "某担保公司", "letter", tenderer, dw.org("bidder_b").uscc, REQUIRED, start, end, "ab" * 32
    )
    dw.issuer.issue(rec)
    fields = {
        "number": "BH2026-001",
        "issuer": "某担保公司",
        "form": "letter",
        "amount": "250000.00",
        "valid_from": start,
        "valid_until": end,
    }
    g = dw.sact("bidder_b", forfeits.submit_guarantee, dw.pid, "01", file_sha256="ab" * 32, **fields)
    assert (g.status, g.problems) == ("verified", [])
    forged = dw.sact("bidder_c", forfeits.submit_guarantee, dw.pid, "01", file_sha256="cd" * 32, **fields)
    assert forged.status == "rejected" and "issuer:applicant_uscc" in forged.problems
    dw.to_opened()
    with dw.platform.uow() as uow:
        rows = {r.org_name: r.status for r in service.section_deposits(uow, dw.system, dw.tw.actor("agency"), dw.pid)}
    assert rows == {"乙建筑公司": "guarantee", "丙建筑公司": "missing"}
    account = dw.account("bidder_b")
    with pytest.raises(ValidationFailed):
        dw.sact("agency", forfeits.forfeit, account.id, reason="late_fee", note="x")
    with pytest.raises(Forbidden):
        dw.sact("bidder_a", forfeits.forfeit, account.id, reason="decryption_fault", note="x")
    dw.sact("agency", forfeits.forfeit, account.id, reason="decryption_fault", note="开标时因私钥丢失未能解密")
    assert dw.account("bidder_b").status == "forfeited" and "第31条" in (dw.account("bidder_b").forfeit_basis or "")
    assert next(iter(dw.issuer.claims.values())).amount == REQUIRED
    with dw.platform.uow() as uow:
        stats = reconcile.statistics(uow, dw.tw.actor("operator"))
    assert (stats["deposits"], stats["guarantees"], stats["guarantee_share_percent"]) == (1, 1, "100.00")
    with pytest.raises(Forbidden), dw.platform.uow() as uow:
        reconcile.statistics(uow, dw.tw.actor("tenderer"))
    with pytest.raises(Conflict):
        dw.sact("agency", forfeits.forfeit, account.id, reason="decryption_fault", note="again")


def test_statement_import_reports_an_injected_difference(dw: Dw) -> None:
    dw.pay("bidder_a")
    dw.pay("bidder_b", from_account="6222999988887777")
    dw.deliver_all()
    dw.run_worker()  # the wrong payer's money goes back the same day
    day = local_date(dw.clock.now())
    with dw.platform.uow() as uow:
        row, report = reconcile.import_statement(uow, dw.tw.actor("operator"), dw.bank.statement_mt940(day))
        uow.commit()
    assert report.balanced and row.balanced and report.statement_lines == 3
    fee = dw.bank.add_booking(D("-12.50"), "跨行手续费")
    with dw.platform.uow() as uow:
        row, report = reconcile.import_statement(uow, dw.tw.actor("operator"), dw.bank.statement_mt940(day))
        uow.commit()
    assert not report.balanced
    assert [(d["kind"], d["bank_ref"], d["statement_amount"]) for d in row.differences] == [
        ("missing_in_ledger", fee, "-12.50"),
        ("closing_balance", None, str(dw.bank.balance())),
    ]
    with pytest.raises(Forbidden), dw.platform.uow() as uow:
        reconcile.import_statement(uow, dw.tw.actor("agency"), dw.bank.statement_mt940(day))


def test_requirement_is_bounded_and_owned(dw: Dw) -> None:
    with pytest.raises(ValidationFailed) as err:
        dw.sact("agency", service.set_requirement, dw.pid, "01", amount="250000.01", kind="works")
    assert err.value.code == "deposit.above_limit"
    with pytest.raises(Forbidden):
        dw.sact("bidder_a", service.set_requirement, dw.pid, "01", amount="1000.00", kind="works")
    assert service.projects.project_facts(dw.project(), dw.clock.now()).deposits_required


def test_a_failed_tender_refunds_everybody_by_itself(dw: Dw) -> None:
    dw.pay("bidder_a")
    dw.pay("bidder_b", D("100000.00"))
    dw.deliver_all()
    with dw.platform.uow() as uow:
        service.projects.update_facts(uow, dw.pid, "bids received", bids_received=2)
        uow.commit()
    dw.clock.set(dw.deadline)
    dw.run_worker()  # fewer than 3 bids: the scheduler fails the tender, the hook plans the refunds
    assert dw.state() == "failed"
    got = sorted((r.reason, r.state, r.principal) for r in dw.refunds())
    assert got == [("terminated", "confirmed", D("100000.00")), ("terminated", "confirmed", REQUIRED)]
    assert dw.refunded_at() is not None
    _ledger_ok(dw)


def test_procurement_pays_the_occupancy_fee_when_the_refund_is_late(dw: Dw) -> None:
    from sunbid.projects.models import Project

    dw.pay("bidder_b")
    dw.deliver_all()
    dw.to_opened()
    dw.to_award("bidder_a")
    with dw.platform.uow() as uow:
        project = uow.session.get(Project, dw.pid)
        assert project is not None
        project.sector = "procurement"  # refunds as under 87号令 §38: 5 working days, then the late fee
        uow.commit()
    dw.platform.worker.run_once()  # plans the refund only: the bank is unreachable for a fortnight
    refund = dw.refunds()[0]
    assert refund.state == "planned" and refund.due_date is not None
    dw.clock.advance(timedelta(days=14))
    dw.run_worker()
    refund = dw.refunds()[0]
    paid_on = local_date(refund.confirmed_at)  # type: ignore[arg-type]
    late = (paid_on - refund.due_date).days
    assert late > 0
    # fee = 250000.00 × 3.00% × 1.2 × late / 360 = 25 × late, to the fen
    assert refund.fee == D(25 * late).quantize(D("0.01"))
    assert refund.amount == refund.principal + refund.interest + refund.fee
    with dw.platform.uow() as uow:
        assert reconcile.statistics(uow, None)["refunds_late"] == 1
    _ledger_ok(dw)


def test_no_forfeiture_before_opening(dw: Dw) -> None:
    dw.pay("bidder_a")
    dw.deliver_all()
    account = dw.account("bidder_a")
    with pytest.raises(Forbidden) as err:
        dw.sact("agency", forfeits.forfeit, account.id, reason="withdrawn_after_deadline", note="撤销")
    assert err.value.code == "deposit.sealed"
    assert dw.account("bidder_a").status == "open"


def test_a_retender_reopens_the_refunded_sub_account(dw: Dw) -> None:
    va = dw.pay("bidder_a").virtual_account
    dw.deliver_all()
    with dw.platform.uow() as uow:
        service.projects.update_facts(uow, dw.pid, "bids received", bids_received=1)
        uow.commit()
    dw.clock.set(dw.deadline)
    dw.run_worker()
    assert dw.state() == "failed" and dw.account("bidder_a").status == "settled"
    dw.perform("agency", "retender")
    dw.perform("agency", "publish_announcement")
    dw.deadline = dw.clock.now() + timedelta(days=21)
    dw.perform("agency", "issue_documents", bid_deadline=dw.deadline.isoformat())
    assert dw.state() == "bidding"
    assert dw.refunded_at() is not None  # settled when the first round failed
    assert dw.open_account("bidder_a") == va  # the same number, open again
    assert dw.refunded_at() is None
    second = dw.pay("bidder_a")
    assert dw.receive(second)
    with dw.platform.db.read() as s:
        assert s.scalars(select(DepositCredit.verdict).where(DepositCredit.bank_ref == second.bank_ref)).one() == (
            "accepted"
        )
    assert dw.account("bidder_a").status == "open"
    with dw.platform.uow() as uow:  # the sub-account holds exactly the new payment
        owed = open_liabilities(service.ledger_postings(uow))
    assert owed == {f"sub:{dw.account('bidder_a').id}": -REQUIRED}


def test_statistics_count_no_deposit_of_a_section_not_yet_opened(dw: Dw) -> None:
    """Even a centre-wide count would tell how many bid on the only section taking bids: sealed ones count nowhere."""
    dw.pay("bidder_a")
    dw.pay("bidder_b")
    dw.deliver_all()
    with dw.platform.uow() as uow:
        sealed = reconcile.statistics(uow, dw.tw.actor("operator"))
    assert (sealed["deposits"], sealed["guarantees"], sealed["guarantee_share_percent"]) == (0, 0, None)
    dw.to_opened()
    with dw.platform.uow() as uow:
        opened = reconcile.statistics(uow, dw.tw.actor("operator"))
    assert (opened["deposits"], opened["guarantees"], opened["guarantee_share_percent"]) == (2, 0, "0.00")
