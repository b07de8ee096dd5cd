"""Who is acting and from where: carried into every audit event."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    """The actor and origin of a change (API request, page, CLI command or the system itself)."""

    source: str = "system"  # api | web | cli | system | worker
    user_id: int | None = None
    org_id: int | None = None
    actor_name: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None

    @classmethod
    def cli(cls) -> RequestContext:
        import getpass
        import socket

        try:
            who = getpass.getuser()
        except Exception:  # pragma: no cover - no user database in some containers
            who = "unknown"
        return cls(source="cli", actor_name=f"cli:{who}@{socket.gethostname()}")
