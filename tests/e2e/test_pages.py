"""The pages end to end: language, password login and logout through forms, CSRF, errors, role home pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sunbid.identity.models import LoginChallenge, LoginSession
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.web.render import static_url
from tests.support.world import PASSWORD, build_world


def _count(platform: Platform, model: type) -> int:
    with platform.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _tags(platform: Platform) -> list[str]:
    with platform.db.read() as s:
        return list(s.scalars(select(AuditEvent.tag).order_by(AuditEvent.id)))


def _csrf(client: TestClient) -> str:
    """The double-submit token a visitor's first page sets."""
    client.get("/login")
    return str(client.cookies["sunbid_csrf"])


def _sign_in(client: TestClient, username: str, *, next_url: str = "/") -> TestClient:
    r = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": _csrf(client), "next": next_url},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client


def test_login_page_is_chinese_by_default_and_sets_the_csrf_cookie(client: TestClient) -> None:
    r = client.get("/login")
    assert r.status_code == 200
    assert '<html lang="zh-CN">' in r.text
    assert "<h1>登录</h1>" in r.text and "公共资源交易平台" in r.text and "示范公共资源交易中心" in r.text
    assert r.headers["content-language"] == "zh-CN"
    assert r.headers["cache-control"] == "no-store"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("sunbid_csrf=") and "samesite=strict" in cookie.lower()
    assert "httponly" not in cookie.lower()
    token = client.cookies["sunbid_csrf"]
    assert f'name="csrf_token" value="{token}"' in r.text
    # The CSP forbids inline code: every script is a file of ours and no element carries a style attribute.
    assert "script-src 'self'" in r.headers["content-security-policy"]
    scripts = re.findall(r"<script[^>]*>", r.text)
    assert scripts and all('src="/static/' in s for s in scripts)
    assert " style=" not in r.text and "<style" not in r.text


def test_login_page_is_english_with_the_language_cookie(client: TestClient) -> None:
    client.cookies.set("sunbid_lang", "en")
    r = client.get("/login")
    assert '<html lang="en">' in r.text
    assert "<h1>Sign in</h1>" in r.text and "Public Resource Trading Platform" in r.text
    assert "登录" not in r.text
    assert r.headers["content-language"] == "en"


def test_pages_are_chinese_first_whatever_the_browser_says(client: TestClient) -> None:
    assert '<html lang="zh-CN">' in client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).text
    client.cookies.set("sunbid_lang", "en")
    assert '<html lang="en">' in client.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text


def test_language_switch_remembers_the_choice_and_goes_back(client: TestClient) -> None:
    token = _csrf(client)
    r = client.post(
        "/lang", data={"lang": "en", "next": "/login?tab=cert", "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/login?tab=cert"
    assert client.cookies["sunbid_lang"] == "en"
    assert '<html lang="en">' in client.get("/").text
    r = client.post("/lang", data={"lang": "zh-CN", "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and client.cookies["sunbid_lang"] == "zh-CN"
    assert '<html lang="zh-CN">' in client.get("/").text


def test_language_switch_without_csrf_token_is_refused(client: TestClient) -> None:
    _csrf(client)
    r = client.post("/lang", data={"lang": "en", "next": "/"}, follow_redirects=False)
    assert r.status_code == 403
    assert "CSRF" in r.text and '<html lang="zh-CN">' in r.text
    assert "sunbid_lang" not in client.cookies


def test_public_home_for_visitors(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert "电子交易平台" in r.text and "行政监督平台" in r.text and 'href="/login"' in r.text
    assert "role-card" not in r.text


def test_wrong_password_shows_the_chinese_error_and_is_audited(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    token = _csrf(client)
    r = client.post("/login", data={"username": "bidder_a", "password": "wrong-one", "csrf_token": token})
    assert r.status_code == 401
    assert "用户名或密码错误。" in r.text and 'value="bidder_a"' in r.text
    assert "Traceback" not in r.text
    assert "sunbid_session" not in client.cookies
    assert _count(platform, LoginSession) == 0
    assert _tags(platform)[-1] == "web:auth:login_failed"


def test_wrong_password_in_english_and_input_is_escaped(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    token = _csrf(client)
    client.cookies.set("sunbid_lang", "en")
    r = client.post("/login", data={"username": "<b>x</b>", "password": "p", "csrf_token": token})
    assert r.status_code == 401
    assert "Wrong username or password." in r.text and "用户名或密码错误" not in r.text
    assert "&lt;b&gt;x&lt;/b&gt;" in r.text and "<b>x</b>" not in r.text


@pytest.mark.parametrize("supplied", [None, "", "not-the-token"])
def test_login_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    platform: Platform, client: TestClient, supplied: str | None
) -> None:
    build_world(platform)
    _csrf(client)
    events, sessions = _count(platform, AuditEvent), _count(platform, LoginSession)
    data = {"username": "bidder_a", "password": PASSWORD}
    if supplied is not None:
        data["csrf_token"] = supplied
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert "请求缺少有效的 CSRF 令牌" in r.text
    assert "sunbid_session" not in client.cookies
    assert (_count(platform, AuditEvent), _count(platform, LoginSession)) == (events, sessions)


def test_login_post_without_any_csrf_cookie_is_refused(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    r = client.post("/login", data={"username": "bidder_a", "password": PASSWORD, "csrf_token": "x" * 32})
    assert r.status_code == 403
    assert _count(platform, LoginSession) == 0


def test_password_login_sets_the_session_and_home_shows_the_role(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    token = _csrf(client)
    r = client.post(
        "/login",
        data={"username": "bidder_a", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("sunbid_session=") and "httponly" in c.lower() for c in cookies)
    assert client.cookies["sunbid_csrf"] != token  # the session's own token replaces the anonymous one
    assert _tags(platform)[-1] == "web:auth:login"
    home = client.get("/").text
    assert "投标人/供应商" in home and "甲建筑公司用户" in home and "甲建筑公司" in home
    assert 'data-role="bidder"' in home and 'data-role="tenderer"' not in home
    assert "退出" in home and 'action="/logout"' in home


def test_each_role_gets_its_own_home_page(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    _sign_in(client, "admin")
    home = client.get("/").text
    assert 'data-role="operator"' in home and 'data-role="admin"' in home and 'data-role="bidder"' not in home
    assert "交易中心工作人员" in home and "系统管理员" in home
    client.cookies.clear()
    _sign_in(client, "regulator")
    home = client.get("/").text
    assert 'data-role="regulator"' in home and "行政监督部门" in home and 'data-role="operator"' not in home


def test_login_follows_a_local_next_only(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    r = client.post(
        "/login",
        data={"username": "bidder_a", "password": PASSWORD, "csrf_token": _csrf(client), "next": "/me"},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/me"
    client.cookies.clear()
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        r = client.post(
            "/login",
            data={"username": "bidder_a", "password": PASSWORD, "csrf_token": _csrf(client), "next": evil},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == "/", evil
        client.cookies.clear()


def test_me_needs_a_session_and_shows_the_account(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    r = client.get("/me", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/me"
    _sign_in(client, "tenderer")
    r = client.get("/me")
    assert r.status_code == 200 and "tenderer" in r.text and "招标人/采购人" in r.text and "池州市城投公司" in r.text


def test_signed_in_user_visiting_login_goes_home(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    _sign_in(client, "bidder_a")
    r = client.get("/login", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_logout_needs_the_session_token_and_ends_the_session(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    _sign_in(client, "bidder_a")
    r = client.post("/logout", data={"csrf_token": "forged-token-value"}, follow_redirects=False)
    assert r.status_code == 403
    assert 'data-role="bidder"' in client.get("/").text  # still signed in
    r = client.post("/logout", data={"csrf_token": client.cookies["sunbid_csrf"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "sunbid_session" not in client.cookies
    with platform.db.read() as s:
        assert s.scalar(select(LoginSession.revoked_at)) is not None
    assert _tags(platform)[-1] == "web:auth:logout"
    home = client.get("/").text
    assert "role-card" not in home and 'href="/login"' in home


def test_password_login_is_rate_limited(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    platform.settings.login_rate_per_minute = 2
    token = _csrf(client)
    codes = [
        client.post("/login", data={"username": "nobody", "password": "x", "csrf_token": token}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 429]
    r = client.post("/login", data={"username": "bidder_a", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429 and "操作过于频繁" in r.text
    assert _count(platform, LoginSession) == 0


def test_certificate_tab_shows_a_fresh_challenge_and_the_signing_command(
    platform: Platform, client: TestClient
) -> None:
    r = client.get("/login?tab=cert")
    assert r.status_code == 200
    m = re.search(r'id="challenge-message">(sunbid-login-v1\|[^|<]+\|([0-9a-f]{32}))</pre>', r.text)
    assert m is not None
    message, nonce = m.group(1), m.group(2)
    assert platform.ledger.log_id in message
    assert f"sunbid cert sign-challenge --bundle &lt;file&gt; --message '{message}'" in r.text
    assert f'name="nonce" value="{nonce}"' in r.text
    with platform.db.read() as s:
        assert s.scalar(select(LoginChallenge.used_at).where(LoginChallenge.nonce == nonce)) is None
    again = client.get("/login?tab=cert").text
    assert nonce not in again  # every view gets its own one-time challenge


def test_static_files_are_served_by_sunbid(client: TestClient) -> None:
    r = client.get(static_url("js/htmx.min.js"))
    assert r.status_code == 200 and r.text.startswith("var htmx=")
    css = client.get(static_url("css/sunbid.css"))
    assert css.status_code == 200 and "Noto Sans CJK SC" in css.text
    assert client.get("/static/../pyproject.toml").status_code == 404


def test_language_switch_after_a_failed_post_returns_to_the_form(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    token = _csrf(client)
    r = client.post("/login", data={"username": "bidder_a", "password": "no", "csrf_token": token, "next": "/me"})
    assert r.status_code == 401
    assert 'name="next" value="/login?tab=password&amp;next=/me"' in r.text


def test_unknown_page_in_a_browser_is_an_html_page_in_chinese(client: TestClient) -> None:
    r = client.get("/no-such-page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "请求的资源不存在" in r.text and 'lang="zh-CN"' in r.text
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


def test_navigation_shows_the_pages_each_role_works_on(platform: Platform, client: TestClient) -> None:
    build_world(platform)
    anonymous = client.get("/").text
    assert 'href="/portal"' in anonymous and 'href="/projects"' not in anonymous
    r = client.get("/login")
    token = r.cookies.get("sunbid_csrf") or client.cookies.get("sunbid_csrf")
    client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
    page = client.get("/").text
    assert 'href="/projects"' in page and 'href="/centre/projects"' in page and "项目受理" in page
