"""The live opening hall end to end (TestClient): the event stream (server-sent events) until the session
closes, resuming from Last-Event-ID, events committed while streaming, the replay JSON, the page rendered from
the events (no script needed), replay steps, escaping, 404s, and that anyone may watch."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import event

from sunbid.core.clock import FakeClock
from sunbid.opening.events import append_event
from sunbid.opening.hall import EventFeed, StreamConfig, Tip
from sunbid.platform.container import Platform
from tests.e2e.test_pages_projects import T0, Site, build_site, new_project, to_bidding

XSS = "<script>alert('xss')</script>报价<b>有误</b>"
XSS_DECLARED = "<script>alert('declared')</script>张三<b>一级</b>"  # a declared item is the bidder's own text


def session_events(deadline_iso: str, closes_at_iso: str) -> list[tuple[str, dict[str, Any]]]:
    """A whole opening session of one section: three bidders, one fails to decrypt, an objection answered."""
    rows = [
        {
            "bidder_name": "甲建筑公司",
            "price": "11850000.00",
            "duration_days": 365,
            "quality": "合格",
            "extra": {"项目经理": XSS_DECLARED, "类似工程业绩": "3"},
            "deposit_status": "paid",
            "decryption_status": "decrypted",
        },
        {
            "bidder_name": "乙建筑公司",
            "price": "12010000.00",
            "duration_days": 360,
            "quality": "合格",
            "extra": {},
            "deposit_status": "guarantee",
            "decryption_status": "decrypted",
        },
        {
            "bidder_name": "丙建筑公司",
            "price": "",
            "duration_days": "",
            "quality": "",
            "extra": None,
            "deposit_status": "paid",
            "decryption_status": "revoked",
        },
    ]
    return [
        (
            "session.started",
            {
                "project_code": "P1",
                "sections": ["A"],
                "bids": 3,
                "window_minutes": 30,
                "bidders": ["丙建筑公司", "乙建筑公司", "甲建筑公司"],
            },
        ),
        ("bidder.checked_in", {"section": "A", "bidder_name": "甲建筑公司"}),
        ("bidder.checked_in", {"section": "A", "bidder_name": "乙建筑公司"}),
        ("decryption.opened", {"closes_at": closes_at_iso}),
        ("bid.decrypted", {"section": "A", "bidder_name": "甲建筑公司", "by": "bidder"}),
        ("bid.decrypted", {"section": "A", "bidder_name": "乙建筑公司", "by": "bidder"}),
        (
            "bid.decryption_failed",
            {
                "section": "A",
                "bidder_name": "丙建筑公司",
                "outcome": "revoked",
                "reason_zh": "投标人未在解密时限内解密",
                "reason_en": "The bidder did not decrypt in time",
            },
        ),
        ("decryption.closed", {"decrypted": 2, "failed": 1}),
        ("coefficient.drawn", {"section": "A", "value": "0.965", "draw_record": {"seed": "ab" * 32, "k": "0.965"}}),
        (
            "record.published",
            {"sections": [{"section": "A", "rows": rows}], "record_hash": "f" * 64, "url": "/portal/opening/1"},
        ),
        ("bidder.confirmed", {"section": "A", "bidder_name": "甲建筑公司"}),
        ("objection.raised", {"id": 7, "section": "A", "bidder_name": "乙建筑公司", "text": XSS}),
        ("objection.answered", {"id": 7, "answer": "经核对，报价以解密文件为准。"}),
        ("session.closed", {"valid_bids": 2}),
    ]


@dataclass
class Hall:
    """A published project whose bid deadline has passed, and a way to append its opening events."""

    site: Site
    pid: int
    clock: FakeClock
    script: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"/api/projects/{self.pid}/opening/events"

    def append(self, kind: str, data: dict[str, Any]) -> int:
        """Commit one event, as the opening session does (its own transaction)."""
        with self.site.platform.uow() as uow:
            seq = append_event(uow, self.pid, kind, data).seq
            uow.commit()
        self.clock.advance(timedelta(seconds=20))
        return seq

    def play(self, upto: int | None = None) -> None:
        for kind, data in self.script[:upto]:
            self.append(kind, data)


def make_hall(platform: Platform, clock: FakeClock) -> Hall:
    clock.set(T0)
    site = build_site(platform)
    pid = new_project(site)
    deadline = to_bidding(site, pid)
    clock.set(deadline)
    closes = deadline + timedelta(minutes=30)
    return Hall(site, pid, clock, session_events(deadline.isoformat(), closes.isoformat()))


@pytest.fixture
def hall(platform: Platform, clock: FakeClock) -> Hall:
    return make_hall(platform, clock)


@pytest.fixture
def anon(hall: Hall) -> Iterator[TestClient]:
    hall.site.app.state.opening_hall_config = StreamConfig(poll_seconds=0.02, heartbeat_seconds=5, max_seconds=10)
    with TestClient(hall.site.app, base_url="http://127.0.0.1") as c:
        yield c


@dataclass
class Sse:
    """A parsed server-sent event (or a comment)."""

    id: str | None = None
    event: str | None = None
    data: str = ""
    retry: int | None = None
    comments: list[str] = field(default_factory=list)


def read_stream(client: TestClient, url: str, headers: dict[str, str] | None = None) -> tuple[int, list[Sse]]:
    """Read a whole stream (it must end by itself); the status and the messages in order."""
    out: list[Sse] = []
    current = Sse()
    with client.stream("GET", url, headers=headers or {}) as r:
        if r.status_code != 200:
            return r.status_code, []
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line == "":
                if current != Sse():
                    out.append(current)
                current = Sse()
            elif line.startswith(":"):
                current.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    current.data += value
                elif name == "retry":
                    current.retry = int(value)
                elif name in ("id", "event"):
                    setattr(current, name, value)
        if current != Sse():
            out.append(current)
        return r.status_code, out


def events_of(messages: list[Sse]) -> list[Sse]:
    return [m for m in messages if m.event is not None]


# --- the stream --------------------------------------------------------------------------------------------


def test_stream_sends_every_event_in_order_and_ends_after_session_closed(hall: Hall, anon: TestClient) -> None:
    hall.play()
    status, messages = read_stream(anon, hall.url)
    assert status == 200
    assert messages[0].retry == 3000 and messages[0].comments == ["sunbid opening hall"]
    got = events_of(messages)
    assert [m.id for m in got] == [str(i) for i in range(1, 15)]
    assert [m.event for m in got] == [k for k, _ in hall.script]
    first = json.loads(got[0].data)
    assert first["seq"] == 1 and first["kind"] == "session.started" and first["data"]["bids"] == 3
    assert first["at"].startswith(hall.clock.now().date().isoformat()[:4])
    objection = json.loads(got[11].data)
    assert objection["data"]["text"] == XSS  # the stream carries data; the page escapes it


def test_stream_resumes_after_last_event_id_without_duplicates(hall: Hall, anon: TestClient) -> None:
    hall.play()
    _, resumed = read_stream(anon, hall.url, {"Last-Event-ID": "9"})
    assert [m.id for m in events_of(resumed)] == ["10", "11", "12", "13", "14"]
    _, by_query = read_stream(anon, hall.url + "?after=12")
    assert [m.id for m in events_of(by_query)] == ["13", "14"]
    # A browser reconnecting keeps its first URL (?after=2) and sends the last id it saw: the later one wins.
    _, both = read_stream(anon, hall.url + "?after=2", {"Last-Event-ID": "11"})
    assert [m.id for m in events_of(both)] == ["12", "13", "14"]
    _, junk = read_stream(anon, hall.url, {"Last-Event-ID": "not-a-number"})
    assert len(events_of(junk)) == 14


def test_stream_of_an_ended_session_answers_204_to_a_client_that_has_everything(hall: Hall, anon: TestClient) -> None:
    hall.play()
    assert read_stream(anon, hall.url, {"Last-Event-ID": "14"})[0] == 204
    assert read_stream(anon, hall.url + "?after=14")[0] == 204
    failed = make_failed(hall)
    assert read_stream(anon, f"/api/projects/{failed}/opening/events?after=2")[0] == 204


def make_failed(hall: Hall) -> int:
    pid = new_project(hall.site, "池州市流标工程")
    to_bidding(hall.site, pid)
    with hall.site.platform.uow() as uow:
        append_event(uow, pid, "session.started", {"project_code": "P2", "sections": ["A"], "bids": 2})
        append_event(uow, pid, "session.failed", {"reason_zh": "投标人少于3个", "reason_en": "Fewer than 3 bids"})
        uow.commit()
    return pid


def test_stream_delivers_events_committed_while_it_runs(hall: Hall, anon: TestClient) -> None:
    hall.play(upto=2)
    errors: list[BaseException] = []

    def session() -> None:
        try:
            time.sleep(0.2)
            for kind, data in hall.script[2:]:
                hall.append(kind, data)
                time.sleep(0.03)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    worker = threading.Thread(target=session)
    worker.start()
    try:
        status, messages = read_stream(anon, hall.url)
    finally:
        worker.join(timeout=30)
    assert errors == []
    got = events_of(messages)
    assert status == 200
    assert [int(m.id or 0) for m in got] == list(range(1, 15))  # all, in order, no duplicates
    assert got[-1].event == "session.closed"


def test_stream_ends_after_its_maximum_duration_and_sends_heartbeats(hall: Hall, anon: TestClient) -> None:
    hall.play(upto=3)  # the session is still running: only the time limit ends the stream
    hall.site.app.state.opening_hall_config = StreamConfig(poll_seconds=0.02, heartbeat_seconds=0.05, max_seconds=0.4)
    started = time.monotonic()
    status, messages = read_stream(anon, hall.url)
    assert status == 200 and time.monotonic() - started < 5
    assert [m.id for m in events_of(messages)] == ["1", "2", "3"]
    assert any(c.startswith("ping") for m in messages for c in m.comments)


def test_stream_of_an_unknown_or_unannounced_project_is_a_404_problem(hall: Hall, anon: TestClient) -> None:
    for url in ("/api/projects/999999/opening/events", "/api/projects/999999/opening/events.json"):
        r = anon.get(url)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "project.not_found"
    hidden = new_project(hall.site, "未公告的项目")
    assert anon.get(f"/api/projects/{hidden}/opening/events").status_code == 404
    assert anon.get(f"/api/projects/{hidden}/opening/events.json").status_code == 404
    assert anon.get(f"/projects/{hidden}/opening").status_code == 404


# --- replay JSON -------------------------------------------------------------------------------------------


def test_events_json_replays_the_session_in_pages(hall: Hall, anon: TestClient) -> None:
    hall.play()
    everything = anon.get(hall.url + ".json").json()
    assert [e["seq"] for e in everything] == list(range(1, 15))
    assert set(everything[0]) == {"seq", "kind", "data", "at"}  # the events and nothing else
    page, after = [], 0
    while batch := anon.get(hall.url + f".json?after={after}&limit=4").json():
        page += batch
        after = batch[-1]["seq"]
    assert page == everything
    assert anon.get(hall.url + ".json?limit=0").status_code == 422
    assert anon.get(hall.url + ".json?after=-1").status_code == 422


# --- the page ----------------------------------------------------------------------------------------------


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", html)


def logged(html: str) -> int:
    """Lines of the session log (not counting the script's empty row template)."""
    return len(re.findall(r'class="hall-log-line" data-seq="\d+"', html))


def test_anyone_sees_the_hall_rendered_from_the_events_without_script(hall: Hall, anon: TestClient) -> None:
    hall.play()
    r = anon.get(f"/projects/{hall.pid}/opening")
    assert r.status_code == 200
    html = _text(r.text)
    assert "开标大厅" in html and "池州市示范道路工程" in html
    assert 'data-stage="closed"' in html and "开标结束" in html
    assert "11850000.00" in html and "12010000.00" in html and "丙建筑公司" in html
    assert "视为撤销" in html and "已缴纳" in html and "电子保函" in html
    assert "0.965" in html and "f" * 64 in html
    assert '<th scope="col">其他唱标内容</th>' in html  # the declared items are read out with the price
    rows = re.findall(r'<tr class="hall-record-row">(.*?)</tr>', html)  # the last: the script's empty template
    assert [re.findall(r"<li>(.*?)</li>", r) for r in rows] == [
        ["类似工程业绩：3", f"项目经理：{escape(XSS_DECLARED)}"],
        [],
        [],
        [],
    ]
    assert "有效投标：2 份" in html
    assert '<progress class="hall-progress" id="hall-progress" max="3" value="3">' in html  # 2 decrypted, 1 failed
    assert "答复：经核对，报价以解密文件为准。" in html
    assert logged(html) == 14
    assert "/static/js/opening_hall.js?v=" in html and "/static/css/opening_hall.css?v=" in html


def test_the_hall_escapes_every_text_it_shows(hall: Hall, anon: TestClient) -> None:
    hall.play()
    hall.append("objection.raised", {"id": 'x"><img src=x onerror=alert(1)>', "section": "<i>A</i>", "text": XSS})
    html = anon.get(f"/projects/{hall.pid}/opening").text
    assert "<script>alert" not in html and "<b>有误</b>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;报价&lt;b&gt;有误&lt;/b&gt;" in html
    assert "&lt;i&gt;A&lt;/i&gt;" in html
    assert "<script>alert('declared')" not in html and "<b>一级</b>" not in html
    assert "项目经理：&lt;script&gt;alert(&#39;declared&#39;)&lt;/script&gt;张三&lt;b&gt;一级&lt;/b&gt;" in html
    texts = re.search(r'<script type="application/json" id="hall-texts">(.*?)</script>', html, re.S)
    assert texts is not None and json.loads(texts.group(1))["lang"] == "zh-CN"


def test_the_hall_before_the_session_starts_and_while_decryption_runs(hall: Hall, anon: TestClient) -> None:
    html = _text(anon.get(f"/projects/{hall.pid}/opening").text)
    assert 'data-stage="waiting"' in html and "等待开标" in html and "本场开标尚未开始" in html
    hall.play(upto=5)  # started, two check-ins, window opened, one bid decrypted
    hall.clock.set(hall.clock.now() + timedelta(seconds=1))
    html = _text(anon.get(f"/projects/{hall.pid}/opening").text)
    assert 'data-stage="decrypting"' in html and "解密中" in html
    assert html.count('data-checked-in="1"') == 2
    assert re.search(r"剩余 2\d 分 \d\d 秒", html)  # the window of 30 minutes, some of it gone
    assert "已处理 1 / 3 份投标文件（解密成功 1 份，失败 0 份）" in html
    assert '<progress class="hall-progress" id="hall-progress" max="3" value="1">' in html


def test_english_hall_through_the_language_switch(hall: Hall) -> None:
    hall.play()
    c = hall.site.client(lang="en")
    html = _text(c.get(f"/projects/{hall.pid}/opening").text)
    assert "Opening hall" in html and "Opening closed" in html
    assert "Revoked (bidder&#39;s fault)" in html and "The bidder did not decrypt in time" in html
    assert "Answer: 经核对" in html
    assert "Declared items" in html and "<li>类似工程业绩: 3</li>" in html


def test_replay_shows_the_session_step_by_step(hall: Hall, anon: TestClient) -> None:
    hall.play()
    base = f"/projects/{hall.pid}/opening?replay=1"
    start = _text(anon.get(base).text)
    assert 'data-mode="replay"' in start and 'data-step="0"' in start and 'data-stage="waiting"' in start
    assert f'href="/projects/{hall.pid}/opening?replay=1&amp;step=1"' in start
    three = _text(anon.get(base + "&step=3").text)
    assert logged(three) == 3 and 'data-checked-in="1"' in three
    assert "11850000.00" not in three
    ten = _text(anon.get(base + "&step=10").text)
    assert "11850000.00" in ten and "经核对" not in ten
    assert "剩余" not in ten  # the window had closed by then: the replay keeps the session's own time
    end = _text(anon.get(base + "&step=999").text)
    assert 'data-step="14"' in end and 'data-stage="closed"' in end


def test_the_hall_is_linked_from_the_public_project_page(hall: Hall, anon: TestClient) -> None:
    code = hall.site.project(hall.pid).code
    html = anon.get(f"/portal/projects/{code}").text
    assert f'href="/projects/{hall.pid}/opening"' in html


def test_a_full_hall_refuses_new_streams_with_a_503_problem(hall: Hall, anon: TestClient) -> None:
    hall.play()
    hall.site.app.state.opening_hall_config = StreamConfig(poll_seconds=0.02, max_seconds=10, max_streams=1)
    assert len(events_of(read_stream(anon, hall.url)[1])) == 14
    feed = hall.site.app.state.opening_hall_feed
    assert feed.streams == 0  # the ended stream was counted out
    feed.count_stream(+1)  # somebody is watching: the hall is full
    r = anon.get(hall.url)
    assert r.status_code == 503 and r.json()["code"] == "opening.hall_busy"
    assert anon.get(hall.url + ".json").status_code == 200  # the replay is still served


def test_the_feed_reads_the_newest_event_once_per_interval_however_many_streams_ask(hall: Hall) -> None:
    db = hall.site.platform.db
    queries: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "opening_events" in statement:
            queries.append(statement)

    hall.play(upto=1)
    feed = EventFeed(db, ttl_seconds=60)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        threads = [threading.Thread(target=feed.tip, args=(hall.pid,)) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(queries) == 1
        hall.append(*hall.script[1])  # a new event within the interval is seen at the next interval
        assert feed.tip(hall.pid) == Tip(1, "session.started")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert EventFeed(db, ttl_seconds=0).tip(hall.pid) == Tip(2, "bidder.checked_in")


def test_a_stream_ends_when_its_client_leaves(hall: Hall, anon: TestClient) -> None:
    hall.play(upto=2)  # the session runs: only the client's leaving ends this stream
    with anon.stream("GET", hall.url) as r:
        for line in r.iter_lines():
            if line.startswith("id: 2"):
                break
        feed = hall.site.app.state.opening_hall_feed
        assert feed.streams == 1
    deadline = time.monotonic() + 5
    while feed.streams and time.monotonic() < deadline:
        time.sleep(0.02)
    assert feed.streams == 0


@pytest.mark.parametrize("pid", ["0", "-1", str(2**70), "abc"])
def test_a_project_id_out_of_range_is_refused_before_the_database(anon: TestClient, pid: str) -> None:
    for url in (f"/api/projects/{pid}/opening/events", f"/api/projects/{pid}/opening/events.json"):
        assert anon.get(url).status_code == 422
    assert anon.get(f"/projects/{pid}/opening").status_code == 422
