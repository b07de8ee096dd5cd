"""The regulator's screening page in a real browser: the bid plots render (SVG, no script, no CDN) in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunbid.platform.container import Platform
from sunbid.screening.io import parse_csv_text
from sunbid.screening.service import ScreeningStore, score
from sunbid.screening.synthetic import synthetic_csv
from tests.browser.conftest import Tab
from tests.support.world import PASSWORD, build_world

pytestmark = pytest.mark.browser


def test_regulator_reads_the_riskiest_tenders_with_their_bid_plots(
    platform: Platform, tab: Tab, screenshot_dir: Path
) -> None:
    build_world(platform)
    data = parse_csv_text(synthetic_csv(30, seed=4))
    ScreeningStore.of_data_dir(platform.settings.data_dir).save("demo", "demo.csv", data, score(data, trees=20))
    requests: list[str] = []
    tab.page.on("request", lambda r: requests.append(r.url))
    tab.goto("/login?next=/supervision/screening/demo")
    tab.page.fill("#username", "regulator")
    tab.page.fill("#password", PASSWORD)
    tab.page.locator("#password-form button[type=submit]").click()
    tab.page.wait_for_url(tab.base + "/supervision/screening/demo")
    cards = tab.page.locator("section.tender-risk")
    assert cards.count() == 30
    first = cards.first
    assert "#1" in first.locator("h2").inner_text()
    plot = first.locator("svg.bid-plot")
    box = plot.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 60
    assert plot.locator("g.bid").count() >= 3 and plot.locator("g.bid.winner").count() == 1
    assert "主要原因" in first.inner_text()
    tab.page.screenshot(path=str(screenshot_dir / "screening.png"), full_page=False)
    assert all(u.startswith(tab.base) for u in requests)
    assert tab.errors == []
