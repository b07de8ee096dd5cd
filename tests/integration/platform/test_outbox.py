"""The outbox: messages written with the change, sent after commit, retried with backoff, never lost."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from sunbid.core.clock import FakeClock
from sunbid.platform.container import Platform
from sunbid.platform.models import OutboxMessage


def _messages(platform: Platform) -> list[OutboxMessage]:
    with platform.db.read() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_message_is_written_only_with_a_committed_change(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.enqueue("notify", {"to": "bidder1"})
        # rolled back
    assert _messages(platform) == []
    with platform.uow() as uow:
        uow.enqueue("notify", {"to": "bidder1"})
        uow.commit()
    assert [m.payload for m in _messages(platform)] == [{"to": "bidder1"}]


def test_duplicate_dedupe_key_is_written_once(platform: Platform) -> None:
    for _ in range(3):
        with platform.uow() as uow:
            uow.enqueue("notify", {"n": 1}, dedupe_key="award-notice:42")
            uow.commit()
    assert len(_messages(platform)) == 1


def test_worker_sends_after_commit_and_marks_sent(platform: Platform) -> None:
    sent: list[tuple[int, dict[str, Any]]] = []
    platform.worker.register("notify", lambda mid, p: sent.append((mid, p)))
    with platform.uow() as uow:
        uow.enqueue("notify", {"to": "a"})
        uow.enqueue("notify", {"to": "b"})
        uow.commit()
    stats = platform.worker.run_once()
    assert stats.sent == 2
    assert [p["to"] for _, p in sent] == ["a", "b"]
    assert {m.status for m in _messages(platform)} == {"sent"}
    assert platform.worker.run_once().sent == 0  # never sent twice


def test_failure_is_retried_with_backoff_then_succeeds(platform: Platform, clock: FakeClock) -> None:
    calls: list[int] = []

    def flaky(mid: int, payload: dict[str, Any]) -> None:
        calls.append(mid)
        if len(calls) < 3:
            raise ConnectionError("SMS gateway down")

    platform.worker.register("sms", flaky)
    with platform.uow() as uow:
        uow.enqueue("sms", {"text": "中标通知"})
        uow.commit()
    assert platform.worker.run_once().failed == 1
    (m,) = _messages(platform)
    assert m.status == "pending" and m.attempts == 1 and "SMS gateway down" in (m.last_error or "")
    assert platform.worker.run_once().failed == 0  # not due yet: backoff
    clock.advance(timedelta(seconds=2))
    assert platform.worker.run_once().failed == 1
    clock.advance(timedelta(seconds=4))
    assert platform.worker.run_once().sent == 1
    assert len(calls) == 3
    assert _messages(platform)[0].status == "sent"


def test_stream_order_is_kept_when_an_earlier_message_fails(platform: Platform, clock: FakeClock) -> None:
    seen: list[int] = []
    fail_first = {"on": True}

    def push(mid: int, payload: dict[str, Any]) -> None:
        if payload["seq"] == 1 and fail_first["on"]:
            raise TimeoutError("upstream timeout")
        seen.append(payload["seq"])

    platform.worker.register("push", push)
    with platform.uow() as uow:
        for seq in (1, 2, 3):
            uow.enqueue("push", {"seq": seq}, ordering_key="upstream:province")
        uow.commit()
    platform.worker.run_once()
    assert seen == []  # 2 and 3 wait behind the failed 1
    fail_first["on"] = False
    clock.advance(timedelta(seconds=3))
    platform.worker.run_once()
    platform.worker.run_once()
    assert seen == [1, 2, 3]


def test_message_without_handler_is_kept_until_dead(platform: Platform, clock: FakeClock) -> None:
    with platform.uow() as uow:
        uow.enqueue("unknown.topic", {"x": 1})
        uow.commit()
    for _ in range(12):
        platform.worker.run_once()
        clock.advance(timedelta(hours=1))
    (m,) = _messages(platform)
    assert m.status == "dead" and m.attempts == 12 and "no handler" in (m.last_error or "")


def test_two_workers_never_send_the_same_message(platform: Platform, clock: FakeClock) -> None:
    from sunbid.platform.outbox import OutboxWorker

    sent_a: list[int] = []
    sent_b: list[int] = []
    a = OutboxWorker(platform.db, clock)
    b = OutboxWorker(platform.db, clock)
    a.register("notify", lambda mid, p: sent_a.append(mid))
    b.register("notify", lambda mid, p: sent_b.append(mid))
    with platform.uow() as uow:
        uow.enqueue("notify", {"to": "x"})
        uow.commit()
    (m,) = _messages(platform)
    assert a._claim(m.id)  # worker A has taken it (e.g. is still sending) ...
    assert b.run_once().sent == 0 and sent_b == []  # ... so B leaves it alone
    clock.advance(OutboxWorker.LEASE + timedelta(seconds=1))  # A died: its lease runs out
    assert b.run_once().sent == 1 and sent_b == [m.id]
    assert a.run_once().sent == 0 and sent_a == []
