"""The login pages in a real browser: Chinese rendering, password sign-in by form, language switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunbid.platform.container import Platform
from tests.browser.conftest import Tab
from tests.support.world import PASSWORD, build_world

pytestmark = pytest.mark.browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_login_page_renders_in_chinese_without_csp_errors(tab: Tab, screenshot_dir: Path) -> None:
    tab.goto("/login")
    page = tab.page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.locator("main h1").inner_text() == "登录"
    assert page.locator(".brand-name").inner_text() == "公共资源交易平台"
    assert page.locator("#password-form button[type=submit]").inner_text() == "登录"
    # The stylesheet and htmx are served by sunbid and allowed by the CSP (no inline code anywhere).
    header_bg = page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundImage")
    assert "linear-gradient" in header_bg
    assert page.evaluate("typeof window.htmx") == "object"
    shot = screenshot_dir / "login.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    page.get_by_role("link", name="证书登录（CA锁）").click()
    page.wait_for_url("**/login?tab=cert")
    assert page.locator("#challenge-message").inner_text().startswith("sunbid-login-v1|")
    page.screenshot(path=str(screenshot_dir / "login-cert.png"), full_page=True)
    assert tab.errors == []


def test_password_login_through_the_form_shows_the_home_page(
    platform: Platform, tab: Tab, screenshot_dir: Path
) -> None:
    build_world(platform)
    tab.goto("/login")
    page = tab.page
    page.fill("#username", "bidder_a")
    page.fill("#password", PASSWORD)
    page.locator("#password-form button[type=submit]").click()
    page.wait_for_url(tab.base + "/")
    heading = page.locator("main h1").inner_text()
    assert "投标人/供应商" in heading and "甲建筑公司用户" in heading
    assert page.locator(".role-card[data-role=bidder]").count() == 1
    page.screenshot(path=str(screenshot_dir / "home-bidder.png"), full_page=True)
    page.get_by_role("button", name="退出").click()
    page.wait_for_url(tab.base + "/")
    assert page.locator(".site-nav").get_by_role("link", name="登录", exact=True).count() == 1
    assert page.locator(".role-card").count() == 0
    assert tab.errors == []


def test_language_switch_to_english_and_back(tab: Tab) -> None:
    tab.goto("/login?tab=cert")
    page = tab.page
    page.get_by_role("button", name="English").click()
    page.wait_for_function("document.documentElement && document.documentElement.lang === 'en'")
    assert page.locator("main h1").inner_text() == "Sign in"
    assert page.url.endswith("/login?tab=cert")  # back on the same page
    page.get_by_role("button", name="中文").click()
    page.wait_for_function("document.documentElement && document.documentElement.lang === 'zh-CN'")
    assert page.locator("main h1").inner_text() == "登录"
    assert tab.errors == []
