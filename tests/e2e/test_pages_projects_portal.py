"""The public portal end to end: the announcement list (newest first, paginated) and an announced project's
page, showing everything public and nothing else."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest

from sunbid.core.clock import FakeClock
from sunbid.platform.container import Platform
from sunbid.projects import service
from tests.e2e.test_pages_projects import PDF, T0, Site, announce, build_site, new_project, to_bidding, upload


@pytest.fixture
def site(platform: Platform, clock: FakeClock) -> Site:
    clock.set(T0)
    return build_site(platform)


def _codes(html: str) -> list[str]:
    return re.findall(r'<tr data-code="([^"]+)">', html)


def test_portal_lists_announcements_newest_first_twenty_a_page(site: Site, clock: FakeClock) -> None:
    pids = []
    for i in range(21):
        pid = new_project(site, f"道路工程{i:02d}")
        announce(site, pid)
        pids.append(pid)
        clock.advance(timedelta(minutes=5))
    hidden = new_project(site, "未公告的项目")  # registered only
    anon = site.client()
    first = anon.get("/portal")
    assert first.status_code == 200 and '<html lang="zh-CN">' in first.text and "<h1>交易公告</h1>" in first.text
    codes = [site.project(p).code for p in reversed(pids)]
    assert _codes(first.text) == codes[:20]
    assert "第 1 页，共 2 页 · 21 条公告" in first.text and 'href="/portal?page=2"' in first.text
    row = first.text.split(f'<tr data-code="{codes[0]}">')[1].split("</tr>")[0]
    assert "道路工程20" in row and "公开招标（工程建设）" in row and "池州市" in row and "招标公告已发布" in row
    second = anon.get("/portal?page=2")
    assert _codes(second.text) == codes[20:] and 'href="/portal?page=1"' in second.text
    assert site.project(hidden).code not in first.text + second.text and "未公告的项目" not in first.text
    assert anon.get("/portal?page=0").status_code == 422
    assert anon.get("/portal?page=3").status_code == 404


def test_portal_list_shows_the_bid_deadline(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    row = site.client().get("/portal").text.split(f'<tr data-code="{site.project(pid).code}">')[1].split("</tr>")[0]
    assert "2026-03-23 09:00" in row and "投标（响应）截止时间" in row and "投标中" in row


def test_announced_project_page_shows_public_documents_dates_and_steps_only(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid, days=25)
    private = upload(site, pid, kind="other", data=b"internal memo", public=False, title="内部备忘")
    report = upload(site, pid, kind="evaluation_report", data=b"report", title="评标报告草稿")
    site.act("bidder_b", service.raise_objection, pid, text="评分标准第3条排斥潜在投标人")
    with site.platform.uow() as uow:
        service.update_facts(uow, pid, "bids received", bids_received=7)
        uow.commit()
    code = site.project(pid).code
    r = site.client().get(f"/portal/projects/{code}")
    assert r.status_code == 200 and '<html lang="zh-CN">' in r.text
    page = r.text
    assert "池州市示范道路工程" in page and "池州市城投公司" in page and "12,500,000.00 元" in page
    assert hashlib.sha256(PDF).hexdigest() in page
    assert f'href="/portal/projects/{code}/documents/1/preview"' in page
    assert "内部备忘" not in page and "评标报告草稿" not in page  # neither a private document nor a report
    assert "评分标准" not in page and "<strong>提出异议（质疑）</strong>" not in page  # no objection step or text
    assert "收到的投标" not in page and ">7<" not in page  # no bid count before the opening
    assert "<strong>发布公告</strong>" in page and "<strong>发出招标（采购）文件</strong>" in page
    assert "<strong>登记项目</strong>" not in page and "<strong>受理</strong>" not in page
    assert "代理员小王" not in page and "operator" not in page  # nobody's name
    assert "绿色通道" not in page  # an internal flag of the centre
    assert "<dt>投标（响应）截止时间</dt><dd>2026-03-27 09:00</dd>" in page
    anon = site.client()
    assert anon.get(f"/portal/projects/{code}/documents/{private}").status_code == 404
    assert anon.get(f"/portal/projects/{code}/documents/{report}").status_code == 404
    r = anon.get(f"/portal/projects/{code}/documents/1")
    assert r.status_code == 200 and r.content == PDF and r.headers["content-disposition"].startswith("attachment;")
    r = anon.get(f"/portal/projects/{code}/documents/1/preview")
    assert r.headers["content-disposition"].startswith("inline;") and r.headers["content-type"] == "application/pdf"


def test_projects_not_yet_announced_are_not_on_the_portal(site: Site) -> None:
    pid = new_project(site)
    site.perform("operator", pid, "accept")
    doc = upload(site, pid, kind="announcement", title="公告草稿")
    code = site.project(pid).code
    anon = site.client()
    r = anon.get(f"/portal/projects/{code}")
    assert r.status_code == 404 and "池州市示范道路工程" not in r.text and "该公告不存在。" in r.text
    assert anon.get(f"/portal/projects/{code}/documents/{doc}").status_code == 404
    assert anon.get("/portal/projects/nope").status_code == 404
    site.perform("agency", pid, "publish_announcement")
    assert anon.get(f"/portal/projects/{code}/documents/{doc}").status_code == 200  # public once announced


def test_tender_documents_become_public_when_issued(site: Site) -> None:
    pid = new_project(site)
    announce(site, pid)
    doc = upload(site, pid)
    code = site.project(pid).code
    anon = site.client()
    assert "尚未公开文件。" in anon.get(f"/portal/projects/{code}").text
    assert anon.get(f"/portal/projects/{code}/documents/{doc}").status_code == 404
    site.perform("agency", pid, "issue_documents", bid_deadline=(T0 + timedelta(days=21)).isoformat())
    assert f"/portal/projects/{code}/documents/{doc}" in anon.get(f"/portal/projects/{code}").text
    assert anon.get(f"/portal/projects/{code}/documents/{doc}").status_code == 200


def test_portal_in_english(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    anon = site.client(lang="en")
    listing = anon.get("/portal").text
    assert "<h1>Trading announcements</h1>" in listing and "Open tendering (engineering construction)" in listing
    page = anon.get(f"/portal/projects/{site.project(pid).code}").text
    assert '<html lang="en">' in page and "Public documents" in page and "21 d 0 h left" in page
    assert "公开文件" not in page
