"""Who may see and do what through the projects API: the permission matrix, the engine's refusals, objections,
the contract's signature checks, and what the public portal shows (and does not)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sunbid.core.clock import SHANGHAI, FakeClock
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.projects.models import ProjectEvent
from tests.e2e.test_api_projects import TENDER_PDF, Api, make_api, sign

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def api(platform: Platform, client: TestClient, clock: FakeClock) -> Api:
    return make_api(platform, client, clock)


def _events(api: Api, pid: int) -> int:
    with api.platform.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(ProjectEvent).where(ProjectEvent.project_id == pid)) or 0)


def _downloads(api: Api) -> int:
    with api.platform.db.read() as s:
        stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.tag.like("%document:download"))
        return int(s.scalar(stmt) or 0)


def _problem(r: object, status: int, code: str) -> dict[str, object]:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body: dict[str, object] = r.json()  # type: ignore[attr-defined]
    assert body["code"] == code, body
    assert CJK.search(str(body["message_zh"])), body
    return body


# --- the working view --------------------------------------------------------------------------------------


def test_working_view_is_for_parties_centre_and_competent_regulator_only(api: Api) -> None:
    pid = api.create()["id"]
    _problem(api.get(None, f"/projects/{pid}"), 401, "auth.required")
    for outsider in ("bidder_a", "regulator_far", "regulator_fin"):
        for path in ("", "/timeline", "/deadlines", "/contract"):
            _problem(api.get(outsider, f"/projects/{pid}{path}"), 403, "project.forbidden")
    for who, role in (("tenderer", "tenderer"), ("agency", "agency"), ("operator", "operator"), ("admin", "operator")):
        r = api.get(who, f"/projects/{pid}")
        assert r.status_code == 200 and r.json()["your_roles"] == [role], (who, r.text)
    assert api.get("regulator", f"/projects/{pid}").json()["your_roles"] == ["regulator"]
    assert api.get("regulator", f"/projects/{pid}/timeline").json()[0]["action"] == "register"
    _problem(api.get("operator", "/projects/999999"), 404, "project.not_found")


def test_my_projects_are_listed_by_role(api: Api) -> None:
    pid = api.create()["id"]
    for who in ("tenderer", "agency", "operator", "regulator"):
        page = api.get(who, "/projects").json()
        assert [p["id"] for p in page["items"]] == [pid] and page["total"] == 1, who
    for who in ("bidder_a", "regulator_far", "regulator_fin"):
        assert api.get(who, "/projects").json() == {"items": [], "total": 0, "limit": 50, "offset": 0}, who
    assert api.get("agency", "/projects", params={"state": "registered"}).json()["total"] == 1
    assert api.get("agency", "/projects", params={"state": "bidding"}).json()["total"] == 0
    _problem(api.get(None, "/projects"), 401, "auth.required")


# --- acting ------------------------------------------------------------------------------------------------


def test_only_the_centre_operator_accepts_and_refusals_change_nothing(api: Api) -> None:
    pid = api.create()["id"]
    before = _events(api, pid)
    _problem(api.post("bidder_a", f"/projects/{pid}/actions/accept", {}), 403, "project.forbidden")
    _problem(api.post("regulator_far", f"/projects/{pid}/actions/accept", {}), 403, "project.forbidden")
    body = _problem(api.post("agency", f"/projects/{pid}/actions/accept", {}), 403, "procedure.role_not_allowed")
    assert body["details"]["allowed_roles"] == ["operator"]  # type: ignore[index]
    assert "交易中心工作人员" in str(body["message_zh"])
    _problem(api.post("regulator", f"/projects/{pid}/actions/accept", {}), 403, "procedure.role_not_allowed")
    assert _events(api, pid) == before and api.state(pid) == "registered"
    out = api.act("operator", pid, "accept", green_channel=True, accept_with_promise=True)
    assert out["state"] == "accepted" and out["state_zh"] == "已受理" and out["event"] == "project.accepted"
    project = api.get("operator", f"/projects/{pid}").json()
    assert project["green_channel"] is True and project["accept_with_promise"] is True
    again = _problem(api.post("operator", f"/projects/{pid}/actions/accept"), 409, "procedure.illegal_transition")
    assert "受理" in str(again["message_zh"])


def test_action_bodies_and_engine_refusals_are_problem_documents(api: Api) -> None:
    pid = api.create()["id"]
    api.act("operator", pid, "accept")
    api.act("agency", pid, "publish_announcement")
    path = f"/projects/{pid}/actions/issue_documents"
    in_21_days = (api.clock.now() + timedelta(days=21)).astimezone(SHANGHAI)
    for bad in (
        {"bid_deadline": in_21_days.replace(tzinfo=None).isoformat()},  # no offset
        {"bid_deadline": 1774000000},
        {"bid_deadline": "next monday"},
        {"valid_bids": "3"},
        {"winner": 1},
    ):
        _problem(api.post("agency", path, bad), 422, "request.invalid")
    _problem(api.post("agency", path, {"bid_deadline": in_21_days.isoformat()}), 409, "project.documents_missing")
    assert api.upload("agency", pid).status_code == 201
    _problem(api.post("agency", path, {}), 422, "project.param_missing")
    _problem(api.post("agency", f"/projects/{pid}/actions/fly", {}), 409, "procedure.illegal_transition")
    _problem(api.post("tenderer", f"/projects/{pid}/actions/confirm_award", {}), 409, "project.use_dedicated_endpoint")
    assert api.state(pid) == "announced"
    api.act("agency", pid, "issue_documents", bid_deadline=in_21_days.isoformat())
    timed = _problem(api.post("agency", f"/projects/{pid}/actions/close_bidding"), 403, "procedure.role_not_allowed")
    assert "系统" in str(timed["message_zh"])
    _problem(api.post("bidder_a", f"/projects/{pid}/actions/amend_documents"), 403, "procedure.role_not_allowed")
    assert api.state(pid) == "bidding"


def test_allowed_actions_follow_role_state_and_uploads(api: Api) -> None:
    pid = api.create()["id"]
    api.act("operator", pid, "accept")
    api.act("agency", pid, "publish_announcement")

    def offered(who: str) -> list[str]:
        r = api.get(who, f"/projects/{pid}/allowed-actions")
        assert r.status_code == 200, r.text
        return [a["action"] for a in r.json()["actions"]]

    assert "issue_documents" not in offered("agency")  # the tender documents are not uploaded yet
    api.upload("agency", pid)
    assert "issue_documents" in offered("agency") and "accept" not in offered("operator")
    assert "raise_objection" not in offered("bidder_a")  # nothing to object to before the documents are out
    api.act("agency", pid, "issue_documents", bid_deadline=(api.clock.now() + timedelta(days=25)).isoformat())
    bidder = api.get("bidder_a", f"/projects/{pid}/allowed-actions").json()
    assert bidder["roles"] == ["bidder"]
    assert [(a["action"], a["endpoint"]) for a in bidder["actions"]] == [
        ("raise_objection", f"/api/v1/projects/{pid}/objections")
    ]
    api.clock.advance(timedelta(days=16))  # less than 10 days before the deadline: too late to object
    assert "raise_objection" not in offered("bidder_a")
    unpublished = api.create()["id"]
    _problem(api.get("bidder_a", f"/projects/{unpublished}/allowed-actions"), 403, "project.forbidden")


# --- objections --------------------------------------------------------------------------------------------


def test_objection_suspends_and_the_answer_resumes(api: Api) -> None:
    pid = api.create()["id"]
    api.to_bidding(pid, days=25)
    text = {"text": "评分标准第3条排斥潜在投标人"}
    _problem(api.post(None, f"/projects/{pid}/objections", text), 401, "auth.required")
    _problem(api.post("tenderer", f"/projects/{pid}/objections", text), 403, "objection.not_a_bidder")
    _problem(api.post("bidder_b", f"/projects/{pid}/objections", {"text": 5}), 422, "request.invalid")
    r = api.post("bidder_b", f"/projects/{pid}/objections", text)
    assert r.status_code == 201, r.text
    objection = r.json()
    assert objection["state"] == "suspended" and objection["status"] == "open" and objection["reply_due_at"]
    assert api.get("bidder_a", f"/projects/{pid}/objections").json() == []  # not its objection
    assert [o["text"] for o in api.get("bidder_b", f"/projects/{pid}/objections").json()] == [text["text"]]
    assert len(api.get("agency", f"/projects/{pid}/objections").json()) == 1
    answer = {"reply": "已修改第3条", "upheld": True}
    path = f"/objections/{objection['id']}/answer"
    _problem(api.post("bidder_a", path, answer), 403, "procedure.role_not_allowed")
    _problem(api.post("agency", path, {"reply": "好", "upheld": "yes"}), 422, "request.invalid")
    r = api.post("agency", path, answer)
    assert r.status_code == 200 and r.json()["state"] == "bidding" and r.json()["status"] == "answered"
    _problem(api.post("agency", path, answer), 409, "objection.answered")
    _problem(api.post("agency", "/objections/999999/answer", answer), 404, "objection.not_found")


# --- contract ----------------------------------------------------------------------------------------------


def test_contract_signatures_are_checked(api: Api) -> None:
    pid = api.create()["id"]
    api.to_awarded(pid)
    path = f"/projects/{pid}/contract/signatures"

    def offered(who: str) -> bool:
        actions = api.get(who, f"/projects/{pid}/allowed-actions").json()["actions"]
        return "sign_contract" in [a["action"] for a in actions]

    no_doc = api.get("tenderer", f"/projects/{pid}/contract").json()
    assert no_doc["document"] is None and no_doc["message"] is None and no_doc["winner"]["name"] == "甲建筑公司"
    _problem(api.post("tenderer", path, sign(api, "tenderer", "x")), 409, "contract.no_document")
    assert not offered("tenderer")  # nothing to sign yet
    assert api.upload("agency", pid, kind="contract", data=b"contract v1").status_code == 201
    message = api.get("tenderer", f"/projects/{pid}/contract").json()["message"]
    assert offered("bidder_a") and offered("tenderer") and not offered("bidder_b")
    _problem(api.post("tenderer", path, sign(api, "tenderer", message + "x")), 422, "contract.bad_signature")
    _problem(api.post("bidder_b", path, sign(api, "bidder_b", message)), 403, "contract.not_a_party")
    _problem(api.post("tenderer", path, sign(api, "bidder_a", message)), 403, "contract.not_your_certificate")
    bad_b64 = {**sign(api, "tenderer", message), "signature_b64": "***"}
    _problem(api.post("tenderer", path, bad_b64), 422, "contract.bad_signature")
    assert api.get("tenderer", f"/projects/{pid}/contract").json()["signatures"] == []
    winner = sign(api, "bidder_a", message)
    assert api.post("bidder_a", path, winner).status_code == 201
    _problem(api.post("bidder_a", path, winner), 409, "contract.already_signed")
    assert not offered("bidder_a") and offered("tenderer")
    _problem(api.post("agency", f"/projects/{pid}/contract/publish"), 409, "contract.not_signed")
    _problem(api.post("agency", f"/projects/{pid}/contract/publish", {"now": True}), 422, "request.invalid")
    assert api.state(pid) == "awarded"


# --- the public portal -------------------------------------------------------------------------------------


def test_portal_lists_published_announcements_newest_first(api: Api) -> None:
    first, second = api.create(), api.create(name="池州市第二中学改扩建工程")
    assert api.get(None, "/public/announcements").json()["total"] == 0
    _problem(api.get(None, f"/public/projects/{first['code']}"), 404, "project.not_found")
    for p in (first, second):
        api.act("operator", p["id"], "accept")
    api.act("agency", first["id"], "publish_announcement")
    api.clock.advance(timedelta(hours=1))
    api.act("agency", second["id"], "publish_announcement")
    page = api.get(None, "/public/announcements").json()
    assert page["total"] == 2 and [i["code"] for i in page["items"]] == [second["code"], first["code"]]
    item = page["items"][1]
    assert item["procedure_zh"] == "公开招标（工程建设）" and item["state_zh"] == "招标公告已发布"
    assert item["region_code"] == "341700" and item["region_zh"] and item["bid_deadline"] is None
    assert item["announced_at"]["shanghai"].endswith("+08:00")
    second_page = api.get(None, "/public/announcements", params={"page": 2, "page_size": 1}).json()
    assert [i["code"] for i in second_page["items"]] == [first["code"]]
    _problem(api.get(None, "/public/announcements", params={"page_size": 1000}), 422, "request.invalid")


def test_portal_and_downloads_leak_nothing_non_public(api: Api) -> None:
    created = api.create()
    pid, code = created["id"], created["code"]
    api.act("operator", pid, "accept")
    api.act("agency", pid, "publish_announcement")
    tender = api.upload("agency", pid).json()
    report = api.upload("agency", pid, kind="evaluation_report", data=b"secret scores").json()
    notice = api.upload("agency", pid, kind="announcement", data=b"announcement text").json()
    assert tender["public"] is True and report["public"] is False

    def download(who: str | None, doc: dict[str, object]) -> object:
        return api.get(who, str(doc["download_url"]).removeprefix("/api/v1"))

    _problem(download(None, tender), 401, "auth.required")  # not issued yet
    assert download(None, notice).status_code == 200
    api.act("agency", pid, "issue_documents", bid_deadline=(api.clock.now() + timedelta(days=25)).isoformat())
    before = _downloads(api)
    free = download(None, tender)
    assert free.status_code == 200 and free.content == TENDER_PDF  # type: ignore[attr-defined]
    assert free.headers["x-content-sha256"] == tender["sha256"]  # type: ignore[attr-defined]
    assert _downloads(api) == before  # public downloads are not audited
    _problem(download(None, report), 401, "auth.required")
    _problem(download("bidder_a", report), 403, "document.forbidden")
    assert _downloads(api) == before
    r = download("regulator", report)
    assert r.status_code == 200 and r.content == b"secret scores"  # type: ignore[attr-defined]
    assert _downloads(api) == before + 1  # a party's read of a non-public document is audited
    _problem(api.get(None, "/documents/999999/download"), 404, "document.not_found")

    anonymous_docs = api.get(None, f"/projects/{pid}/documents").json()
    assert {d["kind"] for d in anonymous_docs} == {"tender_documents", "announcement"}
    assert {d["kind"] for d in api.get("regulator", f"/projects/{pid}/documents").json()} == {
        "tender_documents",
        "announcement",
        "evaluation_report",
    }

    api.set_facts(pid, bids_received=2)
    objection = "评分标准第3条排斥潜在投标人"
    assert api.post("bidder_b", f"/projects/{pid}/objections", {"text": objection}).status_code == 201
    public = api.get(None, f"/public/projects/{code}")
    assert public.status_code == 200
    body = public.json()
    assert body["state_zh"] == "暂停" and body["bid_deadline"] is not None
    assert {d["kind"] for d in body["documents"]} == {"tender_documents", "announcement"}
    assert [s["action"] for s in body["timeline"]] == ["publish_announcement", "issue_documents"]
    assert body["sections"][0]["budget"] is None
    for secret in (objection, "bids_received", "secret scores", "evaluation_report", "facts", str(report["sha256"])):
        assert secret not in public.text, secret
    listed = api.get(None, "/public/announcements").text
    assert "bids_received" not in listed and objection not in listed
    unpublished = api.create()["id"]
    _problem(api.get(None, f"/projects/{unpublished}/documents"), 401, "auth.required")
    _problem(api.get("bidder_a", f"/projects/{unpublished}/documents"), 403, "project.forbidden")
