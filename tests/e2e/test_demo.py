"""``sunbid demo`` end to end: five whole tenders in fake time, their timelines, sealed bids and remote openings,
idempotency, the log."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sunbid.bidding.container import open_bid
from sunbid.bidding.models import Bid
from sunbid.bidding.receipts import verify_receipt
from sunbid.cli import app
from sunbid.core.calendar import local_date
from sunbid.core.clock import ensure_utc
from sunbid.crypto.certificates import import_bundle
from sunbid.deposits import reconcile
from sunbid.deposits.models import (
    BidderBasicAccount,
    DepositAccount,
    DepositCredit,
    DepositGuarantee,
    DepositLedgerEntry,
    DepositReconciliation,
    DepositRefund,
)
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
        demo_users = [u for u in s.scalars(select(User.username)) if not u.startswith("expert-ex")]  # + committee
        assert len(list(s.scalars(select(User.id)))) == users and len(demo_users) == len(first["users"])


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
        facts = {n: b.extra for n, b in bids.items() if b.status == "decrypted"}  # what the evaluation computes from
    assert verify_record(record, platform.log_keypair.public) == []
    rows = {r["bidder_name"]: r for r in record["record"]["sections"][0]["rows"]}
    assert rows["池州第一建筑工程有限公司"]["price"] == "11860000.00"
    assert rows["九华山建设集团有限公司"]["price"] is None  # a revoked bid's price is never read out
    # the declared facts are read out and signed with the price: the evaluation's facts are the record's
    assert rows["池州第一建筑工程有限公司"]["extra"] == {
        "信用等级": "AAA",
        "类似工程业绩": "3",
        "质量管理体系认证": "有",
    }
    assert rows["九华山建设集团有限公司"]["extra"] is None
    assert {n: r["extra"] for n, r in rows.items() if r["decryption_status"] == "decrypted"} == facts
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


def test_the_road_tenders_hall_reads_out_the_declared_facts_of_the_signed_record(demo: Demo) -> None:
    from fastapi.testclient import TestClient

    from sunbid.app import create_app

    opening = by_name(demo.summary)[ROAD]["opening"]
    with TestClient(create_app(demo.platform, start_worker=False), base_url="http://127.0.0.1") as client:
        html = client.get(opening["hall_url"]).text
        record = client.get(opening["record_url"]).json()
    rows = re.findall(r'<tr class="hall-record-row">(.*?)</tr>', html, re.S)
    read_out = {
        name: re.findall(r"<li>(.*?)</li>", r)
        for r in rows
        for name in re.findall(r'<td class="c-bidder">(.*?)</td>', r)
        if name
    }
    assert read_out["池州第一建筑工程有限公司"] == ["信用等级：AAA", "类似工程业绩：3", "质量管理体系认证：有"]
    assert read_out["九华山建设集团有限公司"] == []  # revoked: nothing of its bid is read out
    signed = {
        r["bidder_name"]: [f"{k}：{v}" for k, v in sorted(r["extra"].items())]
        for r in record["record"]["sections"][0]["rows"]
        if r["extra"] is not None
    }
    assert len(signed) == 3 and all(read_out[name] == items for name, items in signed.items())


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


# --- deposits (issue 6 item 7) ---------------------------------------------------------------------------------


def _hand_interest(principal: Decimal, arrived: date, refunded: date) -> Decimal:
    """principal × 0.35 % × days / 360, 算头不算尾, rounded half up once to the fen (the documented defaults)."""
    days = (refunded - arrived).days
    exact = principal * Decimal("0.0035") * days / Decimal(360)
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _deposit_rows(s: Session, project: Project) -> dict[str, tuple[DepositAccount, list[DepositCredit]]]:
    out: dict[str, tuple[DepositAccount, list[DepositCredit]]] = {}
    for account in s.scalars(select(DepositAccount).where(DepositAccount.project_id == project.id)):
        credits = list(s.scalars(select(DepositCredit).where(DepositCredit.account_id == account.id)))
        out[_orgs(s)[account.org_id]] = (account, credits)
    return out


def test_the_demo_bidders_pay_by_transfer_or_guarantee_and_the_wrong_account_is_sent_back(demo: Demo) -> None:
    road, imaging = by_name(demo.summary)[ROAD]["deposits"], by_name(demo.summary)[IMAGING]["deposits"]
    assert (road["required"], road["accounts"], road["paid"], road["guarantees"], road["returned"]) == (
        "200000.00",
        5,
        4,
        1,
        1,
    )
    assert (imaging["required"], imaging["accounts"], imaging["paid"], imaging["guarantees"]) == ("60000.00", 3, 2, 1)
    assert by_name(demo.summary)[PLANT]["deposits"] is None  # no deposit asked there
    assert demo.summary["deposit_reconciliations"]["statements"] >= 4
    with demo.platform.db.read() as s:
        rows = _deposit_rows(s, _project(s, ROAD))
        deadline = project_facts(_project(s, ROAD), demo.started).bid_deadline
        assert deadline is not None
        basic = {b.org_id: b.account_no for b in s.scalars(select(BidderBasicAccount))}
        for name, (account, credits) in rows.items():
            assert ensure_utc(account.created_at) < deadline, name  # opened before the deadline
            for c in credits:
                assert ensure_utc(c.booked_at) < deadline and c.notices >= 1, name
                assert (c.payer_account == basic[account.org_id]) == (c.verdict == "accepted"), name
        wrong = rows["安徽皖江建工集团有限公司"][1]
        assert sorted(c.verdict for c in wrong) == ["accepted", "wrong_payer"]
        flagged = next(c for c in wrong if c.verdict == "wrong_payer")
        back = s.scalars(select(DepositRefund).where(DepositRefund.credit_id == flagged.id)).one()
        assert (back.state, back.reason, back.to_account, back.principal) == (
            "confirmed",
            "returned",
            flagged.payer_account,
            flagged.amount,
        )
        accepted = next(c for c in wrong if c.verdict == "accepted")
        assert ensure_utc(back.confirmed_at or deadline) <= ensure_utc(accepted.booked_at)  # returned, then paid again
        letter = s.scalars(
            select(DepositGuarantee).where(DepositGuarantee.account_id == rows["安徽长江路桥建设有限公司"][0].id)
        ).one()
        assert (letter.status, letter.form, letter.problems) == ("verified", "letter", [])
        assert rows["安徽长江路桥建设有限公司"][1] == []  # a guarantee instead of cash
        insured = _deposit_rows(s, _project(s, IMAGING))["九华山建设集团有限公司"][0]
        assert s.scalars(select(DepositGuarantee.form).where(DepositGuarantee.account_id == insured.id)).one() == (
            "insurance"
        )


def test_the_opening_records_show_each_bidders_deposit_status(demo: Demo) -> None:
    with demo.platform.db.read() as s:
        for name, expected in (
            (
                ROAD,
                {
                    "池州第一建筑工程有限公司": "paid",
                    "安徽长江路桥建设有限公司": "guarantee",
                    "九华山建设集团有限公司": "paid",
                    "安徽皖江建工集团有限公司": "paid",  # the wrong-account credit went back; the second one counts
                },
            ),
            (
                IMAGING,
                {
                    "池州第一建筑工程有限公司": "paid",
                    "安徽长江路桥建设有限公司": "paid",
                    "九华山建设集团有限公司": "guarantee",
                },
            ),
        ):
            row, bids = _opening(s, _project(s, name))
            assert {n: (b.deposit_status or {}).get("code") for n, b in bids.items()} == expected, name
            published = {
                r["bidder_name"]: r["deposit_status_code"]
                for r in dict(row.record or {})["record"]["sections"][0]["rows"]
            }
            assert published == expected, name


def test_refunds_pay_interest_to_the_fen_once_each_after_award_and_contract(demo: Demo) -> None:
    with demo.platform.db.read() as s:
        for name in (ROAD, IMAGING):
            project = _project(s, name)
            facts = project_facts(project, demo.started)
            assert facts.award_notice_at is not None and facts.contract_signed_at is not None
            rows = _deposit_rows(s, project)
            cash = {n: (a, [c for c in cs if c.verdict == "accepted"]) for n, (a, cs) in rows.items()}
            for org_name, (account, credits) in cash.items():
                refunds = list(s.scalars(select(DepositRefund).where(DepositRefund.account_id == account.id)))
                if not credits:  # a guarantee: nothing to pay back, the account is settled
                    assert refunds == [] and account.status == "settled", org_name
                    continue
                assert len(refunds) == 1, org_name  # exactly one refund per sub-account
                r = refunds[0]
                assert (r.state, r.attempt, r.unclaimed, account.status) == ("confirmed", 1, False, "settled")
                assert r.confirmed_at is not None and r.due_date is not None
                paid_on = local_date(ensure_utc(r.confirmed_at))
                won = account.org_id == project.winner_org_id
                trigger = facts.contract_signed_at if won else facts.award_notice_at
                assert r.reason == ("won" if won else "lost"), org_name
                assert ensure_utc(r.confirmed_at) >= trigger and paid_on <= r.due_date, org_name  # by itself, on time
                hand = sum(
                    (_hand_interest(Decimal(c.amount), local_date(ensure_utc(c.booked_at)), paid_on) for c in credits),
                    Decimal("0.00"),
                )
                assert hand > 0 and Decimal(r.interest or 0) == hand, org_name
                assert Decimal(r.principal) == sum((Decimal(c.amount) for c in credits), Decimal("0.00"))
                assert Decimal(r.amount or 0) == Decimal(r.principal) + hand and Decimal(r.fee or 0) == 0
                assert r.to_account == credits[0].payer_account  # back to the basic account it came from
                postings = {
                    e.entry_key: e.amount
                    for e in s.scalars(
                        select(DepositLedgerEntry).where(DepositLedgerEntry.entry_key.like(f"pay:{r.transfer_key}:%"))
                    )
                }
                assert postings == {
                    f"pay:{r.transfer_key}:principal": r.principal,
                    f"pay:{r.transfer_key}:interest": hand,
                }, org_name
            assert facts.deposits_refunded_at is not None
            last = max(
                ensure_utc(r.confirmed_at)
                for r in s.scalars(select(DepositRefund))
                if r.project_id == project.id and r.confirmed_at
            )
            assert ensure_utc(facts.deposits_refunded_at) == last
        road = _project(s, ROAD)
        archived = s.scalars(
            select(ProjectEvent.occurred_at).where(ProjectEvent.project_id == road.id, ProjectEvent.action == "archive")
        ).one()
        refunded_at = project_facts(road, demo.started).deposits_refunded_at
        assert refunded_at is not None and ensure_utc(refunded_at) < ensure_utc(archived)


def test_the_ledger_balances_to_zero_and_every_bank_day_reconciles(demo: Demo) -> None:
    with demo.platform.uow() as uow:
        ledger = reconcile.ledger_check(uow)
        interest = sum((Decimal(r.interest or 0) for r in uow.session.scalars(select(DepositRefund))), Decimal("0.00"))
        days = set(uow.session.scalars(select(DepositLedgerEntry.booked_day)))
        recs = [(r.day, r.balanced, r.differences) for r in uow.session.scalars(select(DepositReconciliation))]
    assert (ledger["sum"], ledger["owed_total"], ledger["owed_accounts"]) == ("0.00", "0.00", 0)
    assert Decimal(ledger["bank"]) == -interest < 0  # every yuan paid in went back, plus the interest
    assert Decimal(ledger["interest"]) == interest
    # the simulator's statements of every day money moved matched the ledger: the bank paid nothing twice
    assert days == {day for day, _, _ in recs} and all(ok and diffs == [] for _, ok, diffs in recs)
    assert demo.summary["deposit_reconciliations"]["balanced"] == len(recs)


def test_the_road_tender_is_evaluated_by_a_drawn_committee_with_one_intervention_and_a_signed_report(
    demo: Demo,
) -> None:
    from sunbid.evaluation.models import (
        CommitteeMemberRow,
        Evaluation,
        EvaluationMethodDoc,
        FactCorrectionRow,
        InterventionRow,
        ScoreRow,
    )
    from sunbid.evaluation.pdfsign import verify_report
    from sunbid.evaluation.report_model import ATTACHMENT_NAME
    from sunbid.experts.models import ExpertDraw

    platform = demo.platform
    with platform.db.read() as s:
        road = _project(s, ROAD)
        method = s.scalars(select(EvaluationMethodDoc).where(EvaluationMethodDoc.project_id == road.id)).one()
        draw = s.scalars(select(ExpertDraw).where(ExpertDraw.project_id == road.id)).one()
        ev = s.scalars(select(Evaluation).where(Evaluation.project_id == road.id)).one()
        members = list(s.scalars(select(CommitteeMemberRow).where(CommitteeMemberRow.evaluation_id == ev.id)))
        interventions = list(s.scalars(select(InterventionRow).where(InterventionRow.evaluation_id == ev.id)))
        corrections = list(s.scalars(select(FactCorrectionRow).where(FactCorrectionRow.evaluation_id == ev.id)))
        typed_objective = s.scalar(
            select(func.count()).select_from(ScoreRow).where(ScoreRow.evaluation_id == ev.id, ScoreRow.objective)
        )
        bidder4 = s.scalars(
            select(Organisation)
            .join(Membership, Membership.org_id == Organisation.id)
            .join(User, User.id == Membership.user_id)
            .where(User.username == "bidder4")
        ).one()
        report = s.get(ProjectDocument, ev.report_document_id)
        tags = list(s.scalars(select(AuditEvent.tag).where(AuditEvent.tag.like("%evaluation:%"))))
        assert report is not None
        pdf = platform.storage.get(report.storage_key)
    assert method.method_id == "eng-comprehensive" and draw.unsealed_at is not None
    assert len(members) == 5 and all(m.signed_in_at and m.submitted_at and m.signed_report_at for m in members)
    assert [(i.status, bool(i.reason)) for i in interventions] == [("explained", True)]
    assert ev.state == "published" and 1 <= len(ev.candidates or []) <= 3
    assert not report.public
    status = verify_report(pdf, ca_cert_pem=platform.ca().certificate_pem)
    assert status.complete and len(status.signatures) == 5
    assert any(t.endswith("evaluation:intervention") for t in tags)
    assert any(t.endswith("evaluation:candidates:publish") for t in tags)
    # objective items were computed from the declared facts, one corrected by the leader with a reason
    assert typed_objective == 0
    [c] = corrections
    assert (c.bidder, c.field, c.declared, c.value) == (bidder4.uscc, "extra.类似工程业绩", "2", "1") and c.reason
    assert c.member_id == next(m.id for m in members if m.leader) and c.ledger_index is not None
    assert any(t.endswith("evaluation:fact_correction") for t in tags)
    [part] = (ev.result or {})["sections"]  # the road tender has one section
    objective = part["objective"]
    assert objective[bidder4.uscc]["experience"]["points"] == "2.00"  # 1 × 2 points (declared 2 would give 4)
    assert objective[bidder4.uscc]["quality"]["points"] == "0.00"  # "无" is not among the options
    doc = pdfium.PdfDocument(pdf)
    attachment = doc.get_attachment(0)
    assert attachment.get_name() == ATTACHMENT_NAME
    content = json.loads(bytes(attachment.get_data()))
    assert any("客观评分数据核验" in doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    assert [(f["bidder"], f["declared"], f["value"]) for f in content["fact_corrections"]] == [(bidder4.uscc, "2", "1")]
