"""The live opening hall in a real headless browser: the page subscribes to the event stream and shows check-in,
the opening record and an objection's answer as the session produces them, without a reload; what it builds
live reads exactly as the server renders it after a reload; replay steps through a finished session."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from sunbid.core.clock import FakeClock
from sunbid.opening import session
from sunbid.platform.container import Platform
from tests.browser.conftest import Tab
from tests.e2e.test_opening_hall import XSS_DECLARED, Hall, make_hall
from tests.integration.opening.conftest import BIDDERS, make_ow
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture

pytestmark = pytest.mark.browser

XSS_IMG = '<img src=x onerror="window.__xss = 1">'


@pytest.fixture
def hall(platform: Platform, clock: FakeClock) -> Hall:
    return make_hall(platform, clock)


def _snapshot(tab: Tab) -> dict[str, object]:
    """What a visitor reads in the hall's live parts."""
    page = tab.page
    return {
        "stage": page.locator("#hall-stage").inner_text(),
        "bidders": page.locator("#hall-bidders").inner_text(),
        "record": page.locator("#hall-record").inner_text(),
        "draws": page.locator("#hall-draws .c-value").all_inner_texts(),
        "objections": page.locator("#hall-objections").inner_text(),
        "log": page.locator("#hall-log .c-text").all_inner_texts(),
        "progress": page.locator("#hall-progress-text").inner_text(),
        "valid": page.locator("#hall-valid").inner_text(),
    }


def test_the_hall_shows_the_session_live_as_it_is_produced(hall: Hall, tab: Tab, screenshot_dir: Path) -> None:
    tab.goto(f"/projects/{hall.pid}/opening")
    page = tab.page
    assert page.locator("#hall-stage").inner_text() == "等待开标"
    assert page.locator("#hall-no-log").is_visible()
    page.evaluate("window.__same_page = true")
    page.wait_for_selector("#hall-live[data-status='live']")

    script = dict(enumerate(hall.script))
    hall.append(*script[0])  # session.started
    hall.append(*script[1])  # 甲 checks in
    page.wait_for_selector("#hall-bidders tr[data-name='甲建筑公司'][data-checked-in='1']")
    row = page.locator("#hall-bidders tr.hall-bidder[data-name='甲建筑公司']")
    assert row.locator(".c-section").inner_text() == "A"
    # Every bidder is listed from the start (as session.started names them); those not yet here say so.
    assert page.locator("#hall-bidders tr.hall-bidder").count() == 3
    assert page.locator("#hall-bidders tr[data-name='乙建筑公司'] .c-checkin").inner_text() == "未签到"
    assert "已签到" in row.locator(".c-checkin").inner_text()
    assert page.locator("#hall-checked-count").inner_text() == "1"
    assert page.locator("#hall-stage").inner_text() == "投标人签到"
    assert page.locator("#hall-bids").inner_text() == "3"

    for i in range(2, 5):  # 乙 checks in, the window opens, 甲's bid is decrypted
        hall.append(*script[i])
    page.wait_for_selector("#hall-bidders tr[data-name='甲建筑公司'][data-decryption='decrypted']")
    assert page.locator("#hall-stage").inner_text() == "解密中"
    assert page.locator("#hall-left").inner_text().startswith("剩余 2")
    assert page.locator("#hall-progress").evaluate("el => [el.value, el.max]") == [1, 3]
    _shot(tab, screenshot_dir / "opening-hall-decrypting.png")

    for i in range(5, 10):  # the other bids, window closed, coefficient, the opening record
        hall.append(*script[i])
    record = page.locator("#hall-record tr.hall-record-row")
    record.nth(2).wait_for()
    assert record.count() == 3
    assert record.nth(0).inner_text().split("\t")[:2] == ["甲建筑公司", "11850000.00"]
    assert "电子保函" in record.nth(1).inner_text()
    assert "视为撤销" in record.nth(2).inner_text()
    # the declared items are read out with the price, as text: the bidder's markup is never markup
    assert record.nth(0).locator(".c-extra li").all_inner_texts() == ["类似工程业绩：3", f"项目经理：{XSS_DECLARED}"]
    assert record.nth(1).locator(".c-extra li").count() == 0 and record.nth(2).locator(".c-extra li").count() == 0
    assert page.locator("#hall-record script, #hall-record b").count() == 0
    assert page.locator("#hall-record thead th").nth(4).inner_text() == "其他唱标内容"
    assert page.locator("#hall-draws .c-value").inner_text() == "0.965"
    assert page.locator("#hall-no-record").is_hidden()
    assert page.locator("#hall-progress-text").inner_text() == "已处理 3 / 3 份投标文件（解密成功 2 份，失败 1 份）"

    hall.append(*script[10])  # 甲 confirms
    hall.append("objection.raised", {"id": 7, "section": "A", "bidder_name": "乙建筑公司", "text": XSS_IMG})
    objection = page.locator("#hall-objections li[data-id='7']")
    objection.wait_for()
    assert objection.locator(".c-text").inner_text() == XSS_IMG  # shown as text, never as markup
    assert objection.locator(".c-answer").inner_text() == "等待答复"
    hall.append(*script[12])  # the answer
    page.wait_for_selector("#hall-objections li[data-id='7'][data-answered='1']")
    assert objection.locator(".c-answer").inner_text() == "答复：经核对，报价以解密文件为准。"
    assert page.locator("#hall-objections img").count() == 0
    assert page.evaluate("window.__xss") is None

    hall.append(*script[13])  # session.closed
    page.wait_for_selector("#hall-live[data-status='ended']")
    assert page.locator("#hall-stage").inner_text() == "开标结束"
    assert page.locator("#hall-valid").inner_text() == "有效投标：2 份"
    assert page.evaluate("window.__same_page") is True  # all of it without a reload
    _shot(tab, screenshot_dir / "opening-hall-closed.png")

    live = _snapshot(tab)
    assert len(live["log"]) == 14  # type: ignore[arg-type]
    tab.goto(f"/projects/{hall.pid}/opening")
    assert _snapshot(tab) == live  # built live, it reads exactly as the server renders it
    assert tab.errors == []


def test_a_reconnecting_hall_misses_nothing(hall: Hall, tab: Tab) -> None:
    hall.play(upto=3)
    tab.goto(f"/projects/{hall.pid}/opening")
    page = tab.page
    page.wait_for_selector("#hall-live[data-status='live']")
    assert page.locator("#hall-log li.hall-log-line").count() == 3
    # An event kind this page does not listen to leaves a gap: the page fetches it before the next one.
    hall.append("session.note", {"text": "主持人宣读开标纪律"})
    hall.append(*hall.script[3])
    page.wait_for_selector("#hall-log li[data-seq='5']")
    assert page.locator("#hall-log li.hall-log-line").evaluate_all("els => els.map(e => e.dataset.seq)") == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert page.locator("#hall-log li[data-seq='4'] .c-text").inner_text() == "事件 session.note"
    assert tab.errors == []


def test_the_live_hall_speaks_english_when_chosen(hall: Hall, tab: Tab) -> None:
    hall.play(upto=4)
    tab.page.context.add_cookies([{"name": "sunbid_lang", "value": "en", "url": tab.base}])
    tab.goto(f"/projects/{hall.pid}/opening")
    page = tab.page
    page.wait_for_selector("#hall-live[data-status='live']")
    assert page.locator("#hall-live").inner_text() == "Live"
    hall.append(*hall.script[6])  # 丙's bid fails: revoked
    line = page.locator("#hall-log li[data-seq='5'] .c-text")
    line.wait_for()
    assert line.inner_text() == (
        "The bid of 丙建筑公司 could not be decrypted (section A): Revoked (bidder's fault). "
        "The bidder did not decrypt in time"
    )
    assert page.locator("#hall-bidders tr[data-name='丙建筑公司'] .hall-dec").inner_text() == "Revoked (bidder's fault)"
    assert page.locator("#hall-left").inner_text().endswith(" s left")
    assert tab.errors == []


def test_replay_steps_through_a_finished_session(hall: Hall, tab: Tab, screenshot_dir: Path) -> None:
    hall.play()
    tab.goto(f"/projects/{hall.pid}/opening?replay=1")
    page = tab.page
    play = page.locator("#replay-play")
    play.wait_for(state="visible")  # the script has loaded the events
    expect(page.locator("#replay-step")).to_have_text("第 0 / 14 条")
    for n in (1, 2):
        page.locator("#replay-next").click()
        expect(page.locator("#replay-step")).to_have_text(f"第 {n} / 14 条")  # each step applied before the next
    expect(page.locator("#hall-bidders tr[data-name='甲建筑公司']")).to_have_attribute("data-checked-in", "1")
    assert page.url.endswith("?replay=1")  # stepped in the page, not by loading another
    assert page.locator("#replay-prev").get_attribute("href") == f"/projects/{hall.pid}/opening?replay=1&step=1"
    play.click()
    page.wait_for_selector("#hall[data-stage='closed']", timeout=30_000)
    expect(page.locator("#replay-step")).to_have_text("第 14 / 14 条")
    assert page.locator("#hall-record tr.hall-record-row").count() == 3
    assert page.locator("#hall-left").inner_text() == "解密已截止"
    _shot(tab, screenshot_dir / "opening-hall-replay.png")
    assert tab.errors == []


def test_the_hall_follows_a_real_opening_session(
    tw: Tw, clock: FakeClock, suite_name: str, tab: Tab, screenshot_dir: Path
) -> None:
    """Sealed bids, the deadline, remote check-in and decryption, the record, an objection: the opening service
    writes the events, the open page shows them."""
    ow = make_ow(tw, clock, suite_name)
    declared = {"质量管理体系认证": "有", "信用等级": "AAA", "类似工程业绩": "3"}
    ow.submit(BIDDERS[0], extra=declared)
    for who in BIDDERS[1:]:
        ow.submit(who)
    tab.goto(f"/projects/{ow.pid}/opening")
    page = tab.page
    page.wait_for_selector("#hall-live[data-status='live']")
    assert page.locator("#hall-stage").inner_text() == "等待开标"

    ow.to_deadline()  # the session starts by itself and opens the decryption window
    page.wait_for_selector("#hall[data-stage='decrypting']")
    assert page.locator("#hall-bids").inner_text() == "3"
    assert page.locator("#hall-bidders tr.hall-bidder").count() == 3
    assert page.locator("#hall-left").inner_text().startswith("剩余 ")

    first = ow.org(BIDDERS[0]).name
    ow.act(BIDDERS[0], session.check_in, ow.pid, "01")
    page.wait_for_selector(f"#hall-bidders tr[data-name='{first}'][data-checked-in='1']")
    assert page.locator(f"#hall-bidders tr[data-name='{first}'] .c-section").inner_text() == "01"

    for who in BIDDERS:  # the last decryption closes the window and publishes the signed record
        ow.decrypt(who)
    rows = page.locator("#hall-record tr.hall-record-row")
    rows.nth(2).wait_for()
    assert sorted(r.split("\t")[0] for r in rows.all_inner_texts()) == sorted(ow.org(w).name for w in BIDDERS)
    assert all(r.split("\t")[1] for r in rows.all_inner_texts())  # every price read out
    items = {
        rows.nth(i).locator(".c-bidder").inner_text(): rows.nth(i).locator(".c-extra li").all_inner_texts()
        for i in range(3)
    }
    assert (
        items
        == {
            first: [
                "信用等级：AAA",
                "类似工程业绩：3",
                "质量管理体系认证：有",
            ],  # by name, as the signed record has them
            **{ow.org(w).name: [] for w in BIDDERS[1:]},
        }
    )
    assert page.locator("#hall-progress-text").inner_text() == "已处理 3 / 3 份投标文件（解密成功 3 份，失败 0 份）"
    assert page.locator("#hall-record-hash").inner_text() == ow.session_row().record_hash

    obj = ow.act(BIDDERS[1], session.raise_objection, ow.pid, "01", "<b>甲公司</b>报价与开标一览表不一致")
    item = page.locator(f"#hall-objections li[data-id='{obj.id}']")
    item.wait_for()
    assert item.locator(".c-text").inner_text() == "<b>甲公司</b>报价与开标一览表不一致"
    ow.act("operator", session.answer_objection, ow.pid, obj.id, "经核对，报价一致，异议不成立。")
    page.wait_for_selector(f"#hall-objections li[data-id='{obj.id}'][data-answered='1']")
    ow.act("operator", session.finish, ow.pid)
    page.wait_for_selector("#hall-live[data-status='ended']")
    assert page.locator("#hall-stage").inner_text() == "开标结束"
    assert page.locator("#hall-valid").inner_text() == "有效投标：3 份"
    _shot(tab, screenshot_dir / "opening-hall-real-session.png")
    assert tab.errors == []


def _shot(tab: Tab, path: Path) -> None:
    tab.page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")
