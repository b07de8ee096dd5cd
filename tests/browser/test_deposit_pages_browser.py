"""The deposit pages of the demo in a real browser: a losing bidder sees its refund with interest, the centre's
console shows every day's reconciliation balanced and the statistics per period, in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from sunbid.platform.container import Platform
from sunbid.platform.demo import DEMO_PASSWORD, seed

pytestmark = pytest.mark.browser


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def test_the_demo_bidder_sees_its_refunds_and_the_console_its_reconciliations(
    platform: Platform, browser: Browser, live_server: str, tmp_path: Path
) -> None:
    summary = seed(platform, cert_dir=tmp_path / "certs")
    road = next(p for p in summary["projects"] if p["final_state"] == "archived")["deposits"]
    loser = next(b for b in road["bidders"] if b["bidder"] == "九华山建设集团有限公司")
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _login(page, live_server, "bidder3")
        page.goto(f"{live_server}/deposits/mine")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        body = page.inner_text("body")
        assert "我的投标保证金" in body and "基本账户" in body
        refunds = page.locator("table.refunds").first.inner_text()
        assert loser["refunds"][0]["interest"] in body and "已退还" in refunds and "未中标退还" in refunds
        assert page.locator("[data-status=paid]").count() >= 1  # its own status, after the opening
        assert page.locator("[data-guarantee=verified]").count() == 1  # the imaging tender's insurance
        page.screenshot(path=str(tmp_path / "deposits-mine.png"), full_page=True)
        page.context.clear_cookies()
        _login(page, live_server, "operator")
        page.goto(f"{live_server}/deposits/console")
        console = page.inner_text("body")
        assert "保证金控制台" in console and "账实相符" in console and "存在差异" not in console
        balanced = page.locator(".reconciliation[data-balanced=true]").count()
        assert balanced == summary["deposit_reconciliations"]["statements"] > 0
        assert page.locator("#period-stats tbody tr").count() >= 1
        page.click("a[href='/deposits/console?period=year#stats']")
        page.wait_for_load_state()
        assert page.locator("#period-stats tbody tr").count() >= 1
        page.screenshot(path=str(tmp_path / "deposits-console.png"), full_page=True)
    finally:
        context.close()
