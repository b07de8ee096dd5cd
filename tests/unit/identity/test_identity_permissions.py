"""The permission check: roles, organisations, projects, regions and sectors; deny by default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunbid.core.errors import ErrorKind, Forbidden, Unauthenticated, ValidationFailed
from sunbid.identity.domain import (
    ORG_KIND_ROLES,
    Decision,
    Membership,
    OrgKind,
    Permission,
    Principal,
    Reason,
    ResourceScope,
    Role,
    Scope,
    Sector,
    authorize,
    decide,
)

# --- the cast ---

CENTRE_CZ = "org-centre-chizhou"
CENTRE_JN = "org-centre-jinan"
TENDERER = "org-tenderer"
AGENCY = "org-agency"
BIDDER_A = "org-bidder-a"
BIDDER_B = "org-bidder-b"
P1, P2 = "project-1", "project-2"

# Project 1: an engineering (housing) tender in 贵池区 (341702), hosted by the Chizhou centre.
PROJECT_1 = ResourceScope(
    org_id=TENDERER,
    project_id=P1,
    party_org_ids=frozenset({TENDERER, AGENCY, CENTRE_CZ}),
    region_code="341702",
    sectors=frozenset({Sector.ENGINEERING, Sector.HOUSING}),
)
PROJECT_2 = ResourceScope(
    org_id=TENDERER,
    project_id=P2,
    party_org_ids=frozenset({TENDERER, AGENCY, CENTRE_CZ}),
    region_code="341700",
    sectors=frozenset({Sector.PROCUREMENT, Sector.FINANCE}),
)
BID_OF_A = ResourceScope(org_id=BIDDER_A, project_id=P1, region_code="341702")

BID_READ = Permission("bid.read", frozenset({Role.BIDDER}), Scope.OWN_ORG, "查看投标文件")
PROJECT_ACCEPT = Permission("project.accept", frozenset({Role.OPERATOR}), Scope.PROJECT_PARTY)
PROJECT_EDIT = Permission("project.edit", frozenset({Role.TENDERER, Role.AGENCY}), Scope.PROJECT_PARTY)
PROJECT_SUPERVISE = Permission("project.supervise", frozenset({Role.REGULATOR}), Scope.REGION_SECTOR)
EVALUATION_SCORE = Permission("evaluation.score", frozenset({Role.EXPERT}), Scope.PROJECT_PARTY)
PORTAL_READ = Permission("portal.read", frozenset(), Scope.PUBLIC)
QUESTION_ASK = Permission("question.ask", frozenset({Role.BIDDER}), Scope.ANY_AUTHENTICATED)
PROFILE_EDIT = Permission("user.profile_edit", frozenset(Role), Scope.OWN_USER)

T0 = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def person(user: str, *memberships: Membership) -> Principal:
    org = memberships[0].org_id if memberships else None
    return Principal(user_id=user, org_id=org, memberships=frozenset(memberships))


BIDDER_A_STAFF = person("u-a", Membership(Role.BIDDER, BIDDER_A))
BIDDER_B_STAFF = person("u-b", Membership(Role.BIDDER, BIDDER_B))
OPERATOR_CZ = person("u-op-cz", Membership(Role.OPERATOR, CENTRE_CZ))
OPERATOR_JN = person("u-op-jn", Membership(Role.OPERATOR, CENTRE_JN))


def regulator(region: str | None, *sectors: Sector, projects: frozenset[str] | None = None) -> Principal:
    return person(
        "u-reg",
        Membership(Role.REGULATOR, "org-reg", region_code=region, sectors=frozenset(sectors), project_ids=projects),
    )


def expert(projects: frozenset[str] | None) -> Principal:
    """An expert drawn by the Chizhou centre, signed in for an 8-hour evaluation from T0."""
    window_end = T0 + timedelta(hours=8)
    return person(
        "u-expert",
        Membership(Role.EXPERT, CENTRE_CZ, project_ids=projects, valid_from=T0, valid_until=window_end),
    )


# --- the matrix ---


@pytest.mark.parametrize(
    ("who", "permission", "resource", "allowed", "reason"),
    [
        # bidders never see each other's bids
        (BIDDER_A_STAFF, BID_READ, BID_OF_A, True, Reason.GRANTED),
        (BIDDER_B_STAFF, BID_READ, BID_OF_A, False, Reason.OUT_OF_SCOPE),
        # operators act only for projects of their own centre
        (OPERATOR_CZ, PROJECT_ACCEPT, PROJECT_1, True, Reason.GRANTED),
        (OPERATOR_JN, PROJECT_ACCEPT, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        # roles gate the action even inside the project
        (BIDDER_A_STAFF, PROJECT_ACCEPT, PROJECT_1, False, Reason.ROLE_NOT_PERMITTED),
        (OPERATOR_CZ, BID_READ, BID_OF_A, False, Reason.ROLE_NOT_PERMITTED),
        # regulators: their region or a region inside it, and their sector
        (regulator("341700", Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, True, Reason.GRANTED),
        (regulator("340000", Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, True, Reason.GRANTED),
        (regulator("341702", Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, True, Reason.GRANTED),
        (regulator("341702", Sector.FINANCE), PROJECT_SUPERVISE, PROJECT_2, False, Reason.OUT_OF_SCOPE),
        (regulator("341700", Sector.FINANCE), PROJECT_SUPERVISE, PROJECT_2, True, Reason.GRANTED),
        (regulator("370100", Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        (regulator("370000", Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        (regulator("341700", Sector.WATER), PROJECT_SUPERVISE, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        (regulator("341700"), PROJECT_SUPERVISE, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        (regulator(None, Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        (regulator("3417", Sector.HOUSING), PROJECT_SUPERVISE, PROJECT_1, False, Reason.OUT_OF_SCOPE),
        (
            regulator("341700", Sector.HOUSING, projects=frozenset({P2})),
            PROJECT_SUPERVISE,
            PROJECT_1,
            False,
            Reason.OUT_OF_SCOPE,
        ),
        # the public portal is open to everyone, signed in or not
        (None, PORTAL_READ, None, True, Reason.PUBLIC),
        (BIDDER_B_STAFF, PORTAL_READ, None, True, Reason.PUBLIC),
        (None, BID_READ, BID_OF_A, False, Reason.UNAUTHENTICATED),
        # any signed-in bidder, no resource needed
        (BIDDER_B_STAFF, QUESTION_ASK, None, True, Reason.GRANTED),
        (OPERATOR_CZ, QUESTION_ASK, None, False, Reason.ROLE_NOT_PERMITTED),
        (None, QUESTION_ASK, None, False, Reason.UNAUTHENTICATED),
        # one's own profile only
        (BIDDER_A_STAFF, PROFILE_EDIT, ResourceScope(user_id="u-a"), True, Reason.GRANTED),
        (BIDDER_B_STAFF, PROFILE_EDIT, ResourceScope(user_id="u-a"), False, Reason.OUT_OF_SCOPE),
        (BIDDER_A_STAFF, PROFILE_EDIT, None, False, Reason.OUT_OF_SCOPE),
        # a principal with no memberships holds no role
        (person("u-new"), QUESTION_ASK, None, False, Reason.ROLE_NOT_PERMITTED),
    ],
)
def test_permission_matrix(
    who: Principal | None,
    permission: Permission,
    resource: ResourceScope | None,
    allowed: bool,
    reason: Reason,
) -> None:
    decision = decide(who, permission, resource)
    assert decision.allowed is allowed
    assert decision.reason_code == reason
    assert bool(decision) is allowed


def test_expert_sees_only_assigned_projects_and_only_during_evaluation() -> None:
    assigned = expert(frozenset({P1}))
    during = T0 + timedelta(hours=1)
    assert decide(assigned, EVALUATION_SCORE, PROJECT_1, now=during).allowed
    assert decide(assigned, EVALUATION_SCORE, PROJECT_2, now=during).reason_code == Reason.OUT_OF_SCOPE
    before = decide(assigned, EVALUATION_SCORE, PROJECT_1, now=T0 - timedelta(seconds=1))
    assert before.reason_code == Reason.MEMBERSHIP_INACTIVE
    after = decide(assigned, EVALUATION_SCORE, PROJECT_1, now=T0 + timedelta(hours=8))
    assert after.reason_code == Reason.MEMBERSHIP_INACTIVE
    assert decide(assigned, EVALUATION_SCORE, PROJECT_1).reason_code == Reason.MEMBERSHIP_INACTIVE  # no clock


def test_expert_without_named_projects_reaches_no_project() -> None:
    unnamed = expert(None)
    assert decide(unnamed, EVALUATION_SCORE, PROJECT_1, now=T0).reason_code == Reason.OUT_OF_SCOPE


def test_membership_limited_to_projects_reaches_only_those() -> None:
    staff = person("u-t", Membership(Role.TENDERER, TENDERER, project_ids=frozenset({P1})))
    assert decide(staff, PROJECT_EDIT, PROJECT_1).allowed
    assert decide(staff, PROJECT_EDIT, PROJECT_2).reason_code == Reason.OUT_OF_SCOPE
    everything = person("u-t2", Membership(Role.TENDERER, TENDERER))
    assert decide(everything, PROJECT_EDIT, PROJECT_2).allowed


def test_project_limit_also_applies_to_own_organisation_resources() -> None:
    limited = person("u-a1", Membership(Role.BIDDER, BIDDER_A, project_ids=frozenset({P1})))
    bid_in_p2 = ResourceScope(org_id=BIDDER_A, project_id=P2)
    assert decide(limited, BID_READ, BID_OF_A).allowed
    assert decide(limited, BID_READ, bid_in_p2).reason_code == Reason.OUT_OF_SCOPE
    assert decide(limited, BID_READ, ResourceScope(org_id=BIDDER_A)).reason_code == Reason.OUT_OF_SCOPE


def test_agency_is_a_party_through_the_project_and_others_are_not() -> None:
    agency = person("u-ag", Membership(Role.AGENCY, AGENCY))
    other_agency = person("u-ag2", Membership(Role.AGENCY, "org-other-agency"))
    assert decide(agency, PROJECT_EDIT, PROJECT_1).allowed
    assert decide(other_agency, PROJECT_EDIT, PROJECT_1).reason_code == Reason.OUT_OF_SCOPE


def test_project_scope_needs_a_project() -> None:
    no_project = ResourceScope(org_id=TENDERER, party_org_ids=frozenset({CENTRE_CZ}))
    assert decide(OPERATOR_CZ, PROJECT_ACCEPT, no_project).reason_code == Reason.OUT_OF_SCOPE


@pytest.mark.parametrize("permission", [BID_READ, PROJECT_ACCEPT, PROJECT_SUPERVISE, PROFILE_EDIT])
def test_an_empty_resource_matches_nothing(permission: Permission) -> None:
    everyone = person(
        "u-all",
        *(
            Membership(role, CENTRE_CZ, region_code="340000", sectors=frozenset(Sector))
            for role in Role
            if role is not Role.EXPERT
        ),
    )
    assert decide(everyone, permission, ResourceScope()).allowed is False
    assert decide(everyone, permission, None).allowed is False


def test_unknown_role_is_denied_and_cannot_be_parsed() -> None:
    intruder = person("u-x", Membership(cast(Role, "superuser"), BIDDER_A))
    assert decide(intruder, BID_READ, BID_OF_A).reason_code == Reason.ROLE_NOT_PERMITTED
    with pytest.raises(ValidationFailed) as caught:
        Role.parse("superuser")
    assert caught.value.code == "identity.role_unknown"
    assert Role.parse(" Bidder ") is Role.BIDDER


def test_admin_has_no_implicit_rights() -> None:
    admin = person("u-admin", Membership(Role.ADMIN, CENTRE_CZ))
    assert decide(admin, PROJECT_ACCEPT, PROJECT_1).reason_code == Reason.ROLE_NOT_PERMITTED


def test_the_granting_membership_is_reported_among_several() -> None:
    granting = Membership(Role.OPERATOR, CENTRE_CZ)
    both = person("u-2", Membership(Role.BIDDER, BIDDER_B), granting)
    decision = decide(both, PROJECT_ACCEPT, PROJECT_1)
    assert decision == Decision(True, Reason.GRANTED, granting)
    assert decide(both, BID_READ, BID_OF_A).reason_code == Reason.OUT_OF_SCOPE


def test_authorize_raises_forbidden_or_unauthenticated() -> None:
    with pytest.raises(Forbidden) as forbidden:
        authorize(BIDDER_B_STAFF, BID_READ, BID_OF_A)
    assert forbidden.value.code == "identity.forbidden"
    assert forbidden.value.kind is ErrorKind.FORBIDDEN
    assert forbidden.value.details == {"permission": "bid.read", "reason": "identity.out_of_scope"}
    assert "查看投标文件" in forbidden.value.message_zh
    with pytest.raises(Unauthenticated) as anonymous:
        authorize(None, BID_READ, BID_OF_A)
    assert anonymous.value.code == "identity.unauthenticated"
    assert authorize(BIDDER_A_STAFF, BID_READ, BID_OF_A).allowed


def test_permissions_must_name_who_may_use_them() -> None:
    with pytest.raises(ValueError, match="no role"):
        Permission("bid.read", frozenset(), Scope.OWN_ORG)
    with pytest.raises(TypeError, match="frozenset"):
        Permission("bid.read", {Role.BIDDER}, Scope.OWN_ORG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        Permission("", frozenset({Role.BIDDER}), Scope.OWN_ORG)


memberships = st.builds(
    Membership,
    role=st.sampled_from(Role),
    org_id=st.sampled_from([CENTRE_CZ, TENDERER, AGENCY, BIDDER_A, BIDDER_B]),
    region_code=st.sampled_from([None, "340000", "341700", "341702", "370100"]),
    sectors=st.frozensets(st.sampled_from(Sector)),
    project_ids=st.one_of(st.none(), st.frozensets(st.sampled_from([P1, P2]))),
)
resources = st.builds(
    ResourceScope,
    org_id=st.sampled_from([None, CENTRE_CZ, TENDERER, BIDDER_A, BIDDER_B]),
    user_id=st.sampled_from([None, "u", "v"]),
    project_id=st.sampled_from([None, P1, P2]),
    party_org_ids=st.frozensets(st.sampled_from([CENTRE_CZ, TENDERER, AGENCY])),
    region_code=st.sampled_from([None, "340000", "341702", "370100"]),
    sectors=st.frozensets(st.sampled_from(Sector)),
)
non_public_scopes = st.sampled_from([s for s in Scope if s is not Scope.PUBLIC])


@given(st.frozensets(memberships, max_size=4), resources, non_public_scopes, st.sampled_from(Role))
def test_no_permitted_role_means_denied(
    held: frozenset[Membership], resource: ResourceScope, scope: Scope, permitted: Role
) -> None:
    others = frozenset(m for m in held if m.role is not permitted)
    decision = decide(Principal("u", None, others), Permission("x", frozenset({permitted}), scope), resource)
    assert decision.allowed is False
    assert decision.reason_code == Reason.ROLE_NOT_PERMITTED


@given(
    st.frozensets(memberships, max_size=4),
    resources,
    non_public_scopes,
    st.frozensets(st.sampled_from(Role), min_size=1),
)
def test_a_grant_always_comes_from_a_permitted_membership(
    held: frozenset[Membership], resource: ResourceScope, scope: Scope, roles: frozenset[Role]
) -> None:
    decision = decide(Principal("u", None, held), Permission("x", roles, scope), resource)
    if decision.allowed:
        assert decision.membership is not None
        assert decision.membership in held
        assert decision.membership.role in roles


def test_labels_are_bilingual_and_match_the_glossary() -> None:
    assert Role.BIDDER.label_zh == "投标人/供应商"
    assert Role.OPERATOR.label_zh == "交易中心工作人员"
    assert OrgKind.CENTRE.label_zh == "公共资源交易中心"
    assert Sector.ENGINEERING.label_zh == "工程建设"
    assert Sector.LAND.label_zh == "土地矿业权"
    for enum in (Role, OrgKind, Sector):
        zh = [m.label_zh for m in enum]
        en = [m.label_en for m in enum]
        assert all(zh)
        assert all(en)
        assert len(set(zh)) == len(zh)
        assert len(set(en)) == len(en)
    assert [s.value for s in Sector if s.is_trading] == ["engineering", "procurement", "land", "property"]


def test_every_org_kind_says_which_roles_its_members_may_hold() -> None:
    assert set(ORG_KIND_ROLES) == set(OrgKind)
    assert Role.BIDDER in ORG_KIND_ROLES[OrgKind.BIDDER]
    assert Role.BIDDER not in ORG_KIND_ROLES[OrgKind.CENTRE]
    assert Role.OPERATOR in ORG_KIND_ROLES[OrgKind.CENTRE]
    assert Role.OPERATOR not in ORG_KIND_ROLES[OrgKind.REGULATOR]
    assert Role.PUBLIC not in set().union(*ORG_KIND_ROLES.values())
