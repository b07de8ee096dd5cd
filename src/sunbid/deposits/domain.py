"""Bid deposits (投标保证金), pure rules: limits, interest, refund deadlines, matching, forfeiture, ledger, states.

Every number here is configuration (:class:`DepositRules`) with its legal source, so that a centre changes a
local value without touching code (RULES.md §1 "Bid deposit …" and §6):

* **Limit.** Engineering: at most 2% of the estimated price (条例 §26); capped at 80万 for works and goods
  (七部委30号令 §37, 27号令) and 10万 for survey and design ([N*], configurable). Government procurement: at most
  2% of the budget, non-cash forms only (采购条例 §33) — a bank transfer or a guarantee is non-cash, cash is not.
* **Interest** (利息). "银行同期存款利息" (条例 §57); Chongqing says 活期, the demand-deposit rate (configurable,
  default the PBOC benchmark 0.35%/year). Computed per credit (逐笔计息) as ``principal × annual rate × days /
  basis`` in exact decimals, then rounded **once** to the fen with ROUND_HALF_UP (四舍五入). ``days`` runs from
  the arrival date (the bank's booking date, Asia/Shanghai) to the refund date: by default the banks' own
  convention 算头不算尾 (the arrival day counts, the refund day does not, i.e. the date difference); the basis is
  360 (ACT/360, the Chinese banks' 日利率 = 年利率 / 360). Both are configurable (ACT/365; both ends counted).
* **Late-refund occupancy fee** (资金占用费, 87号令 §38): government procurement pays, on top, ``principal ×
  loan rate × 1.2 × days late / basis``; the benchmark loan rate became the LPR in 2019, so the rate is
  configuration (default LPR 1 year 3.00%).
* **Refund deadlines**: losers (and withdrawn bidders) within N days of the award notice (withdrawal); the
  winner within N days of the contract (条例 §35, §57; 87号令 §38 in working days; Chongqing 5日 [L]).
* **Forfeiture** (不予退还): only for the cases the law names, with the decision on record.

Money is ``Decimal`` yuan with two places; nothing here touches a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final, Literal

from sunbid.core.calendar import DayUnit, WorkingCalendar, local_date
from sunbid.core.errors import Conflict, ValidationFailed

FEN: Final = Decimal("0.01")
ZERO: Final = Decimal("0.00")


def fen(value: Decimal) -> Decimal:
    """Round to the fen, half up (四舍五入) — the one rounding used for money in this feature."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_amount(value: object, what: str = "金额") -> Decimal:
    """An exact, positive amount in yuan with at most two decimals (strings or Decimals; never float)."""
    if isinstance(value, float | bool) or not isinstance(value, str | int | Decimal):
        raise ValidationFailed("deposit.bad_amount", f"{what}须为十进制字符串。", f"{what} must be a decimal string.")
    try:
        d = Decimal(str(value).strip())
    except ArithmeticError:
        raise ValidationFailed("deposit.bad_amount", f"{what}格式错误。", f"{what} is malformed.") from None
    if not d.is_finite() or d <= 0 or d != d.quantize(FEN):
        raise ValidationFailed(
            "deposit.bad_amount", f"{what}须为正数，最多两位小数。", f"{what} must be > 0 with at most 2 decimals."
        )
    return d.quantize(FEN)


# --- configuration -----------------------------------------------------------------------------------------


class ProjectKind(StrEnum):
    """What is bought; decides the cap of the bid deposit."""

    WORKS = "works"  # 施工
    GOODS = "goods"  # 货物
    SERVICES = "services"  # 服务
    SURVEY_DESIGN = "survey_design"  # 勘察设计


@dataclass(frozen=True)
class RefundRule:
    """A refund limit: ``days`` calendar or working days after the trigger (the first day not counted)."""

    days: int
    unit: DayUnit
    source: str


@dataclass(frozen=True)
class DepositRules:
    """The deposit rules table of one centre (defaults: national law, Chongqing practice where it is local)."""

    max_share: Decimal = Decimal("0.02")  # 条例 §26, 采购条例 §33
    caps: Mapping[ProjectKind, Decimal] = field(
        default_factory=lambda: {
            ProjectKind.WORKS: Decimal("800000.00"),  # 七部委30号令 §37 [N*]
            ProjectKind.GOODS: Decimal("800000.00"),  # 27号令 [N*]
            ProjectKind.SURVEY_DESIGN: Decimal("100000.00"),  # [N*]
        }
    )
    cap_procurement: bool = False  # 采购条例 §33 sets only the 2% limit
    demand_rate: Decimal = Decimal("0.0035")  # 活期 benchmark (PBOC, 2015-10-24); configurable
    loan_rate: Decimal = Decimal("0.0300")  # LPR 1 year, replaces the 同期贷款基准利率 (87号令 §38)
    occupancy_factor: Decimal = Decimal("1.2")  # 87号令 §38
    day_basis: Literal[360, 365] = 360
    count_refund_day: bool = False  # 算头不算尾: the arrival day counts, the refund day does not
    refund_losers: RefundRule = RefundRule(5, "calendar", "重庆条例：定标后5日内退还未中标人")
    refund_withdrawn: RefundRule = RefundRule(5, "calendar", "招标投标法实施条例 第35条")
    refund_winner: RefundRule = RefundRule(5, "calendar", "招标投标法实施条例 第57条")
    refund_procurement: RefundRule = RefundRule(5, "working", "政府采购货物和服务招标投标管理办法 第38条")
    min_guarantee_days_after_deadline: int = 90  # a guarantee must cover the bid validity period
    max_transfer_attempts: int = 3  # refused refunds are tried again with a new order, then listed unclaimed

    def refund_rule(self, sector: str, reason: RefundReason) -> RefundRule:
        """The refund limit for ``reason`` in ``sector`` (procurement: one rule, in working days)."""
        if sector == "procurement":
            return self.refund_procurement
        return {
            RefundReason.LOST: self.refund_losers,
            RefundReason.WITHDRAWN: self.refund_withdrawn,
            RefundReason.WON: self.refund_winner,
            RefundReason.TERMINATED: self.refund_withdrawn,
        }[reason]


DEFAULT_RULES: Final = DepositRules()


# --- limits ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepositLimit:
    """The highest deposit a section may ask for, and why."""

    amount: Decimal
    share_amount: Decimal
    cap: Decimal | None
    basis_zh: str


def deposit_limit(rules: DepositRules, *, sector: str, kind: ProjectKind, estimate: Decimal) -> DepositLimit:
    """≤ 2% of the estimate (engineering) or budget (procurement), with the cap of ``kind`` where it applies.

    The 2% share is rounded *down* to the fen: a limit never exceeds the legal share.
    """
    if estimate <= 0:
        raise ValidationFailed(
            "deposit.no_estimate",
            "须先填写标段估算价（预算），才能确定投标保证金上限。",
            "The section's estimate (budget) is needed to bound the deposit.",
        )
    share = (estimate * rules.max_share).quantize(FEN, rounding="ROUND_DOWN")
    cap = rules.caps.get(kind) if (sector != "procurement" or rules.cap_procurement) else None
    amount = min(share, cap) if cap is not None else share
    basis = (
        "政府采购法实施条例 第33条：不得超过采购项目预算金额的2%"
        if sector == "procurement"
        else ("招标投标法实施条例 第26条：不得超过招标项目估算价的2%")
    )
    if cap is not None:
        basis += f"；最高不超过{cap:,}元"
    return DepositLimit(amount=amount, share_amount=share, cap=cap, basis_zh=basis)


def check_requirement(
    rules: DepositRules, *, sector: str, kind: ProjectKind, estimate: Decimal, amount: Decimal
) -> None:
    """Refuse a required deposit above the legal limit."""
    limit = deposit_limit(rules, sector=sector, kind=kind, estimate=estimate)
    if amount > limit.amount:
        raise ValidationFailed(
            "deposit.above_limit",
            f"投标保证金 {amount:,} 元超过上限 {limit.amount:,} 元（{limit.basis_zh}）。",
            f"The deposit {amount:,} exceeds the limit {limit.amount:,}.",
            details={"limit": str(limit.amount)},
        )


# --- interest and fees -------------------------------------------------------------------------------------


def interest_days(rules: DepositRules, arrived: date, refunded: date) -> int:
    """Days of interest from the arrival date to the refund date (算头不算尾 unless configured otherwise)."""
    if refunded < arrived:
        raise ValueError("a refund cannot precede the arrival")
    return (refunded - arrived).days + (1 if rules.count_refund_day else 0)


def exact_interest(rules: DepositRules, principal: Decimal, days: int, rate: Decimal | None = None) -> Decimal:
    """``principal × rate × days / basis``, unrounded (sum these before rounding when one figure is shown)."""
    return principal * (rules.demand_rate if rate is None else rate) * days / rules.day_basis


def interest(rules: DepositRules, principal: Decimal, arrived: date, refunded: date) -> Decimal:
    """The interest of one credit, to the fen (ROUND_HALF_UP)."""
    return fen(exact_interest(rules, principal, interest_days(rules, arrived, refunded)))


def occupancy_fee(rules: DepositRules, principal: Decimal, due: date, refunded: date) -> Decimal:
    """Government procurement's late-refund fee (87号令 §38): loan rate × 1.2 per day late, to the fen."""
    late = (refunded - due).days
    if late <= 0:
        return ZERO
    return fen(principal * rules.loan_rate * rules.occupancy_factor * late / rules.day_basis)


@dataclass(frozen=True)
class CreditIn:
    """A credited deposit, as the refund computation sees it."""

    amount: Decimal
    arrived: date


@dataclass(frozen=True)
class RefundAmount:
    principal: Decimal
    interest: Decimal
    fee: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fee


def refund_amount(
    rules: DepositRules,
    credits: Iterable[CreditIn],
    refunded: date,
    *,
    due: date | None = None,
    procurement: bool = False,
) -> RefundAmount:
    """Principal plus interest per credit (逐笔计息, each rounded to the fen), plus the late fee if any."""
    items = list(credits)
    principal = sum((c.amount for c in items), ZERO)
    total_interest = sum((interest(rules, c.amount, c.arrived, refunded) for c in items), ZERO)
    fee = occupancy_fee(rules, principal, due, refunded) if procurement and due is not None else ZERO
    return RefundAmount(principal=principal, interest=total_interest, fee=fee)


def refund_due(rule: RefundRule, trigger: datetime, calendar: WorkingCalendar) -> date:
    """The last local date a refund may be paid (the first day not counted; a holiday end moves on)."""
    return calendar.deadline_for(local_date(trigger), rule.days, rule.unit, shift_if_holiday=True)


def paid_late(due: date | None, paid_on: date) -> bool:
    """Was a refund paid after its due date? (One with no due date is on time.)"""
    return due is not None and paid_on > due


# --- refunds and their states ------------------------------------------------------------------------------


class RefundReason(StrEnum):
    LOST = "lost"  # 未中标
    WITHDRAWN = "withdrawn"  # 撤回投标
    WON = "won"  # 中标，合同签订后
    TERMINATED = "terminated"  # 终止招标
    RETURNED = "returned"  # 非基本账户、逾期到账或无法识别的来款，原路退回


class RefundState(StrEnum):
    PLANNED = "planned"  # decided, not yet sent to the bank
    SENT = "sent"  # order handed to the bank (outcome possibly unknown: query before any retry)
    CONFIRMED = "confirmed"  # the bank paid it
    FAILED = "failed"  # the bank refused it (not paid)
    RETRIED = "retried"  # a refused order replaced by a new order with a new key


#: The refund state machine: a refund is paid at most once because only SENT may become CONFIRMED, and a
#: SENT order with an unknown outcome is queried by its key before anything else happens.
REFUND_TRANSITIONS: Final[frozenset[tuple[RefundState, RefundState]]] = frozenset(
    {
        (RefundState.PLANNED, RefundState.SENT),
        (RefundState.SENT, RefundState.CONFIRMED),
        (RefundState.SENT, RefundState.FAILED),
        (RefundState.FAILED, RefundState.RETRIED),
        (RefundState.RETRIED, RefundState.SENT),
    }
)


def advance(current: RefundState | str, target: RefundState) -> RefundState:
    """``target`` if the machine allows ``current → target``; otherwise a conflict."""
    cur = RefundState(current)
    if (cur, target) not in REFUND_TRANSITIONS:
        raise Conflict(
            "deposit.bad_refund_transition",
            f"退款状态不能从 {cur.value} 变为 {target.value}。",
            f"A refund cannot go from {cur.value} to {target.value}.",
        )
    return target


def transfer_key(refund_id: int, attempt: int) -> str:
    """Our idempotency key (业务流水号) of one transfer order: stable across retries of that order."""
    return f"SBR{refund_id:010d}A{attempt:02d}"


# --- matching incoming credits -----------------------------------------------------------------------------


class CreditVerdict(StrEnum):
    ACCEPTED = "accepted"  # from the basic account, booked before the deadline
    WRONG_PAYER = "wrong_payer"  # not from the registered basic account: flagged and returned
    LATE = "late"  # booked at or after the deadline: returned
    UNKNOWN_ACCOUNT = "unknown_account"  # no such virtual sub-account: returned


def normalise_account_no(value: str) -> str:
    """Bank account numbers compared without spaces and dashes."""
    return "".join(ch for ch in value if ch.isalnum()).upper()


def judge_credit(
    *,
    account_known: bool,
    payer_account: str,
    basic_account: str | None,
    booked_at: datetime,
    deadline: datetime | None,
) -> CreditVerdict:
    """The verdict on one incoming credit. Arrival is the bank's booking time, never our receipt time."""
    if not account_known:
        return CreditVerdict.UNKNOWN_ACCOUNT
    if basic_account is None or normalise_account_no(payer_account) != normalise_account_no(basic_account):
        return CreditVerdict.WRONG_PAYER
    if deadline is not None and booked_at >= deadline:
        return CreditVerdict.LATE
    return CreditVerdict.ACCEPTED


def luhn_digit(digits: str) -> str:
    """The Luhn check digit of a string of digits (catches a mistyped virtual account number)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def virtual_account_number(prefix: str, serial: int, random_digits: str) -> str:
    """``prefix`` (the centre's deposit account branch code) + serial + random digits + Luhn digit."""
    if not (prefix.isdigit() and random_digits.isdigit()):
        raise ValueError("digits only")
    body = f"{prefix}{serial:08d}{random_digits}"
    return body + luhn_digit(body)


def valid_virtual_account(number: str) -> bool:
    return number.isdigit() and len(number) > 1 and luhn_digit(number[:-1]) == number[-1]


# --- status at opening -------------------------------------------------------------------------------------

#: ``(code, label_zh, label_en)`` the opening record shows.
STATUS_LABELS: Final[Mapping[str, tuple[str, str]]] = {
    "not_required": ("无须缴纳", "not required"),
    "paid": ("已缴纳", "paid"),
    "guarantee": ("电子保函", "guarantee"),
    "insufficient": ("缴纳不足", "paid short"),
    "wrong_payer": ("非基本账户缴纳", "not from the basic account"),
    "missing": ("未缴纳", "not paid"),
}


def opening_status(
    *,
    required: Decimal | None,
    accepted_total: Decimal,
    guarantee_ok: bool,
    wrong_payer_seen: bool,
) -> str:
    """Is this bidder's deposit in order (the only question answered before opening)?"""
    if required is None:
        return "not_required"
    if guarantee_ok:
        return "guarantee"
    if accepted_total >= required:
        return "paid"
    if accepted_total > 0:
        return "insufficient"
    return "wrong_payer" if wrong_payer_seen else "missing"


# --- guarantees --------------------------------------------------------------------------------------------


class GuaranteeForm(StrEnum):
    LETTER = "letter"  # 电子保函 (bank or guarantor)
    INSURANCE = "insurance"  # 保证保险


@dataclass(frozen=True)
class GuaranteeTerms:
    """What a guarantee must say to replace the cash deposit of one section."""

    beneficiary: str
    amount: Decimal
    deadline: datetime
    min_days_after_deadline: int


def guarantee_problems(
    terms: GuaranteeTerms, *, beneficiary: str, amount: Decimal, valid_from: datetime, valid_until: datetime
) -> list[str]:
    """Codes of everything wrong with a guarantee for ``terms`` (empty: acceptable)."""
    out: list[str] = []
    if beneficiary.strip() != terms.beneficiary.strip():
        out.append("beneficiary")
    if amount < terms.amount:
        out.append("amount")
    if valid_from > terms.deadline:
        out.append("starts_late")
    if (valid_until - terms.deadline).days < terms.min_days_after_deadline:
        out.append("ends_early")
    return out


# --- forfeiture --------------------------------------------------------------------------------------------


class ForfeitReason(StrEnum):
    WITHDRAWN_AFTER_DEADLINE = "withdrawn_after_deadline"
    DECRYPTION_FAULT = "decryption_fault"
    REFUSED_CONTRACT = "refused_contract"


#: Cases in which the law lets the tenderer keep the deposit, with the legal basis shown on the decision.
FORFEIT_BASIS: Final[Mapping[ForfeitReason, tuple[str, str]]] = {
    ForfeitReason.WITHDRAWN_AFTER_DEADLINE: (
        "投标截止后撤销投标文件，招标人可以不退还投标保证金（招标投标法实施条例 第35条）",
        "withdrawal after the deadline (条例 §35)",
    ),
    ForfeitReason.DECRYPTION_FAULT: (
        "因投标人原因未能解密投标文件，视为撤销投标文件（电子招标投标办法 第31条；招标文件约定）",
        "bidder's fault in decryption counts as a withdrawal (电子招标投标办法 §31)",
    ),
    ForfeitReason.REFUSED_CONTRACT: (
        "中标人无正当理由不与招标人订立合同，取消其中标资格，投标保证金不予退还（条例 第74条）",
        "the winner refused the contract (条例 §74)",
    ),
}


@dataclass(frozen=True)
class ForfeitDecision:
    reason: ForfeitReason
    basis_zh: str
    decided_by: str
    note: str


def decide_forfeit(reason: ForfeitReason | str, *, decided_by: str, note: str) -> ForfeitDecision:
    """A forfeiture decision for one of the legal cases, with its basis; anything else is refused."""
    try:
        r = ForfeitReason(reason)
    except ValueError:
        raise ValidationFailed(
            "deposit.bad_forfeit_reason",
            "只有法定情形（截止后撤销投标、因投标人原因解密失败、中标人拒签合同）可以不退还保证金。",
            "Only the legal cases allow keeping a deposit.",
        ) from None
    if not note.strip():
        raise ValidationFailed("deposit.forfeit_note_required", "请写明不予退还的事实。", "State the facts.")
    return ForfeitDecision(reason=r, basis_zh=FORFEIT_BASIS[r][0], decided_by=decided_by, note=note.strip())


# --- the money ledger (double entry) -------------------------------------------------------------------------

BANK: Final = "bank"  # the centre's deposit account at the bank (asset)
INTEREST: Final = "interest"  # interest paid to bidders (expense)
FEES: Final = "occupancy_fees"  # late-refund fees paid (expense)
FORFEITED: Final = "forfeited"  # deposits kept, owed to the tenderer (liability)
SUSPENSE: Final = "suspense"  # credits that match no deposit (wrong payer, late, unknown): to return


def sub_account(account_id: int) -> str:
    """The ledger account of one virtual sub-account (a liability: what we owe that bidder)."""
    return f"sub:{account_id}"


@dataclass(frozen=True)
class Posting:
    """One movement: ``amount`` debited to one account and credited to another (always balanced)."""

    debit: str
    credit: str
    amount: Decimal

    def __post_init__(self) -> None:
        if self.amount <= 0 or self.amount != self.amount.quantize(FEN):
            raise ValueError("a posting moves a positive amount in fen")
        if self.debit == self.credit:
            raise ValueError("a posting moves money between two accounts")


def balances(postings: Iterable[Posting]) -> dict[str, Decimal]:
    """Balance per account (debits positive, credits negative); the values always sum to zero."""
    out: dict[str, Decimal] = {}
    for p in postings:
        out[p.debit] = out.get(p.debit, ZERO) + p.amount
        out[p.credit] = out.get(p.credit, ZERO) - p.amount
    return out


def open_liabilities(postings: Iterable[Posting]) -> dict[str, Decimal]:
    """Sub-accounts and suspense with money still owed (non-zero balance): empty once all is settled."""
    return {k: v for k, v in balances(postings).items() if (k.startswith("sub:") or k == SUSPENSE) and v != ZERO}


_REFUND_KEYS: Final = frozenset({"refund_losers", "refund_withdrawn", "refund_winner", "refund_procurement"})


def rules_from_mapping(values: Mapping[str, object]) -> DepositRules:
    """A centre's local values over the defaults (e.g. ``{"demand_rate": "0.0025", "day_basis": 365}``).

    Rates and amounts are decimal strings; refund rules are ``{"days": 5, "unit": "working"}``.
    Unknown keys are refused.
    """
    base = DepositRules()
    changes: dict[str, object] = {}
    for key, value in values.items():
        if key in ("max_share", "demand_rate", "loan_rate", "occupancy_factor"):
            changes[key] = Decimal(str(value))
        elif key == "day_basis":
            if value not in (360, 365):
                raise ValueError("day_basis must be 360 or 365")
            changes[key] = value
        elif key == "count_refund_day":
            changes[key] = bool(value)
        elif key in ("min_guarantee_days_after_deadline", "max_transfer_attempts"):
            changes[key] = int(str(value))
        elif key == "caps" and isinstance(value, Mapping):
            changes[key] = {ProjectKind(k): Decimal(str(v)) for k, v in value.items()}
        elif key in _REFUND_KEYS and isinstance(value, Mapping):
            unit = str(value.get("unit", "calendar"))
            if unit not in ("calendar", "working"):
                raise ValueError("unit must be calendar or working")
            current: RefundRule = getattr(base, key)
            changes[key] = RefundRule(
                int(str(value["days"])),
                "working" if unit == "working" else "calendar",
                str(value.get("source", current.source)),
            )
        else:
            raise ValueError(f"unknown deposit setting {key!r}")
    return replace(base, **changes)  # type: ignore[arg-type]
