"""GET /api/v1/calendar/{date} and GET /api/v1/rules: public, read-only, bilingual problems on bad input."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from sunbid.calendar import service
from sunbid.platform.container import Platform
from sunbid.projects.rules import RuleBook


def test_make_up_sunday_is_a_working_day(client: TestClient) -> None:
    r = client.get("/api/v1/calendar/2024-09-29")
    assert r.status_code == 200
    assert r.json() == {
        "date": "2024-09-29",
        "is_working_day": True,
        "authoritative": True,
        "is_holiday": False,
        "overridden": False,
        "next_working_day": "2024-09-30",
    }


def test_holiday_and_unknown_year(client: TestClient) -> None:
    body = client.get("/api/v1/calendar/2024-10-01").json()
    assert body["is_working_day"] is False and body["next_working_day"] == "2024-10-08"
    body = client.get("/api/v1/calendar/2027-01-04").json()
    assert body["is_working_day"] is True and body["authoritative"] is False


def test_override_shows_in_the_api(platform: Platform, client: TestClient) -> None:
    with platform.uow() as uow:
        service.set_override(uow, date(2027, 1, 4), False, "")
        uow.commit()
    body = client.get("/api/v1/calendar/2027-01-04").json()
    assert body["is_working_day"] is False and body["authoritative"] is True and body["overridden"] is True
    assert body["next_working_day"] == "2027-01-05"


def test_bad_date_is_a_problem_document(client: TestClient) -> None:
    r = client.get("/api/v1/calendar/2026-02-30")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "calendar.bad_date"
    assert "日期格式错误" in body["message_zh"] and "YYYY-MM-DD" in body["message_en"]


def test_rules_lists_the_whole_table_with_sources(client: TestClient) -> None:
    rules = client.get("/api/v1/rules").json()["rules"]
    assert [r["id"] for r in rules] == [r.id for r in RuleBook.default()]
    by_id = {r["id"]: r for r in rules}
    assert by_id["eng.doc_issue_to_bid_deadline"]["source"] == "招标投标法 第24条"
    assert by_id["eng.doc_issue_to_bid_deadline"]["amount"] == 20
    assert all(r["source"] for r in rules)


def test_rules_of_one_procedure_and_an_unknown_one(client: TestClient) -> None:
    ids = {r["id"] for r in client.get("/api/v1/rules", params={"procedure": "gp_inquiry"}).json()["rules"]}
    assert "gp.inquiry_doc_to_submission" in ids and "eng.doc_sale_period" not in ids
    r = client.get("/api/v1/rules", params={"procedure": "auction"})
    assert r.status_code == 422 and r.json()["code"] == "rules.unknown_procedure"


def test_calendar_routes_are_read_only(client: TestClient) -> None:
    assert client.post("/api/v1/calendar/2027-01-04").status_code == 405
    assert client.delete("/api/v1/rules").status_code == 405
