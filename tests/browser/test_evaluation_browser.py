"""The scoring page in a real browser: a member scores, another's deviating score is held until he writes why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.conftest import Tab
from tests.integration.evaluation.conftest import EXPERT_PASSWORD, Vw, started
from tests.integration.evaluation.conftest import vw as vw  # the fixture
from tests.integration.projects.conftest import tw as tw  # the fixture

pytestmark = pytest.mark.browser


def _login(tab: Tab, username: str) -> None:
    tab.page.context.clear_cookies()
    tab.goto("/login")
    tab.page.fill("#username", username)
    tab.page.fill("#password", EXPERT_PASSWORD)
    tab.page.locator("#password-form button[type=submit]").click()
    tab.page.wait_for_url(tab.base + "/")


def _fill(tab: Tab, vw: Vw, plan_a: str) -> None:
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        u = vw.uscc(who)
        tab.page.fill(f"#s-{u}-plan", plan_a if who == "bidder_a" else "11")
        tab.page.fill(f"#s-{u}-schedule", "8")


def test_scoring_with_a_deviation_intervention(vw: Vw, tab: Tab, screenshot_dir: Path) -> None:
    started(vw)
    page = tab.page
    _login(tab, vw.member(1))
    tab.goto(f"/evaluation/{vw.pid}")
    assert vw.ow.org("bidder_a").name in page.locator("#bids").inner_text()
    # the leader verifies a fact: bidder C declared its similar projects as "三", the documents show 2
    c = vw.uscc("bidder_c")
    cell = page.locator(f"#o-{c}-experience")
    assert "0.00" in cell.inner_text() and "无法识别" in cell.inner_text()
    assert page.locator(f"#s-{c}-experience").count() == 0  # computed, never typed in
    page.select_option("#fact-bidder", c)
    page.select_option("#fact-field", "extra.类似工程业绩")
    page.fill("#fact-value", "2")
    page.fill("#fact-reason", "业绩证明为两项已竣工验收的道路工程，认定 2 项。")
    page.locator("#fact-submit").click()
    page.wait_for_selector("#corrections")
    assert "4.00" in page.locator(f"#o-{c}-experience").inner_text()
    assert "已核实更正" in page.locator(f"#o-{c}-experience").inner_text()
    page.screenshot(path=str(screenshot_dir / "evaluation-objective.png"), full_page=True)
    _fill(tab, vw, "12")
    page.locator("#submit").click()
    page.wait_for_selector("#submitted")

    _login(tab, vw.member(2))
    tab.goto(f"/evaluation/{vw.pid}")
    assert page.locator("#s-{}-quality".format(vw.uscc("bidder_a"))).count() == 0  # objective items: computed
    assert page.locator("#fact-form").count() == 0 and page.locator("#corrections").count() == 1
    assert page.locator(f"#s-{vw.uscc('bidder_a')}-plan").input_value() == ""  # nobody else's scores
    _fill(tab, vw, "5")
    page.locator("#submit").click()
    page.wait_for_selector("#interventions")
    reason = page.locator(f"#r-{vw.uscc('bidder_a')}-plan")
    assert reason.count() == 1
    page.screenshot(path=str(screenshot_dir / "evaluation-intervention.png"), full_page=True)
    reason.fill("甲公司施工方案缺少雨季施工和关键工序的质量控制措施。")
    page.locator("#submit").click()
    page.wait_for_selector("#submitted")
    assert "评分已提交" in page.locator("#notice").inner_text()
    page.screenshot(path=str(screenshot_dir / "evaluation-submitted.png"), full_page=True)
    # the held submission answers 409 (as the API does), which Chromium logs; nothing else may appear
    assert [e for e in tab.errors if "status of 409" not in e] == []
