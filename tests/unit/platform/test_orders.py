"""The shared core of the outbound-order simulators: fault injection, the ledger of executed keys, delivery."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunbid.deposits.bank import TransferRefused, TransferTimeout
from sunbid.experts.payments import PaymentRefused, PaymentTimeout
from sunbid.platform.orders import REFUSED_REASON, Fate, OrderRefused, OrderSimulator, OrderTimeout

D = Decimal


class WidgetRefused(OrderRefused):
    noun = "widget"


class WidgetTimeout(OrderTimeout):
    pass


@dataclass
class WidgetSimulator(OrderSimulator[str]):
    """A minimal simulator: a result is a string, every execution and refusal is logged."""

    refused_error = WidgetRefused
    timeout_error = WidgetTimeout

    log: list[str] = field(default_factory=list)

    def send(self, key: str, amount: str = "10.00", to_account: str = "A1") -> str:
        return self._execute(
            key,
            D(amount),
            to_account,
            refused=lambda reason: self._note(f"refused {key}: {reason}"),
            execute=lambda: self._note(f"paid {key} {amount}"),
        )

    def _note(self, line: str) -> str:
        self.log.append(line)
        return line

    def query(self, key: str) -> str | None:
        return self._query(key)

    def fates(self, n: int) -> list[Fate]:
        """What the next ``n`` orders meet (distinct keys), as seen from outside."""
        out: list[Fate] = []
        for i in range(n):
            key = f"F{len(self.log)}-{i}"
            try:
                self.send(key)
            except WidgetRefused:
                out.append("refuse")
            except WidgetTimeout:
                out.append("timeout_paid" if self.query(key) is not None else "timeout_lost")
            else:
                out.append("ok")
        return out


def test_an_order_that_goes_through_is_recorded_and_counted() -> None:
    sim = WidgetSimulator()
    assert sim.send("K1", "12.50") == "paid K1 12.50"
    assert sim.query("K1") == "paid K1 12.50" and sim.times_paid("K1") == 1
    assert sim._executions() == {"K1": [D("12.50")]}
    assert sim.query("K2") is None and sim.times_paid("K2") == 0


def test_a_refused_order_executes_nothing_and_says_why() -> None:
    sim = WidgetSimulator()
    sim.refuse_next()
    with pytest.raises(WidgetRefused) as caught:
        sim.send("K1")
    assert caught.value.key == "K1" and caught.value.reason == REFUSED_REASON
    assert str(caught.value) == f"widget K1 refused: {REFUSED_REASON}"
    assert sim.query("K1") == f"refused K1: {REFUSED_REASON}"  # a query tells the refusal apart from "never seen"
    assert sim.times_paid("K1") == 0 and sim._executions() == {}
    assert sim.log == [f"refused K1: {REFUSED_REASON}"]


def test_a_timeout_leaves_the_outcome_to_the_query() -> None:
    sim = WidgetSimulator()
    sim.timeout_next(executed=False)
    with pytest.raises(WidgetTimeout):
        sim.send("LOST")
    assert sim.query("LOST") is None and sim.times_paid("LOST") == 0 and sim.log == []  # safe to send again
    sim.timeout_next(executed=True)
    with pytest.raises(WidgetTimeout):
        sim.send("GONE")
    assert sim.query("GONE") == "paid GONE 10.00" and sim.times_paid("GONE") == 1  # must not be sent again


def test_no_deduplication_the_ledger_counts_every_execution() -> None:
    sim = WidgetSimulator()
    sim.send("K1", "10.00")
    sim.send("K1", "20.00")  # a caller that did not query first: executed twice
    assert sim.times_paid("K1") == 2 and sim._executions() == {"K1": [D("10.00"), D("20.00")]}
    assert sim.query("K1") == "paid K1 20.00"
    snapshot = sim._executions()
    snapshot["K1"].append(D("1"))
    assert sim.times_paid("K1") == 2  # the snapshot is a copy


def test_a_refusal_never_hides_an_earlier_result() -> None:
    sim = WidgetSimulator()
    sim.send("K1")
    sim.refuse_next(2)
    for _ in range(2):
        with pytest.raises(WidgetRefused):
            sim.send("K1")
    assert sim.query("K1") == "paid K1 10.00" and sim.times_paid("K1") == 1
    sim.refuse_next()
    with pytest.raises(WidgetRefused):
        sim.send("K2")
    sim.send("K2")  # refused, then sent again and executed: the query answers the execution
    assert sim.query("K2") == "paid K2 10.00"


def test_a_closed_account_is_refused_whatever_the_fate_and_uses_it_up() -> None:
    sim = WidgetSimulator(closed_accounts={"CLOSED"})
    sim.timeout_next(executed=True)
    with pytest.raises(WidgetRefused):
        sim.send("K1", to_account="CLOSED")
    assert sim.times_paid("K1") == 0
    assert sim.send("K2") == "paid K2 10.00"  # the scripted timeout went with the refused order


def test_the_script_runs_in_order_before_the_rates() -> None:
    sim = WidgetSimulator(refuse_rate=1.0)
    sim.timeout_next(2, executed=False)
    sim.timeout_next(executed=True)
    sim.refuse_next()
    sim._script.append("ok")
    assert sim.fates(7) == ["timeout_lost", "timeout_lost", "timeout_paid", "refuse", "ok", "refuse", "refuse"]


def test_rates_draw_every_fate() -> None:
    assert set(WidgetSimulator().fates(50)) == {"ok"}
    assert set(WidgetSimulator(refuse_rate=1.0).fates(50)) == {"refuse"}
    assert set(WidgetSimulator(timeout_rate=1.0).fates(50)) == {"timeout_paid", "timeout_lost"}
    mixed = WidgetSimulator(refuse_rate=0.3, timeout_rate=0.3, seed=7).fates(400)
    assert {fate: mixed.count(fate) > 40 for fate in ("ok", "refuse", "timeout_paid", "timeout_lost")} == {
        "ok": True,
        "refuse": True,
        "timeout_paid": True,
        "timeout_lost": True,
    }


@given(
    seed=st.integers(0, 2**32),
    refuse=st.floats(0, 0.5),
    timeout=st.floats(0, 0.5),
    script=st.lists(st.sampled_from(["refuse", "timeout_paid", "timeout_lost", "ok"]), max_size=5),
)
def test_the_same_seed_and_script_give_the_same_fates(
    seed: int, refuse: float, timeout: float, script: list[Fate]
) -> None:
    runs = []
    for _ in range(2):
        sim = WidgetSimulator(refuse_rate=refuse, timeout_rate=timeout, seed=seed)
        sim._script.extend(script)
        runs.append(sim.fates(30))
    assert runs[0] == runs[1]
    assert runs[0][: len(script)] == script


def test_concurrent_orders_are_each_counted_once() -> None:
    sim = WidgetSimulator(refuse_rate=0.2, timeout_rate=0.2, seed=1)

    def worker(t: int) -> None:
        for i in range(50):
            with contextlib.suppress(WidgetRefused, WidgetTimeout):
                sim.send(f"T{t}-{i}", "1.00")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    executed = sim._executions()
    assert all(amounts == [D("1.00")] for amounts in executed.values())
    assert len(executed) == sum(1 for line in sim.log if line.startswith("paid "))
    assert len(sim.log) == 400 - sum(1 for t in range(8) for i in range(50) if sim.query(f"T{t}-{i}") is None)


def test_delivery_is_at_least_once_and_empties_the_queue() -> None:
    sim = WidgetSimulator(seed=3)
    queue = [f"N{i}" for i in range(20)]
    assert sim._deliver(queue, duplicate_rate=0.0, shuffle=False) == [f"N{i}" for i in range(20)] and queue == []
    queue = [f"N{i}" for i in range(20)]
    doubled = sim._deliver(queue, duplicate_rate=1.0, shuffle=False)
    assert doubled == [n for i in range(20) for n in (f"N{i}", f"N{i}")]
    queue = [f"N{i}" for i in range(20)]
    got = sim._deliver(queue, duplicate_rate=0.5, shuffle=True)
    assert set(got) == {f"N{i}" for i in range(20)} and 20 < len(got) < 40
    assert got != sorted(got, key=lambda n: int(n[1:]))


def test_bank_and_gateway_keep_their_own_names_over_the_shared_base() -> None:
    assert issubclass(TransferRefused, OrderRefused) and issubclass(PaymentRefused, OrderRefused)
    assert issubclass(TransferTimeout, OrderTimeout) and issubclass(PaymentTimeout, OrderTimeout)
    assert not issubclass(TransferRefused, PaymentRefused) and not issubclass(PaymentTimeout, TransferTimeout)
    assert str(TransferRefused("SBR1A1", "r")) == "transfer SBR1A1 refused: r"
    assert str(PaymentRefused("EF1A01", "r")) == "payment EF1A01 refused: r"
    assert str(TransferTimeout("SBR1A1")) == "SBR1A1"
