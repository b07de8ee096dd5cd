"""Must show (issue 4): a server killed in the middle of an upload loses nothing it accepted; the bidder resumes
and gets exactly one receipt.

A real server (``sunbid serve`` in a subprocess on 127.0.0.1, the test's SQLite file or PostgreSQL schema and data
directory) is killed with SIGKILL while a chunk is still arriving, and dies hard (``os._exit``, see
:mod:`tests.e2e.crash_server`) after writing a chunk but before recording it, and inside ``complete`` before and
after its commit. Each time it is started again on the same data; the client asks the offset, resumes, completes,
and ends with one bid, one ``bid:submit`` log entry and one receipt, the same on every retry.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from sunbid.bidding.models import Bid, BidUpload
from sunbid.bidding.receipts import verify_receipt
from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts
from tests.e2e.bidserver import Server, server_env, start_server
from tests.integration.bidding.bidtools import chunks, make_sealer
from tests.integration.bidding.conftest import to_bidding
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture

API = "/api/v1"
OCTETS = {"Content-Type": "application/offset+octet-stream"}
CHUNK = 40_000


@dataclass
class Scene:
    """One project in bidding (deadline 20 days ahead on the real clock), bidder A's token and sealed bid."""

    platform: Platform
    pid: int
    data: bytes
    token: str
    env: dict[str, str]
    tmp: Path
    servers: list[Server]

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, crash: str | None = None) -> Server:
        server = start_server(self.env, self.tmp / f"server-{len(self.servers)}.log", crash=crash)
        self.servers.append(server)
        return server

    def client(self, server: Server) -> httpx.Client:
        return httpx.Client(base_url=server.url, headers=self.auth, timeout=30.0, trust_env=False)

    def spool(self, uid: int) -> Path:
        return self.platform.settings.data_dir / "uploads" / f"{uid}.part"

    def counts(self) -> tuple[int, int]:
        """(bids, bid:submit log entries)."""
        with self.platform.db.read() as s:
            bids = s.scalar(select(func.count()).select_from(Bid)) or 0
            logged = s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.tag.like("%bid:submit")))
            return int(bids), int(logged or 0)

    def bids_received(self) -> int:
        with self.platform.db.read() as s:
            project = s.get(Project, self.pid)
            assert project is not None
            return project_facts(project, datetime.now(UTC)).bids_received


@pytest.fixture
def scene(tw: Tw, clock: FakeClock, suite_name: str, tmp_path: Path) -> Iterator[Scene]:
    platform = tw.platform
    clock.set(datetime.now(UTC) - timedelta(days=1))
    pid, code, _deadline = to_bidding(tw, clock)  # the deadline is 20 days ahead of the real clock
    org = tw.world.orgs["bidder_a"]
    data = make_sealer(suite_name, platform).seal(org, code, size=150_000)
    with platform.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == "bidder_a")).one()
        token = identity.create_api_token(uow, user, "crash").raw
        uow.commit()
    s = Scene(platform, pid, data, token, server_env(platform.settings, tmp_path), tmp_path, [])
    try:
        yield s
    finally:
        for server in s.servers:
            server.kill()


def _open(c: httpx.Client, scene: Scene) -> int:
    body = {"length": len(scene.data), "container_hash": scene.platform.suite.digest(scene.data).hex()}
    r = c.post(f"{API}/projects/{scene.pid}/sections/01/uploads", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _patch(c: httpx.Client, uid: int, offset: int, piece: bytes) -> httpx.Response:
    return c.patch(f"{API}/uploads/{uid}", content=piece, headers={**OCTETS, "Upload-Offset": str(offset)})


def _offset(c: httpx.Client, uid: int) -> int:
    r = c.head(f"{API}/uploads/{uid}")
    assert r.status_code == 200
    return int(r.headers["Upload-Offset"])


def _resume_and_complete(c: httpx.Client, scene: Scene, uid: int) -> dict[str, Any]:
    """What a bidder tool does after a crash: ask the offset, send the rest, complete."""
    offset = _offset(c, uid)
    for at, piece in chunks(scene.data, CHUNK):
        if at + len(piece) <= offset:
            continue
        r = _patch(c, uid, at, piece)
        assert r.status_code == 204, r.text
    r = c.post(f"{API}/uploads/{uid}/complete")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _log_key(c: httpx.Client) -> bytes:
    return bytes.fromhex(c.get(f"{API}/log/head").json()["log"]["log_public_key"])


def _kill_while_a_chunk_arrives(server: Server, scene: Scene, uid: int, offset: int, piece: bytes) -> None:
    """Send the headers and half the body of a PATCH, then SIGKILL the server while it waits for the rest."""
    url = urlsplit(server.url)
    sock = socket.create_connection((url.hostname, url.port))
    try:
        head = (
            f"PATCH {API}/uploads/{uid} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {scene.token}\r\n"
            f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n"
            f"Content-Length: {len(piece)}\r\n\r\n"
        )
        sock.sendall(head.encode() + piece[: len(piece) // 2])
        time.sleep(0.3)  # the server is reading the body
        server.kill()
    finally:
        sock.close()
    assert server.proc.returncode == -9


def test_killed_mid_upload_the_bidder_resumes_from_the_acknowledged_offset_and_gets_one_receipt(scene: Scene) -> None:
    pieces = chunks(scene.data, CHUNK)
    assert len(pieces) >= 4
    first = scene.start()
    with scene.client(first) as c:
        uid = _open(c, scene)
        for at, piece in pieces[:2]:
            assert _patch(c, uid, at, piece).status_code == 204
        acknowledged = pieces[2][0]
        assert _offset(c, uid) == acknowledged
    _kill_while_a_chunk_arrives(first, scene, uid, *pieces[2])

    # started again, it dies after writing the next chunk to disk but before recording it
    second = scene.start(crash="chunk_before_commit")
    with scene.client(second) as c:
        assert _offset(c, uid) == acknowledged  # nothing accepted was lost
        with pytest.raises(httpx.TransportError):
            _patch(c, uid, *pieces[2])
    second.proc.wait(10)
    assert second.proc.returncode == 137
    assert scene.spool(uid).stat().st_size > acknowledged  # bytes on disk that were never acknowledged

    third = scene.start()
    with scene.client(third) as c:
        assert _offset(c, uid) == acknowledged  # ... and are not counted
        done = _resume_and_complete(c, scene, uid)
        again = c.post(f"{API}/uploads/{uid}/complete")
        assert again.status_code == 200
        assert again.json()["receipt"] == done["receipt"] and again.json()["bid"]["id"] == done["bid"]["id"]
        receipt = c.get(f"{API}/bids/{done['bid']['id']}/receipt").json()
        assert receipt == done["receipt"]
        assert verify_receipt(receipt, _log_key(c)) == []
    assert done["bid"]["container_hash"] == scene.platform.suite.digest(scene.data).hex()
    with scene.platform.db.read() as s:
        bid = s.scalars(select(Bid)).one()
        key = bid.storage_key
    assert scene.platform.storage.get(key) == scene.data  # byte for byte: nothing lost, nothing twice
    assert scene.counts() == (1, 1)
    assert scene.bids_received() == 1
    assert not scene.spool(uid).exists()


def test_killed_during_complete_the_retries_yield_one_bid_one_log_entry_one_receipt(scene: Scene) -> None:
    # 1. dies inside complete, before its commit: nothing of the bid is recorded
    dying = scene.start(crash="complete_before_commit")
    with scene.client(dying) as c:
        uid = _open(c, scene)
        for at, piece in chunks(scene.data, CHUNK):
            assert _patch(c, uid, at, piece).status_code == 204
        with pytest.raises(httpx.TransportError):
            c.post(f"{API}/uploads/{uid}/complete")
    dying.proc.wait(10)
    assert dying.proc.returncode == 137
    assert scene.counts() == (0, 0)
    assert _upload_status(scene, uid) == "open"

    # 2. the retry reaches a server that commits, then dies before sending the receipt
    dying = scene.start(crash="complete_after_commit")
    with scene.client(dying) as c:
        assert _offset(c, uid) == len(scene.data)  # every byte was accepted before the crash
        with pytest.raises(httpx.TransportError):
            c.post(f"{API}/uploads/{uid}/complete")
    dying.proc.wait(10)
    assert dying.proc.returncode == 137
    assert scene.counts() == (1, 1)
    assert _upload_status(scene, uid) == "completed"

    # 3. the next retry gets the one bid and its receipt, the same every time
    restarted = scene.start()
    with scene.client(restarted) as c:
        done = _resume_and_complete(c, scene, uid)
        again = c.post(f"{API}/uploads/{uid}/complete").json()
        assert again["bid"]["id"] == done["bid"]["id"] and again["receipt"] == done["receipt"]
        assert verify_receipt(done["receipt"], _log_key(c)) == []
        mine = c.get(f"{API}/projects/{scene.pid}/bids/mine").json()
    assert [b["id"] for b in mine] == [done["bid"]["id"]]
    assert scene.counts() == (1, 1)
    assert scene.bids_received() == 1
    stored = scene.platform.storage.list(f"bids/{scene.pid}/")
    assert len(stored) == 1  # the container stored by the transaction that died was overwritten, not doubled
    assert scene.platform.storage.get(stored[0]) == scene.data


def _upload_status(scene: Scene, uid: int) -> str:
    with scene.platform.db.read() as s:
        upload = s.get(BidUpload, uid)
        assert upload is not None
        return upload.status
