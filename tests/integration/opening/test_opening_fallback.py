"""Custodian fallback (SPEC B-2) and the coefficient draw (B-5) in the opening session."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from sunbid.core.errors import DomainError
from sunbid.draws.domain import coefficient_set
from sunbid.draws.verify import verify_record as verify_draw
from sunbid.ledger.models import AuditEvent
from sunbid.opening import session
from sunbid.opening.models import OpeningBid, OpeningSharePost
from sunbid.opening.record import verify_record
from tests.integration.opening.conftest import CUSTODIANS, Ow, after


@pytest.fixture(params=["intl", "gm"])
def suite_name(request: pytest.FixtureRequest) -> str:
    """Both crypto suites: X25519 / AES-GCM and SM2 / SM4-GCM opening keys."""
    return str(request.param)


def _post(ow: Ow, custodian: str, text: str | None = None) -> dict[str, object]:
    share = text if text is not None else ow.share_text(custodian)
    result: dict[str, object] = ow.act(custodian, session.post_share, ow.pid, "01", share)
    return result


def _status(ow: Ow, who: str) -> str:
    with ow.platform.db.read() as s:
        return s.scalars(select(OpeningBid.status).where(OpeningBid.bid_id == ow.bids[who])).one()


def test_custodian_fallback_opens_with_k_shares_does_nothing_with_k_minus_1_and_is_refused_before_the_deadline(
    ow: Ow,
) -> None:
    ow.settings(custodian_fallback=True)
    ow.submit_all()
    with pytest.raises(DomainError) as err:  # before the deadline nobody may rebuild the key
        _post(ow, "custodian_centre")
    assert err.value.code == "opening.before_deadline"
    ow.to_deadline()
    with pytest.raises(DomainError) as err:  # nor while the bidders' window is open
        _post(ow, "custodian_centre")
    assert err.value.code == "opening.not_allowed"
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    after(ow, 30)
    assert ow.session_row().state == "fallback"
    first = _post(ow, "custodian_centre")  # k - 1 = 1 share
    assert first == {"section": "01", "approvals": 1, "threshold": 2, "rebuilt": False}
    assert _status(ow, "bidder_c") == "sealed"
    assert ow.session_row().state == "fallback"
    with pytest.raises(DomainError) as err:
        _post(ow, "custodian_centre")
    assert err.value.code == "opening.share_already_posted"
    second = _post(ow, "custodian_notary")  # k = 2 shares
    assert second["rebuilt"] is True
    assert _status(ow, "bidder_c") == "decrypted"
    assert ow.session_row().state == "recorded"
    kinds = ow.kinds()
    assert kinds.count("custodian.approved") == 2
    i = kinds.index("key.rebuilt")
    assert kinds[i + 1 : i + 2] == ["bid.decrypted"]
    decrypted = [d for k, d in ow.events() if k == "bid.decrypted"]
    assert decrypted[-1] == {"section": "01", "bidder_name": ow.org("bidder_c").name, "by": "custodian"}
    approved = [d for k, d in ow.events() if k == "custodian.approved"]
    assert [a["approvals"] for a in approved] == [1, 2] and approved[0]["threshold"] == 2
    with ow.platform.db.read() as s:
        posts = s.scalars(select(OpeningSharePost)).all()
        assert len(posts) == 2 and all(p.share_sealed is None for p in posts)  # shares wiped once used
        tags = [a.tag for a in s.scalars(select(AuditEvent).where(AuditEvent.tag.like("%opening:%")))]
    assert sum(t.endswith("opening:custodian_approve") for t in tags) == 2
    assert any(t.endswith("opening:key_rebuilt") for t in tags)
    with ow.platform.uow() as uow:
        doc = session.record_view(uow, ow.pid)
    rows = {r["bidder_name"]: r for r in doc["record"]["sections"][0]["rows"]}
    assert rows[ow.org("bidder_c").name]["opened_by"] == "custodian"
    assert rows[ow.org("bidder_c").name]["price"] == "11800000.00"


def test_a_custodian_cannot_post_anothers_share_and_others_cannot_post_at_all(ow: Ow) -> None:
    ow.settings(custodian_fallback=True)
    ow.submit_all()
    ow.to_deadline()
    after(ow, 30)
    with pytest.raises(DomainError) as err:
        _post(ow, "custodian_centre", ow.share_text("custodian_regulator"))
    assert err.value.code == "opening.not_your_share"
    for who in ("operator", "bidder_a"):
        with pytest.raises(DomainError) as err:
            ow.act(who, session.post_share, ow.pid, "01", ow.share_text("custodian_centre"))
        assert err.value.code == "opening.not_a_custodian"
    with pytest.raises(DomainError) as err:  # a custodian only posts shares: no check-in, no decryption
        ow.act("custodian_centre", session.check_in, ow.pid, "01")
    assert err.value.code == "opening.not_a_bidder"


def test_without_fallback_in_the_tender_shares_are_refused_and_unopened_bids_are_revoked(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    after(ow, 30)
    assert ow.session_row().state == "recorded"
    assert _status(ow, "bidder_c") == "revoked"
    with pytest.raises(DomainError) as err:
        _post(ow, CUSTODIANS[0])
    assert err.value.code == "opening.fallback_not_allowed"


def test_the_operator_may_end_a_fallback_the_custodians_do_not_complete(ow: Ow) -> None:
    ow.settings(custodian_fallback=True)
    ow.submit_all()
    ow.to_deadline()
    for who in ("bidder_a", "bidder_b"):
        ow.decrypt(who)
    after(ow, 30)
    _post(ow, "custodian_centre")
    with pytest.raises(DomainError):
        ow.act("bidder_a", session.operator_close, ow.pid)
    ow.act("operator", session.operator_close, ow.pid)
    assert ow.session_row().state == "recorded"
    assert _status(ow, "bidder_c") == "revoked"


def test_the_coefficient_is_drawn_from_committed_inputs_and_the_record_proves_it_offline(
    ow: Ow, tmp_path: object
) -> None:
    ow.settings(coefficient=None)
    from sunbid.draws.domain import DecimalRange

    ow.settings(coefficient=DecimalRange("0.95", "0.98", "0.005"))
    ow.submit_all()
    ow.to_deadline()
    drawn = dict(ow.events())["coefficient.drawn"]
    assert Decimal(drawn["value"]) in coefficient_set("0.95", "0.98", "0.005")
    assert verify_draw(drawn["draw_record"]).ok
    hashes = sorted(bytes.fromhex(ow.platform.suite.digest(ow.data[w]).hex()) for w in ow.data)
    sealed = next(i for i in drawn["draw_record"]["seed_inputs"] if i["name"] == "sealed_bids")
    assert sealed["value"] == b"".join(hashes).hex()
    commitment = drawn["draw_record"]["commitments"][0]
    assert commitment["committed_at"] < ow.deadline.isoformat()  # committed when the key was made
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        ow.decrypt(who)
    with ow.platform.uow() as uow:
        doc = session.record_view(uow, ow.pid)
    assert doc["record"]["sections"][0]["coefficient"] == drawn["value"]
    assert verify_record(doc, ow.platform.log_keypair.public) == []
    forged = json.loads(json.dumps(doc))
    other = "0.980" if drawn["value"] != "0.980" else "0.950"
    forged["record"]["sections"][0]["coefficient"] = other
    assert any("coefficient_mismatch" in p for p in verify_record(forged))
