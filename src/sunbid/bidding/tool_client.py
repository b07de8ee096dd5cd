"""The bidder tool's HTTP side: the resumable upload, the receipt, the decryption window.

:class:`BidderClient` speaks the platform's API (``docs/upload-protocol.md``) over an ``httpx.Client``, retrying
transient failures (network errors, 429, 502, 503, 504) with exponential backoff. :func:`submit_container`
uploads a sealed container so that a re-run after a crash or a network failure resumes where the server is (it
asks the server for the offset, never trusts the local state alone) and a re-run after completion returns the
same receipt. :func:`decrypt_bid` unwraps the content key locally (the private key never leaves the machine)
and releases only that key to the platform during the decryption window.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sunbid.bidding.container import check_container, container_hash, read_header, unwrap_content_key
from sunbid.bidding.receipts import verify_receipt
from sunbid.bidding.tool import (
    OpeningKey,
    UploadState,
    load_state,
    parse_opening_key,
    read_chunks,
    receipt_path,
    save_state,
    state_path,
)
from sunbid.core.errors import Conflict, DomainError, ErrorKind, ValidationFailed
from sunbid.crypto.bundle import KeyBundle
from sunbid.platform.secrets import atomic_write

API = "/api/v1"
DEFAULT_CHUNK = 4 * 1024 * 1024
MAX_CHUNK = 16 * 1024 * 1024
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
OCTETS = "application/offset+octet-stream"
_KINDS = {
    400: ErrorKind.INVALID,
    401: ErrorKind.UNAUTHENTICATED,
    403: ErrorKind.FORBIDDEN,
    404: ErrorKind.NOT_FOUND,
    409: ErrorKind.CONFLICT,
    413: ErrorKind.INVALID,
    422: ErrorKind.INVALID,
    429: ErrorKind.TOO_MANY,
}


def pause(seconds: float) -> None:
    """Sleep between retries (the tool runs on the bidder's machine: real time, not the platform clock)."""
    time.sleep(seconds)


class NetworkFailure(DomainError):
    """The server could not be reached (after the retries): the upload can be resumed by running again."""

    kind = ErrorKind.UNAVAILABLE


class ServerRefusal(DomainError):
    """The server answered with a problem (RFC 9457): its code and messages, and the HTTP status."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        code = str(body.get("code") or f"http.{status}")
        zh = str(body.get("message_zh") or body.get("detail") or f"服务器返回 HTTP {status}。")
        en = str(body.get("message_en") or body.get("title") or f"The server answered HTTP {status}.")
        details = body.get("details")
        kind = _KINDS.get(status, ErrorKind.UNAVAILABLE if status >= 500 else ErrorKind.INVALID)
        super().__init__(code, zh, en, kind=kind, details=details if isinstance(details, dict) else None)
        self.status = status


def _network_failure(what: str, exc: Exception | None = None) -> NetworkFailure:
    reason = f"{type(exc).__name__}: {exc}" if exc is not None else what
    return NetworkFailure(
        "bidder.network",
        f"无法连接平台服务器（{what}）。进度已保存，稍后重新运行同一命令即可续传。",
        f"Cannot reach the platform ({what}). Progress is saved: run the same command again to resume.",
        details={"reason": reason},
    )


@dataclass
class BidderClient:
    """The platform API as one bidder sees it (bearer token, or a password session with its CSRF token)."""

    http: httpx.Client
    token: str | None = None
    retries: int = 5
    backoff: float = 0.5
    sleep: Callable[[float], None] | None = None
    _csrf: str | None = field(default=None, repr=False)

    # --- plumbing ----

    def _headers(self, method: str, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "Accept-Language": "zh-CN"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self._csrf and method not in ("GET", "HEAD"):
            headers["X-CSRF-Token"] = self._csrf
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
        retries: int | None = None,
    ) -> httpx.Response:
        """Send, retrying transient failures with backoff; a problem answer raises :class:`ServerRefusal`."""
        attempts = (self.retries if retries is None else retries) + 1
        last: Exception | None = None
        for attempt in range(attempts):
            if attempt:
                self.wait(attempt)
            try:
                response = self.http.request(
                    method, path, json=json_body, content=content, headers=self._headers(method, headers)
                )
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code in TRANSIENT_STATUS and attempt + 1 < attempts:
                last = None
                continue
            if response.status_code in ok:
                return response
            raise ServerRefusal(response.status_code, _problem(response))
        raise _network_failure(f"{method} {path}", last)

    def wait(self, attempt: int) -> None:
        """Back off before retry ``attempt`` (1, 2, …): 0.5 s, 1 s, 2 s … at most 30 s."""
        (self.sleep or pause)(min(self.backoff * 2 ** (attempt - 1), 30.0))

    def login(self, username: str, password: str) -> None:
        """A password session: the cookie stays in the client, the CSRF token goes with every change."""
        r = self.request("POST", f"{API}/auth/login", json_body={"username": username, "password": password})
        self._csrf = str(r.json()["csrf_token"])

    # --- public ----

    def opening_key(self, project_id: int, section: str) -> OpeningKey:
        """The section's published opening key and bid context."""
        r = self.request("GET", f"{API}/projects/{project_id}/sections/{section}/opening-key")
        return parse_opening_key(r.json())

    def log_key(self) -> bytes:
        """The transparency log's public key, as the platform publishes it with the signed tree head."""
        r = self.request("GET", f"{API}/log/head")
        return bytes.fromhex(str(r.json()["log"]["log_public_key"]))

    # --- uploads ----

    def create_upload(self, project_id: int, section: str, length: int, digest: str) -> dict[str, Any]:
        """Open an upload session (201)."""
        body = {"length": length, "container_hash": digest}
        r = self.request("POST", f"{API}/projects/{project_id}/sections/{section}/uploads", json_body=body, ok=(201,))
        return dict(r.json())

    def upload(self, upload_id: int) -> dict[str, Any] | None:
        """The upload's state (its offset and status), or None when the server does not know it."""
        try:
            r = self.request("GET", f"{API}/uploads/{upload_id}")
        except ServerRefusal as exc:
            if exc.status == 404:
                return None
            raise
        return dict(r.json())

    def patch(self, upload_id: int, offset: int, data: bytes) -> int:
        """Append ``data`` at ``offset``; the server's new offset (no retry here: the caller re-asks the offset)."""
        headers = {"Content-Type": OCTETS, "Upload-Offset": str(offset)}
        r = self.request("PATCH", f"{API}/uploads/{upload_id}", content=data, headers=headers, ok=(204,), retries=0)
        return int(r.headers["Upload-Offset"])

    def complete(self, upload_id: int) -> dict[str, Any]:
        """Commit the upload as a bid: ``{"bid": ..., "receipt": ...}`` (the same answer when repeated)."""
        return dict(self.request("POST", f"{API}/uploads/{upload_id}/complete").json())

    def bid(self, bid_id: int) -> dict[str, Any]:
        """One of the bidder's own bids."""
        return dict(self.request("GET", f"{API}/bids/{bid_id}").json())

    # --- opening ----

    def check_in(self, project_id: int, section: str) -> dict[str, Any]:
        """Sign in to the opening session for a section."""
        r = self.request("POST", f"{API}/projects/{project_id}/opening/check-in", json_body={"section": section})
        return dict(r.json()) if r.content else {}

    def decrypt(self, project_id: int, bid_id: int, content_key: bytes) -> dict[str, Any]:
        """Release the content key of one bid to the opening session."""
        body = {"bid_id": bid_id, "content_key": base64.b64encode(content_key).decode("ascii")}
        r = self.request("POST", f"{API}/projects/{project_id}/opening/decrypt", json_body=body)
        return dict(r.json()) if r.content else {}


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- submit --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Submission:
    """What a finished submission produced."""

    bid: dict[str, Any]
    receipt: dict[str, Any]
    receipt_file: Path
    problems: list[str]
    resumed_from: int
    sent_bytes: int


Progress = Callable[[int, int], None]


def _local_check(container: Path, section: str) -> tuple[str, int, str]:
    """(container hash, length, suite) of a well-formed container naming ``section``; refuses a damaged file."""
    try:
        with container.open("rb") as fh:
            header = read_header(fh)
            fh.seek(0)
            check = check_container(fh, header.suite)
        length = container.stat().st_size
    except OSError as exc:
        raise ValidationFailed(
            "bidder.unreadable", f"无法读取 {container}：{exc.strerror}", f"cannot read {container}: {exc.strerror}"
        ) from None
    if header.section_code != section:
        raise ValidationFailed(
            "bidder.section_mismatch",
            f"投标文件封装的是标段 {header.section_code}，与 --section {section} 不符。",
            f"The container was sealed for section {header.section_code}, not {section}.",
        )
    return check.container_hash, length, header.suite


def submit_container(
    client: BidderClient,
    container: Path,
    *,
    server: str,
    project_id: int,
    section: str,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Progress | None = None,
    log_key: bytes | None = None,
) -> Submission:
    """Upload ``container`` (resuming a previous run), complete it, save and verify the receipt.

    The state file next to the container records the upload id; on a re-run the server's offset decides where
    to continue. A chunk refused with ``bid.offset_mismatch`` continues from the offset the server names; a
    network failure is retried with backoff, asking the server for its offset each time.
    """
    if not 1 <= chunk_size <= MAX_CHUNK:
        raise ValidationFailed(
            "bidder.bad_chunk", "分块大小须在 1 字节至 16 MiB 之间。", "The chunk size must be 1 byte … 16 MiB."
        )
    digest, length, _suite = _local_check(container, section)
    spath = state_path(container)
    state = load_state(spath)
    if state is not None and not state.matches(server, project_id, section, digest, length):
        state = None  # another container, project or server: start afresh
    current: dict[str, Any] | None = None
    if state is not None:
        current = client.upload(state.upload_id)
        if current is None or current.get("status") == "expired":  # unknown or abandoned: start afresh
            state = None
    if state is None:
        current = client.create_upload(project_id, section, length, digest)
        state = UploadState(server, project_id, section, digest, length, int(current["id"]))
        save_state(spath, state)
    assert current is not None
    offset = int(current["offset"])
    resumed_from = offset
    sent = 0
    if current.get("status") != "completed":
        sent = _send(client, container, state, spath, offset, chunk_size, progress)
    result = client.complete(state.upload_id)
    state.offset = length
    state.bid_id = int(result["bid"]["id"])
    save_state(spath, state)
    receipt = result["receipt"]
    rpath = receipt_path(container)
    atomic_write(rpath, json.dumps(receipt, ensure_ascii=False, indent=2).encode("utf-8"))
    key = client.log_key() if log_key is None else log_key
    problems = verify_receipt(receipt, key)
    body = receipt.get("receipt", {}) if isinstance(receipt, dict) else {}
    if not problems and body.get("container_hash") != digest:
        problems = ["the receipt names another container hash"]
    return Submission(result["bid"], receipt, rpath, problems, resumed_from, sent)


def _send(
    client: BidderClient,
    container: Path,
    state: UploadState,
    spath: Path,
    offset: int,
    chunk_size: int,
    progress: Progress | None,
) -> int:
    sent = 0
    failures = 0
    length = state.length
    with container.open("rb") as fh:
        while offset < length:
            if progress is not None:
                progress(offset, length)
            at, data = next(read_chunks(fh, offset, chunk_size, length))
            try:
                offset = client.patch(state.upload_id, at, data)
                sent += len(data)
                failures = 0
            except ServerRefusal as exc:
                if exc.code == "bid.offset_mismatch" and isinstance(exc.details.get("offset"), int):
                    offset = int(exc.details["offset"])
                    continue
                if exc.code == "bid.upload_closed":  # completed meanwhile (another run): fetch its receipt
                    break
                if exc.status in TRANSIENT_STATUS or exc.status >= 500:
                    failures = _failed(client, failures, exc)
                    offset = _server_offset(client, state.upload_id, offset)
                    continue
                raise
            except NetworkFailure as exc:
                failures = _failed(client, failures, exc)
                offset = _server_offset(client, state.upload_id, offset)
                continue
            state.offset = offset
            save_state(spath, state)
    if progress is not None:
        progress(length, length)
    return sent


def _failed(client: BidderClient, failures: int, exc: DomainError) -> int:
    failures += 1
    if failures > client.retries:
        if isinstance(exc, NetworkFailure):
            raise exc
        raise _network_failure(exc.code) from exc
    client.wait(failures)
    return failures


def _server_offset(client: BidderClient, upload_id: int, fallback: int) -> int:
    current = client.upload(upload_id)
    if current is None:
        raise Conflict(
            "bidder.upload_lost",
            "服务器上找不到本次上传，请重新运行命令开始新的上传。",
            "The server no longer knows this upload; run the command again to start a new one.",
        )
    return int(current.get("offset", fallback))


# --- decrypt -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decryption:
    """What the decrypt command did."""

    bid_id: int
    section: str
    container_hash: str
    checked_in: dict[str, Any]
    result: dict[str, Any]


def local_content_key(container: Path, bundle: KeyBundle, opening_key: OpeningKey) -> tuple[bytes, str, str]:
    """``(content key, section code, container hash)``, unwrapped with the bidder's own encryption key."""
    try:
        with container.open("rb") as fh:
            header = read_header(fh)
            fh.seek(0)
            digest = container_hash(fh, header.suite)
            fh.seek(0)
            key = unwrap_content_key(
                bundle.suite, fh, context=opening_key.context, encryption_private=bundle.encryption_private
            )
    except OSError as exc:
        raise ValidationFailed(
            "bidder.unreadable", f"无法读取 {container}：{exc.strerror}", f"cannot read {container}: {exc.strerror}"
        ) from None
    return key, header.section_code, digest


def decrypt_bid(
    client: BidderClient,
    container: Path,
    bundle: KeyBundle,
    *,
    project_id: int,
    bid_id: int,
    opening_key: OpeningKey | None = None,
) -> Decryption:
    """Check in, unwrap the content key locally and release it for bid ``bid_id``.

    The local container must be the submitted one (same hash as the server's bid, ``bidder.wrong_container``).
    A closed window is the server's 409, raised as :class:`ServerRefusal` with its message.
    """
    bid = client.bid(bid_id)
    with container.open("rb") as fh:
        section = read_header(fh).section_code
    key_info = opening_key or client.opening_key(project_id, section)
    content_key, section, digest = local_content_key(container, bundle, key_info)
    if bid.get("container_hash") != digest:
        raise Conflict(
            "bidder.wrong_container",
            f"本地投标文件与投标 {bid_id} 不是同一份（哈希不同）。",
            f"The local container is not bid {bid_id} (different hash).",
        )
    checked_in = client.check_in(project_id, section)
    result = client.decrypt(project_id, bid_id, content_key)
    return Decryption(bid_id, section, digest, checked_in, result)


def make_http(server: str) -> httpx.Client:
    """The HTTP client of the CLI commands (tests replace this to talk to an in-process app)."""
    return httpx.Client(base_url=server, timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False)
