"""The outbox worker: sends jobs and messages after commit, retries with backoff, never loses one.

Handlers must be idempotent for the message id (they may run again if the process dies between the send and
the mark), which is the standard at-least-once contract; the dedupe key stops a message being *written* twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from sunbid.core.clock import Clock
from sunbid.platform.db import Database
from sunbid.platform.models import OutboxMessage

log = logging.getLogger("sunbid.outbox")

Handler = Callable[[int, dict[str, Any]], None]


def enqueue(
    session: Session,
    clock: Clock,
    topic: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    ordering_key: str | None = None,
    available_at: datetime | None = None,
) -> OutboxMessage | None:
    """Add a message in the caller's transaction. Returns None if ``dedupe_key`` was already written."""
    if dedupe_key is not None:
        existing = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key))
        if existing is not None:
            return None
    now = clock.now()
    msg = OutboxMessage(
        topic=topic,
        payload=payload,
        dedupe_key=dedupe_key,
        ordering_key=ordering_key,
        status="pending",
        attempts=0,
        max_attempts=12,
        created_at=now,
        available_at=available_at or now,
    )
    session.add(msg)
    return msg


def backoff(attempts: int) -> timedelta:
    """Exponential backoff: 2, 4, 8 ... seconds, capped at one hour."""
    return timedelta(seconds=min(2**attempts, 3600))


@dataclass
class RunStats:
    sent: int = 0
    failed: int = 0
    dead: int = 0


class OutboxWorker:
    """Polls the outbox and dispatches due messages to their topic's handler."""

    LEASE = timedelta(minutes=5)

    def __init__(self, db: Database, clock: Clock, *, batch: int = 50) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch
        self.worker_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.handlers: dict[str, Handler] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def register(self, topic: str, handler: Handler) -> None:
        self.handlers[topic] = handler

    def wake(self) -> None:
        """Called after a commit that wrote messages: send them now instead of at the next poll."""
        self._wake.set()

    def _due(self, session: Session) -> tuple[list[OutboxMessage], dict[str, list[int]]]:
        """Due messages in id order, and for each stream among them the ids of all its pending messages."""
        now = self.clock.now()
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= now)
                .order_by(OutboxMessage.id)
                .limit(self.batch)
            )
        )
        keys = {r.ordering_key for r in rows if r.ordering_key}
        pending: dict[str, list[int]] = {}
        if keys:
            for key, mid in session.execute(
                select(OutboxMessage.ordering_key, OutboxMessage.id)
                .where(OutboxMessage.status == "pending", OutboxMessage.ordering_key.in_(keys))
                .order_by(OutboxMessage.id)
            ):
                if key is not None:
                    pending.setdefault(key, []).append(mid)
        return rows, pending

    def _claim(self, mid: int) -> bool:
        """Take a lease on one message so that no other worker process sends it at the same time."""
        now = self.clock.now()
        with self.db.session() as s:
            res = s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == mid,
                    OutboxMessage.status == "pending",
                    or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
                )
                .values(claimed_by=self.worker_id, claimed_until=now + self.LEASE)
            )
            s.commit()
            return getattr(res, "rowcount", 0) == 1

    def run_once(self) -> RunStats:
        """Send every message that is due now; a stream's messages go strictly in order."""
        stats = RunStats()
        with self.db.read() as s:
            rows, pending = self._due(s)
            due = [(m.id, m.topic, m.ordering_key, dict(m.payload)) for m in rows]
        for mid, topic, key, payload in due:
            if key is not None and (not pending.get(key) or pending[key][0] != mid):
                continue  # an earlier message of this stream is still pending (or failed in this pass)
            if not self._claim(mid):
                if key is not None:
                    pending[key] = []  # another worker holds this stream's head
                continue
            handler = self.handlers.get(topic)
            error: str | None = None
            if handler is None:
                error = f"no handler for topic {topic!r}"
            else:
                try:
                    handler(mid, payload)
                except Exception as exc:  # the handler's failure is recorded and retried, never lost
                    error = f"{type(exc).__name__}: {exc}"[:2000]
            with self.db.session() as s:
                msg = s.get(OutboxMessage, mid)
                if msg is None or msg.status != "pending" or msg.claimed_by != self.worker_id:
                    s.rollback()
                    continue
                now = self.clock.now()
                msg.claimed_by, msg.claimed_until = None, None
                if error is None:
                    msg.status, msg.sent_at, msg.last_error = "sent", now, None
                    stats.sent += 1
                    if key is not None:
                        pending[key].pop(0)
                else:
                    msg.attempts += 1
                    msg.last_error = error
                    if msg.attempts >= msg.max_attempts:
                        msg.status = "dead"
                        stats.dead += 1
                        log.error("outbox message %s is dead after %s attempts", mid, msg.attempts)
                    else:
                        msg.available_at = now + backoff(msg.attempts)
                        stats.failed += 1
                        log.warning("outbox message %s failed (attempt %s)", mid, msg.attempts)
                    if key is not None:
                        pending[key] = []  # block the rest of this stream for this pass
                s.commit()
        return stats

    def start(self, poll_seconds: float = 1.0) -> None:
        """Run in a daemon thread (embedded mode)."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.run_once()
                except Exception:
                    log.exception("outbox worker pass failed")
                self._wake.wait(poll_seconds)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="sunbid-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
