"""Bid submission over HTTP: the resumable upload protocol, the receipt, the 1 ms deadline and who sees what."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from sunbid.bidding.receipts import verify_receipt
from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from tests.e2e.test_api_projects import API, Api, make_api
from tests.integration.bidding.bidtools import Sealer, chunks, make_sealer

OCTETS = {"Content-Type": "application/offset+octet-stream"}


class Bidding:
    """A project in ``bidding`` and the bidders' HTTP calls."""

    def __init__(self, api: Api, sealer: Sealer) -> None:
        self.api = api
        self.sealer = sealer
        self.pid = int(api.create()["id"])
        self.code = str(api.get("operator", f"/projects/{self.pid}").json()["code"])
        self.deadline = api.to_bidding(self.pid)

    def seal(self, who: str) -> bytes:
        return self.sealer.seal(self.api.world.orgs[who], self.code)

    def open(self, who: str, data: bytes) -> Response:
        body = {"length": len(data), "container_hash": self.api.platform.suite.digest(data).hex()}
        return self.api.post(who, f"/projects/{self.pid}/sections/01/uploads", body)

    def patch(self, who: str, uid: int, offset: int, piece: bytes) -> Response:
        headers = {**self.api.headers(who), **OCTETS, "Upload-Offset": str(offset)}
        return self.api.client.patch(f"{API}/uploads/{uid}", content=piece, headers=headers)

    def upload(self, who: str, data: bytes) -> int:
        r = self.open(who, data)
        assert r.status_code == 201, r.text
        uid = int(r.json()["id"])
        for at, piece in chunks(data):
            assert self.patch(who, uid, at, piece).status_code == 204
        return uid

    def complete(self, who: str, uid: int) -> Response:
        return self.api.post(who, f"/uploads/{uid}/complete")

    def bids_received(self) -> int:
        facts: dict[str, Any] = self.api.get("operator", f"/projects/{self.pid}").json().get("facts", {})
        return int(facts.get("bids_received", 0))


@pytest.fixture
def bidding(platform: Platform, client: TestClient, clock: FakeClock, suite_name: str) -> Bidding:
    api = make_api(platform, client, clock)
    with platform.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == "bidder_c")).one()
        api.tokens["bidder_c"] = identity.create_api_token(uow, user, "t").raw
        uow.commit()
    return Bidding(api, make_sealer(suite_name, platform))


def test_resumable_upload_then_receipt_verifies_offline(bidding: Bidding) -> None:
    data = bidding.seal("bidder_a")
    r = bidding.open("bidder_a", data)
    assert r.status_code == 201 and r.headers["Upload-Offset"] == "0"
    uid = int(r.json()["id"])
    assert r.headers["Location"] == f"/api/v1/uploads/{uid}"
    pieces = chunks(data)
    assert bidding.patch("bidder_a", uid, *pieces[0]).status_code == 204
    again = bidding.patch("bidder_a", uid, *pieces[0])  # a retry after a lost reply
    assert again.status_code == 204 and again.headers["Upload-Offset"] == str(len(pieces[0][1]))
    wrong = bidding.patch("bidder_a", uid, pieces[2][0], pieces[2][1])
    assert wrong.status_code == 409 and wrong.json()["code"] == "bid.offset_mismatch"
    resume_at = wrong.json()["details"]["offset"]
    head = bidding.api.client.head(f"{API}/uploads/{uid}", headers=bidding.api.headers("bidder_a"))
    assert head.status_code == 200 and int(head.headers["Upload-Offset"]) == resume_at == len(pieces[0][1])
    for at, piece in pieces[1:]:
        assert bidding.patch("bidder_a", uid, at, piece).status_code == 204
    assert bidding.api.get("bidder_a", f"/uploads/{uid}").json()["offset"] == len(data)
    done = bidding.complete("bidder_a", uid)
    assert done.status_code == 200, done.text
    receipt = done.json()["receipt"]
    public = bytes.fromhex(bidding.api.get(None, "/log/head").json()["log"]["log_public_key"])
    assert verify_receipt(receipt, public) == []  # with nothing but the published log key
    bid_id = done.json()["bid"]["id"]
    assert bidding.api.get("bidder_a", f"/bids/{bid_id}/receipt").json() == receipt
    again_done = bidding.complete("bidder_a", uid)  # idempotent
    assert again_done.json()["bid"]["id"] == bid_id and again_done.json()["receipt"] == receipt
    assert bidding.bids_received() == 1


def test_one_ms_before_the_deadline_is_accepted_one_ms_after_is_refused_and_logged(bidding: Bidding) -> None:
    """The final chunk decides: received 1 ms before the deadline → a bid; 1 ms after → refused and logged."""
    clock = bidding.api.clock
    uploads = {}
    for who in ("bidder_a", "bidder_b"):
        data = bidding.seal(who)
        uid = int(bidding.open(who, data).json()["id"])
        *head, last = chunks(data)
        for at, piece in head:
            assert bidding.patch(who, uid, at, piece).status_code == 204
        uploads[who] = (uid, last)
    clock.set(bidding.deadline - timedelta(milliseconds=1))
    uid_a, last = uploads["bidder_a"]
    assert bidding.patch("bidder_a", uid_a, *last).status_code == 204
    clock.set(bidding.deadline + timedelta(milliseconds=1))
    uid_b, last = uploads["bidder_b"]
    r = bidding.patch("bidder_b", uid_b, *last)
    assert r.status_code == 409 and r.json()["code"] == "bid.deadline_passed"
    r = bidding.complete("bidder_b", uid_b)
    assert r.status_code == 409 and r.json()["code"] == "bid.deadline_passed"
    clock.set(bidding.deadline + timedelta(seconds=1))
    done = bidding.complete("bidder_a", uid_a)  # the complete call may come after the deadline: the chunk did not
    assert done.status_code == 200, done.text
    received = datetime.fromisoformat(done.json()["bid"]["received_at"])
    assert received == bidding.deadline - timedelta(milliseconds=1)
    with bidding.api.platform.db.read() as s:
        tags = [e.tag for e in s.scalars(select(AuditEvent))]
    assert tags.count("api:bid:late") == 2
    assert bidding.bids_received() == 1


def test_nobody_else_sees_or_completes_a_bidders_upload_or_bid(bidding: Bidding) -> None:
    uid = bidding.upload("bidder_a", bidding.seal("bidder_a"))
    for who in ("bidder_b", "operator", "tenderer"):
        assert bidding.api.get(who, f"/uploads/{uid}").status_code == 404
        assert bidding.complete(who, uid).status_code == 404
    bid_id = bidding.complete("bidder_a", uid).json()["bid"]["id"]
    for who in ("bidder_b", "operator", "tenderer", "agency"):
        assert bidding.api.get(who, f"/bids/{bid_id}").status_code == 404
        assert bidding.api.get(who, f"/bids/{bid_id}/receipt").status_code == 404
        assert bidding.api.post(who, f"/bids/{bid_id}/withdraw").status_code == 404
        mine = bidding.api.get(who, f"/projects/{bidding.pid}/bids/mine")
        assert mine.status_code == 200 and mine.json() == []
    assert bidding.api.get(None, f"/bids/{bid_id}").status_code == 401
    assert bidding.open("operator", bidding.seal("bidder_a")).status_code == 403


def test_withdraw_then_three_bids_open_at_the_deadline(bidding: Bidding) -> None:
    first = bidding.complete("bidder_a", bidding.upload("bidder_a", bidding.seal("bidder_a"))).json()["bid"]
    w = bidding.api.post("bidder_a", f"/bids/{first['id']}/withdraw")
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"
    assert bidding.bids_received() == 0
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        assert bidding.complete(who, bidding.upload(who, bidding.seal(who))).status_code == 200
    assert bidding.bids_received() == 3
    bidding.api.clock.set(bidding.deadline)
    bidding.api.platform.worker.run_once()
    assert bidding.api.state(bidding.pid) == "opening"


def test_bidder_tool_verifies_a_receipt_offline_and_refuses_a_forged_one(bidding: Bidding, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sunbid.cli import app

    uid = bidding.upload("bidder_a", bidding.seal("bidder_a"))
    receipt = bidding.complete("bidder_a", uid).json()["receipt"]
    key = bidding.api.get(None, "/log/head").json()["log"]["log_public_key"]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    ok = CliRunner().invoke(app, ["bidder", "receipt", "verify", str(path), "--log-key", key, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    forged = json.loads(path.read_text(encoding="utf-8"))
    forged["receipt"]["size"] += 1  # claim a different container size
    path.write_text(json.dumps(forged), encoding="utf-8")
    bad = CliRunner().invoke(app, ["bidder", "receipt", "verify", str(path), "--log-key", key, "--json"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["ok"] is False
