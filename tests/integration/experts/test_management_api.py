"""The expert management API by role: who may assess, who manages fees and appeals; nothing secret returned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from sunbid.core.clock import SHANGHAI
from sunbid.experts import management_fees as fees
from sunbid.experts.payments import PaymentSimulator
from sunbid.identity import service as identity
from sunbid.identity.models import User
from tests.integration.experts.conftest import Ew
from tests.integration.experts.mgmt_support import Panel, unsealed_panel

API = "/api/v1"
ROLES = ("admin", "operator", "tenderer", "agency", "bidder_a", "regulator", "regulator_far", "expert")


@pytest.fixture
def panel(ew: Ew) -> Panel:
    return unsealed_panel(ew)


def _tokens(ew: Ew) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"anonymous": {}}
    with ew.platform.uow() as uow:
        for who in ROLES:
            user = uow.session.scalars(select(User).where(User.username == who)).one()
            out[who] = {"Authorization": f"Bearer {identity.create_api_token(uow, user, 't').raw}"}
        uow.commit()
    return out


def test_assessment_by_role(ew: Ew, panel: Panel, client: TestClient) -> None:
    h = _tokens(ew)
    url = f"{API}/expert-draws/{panel.draw_id}/assessments"
    expected = {
        "admin": 201,
        "operator": 201,
        "tenderer": 201,
        "agency": 201,
        "regulator": 201,
        "bidder_a": 403,
        "regulator_far": 403,  # another region: outside its scope
        "expert": 403,
        "anonymous": 401,
    }
    code = panel.confirmed[0]
    for who, status in expected.items():
        r = client.post(url, headers=h[who], json={"expert_code": code, "deductions": [{"item": "late_arrival"}]})
        assert r.status_code == status, (who, r.text)
    r = client.get(f"{API}/experts/{code}/assessment?year=2026", headers=h["regulator"])
    assert r.status_code == 200 and r.json()["points_deducted"] == 1 and len(r.json()["deductions"]) == 5
    assert client.get(f"{API}/experts/{code}/assessment", headers=h["agency"]).status_code == 403
    r = client.post(
        url, headers=h["agency"], json={"expert_code": code, "deductions": [{"item": "late_arrival", "count": "1"}]}
    )
    assert r.status_code == 422  # strict body: no string for a count
    r = client.post(url, headers=h["agency"], json={"expert_code": panel.confirmed[1], "deductions": [{"item": "nap"}]})
    assert r.status_code == 422 and r.json()["code"] == "expert_assess.unknown_item"
    items = client.get(f"{API}/expert-assessment/items", headers=h["tenderer"]).json()
    assert items["annual_points"] == 12 and {i["dimension"] for i in items["items"]} == {
        "punctuality",
        "discipline",
        "competence",
        "objectivity",
    }
    # appeals: recorded by the centre, decided by the centre or the regulator
    ded = client.get(f"{API}/experts/{code}/assessment", headers=h["operator"]).json()
    ded_id = ded["deductions"][0]["id"]
    assert (
        client.post(f"{API}/expert-deductions/{ded_id}/appeal", headers=h["agency"], json={"reason": "x"}).status_code
        == 403
    )
    r = client.post(f"{API}/expert-deductions/{ded_id}/appeal", headers=h["operator"], json={"reason": "堵车有证明"})
    assert r.status_code == 201
    decision = {"overturn": True, "note": "属实"}
    appeal_id = r.json()["appeal_id"]
    assert (
        client.post(f"{API}/expert-appeals/{appeal_id}/decision", headers=h["tenderer"], json=decision).status_code
        == 403
    )
    r = client.post(f"{API}/expert-appeals/{appeal_id}/decision", headers=h["regulator"], json=decision)
    assert r.status_code == 200 and r.json()["state"] == "overturned"


def test_fees_by_role_and_payment_through_the_worker(ew: Ew, panel: Panel, client: TestClient) -> None:
    h = _tokens(ew)
    sim = PaymentSimulator(ew.bw.clock)
    fees.install_gateway(ew.platform, sim)
    code = panel.confirmed[0]
    body = {"account_no": "6222 0200 0000 0001 234", "account_name": "专家甲", "bank": "中国银行池州分行"}
    for who in ("tenderer", "agency", "regulator", "bidder_a", "expert"):
        assert client.put(f"{API}/experts/{code}/bank-account", headers=h[who], json=body).status_code == 403, who
    r = client.put(f"{API}/experts/{code}/bank-account", headers=h["operator"], json=body)
    assert r.status_code == 200 and r.json() == {"code": code, "account_tail": "1234"}
    day = panel.starts_at.astimezone(SHANGHAI).date().isoformat()
    fee_body = {"expert_code": code, "started_at": f"{day}T09:00:00+08:00", "ended_at": f"{day}T13:00:00+08:00"}
    url = f"{API}/expert-draws/{panel.draw_id}/fees"
    assert client.post(url, headers=h["agency"], json=fee_body).status_code == 403
    assert client.post(url, headers=h["operator"], json=fee_body).status_code == 422  # not over yet
    ew.advance_to(panel.starts_at + timedelta(hours=6))
    r = client.post(url, headers=h["operator"], json=fee_body)
    assert r.status_code == 201 and r.json()["amount"] == "800.00", r.text
    fee_id = r.json()["id"]
    assert client.post(f"{API}/expert-fees/{fee_id}/approve", headers=h["regulator"]).status_code == 403
    r = client.post(f"{API}/expert-fees/{fee_id}/approve", headers=h["operator"])
    assert r.status_code == 200 and r.json()["state"] == "approved"
    ew.platform.worker.run_once()
    listed = client.get(f"{API}/expert-fees?draw_id={panel.draw_id}", headers=h["operator"]).json()
    assert [f["state"] for f in listed["fees"]] == ["paid"]
    assert listed["ledger"] == {
        "bank:expert_fees": "-800.00",
        "payer:centre": "800.00",
        f"payable:expert:{code}": "0.00",
    }
    assert "6222" not in str(listed) and sim.total_paid() == 800
    assert client.get(f"{API}/expert-fees", headers=h["regulator"]).status_code == 403


def test_signed_gateway_callbacks_settle_a_timed_out_payment_once(ew: Ew, panel: Panel, client: TestClient) -> None:
    from sunbid.experts.payments import PaymentTimeout, callback_json, sign_callback

    sim = PaymentSimulator(ew.bw.clock)
    fees.install_gateway(ew.platform, sim)
    code = panel.confirmed[2]
    ew.run(fees.register_bank_account, None, ew.keys, code, "6222020000009999", "专家丙", "农业银行池州分行")
    day = panel.starts_at.astimezone(SHANGHAI).date()
    from datetime import datetime, time

    start = datetime.combine(day, time(9), SHANGHAI)
    ew.advance_to(panel.starts_at + timedelta(hours=8))
    fee = ew.run(fees.compute_fee, None, panel.draw_id, code, start, start + timedelta(hours=4))
    ew.run(fees.approve_fee, None, fee.id)
    sim.timeout_next(1, executed=True)
    with pytest.raises(PaymentTimeout):
        fees.execute_payment(ew.platform, fee.id)
    secret = fees.callback_secret(ew.platform)
    [cb] = sim.callbacks()
    body = callback_json(cb)
    url = f"{API}/expert-fee-callbacks"
    js = {"content-type": "application/json"}
    r = client.post(url, content=body, headers={**js, "x-payment-signature": "00" * 32})
    assert r.status_code == 403 and r.json()["code"] == "expert_fee.bad_signature"
    r = client.post(url, content=b"{}", headers={**js, "x-payment-signature": sign_callback(secret, b"{}")})
    assert r.status_code == 422
    signed = {**js, "x-payment-signature": sign_callback(secret, body)}
    assert client.post(url, content=body, headers=signed).json() == {"ok": True, "applied": True}
    assert client.post(url, content=body, headers=signed).json() == {"ok": True, "applied": False}  # duplicate
    assert fees.execute_payment(ew.platform, fee.id) == "paid"  # the retried job finds it paid
    assert sim.times_paid(f"EF{fee.id:010d}A01") == 1
    with ew.platform.db.read() as s:
        assert fees.ledger_balances(s)[f"payable:expert:{code}"] == 0
