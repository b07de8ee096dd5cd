"""The remote opening over HTTP: opening key contract, settings, check-in, decryption, fallback, record, finish."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from typer.testing import CliRunner

from sunbid.bidding.container import unwrap_content_key
from sunbid.cli import app as cli
from sunbid.core.clock import FakeClock
from sunbid.identity import service as identity
from sunbid.identity.models import User
from sunbid.opening import keys
from sunbid.opening.models import OpeningKeyShare
from sunbid.opening.record import verify_record
from sunbid.platform.container import Platform
from tests.e2e.test_api_bids import Bidding
from tests.e2e.test_api_projects import make_api
from tests.integration.bidding.bidtools import make_sealer
from tests.integration.opening.conftest import BUNDLE_PASSWORD, CUSTODIANS, add_custodians

WHO = ("bidder_a", "bidder_b", "bidder_c")


class Opening(Bidding):
    """A project in bidding with custodians, three sealed bids, and the opening calls."""

    def __init__(self, bidding: Bidding, custodian_keys: dict[str, Any]) -> None:
        self.__dict__.update(bidding.__dict__)
        self.custodian_keys = custodian_keys
        self.bundles: dict[str, bytes] = {}
        self.bids: dict[str, int] = {}
        self.data: dict[str, bytes] = {}

    def url(self, tail: str = "") -> str:
        return f"/api/projects/{self.pid}/opening{tail}"

    def call(self, method: str, who: str | None, path: str, body: Any = None) -> Response:
        kw: dict[str, Any] = {"headers": self.api.headers(who)}
        if body is not None:
            kw["json"] = body
        return self.api.client.request(method, path, **kw)

    def submit_all(self, declared: dict[str, dict[str, str]] | None = None) -> None:
        """Seal and upload a bid per bidder; ``declared`` gives a bidder's items read out at the opening (extra)."""
        for who in WHO:
            data = self.sealer.seal(self.api.world.orgs[who], self.code, extra=(declared or {}).get(who))
            r = self.complete(who, self.upload(who, data))
            assert r.status_code == 200, r.text
            self.bids[who], self.data[who] = int(r.json()["bid"]["id"]), data

    def key_info(self) -> dict[str, Any]:
        r = self.call("GET", None, f"/api/projects/{self.pid}/sections/01/opening-key")
        assert r.status_code == 200, r.text
        return dict(r.json())

    def content_key(self, who: str, bid_owner: str | None = None) -> str:
        owner = bid_owner or who
        raw = unwrap_content_key(
            self.api.platform.suite,
            self.data[owner],
            context=self.key_info()["context"],
            encryption_private=self.sealer.encryption_private(self.api.world.orgs[who]),
        )
        return base64.b64encode(raw).decode()

    def decrypt(self, who: str, content_key: str | None = None, bid_of: str | None = None) -> Response:
        bid = self.bids[bid_of or who]
        return self.call(
            "POST", who, self.url("/decrypt"), {"bid_id": bid, "content_key": content_key or self.content_key(who)}
        )

    def deadline_passes(self) -> None:
        self.api.clock.set(self.deadline)
        self.api.platform.worker.run_once()


@pytest.fixture
def op(platform: Platform, client: TestClient, clock: FakeClock, suite_name: str) -> Opening:
    api = make_api(platform, client, clock)
    bundles: dict[str, bytes] = {}
    custodian_keys = add_custodians(platform, api.world, bundles=bundles)
    with platform.uow() as uow:
        for name in ("bidder_c", *CUSTODIANS):
            user = uow.session.scalars(select(User).where(User.username == name)).one()
            api.tokens[name] = identity.create_api_token(uow, user, "t").raw
        uow.commit()
    op = Opening(Bidding(api, make_sealer(suite_name, platform, platform.ca())), custodian_keys)
    op.bundles = bundles
    return op


def test_the_opening_key_endpoint_keeps_the_bidder_tool_contract(op: Opening) -> None:
    info = op.key_info()
    assert set(info) == {"suite", "public_key", "key_fingerprint", "context", "threshold", "total"}
    public = base64.b64decode(info["public_key"])
    assert op.api.platform.suite.public_key_fingerprint(public) == info["key_fingerprint"]
    assert info["context"].startswith(f"sunbid:{op.api.platform.settings.centre_region_code}:{op.code}:01:")
    assert (info["threshold"], info["total"]) == (2, 3)
    v1 = op.call("GET", "bidder_a", f"/api/v1/projects/{op.pid}/sections/01/opening-key")
    assert v1.json() == info
    missing = op.call("GET", None, f"/api/projects/{op.pid}/sections/99/opening-key")
    assert missing.status_code == 404 and missing.json()["code"] == "opening.section_not_found"


def test_a_whole_remote_opening_over_http_with_a_record_that_verifies_offline(op: Opening, tmp_path: Path) -> None:
    r = op.call(
        "PUT",
        "agency",
        op.url("/settings"),
        {"window_minutes": 20, "coefficient": {"low": "0.95", "high": "0.98", "step": "0.005"}},
    )
    assert r.status_code == 200, r.text
    assert op.call("PUT", "bidder_a", op.url("/settings"), {"window_minutes": 25}).status_code == 403
    assert op.call("PUT", "agency", op.url("/settings"), {"window_minutes": "20"}).status_code == 422
    op.submit_all({"bidder_a": {"项目经理": "[bold]张三[/bold]", "类似工程业绩": "3"}})
    assert op.decrypt("bidder_a").status_code == 409  # before the deadline there is no window
    op.deadline_passes()
    status = op.call("GET", None, op.url()).json()
    assert status["state"] == "decrypting" and status["settings"]["window_minutes"] == 20
    assert status["settings"]["max_key_attempts"] == 5 and status["suspended"] is False
    assert op.call("POST", "bidder_a", op.url("/check-in"), {"section": "01"}).status_code == 200
    assert op.call("POST", "operator", op.url("/check-in"), {"section": "01"}).status_code == 403
    wrong = op.decrypt("bidder_a", content_key=op.content_key("bidder_b", "bidder_b"))
    assert wrong.status_code == 422 and wrong.json()["code"] == "opening.wrong_key"
    mine = op.call("GET", "bidder_a", op.url()).json()["mine"]
    assert mine == [
        {
            "bid_id": op.bids["bidder_a"],
            "section": "01",
            "status": "sealed",
            "attempts": 1,
            "last_problem": "bid.wrong_key",
            "attempts_left": 4,
            "checked_in": True,
            "confirmed": False,
        }
    ]
    assert op.call("GET", None, op.url("/record")).status_code == 404
    for who in WHO:
        r = op.decrypt(who)
        assert r.status_code == 200 and r.json()["status"] == "decrypted", r.text
    doc = op.call("GET", None, op.url("/record")).json()
    log_key = op.api.get(None, "/log/head").json()["log"]["log_public_key"]
    assert verify_record(doc, bytes.fromhex(log_key)) == []
    path = tmp_path / "record.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    verified = runner.invoke(cli, ["opening", "verify", str(path), "--log-key", log_key, "--json"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["ok"] is True
    read_out = {r["bidder_name"]: r for r in json.loads(verified.output)["sections"][0]["read_out"]}
    assert read_out[op.api.world.orgs["bidder_a"].name]["extra"] == {
        "类似工程业绩": "3",
        "项目经理": "[bold]张三[/bold]",
    }
    assert read_out[op.api.world.orgs["bidder_b"].name]["extra"] == {}
    text = runner.invoke(cli, ["opening", "verify", str(path), "--log-key", log_key])
    assert text.exit_code == 0 and "校验通过" in text.output
    assert "其他唱标内容" in text.output and "类似工程业绩：3" in text.output
    assert "项目经理：[bold]张三[/bold]" in text.output  # bidder text is printed as written, never as markup
    declared = json.loads(json.dumps(doc))
    row = next(r for r in declared["record"]["sections"][0]["rows"] if r["extra"])
    row["extra"]["类似工程业绩"] = "4"  # a declared item read out otherwise than signed
    path.write_text(json.dumps(declared, ensure_ascii=False), encoding="utf-8")
    changed = runner.invoke(cli, ["opening", "verify", str(path), "--log-key", log_key, "--json"])
    assert changed.exit_code == 1
    assert {p.split(":")[0] for p in json.loads(changed.output)["problems"]} == {
        "opening.record_hash_mismatch",
        "opening.record_bad_signature",
    }
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    draws = runner.invoke(cli, ["draw", "verify", str(path), "--json"])
    assert draws.exit_code == 0, draws.output
    assert json.loads(draws.output)["draws"][0]["ok"] is True
    doc["record"]["sections"][0]["coefficient"] = "0.5"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert runner.invoke(cli, ["opening", "verify", str(path), "--log-key", log_key]).exit_code == 1
    assert op.call("POST", "bidder_a", op.url("/confirm"), {"section": "01"}).status_code == 200
    r = op.call("POST", "bidder_b", op.url("/objections"), {"section": "01", "text": "请核对丙公司工期"})
    assert r.status_code == 201, r.text
    oid = r.json()["id"]
    assert op.call("POST", "operator", op.url("/finish")).status_code == 409
    assert op.call("POST", "bidder_b", op.url(f"/objections/{oid}/answer"), {"answer": "x"}).status_code == 403
    r = op.call("POST", "operator", op.url(f"/objections/{oid}/answer"), {"answer": "已核对，工期为365日历天。"})
    assert r.status_code == 200, r.text
    r = op.call("POST", "operator", op.url("/finish"))
    assert r.status_code == 200 and r.json() == {"valid_bids": 3, "outcome": "opened"}
    assert op.api.state(op.pid) == "opened"
    final = op.call("GET", None, op.url()).json()
    assert final["state"] == "closed" and final["valid_bids"] == 3
    assert final["objections"][0]["answer"] == "已核对，工期为365日历天。"


def test_custodians_rebuild_the_key_over_http_and_only_custodians_touch_shares(op: Opening) -> None:
    assert op.call("PUT", "operator", op.url("/settings"), {"custodian_fallback": True}).status_code == 200
    op.submit_all()
    got = op.call("GET", "custodian_centre", op.url("/sections/01/shares/mine"))
    assert got.status_code == 200
    encrypted = got.json()["shares"][0]["encrypted_share"]
    assert op.call("GET", "bidder_a", op.url("/sections/01/shares/mine")).status_code == 404
    share = keys.decrypt_share(op.api.platform.suite, encrypted, op.custodian_keys["custodian_centre"].private)
    early = op.call("POST", "custodian_centre", op.url("/sections/01/shares"), {"share": share.to_text()})
    assert early.status_code == 409 and early.json()["code"] == "opening.before_deadline"
    op.deadline_passes()
    for who in ("bidder_a", "bidder_b"):
        assert op.decrypt(who).status_code == 200
    op.api.clock.advance(__import__("datetime").timedelta(minutes=30))
    op.api.platform.worker.run_once()
    assert op.call("GET", None, op.url()).json()["state"] == "fallback"
    forbidden = op.call("POST", "bidder_a", op.url("/sections/01/shares"), {"share": share.to_text()})
    assert forbidden.status_code == 403
    posted = []
    for custodian in ("custodian_centre", "custodian_regulator"):
        with op.api.platform.db.read() as s:
            text = s.scalars(
                select(OpeningKeyShare.encrypted_share).where(
                    OpeningKeyShare.custodian_org_id == op.api.world.orgs[custodian].id
                )
            ).one()
        plain = keys.decrypt_share(op.api.platform.suite, text, op.custodian_keys[custodian].private).to_text()
        r = op.call("POST", custodian, op.url("/sections/01/shares"), {"share": plain})
        assert r.status_code == 200, r.text
        posted.append(r.json())
    assert [p["rebuilt"] for p in posted] == [False, True]
    rows = op.call("GET", None, op.url("/record")).json()["record"]["sections"][0]["rows"]
    by = {row["bidder_name"]: row["opened_by"] for row in rows}
    assert by[op.api.world.orgs["bidder_c"].name] == "custodian"


def test_nothing_of_the_opening_needs_no_login_except_what_the_public_may_see(op: Opening) -> None:
    op.submit_all()
    op.deadline_passes()
    assert op.call("POST", None, op.url("/check-in"), {"section": "01"}).status_code == 401
    assert op.call("POST", None, op.url("/decrypt"), {"bid_id": 1, "content_key": "AA=="}).status_code == 401
    assert op.call("POST", None, op.url("/finish")).status_code == 401
    assert op.call("POST", "agency", op.url("/finish")).status_code == 403
    public = op.call("GET", None, op.url())
    assert public.status_code == 200 and public.json()["mine"] == []
    assert "11800000" not in public.text
    other = op.decrypt("bidder_b", content_key=op.content_key("bidder_a"), bid_of="bidder_a")
    assert other.status_code == 404


def _problem(output: str) -> dict[str, Any]:
    """The JSON problem a failing command prints after its bilingual message."""
    return dict(json.loads(output[output.index("{") :]))


def test_a_custodian_decrypts_its_share_offline_with_the_cli(op: Opening, tmp_path: Path) -> None:
    encrypted = op.call("GET", "custodian_notary", op.url("/sections/01/shares/mine")).json()["shares"][0]
    (tmp_path / "share.enc").write_text(encrypted["encrypted_share"], encoding="utf-8")
    (tmp_path / "notary.p12").write_bytes(op.bundles["custodian_notary"])
    (tmp_path / "pw").write_text(BUNDLE_PASSWORD + "\n", encoding="utf-8")
    args = ["opening", "share-decrypt", str(tmp_path / "share.enc"), "--bundle", str(tmp_path / "notary.p12")]
    runner = CliRunner()
    ok = runner.invoke(cli, [*args, "--password-file", str(tmp_path / "pw"), "--out", str(tmp_path / "share.txt")])
    assert ok.exit_code == 0, ok.output
    share = keys.Share.from_text((tmp_path / "share.txt").read_text(encoding="utf-8"))
    assert (share.index, share.threshold, share.key_fingerprint) == (
        encrypted["index"],
        2,
        op.key_info()["key_fingerprint"],
    )
    assert (tmp_path / "share.txt").stat().st_mode & 0o077 == 0
    (tmp_path / "bad").write_text("wrong-password", encoding="utf-8")
    bad = runner.invoke(cli, [*args, "--password-file", str(tmp_path / "bad"), "--json"])
    assert bad.exit_code == 1 and _problem(bad.output)["code"] == "cert.bad_password"
    (tmp_path / "other.p12").write_bytes(op.bundles["custodian_centre"])
    other = ["opening", "share-decrypt", str(tmp_path / "share.enc"), "--bundle", str(tmp_path / "other.p12")]
    wrong = runner.invoke(cli, [*other, "--password-file", str(tmp_path / "pw"), "--json"])
    assert wrong.exit_code == 1 and _problem(wrong.output)["code"] == "opening.wrong_custodian_key"


def test_the_opening_of_a_project_not_on_the_portal_is_not_shown_to_strangers(op: Opening) -> None:
    draft = int(op.api.create()["id"])
    for path in (f"/api/projects/{draft}/opening", f"/api/projects/{draft}/opening/record"):
        r = op.call("GET", None, path)
        assert r.status_code == 404 and r.json()["code"] == "project.not_found"


def test_the_operator_extends_the_window_over_http_with_a_reason_and_the_cap_is_a_setting(op: Opening) -> None:
    r = op.call("PUT", "agency", op.url("/settings"), {"max_key_attempts": 1})
    assert r.status_code == 200 and r.json()["max_key_attempts"] == 1
    assert op.call("PUT", "agency", op.url("/settings"), {"max_key_attempts": 0}).status_code == 422
    op.submit_all()
    op.deadline_passes()
    body = {"minutes": 15, "reason": "平台网络故障，延长解密时间"}
    assert op.call("POST", "bidder_a", op.url("/extend-window"), body).status_code == 403
    assert op.call("POST", None, op.url("/extend-window"), body).status_code == 401
    bad = op.call("POST", "operator", op.url("/extend-window"), {"minutes": 15})
    assert bad.status_code == 422
    r = op.call("POST", "operator", f"/api/v1/projects/{op.pid}/opening/extend-window", body)
    assert r.status_code == 200, r.text
    closes = op.deadline + __import__("datetime").timedelta(minutes=45)
    assert r.json()["closes_at"][:16] == closes.isoformat()[:16]
    wrong = op.decrypt("bidder_a", content_key=op.content_key("bidder_b", "bidder_b"))
    assert wrong.json()["code"] == "opening.wrong_key"
    capped = op.decrypt("bidder_a")
    assert capped.status_code == 409 and capped.json()["code"] == "opening.too_many_attempts"
    from sunbid.opening.events import events_after

    with op.api.platform.db.read() as s:
        extended = [e.data for e in events_after(s, op.pid) if e.kind == "decryption.extended"]
    assert extended == [{"minutes": 15, "closes_at": r.json()["closes_at"], "reason": body["reason"]}]


def test_fetching_a_share_over_http_is_audited_once(op: Opening) -> None:
    from sunbid.ledger.models import AuditEvent

    assert op.call("GET", "custodian_centre", op.url("/sections/01/shares/mine")).status_code == 200
    assert op.call("GET", "custodian_centre", op.url("/sections/02/shares/mine")).status_code == 404
    with op.api.platform.db.read() as s:
        fetches = [a for a in s.scalars(select(AuditEvent)) if a.tag.endswith("opening:share_fetch")]
    assert len(fetches) == 1
    assert fetches[0].data["section"] == "01" and fetches[0].actor_org_id == op.api.world.orgs["custodian_centre"].id
