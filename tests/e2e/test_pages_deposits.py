"""Deposit pages with their forms: the bidder's own page (basic account, sub-account, guarantee) and the centre's
console (statement import with differences, clearing unclaimed deposits, statistics per period), CSRF and access
per role — before opening nobody but the bidder itself sees its deposit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from sunbid.core.calendar import local_date
from sunbid.core.clock import SHANGHAI, FakeClock
from sunbid.deposits import service, tasks
from sunbid.deposits.bank import BankSimulator
from sunbid.deposits.guarantees import GuaranteeRecord, IssuerSimulator
from sunbid.deposits.models import BidderBasicAccount, DepositAccount, DepositGuarantee, DepositRefund
from sunbid.deposits.pages import PaidRefund, SecuredDeposit, period_of, period_statistics
from sunbid.identity.models import Organisation
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.projects import service as projects
from tests.e2e.test_api_projects import API, Api, make_api
from tests.support.world import PASSWORD

BASIC_A = "6222000011110001"
WRONG_A = "6222000099990009"
ISSUER = "中国建设银行股份有限公司池州分行"


@pytest.fixture
def api(platform: Platform, client: TestClient, clock: FakeClock) -> Api:
    return make_api(platform, client, clock)


Browser = Callable[[str | None], TestClient]


@pytest.fixture
def page_client(api: Api) -> Browser:
    """A browser signed in as the user named (one per user and test: logins are rate limited)."""
    cache: dict[str | None, TestClient] = {}

    def get(username: str | None) -> TestClient:
        if username not in cache:
            cache[username] = _login(api, username)
        return cache[username]

    return get


def _login(api: Api, username: str | None) -> TestClient:
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


def form_post(c: TestClient, path: str, data: dict[str, str], files: dict[str, Any] | None = None) -> Response:
    """A form post carrying the page's CSRF token (no redirect followed)."""
    r: Response = c.post(
        path, data={**data, "csrf_token": c.cookies["sunbid_csrf"]}, files=files, follow_redirects=False
    )
    return r


def bank(api: Api) -> BankSimulator:
    b = tasks.system(api.platform).bank
    assert isinstance(b, BankSimulator)
    return b


def receive_all(api: Api) -> None:
    for n in bank(api).deliveries(duplicate_rate=1.0, shuffle=True):
        with api.platform.uow() as uow:
            service.receive_credit(uow, tasks.system(api.platform), n)
            uow.commit()


def project_in_bidding(api: Api, amount: str = "250000.00") -> tuple[int, datetime]:
    pid = int(api.create()["id"])
    deadline = api.to_bidding(pid)
    api.assign_expert(pid)
    body = {"amount": amount, "kind": "works"}
    r = api.client.put(
        API + f"/projects/{pid}/sections/01/deposit-requirement", json=body, headers=api.headers("agency")
    )
    assert r.status_code == 200, r.text
    return pid, deadline


def open_project(api: Api, pid: int, deadline: datetime) -> None:
    with api.platform.uow() as uow:
        projects.update_facts(uow, pid, "bids received", bids_received=3)
        uow.commit()
    api.clock.set(deadline)
    api.platform.worker.run_once()
    api.act("operator", pid, "finish_opening", valid_bids=3)


def run_jobs(api: Api, rounds: int = 6) -> None:
    for _ in range(rounds):
        api.platform.worker.run_once()


def test_the_bidder_records_its_basic_account_and_gets_its_sub_account_through_the_page(
    api: Api, page_client: Browser
) -> None:
    pid, deadline = project_in_bidding(api)
    a = page_client("bidder_a")
    page = a.get("/deposits/mine")
    assert page.status_code == 200 and f'value="{pid}:01"' in page.text and "250000.00" in page.text

    basic = {"account_no": BASIC_A, "account_name": "甲建筑公司", "bank_name": "中国工商银行池州分行"}
    forged = a.post("/deposits/mine/basic-account", data={**basic, "csrf_token": "x" * 32}, follow_redirects=False)
    assert forged.status_code == 403
    with api.platform.db.read() as s:
        assert s.scalar(select(BidderBasicAccount.id)) is None  # refused without the token: nothing stored
    short = form_post(a, "/deposits/mine/basic-account", {**basic, "account_no": "6222"})
    assert (
        short.status_code == 422 and "银行账号须为8–32位数字" in short.text and "deposit.bad_account_no" in short.text
    )
    done = form_post(a, "/deposits/mine/basic-account", basic)
    assert done.status_code == 303 and done.headers["location"] == "/deposits/mine?done=basic"
    assert BASIC_A in a.get("/deposits/mine?done=basic").text
    with api.platform.db.read() as s:  # audited like the API: who, and from where
        event = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.tag.startswith("web:") and event.actor_name == "bidder_a"
    assert event.ip and event.request_id and event.user_agent

    assert form_post(a, "/deposits/mine/accounts", {"section": f"{pid}:99"}).status_code == 404
    assert form_post(a, "/deposits/mine/accounts", {"section": "x:01"}).status_code == 422
    assert form_post(a, "/deposits/mine/accounts", {"section": f"{pid}:01"}).status_code == 303
    assert form_post(a, "/deposits/mine/accounts", {"section": f"{pid}:01"}).status_code == 303  # the same one
    with api.platform.db.read() as s:
        (va,) = s.scalars(select(DepositAccount.virtual_account).where(DepositAccount.project_id == pid)).all()
    mine = a.get("/deposits/mine?done=account")
    assert va in mine.text and "虚拟子账号已生成" in mine.text and 'data-status="missing"' in mine.text

    bank(api).pay_in(virtual_account=va, payer_account=BASIC_A, payer_name="甲建筑公司", amount=Decimal("250000.00"))
    receive_all(api)
    mine = a.get("/deposits/mine")
    assert 'data-status="paid"' in mine.text and "已缴纳" in mine.text and "250000.00" in mine.text
    assert 'data-verdict="accepted">已入账<' in mine.text

    # before opening: nobody else sees the sub-account, its payer or its status — not even the centre
    b = page_client("bidder_b")
    other = b.get("/deposits/mine")
    assert other.status_code == 200 and va not in other.text and BASIC_A not in other.text
    console = page_client("operator").get("/deposits/console")
    assert console.status_code == 200 and va not in console.text and "甲建筑公司" not in console.text
    assert BASIC_A not in console.text and 'id="period-stats"' not in console.text  # sealed: counted nowhere
    for who in ("tenderer", "agency", "regulator", "admin", "operator", f"expert{pid}"):
        r = page_client(who).get("/deposits/mine")
        assert r.status_code == 403 and va not in r.text, who
    for who in ("tenderer", "agency", "regulator", "bidder_a", f"expert{pid}"):
        assert page_client(who).get("/deposits/console").status_code == 403, who
    anonymous = page_client(None).post("/deposits/mine/accounts", data={"section": f"{pid}:01"})
    assert anonymous.history and anonymous.history[0].headers["location"].startswith("/login")

    # after opening the period statistics count the section
    open_project(api, pid, deadline)
    after = _login(api, "operator").get("/deposits/console?period=quarter")  # days later: a new session
    assert 'id="period-stats"' in after.text
    quarter = period_of(local_date(api.clock.now()), "quarter")
    assert f'data-period="{quarter}"' in after.text


def test_a_guarantee_letter_is_handed_in_with_its_file_and_verified_with_the_issuer(
    api: Api, page_client: Browser
) -> None:
    pid, deadline = project_in_bidding(api)
    issuer = tasks.system(api.platform).issuer
    assert isinstance(issuer, IssuerSimulator)
    policy = "投标保函 BH-0001\n受益人：池州市城投公司\n".encode()
    with api.platform.db.read() as s:
        uscc = s.scalars(select(Organisation.uscc).where(Organisation.name == "甲建筑公司")).one()
    local = api.clock.now().astimezone(SHANGHAI).replace(second=0, microsecond=0, tzinfo=None)
    valid_from, valid_until = local - timedelta(days=1), local + timedelta(days=150)
    issuer.issue(
        GuaranteeRecord(
            number="BH-0001",
            issuer=ISSUER,
            form="letter",
            beneficiary="池州市城投公司",
            applicant_uscc=uscc,
            amount=Decimal("250000.00"),
            valid_from=valid_from.replace(tzinfo=SHANGHAI),
            valid_until=valid_until.replace(tzinfo=SHANGHAI),
            file_sha256=hashlib.sha256(policy).hexdigest(),
        )
    )
    a = page_client("bidder_a")
    fields = {
        "section": f"{pid}:01",
        "number": "BH-0001",
        "issuer": ISSUER,
        "form": "letter",
        "amount": "250000.00",
        "valid_from": valid_from.isoformat(timespec="minutes"),
        "valid_until": valid_until.isoformat(timespec="minutes"),
    }
    missing = form_post(a, "/deposits/mine/guarantees", fields)
    assert missing.status_code == 422 and "请上传保函文件" in missing.text
    forged = form_post(a, "/deposits/mine/guarantees", fields, files={"file": ("bh.pdf", b"another file")})
    assert forged.headers["location"] == "/deposits/mine?done=guarantee_rejected"
    with api.platform.db.read() as s:
        row = s.scalars(select(DepositGuarantee)).one()
        assert (row.status, row.problems) == ("rejected", ["issuer:file_sha256"])
    good = form_post(a, "/deposits/mine/guarantees", fields, files={"file": ("bh.pdf", policy)})
    assert good.headers["location"] == "/deposits/mine?done=guarantee"
    mine = a.get("/deposits/mine?done=guarantee")
    assert 'data-status="guarantee"' in mine.text and 'data-guarantee="verified"' in mine.text
    assert "保函已提交并经出具机构核验" in mine.text
    bad_time = form_post(
        a, "/deposits/mine/guarantees", {**fields, "valid_from": "明天"}, files={"file": ("bh.pdf", policy)}
    )
    assert bad_time.status_code == 422 and "deposit.bad_time" in bad_time.text
    assert (
        form_post(
            page_client("tenderer"), "/deposits/mine/guarantees", fields, files={"file": ("bh.pdf", policy)}
        ).status_code
        == 403
    )
    with api.platform.db.read() as s:
        assert s.scalars(select(DepositGuarantee.status).where(DepositGuarantee.number == "BH-0001")).one() == (
            "verified"
        )
    open_project(api, pid, deadline)
    with api.platform.uow() as uow:
        project = projects.get_project(uow, pid)
        section = service.section_of(uow, project, "01")
        org = uow.session.scalars(select(Organisation).where(Organisation.name == "甲建筑公司")).one()
        assert service.deposit_state(uow, tasks.system(api.platform), project, section, org.id)[0] == "guarantee"


def test_the_console_imports_a_statement_lists_each_difference_and_clears_an_unclaimed_deposit(
    api: Api, page_client: Browser
) -> None:
    pid, _ = project_in_bidding(api)
    api.client.put(
        API + "/deposits/basic-account",
        json={"account_no": BASIC_A, "account_name": "甲建筑公司", "bank_name": "工行"},
        headers=api.headers("bidder_a"),
    )
    va = api.post("bidder_a", f"/projects/{pid}/sections/01/deposit-account").json()["virtual_account"]
    bank(api).refuse_next(3)  # the wrong account is closed: every return is refused, the deposit is unclaimed
    bank(api).pay_in(virtual_account=va, payer_account=WRONG_A, payer_name="甲建筑公司", amount=Decimal("250000.00"))
    receive_all(api)
    run_jobs(api)
    with api.platform.db.read() as s:
        refund = s.scalars(select(DepositRefund)).one()
        assert refund.unclaimed and refund.attempt == 3
    op = page_client("operator")
    console = op.get("/deposits/console")
    assert f'data-refund="{refund.id}"' in console.text and "（开标前保密）" in console.text
    assert WRONG_A not in console.text and va not in console.text  # masked before opening

    no_grounds = form_post(op, f"/deposits/console/refunds/{refund.id}/clear", {"note": " "})
    assert no_grounds.status_code == 422 and "请写明清退依据" in no_grounds.text
    assert (
        form_post(page_client("bidder_a"), f"/deposits/console/refunds/{refund.id}/clear", {"note": "x"}).status_code
        == 403
    )
    cleared = form_post(
        op,
        f"/deposits/console/refunds/{refund.id}/clear",
        {"note": "投标人来函更正收款账户（2026年第3号）", "to_account": BASIC_A, "to_name": "甲建筑公司"},
    )
    assert cleared.status_code == 303 and cleared.headers["location"].startswith("/deposits/console?done=cleared")
    run_jobs(api)
    with api.platform.db.read() as s:
        again = s.get(DepositRefund, refund.id)
        assert again is not None
        assert (again.state, again.unclaimed, again.to_account) == ("confirmed", False, BASIC_A)
        assert again.clear_note == "投标人来函更正收款账户（2026年第3号）"
    assert bank(api).paid_keys() == {again.transfer_key: 1}

    # a day's statement that matches, then one with a booking the centre never heard of
    day = local_date(api.clock.now())
    text = bank(api).statement_mt940(day)
    upload = {"file": ("day.sta", text.encode())}
    assert op.post("/deposits/console/statements", files=upload, data={"csrf_token": "forged"}).status_code == 403
    ok = form_post(op, "/deposits/console/statements", {}, files=upload)
    assert ok.status_code == 303
    page = op.get("/deposits/console?done=statement")
    assert f'data-day="{day}" data-balanced="true"' in page.text and "对账单已导入" in page.text
    fee = bank(api).add_booking(Decimal("-15.00"), "手续费 fee")
    injected = form_post(
        op, "/deposits/console/statements", {}, files={"file": ("d.sta", bank(api).statement_mt940(day).encode())}
    )
    assert injected.status_code == 303
    page = op.get("/deposits/console")
    assert f'data-day="{day}" data-balanced="false"' in page.text
    assert 'data-kind="missing_in_ledger"' in page.text and fee in page.text and "台账无此笔" in page.text
    assert 'data-kind="closing_balance"' in page.text and "期末余额不符" in page.text
    nonsense = form_post(op, "/deposits/console/statements", {}, files={"file": ("x.sta", b"nonsense")})
    assert nonsense.status_code == 422 and "deposit.bad_statement" in nonsense.text
    for who in ("tenderer", "agency", "regulator", "bidder_a"):
        c = page_client(who)
        assert form_post(c, "/deposits/console/statements", {}, files=upload).status_code == 403, who


def test_period_statistics_give_the_guarantee_share_and_refunds_on_time_per_period() -> None:
    deposits = [
        SecuredDeposit(date(2026, 3, 2), True),
        SecuredDeposit(date(2026, 3, 9), False),
        SecuredDeposit(date(2026, 3, 31), True),
        SecuredDeposit(date(2026, 4, 1), False),
    ]
    paid = [
        PaidRefund(date(2026, 4, 3), date(2026, 4, 8), Decimal("23.33"), Decimal("0.00")),
        PaidRefund(date(2026, 4, 9), date(2026, 4, 8), Decimal("1.10"), Decimal("40.00")),  # a day late
        PaidRefund(date(2026, 5, 6), None, Decimal("0.50"), Decimal("0.00")),
    ]
    months = period_statistics(deposits, paid, "month")
    assert [r.period for r in months] == ["2026-05", "2026-04", "2026-03"]
    may, april, march = months
    assert (march.deposits, march.guarantees, march.guarantee_share_percent, march.refunds) == (
        3,
        2,
        Decimal("66.67"),
        0,
    )
    assert (april.deposits, april.guarantee_share_percent, april.refunds, april.on_time, april.late) == (
        1,
        Decimal("0.00"),
        2,
        1,
        1,
    )
    assert (april.interest, april.fees) == (Decimal("24.43"), Decimal("40.00"))
    assert (may.deposits, may.guarantee_share_percent, may.on_time, may.late) == (0, None, 1, 0)
    (quarter_2, quarter_1) = period_statistics(deposits, paid, "quarter")
    assert (quarter_1.period, quarter_1.deposits, quarter_1.guarantees) == ("2026-Q1", 3, 2)
    assert (quarter_2.period, quarter_2.refunds, quarter_2.late) == ("2026-Q2", 3, 1)
    (year,) = period_statistics(deposits, paid, "year")
    assert (year.period, year.deposits, year.guarantee_share_percent) == ("2026", 4, Decimal("50.00"))
    assert period_statistics([], [], "month") == []
