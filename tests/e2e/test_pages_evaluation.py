"""The scoring page: only committee members open it; save, submit, a deviation held until a written reason."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sunbid.evaluation import service as evaluation
from sunbid.evaluation import service_report as reports
from sunbid.evaluation import service_scoring as scoring
from sunbid.evaluation.models import InterventionRow
from sunbid.evaluation.pdfsign import Signer, sign_report
from sunbid.identity.models import User
from tests.integration.evaluation.conftest import (
    EXPERT_PASSWORD,
    Vw,
    certificates,
    form,
    make_vw,
    score_all,
    section_scores,
    sms_to,
    started,
)
from tests.integration.evaluation.conftest import vw as vw  # the fixture
from tests.integration.experts.conftest import phone
from tests.integration.projects.conftest import tw as tw  # the fixture
from tests.support.world import PASSWORD


def _csrf(client: TestClient) -> str:
    client.get("/login")
    return str(client.cookies["sunbid_csrf"])


def _sign_in(client: TestClient, username: str, password: str) -> None:
    client.cookies.clear()
    data = {"username": username, "password": password, "csrf_token": _csrf(client), "next": "/"}
    r = client.post("/login", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text


def _form(vw: Vw, plan_a: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        u = vw.uscc(who)
        out[f"s|{u}|plan"] = plan_a if who == "bidder_a" else "11"
        out[f"s|{u}|schedule"] = "8"
    return out


def test_access_page_sets_the_password_once(vw: Vw, client: TestClient) -> None:
    vw.act("operator", evaluation.form_committee, vw.pid, draw_id=vw.draw_id, representatives=["tenderer"])
    vw.platform.worker.run_once()
    with vw.platform.db.read() as s:
        username = s.scalars(select(User.username).where(User.username.like("expert-ex%"))).first()
    assert username is not None
    text = next(t for t in sms_to(vw.platform, phone(int(username[-5:]))) if "一次性访问码" in t)
    code = re.search(r"一次性访问码 ([0-9A-F]+)", text)
    assert code is not None
    assert "一次性访问码" in client.get("/evaluation/access").text
    data = {"username": username, "code": code.group(1), "password": EXPERT_PASSWORD, "csrf_token": _csrf(client)}
    r = client.post("/evaluation/access", data=data, follow_redirects=False)
    assert r.status_code == 303
    again = client.post("/evaluation/access", data=data, follow_redirects=False)
    assert again.status_code == 422 and "访问码" in again.text
    _sign_in(client, username, EXPERT_PASSWORD)


def test_access_page_shares_the_apis_rate_limit(vw: Vw, client: TestClient) -> None:
    """Guessing access codes through the form is braked like through the API (one limiter per address)."""
    csrf = _csrf(client)
    data = {"username": "expert-nobody", "code": "0000", "password": EXPERT_PASSWORD, "csrf_token": csrf}
    codes = [client.post("/evaluation/access", data=data, follow_redirects=False).status_code for _ in range(10)]
    assert codes == [422] * 10
    r = client.post("/evaluation/access", data=data, follow_redirects=False)
    assert r.status_code == 429 and "操作过于频繁" in r.text
    body = {"username": "expert-nobody", "code": "0000", "password": EXPERT_PASSWORD}
    assert client.post("/api/v1/evaluation/access", json=body).status_code == 429


def test_scoring_page_for_members_only_with_an_intervention(vw: Vw, client: TestClient) -> None:
    started(vw)
    for outsider in ("bidder_a", "agency", "operator", "regulator", "expert"):
        _sign_in(client, outsider, PASSWORD)
        assert client.get(f"/evaluation/{vw.pid}").status_code == 403, outsider
    _sign_in(client, vw.member(1), EXPERT_PASSWORD)
    page = client.get(f"/evaluation/{vw.pid}")
    assert page.status_code == 200 and vw.ow.org("bidder_a").name in page.text
    c = vw.uscc("bidder_c")
    assert 'id="objective-table"' in page.text and 'id="fact-form"' in page.text  # the leader may correct facts
    assert f'name="s|{c}|experience"' not in page.text  # objective items are read-only: no input
    assert "无法识别的数值“三”" in page.text
    csrf = client.cookies["sunbid_csrf"]
    fact = {"bidder": c, "field": "extra.类似工程业绩", "value": "2", "csrf_token": csrf}
    r = client.post(f"/evaluation/{vw.pid}/facts", data={**fact, "reason": " "})
    assert r.status_code == 422 and "书面说明理由" in r.text and 'value="2"' in r.text  # the form is kept
    assert (
        client.post(f"/evaluation/{vw.pid}/facts", data={**fact, "csrf_token": "x", "reason": "r"}).status_code == 403
    )
    r = client.post(f"/evaluation/{vw.pid}/facts", data={**fact, "reason": "核对业绩证明，认定 2 项。"})
    assert r.status_code == 200 and "数据已更正" in r.text and 'id="corrections"' in r.text
    assert "核对业绩证明，认定 2 项。" in r.text and "2 项 × 2 分" in r.text
    r = client.post(f"/evaluation/{vw.pid}", data={**_form(vw, "12"), "csrf_token": csrf, "action": "save"})
    assert r.status_code == 200 and "评分已保存" in r.text
    bad = client.post(f"/evaluation/{vw.pid}", data={**_form(vw, "12"), "action": "submit"})
    assert bad.status_code == 403  # no CSRF token
    r = client.post(f"/evaluation/{vw.pid}", data={"csrf_token": csrf, "action": "submit"})
    assert r.status_code == 200 and "评分已提交" in r.text

    _sign_in(client, vw.member(2), EXPERT_PASSWORD)
    page = client.get(f"/evaluation/{vw.pid}")
    assert 'value="12.00"' not in page.text  # nobody else's scores
    assert 'id="objective-table"' in page.text and 'id="fact-form"' not in page.text  # read-only for members
    assert "核对业绩证明，认定 2 项。" in page.text  # the leader's correction, with its reason
    csrf = client.cookies["sunbid_csrf"]
    held = client.post(f"/evaluation/{vw.pid}", data={**_form(vw, "5"), "csrf_token": csrf, "action": "submit"})
    assert held.status_code == 409 and "书面理由" in held.text
    field = f"r|{vw.uscc('bidder_a')}|plan"
    assert f'name="{field}"' in held.text
    done = client.post(
        f"/evaluation/{vw.pid}", data={"csrf_token": csrf, "action": "submit", field: "方案缺少关键工序质量控制。"}
    )
    assert done.status_code == 200 and "评分已提交" in done.text
    with vw.platform.db.read() as s:
        assert [r.status for r in s.scalars(select(InterventionRow))] == ["explained"]


def test_check_in_on_the_page_then_wait_for_the_start(vw: Vw, client: TestClient) -> None:
    form(vw)
    _sign_in(client, vw.member(2), EXPERT_PASSWORD)
    page = client.get(f"/evaluation/{vw.pid}")
    assert page.status_code == 200 and 'id="sign-in-form"' in page.text and 'id="bids"' not in page.text
    r = client.post(
        f"/evaluation/{vw.pid}/sign-in", data={"csrf_token": client.cookies["sunbid_csrf"]}, follow_redirects=False
    )
    assert r.status_code == 303
    page = client.get(f"/evaluation/{vw.pid}")
    assert 'id="waiting"' in page.text and 'id="bids"' not in page.text  # no bid is shown before the start
    with vw.platform.uow() as uow:
        view = evaluation.committee_view(uow, vw.actor("operator"), vw.pid)
    assert view["members"][1]["signed_in_at"] is not None


def test_the_report_is_signed_and_uploaded_through_the_page(vw: Vw, client: TestClient) -> None:
    started(vw)
    score_all(vw)
    certificates(vw)
    vw.act(vw.member(1), reports.build, vw.pid)
    _sign_in(client, vw.member(1), EXPERT_PASSWORD)
    page = client.get(f"/evaluation/{vw.pid}")
    assert 'id="ranking"' in page.text and 'id="report-form"' in page.text
    pdf = client.get(f"/api/v1/projects/{vw.pid}/evaluation/report.pdf")
    assert pdf.status_code == 200
    csrf = client.cookies["sunbid_csrf"]
    unsigned = client.post(
        f"/evaluation/{vw.pid}/report",
        data={"csrf_token": csrf},
        files={"file": ("report.pdf", pdf.content, "application/pdf")},
    )
    assert unsigned.status_code == 422 and "增量" in unsigned.text
    signed = sign_report(
        pdf.content,
        Signer(vw.keys[1].private, vw.certs[1]),
        ca_cert_pem=vw.platform.ca().certificate_pem,
        at=vw.clock.now(),
    )
    r = client.post(
        f"/evaluation/{vw.pid}/report",
        data={"csrf_token": csrf},
        files={"file": ("report.pdf", signed, "application/pdf")},
    )
    assert r.status_code == 200 and "已接受您的签名" in r.text and 'id="signed"' in r.text


def test_the_regulator_sees_the_interventions_page_and_nobody_else(vw: Vw, client: TestClient) -> None:
    started(vw)
    score_all(vw)
    for who in ("regulator", "operator"):
        _sign_in(client, who, PASSWORD)
        page = client.get(f"/evaluation/{vw.pid}/interventions")
        assert page.status_code == 200 and page.text.count('class="intervention-row"') == 1 and "已说明" in page.text
    for who in ("regulator_far", "agency", "bidder_a"):
        _sign_in(client, who, PASSWORD)
        assert client.get(f"/evaluation/{vw.pid}/interventions").status_code == 403, who
    _sign_in(client, vw.member(3), EXPERT_PASSWORD)
    assert client.get(f"/evaluation/{vw.pid}/interventions").status_code == 403


@pytest.fixture
def vw2(tw: Any, clock: Any, suite_name: str) -> Vw:
    return make_vw(tw, clock, suite_name, sections=True)


def test_the_scoring_page_switches_between_sections(vw2: Vw, client: TestClient) -> None:
    vw = started(vw2)
    a, c = vw.uscc("bidder_a"), vw.uscc("bidder_c")
    for seq in (1, 2):
        for code in ("01", "02"):
            vw.act(vw.member(seq), scoring.save_scores, vw.pid, section_scores(vw, seq, code))
        vw.act(vw.member(seq), scoring.submit, vw.pid)
    _sign_in(client, vw.member(3), EXPERT_PASSWORD)
    page = client.get(f"/evaluation/{vw.pid}")
    assert page.status_code == 200 and 'id="sections"' in page.text
    assert 'id="section-current"' in page.text and f"/evaluation/{vw.pid}?section=02" in page.text
    assert f'name="s|{c}|plan"' in page.text  # section 01: C is evaluated
    page = client.get(f"/evaluation/{vw.pid}", params={"section": "02"})
    assert 'name="section" value="02"' in page.text and f"/evaluation/{vw.pid}?section=01" in page.text
    assert f'name="s|{c}|plan"' not in page.text  # section 02: C is above the maximum price
    assert client.get(f"/evaluation/{vw.pid}", params={"section": "07"}).status_code == 422
    csrf = client.cookies["sunbid_csrf"]
    sheet = {f"s|{s.bidder}|{s.item}": s.score for s in section_scores(vw, 3, "02", plan_a="6")}
    r = client.post(f"/evaluation/{vw.pid}", data={**sheet, "section": "02", "csrf_token": csrf, "action": "save"})
    assert r.status_code == 200 and "评分已保存" in r.text and 'name="section" value="02"' in r.text
    held = client.post(f"/evaluation/{vw.pid}", data={"section": "02", "csrf_token": csrf, "action": "submit"})
    assert held.status_code == 422 and "项未评分（如 标段 01 " in held.text  # section 01 is not scored yet
    sheet = {f"s|{s.bidder}|{s.item}": s.score for s in section_scores(vw, 3, "01")}
    held = client.post(f"/evaluation/{vw.pid}", data={**sheet, "section": "01", "csrf_token": csrf, "action": "submit"})
    assert held.status_code == 409 and "书面理由" in held.text
    field = f"r|{a}|plan|02"
    assert f'name="{field}"' in held.text and "标段 02" in held.text
    done = client.post(
        f"/evaluation/{vw.pid}", data={"section": "01", "csrf_token": csrf, "action": "submit", field: "缺少迁改措施。"}
    )
    assert done.status_code == 200 and "评分已提交" in done.text
    with vw.platform.db.read() as s:
        assert [(i.section, i.status) for i in s.scalars(select(InterventionRow))] == [("02", "explained")]
    for seq in (4, 5):
        for code in ("01", "02"):
            vw.act(vw.member(seq), scoring.save_scores, vw.pid, section_scores(vw, seq, code))
        vw.act(vw.member(seq), scoring.submit, vw.pid)
    page = client.get(f"/evaluation/{vw.pid}")
    assert 'id="ranking-01"' in page.text and 'id="ranking-02"' in page.text
    _sign_in(client, "regulator", PASSWORD)
    listed = client.get(f"/evaluation/{vw.pid}/interventions")
    assert listed.status_code == 200 and "标段 Section" in listed.text and "<td>02</td>" in listed.text
