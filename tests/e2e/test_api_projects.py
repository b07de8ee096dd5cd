"""A whole engineering open tender through the HTTP API, in fake time, and the legal time rules it enforces."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from sunbid.core.clock import SHANGHAI, FakeClock
from sunbid.identity import certs
from sunbid.identity import service as identity
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import User
from sunbid.platform.container import Platform
from sunbid.projects import service
from sunbid.projects.models import ProjectEvent
from tests.support.world import PASSWORD, World, build_world

API = "/api/v1"
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
TENDER_PDF = b"%PDF-1.7 tender documents of the demonstration road"


@dataclass
class Api:
    """The HTTP API as the people of a small world (bearer tokens), plus the platform behind it."""

    client: TestClient
    platform: Platform
    clock: FakeClock
    world: World
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str | None, path: str, **kw: Any) -> Response:
        return self.client.get(API + path, headers=self.headers(who), **kw)

    def post(self, who: str | None, path: str, body: Any = None, **kw: Any) -> Response:
        if body is not None:
            kw["json"] = body
        return self.client.post(API + path, headers=self.headers(who), **kw)

    def act(self, who: str, pid: int, action: str, **params: Any) -> dict[str, Any]:
        r = self.post(who, f"/projects/{pid}/actions/{action}", params)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def state(self, pid: int) -> str:
        return str(self.get("operator", f"/projects/{pid}").json()["state"])

    def create(self, who: str = "agency", **extra: Any) -> dict[str, Any]:
        body = {
            "name": "池州市示范道路工程",
            "procedure_code": "eng_open",
            "tenderer_org_id": self.world.orgs["tenderer"].id,
            "agency_org_id": self.world.orgs["agency"].id,
            "budget": "12500000.00",
            **extra,
        }
        r = self.post(who, "/projects", body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def upload(
        self, who: str, pid: int, kind: str = "tender_documents", data: bytes = TENDER_PDF, **form: str
    ) -> Response:
        files = {"file": ("招标文件.pdf", data, "application/pdf")}
        return self.post(
            who, f"/projects/{pid}/documents", data={"kind": kind, "title": "招标文件", **form}, files=files
        )

    def to_bidding(self, pid: int, days: int = 21) -> datetime:
        """Accept, announce, upload and issue the documents with a deadline ``days`` ahead (09:00 Beijing)."""
        self.act("operator", pid, "accept", green_channel=True)
        self.act("agency", pid, "publish_announcement")
        assert self.upload("agency", pid).status_code == 201
        deadline = self.clock.now() + timedelta(days=days)
        self.act("agency", pid, "issue_documents", bid_deadline=deadline.astimezone(SHANGHAI).isoformat())
        return deadline

    def assign_expert(self, pid: int) -> None:
        with self.platform.uow() as uow:
            user = identity.create_user(uow, username=f"expert{pid}", display_name="专家", password=PASSWORD)
            identity.add_membership(uow, user=user, org=self.world.centre_org, role="expert", project_ids=[pid])
            self.tokens["expert"] = identity.create_api_token(uow, user, "t").raw
            uow.commit()

    def to_awarded(self, pid: int) -> None:
        """From registered to award notice (bidder A wins), the way the whole-tender test walks it."""
        deadline = self.to_bidding(pid)
        self.assign_expert(pid)
        self.set_facts(pid, bids_received=3)
        self.clock.set(deadline)
        self.platform.worker.run_once()
        self.act("operator", pid, "finish_opening", valid_bids=3)
        self.act("operator", pid, "start_evaluation", committee_ready=True)
        self.act("expert", pid, "submit_report")
        self.act("agency", pid, "publish_candidates")
        self.clock.advance(timedelta(days=4))
        self.platform.worker.run_once()
        award = {"winner_org_id": self.world.orgs["bidder_a"].id, "amount": "11800000.00"}
        r = self.post("tenderer", f"/projects/{pid}/award", award)
        assert r.status_code == 200, r.text

    def set_facts(self, pid: int, **facts: Any) -> None:
        """Facts owned by other features (bidding): recorded through the service, as they will be."""
        with self.platform.uow() as uow:
            service.update_facts(uow, pid, "test", **facts)
            uow.commit()


def _world(platform: Platform) -> World:
    """``build_world`` plus an agency, a third bidder and a finance regulator inside the region."""
    world = build_world(platform)
    with platform.uow() as uow:
        extra = [
            ("agency", "池州招标代理公司", "agency", "341702", ["engineering", "procurement"], "agency"),
            ("bidder_c", "丙建筑公司", "bidder", "341702", ["engineering"], "bidder"),
            ("regulator_fin", "池州市财政局", "regulator", "341700", ["finance"], "regulator"),
        ]
        for i, (key, name, kind, region, sectors, role) in enumerate(extra, start=40):
            org = identity.create_organisation(
                uow, name=name, uscc=make_uscc(i, region_code="341700"), kind=kind, region_code=region, sectors=sectors
            )
            world.orgs[key] = org
            user = identity.create_user(uow, username=key, display_name=name, password=PASSWORD)
            identity.add_membership(uow, user=user, org=org, role=role)
            world.users[key] = user
        uow.commit()
    return world


def make_api(platform: Platform, client: TestClient, clock: FakeClock) -> Api:
    """The world at T0 with a bearer token for each of its people."""
    clock.set(T0)
    world = _world(platform)
    a = Api(client, platform, clock, world)
    names = ("tenderer", "agency", "bidder_a", "bidder_b", "regulator", "regulator_far", "regulator_fin")
    with platform.uow() as uow:
        for name in (*names, "operator", "admin"):
            user = uow.session.scalars(select(User).where(User.username == name)).one()
            a.tokens[name] = identity.create_api_token(uow, user, "t").raw
        uow.commit()
    return a


@pytest.fixture
def api(platform: Platform, client: TestClient, clock: FakeClock) -> Api:
    return make_api(platform, client, clock)


def sign(api: Api, who: str, message: str) -> dict[str, str]:
    """A certificate for ``who``'s organisation from the centre CA, and its signature over ``message``."""
    platform = api.platform
    kp = platform.suite.generate_signing_keypair()
    enc = platform.suite.generate_encryption_keypair()
    with platform.uow() as uow:
        sc, _ = certs.issue_certificates(uow, api.world.orgs[who].id, kp.public, enc.public)
        uow.commit()
    sig = base64.b64encode(platform.suite.sign(kp.private, message.encode())).decode()
    return {"certificate_pem": sc.pem, "signature_b64": sig}


# --- the time rules ----------------------------------------------------------------------------------------


def test_deadline_19_days_after_issue_is_refused_naming_the_20_day_rule(api: Api) -> None:
    created = api.create()
    pid = created["id"]
    api.act("operator", pid, "accept")
    api.act("agency", pid, "publish_announcement")
    assert api.upload("agency", pid).status_code == 201
    deadline = (api.clock.now() + timedelta(days=19)).astimezone(SHANGHAI).isoformat()
    r = api.post("agency", f"/projects/{pid}/actions/issue_documents", {"bid_deadline": deadline})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "rules.eng.doc_issue_to_bid_deadline"
    assert "20日" in body["message_zh"] and "招标投标法" in body["message_zh"]
    assert body["title"] == body["message_zh"]  # Chinese first
    assert api.state(pid) == "announced"  # nothing changed
    assert api.get(None, f"/public/projects/{created['code']}").json()["bid_deadline"] is None


def test_amendment_14_days_before_the_deadline_moves_it_to_15_days(api: Api) -> None:
    pid = api.create()["id"]
    deadline = api.to_bidding(pid, days=25)
    api.clock.advance(timedelta(days=11))  # 14 days before the deadline
    out = api.act("agency", pid, "amend_documents")
    assert out["state"] == "bidding" and out["event"] == "documents.amended"
    facts = api.get("agency", f"/projects/{pid}").json()["facts"]
    moved = datetime.fromisoformat(facts["bid_deadline"])
    assert moved > deadline and (moved - api.clock.now()).days >= 15
    assert moved.astimezone(SHANGHAI).time() == deadline.astimezone(SHANGHAI).time()  # same time of day
    countdowns = api.get("operator", f"/projects/{pid}/deadlines").json()["deadlines"]
    close = next(d for d in countdowns if d["action"] == "close_bidding")
    assert datetime.fromisoformat(close["due"]["utc"]) == moved
    assert close["seconds_remaining"] == int((moved - api.clock.now()).total_seconds())
    listed = api.get(None, "/public/announcements").json()["items"][0]
    assert datetime.fromisoformat(listed["bid_deadline"]["utc"]) == moved


def test_amendment_with_an_explicit_new_deadline_keeps_it_when_it_is_legal(api: Api) -> None:
    pid = api.create()["id"]
    deadline = api.to_bidding(pid, days=25)
    wanted = deadline + timedelta(days=10)
    api.act("agency", pid, "amend_documents", new_deadline=wanted.astimezone(SHANGHAI).isoformat())
    facts = api.get("agency", f"/projects/{pid}").json()["facts"]
    assert datetime.fromisoformat(facts["bid_deadline"]) == wanted


def test_countdowns_name_the_rule_its_source_and_beijing_time(api: Api) -> None:
    pid = api.create()["id"]
    deadline = api.to_bidding(pid, days=21)
    out = api.get("agency", f"/projects/{pid}/deadlines").json()
    assert out["state"] == "bidding" and out["state_zh"] == "投标中"
    close = next(d for d in out["deadlines"] if d["action"] == "close_bidding")
    assert close["kind"] == "timed" and close["seconds_remaining"] == 21 * 86400 and not close["overdue"]
    assert close["due"]["shanghai"] == deadline.astimezone(SHANGHAI).isoformat()
    amend = next(d for d in out["deadlines"] if d["rule_id"] == "eng.clarification_before_deadline")
    assert amend["label_zh"] == "澄清或修改文件" and amend["rule_source"] and amend["rule_title_zh"]
    assert datetime.fromisoformat(amend["due"]["utc"]) < deadline - timedelta(days=14)
    objection = next(d for d in out["deadlines"] if d["rule_id"] == "eng.objection_docs_before_deadline")
    assert 0 < objection["seconds_remaining"] < close["seconds_remaining"]
    api.clock.set(deadline + timedelta(hours=1))
    late = api.get("agency", f"/projects/{pid}/deadlines").json()["deadlines"]
    assert next(d for d in late if d["action"] == "close_bidding")["overdue"] is True


# --- the whole tender --------------------------------------------------------------------------------------


def test_whole_open_tender_through_the_api(api: Api) -> None:
    created = api.create(sections=[{"code": "01", "name": "一标段", "max_price": "12000000.00"}])
    pid, code = created["id"], created["code"]
    assert created["state"] == "registered" and created["state_zh"] == "已登记（待受理）"
    assert created["your_roles"] == ["agency"] and created["sections"][0]["max_price"] == "12000000.00"
    assert "accept" in [a["action"] for a in api.get("operator", f"/projects/{pid}/allowed-actions").json()["actions"]]
    deadline = api.to_bidding(pid)
    project = api.get("tenderer", f"/projects/{pid}").json()
    assert project["state"] == "bidding" and project["green_channel"] is True
    api.assign_expert(pid)

    # bidding closes by the scheduler at the deadline, not a second before, and once
    api.set_facts(pid, bids_received=3)
    api.clock.set(deadline - timedelta(seconds=1))
    api.platform.worker.run_once()
    assert api.state(pid) == "bidding"
    api.clock.set(deadline)
    api.platform.worker.run_once()
    assert api.state(pid) == "opening"
    api.platform.worker.run_once()
    assert api.state(pid) == "opening"

    api.act("operator", pid, "finish_opening", valid_bids=3)
    api.act("operator", pid, "start_evaluation", committee_ready=True)
    api.act("expert", pid, "submit_report")
    api.act("agency", pid, "publish_candidates")
    award = {"winner_org_id": api.world.orgs["bidder_a"].id, "amount": "11800000.00"}
    early = api.post("tenderer", f"/projects/{pid}/award", award)
    assert early.status_code == 409 and early.json()["code"] == "procedure.illegal_transition"
    api.clock.advance(timedelta(days=4))
    api.platform.worker.run_once()
    assert api.state(pid) == "award_pending"
    offered = api.get("tenderer", f"/projects/{pid}/allowed-actions").json()["actions"]
    assert [(a["action"], a["endpoint"]) for a in offered if a["action"] == "confirm_award"] == [
        ("confirm_award", f"/api/v1/projects/{pid}/award")
    ]
    for bad in (11800000, False, "11800000.001"):
        r = api.post("tenderer", f"/projects/{pid}/award", {**award, "amount": bad})
        assert r.status_code == 422 and r.json()["code"] == "request.invalid", bad
    assert api.state(pid) == "award_pending"
    r = api.post("tenderer", f"/projects/{pid}/award", award)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "awarded" and r.json()["action"] == "confirm_award"
    assert api.get("tenderer", f"/projects/{pid}").json()["award_amount"] == "11800000.00"

    # the contract, signed with both parties' certificate keys
    contract_text = b"construction contract v1"
    doc = api.upload("agency", pid, kind="contract", data=contract_text).json()
    assert doc["public"] is False and doc["sha256"] == hashlib.sha256(contract_text).hexdigest()
    assert api.get(None, doc["download_url"].removeprefix(API)).status_code == 401
    assert api.get("bidder_b", f"/projects/{pid}/contract").status_code == 403
    contract = api.get("bidder_a", f"/projects/{pid}/contract").json()
    assert contract["document"]["sha256"] == doc["sha256"] and contract["signatures"] == []
    message = contract["message"]
    assert doc["sha256"] in message and code in message
    winner_dl = api.get("bidder_a", doc["download_url"].removeprefix(API))
    assert winner_dl.status_code == 200 and winner_dl.content == contract_text
    signed_by_tenderer = api.post("tenderer", f"/projects/{pid}/contract/signatures", sign(api, "tenderer", message))
    assert signed_by_tenderer.status_code == 201, signed_by_tenderer.text
    assert [s["party"] for s in signed_by_tenderer.json()["signatures"]] == ["tenderer"]
    assert api.state(pid) == "awarded"
    r = api.post("bidder_a", f"/projects/{pid}/contract/signatures", sign(api, "bidder_a", message))
    assert r.status_code == 201 and r.json()["signed"] is True
    assert api.state(pid) == "contracted"

    published = api.post("agency", f"/projects/{pid}/contract/publish")
    assert published.status_code == 200 and published.json()["facts"]["contract_published_at"]
    public_contract = api.get(None, doc["download_url"].removeprefix(API))
    assert public_contract.status_code == 200 and public_contract.content == contract_text
    assert api.post("tenderer", f"/projects/{pid}/regulator-report", {}).status_code == 200
    archived = api.act("agency", pid, "archive")
    assert archived["state"] == "archived" and archived["state_zh"] == "已归档"

    steps = api.get("regulator", f"/projects/{pid}/timeline").json()
    assert (steps[0]["action"], steps[0]["role"]) == ("register", "agency")
    closing = next(s for s in steps if s["action"] == "close_bidding")
    assert (
        closing["role_zh"] == "系统（定时）" and closing["at"]["shanghai"] == deadline.astimezone(SHANGHAI).isoformat()
    )
    assert steps[-1]["action"] == "archive" and all(isinstance(s["ledger_index"], int) for s in steps)
    with api.platform.db.read() as s:
        assert api.platform.ledger.verify(s).ok
        stored = s.scalars(select(ProjectEvent.action).where(ProjectEvent.project_id == pid)).all()
    assert len(stored) == len(steps)

    public = api.get(None, f"/public/projects/{code}").json()
    assert public["state_zh"] == "已归档"
    assert {d["kind"] for d in public["documents"]} == {"tender_documents", "contract"}
    public_actions = [s["action"] for s in public["timeline"]]
    assert "close_bidding" in public_actions and "confirm_award" in public_actions
    assert not {"register", "accept", "submit_report", "start_evaluation"} & set(public_actions)
