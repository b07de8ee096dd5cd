"""Pure deposit rules: limits, interest to the fen (hand-computed), fees, deadlines, matching, states, ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from sunbid.core.calendar import WorkingCalendar
from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.deposits import domain
from sunbid.deposits.domain import (
    CreditIn,
    CreditVerdict,
    DepositRules,
    ProjectKind,
    RefundRule,
    RefundState,
)

D = Decimal
RULES = DepositRules()


# --- limits -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sector", "kind", "estimate", "limit"),
    [
        ("engineering", ProjectKind.WORKS, "12500000.00", "250000.00"),  # 2% below the cap
        ("engineering", ProjectKind.WORKS, "50000000.00", "800000.00"),  # 2% = 100万, capped at 80万
        ("engineering", ProjectKind.GOODS, "45000000.00", "800000.00"),
        ("engineering", ProjectKind.SURVEY_DESIGN, "8000000.00", "100000.00"),  # 16万 capped at 10万
        ("engineering", ProjectKind.SERVICES, "50000000.00", "1000000.00"),  # no cap for services
        ("procurement", ProjectKind.GOODS, "50000000.00", "1000000.00"),  # procurement: 2% only
        ("engineering", ProjectKind.WORKS, "1234567.89", "24691.35"),  # 24691.3578 rounded down
    ],
)
def test_deposit_limit_is_two_percent_with_the_configured_caps(
    sector: str, kind: ProjectKind, estimate: str, limit: str
) -> None:
    assert domain.deposit_limit(RULES, sector=sector, kind=kind, estimate=D(estimate)).amount == D(limit)


def test_requirement_above_the_limit_is_refused_and_the_cap_is_configurable() -> None:
    with pytest.raises(ValidationFailed) as err:
        domain.check_requirement(
            RULES, sector="engineering", kind=ProjectKind.WORKS, estimate=D("50000000"), amount=D("800000.01")
        )
    assert err.value.code == "deposit.above_limit"
    domain.check_requirement(
        RULES, sector="engineering", kind=ProjectKind.WORKS, estimate=D("50000000"), amount=D("800000.00")
    )
    local = domain.rules_from_mapping({"caps": {"works": "500000"}})
    with pytest.raises(ValidationFailed):
        domain.check_requirement(
            local, sector="engineering", kind=ProjectKind.WORKS, estimate=D("50000000"), amount=D("600000")
        )


def test_limit_needs_an_estimate() -> None:
    with pytest.raises(ValidationFailed):
        domain.deposit_limit(RULES, sector="engineering", kind=ProjectKind.WORKS, estimate=D("0"))


@pytest.mark.parametrize("bad", [1.5, True, "abc", "-1.00", "0", "1.001", None])
def test_amounts_are_exact_decimal_strings(bad: object) -> None:
    with pytest.raises(ValidationFailed):
        domain.parse_amount(bad)


# --- interest, by hand ------------------------------------------------------------------------------------


def test_interest_hand_computed_act_360() -> None:
    # 800000.00 × 0.35% × 30 / 360 = 233.3333… → 233.33 (arrival 2 March counts, refund 1 April does not)
    assert domain.interest_days(RULES, date(2026, 3, 2), date(2026, 4, 1)) == 30
    assert domain.interest(RULES, D("800000.00"), date(2026, 3, 2), date(2026, 4, 1)) == D("233.33")
    # 123456.78 × 0.0035 = 432.09873; × 47 = 20308.64031; / 360 = 56.4128897… → 56.41
    assert domain.interest(RULES, D("123456.78"), date(2026, 1, 5), date(2026, 2, 21)) == D("56.41")


def test_interest_rounds_half_up_once() -> None:
    # 2500.00 × 0.36% × 1 / 360 = 0.025 exactly → 0.03 (half-even would give 0.02)
    rules = domain.rules_from_mapping({"demand_rate": "0.0036"})
    assert domain.interest(rules, D("2500.00"), date(2026, 3, 2), date(2026, 3, 3)) == D("0.03")


def test_interest_day_count_conventions_are_configurable() -> None:
    act365 = domain.rules_from_mapping({"day_basis": 365})
    # 800000 × 0.0035 × 30 / 365 = 84000 / 365 = 230.1369… → 230.14
    assert domain.interest(act365, D("800000.00"), date(2026, 3, 2), date(2026, 4, 1)) == D("230.14")
    both_ends = domain.rules_from_mapping({"count_refund_day": True})
    # 31 days: 800000 × 0.0035 × 31 / 360 = 241.1111… → 241.11
    assert domain.interest(both_ends, D("800000.00"), date(2026, 3, 2), date(2026, 4, 1)) == D("241.11")
    assert domain.interest(RULES, D("800000.00"), date(2026, 3, 2), date(2026, 3, 2)) == D("0.00")
    with pytest.raises(ValueError):
        domain.interest_days(RULES, date(2026, 3, 2), date(2026, 3, 1))


def test_interest_per_credit_then_summed() -> None:
    # 逐笔计息: 500000 from 2 March (30 days) → 145.8333 → 145.83; 300000 from 10 March (22 days) → 64.1666 → 64.17
    amount = domain.refund_amount(
        RULES,
        [CreditIn(D("500000.00"), date(2026, 3, 2)), CreditIn(D("300000.00"), date(2026, 3, 10))],
        date(2026, 4, 1),
    )
    assert (amount.principal, amount.interest, amount.fee) == (D("800000.00"), D("210.00"), D("0.00"))
    assert amount.total == D("800210.00")


def test_late_refund_fee_in_procurement_only() -> None:
    # 100000 × 3.00% × 1.2 × 4 days / 360 = 40.00
    assert domain.occupancy_fee(RULES, D("100000.00"), date(2026, 3, 10), date(2026, 3, 14)) == D("40.00")
    assert domain.occupancy_fee(RULES, D("100000.00"), date(2026, 3, 10), date(2026, 3, 10)) == D("0.00")
    credits = [CreditIn(D("100000.00"), date(2026, 3, 1))]
    late = domain.refund_amount(RULES, credits, date(2026, 3, 14), due=date(2026, 3, 10), procurement=True)
    # interest 100000 × 0.0035 × 13 / 360 = 12.638… → 12.64
    assert (late.interest, late.fee, late.total) == (D("12.64"), D("40.00"), D("100052.64"))
    eng = domain.refund_amount(RULES, credits, date(2026, 3, 14), due=date(2026, 3, 10), procurement=False)
    assert eng.fee == D("0.00")


def test_refund_deadlines_in_calendar_and_working_days() -> None:
    cal = WorkingCalendar({})
    friday_noon = datetime(2026, 3, 6, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    assert domain.refund_due(RefundRule(5, "calendar", "x"), friday_noon, cal) == date(2026, 3, 11)
    assert domain.refund_due(RefundRule(5, "working", "x"), friday_noon, cal) == date(2026, 3, 13)
    # a trigger late on Friday evening UTC is already Saturday in Shanghai: the days count from there
    assert domain.refund_due(RefundRule(5, "calendar", "x"), datetime(2026, 3, 6, 17, 0, tzinfo=UTC), cal) == date(
        2026, 3, 12
    )
    assert not domain.paid_late(date(2026, 3, 11), date(2026, 3, 11)) and not domain.paid_late(None, date(2026, 3, 12))
    assert domain.paid_late(date(2026, 3, 11), date(2026, 3, 12))
    assert RULES.refund_rule("procurement", domain.RefundReason.LOST).unit == "working"
    assert RULES.refund_rule("engineering", domain.RefundReason.WON).days == 5


# --- matching --------------------------------------------------------------------------------------------------

DEADLINE = datetime(2026, 3, 23, 1, 0, tzinfo=UTC)


def _judge(**kw: object) -> CreditVerdict:
    args: dict[str, object] = {
        "account_known": True,
        "payer_account": "6222 0000 1111 2222",
        "basic_account": "6222000011112222",
        "booked_at": DEADLINE - timedelta(seconds=1),
        "deadline": DEADLINE,
    }
    args.update(kw)
    return domain.judge_credit(**args)  # type: ignore[arg-type]


def test_credit_matching() -> None:
    assert _judge() is CreditVerdict.ACCEPTED
    assert _judge(payer_account="6222000099998888") is CreditVerdict.WRONG_PAYER
    assert _judge(basic_account=None) is CreditVerdict.WRONG_PAYER
    assert _judge(booked_at=DEADLINE) is CreditVerdict.LATE  # at the deadline is late
    assert _judge(account_known=False) is CreditVerdict.UNKNOWN_ACCOUNT


def test_virtual_account_numbers_carry_a_check_digit() -> None:
    n = domain.virtual_account_number("3417", 12, "482913")
    assert n.startswith("341700000012482913") and len(n) == 19
    assert domain.valid_virtual_account(n)
    wrong = n[:-2] + str((int(n[-2]) + 1) % 10) + n[-1]
    assert not domain.valid_virtual_account(wrong)
    assert domain.luhn_digit("7992739871") == "3"  # the textbook example


def test_opening_status() -> None:
    s = domain.opening_status
    assert s(required=None, accepted_total=D(0), guarantee_ok=False, wrong_payer_seen=False) == "not_required"
    assert s(required=D(100), accepted_total=D(100), guarantee_ok=False, wrong_payer_seen=False) == "paid"
    assert s(required=D(100), accepted_total=D(0), guarantee_ok=True, wrong_payer_seen=False) == "guarantee"
    assert s(required=D(100), accepted_total=D("99.99"), guarantee_ok=False, wrong_payer_seen=False) == "insufficient"
    assert s(required=D(100), accepted_total=D(0), guarantee_ok=False, wrong_payer_seen=True) == "wrong_payer"
    assert s(required=D(100), accepted_total=D(0), guarantee_ok=False, wrong_payer_seen=False) == "missing"


# --- states, forfeiture, guarantees, ledger ----------------------------------------------------------------


def test_refund_state_machine() -> None:
    assert domain.advance("planned", RefundState.SENT) is RefundState.SENT
    assert domain.advance("sent", RefundState.CONFIRMED) is RefundState.CONFIRMED
    assert domain.advance("failed", RefundState.RETRIED) is RefundState.RETRIED
    for bad in [("confirmed", RefundState.SENT), ("planned", RefundState.CONFIRMED), ("failed", RefundState.SENT)]:
        with pytest.raises(Conflict):
            domain.advance(bad[0], bad[1])
    assert domain.transfer_key(7, 2) == "SBR0000000007A02"


def test_forfeiture_only_in_legal_cases_with_basis() -> None:
    d = domain.decide_forfeit("withdrawn_after_deadline", decided_by="agency", note="2026-03-23 撤销投标文件")
    assert "第35条" in d.basis_zh
    with pytest.raises(ValidationFailed):
        domain.decide_forfeit("dislike", decided_by="x", note="n")
    with pytest.raises(ValidationFailed):
        domain.decide_forfeit("refused_contract", decided_by="x", note="  ")


def test_guarantee_terms() -> None:
    terms = domain.GuaranteeTerms("池州市城投公司", D("250000.00"), DEADLINE, 90)
    good = {
        "beneficiary": "池州市城投公司",
        "amount": D("250000.00"),
        "valid_from": DEADLINE - timedelta(days=10),
        "valid_until": DEADLINE + timedelta(days=120),
    }
    assert domain.guarantee_problems(terms, **good) == []  # type: ignore[arg-type]
    bad = {**good, "beneficiary": "别人", "amount": D("1.00"), "valid_until": DEADLINE + timedelta(days=30)}
    assert domain.guarantee_problems(terms, **bad) == ["beneficiary", "amount", "ends_early"]  # type: ignore[arg-type]


def test_ledger_balances_and_owed_money() -> None:
    p = domain.Posting
    postings = [
        p(domain.BANK, "sub:1", D("800000.00")),
        p(domain.BANK, domain.SUSPENSE, D("10.00")),
        p("sub:1", domain.BANK, D("800000.00")),
        p(domain.INTEREST, domain.BANK, D("233.33")),
    ]
    b = domain.balances(postings)
    assert sum(b.values()) == 0
    assert b[domain.BANK] == D("-223.33")
    assert domain.open_liabilities(postings) == {domain.SUSPENSE: D("-10.00")}
    postings.append(p(domain.SUSPENSE, domain.BANK, D("10.00")))
    assert domain.open_liabilities(postings) == {}
    with pytest.raises(ValueError):
        p(domain.BANK, "sub:1", D("0"))
    with pytest.raises(ValueError):
        p(domain.BANK, domain.BANK, D("1"))


def test_local_rules_refuse_unknown_keys() -> None:
    with pytest.raises(ValueError):
        domain.rules_from_mapping({"colour": "red"})
    r = domain.rules_from_mapping({"refund_losers": {"days": 3, "unit": "working"}})
    assert r.refund_losers.days == 3 and r.refund_losers.unit == "working"
