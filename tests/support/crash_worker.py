"""Run one pass of the real outbox worker in this process and die hard (os._exit) at a chosen point.

Used by the restart tests: ``python -m tests.support.crash_worker after_commit|before_commit`` with the
deployment's ``SUNBID_*`` settings in the environment. ``os._exit`` skips every cleanup, like ``kill -9``.
"""

from __future__ import annotations

import os
import sys

from sunbid.platform.container import Platform
from sunbid.platform.settings import Settings
from sunbid.platform.uow import UnitOfWork
from sunbid.projects import service, tasks


def main() -> None:
    mode = sys.argv[1]
    platform = Platform(Settings())
    if mode == "after_commit":
        # the transition is committed, the outbox message is not yet marked sent
        def crash_after(mid: int, payload: dict[str, object]) -> None:
            tasks.handle_timed(platform, mid, payload)  # type: ignore[arg-type]
            os._exit(137)

        platform.worker.register(service.TIMED_TOPIC, crash_after)
    elif mode == "before_commit":
        original = UnitOfWork.commit

        def crash_commit(self: UnitOfWork) -> None:
            if self.ctx.actor_name == "scheduler":
                os._exit(137)  # the transition was decided and written, but never committed
            original(self)

        UnitOfWork.commit = crash_commit  # type: ignore[method-assign]
    platform.worker.run_once()
    os._exit(0)  # the crash did not happen: tell the test


if __name__ == "__main__":
    main()
