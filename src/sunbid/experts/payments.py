"""The payment adapter for expert fees 评标费在线发放: a Protocol and a simulator that behaves like a gateway.

A payout order carries *our* idempotency key (商户订单号) and goes to the expert's bank account. Like real
payout interfaces (bank-enterprise direct links, third-party payout APIs), the gateway:

* may **refuse** an order for good (:class:`PaymentRefused`: closed account, name mismatch …) — nothing paid;
* may **time out** (:class:`PaymentTimeout`): the outcome is unknown, the money may have gone. The caller must
  :meth:`PaymentGateway.query` by the key before sending anything again;
* reports results **asynchronously** as callbacks (:class:`PaymentCallback`), at least once: duplicated,
  late, out of order — the service applies them idempotently by key.

:class:`PaymentSimulator` keeps its state in memory (one per process, like a sandbox) and does **not**
deduplicate orders by key: a key sent twice is paid twice, so a caller that forgets to query first is caught by
the tests (:meth:`PaymentSimulator.times_paid`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol

from sunbid.core.clock import Clock
from sunbid.core.errors import Forbidden, ValidationFailed
from sunbid.platform.orders import OrderRefused, OrderSimulator, OrderTimeout

__all__ = [
    "PaymentCallback",
    "PaymentGateway",
    "PaymentOrder",
    "PaymentRefused",
    "PaymentResult",
    "PaymentSimulator",
    "PaymentTimeout",
    "callback_json",
    "sign_callback",
    "verify_callback",
]


@dataclass(frozen=True)
class PaymentOrder:
    """A payout to one expert's bank account. ``__repr__`` hides the account and name (never logged)."""

    key: str
    to_account: str = field(repr=False)
    to_name: str = field(repr=False)
    to_bank: str = field(repr=False)
    amount: Decimal
    memo: str


@dataclass(frozen=True)
class PaymentResult:
    key: str
    status: Literal["paid", "refused"]
    gateway_ref: str | None
    paid_at: datetime | None
    reason: str | None = None


@dataclass(frozen=True)
class PaymentCallback:
    """An asynchronous result notice from the gateway (may arrive more than once)."""

    key: str
    status: Literal["paid", "refused"]
    gateway_ref: str | None
    amount: Decimal
    at: datetime
    reason: str | None = None


class PaymentRefused(OrderRefused):
    """The gateway refused the order for good: nothing was paid."""

    noun = "payment"


class PaymentTimeout(OrderTimeout):
    """No answer in time: the order may or may not have been paid. Query before retrying."""


class PaymentGateway(Protocol):
    """The centre's payout channel for expert fees."""

    def pay(self, order: PaymentOrder) -> PaymentResult:
        """Execute ``order``; raise :class:`PaymentRefused` or :class:`PaymentTimeout`."""
        ...

    def query(self, key: str) -> PaymentResult | None:
        """What became of the order with our ``key`` (``None``: the gateway never executed it)."""
        ...


@dataclass
class PaymentSimulator(OrderSimulator[PaymentResult]):
    """An in-memory payout gateway with failure injection (seeded, reproducible).

    ``refuse_next`` / ``timeout_next`` script the fate of the next orders; ``refuse_rate``, ``timeout_rate``,
    ``seed`` and ``closed_accounts`` (keywords) draw it (:class:`~sunbid.platform.orders.OrderSimulator`).
    """

    refused_error = PaymentRefused
    timeout_error = PaymentTimeout

    clock: Clock
    ref_prefix: str = "PAY"
    _callbacks: list[PaymentCallback] = field(init=False, default_factory=list)
    _next_ref: int = field(init=False, default=1)

    def pay(self, order: PaymentOrder) -> PaymentResult:
        if order.amount <= 0:
            raise PaymentRefused(order.key, "金额无效 bad amount")
        return self._execute(
            order.key,
            order.amount,
            order.to_account,
            refused=lambda reason: self._refuse(order, reason),
            execute=lambda: self._pay(order),
        )

    def _refuse(self, order: PaymentOrder, reason: str) -> PaymentResult:
        self._callbacks.append(PaymentCallback(order.key, "refused", None, order.amount, self.clock.now(), reason))
        return PaymentResult(order.key, "refused", None, None, reason=reason)

    def _pay(self, order: PaymentOrder) -> PaymentResult:
        now = self.clock.now()
        ref = f"{self.ref_prefix}{self._next_ref:012d}"
        self._next_ref += 1
        self._callbacks.append(PaymentCallback(order.key, "paid", ref, order.amount, now))
        return PaymentResult(order.key, "paid", ref, now)

    def query(self, key: str) -> PaymentResult | None:
        return self._query(key)

    def callbacks(self, *, duplicate_rate: float = 0.0, shuffle: bool = False) -> list[PaymentCallback]:
        """Hand out the queued result notices — duplicated at ``duplicate_rate``, reordered if ``shuffle``."""
        return self._deliver(self._callbacks, duplicate_rate=duplicate_rate, shuffle=shuffle)

    def paid(self) -> dict[str, list[Decimal]]:
        """Every key paid, with the amounts (more than one entry: paid twice)."""
        return self._executions()

    def total_paid(self) -> Decimal:
        return sum((a for v in self._executions().values() for a in v), Decimal("0.00"))


# --- callbacks over HTTP ---------------------------------------------------------------------------------------


def callback_json(cb: PaymentCallback) -> bytes:
    """The body a gateway posts for ``cb`` (UTF-8 JSON, amounts as strings)."""
    return json.dumps(
        {
            "key": cb.key,
            "status": cb.status,
            "gateway_ref": cb.gateway_ref,
            "amount": str(cb.amount),
            "at": cb.at.isoformat(),
            "reason": cb.reason,
        },
        ensure_ascii=False,
        sort_keys=True,
    ).encode()


def sign_callback(secret: bytes, body: bytes) -> str:
    """HMAC-SHA256 of the exact body, hex: what the gateway sends in ``X-Payment-Signature``."""
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_callback(secret: bytes, body: bytes, signature: str | None) -> PaymentCallback:
    """Check the signature (constant time) and parse the body; ``expert_fee.bad_callback`` otherwise."""
    if not signature or not hmac.compare_digest(sign_callback(secret, body), signature.strip().lower()):
        raise Forbidden("expert_fee.bad_signature", "支付回调签名无效", "the payment callback signature is invalid")
    try:
        data = json.loads(body)
        status = data["status"]
        if status not in ("paid", "refused") or not isinstance(data["key"], str) or len(data["key"]) > 64:
            raise ValueError(status)
        amount = Decimal(str(data["amount"]))
        if not amount.is_finite():
            raise ValueError(amount)
        at = datetime.fromisoformat(str(data["at"]))
        if at.utcoffset() is None:
            raise ValueError(at)
        ref, reason = data.get("gateway_ref"), data.get("reason")
        return PaymentCallback(
            key=data["key"],
            status=status,
            gateway_ref=None if ref is None else str(ref)[:64],
            amount=amount,
            at=at,
            reason=None if reason is None else str(reason)[:500],
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise ValidationFailed("expert_fee.bad_callback", "支付回调格式错误", "malformed payment callback") from exc
