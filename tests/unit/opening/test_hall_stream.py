"""The hall's stream loop without a server: what it sends, in which order, and when it stops."""

from __future__ import annotations

from typing import Any

import anyio

from sunbid.opening.hall import EventFeed, StreamConfig, Tip, hall_stream


class ListFeed(EventFeed):
    """A feed over a list of (kind) events that can grow while the stream runs."""

    def __init__(self, kinds: list[str]) -> None:  # no database
        self.kinds = kinds
        self.reads: list[tuple[int, int]] = []
        self.streams = 0

    def tip(self, project_id: int) -> Tip:
        return Tip(len(self.kinds), self.kinds[-1]) if self.kinds else Tip(0, "")

    def after(self, project_id: int, after: int, limit: int) -> list[dict[str, Any]]:
        self.reads.append((after, limit))
        return [
            {"seq": i + 1, "kind": k, "data": {"n": i + 1}, "at": "2026-03-23T01:00:00.000+00:00"}
            for i, k in enumerate(self.kinds)
        ][after : after + limit]


class Ticks:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


def run(feed: ListFeed, after: int = 0, **config: Any) -> list[Any]:
    cfg = StreamConfig(**{"poll_seconds": 0, "max_seconds": 5.0, **config})

    async def collect() -> list[Any]:
        return [m async for m in hall_stream(feed, 1, after, cfg, clock=Ticks())]

    return anyio.run(collect)


def test_sends_a_retry_hint_then_each_event_with_its_seq_and_kind_and_ends_after_the_terminal_one() -> None:
    messages = run(ListFeed(["session.started", "bidder.checked_in", "session.closed"]))
    assert messages[0].comment == "sunbid opening hall" and messages[0].retry == 3000
    assert [(m.id, m.event) for m in messages[1:]] == [
        ("1", "session.started"),
        ("2", "bidder.checked_in"),
        ("3", "session.closed"),
    ]
    assert (
        messages[2].data == '{"seq":2,"kind":"bidder.checked_in","data":{"n":2},"at":"2026-03-23T01:00:00.000+00:00"}'
    )


def test_reads_in_batches_and_misses_nothing() -> None:
    feed = ListFeed(["session.started"] + ["bidder.checked_in"] * 6 + ["session.failed"])
    messages = run(feed, batch=3)
    assert [m.id for m in messages[1:]] == [str(i) for i in range(1, 9)]
    assert feed.reads == [(0, 3), (3, 3), (6, 3)]


def test_resumes_after_the_given_seq_and_ends_at_once_when_the_client_has_the_end() -> None:
    assert [m.id for m in run(ListFeed(["session.started", "x", "session.closed"]), after=1)[1:]] == ["2", "3"]
    assert len(run(ListFeed(["session.started", "session.failed"]), after=2)) == 1  # only the retry hint


def test_a_failed_session_followed_by_a_new_one_keeps_streaming_until_the_time_limit() -> None:
    feed = ListFeed(["session.started", "session.failed", "session.started"])
    messages = run(feed, max_seconds=3.0)
    assert [m.event for m in messages[1:]] == ["session.started", "session.failed", "session.started"]


def test_an_idle_stream_ends_after_its_time_limit() -> None:
    feed = ListFeed([])
    assert len(run(feed, max_seconds=4.0)) == 1
    assert feed.reads == []  # nothing new, nothing read
