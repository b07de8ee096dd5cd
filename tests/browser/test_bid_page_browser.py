"""The bid page in a real headless Chromium: a container sealed in the test (by the bidder tool's code) is
hashed with WebCrypto, uploaded in chunks, resumed after a refused chunk, completed; the receipt is shown,
downloaded and verifies offline; the bid is then withdrawn with the page's form."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Request, Route

from sunbid.bidding import pages as bid_pages
from sunbid.bidding.receipts import verify_receipt
from sunbid.bidding.tool import (
    BidInput,
    build_manifest,
    bundle_bidder,
    collect_documents,
    parse_opening_key,
    seal_folder,
)
from sunbid.core.clock import FakeClock
from sunbid.crypto.bundle import KeyBundle
from sunbid.identity import certs
from sunbid.opening.service import public_key_info
from sunbid.platform.container import Platform
from tests.browser.conftest import Tab
from tests.e2e.test_pages_projects import T0, Site, build_site, new_project, to_bidding
from tests.support.world import PASSWORD

pytestmark = pytest.mark.browser

CHUNK = 64 * 1024


@pytest.fixture
def site(platform: Platform, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Site:
    clock.set(T0)
    monkeypatch.setattr(bid_pages, "PAGE_CHUNK", CHUNK)  # several chunks for a small container
    return build_site(platform)


def _seal(site: Site, pid: int, tmp: Path, name: str) -> Path:
    """What the bidder does at home: ``sunbid bidder seal`` (its functions) with a bundle from the centre's CA."""
    platform = site.platform
    suite = platform.suite
    signing, encryption = suite.generate_signing_keypair(), suite.generate_encryption_keypair()
    with platform.uow() as uow:
        sc, ec = certs.issue_certificates(uow, site.world.orgs["bidder_a"].id, signing.public, encryption.public)
        key = parse_opening_key(public_key_info(uow, pid, "01"))
        uow.commit()
    bundle = KeyBundle(
        suite.name,
        signing.private,
        signing.public,
        sc.pem,
        encryption.private,
        encryption.public,
        ec.pem,
        platform.ca().certificate_pem,
    )
    folder = tmp / name
    folder.mkdir()
    (folder / "商务标.pdf").write_bytes(b"%PDF business proposal " * 15_000)
    bid = BidInput(site.project(pid).code, "01", "11800000.00", 365, "合格", ("项目经理：张三",))
    manifest = build_manifest(bid, bundle_bidder(bundle), fingerprint="ef" * 32, now=datetime.now(UTC))
    out = tmp / f"{name}.sbid"
    seal_folder(out, collect_documents(folder), manifest, bundle, key)
    return out


def _sign_in(tab: Tab, next_url: str) -> None:
    tab.goto(f"/login?next={next_url}")
    tab.page.fill("#username", "bidder_a")
    tab.page.fill("#password", PASSWORD)
    tab.page.locator("#password-form button[type=submit]").click()
    tab.page.wait_for_url(tab.base + next_url)


def test_bidder_uploads_resumes_and_downloads_the_receipt(
    site: Site, tab: Tab, tmp_path: Path, screenshot_dir: Path
) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    container = _seal(site, pid, tmp_path, "bid")
    data = container.read_bytes()
    assert len(data) > 4 * CHUNK
    _sign_in(tab, f"/projects/{pid}/bid")
    page = tab.page
    assert page.locator("h1 .project-name").inner_text() == "池州市示范道路工程"

    # The third chunk is refused once (as by a proxy); the page stops and offers to retry.
    offsets: list[int] = []
    refused = {"n": 0}

    def patch(route: Route, request: Request) -> None:
        if request.method != "PATCH":
            route.continue_()
            return
        offsets.append(int(request.headers["upload-offset"]))
        if len(offsets) == 3 and not refused["n"]:
            refused["n"] += 1
            body = json.dumps({"code": "proxy.refused", "message_zh": "代理拒绝", "message_en": "proxy refused"})
            route.fulfill(status=400, body=body, content_type="application/problem+json")
            return
        route.continue_()

    page.route("**/api/v1/uploads/*", patch)
    page.select_option("#bid-section", "01")
    page.set_input_files("#bid-file", str(container))
    page.click("#bid-start")
    page.wait_for_selector("#bid-retry:not([hidden])")
    assert page.locator("#bid-retry").is_visible()
    assert "代理拒绝" in page.locator("#bid-status").inner_text()
    assert offsets == [0, CHUNK, 2 * CHUNK]

    # Retry: the page asks the server where it stands and resumes at the third chunk, not from zero.
    page.click("#bid-retry")
    page.wait_for_selector("#bid-receipt:not([hidden])")
    assert offsets[3] == 2 * CHUNK and offsets.count(0) == 1
    assert page.locator("#bid-status").inner_text() == "递交成功，回执如下。"
    assert page.locator("#bid-retry").is_hidden()
    digest = site.platform.suite.digest(data).hex()
    assert page.locator("#receipt-hash").inner_text() == digest
    bid_id = int(page.locator("#receipt-bid").inner_text())
    index = int(page.locator("#receipt-index").inner_text())
    assert index >= 0 and page.locator("#receipt-time").inner_text().startswith("2026-")

    with page.expect_download() as download_info:
        page.click("#receipt-download")
    receipt = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    assert receipt["receipt"]["container_hash"] == digest and receipt["receipt"]["ledger_index"] == index
    head = httpx.get(f"{tab.base}/api/v1/log/head").json()
    assert verify_receipt(receipt, bytes.fromhex(head["log"]["log_public_key"])) == []
    tab.page.screenshot(path=str(screenshot_dir / "bid-page-receipt.png"), full_page=True)

    # The list now shows the bid (refreshed by the script); withdrawing it goes through the page's form.
    page.unroute("**/api/v1/uploads/*")
    row = page.locator(f"#my-bids tr[data-bid='{bid_id}']")
    row.wait_for()
    assert row.locator(".bid-status").inner_text() == "已递交"
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="撤回").click()
    page.wait_for_url(f"{tab.base}/projects/{pid}/bid?withdrawn={bid_id}#mine")
    assert page.locator("#notice").inner_text() == "投标已撤回。"
    assert page.locator(f"#my-bids tr[data-bid='{bid_id}'] .bid-status").inner_text() == "已撤回"
    assert [e for e in tab.errors if "status of 400" not in e] == []  # only the chunk the test refused


def test_a_file_that_is_not_a_sealed_container_is_refused_in_the_browser(site: Site, tab: Tab, tmp_path: Path) -> None:
    pid = new_project(site)
    to_bidding(site, pid)
    plain = tmp_path / "商务标.pdf"
    plain.write_bytes(b"%PDF-1.7 not sealed")
    _sign_in(tab, f"/projects/{pid}/bid")
    page = tab.page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(f"{r.method} {r.url}") if "/api/" in r.url else None)
    page.set_input_files("#bid-file", str(plain))
    page.click("#bid-start")
    page.wait_for_selector("#bid-retry:not([hidden])")
    assert "不是已封装的投标文件" in page.locator("#bid-status").inner_text()
    assert requests == []  # nothing was sent: a plaintext document never leaves the computer by this page
    assert tab.errors == []
