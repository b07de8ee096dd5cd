"""The evaluation over HTTP: access code, login, sign-in, scoring with an intervention, signed report, candidates."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from sunbid.evaluation.pdfsign import Signer, sign_report, verify_report
from sunbid.identity import service as identity
from sunbid.identity.models import User
from tests.integration.evaluation.conftest import EXPERT_PASSWORD, Vw, make_vw, method_json, sms_to, started
from tests.integration.evaluation.conftest import vw as vw  # the fixture
from tests.integration.experts.conftest import phone
from tests.integration.projects.conftest import tw as tw  # the fixture

API = "/api/v1"


class Http:
    def __init__(self, vw: Vw, client: TestClient) -> None:
        self.vw, self.client = vw, client
        self.tokens: dict[str, str] = {}
        with vw.platform.uow() as uow:
            for name in ("operator", "agency", "tenderer", "bidder_a", "regulator", "regulator_far", "expert"):
                user = uow.session.scalars(select(User).where(User.username == name)).one()
                self.tokens[name] = identity.create_api_token(uow, user, "t").raw
            uow.commit()

    def login(self, username: str, password: str) -> None:
        r = self.client.post(f"{API}/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        csrf = r.json()["csrf_token"]
        r = self.client.post(f"{API}/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 201, r.text
        self.client.cookies.clear()
        self.tokens[username] = r.json()["token"]

    def call(self, method: str, who: str | None, tail: str, body: Any = None, **kw: Any) -> Response:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        headers.update(kw.pop("headers", {}))
        if body is not None:
            kw["json"] = body
        path = tail if tail.startswith("/") else f"/projects/{self.vw.pid}/evaluation/{tail}"
        return self.client.request(method, API + path, headers=headers, **kw)


@pytest.fixture
def http(vw: Vw, client: TestClient) -> Http:
    return Http(vw, client)


def _ok(r: Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _scores(vw: Vw, plan_a: str) -> list[dict[str, str]]:
    out = []
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        uscc = vw.uscc(who)
        out += [
            {"bidder": uscc, "item": "plan", "score": plan_a if who == "bidder_a" else "11"},
            {"bidder": uscc, "item": "schedule", "score": "8"},
        ]
    return out


def test_the_whole_evaluation_over_http(vw: Vw, http: Http) -> None:
    r = http.call(
        "PUT", "agency", "method", content=method_json().encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 409 and r.json()["code"] == "evaluation.method_too_late"
    assert http.call("GET", "bidder_a", "committee").status_code == 403
    view = _ok(
        http.call("POST", "operator", "committee", {"draw_id": vw.draw_id, "representatives": ["tenderer"]}), 201
    )
    assert len(view["members"]) == 5
    vw.platform.worker.run_once()
    members: dict[int, str] = {}
    for m in view["members"]:
        if m["role"] != "expert":
            members[m["seq"]] = "tenderer"
            continue
        username = f"expert-{m['expert_code'].lower()}"
        text = next(t for t in sms_to(vw.platform, phone(int(m["expert_code"][2:]))) if "一次性访问码" in t)
        code = re.search(r"一次性访问码 ([0-9A-F]+)", text)
        assert code is not None
        bad = http.call(
            "POST",
            None,
            "/evaluation/access",
            {"username": username, "code": "ABCDEF0123", "password": EXPERT_PASSWORD},
        )
        assert bad.status_code == 422 and bad.json()["code"] == "evaluation.bad_access_code"
        _ok(
            http.call(
                "POST",
                None,
                "/evaluation/access",
                {"username": username, "code": code.group(1), "password": EXPERT_PASSWORD},
            )
        )
        http.login(username, EXPERT_PASSWORD)
        members[m["seq"]] = username
    assert http.call("POST", "expert", "sign-in").status_code == 403  # an expert, but not on this committee
    for who in members.values():
        _ok(http.call("POST", who, "sign-in"))
    assert http.call("POST", members[1], "leader", {"seq": 1}).status_code == 403
    _ok(http.call("POST", "operator", "leader", {"seq": 1}))
    _ok(http.call("POST", "operator", f"/projects/{vw.pid}/actions/start_evaluation", {}))

    bids = _ok(http.call("GET", members[2], "bids"))
    assert len(bids["bids"]) == 3
    first = bids["bids"][0]
    doc = http.call("GET", members[2], f"bids/{first['bidder']}/documents/{first['documents'][0]['name']}")
    assert doc.status_code == 200 and doc.content
    for outsider in ("bidder_a", "agency", "operator", "regulator"):
        assert http.call("GET", outsider, "bids").status_code == 403
        assert (
            http.call("GET", outsider, f"bids/{first['bidder']}/documents/{first['documents'][0]['name']}").status_code
            == 403
        )

    # objective items: computed from the bids' facts; the leader corrects a fact, nobody types points
    objective = _ok(http.call("GET", members[2], "objective"))
    c = vw.uscc("bidder_c")
    cell = next(b for b in objective["bids"] if b["bidder"] == c)["items"]["experience"]
    assert (cell["status"], cell["points"], cell["value"]) == ("invalid", "0.00", "三")
    assert not objective["can_correct"] and http.call("GET", "bidder_a", "objective").status_code == 403
    typed = {"scores": [{"bidder": c, "item": "experience", "score": "4"}]}
    refused = http.call("PUT", members[1], "scores", typed)
    assert refused.status_code == 422 and refused.json()["code"] == "evaluation.objective_computed"
    fact = {"bidder": c, "field": "extra.类似工程业绩", "value": "2", "reason": "核对业绩证明，认定 2 项。"}
    r = http.call("POST", members[2], "facts", fact)
    assert r.status_code == 403 and r.json()["code"] == "evaluation.leader_only"
    r = http.call("POST", members[1], "facts", {**fact, "field": "extra.注册资本"})
    assert r.status_code == 422 and r.json()["code"] == "evaluation.unknown_fact"
    assert http.call("POST", members[1], "facts", {**fact, "reason": ""}).status_code == 422
    corrected = _ok(http.call("POST", members[1], "facts", fact), 201)
    assert corrected["correction"]["declared"] == "三" and corrected["correction"]["value"] == "2"
    cell = next(b for b in corrected["bids"] if b["bidder"] == c)["items"]["experience"]
    assert (cell["status"], cell["points"]) == ("ok", "4.00")
    assert [x["reason"] for x in _ok(http.call("GET", members[3], "objective"))["corrections"]] == [fact["reason"]]

    for seq in (1, 2):
        _ok(http.call("PUT", members[seq], "scores", {"scores": _scores(vw, "12")}))
        _ok(http.call("POST", members[seq], "submit", {}))
    assert _ok(http.call("GET", members[3], "scores/mine"))["scores"] == []  # nobody else's
    bad = http.call(
        "PUT", members[3], "scores", {"scores": [{"bidder": first["bidder"], "item": "plan", "score": "99"}]}
    )
    assert bad.status_code == 422
    _ok(http.call("PUT", members[3], "scores", {"scores": _scores(vw, "6")}))
    held = http.call("POST", members[3], "submit", {})
    assert held.status_code == 409 and held.json()["code"] == "evaluation.reason_required"
    [i] = held.json()["details"]["interventions"]
    assert i["status"] == "open"
    seen = _ok(http.call("GET", "regulator", "interventions"))["interventions"]
    assert [x["status"] for x in seen] == ["open"]  # reported to the regulator at once
    assert http.call("GET", "regulator_far", "interventions").status_code == 403
    assert http.call("GET", "bidder_a", "interventions").status_code == 403
    reason = {"bidder": i["bidder"], "item": "plan", "reason": "施工方案缺少雨季施工措施。"}
    assert _ok(http.call("POST", members[3], "submit", {"reasons": [reason]}))["status"] == "submitted"
    for seq in (4, 5):
        _ok(http.call("PUT", members[seq], "scores", {"scores": _scores(vw, "12")}))
        _ok(http.call("POST", members[seq], "submit", {}))
    results = _ok(http.call("GET", members[5], "results"))
    assert results["evaluation"]["candidates"]
    assert results["objective"][c]["experience"]["points"] == "4.00"  # the verified fact
    late = http.call("POST", members[1], "facts", {**fact, "value": "1"})
    assert late.status_code == 409 and late.json()["code"] == "evaluation.not_scoring"
    assert http.call("GET", "agency", "results").status_code == 403

    keys = {}
    for seq, who in members.items():
        kp = vw.platform.suite.generate_signing_keypair()
        out = _ok(http.call("POST", who, "certificate", {"public_key_hex": kp.public.hex()}))
        keys[seq] = (kp.private, out["certificate_pem"], out["ca_certificate_pem"])
    _ok(http.call("POST", members[1], "report"))
    assert http.call("GET", "agency", "report.pdf").status_code == 403
    assert http.call("GET", None, "candidates").status_code in (401, 403)
    for seq in sorted(members):
        vw.clock.advance(timedelta(minutes=2))
        pdf = http.call("GET", members[seq], "report.pdf")
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        private, cert, ca = keys[seq]
        signed = sign_report(pdf.content, Signer(private, cert), ca_cert_pem=ca, at=vw.clock.now())
        r = http.call("PUT", members[seq], "report.pdf", content=signed, headers={"Content-Type": "application/pdf"})
        assert _ok(r)["signatures"] == seq
    final = http.call("GET", "agency", "report.pdf")
    assert final.status_code == 200
    assert verify_report(final.content, ca_cert_pem=vw.platform.ca().certificate_pem).complete
    assert vw.ow.project().state == "reported"
    published = _ok(http.call("POST", "agency", "publish"))["candidates"]
    public = _ok(http.call("GET", None, "candidates"))
    assert public["candidates"] == published and published[0]["position"] == 1


@pytest.fixture
def vw2(tw: Any, clock: Any, suite_name: str) -> Vw:
    return make_vw(tw, clock, suite_name, sections=True)


def _section_scores(vw: Vw, seq: int, section: str, plan_a: str = "12") -> list[dict[str, str]]:
    out = []
    for who in ("bidder_a", "bidder_b") if section == "02" else ("bidder_a", "bidder_b", "bidder_c"):
        uscc = vw.uscc(who)
        items = [("plan", plan_a if who == "bidder_a" else "11"), ("schedule", "8")]  # objective items: computed
        out += [{"section": section, "bidder": uscc, "item": i, "score": v} for i, v in items]
    return out


def test_scoring_a_two_section_project_over_http_names_the_section(vw2: Vw, client: TestClient) -> None:
    vw = started(vw2)
    http = Http(vw, client)
    members = dict(vw.members)
    for who in members.values():
        if who != "tenderer":
            http.login(who, EXPERT_PASSWORD)
    missing = http.call("GET", members[2], "bids")
    assert missing.status_code == 422 and missing.json()["code"] == "evaluation.unknown_section"
    assert missing.json()["details"]["sections"] == ["01", "02"]
    unknown = http.call("GET", members[2], "bids", params={"section": "09"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "evaluation.unknown_section"
    two = _ok(http.call("GET", members[2], "bids", params={"section": "02"}))
    assert two["section"] == "02" and [s["code"] for s in two["sections"]] == ["01", "02"]
    assert [r["bidder"] for r in two["prices"]["rejected"]] == [vw.uscc("bidder_c")]  # above the cap of 02
    first = two["bids"][0]
    path = f"bids/{first['bidder']}/documents/{first['documents'][0]['name']}"
    assert http.call("GET", members[2], path).status_code == 422  # which section's bid?
    doc = http.call("GET", members[2], path, params={"section": "02"})
    assert doc.status_code == 200 and doc.content

    no_section = [{k: v for k, v in s.items() if k != "section"} for s in _section_scores(vw, 2, "01")]
    bad = http.call("PUT", members[2], "scores", {"scores": no_section})
    assert bad.status_code == 422 and bad.json()["code"] == "evaluation.unknown_section"
    assert _ok(http.call("GET", members[2], "scores/mine"))["scores"] == []  # nothing stored
    for seq in (1, 2):
        _ok(http.call("PUT", members[seq], "scores", {"scores": _section_scores(vw, seq, "01")}))
        partial = http.call("POST", members[seq], "submit", {})
        assert partial.status_code == 422 and partial.json()["code"] == "evaluation.scores_missing"
        _ok(http.call("PUT", members[seq], "scores", {"scores": _section_scores(vw, seq, "02")}))
        assert _ok(http.call("POST", members[seq], "submit", {}))["status"] == "submitted"
    mine = _ok(http.call("GET", members[1], "scores/mine"))["scores"]
    assert {s["section"] for s in mine} == {"01", "02"} and len(mine) == 3 * 2 + 2 * 2
    sheets = _section_scores(vw, 3, "01") + _section_scores(vw, 3, "02", plan_a="6")
    _ok(http.call("PUT", members[3], "scores", {"scores": sheets}))
    held = http.call("POST", members[3], "submit", {})
    assert held.status_code == 409 and held.json()["code"] == "evaluation.reason_required"
    [i] = held.json()["details"]["interventions"]
    assert (i["section"], i["bidder"], i["item"]) == ("02", vw.uscc("bidder_a"), "plan")
    reason = {"section": "02", "bidder": i["bidder"], "item": "plan", "reason": "管网方案缺少管线迁改措施。"}
    assert _ok(http.call("POST", members[3], "submit", {"reasons": [reason]}))["status"] == "submitted"
    seen = _ok(http.call("GET", "regulator", "interventions"))["interventions"]
    assert [(x["section"], x["status"]) for x in seen] == [("02", "explained")]

    # objective facts are corrected per section: a bidder's bids in two sections declare their own facts
    a = vw.uscc("bidder_a")
    assert http.call("GET", members[2], "objective").json()["code"] == "evaluation.unknown_section"
    fix = {"bidder": a, "field": "extra.类似工程业绩", "value": "1", "reason": "二标段仅一项业绩证明材料齐全。"}
    missing_section = http.call("POST", members[1], "facts", fix)
    assert missing_section.status_code == 422 and missing_section.json()["code"] == "evaluation.unknown_section"
    view = _ok(http.call("POST", members[1], "facts", {**fix, "section": "02"}), 201)
    assert view["section"] == "02" and [c["bidder"] for c in view["corrections"]] == [a]
    row = next(b for b in view["bids"] if b["bidder"] == a)
    assert row["items"]["experience"]["points"] == "2.00" and row["facts"]["extra.类似工程业绩"]["declared"] == "3"
    one = _ok(http.call("GET", members[2], "objective", params={"section": "01"}))
    assert one["corrections"] == []
    assert next(b for b in one["bids"] if b["bidder"] == a)["items"]["experience"]["points"] == "4.00"
