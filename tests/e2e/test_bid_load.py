"""Must show (issue 4): 200 bidders uploading concurrently in the final second are all accepted, none is lost.

A real server (``sunbid serve`` in a subprocess, on 127.0.0.1, the real clock) on the test's file-based SQLite
database, or on PostgreSQL when ``SUNBID_TEST_DATABASE_URL`` is set. 200 organisations, each with a bidder and an
API token, bid on one project. Each sends all but the final chunk of its sealed container; then the deadline is
set two to three seconds ahead on the real clock, and in the last second before it all 200 send the final chunk
and complete at once. Every completion gets 200 with a receipt that verifies offline with the published log
key, and the server recorded it before the deadline (``received_at`` within the last second); the database holds
200 bids, the transparency log 200 ``bid:submit`` entries, the project's ``bids_received`` fact is 200.

The refusal of a completion 1 ms after the deadline is shown with a fake clock in
``tests/e2e/test_api_bids.py::test_one_ms_before_the_deadline_is_accepted_one_ms_after_is_refused_and_logged``
and ``tests/integration/bidding/test_submission.py`` (not repeated here).

The deadline is judged by the time each final chunk reached the server (stamped when its last byte arrived,
before the request waits for its turn to write), so a burst that the server writes a few seconds after the
deadline is still on time; the close of bidding waits ``submission_settle_seconds`` for it. The completes come
after the burst (a complete after the deadline is on time when the final chunk was: ``final_chunk_at``).
The final chunks go out over raw sockets opened and requests built beforehand, so that the test's own client
is not what is measured: on 2 shared cores an HTTP client library takes longer than the final second to send 200
requests. ``SUNBID_LOAD_BIDDERS=5`` runs the same scenario smaller, to diagnose.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from sunbid.bidding.models import Bid
from sunbid.bidding.receipts import verify_receipt
from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.domain import make_uscc
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.projects import service as projects
from sunbid.projects.timing import project_facts
from tests.e2e.bidserver import server_env, start_server
from tests.integration.bidding.bidtools import make_sealer
from tests.integration.bidding.conftest import to_bidding
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture
from tests.support.world import PASSWORD

BIDDERS = int(os.environ.get("SUNBID_LOAD_BIDDERS", "200"))  # fewer only to diagnose
API = "/api/v1"
OCTETS = {"Content-Type": "application/offset+octet-stream"}


@dataclass
class Bidder:
    org_id: int
    token: str
    data: bytes
    upload_id: int = 0
    split: int = 0
    sent_at: float = 0.0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def _make_bidders(platform: Platform, n: int) -> list[tuple[Any, str]]:
    out = []
    with platform.uow() as uow:
        for i in range(n):
            org = identity.create_organisation(
                uow,
                name=f"压力测试第{i:03d}建筑公司",
                uscc=make_uscc(5000 + i, region_code="341700"),
                kind="bidder",
                region_code="341702",
                sectors=["engineering"],
            )
            user = identity.create_user(uow, username=f"load{i:03d}", display_name=f"投标人{i:03d}", password=PASSWORD)
            identity.add_membership(uow, user=user, org=org, role="bidder")
            out.append((org, identity.create_api_token(uow, user, "load").raw))
        uow.commit()
    return out


async def _first_part(client: httpx.AsyncClient, pid: int, suite_digest: Any, b: Bidder) -> None:
    body = {"length": len(b.data), "container_hash": suite_digest(b.data).hex()}
    r = await client.post(f"{API}/projects/{pid}/sections/01/uploads", json=body, headers=b.headers)
    assert r.status_code == 201, r.text
    b.upload_id = int(r.json()["id"])
    b.split = len(b.data) - 512  # the final chunk waits for the final second
    headers = {**b.headers, **OCTETS, "Upload-Offset": "0"}
    r = await client.patch(f"{API}/uploads/{b.upload_id}", content=b.data[: b.split], headers=headers)
    assert r.status_code == 204, r.text


@dataclass
class RawAnswer:
    """An HTTP answer read off a raw socket (status and body), shaped like the parts of httpx's we use."""

    status_code: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text) if self.text else {}


def _raw_patch(host: str, b: Bidder) -> bytes:
    """The final chunk's PATCH as bytes, built before the final second so that sending it costs nothing."""
    body = b.data[b.split :]
    head = (
        f"PATCH {API}/uploads/{b.upload_id} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {b.token}\r\n"
        f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {b.split}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _answer(reader: asyncio.StreamReader) -> tuple[float, RawAnswer]:
    raw = await reader.read()  # the server closes the connection after its answer
    at = time.time()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return at, RawAnswer(status, body.decode("utf-8", "replace"))


async def _complete(client: httpx.AsyncClient, b: Bidder, sent: tuple[float, Any]) -> tuple[float, Any]:
    """The client's complete after its final chunk: fetches the bid and receipt (the PATCH's answer if it failed)."""
    if sent[1].status_code != 204:
        return sent
    done = await client.post(f"{API}/uploads/{b.upload_id}/complete", headers=b.headers)
    return time.time(), done


async def _run(
    url: str, pid: int, platform: Platform, bidders: list[Bidder], clock: FakeClock
) -> tuple[datetime, datetime, list[tuple[float, httpx.Response]], dict[str, Any]]:
    # No keep-alive: a pooled connection the server closes as idle (uvicorn: after 5 s) just as the client reuses
    # it fails with ReadError before the server reads the request; on a loaded machine the 200 tasks of the
    # preparation can leave a connection idle that long. A fresh connection per request costs little on loopback.
    limits = httpx.Limits(max_connections=BIDDERS, max_keepalive_connections=0)
    timeout = httpx.Timeout(120.0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, trust_env=False) as client:
        await asyncio.gather(*(_first_part(client, pid, platform.suite.digest, b) for b in bidders))
        # everyone is ready: the deadline is now set two seconds ahead on the real clock
        deadline = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
        clock.set(datetime.now(UTC))
        with platform.uow() as uow:
            projects.update_facts(uow, pid, "load test: the deadline is near", bid_deadline=deadline)
            uow.commit()
        host, port = url.removeprefix("http://").split(":")
        streams = [await asyncio.open_connection(host, int(port)) for _ in bidders]
        requests = [_raw_patch(f"{host}:{port}", b) for b in bidders]
        await asyncio.sleep((deadline - datetime.now(UTC)).total_seconds() - 1.0)  # the final second begins
        started = datetime.now(UTC)
        for b, (_reader, writer), request in zip(bidders, streams, requests, strict=True):
            b.sent_at = time.time()
            writer.write(request)
        sent = await asyncio.gather(*(_answer(reader) for reader, _writer in streams))
        for _reader, writer in streams:
            writer.close()
    # the completes on fresh connections (the first part's ones idled past the server's keep-alive meanwhile)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout, trust_env=False) as client:
        results = await asyncio.gather(*(_complete(client, b, r) for b, r in zip(bidders, sent, strict=True)))
        log_head: dict[str, Any] = (await client.get(f"{API}/log/head")).json()
    return deadline, started, list(results), log_head


def test_200_bidders_completing_in_the_final_second_are_all_accepted(
    tw: Tw, clock: FakeClock, suite_name: str, tmp_path: Path
) -> None:
    platform = tw.platform
    made = _make_bidders(platform, BIDDERS)
    env = server_env(platform.settings, tmp_path)
    server = start_server(env, tmp_path / "server.log")
    try:
        clock.set(datetime.now(UTC) - timedelta(days=1))
        pid, code, _far = to_bidding(tw, clock)  # a deadline 20 days ahead while everyone sends all but the end
        sealer = make_sealer(suite_name, platform)
        bidders = [Bidder(org.id, token, sealer.seal(org, code, size=3000)) for org, token in made]
        deadline, started, results, log_head = asyncio.run(_run(server.url, pid, platform, bidders, clock))
    finally:
        server.stop()
    assert deadline - timedelta(seconds=1) <= started < deadline
    outcome: dict[str, int] = {}
    for _at, r in results:
        what = f"{r.status_code} {r.json().get('code', '')}".strip() if r.status_code != 200 else "200"
        outcome[what] = outcome.get(what, 0) + 1
    last_answer = max(at for at, _r in results) - deadline.timestamp()
    with platform.db.read() as s:
        late = [e.data for e in s.scalars(select(AuditEvent).where(AuditEvent.tag.like("%bid:late")))]
    arrivals = sorted((datetime.fromisoformat(d["at"]) - deadline).total_seconds() for d in late)
    sends = sorted(b.sent_at - deadline.timestamp() for b in bidders)
    assert outcome == {"200": BIDDERS}, (
        f"{outcome}; the last answer came {last_answer:+.2f} s after the deadline; final chunks sent from "
        f"{sends[0]:+.3f} to {sends[-1]:+.3f} s (median {sends[len(sends) // 2]:+.3f}); refused arrivals stamped "
        f"from {arrivals[0] if arrivals else 0:+.3f} to {arrivals[-1] if arrivals else 0:+.3f} s; final second "
        f"began {(started - deadline).total_seconds():+.3f} s"
    )
    public_key = bytes.fromhex(log_head["log"]["log_public_key"])
    receipts = []
    for b, (_at, r) in zip(bidders, results, strict=True):
        assert r.status_code == 200, r.text
        body = r.json()
        receipt = body["receipt"]
        assert verify_receipt(receipt, public_key) == []
        assert body["bid"]["container_hash"] == platform.suite.digest(b.data).hex()
        received = datetime.fromisoformat(body["bid"]["received_at"])
        assert deadline - timedelta(seconds=1) <= received < deadline, (received, deadline)
        receipts.append(receipt)
    assert len({r["receipt"]["container_hash"] for r in receipts}) == BIDDERS
    with platform.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Bid).where(Bid.status == "submitted")) == BIDDERS
        assert len(set(s.scalars(select(Bid.org_id)))) == BIDDERS
        tags = s.scalars(select(AuditEvent.tag).where(AuditEvent.tag.like("%bid:submit"))).all()
        assert len(tags) == BIDDERS
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.tag.like("%bid:late"))) == 0
    with platform.db.read() as s:
        from sunbid.projects.models import Project

        project = s.get(Project, pid)
        assert project is not None
        assert project_facts(project, deadline).bids_received == BIDDERS
    completes = [line for line in server.log_path.read_text().splitlines() if "/complete" in line and " 200" in line]
    assert len(completes) == BIDDERS  # the server's own JSON access log has every one of them
    stored = platform.storage.list(f"bids/{pid}/")
    assert len(stored) == BIDDERS
