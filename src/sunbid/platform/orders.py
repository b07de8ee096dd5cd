"""Outbound money orders with an unknown outcome: what the bank transfer and the fee payout share.

Two adapters send money out of the centre: the transfer of a deposit refund (:mod:`sunbid.deposits.bank`) and
the payout of an expert fee (:mod:`sunbid.experts.payments`). Each keeps its own vocabulary (transfer / payment,
``query_transfer`` / ``query``) but they work alike:

* an order carries *our* idempotency key;
* the other side may **refuse** it for good (:class:`OrderRefused`: nothing was executed) or give no answer in
  time (:class:`OrderTimeout`: the outcome is unknown, it may or may not have been executed);
* after a timeout the caller queries by the key before sending anything again: that is how nothing is ever
  paid twice.

:class:`OrderSimulator` is the part their simulators share: the fault injection (scripted with
:meth:`~OrderSimulator.refuse_next` / :meth:`~OrderSimulator.timeout_next`, otherwise drawn at ``refuse_rate`` /
``timeout_rate`` from a generator seeded with ``seed``), the ledger of the executed keys that a query answers
from, and the at-least-once delivery of notices. Like many real interfaces the simulators do **not** deduplicate
by key — a key sent twice is executed twice — and the ledger counts every execution
(:meth:`~OrderSimulator.times_paid`), so a test catches a caller that executes a key more than once.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import ClassVar, Generic, Literal, TypeVar

__all__ = ["REFUSED_REASON", "Fate", "OrderRefused", "OrderSimulator", "OrderTimeout"]

R = TypeVar("R")
N = TypeVar("N")

Fate = Literal["ok", "refuse", "timeout_paid", "timeout_lost"]
"""What becomes of one order: executed; refused; executed but the answer lost; lost before execution."""

REFUSED_REASON = "收款账户状态异常 account refused"
"""The reason a simulator gives when it refuses an order."""


class OrderRefused(Exception):
    """Refused for good (closed account, name mismatch …): nothing was executed."""

    noun: ClassVar[str] = "order"

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{self.noun} {key} refused: {reason}")
        self.key = key
        self.reason = reason


class OrderTimeout(Exception):
    """No answer in time: the order may or may not have been executed. Query by its key before retrying."""


@dataclass(kw_only=True)
class OrderSimulator(Generic[R]):
    """An in-memory executor of orders with fault injection (seeded, reproducible); ``R``: its result type.

    A subclass names its exceptions (:attr:`refused_error`, :attr:`timeout_error`) and executes an order with
    :meth:`_execute`; every method here takes the simulator's lock, which the subclass shares for its own state.
    """

    refuse_rate: float = 0.0
    timeout_rate: float = 0.0
    seed: int = 0
    closed_accounts: set[str] = field(default_factory=set)
    refused_error: ClassVar[type[OrderRefused]] = OrderRefused
    timeout_error: ClassVar[type[OrderTimeout]] = OrderTimeout
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _script: list[Fate] = field(init=False, default_factory=list)
    _results: dict[str, R] = field(init=False, default_factory=dict)
    _executed: dict[str, list[Decimal]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # --- failure injection -------------------------------------------------------------------------------

    def refuse_next(self, n: int = 1) -> None:
        """The next ``n`` orders are refused."""
        with self._lock:
            self._script.extend(["refuse"] * n)

    def timeout_next(self, n: int = 1, *, executed: bool = True) -> None:
        """The next ``n`` orders time out; ``executed``: executed anyway (the answer was lost)."""
        with self._lock:
            self._script.extend(["timeout_paid" if executed else "timeout_lost"] * n)

    def _fate(self) -> Fate:
        """The next scripted fate, else one drawn at the rates. Under the lock."""
        if self._script:
            return self._script.pop(0)
        roll = self._rng.random()
        if roll < self.refuse_rate:
            return "refuse"
        if roll < self.refuse_rate + self.timeout_rate:
            return "timeout_paid" if self._rng.random() < 0.5 else "timeout_lost"
        return "ok"

    # --- execution and the ledger of executed keys -------------------------------------------------------------

    def _execute(
        self,
        key: str,
        amount: Decimal,
        to_account: str,
        *,
        refused: Callable[[str], R],
        execute: Callable[[], R],
    ) -> R:
        """Execute the order ``key`` to ``to_account`` as its fate says, under the lock.

        Refused (by fate or a closed account): ``refused(reason)`` gives the result a query answers (kept only if
        the key has none yet) and :attr:`refused_error` is raised. Otherwise ``execute()`` does the subclass's
        side effects (booking, callback …) and gives the result, recorded for the key with one more execution of
        ``amount``; a timeout raises :attr:`timeout_error` before (answer and order lost) or after (answer lost).
        """
        with self._lock:
            fate = self._fate()
            if fate == "refuse" or to_account in self.closed_accounts:
                self._results.setdefault(key, refused(REFUSED_REASON))
                raise self.refused_error(key, REFUSED_REASON)
            if fate == "timeout_lost":
                raise self.timeout_error(key)
            result = self._results[key] = execute()
            self._executed.setdefault(key, []).append(amount)
            if fate == "timeout_paid":
                raise self.timeout_error(key)
            return result

    def _query(self, key: str) -> R | None:
        """What became of the order ``key`` (``None``: never executed nor refused)."""
        with self._lock:
            return self._results.get(key)

    def times_paid(self, key: str) -> int:
        """How many times the order ``key`` was executed (more than once: sent again without a query)."""
        with self._lock:
            return len(self._executed.get(key, ()))

    def _executions(self) -> dict[str, list[Decimal]]:
        """Every executed key with the amount of each execution."""
        with self._lock:
            return {k: list(v) for k, v in self._executed.items()}

    # --- notices ---------------------------------------------------------------------------------------------

    def _deliver(self, queue: list[N], *, duplicate_rate: float, shuffle: bool) -> list[N]:
        """Hand out and empty ``queue`` at least once: each notice duplicated at ``duplicate_rate``, reordered if
        ``shuffle``."""
        with self._lock:
            out: list[N] = []
            for notice in queue:
                out.append(notice)
                if self._rng.random() < duplicate_rate:
                    out.append(copy.copy(notice))
            queue.clear()
            if shuffle:
                self._rng.shuffle(out)
            return out
