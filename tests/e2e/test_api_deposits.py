"""Deposits over HTTP: the bidder's own sub-account, sealed until opening for every role, the centre's console."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from sunbid.core.calendar import local_date
from sunbid.core.clock import FakeClock
from sunbid.deposits import service, tasks
from sunbid.deposits.bank import BankSimulator
from sunbid.platform.container import Platform
from sunbid.projects import service as projects
from tests.e2e.test_api_projects import API, Api, make_api
from tests.support.world import PASSWORD

BASIC_A = "6222000011110001"


def _put(api: Api, who: str, path: str, body: object) -> Response:
    return api.client.put(API + path, json=body, headers=api.headers(who))


def _bank(api: Api) -> BankSimulator:
    bank = tasks.system(api.platform).bank
    assert isinstance(bank, BankSimulator)
    return bank


def _receive_all(api: Api) -> None:
    for n in _bank(api).deliveries(duplicate_rate=1.0, shuffle=True):
        with api.platform.uow() as uow:
            service.receive_credit(uow, tasks.system(api.platform), n)
            uow.commit()


def test_bidder_account_confidential_until_opening_then_console(api: Api) -> None:
    pid = int(api.create()["id"])
    deadline = api.to_bidding(pid)
    api.assign_expert(pid)
    r = _put(
        api, "agency", f"/projects/{pid}/sections/01/deposit-requirement", {"amount": "250000.00", "kind": "works"}
    )
    assert r.status_code == 200, r.text
    too_much = {"amount": "250000.01", "kind": "works"}
    r = _put(api, "agency", f"/projects/{pid}/sections/01/deposit-requirement", too_much)
    assert r.status_code == 422 and r.json()["code"] == "deposit.above_limit"
    r = _put(
        api, "bidder_a", "/deposits/basic-account", {"account_no": BASIC_A, "account_name": "甲", "bank_name": "工行"}
    )
    assert r.status_code == 200
    assert (
        _put(
            api, "bidder_a", "/deposits/basic-account", {"account_no": 6222, "account_name": "x", "bank_name": "y"}
        ).status_code
        == 422
    )

    first = api.post("bidder_a", f"/projects/{pid}/sections/01/deposit-account")
    assert first.status_code == 201, first.text
    va = first.json()["virtual_account"]
    again = api.post("bidder_a", f"/projects/{pid}/sections/01/deposit-account")
    assert again.status_code == 200 and again.json()["virtual_account"] == va
    assert first.json()["required"] == "250000.00" and first.json()["payee_account"]
    assert api.post(None, f"/projects/{pid}/sections/01/deposit-account").status_code == 401
    assert api.get("bidder_b", f"/projects/{pid}/sections/01/deposit-account").status_code == 404
    assert api.post("tenderer", f"/projects/{pid}/sections/01/deposit-account").status_code == 403

    _bank(api).pay_in(virtual_account=va, payer_account=BASIC_A, payer_name="甲建筑公司", amount=Decimal("250000.00"))
    _receive_all(api)
    mine = api.get("bidder_a", f"/projects/{pid}/sections/01/deposit-account").json()
    assert [(c["verdict"], c["amount"]) for c in mine["credits"]] == [("accepted", "250000.00")]

    # before opening nobody learns anything per section: not the parties, the centre, experts or regulators
    for who in ("tenderer", "agency", "operator", "admin", "regulator", "expert"):
        r = api.get(who, f"/projects/{pid}/deposits")
        assert r.status_code == 403 and r.json()["code"] == "deposit.sealed", who
        assert va not in r.text and "甲建筑公司" not in r.text
    for who in ("bidder_a", "bidder_b", "regulator_far"):
        r = api.get(who, f"/projects/{pid}/deposits")
        assert r.status_code == 403 and r.json()["code"] == "deposit.forbidden", who
    assert api.get(None, f"/projects/{pid}/deposits").status_code == 401

    # opening
    with api.platform.uow() as uow:
        projects.update_facts(uow, pid, "bids received", bids_received=3)
        uow.commit()
    api.clock.set(deadline)
    api.platform.worker.run_once()
    api.act("operator", pid, "finish_opening", valid_bids=3)
    r = api.get("tenderer", f"/projects/{pid}/deposits")
    assert r.status_code == 200, r.text
    assert [(row["org_name"], row["status"], row["accepted"]) for row in r.json()] == [
        ("甲建筑公司", "paid", "250000.00")
    ]
    assert api.get("regulator", f"/projects/{pid}/deposits").status_code == 200
    assert api.get("regulator_far", f"/projects/{pid}/deposits").status_code == 403

    # the centre's console: ledger totals, statement import with reconciliation, unclaimed list
    assert api.get("tenderer", "/deposits/ledger").status_code == 403
    ledger = api.get("operator", "/deposits/ledger").json()
    assert ledger["sum"] == "0.00" and ledger["bank"] == "250000.00" and "owed" not in ledger
    day = local_date(api.clock.now() - timedelta(days=21))
    text = _bank(api).statement_mt940(day)
    headers = {**api.headers("operator"), "Content-Type": "text/plain"}
    r = api.client.post(API + "/deposits/statements", content=text.encode(), headers=headers)
    assert r.status_code == 200 and r.json()["balanced"] is True, r.text
    bad = api.client.post(API + "/deposits/statements", content=b"nonsense", headers=headers)
    assert bad.status_code == 422 and bad.json()["code"] == "deposit.bad_statement"
    agency = {**api.headers("agency"), "Content-Type": "text/plain"}
    assert api.client.post(API + "/deposits/statements", content=text.encode(), headers=agency).status_code == 403
    assert api.get("operator", "/deposits/unclaimed").json() == []
    assert api.get("bidder_a", "/deposits/unclaimed").status_code == 403


@pytest.fixture
def api(platform: Platform, client: TestClient, clock: FakeClock) -> Api:
    return make_api(platform, client, clock)


def _page_client(api: Api, username: str | None) -> TestClient:
    c = TestClient(api.client.app, base_url="http://127.0.0.1")
    c.get("/login")
    if username:
        r = c.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": c.cookies["sunbid_csrf"]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    return c


def test_pages_show_a_bidder_only_its_own_and_the_console_only_totals(api: Api) -> None:
    pid = int(api.create()["id"])
    api.to_bidding(pid)
    _put(api, "agency", f"/projects/{pid}/sections/01/deposit-requirement", {"amount": "250000.00", "kind": "works"})
    _put(api, "bidder_a", "/deposits/basic-account", {"account_no": BASIC_A, "account_name": "甲", "bank_name": "工行"})
    va = api.post("bidder_a", f"/projects/{pid}/sections/01/deposit-account").json()["virtual_account"]
    _bank(api).pay_in(virtual_account=va, payer_account=BASIC_A, payer_name="甲建筑公司", amount=Decimal("250000.00"))
    _receive_all(api)

    mine = _page_client(api, "bidder_a").get("/deposits/mine")
    assert mine.status_code == 200 and va in mine.text and "250000.00" in mine.text and "accepted" in mine.text
    other = _page_client(api, "bidder_b").get("/deposits/mine")
    assert other.status_code == 200 and va not in other.text and "尚未生成" in other.text
    console = _page_client(api, "operator").get("/deposits/console")
    assert console.status_code == 200 and "保证金控制台" in console.text and "250000.00" in console.text
    assert va not in console.text and "甲建筑公司" not in console.text and BASIC_A not in console.text
    for who in ("tenderer", "agency", "regulator", "bidder_a"):
        assert _page_client(api, who).get("/deposits/console").status_code == 403, who
    assert _page_client(api, "tenderer").get("/deposits/mine").status_code == 403
    anonymous = _page_client(api, None).get("/deposits/mine", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_bank_notifications_are_signed_and_idempotent(api: Api) -> None:
    import hashlib
    import hmac
    import json

    from sunbid.deposits.api import bank_key
    from sunbid.deposits.models import DepositCredit

    pid = int(api.create()["id"])
    api.to_bidding(pid)
    _put(api, "agency", f"/projects/{pid}/sections/01/deposit-requirement", {"amount": "250000.00", "kind": "works"})
    _put(api, "bidder_a", "/deposits/basic-account", {"account_no": BASIC_A, "account_name": "甲", "bank_name": "工行"})
    va = api.post("bidder_a", f"/projects/{pid}/sections/01/deposit-account").json()["virtual_account"]
    notice = {
        "bank_ref": "ICBC20260302000123",
        "virtual_account": va,
        "payer_account": BASIC_A,
        "payer_name": "甲建筑公司",
        "payer_bank": "工行",
        "amount": "250000.00",
        "booked_at": api.clock.now().isoformat(),
    }
    raw = json.dumps(notice).encode()

    def send(body: bytes, signature: str | None) -> Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Bank-Signature"] = signature
        return api.client.post(API + "/deposits/bank/notifications", content=body, headers=headers)

    good = hmac.new(bank_key(api.platform), raw, hashlib.sha256).hexdigest()
    assert send(raw, None).status_code == 401
    assert send(raw, "00" * 32).status_code == 401
    tampered = raw.replace(b"250000.00", b"950000.00")
    assert send(tampered, good).status_code == 401
    first, again = send(raw, good), send(raw, good)
    assert (first.status_code, first.json(), again.json()) == (200, {"status": "new"}, {"status": "duplicate"})
    float_amount = json.dumps({**notice, "amount": 250000.0}).encode()
    sig = hmac.new(bank_key(api.platform), float_amount, hashlib.sha256).hexdigest()
    assert send(float_amount, sig).status_code == 422
    with api.platform.db.read() as s:
        rows = s.query(DepositCredit).all()
        assert [(r.bank_ref, r.notices, r.verdict) for r in rows] == [("ICBC20260302000123", 2, "accepted")]


def test_guarantee_over_http_is_checked_with_the_issuer(api: Api) -> None:
    from sunbid.deposits.guarantees import GuaranteeRecord, IssuerSimulator

    pid = int(api.create()["id"])
    deadline = api.to_bidding(pid)
    _put(api, "agency", f"/projects/{pid}/sections/01/deposit-requirement", {"amount": "250000.00", "kind": "works"})
    start, end = api.clock.now(), deadline + timedelta(days=120)
    issuer = tasks.system(api.platform).issuer
    assert isinstance(issuer, IssuerSimulator)
    tenderer, bidder = api.world.orgs["tenderer"], api.world.orgs["bidder_a"]
    issuer.issue(
        GuaranteeRecord(
            "BH-9", "某银行", "insurance", tenderer.name, bidder.uscc, Decimal("250000.00"), start, end, "ab" * 32
        )
    )
    body = {
        "number": "BH-9",
        "issuer": "某银行",
        "form": "insurance",
        "amount": "250000.00",
        "valid_from": start.isoformat(),
        "valid_until": end.isoformat(),
        "file_sha256": "ab" * 32,
    }
    path = f"/projects/{pid}/sections/01/guarantees"
    r = api.post("bidder_a", path, body)
    assert r.status_code == 201 and r.json()["status"] == "verified", r.text
    r = api.post("bidder_a", path, {**body, "number": "BH-10"})
    assert r.status_code == 201 and r.json()["status"] == "rejected" and r.json()["problems"] == ["issuer:number"]
    naive = {**body, "valid_from": start.replace(tzinfo=None).isoformat()}
    assert api.post("bidder_a", path, naive).status_code == 422
    assert api.post("tenderer", path, body).status_code == 403
    mine = api.get("bidder_a", f"/projects/{pid}/sections/01/deposit-account").json()
    assert sorted(g["status"] for g in mine["guarantees"]) == ["rejected", "verified"]
