"""The legal time rules table: every limit of RULES.md §1, values and sources, and checks at the boundary."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.core.calendar import WorkingCalendar
from sunbid.core.clock import SHANGHAI
from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.projects.rules import (
    PROCEDURES,
    RuleBook,
    TimeRule,
    check,
    check_count,
    earliest_allowed,
    latest_allowed,
    latest_start_allowed,
    required_deadline_after_amendment,
)

BOOK = RuleBook.default()
CAL = WorkingCalendar()


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """An Asia/Shanghai wall-clock time as the UTC datetime the platform stores."""
    return datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI).astimezone(UTC)


# (id, tag, amount, unit, kind) of every limit of RULES.md §1 and of the non-tender methods.
EXPECTED = [
    ("eng.doc_sale_period", "N", 5, "calendar", "duration"),
    ("eng.preq_application_after_sale", "N", 5, "calendar", "min_between"),
    ("eng.doc_issue_to_bid_deadline", "N", 20, "calendar", "min_between"),
    ("eng.clarification_before_deadline", "N", 15, "calendar", "min_between"),
    ("eng.clarification_before_preq_deadline", "N", 3, "calendar", "min_between"),
    ("eng.objection_docs_before_deadline", "N", 10, "calendar", "min_between"),
    ("eng.objection_preq_before_deadline", "N", 2, "calendar", "min_between"),
    ("eng.objection_reply", "N", 3, "calendar", "max_within"),
    ("eng.min_bidders", "N", 3, "count", "count"),
    ("eng.max_candidates", "N", 3, "count", "max_count"),
    ("eng.publicity_start", "N", 3, "calendar", "max_within"),
    ("eng.publicity_duration", "N", 3, "calendar", "duration"),
    ("eng.publicity_objection_reply", "N", 3, "calendar", "max_within"),
    ("eng.report_to_regulator", "N", 15, "calendar", "max_within"),
    ("eng.contract_after_award_notice", "N", 30, "calendar", "max_within"),
    ("eng.deposit_refund_after_withdrawal", "N", 5, "calendar", "max_within"),
    ("eng.deposit_refund_after_contract", "N", 5, "calendar", "max_within"),
    ("eng.complaint_filing", "N", 10, "calendar", "max_within"),
    ("eng.complaint_acceptance", "N", 3, "working", "max_within"),
    ("eng.complaint_decision", "N", 30, "working", "max_within"),
    ("eng.evaluation_before_validity_expiry", "N", 30, "working", "min_between"),
    ("eng.contract_reminder", "L", 25, "working", "max_within"),
    ("eng.committee_min_members", "N", 5, "count", "count"),
    ("local.tender_plan_before_announcement", "L", 30, "calendar", "min_between"),
    ("gp.intention_before_procurement", "N*", 30, "calendar", "min_between"),
    ("gp.announcement_duration", "N", 5, "working", "duration"),
    ("gp.doc_availability", "N", 5, "working", "duration"),
    ("gp.doc_issue_to_bid_deadline", "N", 20, "calendar", "min_between"),
    ("gp.clarification_before_deadline", "N", 15, "calendar", "min_between"),
    ("gp.report_to_purchaser", "N", 2, "working", "max_within"),
    ("gp.purchaser_confirm", "N", 5, "working", "max_within"),
    ("gp.result_announcement", "N", 2, "working", "max_within"),
    ("gp.result_announcement_duration", "N", 1, "working", "duration"),
    ("gp.contract_after_award", "N", 30, "calendar", "max_within"),
    ("gp.contract_publication", "N", 2, "working", "max_within"),
    ("gp.enquiry_reply", "N", 3, "working", "max_within"),
    ("gp.challenge_filing", "N", 7, "working", "max_within"),
    ("gp.challenge_reply", "N", 7, "working", "max_within"),
    ("gp.complaint_filing", "N", 15, "working", "max_within"),
    ("gp.complaint_decision", "N", 30, "working", "max_within"),
    ("gp.deposit_refund", "N", 5, "working", "max_within"),
    ("gp.contract_reminder", "L", 5, "working", "max_within"),
    ("gp.committee_min_members", "N", 5, "count", "count"),
    ("gp.committee_min_members_large", "N", 7, "count", "count"),
    ("gp.negotiation_doc_to_submission", "N*", 3, "working", "min_between"),
    ("gp.consultation_doc_to_submission", "N*", 10, "calendar", "min_between"),
    ("gp.inquiry_doc_to_submission", "N*", 3, "working", "min_between"),
    ("gp.single_source_publicity", "N*", 5, "working", "duration"),
]


# --- the table ---------------------------------------------------------------------------------------------


def test_table_holds_exactly_the_expected_rules() -> None:
    assert [r.id for r in BOOK] == [e[0] for e in EXPECTED]
    assert len(BOOK) == len(EXPECTED) == 48


@pytest.mark.parametrize(("rule_id", "tag", "amount", "unit", "kind"), EXPECTED)
def test_rule_values_match_rules_md(rule_id: str, tag: str, amount: int, unit: str, kind: str) -> None:
    rule = BOOK.get(rule_id)
    assert (rule.tag, rule.amount, rule.unit, rule.kind) == (tag, amount, unit, kind)
    assert rule.configurable is (tag != "N")


@pytest.mark.parametrize("rule", list(BOOK), ids=lambda r: r.id)
def test_every_rule_names_its_source_and_events(rule: TimeRule) -> None:
    assert rule.source.strip() and rule.title_zh.strip() and rule.title_en.strip()
    assert rule.procedures and rule.procedures <= PROCEDURES
    assert rule.sectors and rule.sectors <= {"engineering", "procurement"}
    if rule.is_time_limit:
        assert rule.start_zh and rule.start_en and rule.end_zh and rule.end_en


def test_sources_cite_the_articles_of_rules_md() -> None:
    assert BOOK.get("eng.doc_sale_period").source == "招标投标法实施条例 第16条"
    assert BOOK.get("eng.doc_issue_to_bid_deadline").source == "招标投标法 第24条"
    assert BOOK.get("eng.contract_after_award_notice").source == "招标投标法 第46条"
    assert BOOK.get("gp.doc_issue_to_bid_deadline").source == "政府采购法 第35条"
    assert BOOK.get("gp.contract_publication").source == "政府采购法实施条例 第50条"
    assert "214号" in BOOK.get("gp.consultation_doc_to_submission").source
    assert "74号令 第29条" in BOOK.get("gp.negotiation_doc_to_submission").source
    assert "74号令 第45条" in BOOK.get("gp.inquiry_doc_to_submission").source
    assert "12号令" in BOOK.get("eng.evaluation_before_validity_expiry").source


def test_only_procurement_calendar_periods_move_off_holidays() -> None:
    shifted = {r.id for r in BOOK if r.shift_if_holiday}
    assert shifted == {
        "gp.intention_before_procurement",
        "gp.doc_issue_to_bid_deadline",
        "gp.clarification_before_deadline",
        "gp.contract_after_award",
        "gp.consultation_doc_to_submission",
    }


def test_procedures_select_their_rules() -> None:
    open_eng = {r.id for r in BOOK.for_procedure("eng_open")}
    invited = {r.id for r in BOOK.for_procedure("eng_invited")}
    assert "eng.preq_application_after_sale" in open_eng
    assert "eng.preq_application_after_sale" not in invited
    assert "eng.doc_issue_to_bid_deadline" in invited
    negotiation = {r.id for r in BOOK.for_procedure("gp_negotiation")}
    assert "gp.negotiation_doc_to_submission" in negotiation
    assert "gp.doc_issue_to_bid_deadline" not in negotiation
    assert "gp.challenge_filing" in negotiation
    assert {r.id for r in BOOK.for_procedure("gp_single_source")} >= {"gp.single_source_publicity"}
    assert not any(r.id.startswith("gp.") for r in BOOK.for_procedure("eng_open"))


def test_unknown_procedure_and_rule_are_errors() -> None:
    with pytest.raises(ValidationFailed) as proc:
        BOOK.for_procedure("auction")
    assert proc.value.code == "rules.unknown_procedure"
    with pytest.raises(NotFound) as rule:
        BOOK.get("eng.no_such_rule")
    assert rule.value.code == "rules.unknown_rule"


def test_table_is_json_ready() -> None:
    data = json.loads(json.dumps(BOOK.as_dicts(), ensure_ascii=False))
    first = data[0]
    assert first["id"] == "eng.doc_sale_period" and first["procedures"] == ["eng_invited", "eng_open"]
    assert first["source"] == "招标投标法实施条例 第16条"


# --- local values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rule_id", [r.id for r in BOOK if r.tag == "N"])
def test_national_rules_cannot_be_changed_locally(rule_id: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        BOOK.with_local_overrides({rule_id: BOOK.get(rule_id).amount + 1})
    assert err.value.code == "rules.national_fixed"
    assert "国家规定" in err.value.message_zh and "national" in err.value.message_en


@pytest.mark.parametrize("rule_id", [r.id for r in BOOK if r.tag != "N"])
def test_other_rules_take_local_values(rule_id: str) -> None:
    default = BOOK.get(rule_id).amount
    local = BOOK.with_local_overrides({rule_id: default + 2})
    assert local.get(rule_id).amount == default + 2
    assert local.get(rule_id).default_amount == default
    assert BOOK.get(rule_id).amount == default  # the default book is untouched
    back = local.with_local_overrides({rule_id: default})
    assert back.get(rule_id).amount == default and back.get(rule_id).default_amount is None


def test_a_local_value_changes_the_boundary() -> None:
    rule_id = "local.tender_plan_before_announcement"
    local = BOOK.with_local_overrides({rule_id: 45})
    start = sh(2026, 11, 1, 9)
    assert earliest_allowed(local.get(rule_id), start, CAL) == sh(2026, 12, 16)
    assert earliest_allowed(BOOK.get(rule_id), start, CAL) == sh(2026, 12, 1)


@pytest.mark.parametrize("amount", [-1, True, "5", 1.5, 10**6])
def test_bad_local_values_are_refused(amount: object) -> None:
    with pytest.raises(ValidationFailed) as err:
        BOOK.with_local_overrides({"gp.contract_reminder": amount})  # type: ignore[dict-item]
    assert err.value.code == "rules.bad_amount"


def test_one_bad_override_changes_nothing() -> None:
    with pytest.raises(ValidationFailed) as err:
        BOOK.with_local_overrides({"gp.contract_reminder": 9, "nope.rule": 3})
    assert err.value.code == "rules.unknown_rule"
    assert BOOK.get("gp.contract_reminder").amount == 5


# --- checks at the boundary --------------------------------------------------------------------------------


def test_bid_deadline_exactly_20_days_after_issue_is_allowed_one_second_earlier_is_not() -> None:
    rule = BOOK.get("eng.doc_issue_to_bid_deadline")
    issued = sh(2026, 11, 25, 10)
    assert earliest_allowed(rule, issued, CAL) == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)
    assert check(rule, issued, sh(2026, 12, 15, 0, 0, 0), CAL) is None
    v = check(rule, issued, sh(2026, 12, 14, 23, 59, 59), CAL)
    assert v is not None
    assert v.code == "rules.eng.doc_issue_to_bid_deadline"
    expected = "投标截止时间距招标文件发出之日不足20日（招标投标法 第24条），最早可设为 2026-12-15"
    assert v.message_zh == expected
    assert "20 days" in v.message_en and "2026-12-15" in v.message_en
    assert v.boundary_date == date(2026, 12, 15)
    err = v.as_error()
    assert isinstance(err, ValidationFailed)
    assert err.code == v.code and err.message_zh == v.message_zh
    assert err.details["boundary_date"] == "2026-12-15" and err.details["source"] == "招标投标法 第24条"


def test_days_are_shanghai_dates_of_utc_instants_near_midnight() -> None:
    rule = BOOK.get("eng.doc_issue_to_bid_deadline")
    # 16:30 UTC on the 24th is already the 25th in Shanghai; 15:30 UTC is still the 24th.
    after_midnight = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)
    before_midnight = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    deadline = datetime(2026, 12, 14, 2, 0, tzinfo=UTC)  # 2026-12-14 10:00 in Shanghai
    assert check(rule, before_midnight, deadline, CAL) is None
    v = check(rule, after_midnight, deadline, CAL)
    assert v is not None and v.boundary_date == date(2026, 12, 15)


def test_engineering_minimum_may_end_on_a_holiday_procurement_minimum_may_not() -> None:
    issued = sh(2026, 9, 11, 9)  # + 20 days = 2026-10-01, National Day
    eng = BOOK.get("eng.doc_issue_to_bid_deadline")
    gp = BOOK.get("gp.doc_issue_to_bid_deadline")
    assert check(eng, issued, sh(2026, 10, 1, 9), CAL) is None
    v = check(gp, issued, sh(2026, 10, 1, 9), CAL)
    assert v is not None and v.boundary_date == date(2026, 10, 8)
    assert check(gp, issued, sh(2026, 10, 8, 0), CAL) is None
    assert "最早可设为 2026-10-08" in v.message_zh and "政府采购法 第35条" in v.message_zh


def test_contract_within_30_days_moves_off_national_day_for_procurement_only() -> None:
    notice = sh(2026, 9, 1, 15)
    gp = BOOK.get("gp.contract_after_award")
    assert latest_allowed(gp, notice, CAL) == sh(2026, 10, 8, 23, 59, 59) + timedelta(microseconds=999999)
    assert check(gp, notice, sh(2026, 10, 8, 23, 59, 59), CAL) is None
    late = check(gp, notice, sh(2026, 10, 9, 0, 0, 0), CAL)
    assert late is not None and "最迟应为 2026-10-08" in late.message_zh
    eng = BOOK.get("eng.contract_after_award_notice")
    assert check(eng, notice, sh(2026, 10, 1, 23, 59, 59), CAL) is None
    v = check(eng, notice, sh(2026, 10, 2, 0, 0, 0), CAL)
    assert v is not None
    expected = "书面合同订立晚于中标通知书发出之日后30日（招标投标法 第46条），最迟应为 2026-10-01"
    assert v.message_zh == expected


def test_working_day_limit_counts_make_up_days() -> None:
    rule = BOOK.get("gp.challenge_filing")  # 7 working days
    # Friday; then Sun 29 Sep (make-up), Mon 30 Sep, 8–11 Oct and Sat 12 Oct (make-up) are the 7 days.
    known = sh(2024, 9, 27, 18)
    assert check(rule, known, sh(2024, 10, 12, 17), CAL) is None
    v = check(rule, known, sh(2024, 10, 14, 9), CAL)
    assert v is not None and v.boundary_date == date(2024, 10, 12)
    assert "7个工作日" in v.message_zh


def test_working_day_minimum_across_the_2025_holiday() -> None:
    rule = BOOK.get("gp.negotiation_doc_to_submission")  # 3 working days
    issued = sh(2025, 9, 26, 9)  # Friday; Sun 28 Sep is a make-up day
    assert check(rule, issued, sh(2025, 9, 30, 9), CAL) is None
    v = check(rule, issued, sh(2025, 9, 29, 9), CAL)
    assert v is not None
    assert v.message_zh == (
        "提交首次响应文件截止时间距谈判文件发出之日不足3个工作日（财政部74号令 第29条），最早可设为 2025-09-30"
    )


def test_duration_rule_message_names_the_period() -> None:
    rule = BOOK.get("eng.publicity_duration")
    start = sh(2026, 11, 23, 9)
    assert check(rule, start, sh(2026, 11, 26, 17), CAL) is None
    v = check(rule, start, sh(2026, 11, 25, 17), CAL)
    assert v is not None
    assert v.message_zh == ("中标候选人公示期不足3日（招标投标法实施条例 第54条），公示结束时间最早可设为 2026-11-26")


def test_last_day_to_object_to_the_tender_documents() -> None:
    rule = BOOK.get("eng.objection_docs_before_deadline")
    deadline = sh(2026, 12, 15, 9, 30)
    last = latest_start_allowed(rule, deadline, CAL)
    assert last == sh(2026, 12, 5, 23, 59, 59) + timedelta(microseconds=999999)
    assert check(rule, sh(2026, 12, 5, 16), deadline, CAL) is None
    assert check(rule, sh(2026, 12, 6, 8), deadline, CAL) is not None


def test_counts() -> None:
    bidders = BOOK.get("eng.min_bidders")
    assert check_count(bidders, 3) is None
    v = check_count(bidders, 2)
    assert v is not None and v.code == "rules.eng.min_bidders" and v.actual == 2
    assert "第44条" in v.message_zh
    candidates = BOOK.get("eng.max_candidates")
    assert check_count(candidates, 3) is None
    assert check_count(candidates, 4) is not None


def test_kind_mismatches_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="check_count"):
        check_count(BOOK.get("eng.objection_reply"), 3)
    with pytest.raises(ValueError, match="earliest_allowed"):
        check(BOOK.get("eng.min_bidders"), sh(2026, 1, 5), sh(2026, 1, 6), CAL)
    with pytest.raises(ValueError, match="latest_allowed"):
        latest_allowed(BOOK.get("eng.doc_sale_period"), sh(2026, 1, 5), CAL)


# --- a clarification less than 15 days before the deadline moves it ----------------------------------------


def test_clarification_in_time_keeps_the_deadline() -> None:
    rule = BOOK.get("eng.clarification_before_deadline")
    deadline = sh(2026, 12, 15, 9, 30)
    assert required_deadline_after_amendment(deadline, sh(2026, 11, 30, 17), rule, CAL) == deadline


def test_late_clarification_postpones_the_deadline_keeping_the_time_of_day() -> None:
    rule = BOOK.get("eng.clarification_before_deadline")
    deadline = sh(2026, 12, 15, 9, 30)
    moved = required_deadline_after_amendment(deadline, sh(2026, 12, 1, 10), rule, CAL)
    assert moved == sh(2026, 12, 16, 9, 30)
    assert moved == datetime(2026, 12, 16, 1, 30, tzinfo=UTC)


def test_postponed_deadline_on_a_holiday() -> None:
    deadline = sh(2026, 9, 30, 9, 30)
    amended = sh(2026, 9, 20, 10)  # + 15 days = 2026-10-05, inside National Day
    eng = BOOK.get("eng.clarification_before_deadline")
    assert required_deadline_after_amendment(deadline, amended, eng, CAL) == sh(2026, 10, 5, 9, 30)
    assert required_deadline_after_amendment(deadline, amended, eng, CAL, on_working_day=True) == sh(2026, 10, 8, 9, 30)
    gp = BOOK.get("gp.clarification_before_deadline")
    assert required_deadline_after_amendment(deadline, amended, gp, CAL) == sh(2026, 10, 8, 9, 30)


# --- properties --------------------------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC))
time_rules = st.sampled_from([r for r in BOOK if r.is_time_limit])


@settings(max_examples=200, deadline=None)
@given(rule=time_rules, start=instants, end=instants)
def test_check_agrees_with_the_boundary(rule: TimeRule, start: datetime, end: datetime) -> None:
    v = check(rule, start, end, CAL)
    if rule.kind == "max_within":
        assert (v is None) == (end <= latest_allowed(rule, start, CAL))
    else:
        assert (v is None) == (end >= earliest_allowed(rule, start, CAL))
    if v is not None:
        assert v.code == f"rules.{rule.id}" and rule.source in v.message_zh
