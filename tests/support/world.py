"""A small world of organisations and users for service and end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from sunbid.identity import service
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import Organisation, User
from sunbid.platform.container import Platform

PASSWORD = "Passw0rd-test"


@dataclass
class World:
    centre_org: Organisation
    orgs: dict[str, Organisation] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)


def build_world(platform: Platform, region: str = "341700") -> World:
    """A centre (admin, operator), a tenderer, bidders A and B, regulators in and out of the region."""
    with platform.uow() as uow:
        centre = service.create_centre(
            uow, name="池州市公共资源交易中心", uscc=make_uscc(1, region_code=region), region_code=region
        )
        centre_org = uow.session.get(Organisation, centre.org_id)
        assert centre_org is not None
        world = World(centre_org=centre_org)
        specs = [
            ("tenderer", "池州市城投公司", "tenderer", region, ["engineering"], "tenderer"),
            ("bidder_a", "甲建筑公司", "bidder", region, ["engineering"], "bidder"),
            ("bidder_b", "乙建筑公司", "bidder", region, ["engineering"], "bidder"),
            ("regulator", "池州市住建局", "regulator", region, ["housing", "engineering"], "regulator"),
            ("regulator_far", "济南市住建局", "regulator", "370100", ["housing", "engineering"], "regulator"),
        ]
        for i, (key, name, kind, reg, sectors, role) in enumerate(specs, start=2):
            org = service.create_organisation(
                uow,
                name=name,
                uscc=make_uscc(i, region_code=reg),
                kind=kind,
                region_code=reg,
                sectors=sectors,
            )
            world.orgs[key] = org
            user = service.create_user(uow, username=key, display_name=name + "用户", password=PASSWORD)
            service.add_membership(uow, user=user, org=org, role=role)
            world.users[key] = user
        for key, roles in (("admin", ["admin", "operator"]), ("operator", ["operator"])):
            user = service.create_user(uow, username=key, display_name=key, password=PASSWORD)
            for r in roles:
                service.add_membership(uow, user=user, org=centre_org, role=r)
            world.users[key] = user
        uow.commit()
    return world
