"""The demo's pages, as a new user sees them in a real browser: Chinese, with the tenders' timelines."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from sunbid.platform.container import Platform
from sunbid.platform.demo import DEMO_PASSWORD, seed

pytestmark = pytest.mark.browser


def test_demo_portal_and_project_pages_render_in_chinese(
    platform: Platform, browser: Browser, live_server: str, tmp_path: Path
) -> None:
    summary = seed(platform, cert_dir=tmp_path / "certs")
    archived = next(p for p in summary["projects"] if p["final_state"] == "archived")
    live = next(p for p in summary["projects"] if p["final_state"] == "bidding")
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})  # an English browser
    page = context.new_page()
    try:
        page.goto(f"{live_server}/portal")
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        body = page.inner_text("body")
        assert "交易公告" in body and archived["name"] in body and live["name"] in body
        page.goto(f"{live_server}/portal/projects/{archived['code']}")
        detail = page.inner_text("body")
        assert archived["name"] in detail and "已归档" in detail
        page.screenshot(path=str(tmp_path / "demo-portal-project.png"))
        page.goto(f"{live_server}/login")
        page.fill("input[name=username]", "agency")
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form[action='/login'] button[type=submit]")
        page.goto(f"{live_server}/projects")
        mine = page.inner_text("body")
        assert "我的项目" in mine and live["name"] in mine
        page.get_by_text(live["name"]).first.click()
        project = page.inner_text("body")
        assert "投标截止" in project or "截止" in project
        assert "剩余" in project or "天" in project  # the countdown to the live deadline
        page.screenshot(path=str(tmp_path / "demo-live-project.png"))
    finally:
        context.close()
