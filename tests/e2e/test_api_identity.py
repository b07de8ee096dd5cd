"""The identity API end to end: login, sessions and CSRF, tokens, permissions, problem details."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sunbid.identity.domain import make_uscc
from sunbid.identity.models import Organisation, User
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from tests.support.world import PASSWORD, build_world


def _count(platform: Platform, model: type) -> int:
    with platform.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _login(client: TestClient, username: str) -> str:
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["csrf_token"])


def _token(client: TestClient, username: str) -> str:
    csrf = _login(client, username)
    r = client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    client.cookies.clear()
    return str(r.json()["token"])


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert len(r.headers["x-request-id"]) >= 8


def test_openapi_is_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/auth/login" in spec["paths"] and "/api/v1/log/proof/inclusion" in spec["paths"]


def test_password_login_sets_session_and_me_works(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    _login(client, "bidder_a")
    me = client.get("/api/v1/me").json()
    assert me["username"] == "bidder_a"
    assert [m["role"] for m in me["memberships"]] == ["bidder"]
    assert me["memberships"][0]["role_zh"] == "投标人/供应商"


def test_wrong_password_is_a_chinese_problem_and_audited(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    before = _count(platform, AuditEvent)
    r = client.post("/api/v1/auth/login", json={"username": "bidder_a", "password": "nope-nope-1"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "auth.bad_credentials"
    assert body["title"] == "用户名或密码错误。" and body["message_en"] == "Wrong username or password."
    assert body["status"] == 401 and body["type"].endswith("auth.bad_credentials")
    assert _count(platform, AuditEvent) == before + 1
    r_en = client.post(
        "/api/v1/auth/login",
        json={"username": "bidder_a", "password": "nope-nope-1"},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    assert r_en.json()["title"] == "Wrong username or password."


def test_five_failures_lock_the_account(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    for _ in range(5):
        client.post("/api/v1/auth/login", json={"username": "bidder_b", "password": "wrong-pass-1"})
    r = client.post("/api/v1/auth/login", json={"username": "bidder_b", "password": PASSWORD})
    assert r.status_code == 429 and r.json()["code"] == "auth.locked"


def test_login_rate_limit_per_address(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    codes = [
        client.post("/api/v1/auth/login", json={"username": "ghost", "password": "x-x-x-x-1"}).status_code
        for _ in range(12)
    ]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429


def test_session_write_without_csrf_is_refused(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    _login(client, "bidder_a")
    r = client.post("/api/v1/tokens", json={"name": "t"})
    assert r.status_code == 403 and r.json()["code"] == "auth.csrf_failed"
    r = client.post("/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403


def test_bearer_token_works_and_revoked_token_does_not(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    token = _token(client, "bidder_a")
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=auth).json()["username"] == "bidder_a"
    tokens_id = client.post("/api/v1/tokens", json={"name": "second"}, headers=auth).json()["id"]
    assert client.delete(f"/api/v1/tokens/{tokens_id}", headers=auth).status_code == 204
    r = client.get("/api/v1/me", headers={"Authorization": "Bearer sbt_not-a-real-token"})
    assert r.status_code == 401 and r.json()["code"] == "auth.bad_token"


def test_unauthenticated_is_401_problem(client: TestClient) -> None:
    r = client.get("/api/v1/me")
    assert r.status_code == 401 and r.json()["code"] == "auth.required"


def test_bidder_cannot_register_organisations_but_operator_can(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    body = {
        "name": "丙公司",
        "uscc": make_uscc(77, region_code="341700"),
        "kind": "bidder",
        "region_code": "341702",
        "sectors": ["engineering"],
    }
    bidder = {"Authorization": f"Bearer {_token(client, 'bidder_a')}"}
    before = _count(platform, Organisation)
    r = client.post("/api/v1/organisations", json=body, headers=bidder)
    assert r.status_code == 403 and r.json()["code"] == "identity.forbidden"
    assert _count(platform, Organisation) == before
    operator = {"Authorization": f"Bearer {_token(client, 'operator')}"}
    r = client.post("/api/v1/organisations", json=body, headers=operator)
    assert r.status_code == 201, r.text
    assert r.json()["uscc"] == body["uscc"]


def test_bidder_reads_own_org_but_not_a_competitor(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    auth = {"Authorization": f"Bearer {_token(client, 'bidder_a')}"}
    assert client.get(f"/api/v1/organisations/{world.orgs['bidder_a'].id}", headers=auth).status_code == 200
    r = client.get(f"/api/v1/organisations/{world.orgs['bidder_b'].id}", headers=auth)
    assert r.status_code == 403


def test_bad_requests_are_problems_and_change_nothing(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    auth = {"Authorization": f"Bearer {_token(client, 'operator')}", "Content-Type": "application/json"}
    orgs, users = _count(platform, Organisation), _count(platform, User)
    good = {
        "name": "丙公司",
        "uscc": make_uscc(78, region_code="341700"),
        "kind": "bidder",
        "region_code": "341702",
    }
    cases = [
        (b'{"name": "x",', 400, "request.malformed_json"),
        (
            b'{"name": "x", "uscc": "91340000MA2TEST01X", "kind": "bidder", "region_code": "341702", "zzz": 1}',
            422,
            "request.invalid",
        ),
        (
            b'{"name": 5, "uscc": "91340000MA2TEST01X", "kind": "bidder", "region_code": "341702"}',
            422,
            "request.invalid",
        ),
        (
            (
                '{"name": "丙", "uscc": "' + good["uscc"][:-1] + '0", "kind": "bidder", "region_code": "341702"}'
            ).encode(),
            422,
            "identity.uscc_invalid",
        ),
        (
            ('{"name": "丙", "uscc": "' + good["uscc"] + '", "kind": "spaceship", "region_code": "341702"}').encode(),
            422,
            "identity.bad_org_kind",
        ),
        (
            ('{"name": "丙", "uscc": "' + good["uscc"] + '", "kind": "bidder", "region_code": "999999"}').encode(),
            422,
            "identity.region_unknown",
        ),
    ]
    for raw, status, code in cases:
        r = client.post("/api/v1/organisations", content=raw, headers=auth)
        assert r.status_code == status, (raw, r.text)
        body = r.json()
        assert body["code"] == code, (raw, body)
        assert body["message_zh"] and any("\u4e00" <= ch <= "\u9fff" for ch in body["message_zh"])
    assert _count(platform, Organisation) == orgs and _count(platform, User) == users


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json()["code"] == "request.not_found"


def test_login_audit_records_who_when_and_from_where(platform: Platform, client: TestClient) -> None:
    world = build_world(platform)
    r = client.post(
        "/api/v1/auth/login",
        json={"username": "bidder_a", "password": PASSWORD},
        headers={"User-Agent": "BidderTool/1.0", "X-Request-ID": "req-12345678"},
    )
    assert r.status_code == 200
    with platform.db.read() as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.tag == "api:auth:login")).one()
    assert ev.subject_id == str(world.users["bidder_a"].id)
    assert ev.user_agent == "BidderTool/1.0" and ev.ip and ev.request_id == "req-12345678"
    assert ev.occurred_at == platform.clock.now()
    assert r.headers["x-request-id"] == "req-12345678"
