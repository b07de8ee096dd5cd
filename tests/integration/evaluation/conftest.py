"""A project opened with three real sealed bids, an expert draw confirmed, and helpers to evaluate it.

``vw`` (fixture): the method ``eng-comprehensive`` attached before the deadline, the coefficient drawn at the
opening, four A0101 experts drawn and confirmed, the opening finished (project ``opened``), the clock at the
evaluation start. ``started(vw)`` forms the committee (four experts + the tenderer's representative), redeems the
access codes, signs everyone in, records the leader and performs ``start_evaluation``.

``vw2`` (fixture): the same with two sections 标段 (``SECTIONS``: different maximum prices, each with its own
opening key and drawn K); the three bidders bid in both (``SECTION_PRICES``), bidder C above the maximum price of
section 02.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from sunbid.bidding import service as bids
from sunbid.core.clock import FakeClock
from sunbid.crypto.suite import KeyPair
from sunbid.draws.domain import DecimalRange
from sunbid.evaluation import service as evaluation
from sunbid.evaluation import service_report as reports
from sunbid.evaluation import service_scoring as scoring
from sunbid.evaluation.methods import packaged_method_names
from sunbid.evaluation.pdfsign import Signer, sign_report
from sunbid.experts import pool as pool_service
from sunbid.experts import service as experts
from sunbid.experts.domain import AvoidancePolicy, SlotRequest
from sunbid.experts.pool import PoolKeys
from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.identity.service import Actor, load_actor
from sunbid.notifications.models import SmsSimulatorMessage
from sunbid.opening import session
from sunbid.opening.models import OpeningKey, OpeningSession
from sunbid.platform.container import Platform
from sunbid.projects import service as projects
from sunbid.projects.models import Project, Section
from tests.integration.bidding.bidtools import chunks, make_sealer
from tests.integration.bidding.conftest import T0
from tests.integration.experts.conftest import csv_text, expert_row, phone
from tests.integration.opening.conftest import BIDDERS, Ow, add_custodians, make_ow
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture

PRICES = {"bidder_a": "11800000.00", "bidder_b": "11500000.00", "bidder_c": "12100000.00"}
SECTIONS = (
    projects.SectionIn("01", "一标段 道路主体工程", Decimal("12500000.00"), Decimal("12500000.00")),
    projects.SectionIn("02", "二标段 排水管网工程", Decimal("6000000.00"), Decimal("6000000.00")),
)
SECTION_PRICES = {
    "01": PRICES,
    "02": {"bidder_a": "5800000.00", "bidder_b": "5650000.00", "bidder_c": "6100000.00"},  # C above the cap
}
#: The facts each bid declares (manifest ``extra``) for the objective items of ``eng-comprehensive``: quality
#: certification (choice 有 → 5), credit rating (AAA 6 / AA 4 / A 2), similar projects (2 points each, at most 4).
FACTS = {
    "bidder_a": {"质量管理体系认证": "有", "信用等级": "AAA", "类似工程业绩": "3"},
    "bidder_b": {"质量管理体系认证": "有", "信用等级": "AA", "类似工程业绩": "1"},
    "bidder_c": {"信用等级": "A", "类似工程业绩": "三"},  # no certification declared; an unreadable count
}
EXPERT_PASSWORD = "Expert-pass-2026"
METHOD = "eng-comprehensive"


def method_json(name: str = METHOD) -> str:
    from importlib import resources

    assert name in packaged_method_names()
    return (resources.files("sunbid.evaluation") / "methods" / f"{name}.json").read_text("utf-8")


@dataclass
class Vw:
    """The opened project, the confirmed draw and the committee's people once formed."""

    ow: Ow
    draw_id: int
    evaluation_at: datetime
    members: dict[int, str] = field(default_factory=dict)  # seq → username
    keys: dict[int, KeyPair] = field(default_factory=dict)  # seq → signing key pair
    certs: dict[int, str] = field(default_factory=dict)  # seq → certificate PEM

    @property
    def platform(self) -> Platform:
        return self.ow.platform

    @property
    def pid(self) -> int:
        return self.ow.pid

    @property
    def clock(self) -> FakeClock:
        return self.ow.clock

    def actor(self, username: str) -> Actor:
        with self.platform.db.read() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
            return load_actor(s, user, method="password")

    def act(self, who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        actor = self.actor(who)
        with self.platform.uow() as uow:
            result = fn(uow, actor, *args, **kwargs)
            uow.commit()
            return result

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self.platform.uow() as uow:
            result = fn(uow, *args, **kwargs)
            uow.commit()
            return result

    def member(self, seq: int) -> str:
        return self.members[seq]

    def uscc(self, who: str) -> str:
        return str(self.ow.org(who).uscc)


def sms_to(platform: Platform, number: str) -> list[str]:
    with platform.db.read() as s:
        return [m.text for m in s.scalars(select(SmsSimulatorMessage).where(SmsSimulatorMessage.phone == number))]


def _to_bidding_in_sections(tw: Tw, clock: FakeClock) -> tuple[int, str, datetime]:
    """Like ``to_bidding`` but the project has the two ``SECTIONS``; returns id, code, deadline."""
    with tw.platform.uow() as uow:
        project: Project = projects.create_project(
            uow,
            tw.actor("agency"),
            name="池州市示范道路及排水工程",
            procedure_code="eng_open",
            tenderer_org_id=tw.world.orgs["tenderer"].id,
            agency_org_id=tw.world.orgs["agency"].id,
            budget="18500000.00",
            sections=list(SECTIONS),
        )
        pid, code = int(project.id), str(project.code)
        uow.commit()

    def act(who: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with tw.platform.uow() as uow:
            result = fn(uow, tw.actor(who), *args, **kwargs)
            uow.commit()
            return result

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
    deadline = clock.now() + timedelta(days=21)
    act("agency", projects.perform, pid, "issue_documents", {"bid_deadline": deadline.isoformat()})
    return pid, code, deadline


def _make_ow_in_sections(tw: Tw, clock: FakeClock, suite_name: str) -> Ow:
    """Like ``make_ow`` with the two-section project."""
    from tests.support.world import PASSWORD

    clock.set(T0)
    with tw.platform.uow() as uow:
        user = identity.create_user(uow, username="bidder_c", display_name="丙", password=PASSWORD)
        identity.add_membership(uow, user=user, org=tw.world.orgs["bidder_c"], role="bidder")
        uow.commit()
    custodian_keys = add_custodians(tw.platform, tw.world)
    pid, code, deadline = _to_bidding_in_sections(tw, clock)
    sealer = make_sealer(suite_name, tw.platform, tw.platform.ca())
    return Ow(tw, clock, sealer, pid, code, deadline, custodian_keys)


def _bid_in(ow: Ow, who: str, section: str, price: str) -> tuple[int, bytes]:
    """``who`` seals and uploads a bid in ``section``; returns the bid id and the container."""
    data = ow.sealer.seal(ow.org(who), ow.code, section, price=price, extra=FACTS[who])
    digest = ow.platform.suite.digest(data).hex()
    upload = ow.act(who, bids.create_upload, ow.pid, section, length=len(data), container_hash=digest)
    for at, piece in chunks(data):
        ow.act(who, bids.append_chunk, upload.id, at, piece)
    return int(ow.act(who, bids.complete_upload, upload.id).id), data


def _decrypt_in(ow: Ow, who: str, section: str, bid_id: int, data: bytes) -> None:
    import base64

    from sunbid.bidding.container import unwrap_content_key

    with ow.platform.db.read() as s:
        context = s.scalars(
            select(OpeningKey.context)
            .join(Section, Section.id == OpeningKey.section_id)
            .where(Section.project_id == ow.pid, Section.code == section)
        ).one()
    raw = unwrap_content_key(
        ow.platform.suite, data, context=context, encryption_private=ow.sealer.encryption_private(ow.org(who))
    )
    ow.act(who, session.decrypt, ow.pid, bid_id, base64.b64encode(raw).decode())


def make_vw(tw: Tw, clock: FakeClock, suite_name: str, *, sections: bool = False) -> Vw:
    ow = _make_ow_in_sections(tw, clock, suite_name) if sections else make_ow(tw, clock, suite_name)
    platform = ow.platform
    ow.settings(coefficient=DecimalRange("0.95", "0.98", "0.005"))
    ow.act("agency", evaluation.attach_method, ow.pid, method_json())
    keys = PoolKeys.of(platform)
    with platform.uow() as uow:
        result = pool_service.import_csv(uow, keys, csv_text([expert_row(n) for n in range(1, 9)]))
        assert result.ok, result.errors
        uow.commit()
    evaluation_at = ow.deadline + timedelta(hours=2)
    request = experts.DrawRequest(
        project_code=ow.code,
        evaluation_starts_at=evaluation_at,
        slots=(SlotRequest("A01", 4, 2),),
        policy=AvoidancePolicy(employment_years=3),
        response_minutes=30,
    )
    with platform.uow() as uow:
        draw = experts.commit_draw(uow, keys, request)
        draw_id = int(draw.id)
        uow.commit()
    if sections:
        sealed = {
            (who, code): _bid_in(ow, who, code, SECTION_PRICES[code][who]) for code in SECTION_PRICES for who in BIDDERS
        }
        ow.to_deadline()
        for (who, code), (bid_id, data) in sealed.items():
            _decrypt_in(ow, who, code, bid_id, data)
        assert ow.act("operator", session.finish, ow.pid) == (6, "opened")
        _distinct_k(ow)
    else:
        for who in BIDDERS:
            ow.submit(who, price=PRICES[who], extra=FACTS[who])
        ow.to_deadline()
        for who in BIDDERS:
            ow.decrypt(who)
        assert ow.act("operator", session.finish, ow.pid) == (3, "opened")
    clock.set(ow.deadline + timedelta(minutes=30))
    with platform.uow() as uow:
        experts.run_draw(uow, keys, draw_id)
        uow.commit()
    platform.worker.run_once()
    for n in range(1, 9):
        for text in sms_to(platform, phone(n)):
            if "答复码 " in text:
                token = text.split("答复码 ")[1].split(" ")[0].rstrip("。")
                with platform.uow() as uow:
                    experts.respond(uow, token, True)
                    uow.commit()
    clock.set(evaluation_at)
    return Vw(ow, draw_id, evaluation_at)


def _distinct_k(ow: Ow) -> None:
    """Each section drew its own K at the opening; should both draws have hit the same value, section 02's is set
    to another value of the range, so that the test tells the sections' coefficients apart."""
    with ow.platform.uow() as uow:
        row = uow.session.scalars(select(OpeningSession).where(OpeningSession.project_id == ow.pid)).one()
        draws = dict(row.draws or {})
        assert set(draws) == {"01", "02"}
        if Decimal(str(draws["01"]["value"])) == Decimal(str(draws["02"]["value"])):
            other = "0.955" if Decimal(str(draws["01"]["value"])) != Decimal("0.955") else "0.975"
            draws["02"] = {**draws["02"], "value": other}
            row.draws = draws
        uow.commit()


@pytest.fixture
def vw(tw: Tw, clock: FakeClock, suite_name: str) -> Vw:
    return make_vw(tw, clock, suite_name)


@pytest.fixture
def vw2(tw: Tw, clock: FakeClock, suite_name: str) -> Vw:
    """Two sections 标段, three bidders in each, opened."""
    return make_vw(tw, clock, suite_name, sections=True)


def form(vw: Vw) -> None:
    """Form the committee (4 experts + the tenderer's representative) and redeem the experts' access codes."""
    vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["tenderer"])
    vw.platform.worker.run_once()
    with vw.platform.uow() as uow:
        view = evaluation.committee_view(uow, vw.actor("operator"), vw.pid)
    for m in view["members"]:
        if m["role"] == "expert":
            username = f"expert-{m['expert_code'].lower()}"
            n = int(m["expert_code"][2:])
            texts = [t for t in sms_to(vw.platform, phone(n)) if "一次性访问码" in t]
            assert texts, f"no access code sent to {username}"
            code = re.search(r"一次性访问码 ([0-9A-F]+)", texts[-1])
            assert code is not None
            vw.run(evaluation.redeem_access, username, code.group(1), EXPERT_PASSWORD)
            vw.members[m["seq"]] = username
        else:
            vw.members[m["seq"]] = "tenderer"


def started(vw: Vw) -> Vw:
    """Committee formed, everybody signed in, member 1 leader, evaluation started."""
    form(vw)
    for username in vw.members.values():
        vw.act(username, evaluation.sign_in, vw.pid)
    vw.act("operator", evaluation.record_leader, vw.pid, 1)
    vw.act("operator", projects.perform, vw.pid, "start_evaluation", {})
    return vw


def plan_scores(vw: Vw, seq: int, plan_a: str = "12") -> list[Any]:
    """Member ``seq``'s scores of the subjective items: identical but for plan of A (objective items are computed)."""
    from sunbid.evaluation.service_scoring import ScoreIn

    out = []
    for who in BIDDERS:
        uscc = vw.uscc(who)
        out.append(ScoreIn(uscc, "plan", plan_a if who == "bidder_a" else "11"))
        out.append(ScoreIn(uscc, "schedule", "8"))
    return out


def section_scores(vw: Vw, seq: int, section: str, plan_a: str = "12") -> list[Any]:
    """Member ``seq``'s scores of the subjective items of the valid bids of ``section`` in a ``vw2`` project
    (objective items are computed from the facts); identical but for plan of A."""
    from sunbid.evaluation.service_scoring import ScoreIn

    out = []
    valid = [w for w in BIDDERS if not (section == "02" and w == "bidder_c")]  # C is above the cap of 02
    for who in valid:
        uscc = vw.uscc(who)
        out.append(ScoreIn(uscc, "plan", plan_a if who == "bidder_a" else "11", section))
        out.append(ScoreIn(uscc, "schedule", "8" if section == "01" else "7", section))
    return out


def drawn_k(vw: Vw, section: str = "01") -> Decimal:
    row = vw.ow.session_row()
    assert row.draws is not None
    return Decimal(str(row.draws[section]["value"]))


def score_all(vw: Vw) -> None:
    """Members 1, 2 agree; member 3 scores plan of A far lower (held, then explained); 4 and 5 agree."""
    for seq in (1, 2):
        vw.act(vw.member(seq), scoring.save_scores, vw.pid, plan_scores(vw, seq))
        assert vw.act(vw.member(seq), scoring.submit, vw.pid)["status"] == "submitted"
    vw.act(vw.member(3), scoring.save_scores, vw.pid, plan_scores(vw, 3, plan_a="6"))
    held = vw.act(vw.member(3), scoring.submit, vw.pid)
    assert held["status"] == "held"
    [i] = held["interventions"]
    assert (i["bidder"], i["item"], i["score"], i["status"]) == (vw.uscc("bidder_a"), "plan", "6.00", "open")
    reasons = {(vw.uscc("bidder_a"), "plan"): "甲公司施工方案未针对雨季施工，关键工序缺少质量控制措施。"}
    assert vw.act(vw.member(3), scoring.submit, vw.pid, reasons)["status"] == "submitted"
    for seq in (4, 5):
        vw.act(vw.member(seq), scoring.save_scores, vw.pid, plan_scores(vw, seq))
        vw.act(vw.member(seq), scoring.submit, vw.pid)


def sign_all(vw: Vw) -> None:
    ca = vw.platform.ca().certificate_pem
    for seq in sorted(vw.members):
        vw.clock.advance(timedelta(minutes=1))
        pdf = vw.act(vw.member(seq), reports.report_pdf, vw.pid)
        signer = Signer(vw.keys[seq].private, vw.certs[seq])
        signed = sign_report(pdf, signer, ca_cert_pem=ca, at=vw.clock.now(), suite=vw.platform.suite.name)
        vw.act(vw.member(seq), reports.upload_signed, vw.pid, signed)


def certificates(vw: Vw) -> None:
    for seq, username in vw.members.items():
        kp = vw.platform.suite.generate_signing_keypair()
        vw.keys[seq] = kp
        vw.certs[seq] = vw.act(username, reports.register_certificate, vw.pid, kp.public)
