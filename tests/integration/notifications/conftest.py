"""Notification test fixtures: users with or without addresses, a real SMTP server, a real HTTP gateway."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.ledger.models import AuditEvent
from sunbid.notifications.models import Notification, NotificationDelivery
from sunbid.platform.container import Platform
from sunbid.platform.models import OutboxMessage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- database helpers ---------------------------------------------------------------------------------------


def make_user(
    platform: Platform,
    username: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    status: str = "active",
) -> int:
    with platform.uow() as uow:
        user = identity.create_user(
            uow, username=username, display_name=username, password=None, email=email, phone=phone
        )
        user.status = status
        uow.commit()
        return user.id


def outbox(platform: Platform) -> list[OutboxMessage]:
    with platform.db.read() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def deliveries(platform: Platform) -> list[NotificationDelivery]:
    with platform.db.read() as s:
        return list(s.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id)))


def notifications(platform: Platform) -> list[Notification]:
    with platform.db.read() as s:
        return list(s.scalars(select(Notification).order_by(Notification.id)))


def audits(platform: Platform, tag_suffix: str) -> list[AuditEvent]:
    with platform.db.read() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.tag.like(f"%{tag_suffix}")).order_by(AuditEvent.id))
        return list(rows)


def user_ids(platform: Platform) -> dict[str, int]:
    with platform.db.read() as s:
        return {u.username: u.id for u in s.scalars(select(User))}


# --- a real SMTP server (aiosmtpd) --------------------------------------------------------------------------


@dataclass
class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives; can be stopped and started again."""

    port: int
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    rcpt_attempts: list[str] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    _controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        self.rcpt_attempts.append(address)
        if address in self.refuse:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def parsed(self) -> list[EmailMessage]:
        return [cast(EmailMessage, message_from_bytes(raw, policy=default_policy)) for _, _, raw in self.messages]

    def recipients(self) -> list[str]:
        return sorted(r for _, rcpts, _ in self.messages for r in rcpts)


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    sink.start()
    yield sink
    sink.stop()


# --- a real HTTP SMS gateway --------------------------------------------------------------------------------


@dataclass
class GatewayStub:
    """A small HTTP server: records each POST and answers from a queue of (status, body) replies."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    replies: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    delay: float = 0.0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms/send"

    def start(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                stub.requests.append({"path": self.path, "headers": dict(self.headers), "json": body})
                if stub.delay:
                    time.sleep(stub.delay)
                status, reply = stub.replies.pop(0) if stub.replies else (200, {"id": f"gw-{len(stub.requests)}"})
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def sms_gateway_stub() -> Iterator[GatewayStub]:
    stub = GatewayStub()
    stub.start()
    yield stub
    stub.stop()
