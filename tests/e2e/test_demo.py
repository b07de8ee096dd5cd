"""``sunbid demo`` end to end: five whole tenders in fake time, their timelines, sealed bids and remote openings,
idempotency, the log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sunbid.bidding.container import open_bid
from sunbid.bidding.models import Bid
from sunbid.bidding.receipts import verify_receipt
from sunbid.cli import app
from sunbid.core.calendar import local_date
from sunbid.core.clock import ensure_utc
from sunbid.crypto.certificates import import_bundle
from sunbid.identity.models import Certificate, Membership, Organisation, User
from sunbid.ledger.models import AuditEvent
from sunbid.opening import session
from sunbid.opening.events import events_after
from sunbid.opening.models import OpeningBid, OpeningKey, OpeningKeyShare, OpeningSession, OpeningSharePost
from sunbid.opening.record import verify_record
from sunbid.platform.container import Platform
from sunbid.platform.demo_tenders import ROAD_COEFFICIENT
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
    assert len(summary["bundles"]) == 5 and len(summary["tenderer_bundles"]) == 2
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


# --- sealed bids and the remote opening (issue 4) ------------------------------------------------------------


def _project(s: Session, name: str) -> Project:
    return s.scalars(select(Project).where(Project.name == name)).one()


def _orgs(s: Session) -> dict[int, str]:
    return {o.id: o.name for o in s.scalars(select(Organisation))}


def _events(s: Session, project: Project) -> list[tuple[str, dict[str, Any]]]:
    return [(e.kind, e.data) for e in events_after(s, project.id)]


def winner_name(s: Session, project: Project) -> str:
    assert project.winner_org_id is not None
    return _orgs(s)[project.winner_org_id]


def _opening(s: Session, project: Project) -> tuple[OpeningSession, dict[str, OpeningBid]]:
    row = s.scalars(select(OpeningSession).where(OpeningSession.project_id == project.id)).one()
    names = _orgs(s)
    bids = {names[b.org_id]: b for b in s.scalars(select(OpeningBid).where(OpeningBid.session_id == row.id))}
    return row, bids


def test_every_section_key_is_split_two_of_three_among_the_centre_regulator_and_notary(demo: Demo) -> None:
    summary = demo.summary
    assert [Path(b).stem for b in summary["custodian_bundles"]] == ["centre", "regulator", "notary"]
    assert {"custodian_centre", "custodian_regulator", "custodian_notary"} <= set(summary["users"])
    with demo.platform.db.read() as s:
        names = _orgs(s)
        keys = list(s.scalars(select(OpeningKey)))
        assert len(keys) == 5  # one section each, made when the project entered bidding
        for key in keys:
            assert (key.threshold, key.total, key.fallback_possible) == (2, 3, True)
            holders = s.scalars(select(OpeningKeyShare.custodian_org_id).where(OpeningKeyShare.key_id == key.id))
            assert sorted(names[o] for o in holders) == sorted(
                ["示范公共资源交易中心", "池州市住房和城乡建设局", "安徽省池州市公证处"]
            )


def test_the_road_tender_refuses_a_late_bid_revokes_one_and_publishes_a_record_that_verifies(
    demo: Demo, tmp_path: Path
) -> None:
    platform = demo.platform
    opening = by_name(demo.summary)[ROAD]["opening"]
    assert opening["state"] == "closed" and opening["state_zh"] == "开标结束"
    assert (opening["bids_received"], opening["replaced"], opening["late_refused"]) == (4, 1, 1)
    assert (opening["opened"], opening["decrypted"], opening["revoked"], opening["withdrawn"]) == (4, 3, 1, 0)
    assert opening["valid_bids"] == 3
    assert Decimal(opening["coefficients"]["01"]) in ROAD_COEFFICIENT.values()  # drawn at the start, verifiable
    with platform.db.read() as s:
        road = _project(s, ROAD)
        deadline = project_facts(road, platform.clock.now()).bid_deadline
        assert deadline is not None
        (late,) = s.scalars(
            select(AuditEvent).where(AuditEvent.tag.like("%:bid:late"), AuditEvent.subject_id == str(road.id))
        ).all()
        assert late.data["what"] == "chunk"  # its last chunk arrived at the deadline instant
        assert ensure_utc(datetime.fromisoformat(late.data["at"])) >= deadline  # judged by the server clock
        row, bids = _opening(s, road)
        assert "池州市贵池区路桥工程有限公司" not in bids  # the late bidder's bid was never taken in
        revoked = bids["九华山建设集团有限公司"]
        assert (revoked.status, revoked.last_problem, revoked.attempts) == ("revoked", "bid.wrong_key", 1)
        assert revoked.failure is not None and "撤销" in revoked.failure["reason_zh"]
        assert all(b.status == "decrypted" and b.opened_by == "bidder" for n, b in bids.items() if b is not revoked)
        assert row.record_hash == opening["record_hash"] and row.valid_bids == 3
        record = dict(row.record or {})
        events = _events(s, road)
        assert road.award_amount == Decimal(bids[winner_name(s, road)].price or "0")
    assert verify_record(record, platform.log_keypair.public) == []
    rows = {r["bidder_name"]: r for r in record["record"]["sections"][0]["rows"]}
    assert rows["池州第一建筑工程有限公司"]["price"] == "11860000.00"
    assert rows["九华山建设集团有限公司"]["price"] is None  # a revoked bid's price is never read out
    assert record["record"]["sections"][0]["coefficient"] == opening["coefficients"]["01"]
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    assert CliRunner().invoke(app, ["draw", "verify", str(path), "--json"]).exit_code == 0
    kinds = [k for k, _ in events]
    for kind in (
        "session.started",
        "coefficient.drawn",
        "decryption.opened",
        "bidder.checked_in",
        "bid.decrypted",
        "decryption.closed",
        "bid.decryption_failed",
        "record.published",
        "bidder.confirmed",
        "session.closed",
    ):
        assert kind in kinds, kind
    assert kinds.count("bid.decrypted") == 3 and kinds.count("bidder.confirmed") == 3
    assert kinds.index("decryption.closed") < kinds.index("record.published") < kinds.index("session.closed")
    before_record = json.dumps(events[: kinds.index("record.published")], ensure_ascii=False)
    assert "11860000.00" not in before_record  # no price shows before the record is published
    assert dict(events)["session.closed"] == {"valid_bids": 3}


def test_the_imaging_tender_opens_a_bid_never_decrypted_through_two_custodians(demo: Demo) -> None:
    platform = demo.platform
    opening = by_name(demo.summary)[IMAGING]["opening"]
    assert opening["custodian_fallback"] is True and opening["state"] == "closed"
    assert (opening["bids_received"], opening["decrypted"], opening["by_custodians"], opening["revoked"]) == (
        3,
        3,
        1,
        0,
    )
    with platform.db.read() as s:
        imaging = _project(s, IMAGING)
        row, bids = _opening(s, imaging)
        assert bids["九华山建设集团有限公司"].opened_by == "custodian"
        assert bids["九华山建设集团有限公司"].attempts == 0  # its bidder never released a key
        posts = list(s.scalars(select(OpeningSharePost).where(OpeningSharePost.session_id == row.id)))
        assert len(posts) == 2 and all(p.share_sealed is None for p in posts)  # wiped once the key was rebuilt
        assert sorted(_orgs(s)[p.custodian_org_id] for p in posts) == ["安徽省池州市公证处", "示范公共资源交易中心"]
        kinds = [k for k, _ in _events(s, imaging)]
        fetched = s.scalars(
            select(AuditEvent.actor_name).where(
                AuditEvent.tag.like("%:opening:share_fetch"), AuditEvent.subject_id == str(imaging.id)
            )
        ).all()
        assert sorted(fetched) == ["sunbid demo: custodian_centre", "sunbid demo: custodian_notary"]
        assert imaging.award_amount == Decimal("2980000.00") == Decimal(bids[winner_name(s, imaging)].price or "0")
        record = dict(row.record or {})
    assert kinds.count("custodian.approved") == 2
    assert kinds.index("decryption.closed") < kinds.index("key.rebuilt") < kinds.index("record.published")
    assert verify_record(record, platform.log_keypair.public) == []
    statuses = {
        r["bidder_name"]: (r["decryption_status"], r["opened_by"]) for r in record["record"]["sections"][0]["rows"]
    }
    assert statuses["九华山建设集团有限公司"] == ("decrypted", "custodian")


def test_the_plant_tenders_two_sealed_bids_are_never_opened(demo: Demo) -> None:
    opening = by_name(demo.summary)[PLANT]["opening"]
    assert (opening["state"], opening["bids_received"], opening["opened"], opening["record_hash"]) == (
        "failed",
        2,
        0,
        None,
    )
    with demo.platform.db.read() as s:
        plant = _project(s, PLANT)
        assert [k for k, _ in _events(s, plant)] == ["session.failed"]
    assert by_name(demo.summary)[ESTATE]["opening"] is None  # terminated before its deadline: no opening
    assert by_name(demo.summary)[SMARTCITY]["opening"]["state"] == "scheduled"  # its deadline is ahead


def test_every_receipt_verifies_offline_and_the_opened_documents_are_the_sealed_story(
    demo: Demo, tmp_path: Path
) -> None:
    platform = demo.platform
    key = platform.log_keypair.public
    with platform.db.read() as s:
        bids = list(s.scalars(select(Bid).order_by(Bid.id)))
        assert len(bids) == 4 + 1 + 3 + 2  # road (one replaced), imaging, plant
        assert all(b.receipt is not None for b in bids)
        winner = s.scalars(
            select(OpeningBid)
            .join(Bid, Bid.id == OpeningBid.bid_id)
            .join(Project, Project.id == Bid.project_id)
            .where(Project.name == ROAD, OpeningBid.org_id == Project.winner_org_id)
        ).one()
        stored = s.get(Bid, winner.bid_id)
        assert stored is not None
        context = s.scalars(select(OpeningKey.context).where(OpeningKey.section_id == stored.section_id)).one()
    for b in bids:
        assert verify_receipt(b.receipt or {}, key) == []
        assert b.receipt is not None and b.receipt["receipt"]["container_hash"] == b.container_hash
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(bids[0].receipt), encoding="utf-8")
    checked = run("bidder", "receipt", "verify", str(path), "--log-key", key.hex())
    assert checked["ok"] is True and checked["container_hash"] == bids[0].container_hash
    with platform.uow() as uow:
        content_key = session.content_key_of(uow, winner)  # audited: evaluation re-opens the bid this way
        uow.commit()
    opened = open_bid(
        platform.suite,
        platform.storage.get(stored.storage_key),
        content_key=content_key,
        context=context,
        ca_cert_pem=platform.ca().certificate_pem,
        now=stored.received_at,
    )
    assert opened.signature_valid and opened.manifest.price == "11860000.00"
    assert "11,860,000.00" in opened.files["投标函.txt"].decode("utf-8")
    lines = opened.files["已标价工程量清单.csv"].decode("utf-8").splitlines()
    amounts = [Decimal(line.rsplit(",", 1)[1]) for line in lines[1:-1]]
    assert sum(amounts) == Decimal("11860000.00") == Decimal(lines[-1].rsplit(",", 1)[1])
