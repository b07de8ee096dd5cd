"""A small sliding-window rate limiter (per process) for login and other abuse-prone endpoints.

The per-account lockout lives in the database and is shared by every process; this limiter adds a cheap
per-address brake in front of it.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from sunbid.core.errors import TooManyRequests


class RateLimiter:
    """At most ``limit`` events per ``window`` seconds for each key."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> None:
        """Count one event for ``key``; raise TooManyRequests when over the limit."""
        now = time.monotonic()
        with self._lock:
            q = self._events.setdefault(key, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                retry = int(q[0] + self.window - now) + 1
                raise TooManyRequests(
                    "request.rate_limited",
                    f"操作过于频繁，请 {retry} 秒后再试。",
                    f"Too many attempts; try again in {retry} s.",
                    details={"retry_after": retry},
                )
            q.append(now)
            if len(self._events) > 10000:
                for k in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window]:
                    del self._events[k]

    def reset(self) -> None:
        with self._lock:
            self._events.clear()
