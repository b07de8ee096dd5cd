"""Property: whatever the bank does (duplicated, reordered, delayed notices; refused and timed-out transfers)
and wherever the refund job crashes, every deposit is credited once, every refund is paid exactly once and the
ledger balances to zero after all refunds, in agreement with the bank."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from sunbid.core.clock import FakeClock
from sunbid.deposits import refunds, service, tasks
from sunbid.deposits.bank import BankSimulator, CreditNotice, TransferTimeout
from sunbid.deposits.domain import DEFAULT_RULES, open_liabilities, sub_account
from sunbid.deposits.domain import balances as domain_balances
from sunbid.deposits.guarantees import IssuerSimulator
from sunbid.deposits.models import DepositAccount, DepositCredit, DepositRefund
from sunbid.deposits.reconcile import bank_balance
from sunbid.deposits.service import DepositSystem
from sunbid.projects import service as projects
from sunbid.projects.models import Project
from tests.integration.bidding.conftest import to_bidding
from tests.integration.deposits.conftest import BASIC, REQUIRED
from tests.integration.projects.conftest import Tw

WHO = ("bidder_a", "bidder_b", "bidder_c")
STEPS = ("before_sent_commit", "after_sent", "after_bank", "before_result_commit", None)


class Crash(Exception):
    """The worker process dies here."""


payment = st.sampled_from(["none", "exact", "split", "wrong_payer", "late", "exact_twice"])
fate = st.sampled_from(["refuse", "timeout_paid", "timeout_lost", "ok", "ok"])


def _setup_bidders(tw: Tw) -> None:
    from sunbid.identity import service as identity
    from sunbid.identity.models import User
    from tests.support.world import PASSWORD

    with tw.platform.uow() as uow:
        if uow.session.scalar(select(User).where(User.username == "bidder_c")) is None:
            user = identity.create_user(uow, username="bidder_c", display_name="丙", password=PASSWORD)
            identity.add_membership(uow, user=user, org=tw.world.orgs["bidder_c"], role="bidder")
        uow.commit()
    with tw.platform.uow() as uow:
        for who, number in BASIC.items():
            service.register_basic_account(
                uow, tw.actor(who), account_no=number, account_name=tw.world.orgs[who].name, bank_name="工行"
            )
        uow.commit()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # shrinking a database-backed run takes minutes
)
@given(data=st.data())
def test_exactly_once_under_bank_faults_and_crashes(tw: Tw, clock: FakeClock, data: st.DataObject) -> None:
    platform = tw.platform
    if not getattr(tw, "_ready", False):
        _setup_bidders(tw)
        tw._ready = True  # type: ignore[attr-defined]
    clock.advance(timedelta(days=40))
    tw._examples = getattr(tw, "_examples", 0) + 1  # type: ignore[attr-defined]
    bank = BankSimulator(clock, seed=data.draw(st.integers(0, 2**16)), ref_prefix=f"E{tw._examples:04d}")  # type: ignore[attr-defined]
    system = DepositSystem(rules=DEFAULT_RULES, bank=bank, issuer=IssuerSimulator())
    tasks.install_system(platform, system)
    pid, _, deadline = to_bidding(tw, clock)
    with platform.uow() as uow:
        service.set_requirement(uow, system, tw.actor("agency"), pid, "01", amount=str(REQUIRED), kind="works")
        before = bank_balance(uow)
        suspense_before = domain_balances(service.ledger_postings(uow)).get("suspense", Decimal("0.00"))
        uow.commit()

    # --- money in: each bidder pays its way; notices come duplicated, reordered, some only after the deadline
    plans = {who: data.draw(payment, label=who) for who in WHO}
    paid_refs: list[str] = []
    for who, plan in plans.items():
        if plan == "none":
            continue
        with platform.uow() as uow:
            va = service.open_account(uow, system, tw.actor(who), pid, "01").virtual_account
            uow.commit()
        name = tw.world.orgs[who].name
        amounts = {"split": [Decimal("100000.00"), Decimal("150000.00")], "exact_twice": [REQUIRED, REQUIRED]}
        for amount in amounts.get(plan, [REQUIRED]):
            notice = bank.pay_in(
                virtual_account=va,
                payer_account="6222999900001111" if plan == "wrong_payer" else BASIC[who],
                payer_name=name,
                amount=amount,
                booked_at=deadline + timedelta(minutes=5) if plan == "late" else None,
            )
            paid_refs.append(notice.bank_ref)
    notices = bank.deliveries(duplicate_rate=data.draw(st.floats(0, 1)), shuffle=True)
    split = data.draw(st.integers(0, len(notices)))
    very_late = data.draw(st.integers(split, len(notices)))  # from here: only after the refunds were planned
    received: list[CreditNotice] = []

    def receive(batch: list[CreditNotice]) -> None:
        for n in batch:
            with platform.uow() as uow:
                service.receive_credit(uow, system, n)
                uow.commit()
            received.append(n)

    receive(notices[:split])
    clock.set(deadline + timedelta(hours=1))  # the rest arrive late, but were booked before the deadline
    receive(notices[split:very_late])

    # --- award and contract: every deposit goes back (the lifecycle hook path is tested in test_deposit_flow)
    winner = data.draw(st.sampled_from(WHO))
    with platform.uow() as uow:
        project = uow.session.get(Project, pid)
        assert project is not None
        project.winner_org_id = tw.world.orgs[winner].id
        refunds.settle(uow, system, pid, "award")
        projects.update_facts(uow, pid, "contract", contract_signed_at=clock.now())
        refunds.settle(uow, system, pid, "contract")
        uow.commit()
    receive(notices[very_late:])  # a bank that notifies days late: the money must still go back, once

    # --- pay everything out under scripted bank fates and crashes between any two steps of a refund job
    crashes = iter(data.draw(st.lists(st.sampled_from(STEPS), max_size=40), label="crashes"))
    for f in data.draw(st.lists(fate, max_size=8), label="bank fates"):
        if f == "refuse":
            bank.refuse_next()
        elif f == "timeout_paid":
            bank.timeout_next(executed=True)
        elif f == "timeout_lost":
            bank.timeout_next(executed=False)
        else:
            bank._script.append("ok")
    for _ in range(60):
        with platform.db.read() as s:
            todo = [
                r.id
                for r in s.scalars(select(DepositRefund).where(DepositRefund.project_id == pid))
                if r.state != "confirmed"
            ]
            stuck = [
                r.id for r in s.scalars(select(DepositRefund).where(DepositRefund.project_id == pid)) if r.unclaimed
            ]
        if not todo:
            break
        for rid in stuck:
            with platform.uow() as uow:
                refunds.clear_unclaimed(uow, tw.actor("operator"), rid, note="核实后重新退还")
                uow.commit()
        for rid in todo:
            step = next(crashes, None)  # drawn up front: a run never overruns half-way through

            def fault(at: str, step: Any = step) -> None:
                if at == step:
                    raise Crash(at)

            with contextlib.suppress(Crash, TransferTimeout):
                refunds.execute_refund(platform, system, rid, fault=fault)
        clock.advance(timedelta(minutes=1))
    else:
        raise AssertionError("refunds did not finish")

    # --- every deposit credited once
    with platform.db.read() as s:
        credits = s.scalars(select(DepositCredit).where(DepositCredit.bank_ref.in_(paid_refs or ["-"]))).all()
        assert sorted(c.bank_ref for c in credits) == sorted(paid_refs)
        assert sum(c.notices for c in credits) == len(received)
        all_refunds = s.scalars(select(DepositRefund).where(DepositRefund.project_id == pid)).all()
        accounts = s.scalars(select(DepositAccount).where(DepositAccount.project_id == pid)).all()
        stored = select(func.count()).select_from(DepositCredit).where(DepositCredit.bank_ref.in_(paid_refs or ["-"]))
        assert s.scalar(stored) == len(set(paid_refs))
    # --- every refund paid exactly once (over all its attempts' keys), and nothing else paid
    paid = bank.paid_keys()
    assert all(n == 1 for n in paid.values()), paid
    for r in all_refunds:
        keys = [k for k in paid if k.startswith(f"SBR{r.id:010d}A")]
        assert len(keys) == 1 and r.state == "confirmed", (r.id, keys, r.state)
    assert len(paid) == len(all_refunds)
    rejected = {c.id for c in credits if c.verdict != "accepted"}
    assert rejected <= {r.credit_id for r in all_refunds if r.reason == "returned"}
    paid_in = sum((Decimal(c.amount) for c in credits), Decimal("0.00"))
    assert sum((Decimal(r.principal) for r in all_refunds), Decimal("0.00")) == paid_in  # all of it, once
    assert all(a.status == "settled" for a in accounts)
    # --- the ledger balances to zero and agrees with the bank
    with platform.uow() as uow:
        postings = service.ledger_postings(uow)
        moved = bank_balance(uow) - before
        facts = projects.project_facts(projects.get_project(uow, pid), clock.now())
    owed = open_liabilities(postings)
    assert not any(k in owed for k in [sub_account(a.id) for a in accounts])
    assert domain_balances(postings).get("suspense", Decimal("0.00")) == suspense_before  # every return went out
    assert moved == bank.balance()
    interest = sum((Decimal(r.interest or 0) for r in all_refunds), Decimal("0.00"))
    assert moved == -interest  # everything paid in went back; the centre paid the interest
    assert facts.deposits_refunded_at is not None
