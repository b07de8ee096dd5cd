"""The bidder tool end to end: ``sunbid bidder seal`` → ``submit`` (through the real API) → ``receipt verify``.

The CLI's HTTP client is pointed at the in-process app (``tool_client.make_http``), so every request goes
through the real routes, services and database. Interruptions are simulated by a client that dies (or loses
the network) after k chunks; the re-run must resume from the server's offset and end with one receipt.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner, Result

from sunbid.bidding import tool_client
from sunbid.bidding.container import open_bid, read_header
from sunbid.cli import app
from sunbid.core.clock import FakeClock
from sunbid.crypto.bundle import export_bundle
from sunbid.identity import certs
from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.opening.service import public_key_info
from sunbid.platform.container import Platform
from tests.e2e.test_api_projects import Api, make_api
from tests.support.world import PASSWORD

BUNDLE_PASSWORD = "bundle-pass-2026"
SERVER = "http://127.0.0.1"
CHUNK_MB = "0.05"  # 52,428-byte chunks: the test container has about six
CHUNK = int(0.05 * 1024 * 1024)
REAL_MAKE_HTTP = tool_client.make_http


class Crash(Exception):
    """The bidder's computer dies in the middle of the upload."""


@dataclass
class Interrupting:
    """An HTTP client that behaves like ``inner`` until ``after`` chunks went out, then crashes or drops."""

    inner: TestClient
    after: int
    mode: str = "crash"
    patches: int = 0

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        if method == "PATCH":
            if self.patches >= self.after:
                if self.mode == "crash":
                    raise Crash("killed")
                raise httpx.ConnectError("network down")
            self.patches += 1
        elif self.patches >= self.after and self.mode == "drop":
            raise httpx.ConnectError("network down")
        return self.inner.request(method, url, **kw)


@dataclass
class Tool:
    """A project in ``bidding``, bidder A's key bundle, and the CLI pointed at the app."""

    api: Api
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    pid: int = 0
    code: str = ""
    deadline: Any = None
    bundles: dict[str, Path] = field(default_factory=dict)
    encryption_keys: dict[str, bytes] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def use(self, http: Any) -> None:
        self.monkeypatch.setattr(tool_client, "make_http", lambda server: http)

    def run(self, *args: str) -> Result:
        env = {"SUNBID_BUNDLE_PASSWORD": BUNDLE_PASSWORD}
        return CliRunner().invoke(app, ["bidder", *args], env=env)

    def key_args(self, offline: bool = False) -> tuple[list[str], str]:
        """``--server`` when the platform serves the section's opening key, else the same key as a file."""
        r = self.api.client.get(f"/api/v1/projects/{self.pid}/sections/01/opening-key")
        if r.status_code == 200 and not offline:
            return ["--server", SERVER], str(r.json()["context"])
        with self.api.platform.uow() as uow:
            body = public_key_info(uow, self.pid, "01")
        path = self.tmp / "opening-key.json"
        path.write_text(json.dumps(body), encoding="utf-8")
        return ["--opening-key", str(path)], str(body["context"])

    @property
    def bundle(self) -> Path:
        return self.bundles["bidder_a"]

    def make_bundle(self, who: str) -> None:
        """Bidder ``who``'s key bundle, certified by the platform's CA (as ``sunbid cert`` would issue it)."""
        platform = self.api.platform
        suite = platform.suite
        signing = suite.generate_signing_keypair()
        encryption = suite.generate_encryption_keypair()
        with platform.uow() as uow:
            sc, ec = certs.issue_certificates(uow, self.api.world.orgs[who].id, signing.public, encryption.public)
            uow.commit()
        data = export_bundle(
            suite,
            password=BUNDLE_PASSWORD,
            signing_private=signing.private,
            signing_cert_pem=sc.pem,
            encryption_private=encryption.private,
            encryption_cert_pem=ec.pem,
            ca_cert_pem=platform.ca().certificate_pem,
            iterations=1000,
        )
        self.bundles[who] = self.tmp / f"{who}.p12"
        self.bundles[who].write_bytes(data)
        self.encryption_keys[who] = encryption.private

    def folder(self, marker: str = "投标文件内容") -> Path:
        folder = self.tmp / "投标文件"
        folder.mkdir(exist_ok=True)
        (folder / "商务标.pdf").write_bytes((marker + " business ").encode() * 12_000)
        (folder / "技术标.docx").write_bytes(b"technical proposal " * 800)
        return folder

    def seal(self, out: str = "bid.sbid", *extra: str, who: str = "bidder_a") -> tuple[Result, Path, str]:
        key_args, context = self.key_args()
        target = self.tmp / out
        result = self.run(
            "seal",
            str(self.folder()),
            "--bundle",
            str(self.bundles[who]),
            *key_args,
            "--project",
            f"{self.pid}:{self.code}",
            "--section",
            "01",
            "--price",
            "11800000.5",
            "--duration-days",
            "365",
            "--quality",
            "合格",
            "--commitment",
            "项目经理：张三（一级建造师）",
            "--commitment",
            "安全文明施工",
            "--out",
            str(target),
            "--json",
            *extra,
        )
        return result, target, context

    def submit(
        self, container: Path, *, who: str = "bidder_a", section: str = "01", password: bool = False, json: bool = True
    ) -> Result:
        if password:  # sign in with the username and a password file instead of a token
            secret = self.tmp / "password.txt"
            secret.write_text(PASSWORD + "\n", encoding="utf-8")
            login = ["--username", who, "--password-file", str(secret)]
        else:
            login = ["--token", self.api.tokens[who]]
        return self.run(
            "submit",
            str(container),
            "--server",
            SERVER,
            *login,
            "--project",
            str(self.pid),
            "--section",
            section,
            "--chunk-mb",
            CHUNK_MB,
            *(["--json"] if json else []),
        )

    def my_bids(self, who: str = "bidder_a") -> list[dict[str, Any]]:
        return list(self.api.get(who, f"/projects/{self.pid}/bids/mine").json())

    def decrypt(self, container: Path, bid_id: int, who: str = "bidder_a") -> Result:
        return self.run(
            "decrypt",
            "--bundle",
            str(self.bundles[who]),
            "--server",
            SERVER,
            "--token",
            self.api.tokens[who],
            "--project",
            str(self.pid),
            "--bid",
            str(bid_id),
            "--container",
            str(container),
            "--json",
        )


@pytest.fixture
def tool(
    platform: Platform, client: TestClient, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Tool:
    api = make_api(platform, client, clock)
    t = Tool(api, tmp_path, monkeypatch)
    t.pid = int(api.create()["id"])
    t.code = str(api.get("operator", f"/projects/{t.pid}").json()["code"])
    t.deadline = api.to_bidding(t.pid)
    with platform.uow() as uow:
        user = uow.session.scalars(select(User).where(User.username == "bidder_c")).one()
        api.tokens["bidder_c"] = identity.create_api_token(uow, user, "t").raw
        uow.commit()
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        t.make_bundle(who)
    t.use(client)
    monkeypatch.setattr(tool_client, "pause", t.sleeps.append)
    return t


def _json(result: Result) -> dict[str, Any]:
    return dict(json.loads(result.stdout))


@pytest.mark.parametrize("suite_name", ["intl", "gm"])
def test_seal_submit_and_verify_the_receipt(tool: Tool) -> None:
    sealed, container, context = tool.seal("bid.sbid", "--fact", "类似工程业绩=3", "--fact", " 信用等级 = AAA ")
    assert sealed.exit_code == 0, sealed.output
    out = _json(sealed)
    data = container.read_bytes()
    assert out["container_hash"] == tool.api.platform.suite.digest(data).hex() and out["size"] == len(data)
    assert out["project_code"] == tool.code and [f["name"] for f in out["files"]] == ["商务标.pdf", "技术标.docx"]
    header = read_header(data)
    assert (header.project_code, header.section_code) == (tool.code, "01")
    opened = open_bid(
        tool.api.platform.suite, data, encryption_private=tool.encryption_keys["bidder_a"], context=context
    )
    assert opened.manifest.price == "11800000.50" and opened.manifest.duration_days == 365
    assert opened.manifest.key_commitments == ("项目经理：张三（一级建造师）", "安全文明施工")
    assert (
        opened.manifest.extra == {"类似工程业绩": "3", "信用等级": "AAA"} == out["facts"]
    )  # what objective items read
    assert opened.manifest.bidder_uscc == tool.api.world.orgs["bidder_a"].uscc and opened.signature_valid

    submitted = tool.submit(container)
    assert submitted.exit_code == 0, submitted.output
    result = _json(submitted)
    assert result["ok"] is True and result["receipt_problems"] == [] and result["resumed_from"] == 0
    assert result["container_hash"] == out["container_hash"] and result["sent_bytes"] == len(data)
    receipt_file = Path(result["receipt_file"])
    assert receipt_file == tool.tmp / "bid.sbid.receipt.json"
    [bid] = tool.my_bids()
    assert bid["id"] == result["bid_id"] and bid["status"] == "submitted"

    key = tool.api.get(None, "/log/head").json()["log"]["log_public_key"]
    verified = tool.run("receipt", "verify", str(receipt_file), "--log-key", key, "--json")
    assert verified.exit_code == 0 and _json(verified)["container_hash"] == out["container_hash"]

    human = tool.submit(container, json=False)  # the same receipt, printed for a person
    assert human.exit_code == 0, human.output
    assert f"bid #{bid['id']}" in human.stdout and "已校验" in human.stdout
    again = tool.submit(container)  # idempotent: the same receipt, nothing sent
    assert again.exit_code == 0, again.output
    second = _json(again)
    assert (second["bid_id"], second["ledger_index"], second["sent_bytes"]) == (bid["id"], result["ledger_index"], 0)
    assert (
        json.loads(receipt_file.read_text(encoding="utf-8"))
        == tool.api.get("bidder_a", f"/bids/{bid['id']}/receipt").json()
    )
    assert len(tool.my_bids()) == 1


def test_a_malformed_or_repeated_fact_is_refused_before_sealing(tool: Tool) -> None:
    for facts in (("--fact", "类似工程业绩"), ("--fact", "=3"), ("--fact", "信用等级=AAA", "--fact", "信用等级=AA")):
        refused, container, _ = tool.seal("bid.sbid", *facts)
        assert refused.exit_code != 0 and _json(refused)["code"] == "bidder.bad_fact", refused.output
        assert not container.exists()


def test_a_crash_after_k_chunks_resumes_from_the_servers_offset(tool: Tool) -> None:
    _, container, _ = tool.seal()
    length = container.stat().st_size
    assert length > 4 * CHUNK
    dying = Interrupting(tool.api.client, after=2)
    tool.use(dying)
    crashed = tool.submit(container)
    assert isinstance(crashed.exception, Crash)
    state = json.loads((tool.tmp / "bid.sbid.upload.json").read_text(encoding="utf-8"))
    server = tool.api.get("bidder_a", f"/uploads/{state['upload_id']}").json()
    assert server["offset"] == 2 * CHUNK and server["status"] == "open"
    assert tool.my_bids() == []

    tool.use(tool.api.client)
    resumed = tool.submit(container, password=True)  # signed in with a password this time
    assert resumed.exit_code == 0, resumed.output
    out = _json(resumed)
    assert out["resumed_from"] == 2 * CHUNK and out["sent_bytes"] == length - 2 * CHUNK
    [bid] = tool.my_bids()
    assert bid["id"] == out["bid_id"] and bid["size"] == length


def test_a_network_failure_exits_3_and_the_rerun_resumes(tool: Tool) -> None:
    _, container, _ = tool.seal()
    tool.use(Interrupting(tool.api.client, after=3, mode="drop"))
    failed = tool.submit(container)
    assert failed.exit_code == 3, failed.output
    problem = _json(failed)
    assert problem["ok"] is False and problem["code"] == "bidder.network"
    assert "续传" in problem["message_zh"]
    assert tool.sleeps[-5:] == [0.5, 1.0, 2.0, 4.0, 8.0]  # growing backoff before giving up
    tool.use(tool.api.client)
    resumed = tool.submit(container)
    assert resumed.exit_code == 0, resumed.output
    assert _json(resumed)["resumed_from"] == 3 * CHUNK
    assert len(tool.my_bids()) == 1


def test_a_submission_after_the_deadline_is_refused_with_the_servers_message(tool: Tool) -> None:
    _, container, _ = tool.seal()
    tool.api.clock.set(tool.deadline + timedelta(milliseconds=1))
    late = tool.submit(container)
    assert late.exit_code == 1
    problem = _json(late)
    assert problem["code"] == "bid.deadline_passed" and "截止" in problem["message_zh"]


def test_bad_inputs_are_refused_in_chinese_with_a_non_zero_exit(tool: Tool) -> None:
    bad_price, _, _ = tool.seal("a.sbid", "--price", "12.345")
    assert bad_price.exit_code == 1 and _json(bad_price)["code"] == "bidder.bad_price"
    assert not (tool.tmp / "a.sbid").exists()

    (tool.folder() / "附件").mkdir()
    sub, _, _ = tool.seal("b.sbid")
    assert sub.exit_code == 1 and _json(sub)["code"] == "bidder.subfolder"
    assert "子文件夹" in sub.output
    (tool.folder() / "附件").rmdir()

    wrong = CliRunner().invoke(
        app,
        [
            *("bidder", "seal", str(tool.folder()), "--bundle", str(tool.bundle), "--server", SERVER),
            *("--project", "1", "--section", "01", "--price", "1", "--duration-days", "1", "--quality", "合格"),
            *("--out", str(tool.tmp / "c.sbid"), "--json"),
        ],
        env={"SUNBID_BUNDLE_PASSWORD": "not-the-password"},
    )
    assert wrong.exit_code == 1 and _json(wrong)["code"] == "cert.bad_password"

    _, container, _ = tool.seal()
    mismatch = tool.submit(container, section="02")
    assert mismatch.exit_code == 1 and _json(mismatch)["code"] == "bidder.section_mismatch"

    inside, _, _ = tool.seal("投标文件/bid.sbid")
    assert inside.exit_code == 1 and _json(inside)["code"] == "bidder.output_in_folder"
    again, _, _ = tool.seal()  # would overwrite the container just sealed
    assert again.exit_code == 1 and _json(again)["code"] == "bidder.output_exists"
    assert container.read_bytes()[:8] == b"\x89SBID\r\n\x1a"
    forced, _, _ = tool.seal("bid.sbid", "--force")
    assert forced.exit_code == 0, forced.output

    damaged = tool.tmp / "damaged.sbid"
    raw = bytearray(container.read_bytes())
    raw[-40] ^= 1
    damaged.write_bytes(bytes(raw))
    refused = tool.submit(damaged)
    assert refused.exit_code == 1 and _json(refused)["code"] == "bid.tampered"

    stranger = tool.submit(container, who="tenderer")
    assert stranger.exit_code == 1 and _json(stranger)["code"] == "bid.not_a_bidder"


def test_offline_sealing_with_a_key_file_and_the_project_code(tool: Tool) -> None:
    key_args, _ = tool.key_args(offline=True)
    base = [str(tool.folder()), "--bundle", str(tool.bundle), "--section", "01", "--price", "100"]
    base += ["--duration-days", "30", "--quality", "合格", "--json"]
    secret = tool.tmp / "bundle-password.txt"
    secret.write_text(BUNDLE_PASSWORD + "\n", encoding="utf-8")
    out = str(tool.tmp / "off.sbid")
    sealed = CliRunner().invoke(
        app,
        ["bidder", "seal", *base, *key_args, "--project", tool.code, "--out", out, "--password-file", str(secret)],
        env={"SUNBID_BUNDLE_PASSWORD": "the file wins over the environment"},
    )
    assert sealed.exit_code == 0, sealed.output
    submitted = tool.submit(tool.tmp / "off.sbid")
    assert submitted.exit_code == 0, submitted.output
    online_without_id = tool.run("seal", *base, "--server", SERVER, "--project", tool.code, "--out", "x.sbid")
    assert online_without_id.exit_code == 1 and _json(online_without_id)["code"] == "bidder.project_id_needed"
    both = tool.run("seal", *base, *key_args, "--server", SERVER, "--project", tool.code, "--out", "x.sbid")
    assert both.exit_code == 1 and _json(both)["code"] == "bidder.key_source"


def test_decrypt_in_the_window_releases_only_the_content_key(tool: Tool) -> None:
    containers: dict[str, tuple[Path, int]] = {}
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        _, container, _ = tool.seal(f"{who}.sbid", who=who)
        done = tool.submit(container, who=who)
        assert done.exit_code == 0, done.output
        containers[who] = (container, int(_json(done)["bid_id"]))
    container, bid_id = containers["bidder_a"]

    early = tool.decrypt(container, bid_id)  # before the deadline there is no decryption window
    assert early.exit_code == 1 and _json(early)["code"].startswith("opening.")
    assert "解密" in early.output

    tool.api.clock.set(tool.deadline)
    tool.api.platform.worker.run_once()
    assert tool.api.state(tool.pid) == "opening"

    _, other, _ = tool.seal("other.sbid")  # sealed by A again, never submitted: not bid ``bid_id``
    wrong = tool.decrypt(other, bid_id)
    assert wrong.exit_code == 1 and _json(wrong)["code"] == "bidder.wrong_container"
    not_mine = tool.decrypt(containers["bidder_b"][0], containers["bidder_b"][1])  # A cannot act for B
    assert not_mine.exit_code == 1

    done = tool.decrypt(container, bid_id)
    assert done.exit_code == 0, done.output
    out = _json(done)
    assert out["ok"] is True and out["bid_id"] == bid_id and out["section"] == "01"
    assert out["container_hash"] == tool.api.platform.suite.digest(container.read_bytes()).hex()
    session = tool.api.get("bidder_a", f"/projects/{tool.pid}/opening").json()
    assert "decrypted" in json.dumps(session)

    tool.api.clock.advance(timedelta(hours=2))  # the window (30 minutes by default) is over
    tool.api.platform.worker.run_once()
    late = tool.decrypt(*containers["bidder_b"], who="bidder_b")
    assert late.exit_code == 1 and _json(late)["code"].startswith("opening.")
    assert "解密窗口" in late.output


@pytest.fixture
def loopback(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (same platform and fake clock): real sockets, the CLI's own client."""
    import uvicorn

    from sunbid.app import create_app

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform, start_worker=False), log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_seal_and_submit_over_real_http(tool: Tool, loopback: str) -> None:
    tool.monkeypatch.setattr(tool_client, "make_http", REAL_MAKE_HTTP)  # the CLI's own client, real sockets
    base = [str(tool.folder()), "--bundle", str(tool.bundle), "--server", loopback, "--project"]
    base += [f"{tool.pid}:{tool.code}", "--section", "01", "--price", "9.99", "--duration-days", "1"]
    sealed = tool.run("seal", *base, "--quality", "合格", "--out", str(tool.tmp / "net.sbid"), "--json")
    assert sealed.exit_code == 0, sealed.output
    args = ["--server", loopback, "--token", tool.api.tokens["bidder_a"], "--project", str(tool.pid)]
    done = tool.run("submit", str(tool.tmp / "net.sbid"), *args, "--section", "01", "--chunk-mb", "0.03", "--json")
    assert done.exit_code == 0, done.output
    out = _json(done)
    assert out["ok"] is True and out["receipt_problems"] == []
    assert out["container_hash"] == _json(sealed)["container_hash"]
    assert [b["id"] for b in tool.my_bids()] == [out["bid_id"]]


def test_the_opening_key_saved_on_a_connected_machine_seals_offline(tool: Tool) -> None:
    key_file = tool.tmp / "key.json"
    saved = tool.run("opening-key", "--server", SERVER, "--project", f"{tool.pid}:{tool.code}", "--section", "01")
    assert saved.exit_code == 2  # --out is required: a usage error
    saved = tool.run(
        *("opening-key", "--server", SERVER, "--project", f"{tool.pid}:{tool.code}"),
        *("--section", "01", "--out", str(key_file), "--json"),
    )
    assert saved.exit_code == 0, saved.output
    body = json.loads(key_file.read_text(encoding="utf-8"))
    assert body["project_code"] == tool.code and body["section_code"] == "01"
    base = [str(tool.folder()), "--bundle", str(tool.bundle), "--opening-key", str(key_file), "--price", "1"]
    base += ["--duration-days", "1", "--quality", "合格", "--json"]
    other = tool.run("seal", *base, "--project", str(tool.pid), "--section", "02", "--out", str(tool.tmp / "o.sbid"))
    assert other.exit_code == 1 and _json(other)["code"] == "bidder.section_mismatch"
    sealed = tool.run("seal", *base, "--project", str(tool.pid), "--section", "01", "--out", str(tool.tmp / "k.sbid"))
    assert sealed.exit_code == 0, sealed.output
    assert _json(sealed)["project_code"] == tool.code  # the code came from the saved key file
    assert tool.submit(tool.tmp / "k.sbid").exit_code == 0
