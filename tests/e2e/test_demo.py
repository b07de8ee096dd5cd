"""``sunbid demo`` end to end: five whole tenders in fake time, their timelines, idempotency, the log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sunbid.cli import app
from sunbid.core.calendar import local_date
from sunbid.core.clock import ensure_utc
from sunbid.crypto.certificates import import_bundle
from sunbid.identity.models import Certificate, Membership, User
from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings
from sunbid.projects.contracts import contract_message
from sunbid.projects.models import ContractSignature, Project, ProjectDocument, ProjectEvent
from sunbid.projects.timing import project_facts
from tests.support.db import TemplateDb

ROAD = "池州市平天湖东路道路改造工程"
IMAGING = "池州市人民医院医学影像设备采购项目"
PLANT = "池州市江南产业园标准化厂房建设工程"
ESTATE = "池州市老旧小区改造配套工程（二期）"
SMARTCITY = "池州市智慧城市运营中心运维服务采购项目"

#: name → (procedure, final state, every step in order as (action, to_state, role))
EXPECTED: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    ROAD: (
        "eng_open",
        "archived",
        [
            ("register", "registered", "agency"),
            ("accept", "accepted", "operator"),
            ("publish_announcement", "announced", "agency"),
            ("issue_documents", "bidding", "agency"),
            ("raise_objection", "suspended", "bidder"),
            ("answer_objection", "bidding", "agency"),
            ("amend_documents", "bidding", "agency"),
            ("close_bidding", "opening", "system"),
            ("finish_opening", "opened", "operator"),
            ("start_evaluation", "evaluation", "operator"),
            ("submit_report", "reported", "expert"),
            ("publish_candidates", "publicity", "agency"),
            ("end_publicity", "award_pending", "system"),
            ("confirm_award", "awarded", "tenderer"),
            ("sign_contract", "contracted", "bidder"),
            ("archive", "archived", "agency"),
        ],
    ),
    IMAGING: (
        "gp_open",
        "contracted",
        [
            ("register", "registered", "agency"),
            ("accept", "accepted", "operator"),
            ("publish_announcement", "announced", "agency"),
            ("issue_documents", "bidding", "agency"),
            ("close_bidding", "opening", "system"),
            ("finish_opening", "opened", "operator"),
            ("start_evaluation", "evaluation", "operator"),
            ("submit_report", "reported", "expert"),
            ("confirm_award", "award_confirmed", "tenderer"),
            ("publish_result", "publicity", "agency"),
            ("end_publicity", "awarded", "system"),
            ("sign_contract", "contracted", "bidder"),
        ],
    ),
    PLANT: (
        "eng_open",
        "accepted",
        [
            ("register", "registered", "agency"),
            ("accept", "accepted", "operator"),
            ("publish_announcement", "announced", "agency"),
            ("issue_documents", "bidding", "agency"),
            ("close_bidding", "failed", "system"),
            ("retender", "accepted", "agency"),
        ],
    ),
    ESTATE: (
        "eng_open",
        "terminated",
        [
            ("register", "registered", "agency"),
            ("accept", "accepted", "operator"),
            ("publish_announcement", "announced", "agency"),
            ("issue_documents", "bidding", "agency"),
            ("suspend", "suspended", "regulator"),
            ("terminate", "terminated", "tenderer"),
        ],
    ),
    SMARTCITY: (
        "gp_consultation",
        "bidding",
        [
            ("register", "registered", "agency"),
            ("accept", "accepted", "operator"),
            ("publish_announcement", "announced", "agency"),
            ("issue_documents", "bidding", "agency"),
        ],
    ),
}


@dataclass(frozen=True)
class Demo:
    """One demo run shared by this module's tests (it takes seconds: five tenders, five key bundles)."""

    platform: Platform
    summary: dict[str, Any]
    started: datetime


@pytest.fixture(scope="module")
def demo(template_db: TemplateDb, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``sunbid demo --no-serve`` once, on a clean database made as the ``settings`` fixture makes it."""
    from argon2 import PasswordHasher

    from sunbid.identity import passwords

    tmp = tmp_path_factory.mktemp("demo")
    settings = Settings(
        data_dir=tmp / "data",
        database_url=template_db.fresh_url(tmp),
        crypto_suite="intl",
        embedded_worker=False,
        log_json=False,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUNBID_DATA_DIR", str(settings.data_dir))
        mp.setenv("SUNBID_DATABASE_URL", settings.resolved_database_url)
        mp.setenv("SUNBID_CRYPTO_SUITE", settings.crypto_suite)
        mp.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        started = datetime.now(UTC)
        summary = run("demo", "--no-serve")
        platform = Platform(settings)
        yield Demo(platform, summary, started)
        platform.close()


def run(*args: str) -> Any:
    r = CliRunner().invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def at(step: dict[str, Any]) -> datetime:
    """A timeline time, which must be shown in Asia/Shanghai."""
    assert step["at"].endswith("+08:00"), step["at"]
    return datetime.fromisoformat(step["at"])


def by_name(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in summary["projects"]}


def test_demo_runs_five_tenders_through_every_step_to_their_final_states(demo: Demo) -> None:
    started, summary = demo.started, demo.summary
    assert summary["created"] is True
    assert {"tenderer", "purchaser", "agency", "expert", "bidder1", "regulator"} <= set(summary["users"])
    assert summary["password"] and summary["bundle_password"] and summary["url"].startswith("http://")
    projects = by_name(summary)
    assert len(summary["projects"]) >= 5 and set(EXPECTED) <= set(projects)
    for name, (procedure, final_state, steps) in EXPECTED.items():
        p = projects[name]
        assert (p["procedure"], p["final_state"]) == (procedure, final_state), name
        assert [(e["action"], e["to_state"], e["role"]) for e in p["timeline"]] == steps, name
        assert [e["seq"] for e in p["timeline"]] == list(range(1, len(steps) + 1)), name
        times = [at(e) for e in p["timeline"]]
        assert times == sorted(times), name
        assert all(e["action_zh"] and e["action_zh"] != e["action"] for e in p["timeline"]), name
        assert all(t < started for t in times), name  # every step is in the past
    road = projects[ROAD]
    assert (road["procedure_zh"], road["final_state_zh"]) == ("公开招标（工程建设）", "已归档")
    assert projects[SMARTCITY]["final_state_zh"] == "响应文件递交中"
    live_deadline = datetime.fromisoformat(projects[SMARTCITY]["bid_deadline"])
    assert live_deadline > started  # the live tender still counts down on the served site
    ages = [started - at(p["timeline"][0]) for p in summary["projects"] if p["name"] != SMARTCITY]
    assert all(a.days > 60 for a in ages)  # the fake-time tenders ran well in the past


def test_scheduler_steps_fall_exactly_at_the_deadlines_and_the_amendment_moved_one(demo: Demo) -> None:
    platform = demo.platform
    projects = by_name(demo.summary)
    with platform.db.read() as s:
        stored = {p.name: p for p in s.scalars(select(Project))}
        issued = {
            e.project_id: e.data["params"]["bid_deadline"]
            for e in s.scalars(select(ProjectEvent).where(ProjectEvent.action == "issue_documents"))
        }
    for name, action, fact in (
        (ROAD, "close_bidding", "bid_deadline"),
        (ROAD, "end_publicity", "publicity_end"),
        (IMAGING, "close_bidding", "bid_deadline"),
        (IMAGING, "end_publicity", "publicity_end"),
        (PLANT, "close_bidding", "bid_deadline"),
    ):
        step = next(e for e in projects[name]["timeline"] if e["action"] == action)
        due = getattr(project_facts(stored[name], platform.clock.now()), fact)
        assert step["role"] == "system" and at(step) == due, (name, action)
    road = stored[ROAD]
    first_deadline = ensure_utc(datetime.fromisoformat(issued[road.id]))
    moved = project_facts(road, platform.clock.now()).bid_deadline
    amended = next(at(e) for e in projects[ROAD]["timeline"] if e["action"] == "amend_documents")
    assert moved is not None and moved > first_deadline  # the late amendment moved the deadline
    days = [(local_date(d) - local_date(amended)).days for d in (first_deadline, moved)]
    assert days[0] < 15 <= days[1]  # issued < 15 days before the deadline: postponed to 15 days


def test_both_parties_signed_the_contracts_with_their_bundle_keys(demo: Demo) -> None:
    platform, summary = demo.platform, demo.summary
    assert len(summary["bundles"]) == 3 and len(summary["tenderer_bundles"]) == 2
    bundles = {
        Path(b).stem: import_bundle(Path(b).read_bytes(), summary["bundle_password"])
        for b in summary["bundles"] + summary["tenderer_bundles"]
    }
    signers = {ROAD: ("tenderer", "bidder1"), IMAGING: ("purchaser", "bidder2")}
    with platform.db.read() as s:
        for name, (tenderer, winner) in signers.items():
            project = s.scalars(select(Project).where(Project.name == name)).one()
            sigs = {
                sig.party: sig
                for sig in s.scalars(select(ContractSignature).where(ContractSignature.project_id == project.id))
            }
            assert set(sigs) == {"tenderer", "winner"}, name
            for party, key in (("tenderer", tenderer), ("winner", winner)):
                sig = sigs[party]
                cert = s.scalars(select(Certificate).where(Certificate.serial == sig.certificate_serial)).one()
                assert cert.pem == bundles[key].signing_cert_pem, (name, party)
                doc = s.get(ProjectDocument, sig.document_id)
                assert doc is not None
                message = contract_message(project, doc).encode()
                assert platform.suite.verify(bundles[key].signing_public, message, base64.b64decode(sig.signature))
            assert project_facts(project, platform.clock.now()).contract_published_at is not None
        expert = s.scalars(select(User).where(User.username == "expert")).one()
        grant = s.scalars(select(Membership).where(Membership.user_id == expert.id)).one()
        fake_time = set(s.scalars(select(Project.id).where(Project.name.in_([ROAD, IMAGING, PLANT, ESTATE]))))
        assert grant.role == "expert" and set(grant.project_ids or []) == fake_time and len(fake_time) == 4


def test_a_second_demo_run_changes_nothing_and_the_log_verifies(demo: Demo) -> None:
    platform, first = demo.platform, demo.summary
    before = run("log", "verify")
    with platform.db.read() as s:
        users = len(list(s.scalars(select(User.id))))
    second = run("demo", "--no-serve")
    assert second["created"] is False
    assert second["projects"] == first["projects"]
    assert set(second) == set(first)
    after = run("log", "verify")
    assert after["ok"] is True and after["problems"] == []
    assert after["tree_size"] == before["tree_size"] > 100  # nothing was appended by the second run
    with platform.db.read() as s:
        assert len(list(s.scalars(select(User.id)))) == users == len(first["users"])


def test_the_archived_tender_exports_an_archive_that_verifies_offline(demo: Demo, tmp_path: Path) -> None:
    archived = next(p for p in demo.summary["projects"] if p["final_state"] == "archived")
    out = tmp_path / "archive.zip"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SUNBID_DATA_DIR", str(demo.platform.settings.data_dir))
        mp.setenv("SUNBID_DATABASE_URL", demo.platform.settings.resolved_database_url)
        exported = run("archive", "project", archived["code"], "--out", str(out))
        assert exported["ok"] is True and exported["files"] >= 5
        key = demo.platform.log_keypair.public.hex()
        report = run("archive", "verify", str(out), "--trusted-key", key)
        assert report["ok"] is True
        data = bytearray(out.read_bytes())
        data[len(data) // 3] ^= 0x20
        out.write_bytes(bytes(data))
        r = CliRunner().invoke(app, ["archive", "verify", str(out), "--trusted-key", key, "--json"])
        assert r.exit_code != 0 and json.loads(r.stdout)["ok"] is False
