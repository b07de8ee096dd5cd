"""The payout gateway simulator and signed callbacks (pure, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sunbid.core.clock import FakeClock
from sunbid.core.errors import Forbidden, ValidationFailed
from sunbid.experts.payments import (
    PaymentOrder,
    PaymentRefused,
    PaymentSimulator,
    PaymentTimeout,
    callback_json,
    sign_callback,
    verify_callback,
)


def _order(key: str = "EF0000000001A01", amount: str = "800.00") -> PaymentOrder:
    return PaymentOrder(key, "6222020000001111", "专家甲", "中国银行", Decimal(amount), "评标费")


def test_order_repr_hides_the_payee() -> None:
    assert "6222" not in repr(_order()) and "专家甲" not in repr(_order())


def test_simulator_pays_refuses_and_times_out_like_a_gateway() -> None:
    sim = PaymentSimulator(FakeClock())
    assert sim.pay(_order()).status == "paid" and sim.times_paid("EF0000000001A01") == 1
    sim.refuse_next()
    with pytest.raises(PaymentRefused):
        sim.pay(_order("K2"))
    q = sim.query("K2")
    assert q is not None and q.status == "refused"
    sim.timeout_next(executed=False)
    with pytest.raises(PaymentTimeout):
        sim.pay(_order("K3"))
    assert sim.query("K3") is None  # never executed: safe to send again
    sim.timeout_next(executed=True)
    with pytest.raises(PaymentTimeout):
        sim.pay(_order("K4"))
    paid = sim.query("K4")
    assert paid is not None and paid.status == "paid"  # executed: must not be sent again
    sim.pay(_order("K4"))  # a careless caller is paid twice: the simulator does not deduplicate
    assert sim.times_paid("K4") == 2 and sim.total_paid() == Decimal("2400.00")
    with pytest.raises(PaymentRefused):
        sim.pay(_order("K5", "0.00"))


def test_callbacks_are_duplicated_on_request() -> None:
    sim = PaymentSimulator(FakeClock(), seed=3)
    sim.pay(_order())
    cbs = sim.callbacks(duplicate_rate=1.0)
    assert len(cbs) == 2 and cbs[0] == cbs[1] and sim.callbacks() == []


def test_signed_callback_round_trip_and_rejections() -> None:
    sim = PaymentSimulator(FakeClock())
    sim.pay(_order())
    [cb] = sim.callbacks()
    secret = b"k" * 32
    body = callback_json(cb)
    assert verify_callback(secret, body, sign_callback(secret, body)) == cb
    with pytest.raises(Forbidden):
        verify_callback(secret, body, None)
    with pytest.raises(Forbidden):
        verify_callback(secret, body + b" ", sign_callback(secret, body))
    with pytest.raises(Forbidden):
        verify_callback(b"x" * 32, body, sign_callback(secret, body))
    for bad in (b"[]", b'{"key": "K", "status": "maybe", "amount": "1", "at": "2026-01-01T00:00:00+00:00"}',
                b'{"key": "K", "status": "paid", "amount": "NaN", "at": "2026-01-01T00:00:00+00:00"}',
                b'{"key": "K", "status": "paid", "amount": "1", "at": "2026-01-01T00:00:00"}'):  # fmt: skip
        with pytest.raises(ValidationFailed):
            verify_callback(secret, bad, sign_callback(secret, bad))
