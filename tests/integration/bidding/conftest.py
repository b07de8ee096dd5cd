"""A project in ``bidding`` with three bidders (users ``bidder_a``, ``bidder_b``, ``bidder_c``) in fake time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sunbid.bidding import service as bids
from sunbid.bidding.models import Bid
from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.models import Organisation
from sunbid.platform.container import Platform
from sunbid.projects import service as projects
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts
from tests.integration.bidding.bidtools import Sealer, chunks, make_sealer
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture
from tests.support.world import PASSWORD

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@dataclass
class Bw:
    """The world, one project in ``bidding`` and helpers to bid as its bidders through the services."""

    tw: Tw
    clock: FakeClock
    sealer: Sealer
    pid: int
    code: str
    deadline: datetime

    @property
    def platform(self) -> Platform:
        return self.tw.platform

    def org(self, who: str) -> Organisation:
        return self.tw.world.orgs[who]

    def act(self, who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.platform.uow() as uow:
            result = fn(uow, self.tw.actor(who), *args, **kwargs)
            uow.commit()
            return result

    def seal(self, who: str, **kw: Any) -> bytes:
        return self.sealer.seal(self.org(who), self.code, **kw)

    def open_upload(self, who: str, data: bytes) -> int:
        hash_ = self.platform.suite.digest(data).hex()
        upload = self.act(who, bids.create_upload, self.pid, "01", length=len(data), container_hash=hash_)
        return int(upload.id)

    def send_all(self, who: str, upload_id: int, data: bytes) -> int:
        offset = 0
        for at, piece in chunks(data):
            offset = self.act(who, bids.append_chunk, upload_id, at, piece)
        return offset

    def submit(self, who: str, data: bytes | None = None) -> Bid:
        data = data if data is not None else self.seal(who)
        uid = self.open_upload(who, data)
        self.send_all(who, uid, data)
        bid: Bid = self.act(who, bids.complete_upload, uid)
        return bid

    def project(self) -> Project:
        with self.platform.db.read() as s:
            p = s.get(Project, self.pid)
            assert p is not None
            return p

    def bids_received(self) -> int:
        return project_facts(self.project(), self.clock.now()).bids_received


def to_bidding(world: Tw, clock: FakeClock, days: int = 21) -> tuple[int, str, datetime]:
    """A new engineering open tender, accepted, announced and with documents issued; returns id, code, deadline."""

    def act(who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with world.platform.uow() as uow:
            result = fn(uow, world.actor(who), *args, **kwargs)
            uow.commit()
            return result

    def create(uow: Any, actor: Any) -> Project:
        return projects.create_project(
            uow,
            actor,
            name="池州市示范道路工程",
            procedure_code="eng_open",
            tenderer_org_id=world.world.orgs["tenderer"].id,
            agency_org_id=world.world.orgs["agency"].id,
            budget="12500000.00",
        )

    project = act("agency", create)
    pid, code = int(project.id), str(project.code)
    act("operator", projects.perform, pid, "accept", {"green_channel": True})
    act("agency", projects.perform, pid, "publish_announcement", {})
    act(
        "agency",
        projects.add_document,
        pid,
        kind="tender_documents",
        title="招标文件",
        filename="zbwj.pdf",
        content_type="application/pdf",
        data=b"%PDF-1.7 tender",
    )
    deadline = clock.now() + timedelta(days=days)
    act("agency", projects.perform, pid, "issue_documents", {"bid_deadline": deadline.isoformat()})
    return pid, code, deadline


@pytest.fixture
def bw(tw: Tw, clock: FakeClock, suite_name: str) -> Bw:
    clock.set(T0)
    with tw.platform.uow() as uow:
        user = identity.create_user(uow, username="bidder_c", display_name="丙", password=PASSWORD)
        identity.add_membership(uow, user=user, org=tw.world.orgs["bidder_c"], role="bidder")
        uow.commit()
    pid, code, deadline = to_bidding(tw, clock)
    return Bw(tw, clock, make_sealer(suite_name, tw.platform), pid, code, deadline)
