"""The expert API as every role: nobody sees a drawn expert's identity before evaluation starts."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from sunbid.draws.verify import verify_record
from sunbid.identity import service as identity
from sunbid.identity.models import User
from tests.integration.experts.conftest import Ew, csv_text, expert_row, name

ROLES = ("admin", "operator", "tenderer", "agency", "bidder_a", "bidder_b", "regulator", "regulator_far", "expert")
API = "/api/v1"


def _tokens(ew: Ew) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"anonymous": {}}
    with ew.platform.uow() as uow:
        for who in ROLES:
            user = uow.session.scalars(select(User).where(User.username == who)).one()
            out[who] = {"Authorization": f"Bearer {identity.create_api_token(uow, user, 't').raw}"}
        uow.commit()
    return out


def _all_identities() -> list[str]:
    return [f"EX{n:05d}" for n in [*range(1, 19), *range(101, 107), *range(201, 209)]] + [
        name(n) for n in [*range(1, 19), *range(101, 107), *range(201, 209)]
    ]


def test_pool_routes_are_for_centre_staff_only(ew: Ew, client: TestClient) -> None:
    h = _tokens(ew)
    for who in (*ROLES, "anonymous"):
        r = client.get(f"{API}/experts", headers=h[who])
        assert r.status_code == (200 if who in {"admin", "operator"} else 401 if who == "anonymous" else 403), who
    r = client.post(
        f"{API}/experts/import",
        headers={**h["operator"], "content-type": "text/csv"},
        content=csv_text([expert_row(700, "Z99")]),
    )
    assert r.status_code == 200 and not r.json()["ok"]
    assert r.json()["errors"][0] | {"message_zh": "", "message_en": ""} == {
        "line": 2,
        "column": "specialties",
        "code": "expert.csv_unknown_specialty",
        "message_zh": "",
        "message_en": "",
    }
    r = client.post(
        f"{API}/experts/import",
        headers={**h["bidder_a"], "content-type": "text/csv"},
        content=csv_text([expert_row(701)]),
    )
    assert r.status_code == 403
    detail = client.get(f"{API}/experts/EX00001", headers=h["operator"]).json()
    assert "name" not in detail and name(1) not in str(detail)


def test_no_role_sees_a_drawn_identity_before_evaluation_starts(ew: Ew, client: TestClient) -> None:
    h = _tokens(ew)
    evaluation = ew.bw.deadline + timedelta(days=1)
    body = {
        "project_code": ew.bw.code,
        "evaluation_starts_at": evaluation.isoformat(),
        "slots": [{"specialty": "A01", "count": 3, "reserves": 1}, {"specialty": "B0101", "count": 2}],
    }
    assert client.post(f"{API}/expert-draws", headers=h["bidder_a"], json=body).status_code == 403
    naive = {**body, "evaluation_starts_at": evaluation.replace(tzinfo=None).isoformat()}
    r = client.post(f"{API}/expert-draws", headers=h["operator"], json=naive)
    assert r.status_code == 422 and r.json()["code"] == "expert.bad_time", r.text
    r = client.post(f"{API}/expert-draws", headers=h["operator"], json=body)
    assert r.status_code == 201, r.text
    draw_id = r.json()["id"]
    ew.advance_to(evaluation - timedelta(hours=10))
    assert client.post(f"{API}/expert-draws/{draw_id}/run", headers=h["regulator"], json={}).status_code == 403
    r = client.post(f"{API}/expert-draws/{draw_id}/run", headers=h["operator"], json={})
    assert r.status_code == 200, r.text
    ew.platform.worker.run_once()  # notifications go out
    identities = _all_identities()
    for who, headers in h.items():
        for method, path in (
            ("GET", f"/expert-draws/{draw_id}"),
            ("GET", f"/expert-draws/{draw_id}/record"),
            ("POST", f"/expert-draws/{draw_id}/unseal"),
            ("GET", "/experts?limit=1000"),
        ):
            r = client.request(method, API + path, headers=headers)
            text = r.text
            if path.startswith("/experts"):
                continue  # the pool lists everyone, drawn or not: it must not change with the draw (below)
            assert not any(i in text for i in identities), (who, path, text[:200])
            if path.endswith(("/record", "/unseal")) and r.status_code not in (401, 403):
                raise AssertionError((who, path, r.status_code))
            if path.endswith("/record"):
                assert r.json()["code"] == "expert.panel_sealed"
    listed = client.get(f"{API}/experts?limit=1000", headers=h["operator"]).json()
    with ew.platform.db.read() as s:
        from sunbid.experts import pool

        assert listed["experts"] == pool.list_experts(s, limit=1000)
        assert all(not pool.expert_view(s, e["code"])["has_draw_history"] for e in listed["experts"])
    # from the start of evaluation, the regulator and the centre may unseal; the record becomes public
    ew.advance_to(evaluation)
    assert client.post(f"{API}/expert-draws/{draw_id}/unseal", headers=h["bidder_a"]).status_code == 403
    assert client.post(f"{API}/expert-draws/{draw_id}/unseal", headers=h["tenderer"]).status_code == 403
    r = client.post(f"{API}/expert-draws/{draw_id}/unseal", headers=h["regulator"])
    assert r.status_code == 200 and len(r.json()["seats"]) == 6
    assert all(s["name"].startswith("测试专家") for s in r.json()["seats"])
    rec = client.get(f"{API}/expert-draws/{draw_id}/record")
    assert rec.status_code == 200 and verify_record(rec.json()).ok


def test_reply_by_code(ew: Ew, client: TestClient) -> None:
    r = client.post(f"{API}/expert-replies", json={"code": "NOPE-NOPE", "accept": True})
    assert r.status_code == 404 and r.json()["code"] == "expert.bad_reply_code"


def test_reply_codes_cannot_be_guessed_quickly(ew: Ew, client: TestClient) -> None:
    statuses = [
        client.post(f"{API}/expert-replies", json={"code": f"GUESS{i:04d}", "accept": True}).status_code
        for i in range(12)
    ]
    assert statuses[:10] == [404] * 10 and statuses[10:] == [429, 429]
