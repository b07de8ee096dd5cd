"""Every write endpoint answers bad input with a Chinese problem document and changes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sunbid.platform.container import Platform
from sunbid.platform.schema import metadata
from tests.support.world import PASSWORD, build_world

CJK = re.compile(r"[\u4e00-\u9fff]")


def _snapshot(platform: Platform) -> dict[str, int]:
    with platform.db.read() as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0) for t in metadata.sorted_tables}


def _write_routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    out = []
    for path, ops in spec["paths"].items():
        for method in ops:
            if method in ("post", "put", "patch", "delete"):
                out.append((method.upper(), re.sub(r"\{[^}]+\}", "999999", path)))
    return out


def _assert_problem(r: object, expect: set[int]) -> None:
    status = r.status_code  # type: ignore[attr-defined]
    assert status in expect, (status, r.text)  # type: ignore[attr-defined]
    assert r.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["code"] and CJK.search(body["message_zh"]), body
    assert body["message_en"] and not CJK.search(body["message_en"])


@pytest.mark.parametrize(
    ("raw", "expect"),
    [
        (b'{"broken": ', {400, 401, 403}),
        (b"[1, 2, 3]", {401, 403, 422}),
        (b'{"__unknown_field__": true}', {401, 403, 422}),
    ],
)
def test_anonymous_bad_bodies_are_refused_everywhere(
    platform: Platform, client: TestClient, raw: bytes, expect: set[int]
) -> None:
    build_world(platform)
    before = _snapshot(platform)
    routes = _write_routes(client)
    assert len(routes) >= 8
    for method, path in routes:
        r = client.request(method, path, content=raw, headers={"Content-Type": "application/json"})
        if path in ("/api/v1/auth/challenge", "/api/v1/auth/logout") and r.status_code < 400:
            continue  # takes no body: a challenge is issued (checked below), logout needs a session
        _assert_problem(r, expect)
    after = _snapshot(platform)
    # Only a refused request may add nothing; an issued login challenge is the one permitted write.
    after["login_challenges"] = before["login_challenges"]
    assert after == before


def test_signed_in_bad_bodies_and_wrong_types_change_nothing(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    r = client.post("/api/v1/auth/login", json={"username": "operator", "password": PASSWORD})
    token = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": r.json()["csrf_token"]}).json()[
        "token"
    ]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    before = _snapshot(platform)
    bodies = [b'{"broken": ', b'{"__unknown_field__": 1}', b'{"name": false, "org_id": "one", "reason": 7}']
    for method, path in _write_routes(client):
        if path.startswith("/api/v1/auth/"):
            continue
        for raw in bodies:
            r = client.request(method, path, content=raw, headers=headers)
            if method == "DELETE":
                _assert_problem(r, {404})  # takes no body; no such token → not found
                continue
            _assert_problem(r, {400, 422})
    assert _snapshot(platform) == before
