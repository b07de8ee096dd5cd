"""The project pages end to end (TestClient): the centre's acceptance and witness view, the project page with
its steps and countdowns, the bidder's page, and who may open which page. Chinese unless said otherwise."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.domain import make_uscc
from sunbid.identity.models import User
from sunbid.identity.service import Actor, load_actor
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.projects import service
from sunbid.projects.models import Project, ProjectDocument, ProjectEvent
from sunbid.projects.timing import project_facts
from tests.support.world import PASSWORD, World, build_world

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 2 March 2026, 09:00 in Beijing
PDF = b"%PDF-1.7\n% sunbid test tender documents\n"


@dataclass
class Site:
    """A centre, a tenderer with its agency, bidders and regulators, and the app serving the pages."""

    platform: Platform
    world: World
    app: FastAPI

    def actor(self, username: str) -> Actor:
        with self.platform.db.read() as s:
            user = s.scalars(select(User).where(User.username == username)).one()
            return load_actor(s, user, method="password")

    def act(self, who: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self.platform.uow() as uow:
            result = fn(uow, self.actor(who), *args, **kwargs)
            uow.commit()
            return result

    def perform(self, who: str, pid: int, action: str, **params: Any) -> None:
        self.act(who, service.perform, pid, action, params)

    def project(self, pid: int) -> Project:
        with self.platform.db.read() as s:
            p = s.get(Project, pid)
            assert p is not None
            s.expunge(p)
            return p

    def client(self, username: str | None = None, *, lang: str | None = None) -> TestClient:
        """A browser of its own: signed in as ``username`` through the login form (anonymous for None)."""
        c = TestClient(self.app, base_url="http://127.0.0.1")
        if lang:
            c.cookies.set("sunbid_lang", lang)
        c.get("/login")
        if username is not None:
            r = c.post(
                "/login",
                data={"username": username, "password": PASSWORD, "csrf_token": c.cookies["sunbid_csrf"]},
                follow_redirects=False,
            )
            assert r.status_code == 303, r.text
        return c


def build_site(platform: Platform) -> Site:
    """The world of ``tests.support.world`` plus an agency (user ``agency``)."""
    from sunbid.app import create_app

    world = build_world(platform)
    with platform.uow() as uow:
        agency = identity.create_organisation(
            uow,
            name="池州招标代理公司",
            uscc=make_uscc(40, region_code="341700"),
            kind="agency",
            region_code="341702",
            sectors=["engineering", "procurement"],
        )
        user = identity.create_user(uow, username="agency", display_name="代理员小王", password=PASSWORD)
        identity.add_membership(uow, user=user, org=agency, role="agency")
        world.orgs["agency"] = agency
        uow.commit()
    return Site(platform, world, create_app(platform, start_worker=False))


def new_project(site: Site, name: str = "池州市示范道路工程", *, complete: bool = True) -> int:
    """A registered open tender (engineering) of the tenderer, run by the agency."""

    def create(uow: Any, actor: Actor) -> int:
        return service.create_project(
            uow,
            actor,
            name=name,
            procedure_code="eng_open",
            tenderer_org_id=site.world.orgs["tenderer"].id,
            agency_org_id=site.world.orgs["agency"].id,
            budget="12500000.00",
            documents_complete=complete,
        ).id

    return int(site.act("agency", create))


def upload(
    site: Site,
    pid: int,
    *,
    kind: str = "tender_documents",
    data: bytes = PDF,
    public: bool = True,
    title: str = "招标文件",
) -> int:
    doc = site.act(
        "agency",
        service.add_document,
        pid,
        kind=kind,
        title=title,
        filename="招标文件.pdf",
        content_type="application/pdf",
        data=data,
        public=public,
    )
    return int(doc.id)


def announce(site: Site, pid: int) -> None:
    """Accept (green channel) and publish the announcement."""
    site.perform("operator", pid, "accept", green_channel=True)
    site.perform("agency", pid, "publish_announcement")


def to_bidding(site: Site, pid: int, days: int = 21) -> datetime:
    """Announce, upload the tender documents and issue them with a bid deadline ``days`` later."""
    announce(site, pid)
    upload(site, pid)
    deadline = site.platform.clock.now() + timedelta(days=days)
    site.perform("agency", pid, "issue_documents", bid_deadline=deadline.isoformat())
    return deadline


def csrf(c: TestClient) -> str:
    return str(c.cookies["sunbid_csrf"])


def tags(platform: Platform) -> list[str]:
    with platform.db.read() as s:
        return list(s.scalars(select(AuditEvent.tag).order_by(AuditEvent.id)))


def events(platform: Platform, pid: int) -> list[ProjectEvent]:
    with platform.db.read() as s:
        rows = list(s.scalars(select(ProjectEvent).where(ProjectEvent.project_id == pid).order_by(ProjectEvent.seq)))
        s.expunge_all()
        return rows


@pytest.fixture
def site(platform: Platform, clock: FakeClock) -> Site:
    clock.set(T0)
    return build_site(platform)


# --- the centre --------------------------------------------------------------------------------------------


def test_centre_list_offers_accept_with_green_channel_and_return(site: Site) -> None:
    pid = new_project(site)
    r = site.client("operator").get("/centre/projects")
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    assert "<h1>项目受理</h1>" in r.text and "池州市示范道路工程" in r.text and "登记材料齐全" in r.text
    assert f'action="/centre/projects/{pid}/accept"' in r.text and f'action="/centre/projects/{pid}/return"' in r.text
    assert 'name="green_channel"' in r.text and "绿色通道" in r.text
    assert 'name="accept_with_promise"' in r.text and "容缺受理（信用承诺）" in r.text


def test_operator_accepts_through_the_form_and_the_witness_view_shows_the_step(site: Site) -> None:
    pid = new_project(site)
    op = site.client("operator")
    op.get("/centre/projects")
    r = op.post(
        f"/centre/projects/{pid}/accept", data={"csrf_token": csrf(op), "green_channel": "1"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"/centre/projects/{pid}"
    p = site.project(pid)
    assert (p.state, p.green_channel, p.accept_with_promise) == ("accepted", True, False)
    assert tags(site.platform)[-1] == "web:project:accept"
    accept = events(site.platform, pid)[-1]
    assert accept.action == "accept" and accept.ledger_index is not None
    page = op.get(f"/centre/projects/{pid}").text
    assert 'data-state="accepted">已受理</span>' in page
    assert f'href="/api/v1/log/proof/inclusion?index={accept.ledger_index}"' in page
    assert "交易中心工作人员" in page and "2026-03-02 09:00:00" in page  # the role, and the time in Beijing
    assert "绿色通道" in page
    listing = op.get("/centre/projects").text
    assert f'action="/centre/projects/{pid}/accept"' not in listing and "暂无待受理的项目。" in listing
    assert f'<a href="/centre/projects/{pid}" class="pcode">' in listing  # now among the centre's other projects


def test_accept_without_the_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    pid = new_project(site)
    op = site.client("operator")
    before = len(tags(site.platform))
    r = op.post(f"/centre/projects/{pid}/accept", data={"green_channel": "1"}, follow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert site.project(pid).state == "registered" and len(tags(site.platform)) == before


def test_incomplete_registration_is_accepted_only_on_a_credit_promise(site: Site) -> None:
    pid = new_project(site, complete=False)
    op = site.client("operator")
    assert "材料不全：仅可容缺受理" in op.get("/centre/projects").text
    r = op.post(f"/centre/projects/{pid}/accept", data={"csrf_token": csrf(op)}, follow_redirects=False)
    assert r.status_code == 409
    assert "条件「登记材料齐全或已作容缺承诺」不满足" in r.text and site.project(pid).state == "registered"
    r = op.post(
        f"/centre/projects/{pid}/accept",
        data={"csrf_token": csrf(op), "accept_with_promise": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert (site.project(pid).state, site.project(pid).accept_with_promise) == ("accepted", True)


def test_operator_returns_a_registration_with_a_reason(site: Site) -> None:
    pid = new_project(site)
    op = site.client("operator")
    r = op.post(
        f"/centre/projects/{pid}/return",
        data={"csrf_token": csrf(op), "reason": "缺少立项批文"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and site.project(pid).state == "draft"
    assert events(site.platform, pid)[-1].data["params"] == {"reason": "缺少立项批文"}


def test_centre_pages_are_for_the_centre_only(site: Site) -> None:
    pid = new_project(site)
    agency = site.client("agency")
    for url in ("/centre/projects", f"/centre/projects/{pid}"):
        r = agency.get(url)
        assert r.status_code == 403 and "只有交易中心工作人员可以查看此页面。" in r.text
    r = agency.post(f"/centre/projects/{pid}/accept", data={"csrf_token": csrf(agency)}, follow_redirects=False)
    assert r.status_code == 403 and site.project(pid).state == "registered"
    r = site.client().get("/centre/projects", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/centre/projects"


def test_witness_view_shows_every_step_with_role_time_log_entry_and_document_hash(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    page = site.client("operator").get(f"/centre/projects/{pid}").text
    recorded = events(site.platform, pid)
    assert [e.action for e in recorded] == ["register", "accept", "publish_announcement", "issue_documents"]
    for e in recorded:
        i = e.ledger_index
        assert re.search(rf'href="/api/v1/log/proof/inclusion\?index={i}"[^>]*>#{i}</a>', page), e.action
    for label in ("登记项目", "受理", "发布公告", "发出招标（采购）文件"):
        assert f"<strong>{label}</strong>" in page
    assert "代理员小王 · 池州招标代理公司" in page  # who acted, and for which organisation
    assert hashlib.sha256(PDF).hexdigest() in page


# --- the project page --------------------------------------------------------------------------------------


def test_project_page_shows_state_steps_and_the_bid_deadline_countdown(site: Site, clock: FakeClock) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    agency = site.client("agency")
    page = agency.get(f"/projects/{pid}").text
    assert 'data-state="bidding">投标中</span>' in page and "招标代理机构" in page
    bid = page.split('<span class="countdown-label">投标截止</span>')[1].split("</li>")[0]
    assert "剩余 21 天 0 小时" in bid and "2026-03-23 09:00" in bid and "招标投标法 第24条" in bid
    assert "到时由系统自动执行" in bid
    assert f'action="/projects/{pid}/actions/amend_documents"' in page
    assert f'action="/projects/{pid}/actions/suspend"' in page
    assert "/actions/terminate" not in page  # the agency may not terminate (the tenderer may)
    assert "/actions/terminate" in site.client("tenderer").get(f"/projects/{pid}").text
    clock.advance(timedelta(days=1, hours=2))  # (the session has expired by then: sign in again)
    assert "剩余 19 天 22 小时" in site.client("agency").get(f"/projects/{pid}").text


def test_countdowns_and_step_labels_in_english(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    page = site.client("agency", lang="en").get(f"/projects/{pid}").text
    assert '<html lang="en">' in page and "21 d 0 h left" in page and "Close bidding" in page
    assert "剩余" not in page


def test_nineteen_day_bid_deadline_is_refused_with_the_chinese_rule_message(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    upload(site, pid)
    agency = site.client("agency")
    form = agency.get(f"/projects/{pid}").text
    assert "最早可设为：2026-03-22（招标投标法 第24条）" in form  # the earliest deadline, before any attempt
    r = agency.post(
        f"/projects/{pid}/actions/issue_documents",
        data={"csrf_token": csrf(agency), "bid_deadline": "2026-03-21T09:00"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "投标截止时间距招标文件发出之日不足20日（招标投标法 第24条），最早可设为 2026-03-22" in r.text
    assert "rules.eng.doc_issue_to_bid_deadline" in r.text
    assert 'value="2026-03-21T09:00"' in r.text  # the form keeps what was typed
    assert f'name="next" value="/projects/{pid}"' in r.text  # the language switch returns to the page, not the POST
    assert site.project(pid).state == "announced"


def test_refusal_is_shown_in_english_with_the_english_rule_message(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    upload(site, pid)
    agency = site.client("agency", lang="en")
    agency.get(f"/projects/{pid}")
    r = agency.post(
        f"/projects/{pid}/actions/issue_documents",
        data={"csrf_token": csrf(agency), "bid_deadline": "2026-03-21T09:00"},
    )
    assert r.status_code == 422
    assert (
        "The bid deadline is less than 20 days after the tender documents were issued (招标投标法 第24条); "
        "the earliest allowed is 2026-03-22" in r.text
    )
    assert "不足20日" not in r.text and "The step was refused." in r.text


def test_bid_deadline_typed_in_beijing_time_starts_bidding(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    upload(site, pid)
    agency = site.client("agency")
    agency.get(f"/projects/{pid}")
    r = agency.post(
        f"/projects/{pid}/actions/issue_documents",
        data={"csrf_token": csrf(agency), "bid_deadline": "2026-03-23T09:00"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}"
    p = site.project(pid)
    assert p.state == "bidding"
    assert project_facts(p, T0).bid_deadline == datetime(2026, 3, 23, 1, 0, tzinfo=UTC)
    issued = tags(site.platform)
    assert "web:project:issue_documents" in issued
    assert issued[issued.index("web:project:issue_documents") + 1 :] == ["web:opening:key_create"]  # the section key


def test_illegal_step_is_refused_naming_the_state(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    tenderer = site.client("tenderer")
    tenderer.get(f"/projects/{pid}")
    r = tenderer.post(
        f"/projects/{pid}/actions/confirm_award",
        data={"csrf_token": csrf(tenderer), "winner_uscc": site.world.orgs["bidder_a"].uscc, "amount": "1.00"},
    )
    assert r.status_code == 409 and "当前状态「投标中」不能执行「确认中标」" in r.text
    assert "procedure.illegal_transition" in r.text
    p = site.project(pid)
    assert (p.state, p.winner_org_id) == ("bidding", None)


def test_missing_required_date_is_refused_in_chinese(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    upload(site, pid)
    agency = site.client("agency")
    agency.get(f"/projects/{pid}")
    r = agency.post(f"/projects/{pid}/actions/issue_documents", data={"csrf_token": csrf(agency)})
    assert r.status_code == 422 and "请填写「投标截止时间」。" in r.text
    r = agency.post(
        f"/projects/{pid}/actions/issue_documents", data={"csrf_token": csrf(agency), "bid_deadline": "next week"}
    )
    assert r.status_code == 422 and "「投标截止时间」的时间格式错误。" in r.text
    assert site.project(pid).state == "announced"


def test_project_page_refuses_bidders_and_regulators_of_other_regions(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    for who in ("bidder_a", "regulator_far"):
        r = site.client(who).get(f"/projects/{pid}")
        assert r.status_code == 403 and "您无权查看该项目的此页面。" in r.text and "池州市示范道路工程" not in r.text
        assert site.client(who).get(f"/projects/{pid}/documents/1").status_code == 403
    assert site.client("regulator").get(f"/projects/{pid}").status_code == 200
    r = site.client().get(f"/projects/{pid}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/projects/{pid}"
    assert site.client("agency").get("/projects/999").status_code == 404


def test_my_projects_lists_the_projects_of_the_parties_with_their_state(site: Site) -> None:
    first = new_project(site, "第一个项目")
    second = new_project(site, "第二个项目")
    announce(site, second)
    for who in ("agency", "tenderer", "regulator", "operator"):
        page = site.client(who).get("/projects").text
        assert (
            f'href="/projects/{first}">第一个项目</a>' in page and f'href="/projects/{second}">第二个项目</a>' in page
        )
        assert "已登记（待受理）" in page and "招标公告已发布" in page
    for who in ("bidder_a", "regulator_far"):
        page = site.client(who).get("/projects").text
        assert "第一个项目" not in page and "您还没有项目。" in page
    assert 'href="/portal"' in site.client("bidder_a").get("/projects").text


def test_upload_through_the_form_records_the_hash(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    agency = site.client("agency")
    agency.get(f"/projects/{pid}")
    data = PDF + b"v2"
    r = agency.post(
        f"/projects/{pid}/documents",
        data={"csrf_token": csrf(agency), "kind": "tender_documents", "title": "招标文件（第二版）", "public": "1"},
        files={"file": ("C:\\docs\\招标文件.pdf", data, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with site.platform.db.read() as s:
        doc = s.scalars(select(ProjectDocument).where(ProjectDocument.project_id == pid)).one()
        assert (doc.sha256, doc.filename, doc.public) == (hashlib.sha256(data).hexdigest(), "招标文件.pdf", True)
        assert doc.ledger_index is not None
    page = agency.get(f"/projects/{pid}").text
    assert hashlib.sha256(data).hexdigest() in page and "招标文件（第二版）" in page
    r = agency.post(
        f"/projects/{pid}/documents",
        data={"kind": "other"},
        files={"file": ("x.pdf", b"x", "application/pdf")},
    )
    assert r.status_code == 403
    r = site.client("bidder_a").post(
        f"/projects/{pid}/documents",
        data={"csrf_token": csrf(site.client("bidder_a")), "kind": "other"},
        files={"file": ("x.pdf", b"x", "application/pdf")},
    )
    assert r.status_code == 403
    with site.platform.db.read() as s:
        assert len(list(s.scalars(select(ProjectDocument)))) == 1


# --- the bidder's page -------------------------------------------------------------------------------------


def test_bidder_downloads_issued_documents_and_previews_the_pdf_inline(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    early = upload(site, pid)
    bidder = site.client("bidder_a")
    assert "招标（采购）文件尚未发出。" in bidder.get(f"/bidder/projects/{pid}").text
    assert bidder.get(f"/bidder/projects/{pid}/documents/{early}").status_code == 404  # not issued yet
    deadline = site.platform.clock.now() + timedelta(days=21)
    site.perform("agency", pid, "issue_documents", bid_deadline=deadline.isoformat())
    report = upload(site, pid, kind="evaluation_report", data=b"secret report", title="评标报告")
    page = bidder.get(f"/bidder/projects/{pid}").text
    assert f'href="/bidder/projects/{pid}/documents/{early}"' in page
    assert f'href="/bidder/projects/{pid}/documents/{early}/preview"' in page
    assert "评标报告" not in page and "剩余 21 天 0 小时" in page
    r = bidder.get(f"/bidder/projects/{pid}/documents/{early}")
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E6%8B%9B%E6%A0%87%E6%96%87%E4%BB%B6.pdf" in r.headers["content-disposition"]
    r = bidder.get(f"/bidder/projects/{pid}/documents/{early}/preview")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline;")
    assert bidder.get(f"/bidder/projects/{pid}/documents/{report}").status_code == 404


def test_non_pdf_files_are_never_shown_inline(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    doc = site.act(
        "agency",
        service.add_document,
        pid,
        kind="amendment",
        title="澄清",
        filename="x.html",
        content_type="text/html",
        data=b"<script>alert(1)</script>",
    )
    r = site.client("bidder_a").get(f"/bidder/projects/{pid}/documents/{doc.id}/preview")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["content-type"] == "application/octet-stream"


def test_bidder_raises_an_objection_and_sees_the_answer(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid, days=25)
    bidder = site.client("bidder_b")
    page = bidder.get(f"/bidder/projects/{pid}").text
    assert f'action="/bidder/projects/{pid}/objections"' in page
    assert "对招标文件提出异议的期限" in page  # the last day to object is a countdown of the bidder's page
    r = bidder.post(
        f"/bidder/projects/{pid}/objections",
        data={"csrf_token": csrf(bidder), "text": "评分标准第3条排斥潜在投标人"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and site.project(pid).state == "suspended"
    assert "评分标准第3条排斥潜在投标人" in bidder.get(f"/bidder/projects/{pid}").text
    assert "评分标准第3条" not in site.client("bidder_a").get(f"/bidder/projects/{pid}").text  # not another's
    agency = site.client("agency")
    page = agency.get(f"/projects/{pid}").text
    assert "评分标准第3条排斥潜在投标人" in page and "乙建筑公司" in page and "待答复" in page
    answer = re.search(r'action="(/projects/\d+/objections/\d+/answer)"', page)
    assert answer is not None
    r = agency.post(
        answer.group(1),
        data={"csrf_token": csrf(agency), "reply": "已修改第3条", "upheld": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and site.project(pid).state == "bidding"
    page = bidder.get(f"/bidder/projects/{pid}").text
    assert "已修改第3条" in page and "异议成立" in page and "已答复" in page


def test_empty_objection_is_refused_and_changes_nothing(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    bidder = site.client("bidder_a")
    r = bidder.post(f"/bidder/projects/{pid}/objections", data={"csrf_token": csrf(bidder), "text": "  "})
    assert r.status_code == 422 and "请填写异议内容。" in r.text and site.project(pid).state == "bidding"


def test_bidder_page_is_for_bidders_and_announced_projects_only(site: Site) -> None:
    pid = new_project(site)
    r = site.client("bidder_a").get(f"/bidder/projects/{pid}")
    assert r.status_code == 404 and "池州市示范道路工程" not in r.text  # registered only: not public yet
    to_bidding(site, pid)
    r = site.client("agency").get(f"/bidder/projects/{pid}")
    assert r.status_code == 403 and "只有投标人可以查看此页面。" in r.text
    r = site.client().get(f"/bidder/projects/{pid}", follow_redirects=False)
    assert r.headers["location"] == f"/login?next=/bidder/projects/{pid}"
    assert site.client("bidder_a").get(f"/bidder/projects/{pid}").status_code == 200


# --- structure ---------------------------------------------------------------------------------------------


def test_project_pages_carry_no_inline_code_and_load_only_our_scripts(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    for who, url in (
        ("agency", f"/projects/{pid}"),
        ("operator", f"/centre/projects/{pid}"),
        ("operator", "/centre/projects"),
    ):
        r = site.client(who).get(url)
        assert r.status_code == 200
        scripts = re.findall(r"<script[^>]*>", r.text)
        assert all('src="/static/' in s for s in scripts)
        assert " style=" not in r.text and "<style" not in r.text
    assert "/static/js/countdown.js?v=" in site.client("agency").get(f"/projects/{pid}").text
