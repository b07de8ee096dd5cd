"""Expert fees through the service: computed by the scale, approved, paid exactly once through the gateway,
double-entry ledger; crash-safe; refusals, timeouts and duplicate callbacks. Property test at the end."""

from __future__ import annotations

import contextlib
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from sunbid.core.clock import SHANGHAI
from sunbid.core.errors import Conflict, Forbidden
from sunbid.experts import management_fees as fees
from sunbid.experts.models_management import ExpertFee, ExpertFeeLedgerEntry
from sunbid.experts.payments import PaymentSimulator, PaymentTimeout
from sunbid.ledger.models import AuditEvent
from tests.integration.experts.conftest import Ew, db_dump
from tests.integration.experts.mgmt_support import Panel, unsealed_panel

ACCOUNT = "6222020000000{:04d}"


def local(day: date, hm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hm), SHANGHAI)


@pytest.fixture
def panel(ew: Ew) -> Panel:
    p = unsealed_panel(ew)
    for n, code in enumerate(p.confirmed):
        ew.run(
            fees.register_bank_account, None, ew.keys, code, ACCOUNT.format(n), f"专家户名{n}", "中国建设银行池州分行"
        )
    ew.advance_to(p.starts_at + timedelta(hours=8))
    return p


def _sim(ew: Ew, **kw: object) -> PaymentSimulator:
    sim = PaymentSimulator(ew.bw.clock, **kw)  # type: ignore[arg-type]
    fees.install_gateway(ew.platform, sim)
    return sim


def _session(panel: Panel) -> tuple[datetime, datetime]:
    day = panel.starts_at.astimezone(SHANGHAI).date()  # Tuesday 24 March 2026, a working day
    return local(day, "09:00"), local(day, "15:10")


def _fee(ew: Ew, panel: Panel, code: str) -> ExpertFee:
    start, end = _session(panel)
    return ew.run(fees.compute_fee, None, panel.draw_id, code, start, end)  # type: ignore[no-any-return]


def _state(ew: Ew, fee_id: int) -> ExpertFee:
    with ew.platform.db.read() as s:
        fee = s.get(ExpertFee, fee_id)
        assert fee is not None
        return fee


def _balances(ew: Ew) -> dict[str, Decimal]:
    with ew.platform.db.read() as s:
        return fees.ledger_balances(s)


def test_fee_is_computed_by_the_scale_and_paid_once_with_the_ledger(ew: Ew, panel: Panel) -> None:
    sim = _sim(ew)
    code = panel.confirmed[0]
    fee = _fee(ew, panel, code)
    # 09:00–15:10 on a working day: 800 + 2 × 150 (the last 10 minutes are within the grace) = 1100.00
    assert fee.amount == Decimal("1100.00") and fee.state == "computed"
    assert fee.breakdown["days"][0]["extra_units"] == 2
    fee = ew.run(fees.approve_fee, None, fee.id)
    assert _balances(ew) == {"payer:centre": Decimal("1100.00"), f"payable:expert:{code}": Decimal("-1100.00")}
    with pytest.raises(Conflict):
        _fee(ew, panel, code)  # approved: no recomputation
    ew.platform.worker.run_once()  # the expert.fee_pay job
    paid = _state(ew, fee.id)
    assert paid.state == "paid" and paid.gateway_ref and sim.times_paid(paid.payment_key) == 1
    balances = _balances(ew)
    assert balances[f"payable:expert:{code}"] == 0 and balances["bank:expert_fees"] == Decimal("-1100.00")
    assert sum(balances.values()) == 0
    # duplicated callbacks change nothing
    for cb in sim.callbacks(duplicate_rate=1.0):
        assert not ew.run(fees.apply_callback, cb)
    assert sim.total_paid() == Decimal("1100.00")
    with ew.platform.db.read() as s:
        listed = fees.list_fees(s, draw_id=panel.draw_id)
        tags = [a.tag for a in s.scalars(select(AuditEvent).where(AuditEvent.subject_type == "expert_fee"))]
    assert [x["state"] for x in listed] == ["paid"] and listed[0]["amount"] == "1100.00"
    assert tags == ["expert:fee:computed", "expert:fee:approved", "expert:fee:sending", "expert:fee:paid"]
    dump = db_dump(ew.platform)
    assert ACCOUNT.format(0) not in dump and "专家户名0" not in dump  # the account is encrypted at rest


def test_tenderer_pays_when_configured(ew: Ew, panel: Panel) -> None:
    from sunbid.identity.models import Centre

    with ew.platform.db.session() as s:
        centre = s.scalar(select(Centre))
        assert centre is not None
        centre.settings = {
            **(centre.settings or {}),
            "expert_fees": {"payer": "tenderer", "scale": {"base_amount": "900"}},
        }
        s.commit()
    fee = _fee(ew, panel, panel.confirmed[1])
    assert fee.amount == Decimal("1200.00") and fee.payer.startswith("payer:tenderer:")


def test_only_confirmed_experts_with_an_account_are_paid_and_only_by_centre_staff(ew: Ew, panel: Panel) -> None:
    start, end = _session(panel)
    with pytest.raises(Conflict):
        ew.run(fees.compute_fee, None, panel.draw_id, panel.refused[0], start, end)
    with pytest.raises(Forbidden):
        ew.run(fees.compute_fee, ew.bw.tw.actor("agency"), panel.draw_id, panel.confirmed[0], start, end)
    with pytest.raises(Forbidden):
        ew.run(
            fees.register_bank_account, ew.bw.tw.actor("bidder_a"), ew.keys, panel.confirmed[0], "62220200", "x", "y"
        )
    with ew.platform.db.session() as s:  # an expert without an account on file
        from sunbid.experts.models_management import ExpertBankAccount

        s.execute(delete(ExpertBankAccount))
        s.commit()
    fee = _fee(ew, panel, panel.confirmed[0])
    with pytest.raises(Conflict) as exc:
        ew.run(fees.approve_fee, None, fee.id)
    assert exc.value.code == "expert_fee.no_bank_account"


def test_timeout_with_unknown_outcome_is_queried_before_any_retry(ew: Ew, panel: Panel) -> None:
    sim = _sim(ew)
    fee = ew.run(fees.approve_fee, None, _fee(ew, panel, panel.confirmed[0]).id)
    sim.timeout_next(1, executed=True)  # paid, but the answer is lost
    with pytest.raises(PaymentTimeout):
        fees.execute_payment(ew.platform, fee.id)
    assert _state(ew, fee.id).state == "sending"
    assert fees.execute_payment(ew.platform, fee.id) == "paid"  # the query finds it: not paid again
    assert sim.times_paid(fee.payment_key) == 1
    fee2 = ew.run(fees.approve_fee, None, _fee(ew, panel, panel.confirmed[1]).id)
    sim.timeout_next(1, executed=False)  # never reached the gateway
    with pytest.raises(PaymentTimeout):
        fees.execute_payment(ew.platform, fee2.id)
    assert fees.execute_payment(ew.platform, fee2.id) == "paid"
    assert sim.times_paid(fee2.payment_key) == 1


def test_refusals_retry_with_new_keys_then_wait_for_the_operator(ew: Ew, panel: Panel) -> None:
    sim = _sim(ew)
    fee = ew.run(fees.approve_fee, None, _fee(ew, panel, panel.confirmed[0]).id)
    sim.refuse_next(fees.MAX_ATTEMPTS)
    keys = []
    for _ in range(fees.MAX_ATTEMPTS):
        keys.append(_state(ew, fee.id).payment_key)
        fees.execute_payment(ew.platform, fee.id)
    failed = _state(ew, fee.id)
    assert failed.state == "failed" and failed.attempt == fees.MAX_ATTEMPTS and len(set(keys)) == fees.MAX_ATTEMPTS
    assert sim.paid() == {}
    assert _balances(ew)[f"payable:expert:{panel.confirmed[0]}"] == Decimal("-1100.00")  # still owed
    ew.run(fees.retry_fee, None, fee.id, "专家已更正收款账户")
    assert fees.execute_payment(ew.platform, fee.id) == "paid"
    with pytest.raises(Conflict):
        ew.run(fees.retry_fee, None, fee.id, "再发一次")
    assert sum(_balances(ew).values()) == 0 and _balances(ew)[f"payable:expert:{panel.confirmed[0]}"] == 0


class Crash(Exception):
    """The worker process dies here."""


STEPS = ("before_sending_commit", "after_sending", "after_gateway", "before_result_commit")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.generate],
)
@given(seed=st.integers(0, 2**32 - 1), refuse=st.floats(0, 0.4), timeout=st.floats(0, 0.4), crash=st.floats(0, 0.4))
def test_property_each_fee_is_paid_exactly_once_and_the_ledger_balances(
    ew: Ew, panel: Panel, seed: int, refuse: float, timeout: float, crash: float
) -> None:
    rng = random.Random(seed)
    with ew.platform.db.session() as s:  # a fresh set of fees for this example
        s.execute(delete(ExpertFeeLedgerEntry))
        s.execute(delete(ExpertFee))
        s.commit()
    sim = _sim(ew, refuse_rate=refuse, timeout_rate=timeout, seed=seed, ref_prefix=f"P{seed}-")
    ids = [ew.run(fees.approve_fee, None, _fee(ew, panel, code).id).id for code in panel.confirmed]

    def fault(step: str) -> None:
        if rng.random() < crash:
            raise Crash(step)

    for _ in range(300):
        states = {i: _state(ew, i).state for i in ids}
        if all(st_ == "paid" for st_ in states.values()):
            break
        fee_id = rng.choice([i for i, st_ in states.items() if st_ != "paid"])
        if states[fee_id] == "failed":
            ew.run(fees.retry_fee, None, fee_id, "运营人员核实后重新发放")
            continue
        with contextlib.suppress(Crash, PaymentTimeout):
            fees.execute_payment(ew.platform, fee_id, fault=fault)
        if rng.random() < 0.5:  # the gateway's callbacks, late, duplicated and shuffled
            for cb in sim.callbacks(duplicate_rate=0.5, shuffle=True):
                with contextlib.suppress(Crash):
                    ew.run(fees.apply_callback, cb)
    with ew.platform.db.read() as s:
        rows = list(s.scalars(select(ExpertFee).where(ExpertFee.id.in_(ids))))
    assert all(r.state == "paid" for r in rows)
    paid = sim.paid()
    for r in rows:
        keys_paid = [k for k in paid if k.startswith(f"EF{r.id:010d}A")]
        assert keys_paid == [r.payment_key] and paid[r.payment_key] == [Decimal(r.amount)], (r.id, paid)
    balances = _balances(ew)
    assert sum(balances.values()) == 0
    assert all(v == 0 for k, v in balances.items() if k.startswith("payable:"))
    assert -balances["bank:expert_fees"] == sim.total_paid() == sum(Decimal(r.amount) for r in rows)


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_is_finished_by_the_next_run_without_paying_twice(ew: Ew, panel: Panel, step: str) -> None:
    sim = _sim(ew)
    fee = ew.run(fees.approve_fee, None, _fee(ew, panel, panel.confirmed[0]).id)

    def crash(at: str) -> None:
        if at == step:
            raise Crash(at)

    with pytest.raises(Crash):
        fees.execute_payment(ew.platform, fee.id, fault=crash)
    assert fees.execute_payment(ew.platform, fee.id) == "paid"
    assert fees.execute_payment(ew.platform, fee.id) == "paid"  # the queued job, run again: nothing happens
    assert sim.times_paid(_state(ew, fee.id).payment_key) == 1 and sim.total_paid() == Decimal("1100.00")
    balances = _balances(ew)
    assert balances["bank:expert_fees"] == Decimal("-1100.00") and sum(balances.values()) == 0


def test_the_panel_fees_in_one_go(ew: Ew, panel: Panel) -> None:
    start, end = _session(panel)
    rows = ew.run(fees.compute_panel_fees, None, panel.draw_id, start, end)
    assert sorted(r.expert_id for r in rows) == sorted({r.expert_id for r in rows}) and len(rows) == 3
    assert {r.amount for r in rows} == {Decimal("1100.00")}
    ew.run(fees.approve_fee, None, rows[0].id)
    again = ew.run(fees.compute_panel_fees, None, panel.draw_id, start, end + timedelta(hours=1))
    assert len(again) == 2 and {r.amount for r in again} == {Decimal("1250.00")}  # 800 + 3 × 150 (16:10)
    with pytest.raises(Forbidden):
        ew.run(fees.compute_panel_fees, ew.bw.tw.actor("regulator"), panel.draw_id, start, end)
