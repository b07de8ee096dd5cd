"""A project opened with three real sealed bids, an expert draw confirmed, and helpers to evaluate it.

``vw`` (fixture): the method ``eng-comprehensive`` attached before the deadline, the coefficient drawn at the
opening, four A0101 experts drawn and confirmed, the opening finished (project ``opened``), the clock at the
evaluation start. ``started(vw)`` forms the committee (four experts + the tenderer's representative), redeems the
access codes, signs everyone in, records the leader and performs ``start_evaluation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

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
from sunbid.identity.models import User
from sunbid.identity.service import Actor, load_actor
from sunbid.notifications.models import SmsSimulatorMessage
from sunbid.opening import session
from sunbid.platform.container import Platform
from sunbid.projects import service as projects
from tests.integration.experts.conftest import csv_text, expert_row, phone
from tests.integration.opening.conftest import BIDDERS, Ow, make_ow
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture

PRICES = {"bidder_a": "11800000.00", "bidder_b": "11500000.00", "bidder_c": "12100000.00"}
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


def make_vw(tw: Tw, clock: FakeClock, suite_name: str) -> Vw:
    ow = make_ow(tw, clock, suite_name)
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


@pytest.fixture
def vw(tw: Tw, clock: FakeClock, suite_name: str) -> Vw:
    return make_vw(tw, clock, suite_name)


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


def drawn_k(vw: Vw) -> Decimal:
    row = vw.ow.session_row()
    assert row.draws is not None
    return Decimal(str(row.draws["01"]["value"]))


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
        signed = sign_report(pdf, Signer(vw.keys[seq].private, vw.certs[seq]), ca_cert_pem=ca, at=vw.clock.now())
        vw.act(vw.member(seq), reports.upload_signed, vw.pid, signed)


def certificates(vw: Vw) -> None:
    for seq, username in vw.members.items():
        kp = vw.platform.suite.generate_signing_keypair()
        vw.keys[seq] = kp
        vw.certs[seq] = vw.act(username, reports.register_certificate, vw.pid, kp.public)
