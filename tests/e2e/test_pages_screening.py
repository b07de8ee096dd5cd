"""The regulator's screening pages: who may open them, the riskiest tenders with bid plots and reasons."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from sunbid.core.clock import FakeClock
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.screening.io import parse_csv_text
from sunbid.screening.service import ScreeningStore, score
from sunbid.screening.synthetic import synthetic_csv
from tests.integration.opening.conftest import make_ow, open_with_prices
from tests.integration.projects.conftest import Tw
from tests.integration.projects.conftest import tw as tw  # the fixture
from tests.support.world import PASSWORD, build_world


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    from sunbid.app import create_app

    build_world(platform)
    data = parse_csv_text(synthetic_csv(40, seed=21))
    ScreeningStore.of_data_dir(platform.settings.data_dir).save("hist-2024", "hist.csv", data, score(data, trees=30))
    return create_app(platform, start_worker=False)


def _client(app: FastAPI, username: str | None, lang: str | None = None) -> TestClient:
    c = TestClient(app, base_url="http://127.0.0.1")
    if lang:
        c.cookies.set("sunbid_lang", lang)
    c.get("/login")
    if username:
        r = c.post(
            "/login",
            data={"username": username, "password": PASSWORD, "csrf_token": c.cookies["sunbid_csrf"]},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    return c


def test_regulator_sees_the_imports_and_the_riskiest_tenders(app: FastAPI) -> None:
    c = _client(app, "regulator")
    r = c.get("/supervision/screening")
    assert r.status_code == 200
    assert "围标串标筛查" in r.text and 'data-import="hist-2024"' in r.text and "ROC-AUC" in r.text
    r = c.get("/supervision/screening/hist-2024?top=5")
    assert r.status_code == 200
    assert r.text.count('class="card tender-risk"') == 5
    assert r.text.count("<svg") == 5 and "中标价" in r.text and "控制价" in r.text
    assert "主要原因" in r.text and "常见值" in r.text
    scores = [float(x) for x in re.findall(r'data-score="([0-9.]+)"', r.text)]
    assert scores == sorted(scores, reverse=True)
    assert "cdn" not in r.text.lower() and "https://" not in r.text


def test_the_page_follows_the_language_switch(app: FastAPI) -> None:
    r = _client(app, "regulator", lang="en").get("/supervision/screening/hist-2024?top=2")
    assert r.status_code == 200
    assert "Riskiest tenders" in r.text and "winning bid" in r.text and "typical" in r.text


@pytest.mark.parametrize("username", ["bidder_a", "tenderer", "operator", "admin"])
def test_other_roles_are_refused(app: FastAPI, username: str) -> None:
    c = _client(app, username)
    for path in ("/supervision/screening", "/supervision/screening/hist-2024"):
        r = c.get(path)
        assert r.status_code == 403, (username, path)
        assert "只有行政监督部门" in r.text and "tender-risk" not in r.text


def test_anonymous_visitors_are_sent_to_login(app: FastAPI) -> None:
    r = _client(app, None).get("/supervision/screening/hist-2024", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/supervision/screening/")


def test_unknown_or_malformed_import_names_are_not_found(app: FastAPI) -> None:
    c = _client(app, "regulator")
    assert c.get("/supervision/screening/nothing").status_code == 404
    assert c.get("/supervision/screening/..%2Fsecrets").status_code in {404, 422}


def test_regulators_choose_the_platforms_opened_tenders_and_see_only_their_own(tw: Tw, clock: FakeClock) -> None:
    from sunbid.app import create_app

    ow = make_ow(tw, clock, "intl")
    open_with_prices(ow, {"bidder_a": "11800000.00", "bidder_b": "11750000.00", "bidder_c": "12100000.00"})
    app = create_app(tw.platform, start_worker=False)
    c = _client(app, "regulator")
    r = c.get("/supervision/screening")
    assert r.status_code == 200 and 'href="/supervision/screening-platform"' in r.text and "本平台已开标项目" in r.text
    r = c.get("/supervision/screening-platform")
    assert r.status_code == 200, r.text
    assert r.text.count('class="card tender-risk"') == 1 and f'data-tender="{ow.code}/01"' in r.text
    assert "本平台已开标项目" in r.text and "<svg" in r.text
    far = _client(app, "regulator_far").get("/supervision/screening-platform")  # another region: nothing
    assert far.status_code == 422 and "tender-risk" not in far.text and "没有投标数据" in far.text
    for who in ("bidder_a", "operator"):
        refused = _client(app, who).get("/supervision/screening-platform")
        assert refused.status_code == 403 and "tender-risk" not in refused.text
    anonymous = _client(app, None).get("/supervision/screening-platform", follow_redirects=False)
    assert anonymous.status_code == 303
    with tw.platform.db.read() as s:
        views = [a for a in s.scalars(select(AuditEvent)) if a.tag.endswith("screening:view")]
    assert len(views) == 1 and views[0].tag.startswith("web:") and views[0].data["tenders"] == 1
    assert views[0].actor_user_id is not None  # who looked is on record
