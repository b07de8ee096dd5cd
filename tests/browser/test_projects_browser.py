"""Project pages in a real browser: the operator accepts a project, the agency sees its countdowns, the public
portal lists an announcement and shows it, all in Chinese and without CSP errors (screenshots kept)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunbid.core.clock import FakeClock
from sunbid.platform.container import Platform
from tests.browser.conftest import Tab
from tests.e2e.test_pages_projects import T0, Site, build_site, new_project, to_bidding
from tests.support.world import PASSWORD

pytestmark = pytest.mark.browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def site(platform: Platform, clock: FakeClock) -> Site:
    clock.set(T0)
    return build_site(platform)


def _sign_in(tab: Tab, username: str, next_url: str) -> None:
    tab.goto(f"/login?next={next_url}")
    tab.page.fill("#username", username)
    tab.page.fill("#password", PASSWORD)
    tab.page.locator("#password-form button[type=submit]").click()
    tab.page.wait_for_url(tab.base + next_url)


def _shot(tab: Tab, path: Path) -> None:
    tab.page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000


def test_operator_accepts_a_project_through_the_page(site: Site, tab: Tab, screenshot_dir: Path) -> None:
    pid = new_project(site)
    _sign_in(tab, "operator", "/centre/projects")
    page = tab.page
    item = page.locator(f".queue-item[data-project='{pid}']")
    assert item.locator(".queue-title").inner_text() == "池州市示范道路工程"
    _shot(tab, screenshot_dir / "centre-acceptance.png")
    item.get_by_label("绿色通道").check()
    item.get_by_role("button", name="受理", exact=True).click()
    page.wait_for_url(f"{tab.base}/centre/projects/{pid}")
    assert page.locator("main h1 .badge").inner_text() == "已受理"
    steps = page.locator("table.timeline tbody tr")
    assert steps.count() == 2 and "受理" in steps.nth(1).inner_text()
    href = steps.nth(1).locator("a.log-link").get_attribute("href")
    assert href is not None and href.startswith("/api/v1/log/proof/inclusion?index=")
    assert site.project(pid).green_channel is True
    _shot(tab, screenshot_dir / "centre-witness.png")
    assert tab.errors == []


def test_agency_sees_the_countdown_of_the_bid_deadline(site: Site, tab: Tab, screenshot_dir: Path) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    _sign_in(tab, "agency", f"/projects/{pid}")
    page = tab.page
    bid = page.locator(".countdown", has=page.locator(".countdown-label", has_text="投标截止"))
    assert bid.locator(".countdown-left").inner_text() == "剩余 21 天 0 小时"
    assert bid.locator("time").inner_text() == "2026-03-23 09:00"
    # The script has ticked, from the server's (fake) time rather than the browser's clock: it agrees.
    page.wait_for_selector("[data-countdowns][data-ticking]", state="attached")
    assert bid.locator(".countdown-left").inner_text() == "剩余 21 天 0 小时"
    assert page.locator("#steps form[data-action=amend_documents]").count() == 1
    _shot(tab, screenshot_dir / "project-agency.png")
    assert tab.errors == []


def test_public_portal_lists_the_announcement_and_shows_it_in_chinese(
    site: Site, tab: Tab, screenshot_dir: Path
) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    code = site.project(pid).code
    tab.goto("/portal")
    page = tab.page
    assert page.locator("main h1").inner_text() == "交易公告"
    row = page.locator(f"tr[data-code='{code}']")
    assert "池州市示范道路工程" in row.inner_text() and "2026-03-23 09:00" in row.inner_text()
    _shot(tab, screenshot_dir / "portal-list.png")
    row.get_by_role("link", name="池州市示范道路工程").click()
    page.wait_for_url(f"{tab.base}/portal/projects/{code}")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("main h1 .project-name").inner_text() == "池州市示范道路工程"
    assert page.locator("#documents tbody tr").count() == 1
    assert page.locator("#timeline tbody tr").count() == 2  # announcement and documents issued: public steps only
    _shot(tab, screenshot_dir / "portal-project.png")
    assert tab.errors == []
