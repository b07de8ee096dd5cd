"""The unit of work: the one place that commits.

A unit of work opens a writing transaction, lets services change rows, write audit events (each appended to
the transparency log in the same transaction) and enqueue outbox messages, then commits all of it at once.
After the commit it signs nothing and sends nothing itself: it wakes the outbox worker and runs the
registered after-commit hooks (live page updates). A unit of work left without ``commit()`` rolls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from sunbid.platform.context import RequestContext
from sunbid.platform.outbox import enqueue

if TYPE_CHECKING:
    from sunbid.ledger.models import AuditEvent
    from sunbid.ledger.service import LedgerTransaction
    from sunbid.platform.container import Platform

log = logging.getLogger("sunbid.uow")


class UnitOfWork:
    """A writing transaction with audit, log and outbox; use as a context manager."""

    def __init__(self, platform: Platform, ctx: RequestContext | None = None) -> None:
        self.platform = platform
        self.ctx = ctx or RequestContext()
        self.session: Session = platform.db.session()
        self._after_commit: list[Callable[[], None]] = []
        self._ledger_tx: LedgerTransaction | None = None
        self._wrote_outbox = False
        self._done = False

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._done:
            self.rollback()
        self.session.close()

    @property
    def now(self) -> datetime:
        return self.platform.clock.now()

    @property
    def ledger(self) -> LedgerTransaction:
        """The log appender of this transaction (locks the log state on first use)."""
        if self._ledger_tx is None:
            self._ledger_tx = self.platform.ledger.begin(self.session)
        return self._ledger_tx

    def audit(
        self,
        tag: str,
        *,
        subject_type: str | None = None,
        subject_id: str | int | None = None,
        data: dict[str, Any] | None = None,
    ) -> AuditEvent:
        """Record who did what (``source:subject:action``) and append it to the transparency log."""
        from sunbid.ledger.audit import record_audit

        return record_audit(
            self.session,
            self.ledger,
            self.ctx,
            tag,
            occurred_at=self.now,
            subject_type=subject_type,
            subject_id=None if subject_id is None else str(subject_id),
            data=data or {},
        )

    def enqueue(self, topic: str, payload: dict[str, Any], **kwargs: Any) -> None:
        """Write an outbox message in this transaction; it is sent after commit."""
        enqueue(self.session, self.platform.clock, topic, payload, **kwargs)
        self._wrote_outbox = True

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def commit(self) -> None:
        if self._ledger_tx is not None:
            self._ledger_tx.finish()
        self.session.commit()
        self._done = True
        if self._wrote_outbox:
            self.platform.wake_worker()
        for fn in self._after_commit:
            try:
                fn()
            except Exception:
                log.exception("after-commit hook failed")

    def rollback(self) -> None:
        self.session.rollback()
        self._done = True
