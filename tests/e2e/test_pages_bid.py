"""The bid page ``/projects/{id}/bid``: who may open it, what it shows, withdraw through the form (no script)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sunbid.bidding import service as bids
from sunbid.core.clock import FakeClock
from sunbid.platform.container import Platform
from tests.e2e.test_pages_projects import T0, Site, build_site, csrf, new_project, tags, to_bidding
from tests.integration.bidding.bidtools import Sealer, make_sealer


@pytest.fixture
def site(platform: Platform, clock: FakeClock) -> Site:
    clock.set(T0)
    return build_site(platform)


def _submit(site: Site, sealer: Sealer, pid: int, who: str = "bidder_a") -> int:
    """A bid of ``who`` through the service (the upload protocol itself is tested with the API and the CLI)."""
    code = site.project(pid).code
    data = sealer.seal(site.world.orgs[who], code)
    digest = site.platform.suite.digest(data).hex()
    upload = site.act(who, bids.create_upload, pid, "01", length=len(data), container_hash=digest)
    site.act(who, bids.append_chunk, upload.id, 0, data)
    return int(site.act(who, bids.complete_upload, upload.id).id)


def test_bid_page_is_for_the_projects_bidders_only(site: Site) -> None:
    pid = new_project(site)
    assert site.client("bidder_a").get(f"/projects/{pid}/bid").status_code == 404  # not announced yet
    to_bidding(site, pid)
    r = site.client().get(f"/projects/{pid}/bid", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/login?next=/projects/{pid}/bid"
    for who in ("agency", "tenderer", "operator", "regulator"):
        r = site.client(who).get(f"/projects/{pid}/bid")
        assert r.status_code == 403 and "只有本项目的投标人可以打开此页面。" in r.text, who
        assert 'id="bid-upload"' not in r.text
    assert site.client("bidder_a").get("/projects/999999/bid").status_code == 404


def test_bid_page_offers_the_upload_in_chinese_and_links_from_the_bidders_page(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    c = site.client("bidder_a")
    r = c.get(f"/projects/{pid}/bid")
    assert r.status_code == 200
    assert "递交投标文件" in r.text and "投标截止时间" in r.text and "尚未递交投标文件。" in r.text
    assert f'data-project="{pid}"' in r.text and f'data-csrf="{csrf(c)}"' in r.text
    assert f"--project {pid}:{site.project(pid).code}" in r.text  # the sealing command to copy
    scripts = re.findall(r"<script[^>]*>", r.text)
    assert all('src="/static/' in s for s in scripts) and any("bid_upload.js?v=" in s for s in scripts)
    assert c.get(f"/bidder/projects/{pid}").text.count(f'href="/projects/{pid}/bid"') == 1
    c.cookies.set("sunbid_lang", "en")
    english = c.get(f"/projects/{pid}/bid").text
    assert "Submit a sealed bid" in english and "No bid submitted yet." in english


def test_bidder_sees_only_its_own_bids_and_withdraws_with_the_form(site: Site, clock: FakeClock) -> None:
    pid = new_project(site)
    deadline = to_bidding(site, pid)
    sealer = make_sealer(site.platform.suite.name, site.platform)
    mine = _submit(site, sealer, pid, "bidder_a")
    theirs = _submit(site, sealer, pid, "bidder_b")
    a = site.client("bidder_a")
    page = a.get(f"/projects/{pid}/bid").text
    assert f'data-bid="{mine}"' in page and f'data-bid="{theirs}"' not in page
    assert "已递交" in page and f"/projects/{pid}/bid/{mine}/withdraw" in page

    forged = a.post(f"/projects/{pid}/bid/{mine}/withdraw", data={"csrf_token": "wrong"})
    assert forged.status_code == 403
    stolen = a.post(f"/projects/{pid}/bid/{theirs}/withdraw", data={"csrf_token": csrf(a)})
    assert stolen.status_code == 404  # B's bid does not exist for A

    done = a.post(f"/projects/{pid}/bid/{mine}/withdraw", data={"csrf_token": csrf(a)}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/projects/{pid}/bid?withdrawn={mine}#mine"
    after = a.get(done.headers["location"]).text
    assert "投标已撤回。" in after and "已撤回" in after
    assert "web:bid:withdraw" in tags(site.platform)

    clock.set(deadline + timedelta(milliseconds=1))
    b = site.client("bidder_b")
    closed = b.get(f"/projects/{pid}/bid").text
    assert "本项目当前不接受投标。" in closed and 'id="bid-upload"' not in closed
    assert f"/projects/{pid}/bid/{theirs}/withdraw" not in closed
    late = b.post(f"/projects/{pid}/bid/{theirs}/withdraw", data={"csrf_token": csrf(b)})
    assert late.status_code == 409 and "投标截止时间已过" in late.text


@pytest.mark.parametrize("suite_name", ["gm"])
def test_bid_page_under_the_gm_suite_points_to_the_command_line(site: Site) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    text = site.client("bidder_a").get(f"/projects/{pid}/bid").text
    assert 'id="bid-gm"' in text and "浏览器无法计算 SM3" in text and 'id="bid-upload"' not in text


def test_the_sealing_command_names_the_facts_the_evaluation_method_reads(site: Site) -> None:
    from sunbid.evaluation import service as evaluation
    from tests.integration.evaluation.conftest import method_json

    pid = new_project(site)
    to_bidding(site, pid)
    assert "--fact" not in site.client("bidder_a").get(f"/projects/{pid}/bid").text  # no method attached yet
    site.act("agency", lambda uow, actor: evaluation.attach_method(uow, actor, pid, method_json()))
    page = site.client("bidder_a").get(f"/projects/{pid}/bid").text
    facts = re.findall(r"--fact (\S+)=…", page)
    assert facts == ["质量管理体系认证", "信用等级", "类似工程业绩"]  # what eng-comprehensive's objective items read
