"""The bidder tool's HTTP client against a scripted server (httpx.MockTransport): retries, backoff, offsets."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from bidworld import CONTEXT, World
from test_tool_local import make_bundle, make_opening_key

from sunbid.bidding.container import open_bid
from sunbid.bidding.tool import load_state, state_path
from sunbid.bidding.tool_client import (
    BidderClient,
    NetworkFailure,
    ServerRefusal,
    local_content_key,
    submit_container,
)
from sunbid.core.errors import DomainError


@dataclass
class FakeServer:
    """Just enough of the upload protocol to drive the client (the real one is tested end to end)."""

    length: int = 0
    held: bytearray = field(default_factory=bytearray)
    uploads: int = 0
    completed: bool = False
    expired: bool = False
    fail_next: list[int | str] = field(default_factory=list)  # status codes, or "drop" for a network error
    requests: list[str] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        if self.fail_next:
            what = self.fail_next.pop(0)
            if what == "drop":
                raise httpx.ConnectError("connection reset", request=request)
            return httpx.Response(int(what), json={"code": "server.busy", "message_zh": "忙", "message_en": "busy"})
        path = request.url.path
        if request.method == "POST" and path.endswith("/uploads"):
            self.uploads += 1
            self.length = int(json.loads(request.content)["length"])
            self.held.clear()
            self.expired = False
            return httpx.Response(201, json={"id": 9, "offset": 0, "status": "open"})
        if request.method == "GET" and path == "/api/v1/uploads/9":
            status = "completed" if self.completed else "expired" if self.expired else "open"
            return httpx.Response(200, json={"id": 9, "offset": len(self.held), "status": status})
        if request.method == "PATCH":
            at = int(request.headers["Upload-Offset"])
            if at != len(self.held):
                body = {"code": "bid.offset_mismatch", "message_zh": "偏移", "details": {"offset": len(self.held)}}
                return httpx.Response(409, json=body)
            self.held += request.content
            return httpx.Response(204, headers={"Upload-Offset": str(len(self.held))})
        if request.method == "POST" and path.endswith("/complete"):
            assert len(self.held) == self.length
            self.completed = True
            return httpx.Response(200, json={"bid": {"id": 5}, "receipt": {"receipt": {"container_hash": "x"}}})
        return httpx.Response(404, json={"code": "nope"})


def _client(server: Callable[[httpx.Request], httpx.Response], sleeps: list[float]) -> BidderClient:
    http = httpx.Client(transport=httpx.MockTransport(server), base_url="http://platform")
    return BidderClient(http, token="t", retries=3, sleep=sleeps.append)


@pytest.fixture
def container(world: World, tmp_path: Path) -> Path:
    path = tmp_path / "bid.sbid"
    manifest = world.manifest(section_code="01")
    path.write_bytes(world.seal({"a.pdf": b"A" * 150_000}, manifest))
    return path


def test_retries_transient_answers_with_growing_backoff() -> None:
    sleeps: list[float] = []
    server = FakeServer(fail_next=[503, "drop", 502])
    client = _client(server, sleeps)
    assert client.upload(9) == {"id": 9, "offset": 0, "status": "open"}
    assert sleeps == [0.5, 1.0, 2.0]


def test_gives_up_after_the_retries_with_a_resumable_network_failure() -> None:
    sleeps: list[float] = []
    client = _client(FakeServer(fail_next=["drop"] * 10), sleeps)
    with pytest.raises(NetworkFailure) as exc:
        client.upload(9)
    assert exc.value.code == "bidder.network" and "续传" in exc.value.message_zh
    assert len(sleeps) == 3


def test_a_refusal_is_not_retried_and_keeps_the_servers_message() -> None:
    sleeps: list[float] = []
    server = FakeServer(fail_next=[409])
    with pytest.raises(ServerRefusal) as exc:
        _client(server, sleeps).complete(9)
    assert exc.value.status == 409 and exc.value.message_zh == "忙" and sleeps == []


def test_uploads_in_chunks_and_survives_dropped_chunks(container: Path) -> None:
    sleeps: list[float] = []
    server = FakeServer()
    original = server.__call__

    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            calls["n"] += 1
            if calls["n"] in (2, 3):  # the reply of chunk 2 is lost after the server stored it, then a drop
                response = original(request)
                if calls["n"] == 2:
                    raise httpx.ReadError("reply lost", request=request)
                return response
        return original(request)

    client = _client(flaky, sleeps)
    done = submit_container(
        client, container, server="http://platform", project_id=1, section="01", chunk_size=40_000, log_key=b"k"
    )
    assert bytes(server.held) == container.read_bytes()
    assert server.uploads == 1 and server.completed
    assert done.bid == {"id": 5} and done.resumed_from == 0
    assert sleeps == [0.5]  # one failure, one backoff, then the server's offset decided where to go on
    state = load_state(state_path(container))
    assert state is not None and state.bid_id == 5 and state.offset == state.length


def test_resumes_from_the_servers_offset_not_from_the_start(container: Path) -> None:
    sleeps: list[float] = []
    server = FakeServer()
    client = _client(server, sleeps)
    data = container.read_bytes()

    def crash(done: int, total: int) -> None:  # a first run killed after two chunks
        if done >= 80_000:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        submit_container(
            client, container, server="http://p", project_id=1, section="01", chunk_size=40_000, progress=crash
        )
    assert len(server.held) == 80_000
    done = submit_container(
        client, container, server="http://p", project_id=1, section="01", chunk_size=40_000, log_key=b"k"
    )
    assert done.resumed_from == 80_000 and done.sent_bytes == len(data) - 80_000
    assert server.uploads == 1 and bytes(server.held) == data


def test_refuses_a_container_for_another_section_before_any_request(container: Path) -> None:
    server = FakeServer()
    with pytest.raises(DomainError) as exc:
        submit_container(_client(server, []), container, server="http://p", project_id=1, section="02")
    assert exc.value.code == "bidder.section_mismatch" and server.requests == []


def test_unwraps_the_content_key_locally(world: World, container: Path) -> None:
    bundle = make_bundle(world)
    key, section, digest = local_content_key(container, bundle, make_opening_key(world))
    raw = container.read_bytes()
    assert section == "01" and digest == world.suite.digest(raw).hex()
    opened = open_bid(world.suite, raw, content_key=key, context=CONTEXT)
    assert opened.files["a.pdf"] == b"A" * 150_000
    other = world.b.encryption.private
    with pytest.raises(DomainError) as exc:
        local_content_key(container, replace(bundle, encryption_private=other), make_opening_key(world))
    assert exc.value.code == "bid.wrong_key"


def test_an_expired_upload_is_started_afresh(container: Path) -> None:
    server = FakeServer()

    def crash(done: int, total: int) -> None:
        if done >= 40_000:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        submit_container(_client(server, []), container, server="http://p", project_id=1, section="01", progress=crash)
    server.expired = True  # the platform abandoned it (idle for a day)
    done = submit_container(
        _client(server, []), container, server="http://p", project_id=1, section="01", chunk_size=40_000, log_key=b"k"
    )
    assert server.uploads == 2 and done.resumed_from == 0 and bytes(server.held) == container.read_bytes()


def test_an_upload_completed_meanwhile_ends_with_its_receipt(container: Path) -> None:
    server = FakeServer()
    original = server.__call__

    def other_run_finished(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH" and len(server.held) >= 40_000:
            server.held[:] = container.read_bytes()  # another run of the tool sent the rest and completed
            body = {"code": "bid.upload_closed", "message_zh": "该上传已完成。"}
            return httpx.Response(409, json=body)
        return original(request)

    done = submit_container(
        _client(other_run_finished, []),
        container,
        server="http://p",
        project_id=1,
        section="01",
        chunk_size=40_000,
        log_key=b"k",
    )
    assert done.bid == {"id": 5} and server.completed and server.uploads == 1
