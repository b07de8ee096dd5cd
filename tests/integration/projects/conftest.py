"""A world with an agency and an expert, and helpers to act as its people."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sunbid.identity import service as identity
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import User
from sunbid.identity.service import Actor, load_actor
from sunbid.platform.container import Platform
from tests.support.world import PASSWORD, World, build_world


@dataclass
class Tw:
    platform: Platform
    world: World

    def actor(self, username: str) -> Actor:
        with self.platform.db.read() as s:
            user = s.query(User).filter_by(username=username).one()
            return load_actor(s, user, method="password")


@pytest.fixture
def tw(platform: Platform) -> Tw:
    world = build_world(platform)
    with platform.uow() as uow:
        agency = identity.create_organisation(
            uow,
            name="池州招标代理公司",
            uscc=make_uscc(40, region_code="341700"),
            kind="agency",
            region_code="341702",
            sectors=["engineering", "procurement"],
        )
        user = identity.create_user(uow, username="agency", display_name="代理", password=PASSWORD)
        identity.add_membership(uow, user=user, org=agency, role="agency")
        world.orgs["agency"] = agency
        bidder_c = identity.create_organisation(
            uow,
            name="丙建筑公司",
            uscc=make_uscc(41, region_code="341700"),
            kind="bidder",
            region_code="341702",
            sectors=["engineering"],
        )
        world.orgs["bidder_c"] = bidder_c
        expert = identity.create_user(uow, username="expert", display_name="专家", password=PASSWORD)
        identity.add_membership(uow, user=expert, org=world.centre_org, role="expert", project_ids=[1, 2, 3])
        uow.commit()
    return Tw(platform, world)
