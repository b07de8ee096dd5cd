"""The expert pool's pure rules: specialty tree, avoidance predicates, the index, status changes, the plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.experts.domain import (
    AvoidancePolicy,
    AvoidanceReason,
    DrawContext,
    Employment,
    ExpertProfile,
    ExpertStatus,
    Penalty,
    PoolIndex,
    SlotRequest,
    avoidance_reasons,
    aware_moment,
    check_status_change,
    load_specialty_tree,
    plan_draw,
)
from sunbid.identity.domain import make_uscc

TREE = load_specialty_tree()
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TENDERER, AGENCY, BIDDER_A, BIDDER_B, OTHER = (make_uscc(i) for i in range(1, 6))
CTX = DrawContext(
    at=NOW,
    tenderer_uscc=TENDERER,
    agency_uscc=AGENCY,
    bidder_usccs=frozenset({BIDDER_A, BIDDER_B}),
    sectors=frozenset({"housing"}),
    persons=frozenset({"P-1"}),
)
POLICY = AvoidancePolicy(employment_years=3, max_draws=3, draw_period_days=365)


def expert(code: str = "EX0000001", **kw: object) -> ExpertProfile:
    base: dict[str, object] = {"code": code, "specialties": frozenset({"A0101"}), "region_code": "530100"}
    base.update(kw)
    return ExpertProfile(**base)  # type: ignore[arg-type]


# --- specialty tree ------------------------------------------------------------------------------------------


def test_packaged_tree_has_the_sectors_and_prefix_codes() -> None:
    names = {TREE.get(c).name_zh for c in ("A", "B", "C", "D")}
    assert names == {"住房和城乡建设", "交通运输", "水利", "生态环境"}
    for node in TREE.nodes.values():
        assert node.parent is None or node.code.startswith(node.parent)


def test_sub_specialty_qualifies_for_parent_request_but_not_the_reverse() -> None:
    assert TREE.qualifies({"A0101"}, "A01")
    assert TREE.qualifies({"A0101"}, "A")
    assert not TREE.qualifies({"A01"}, "A0101")
    assert not TREE.qualifies({"B0101"}, "A01")
    assert "A0101" in TREE.subtree("A01") and "A02" not in TREE.subtree("A01")


def test_tree_refuses_a_child_that_does_not_extend_its_parent() -> None:
    with pytest.raises(ValidationFailed) as exc:
        load_specialty_tree("code,parent,name_zh,name_en\nA,,甲,a\nB01,A,乙,b\n")
    assert exc.value.code == "expert.bad_specialty"


def test_unknown_specialty_is_refused() -> None:
    with pytest.raises(ValidationFailed) as exc:
        TREE.get("Z99")
    assert exc.value.code == "expert.unknown_specialty"


# --- avoidance predicates ------------------------------------------------------------------------------------


def test_clean_expert_has_no_avoidance_reason() -> None:
    e = expert(employments=(Employment(OTHER, date(2010, 1, 1)),))
    assert avoidance_reasons(e, CTX, POLICY) == []


@pytest.mark.parametrize(
    ("employer", "reason"),
    [
        (BIDDER_A, AvoidanceReason.BIDDER_EMPLOYEE),
        (TENDERER, AvoidanceReason.TENDERER_EMPLOYEE),
        (AGENCY, AvoidanceReason.AGENCY_STAFF),
    ],
)
def test_current_employee_of_a_party_is_avoided(employer: str, reason: AvoidanceReason) -> None:
    e = expert(employments=(Employment(employer, date(2020, 1, 1)),))
    assert avoidance_reasons(e, CTX, POLICY) == [reason]


def test_recent_employee_of_a_bidder_is_avoided_within_the_configured_years_only() -> None:
    left_2y_ago = expert(employments=(Employment(BIDDER_A, date(2015, 1, 1), NOW.date() - timedelta(days=730)),))
    left_4y_ago = expert(employments=(Employment(BIDDER_A, date(2015, 1, 1), NOW.date() - timedelta(days=4 * 365)),))
    assert avoidance_reasons(left_2y_ago, CTX, POLICY) == [AvoidanceReason.BIDDER_EMPLOYEE]
    assert avoidance_reasons(left_4y_ago, CTX, POLICY) == []
    current_only = AvoidancePolicy(employment_years=0)
    assert avoidance_reasons(left_2y_ago, CTX, current_only) == []


def test_regulator_staff_avoided_only_on_their_sector() -> None:
    e = expert(regulator_sectors=frozenset({"housing"}))
    assert avoidance_reasons(e, CTX, POLICY) == [AvoidanceReason.REGULATOR_STAFF]
    other = expert(regulator_sectors=frozenset({"water"}))
    assert avoidance_reasons(other, CTX, POLICY) == []


def test_declared_conflicts_with_a_party_or_person_are_avoided() -> None:
    assert avoidance_reasons(expert(conflict_orgs=frozenset({BIDDER_B})), CTX, POLICY) == [AvoidanceReason.CONFLICT_ORG]
    assert avoidance_reasons(expert(conflict_orgs=frozenset({OTHER})), CTX, POLICY) == []
    assert avoidance_reasons(expert(conflict_persons=frozenset({"P-1"})), CTX, POLICY) == [
        AvoidanceReason.CONFLICT_PERSON
    ]


def test_status_and_penalties_avoid() -> None:
    assert avoidance_reasons(expert(status=ExpertStatus.SUSPENDED), CTX, POLICY) == [AvoidanceReason.SUSPENDED]
    assert avoidance_reasons(expert(status=ExpertStatus.REMOVED), CTX, POLICY) == [AvoidanceReason.REMOVED]
    active = expert(penalties=(Penalty(date(2026, 1, 1), date(2026, 12, 31)),))
    over = expert(penalties=(Penalty(date(2025, 1, 1), date(2025, 12, 31)),))
    assert avoidance_reasons(active, CTX, POLICY) == [AvoidanceReason.PENALISED]
    assert avoidance_reasons(over, CTX, POLICY) == []


def test_too_many_draws_in_the_period() -> None:
    recent = tuple(NOW - timedelta(days=d) for d in (10, 100, 200))
    old = tuple(NOW - timedelta(days=d) for d in (10, 100, 400))
    assert avoidance_reasons(expert(draw_times=recent), CTX, POLICY) == [AvoidanceReason.TOO_MANY_DRAWS]
    assert avoidance_reasons(expert(draw_times=old), CTX, POLICY) == []
    assert avoidance_reasons(expert(draw_times=recent), CTX, AvoidancePolicy()) == []


def test_region_limit() -> None:
    policy = AvoidancePolicy(regions=frozenset({"530000"}))
    assert avoidance_reasons(expert(region_code="530100"), CTX, policy) == []
    assert avoidance_reasons(expert(region_code="520100"), CTX, policy) == [AvoidanceReason.OUTSIDE_REGION]
    city = AvoidancePolicy(regions=frozenset({"530100"}))
    assert avoidance_reasons(expert(region_code="530102"), CTX, city) == []
    assert avoidance_reasons(expert(region_code="530000"), CTX, city) == [AvoidanceReason.OUTSIDE_REGION]
    assert avoidance_reasons(expert(region_code="530600"), CTX, city) == [AvoidanceReason.OUTSIDE_REGION]


def test_every_reason_has_both_messages() -> None:
    for reason in AvoidanceReason:
        assert reason.message_zh and reason.message_en and reason.value.startswith("expert.avoid.")


# --- index ---------------------------------------------------------------------------------------------------


def test_index_excludes_exactly_what_the_predicates_exclude() -> None:
    pool = [
        expert("EX1", employments=(Employment(BIDDER_A, date(2020, 1, 1)),)),
        expert("EX2", status=ExpertStatus.SUSPENDED),
        expert("EX3", draw_times=tuple(NOW - timedelta(days=d) for d in (1, 2, 3))),
        expert("EX4", draw_times=(NOW - timedelta(days=1), NOW + timedelta(days=1), NOW - timedelta(days=2))),
        expert("EX5", conflict_orgs=frozenset({TENDERER})),
        expert("EX6"),
        expert("EX7", draw_times=tuple(NOW - timedelta(days=d) for d in (1, 2, 3, 500))),
    ]
    index = PoolIndex(pool, TREE)
    brute = {e.code for e in pool if avoidance_reasons(e, CTX, POLICY)}
    assert index.excluded(CTX, POLICY) == brute == {"EX1", "EX2", "EX3", "EX5", "EX7"}


def test_index_refuses_duplicate_codes() -> None:
    with pytest.raises(ValidationFailed):
        PoolIndex([expert("EX1"), expert("EX1")], TREE)


# --- status --------------------------------------------------------------------------------------------------


def test_status_changes_follow_the_table_and_removal_is_final() -> None:
    assert check_status_change(ExpertStatus.ACTIVE, ExpertStatus.SUSPENDED) == "suspend"
    assert check_status_change(ExpertStatus.SUSPENDED, ExpertStatus.ACTIVE) == "reinstate"
    assert check_status_change(ExpertStatus.SUSPENDED, ExpertStatus.REMOVED) == "remove"
    for target in ExpertStatus:
        with pytest.raises(Conflict):
            check_status_change(ExpertStatus.REMOVED, target)


# --- plan ----------------------------------------------------------------------------------------------------


def test_plan_lists_canonical_candidates_with_slot_masks_and_employer_groups() -> None:
    same = make_uscc(77)
    pool = [
        expert("EX3", specialties=frozenset({"A0101", "B0101"}), employments=(Employment(same, date(2020, 1, 1)),)),
        expert("EX1", specialties=frozenset({"A0102"}), employments=(Employment(same, date(2019, 1, 1)),)),
        expert("EX2", specialties=frozenset({"B0101"})),
        expert("EX4", specialties=frozenset({"A01"})),  # exactly the requested code qualifies
        expert("EX5", specialties=frozenset({"A0101"}), employments=(Employment(BIDDER_A, date(2020, 1, 1)),)),
    ]
    plan = plan_draw(PoolIndex(pool, TREE), [SlotRequest("A01", 1), SlotRequest("B0101", 1)], CTX, POLICY)
    assert plan.candidates == ("EX1", "EX2", "EX3", "EX4")
    assert plan.slot_masks == (1, 2, 3, 1)
    assert plan.groups[0] == plan.groups[2] != plan.groups[1] != plan.groups[3]
    assert plan.eligible_counts == (3, 2)


def test_plan_refuses_when_too_few_are_eligible() -> None:
    pool = [expert("EX1"), expert("EX2", employments=(Employment(BIDDER_A, date(2020, 1, 1)),))]
    with pytest.raises(Conflict) as exc:
        plan_draw(PoolIndex(pool, TREE), [SlotRequest("A0101", 2)], CTX, POLICY)
    assert exc.value.code == "expert.not_enough_eligible"
    assert exc.value.details == {"specialty": "A0101", "eligible": 1, "needed": 2}


def test_plan_refuses_bad_requests() -> None:
    index = PoolIndex([expert("EX1")], TREE)
    with pytest.raises(ValidationFailed):
        plan_draw(index, [], CTX, POLICY)
    with pytest.raises(ValidationFailed):
        plan_draw(index, [SlotRequest("A0101", 1), SlotRequest("A0101", 1)], CTX, POLICY)
    with pytest.raises(ValidationFailed):
        SlotRequest("A0101", 0)


def test_aware_moment_needs_an_offset() -> None:
    assert aware_moment("2026-12-01T09:00+08:00", "x.bad_time") == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    for text in ("2026-12-01T09:00", "tomorrow", ""):
        with pytest.raises(ValidationFailed) as err:
            aware_moment(text, "x.bad_time")
        assert err.value.code == "x.bad_time"


def test_identity_number_check_character() -> None:
    from sunbid.experts.pool import id_check_char, valid_id_number

    assert id_check_char("11010519491231002") == "X"  # the example of GB 11643
    assert valid_id_number("11010519491231002x") and valid_id_number(" 110105194912310021 ") is False
    assert not valid_id_number("01010519491231002X") and not valid_id_number("1101051949123100X")
