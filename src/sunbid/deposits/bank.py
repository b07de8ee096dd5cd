"""The bank adapter (M-4): a Protocol, and a simulator that behaves like a real bank.

Incoming: the bank notifies each credit to the centre's deposit account (到账通知) with the virtual sub-account,
the payer's account, name and bank, the amount, the bank's booking time and the bank's reference. Real banks
deliver these at least once: duplicated, out of order, late; the service must process them idempotently by
the bank reference.

Outgoing: a transfer order carries *our* idempotency key (业务流水号). A transfer may be refused
(:class:`TransferRefused`: nothing was paid) or time out (:class:`TransferTimeout`: the outcome is unknown —
it may or may not have been paid). After a timeout the caller must :meth:`BankAdapter.query_transfer` by the
key before sending anything again: that is how nothing is ever paid twice.

:class:`BankSimulator` keeps its state in memory (one per process, like a sandbox bank) and, like many real
bank interfaces, does **not** deduplicate orders itself: the same key sent twice is paid twice, so a caller
that forgets to query is caught by the tests. It writes its day statements as MT940 (:meth:`statement_mt940`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol

from sunbid.core.clock import Clock, to_local
from sunbid.platform.orders import OrderRefused, OrderSimulator, OrderTimeout


@dataclass(frozen=True)
class CreditNotice:
    """A credit to one virtual sub-account, as the bank reports it."""

    bank_ref: str
    virtual_account: str
    payer_account: str
    payer_name: str
    payer_bank: str
    amount: Decimal
    booked_at: datetime


@dataclass(frozen=True)
class TransferOrder:
    """A payment out of the deposit account (a refund or a returned credit)."""

    key: str
    to_account: str
    to_name: str
    to_bank: str
    amount: Decimal
    memo: str


@dataclass(frozen=True)
class TransferResult:
    key: str
    status: Literal["paid", "refused"]
    bank_ref: str | None
    booked_at: datetime | None
    reason: str | None = None


class TransferRefused(OrderRefused):
    """The bank refused the order for good (closed account, name mismatch …): nothing was paid."""

    noun = "transfer"


class TransferTimeout(OrderTimeout):
    """No answer in time: the order may or may not have been executed. Query before retrying."""


class BankAdapter(Protocol):
    """The centre's deposit account at its bank."""

    def transfer(self, order: TransferOrder) -> TransferResult:
        """Execute ``order``; raise :class:`TransferRefused` or :class:`TransferTimeout`."""
        ...

    def query_transfer(self, key: str) -> TransferResult | None:
        """What became of the order with our ``key`` (``None``: the bank never executed it)."""
        ...

    def statement_mt940(self, day: date) -> str:
        """The day statement of the deposit account as MT940 text."""
        ...


@dataclass
class _Booking:
    bank_ref: str
    booked_at: datetime
    amount: Decimal  # signed: credits positive, debits negative
    customer_ref: str
    details: str


@dataclass
class BankSimulator(OrderSimulator[TransferResult]):
    """An in-memory bank with failure injection (seeded, reproducible).

    ``refuse_next`` / ``timeout_next`` script the fate of the next transfers; ``refuse_rate``, ``timeout_rate``,
    ``seed`` and ``closed_accounts`` (keywords) draw it (:class:`~sunbid.platform.orders.OrderSimulator`).
    """

    refused_error = TransferRefused
    timeout_error = TransferTimeout

    clock: Clock
    account_no: str = "34170101040000888"
    currency: str = "CNY"
    ref_prefix: str = "BK"  # the bank's references are unique for ever; simulators sharing a database differ here
    _bookings: list[_Booking] = field(init=False, default_factory=list)
    _pending: list[CreditNotice] = field(init=False, default_factory=list)
    _next_ref: int = field(init=False, default=1)

    def _ref(self) -> str:
        ref = f"{self.ref_prefix}{self._next_ref:012d}"
        self._next_ref += 1
        return ref

    # --- incoming ------------------------------------------------------------------------------------------

    def pay_in(
        self,
        *,
        virtual_account: str,
        payer_account: str,
        payer_name: str,
        amount: Decimal,
        payer_bank: str = "中国工商银行池州分行",
        booked_at: datetime | None = None,
    ) -> CreditNotice:
        """A bidder's transfer arrives: booked now (or at ``booked_at``) and queued for notification."""
        with self._lock:
            notice = CreditNotice(
                bank_ref=self._ref(),
                virtual_account=virtual_account,
                payer_account=payer_account,
                payer_name=payer_name,
                payer_bank=payer_bank,
                amount=amount,
                booked_at=booked_at or self.clock.now(),
            )
            self._bookings.append(
                _Booking(notice.bank_ref, notice.booked_at, amount, "NONREF", f"VA {virtual_account} {payer_account}")
            )
            self._pending.append(notice)
            return notice

    def deliveries(self, *, duplicate_rate: float = 0.0, shuffle: bool = False) -> list[CreditNotice]:
        """Hand out the queued notifications — duplicated at ``duplicate_rate``, reordered if ``shuffle``."""
        return self._deliver(self._pending, duplicate_rate=duplicate_rate, shuffle=shuffle)

    # --- outgoing ------------------------------------------------------------------------------------------

    def transfer(self, order: TransferOrder) -> TransferResult:
        return self._execute(
            order.key,
            order.amount,
            order.to_account,
            refused=lambda reason: TransferResult(order.key, "refused", None, None, reason=reason),
            execute=lambda: self._book_transfer(order),
        )

    def _book_transfer(self, order: TransferOrder) -> TransferResult:
        now = self.clock.now()
        ref = self._ref()
        self._bookings.append(_Booking(ref, now, -order.amount, order.key, f"{order.memo} {order.to_account}"))
        return TransferResult(order.key, "paid", ref, now)

    def query_transfer(self, key: str) -> TransferResult | None:
        return self._query(key)

    # --- what the tests and the statement read ---------------------------------------------------------------

    def paid_keys(self) -> dict[str, int]:
        """Every key paid, with how many times (more than 1: paid twice)."""
        return {key: len(amounts) for key, amounts in self._executions().items()}

    def balance(self) -> Decimal:
        with self._lock:
            return sum((b.amount for b in self._bookings), Decimal("0.00"))

    def drop_booking(self, bank_ref: str) -> None:
        """Remove a booking from the statements (tests inject differences this way)."""
        with self._lock:
            self._bookings = [b for b in self._bookings if b.bank_ref != bank_ref]

    def add_booking(self, amount: Decimal, details: str, booked_at: datetime | None = None) -> str:
        """A bank-side booking the centre never heard of (a fee, a manual correction …)."""
        with self._lock:
            ref = self._ref()
            self._bookings.append(_Booking(ref, booked_at or self.clock.now(), amount, "NONREF", details))
            return ref

    def _bookings_of(self, day: date) -> Iterator[_Booking]:
        return (b for b in self._bookings if to_local(b.booked_at).date() == day)

    def statement_mt940(self, day: date) -> str:
        """SWIFT MT940 for one local day: opening balance, one :61:/:86: pair per booking, closing balance."""
        with self._lock:
            before = sum((b.amount for b in self._bookings if to_local(b.booked_at).date() < day), Decimal("0.00"))
            todays = sorted(self._bookings_of(day), key=lambda b: (b.booked_at, b.bank_ref))
        yymmdd = day.strftime("%y%m%d")
        lines = [
            f":20:SB{day:%Y%m%d}",
            f":25:{self.account_no}",
            f":28C:{day.timetuple().tm_yday}/1",
            f":60F:{_mark(before)}{(day - timedelta(days=1)):%y%m%d}{self.currency}{_swift_amount(before)}",
        ]
        balance = before
        for b in todays:
            balance += b.amount
            mark = "C" if b.amount >= 0 else "D"
            lines.append(
                f":61:{yymmdd}{day:%m%d}{mark}{_swift_amount(abs(b.amount))}NTRF{b.customer_ref}//{b.bank_ref}"
            )
            lines.append(f":86:{b.details}")
        lines.append(f":62F:{_mark(balance)}{yymmdd}{self.currency}{_swift_amount(balance)}")
        return "\n".join(lines) + "\n"


def _mark(amount: Decimal) -> str:
    return "C" if amount >= 0 else "D"


def _swift_amount(amount: Decimal) -> str:
    """SWIFT amounts: a comma for the decimal point, no sign."""
    return f"{abs(amount):.2f}".replace(".", ",")
