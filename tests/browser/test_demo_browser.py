"""The demo's pages, as a new user sees them in a real browser: Chinese, with the tenders' timelines and the
opening hall of a tender opened remotely."""

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


def test_the_demo_opening_hall_replays_the_road_tenders_remote_opening(
    platform: Platform, browser: Browser, live_server: str, tmp_path: Path
) -> None:
    summary = seed(platform, cert_dir=tmp_path / "certs")
    opening = next(p for p in summary["projects"] if p["final_state"] == "archived")["opening"]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_server}{opening['hall_url']}")
        texts = {part: page.locator(f"#hall-{part}").inner_text() for part in ("stage", "bidders", "record", "valid")}
        draws = " ".join(page.locator("#hall-draws .c-value").all_inner_texts())
        page.screenshot(path=str(tmp_path / "demo-hall.png"), full_page=True)
        assert texts["stage"] == "开标结束" and "3" in texts["valid"]
        assert "池州第一建筑工程有限公司" in texts["record"] and "11860000.00" in texts["record"]
        assert "信用等级：AAA" in texts["record"] and "类似工程业绩：3" in texts["record"]  # the declared facts
        assert "视为撤销" in texts["record"] and "视为撤销" in texts["bidders"]  # the bidder who gave up
        assert texts["bidders"].count("确认无异议") == 3
        assert "池州市贵池区路桥工程有限公司" not in texts["bidders"]  # refused at the deadline: not in the hall
        assert opening["coefficients"]["01"] in draws
    finally:
        context.close()
