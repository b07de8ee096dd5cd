"""Assessment rules: catalogue, deduplicated points, grades, thresholds → suspension or removal, appeals."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.experts.assessment import (
    DEFAULT_ITEMS,
    DEFAULT_SCHEME,
    AssessmentScheme,
    Dimension,
    Grade,
    Incident,
    SanctionKind,
    SuspensionStep,
    add_months,
    appeal_deadline,
    check_incident,
    decide_sanction,
    effective_points,
    grades,
    scheme_from_mapping,
    should_lift,
)

S = DEFAULT_SCHEME
TODAY = date(2026, 11, 24)


def test_catalogue_covers_the_four_dimensions() -> None:
    assert {i.dimension for i in DEFAULT_ITEMS.values()} == set(Dimension)
    assert DEFAULT_ITEMS["refused_without_reason"].applies_to == frozenset({"refused", "timed_out"})
    assert DEFAULT_ITEMS["private_contact"].removal


def test_check_incident_validates_count_applicability_and_evidence() -> None:
    assert check_incident(S, "late_arrival", 1, "confirmed", False) == 1
    assert check_incident(S, "scoring_error", 3, "confirmed", False) == 3
    with pytest.raises(ValidationFailed) as e1:
        check_incident(S, "scoring_error", 4, "confirmed", False)
    assert e1.value.code == "expert_assess.bad_count"
    with pytest.raises(Conflict) as e2:
        check_incident(S, "late_arrival", 1, "refused", False)
    assert e2.value.code == "expert_assess.not_applicable"
    with pytest.raises(Conflict):
        check_incident(S, "refused_without_reason", 1, "confirmed", False)
    assert check_incident(S, "refused_without_reason", 1, "timed_out", False) == 1
    with pytest.raises(ValidationFailed) as e3:
        check_incident(S, "deviation_unjustified", 1, "confirmed", False)
    assert e3.value.code == "expert_assess.evidence_required"
    assert check_incident(S, "deviation_unjustified", 2, "confirmed", True) == 4
    with pytest.raises(ValidationFailed):
        check_incident(S, "sleeping", 1, "confirmed", False)


def test_one_incident_reported_by_two_raters_counts_once_with_the_larger_count() -> None:
    incidents = [
        Incident(1, "late_arrival", 1),  # agency
        Incident(1, "late_arrival", 1),  # tenderer: the same lateness
        Incident(1, "scoring_error", 1),
        Incident(1, "scoring_error", 2),
        Incident(2, "late_arrival", 1),  # another evaluation: counts again
        Incident(2, "left_early", 1, overturned=True),  # overturned on appeal: ignored
    ]
    assert effective_points(S, incidents) == 1 + 2 + 1
    # never more than the yearly account
    assert effective_points(S, [Incident(n, "failed_to_recuse") for n in range(5)]) == 12


def test_grades_per_dimension() -> None:
    g = grades(S, [Incident(1, "late_arrival"), Incident(1, "biased_scoring"), Incident(1, "late_arrival")])
    assert g == {
        Dimension.PUNCTUALITY: Grade.FAIR,  # 1 point
        Dimension.DISCIPLINE: Grade.GOOD,
        Dimension.COMPETENCE: Grade.GOOD,
        Dimension.OBJECTIVITY: Grade.POOR,  # 4 points > fair_max 2
    }
    assert Grade.POOR.label_zh == "不称职" and Dimension.OBJECTIVITY.label_zh == "客观公正"


def test_crossing_a_step_suspends_for_its_months() -> None:
    s = decide_sanction(S, points_before=4, points_after=7, removal_offence=None, suspensions_in_window=0, today=TODAY)
    assert s is not None and s.kind is SanctionKind.SUSPEND and s.trigger_points == 6
    assert (s.start, s.end) == (TODAY, date(2027, 2, 23))  # 3 months, the last day included
    # already past 6, not yet 9: nothing new
    assert (
        decide_sanction(S, points_before=7, points_after=8, removal_offence=None, suspensions_in_window=1, today=TODAY)
        is None
    )
    # jumping over both steps takes the higher one (6 months)
    s2 = decide_sanction(
        S, points_before=0, points_after=10, removal_offence=None, suspensions_in_window=0, today=TODAY
    )
    assert s2 is not None and s2.trigger_points == 9 and s2.end == date(2027, 5, 23)


def test_reaching_the_removal_points_or_a_removal_offence_removes() -> None:
    s = decide_sanction(S, points_before=9, points_after=12, removal_offence=None, suspensions_in_window=1, today=TODAY)
    assert s is not None and s.kind is SanctionKind.REMOVE and s.end is None and "清退" in s.basis_zh
    s2 = decide_sanction(
        S, points_before=0, points_after=12, removal_offence="private_contact", suspensions_in_window=0, today=TODAY
    )
    assert s2 is not None and s2.kind is SanctionKind.REMOVE and "私下接触" in s2.basis_zh


def test_too_many_suspensions_in_the_window_become_removal() -> None:
    s = decide_sanction(S, points_before=0, points_after=6, removal_offence=None, suspensions_in_window=2, today=TODAY)
    assert s is not None and s.kind is SanctionKind.REMOVE
    s1 = decide_sanction(S, points_before=0, points_after=6, removal_offence=None, suspensions_in_window=1, today=TODAY)
    assert s1 is not None and s1.kind is SanctionKind.SUSPEND


def test_lifting_and_appeal_deadline() -> None:
    assert should_lift(6, 5) and not should_lift(6, 6)
    assert appeal_deadline(S, date(2026, 12, 20)) == date(2027, 1, 4)


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 24), -24) == date(2024, 11, 24)


def test_scheme_from_configuration() -> None:
    sch = scheme_from_mapping(
        {
            "annual_points": 10,
            "removal_points": 10,
            "suspension_steps": [{"points": 4, "months": 1}],
            "items": [
                {"code": "late", "dimension": "punctuality", "name_zh": "迟到", "name_en": "late", "points": 2},
                {
                    "code": "no_show",
                    "dimension": "punctuality",
                    "name_zh": "不到",
                    "name_en": "no show",
                    "points": 3,
                    "applies_to": ["refused", "timed_out"],
                },
            ],
        }
    )
    assert sch.suspension_steps == (SuspensionStep(4, 1),) and set(sch.items) == {"late", "no_show"}
    assert check_incident(sch, "no_show", 1, "timed_out", False) == 3
    for bad in (
        {"colour": 1},
        {"annual_points": "12"},
        {"suspension_steps": [{"points": 9, "months": 3}, {"points": 6, "months": 3}]},
        {"removal_points": 6},
        {"items": [{"code": "x"}]},
        {"items": [{"code": "x", "dimension": "luck", "name_zh": "", "name_en": "", "points": 1}]},
    ):
        with pytest.raises(ValidationFailed) as exc:
            scheme_from_mapping(bad)
        assert exc.value.code == "expert_assess.bad_scheme", bad
    with pytest.raises(ValidationFailed):
        AssessmentScheme(max_suspensions=0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 6), st.sampled_from(sorted(DEFAULT_ITEMS)), st.integers(1, 3)), max_size=30))
def test_points_are_order_free_bounded_and_monotone(raw: list[tuple[int, str, int]]) -> None:
    incidents = [Incident(e, i, min(c, DEFAULT_ITEMS[i].max_count)) for e, i, c in raw]
    total = effective_points(S, incidents)
    assert 0 <= total <= S.annual_points
    assert effective_points(S, list(reversed(incidents))) == total
    assert effective_points(S, incidents[:-1]) <= total if incidents else total == 0
    # recording points never lowers the account, and a sanction only ever follows a threshold crossing
    before = effective_points(S, incidents[: len(incidents) // 2])
    s = decide_sanction(
        S, points_before=before, points_after=total, removal_offence=None, suspensions_in_window=0, today=TODAY
    )
    crossed = any(before < st_.points <= total for st_ in S.suspension_steps) or before < S.removal_points <= total
    assert (s is not None) == crossed
