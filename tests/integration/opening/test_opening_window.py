"""Loose ends of the opening: termination and suspension, the operator's window extension, the attempt cap,
the audited share fetch and late chunks after bidding closed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from sunbid.bidding import service as bids
from sunbid.core.errors import DomainError
from sunbid.ledger.models import AuditEvent
from sunbid.opening import service, session, window
from sunbid.opening.models import OpeningBid, OpeningKey, OpeningSharePost
from sunbid.projects import service as projects
from tests.integration.bidding.bidtools import chunks
from tests.integration.opening.conftest import Ow, after


def _audits(ow: Ow, suffix: str) -> list[AuditEvent]:
    with ow.platform.db.read() as s:
        return [e for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id)) if e.tag.endswith(suffix)]


def _bid(ow: Ow, who: str) -> OpeningBid:
    with ow.platform.db.read() as s:
        return s.scalars(select(OpeningBid).where(OpeningBid.bid_id == ow.bids[who])).one()


def _perform(ow: Ow, who: str, action: str) -> None:
    ow.act(who, projects.perform, ow.pid, action)


# --- termination ------------------------------------------------------------------------------------------------


def test_terminating_in_bidding_cancels_the_scheduled_session_and_the_deadline_starts_nothing(ow: Ow) -> None:
    ow.submit_all()
    assert ow.session_row().state == "scheduled"
    _perform(ow, "operator", "terminate")
    assert ow.project().state == "terminated"
    assert ow.session_row().state == "cancelled"
    assert ow.kinds() == ["session.cancelled"]
    assert "终止" in dict(ow.events())["session.cancelled"]["reason_zh"]
    ow.to_deadline()
    assert ow.session_row().state == "cancelled" and ow.kinds() == ["session.cancelled"]
    assert len(_audits(ow, "opening:cancel")) == 1


def test_terminating_while_decrypting_cancels_the_session_and_its_timer_and_decryption_stop(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    ow.decrypt("bidder_a")
    _perform(ow, "operator", "terminate")
    s = ow.session_row()
    assert s.state == "cancelled" and s.closed_at is not None
    after(ow, 31)  # the window's timer comes and does nothing
    assert ow.session_row().state == "cancelled"
    assert "decryption.closed" not in ow.kinds() and ow.kinds()[-1] == "session.cancelled"
    with pytest.raises(DomainError) as err:
        ow.decrypt("bidder_b")
    assert err.value.code == "opening.not_allowed"
    assert _bid(ow, "bidder_b").status == "sealed"  # never opened


def test_terminating_during_the_custodian_fallback_wipes_the_posted_shares(ow: Ow) -> None:
    ow.settings(custodian_fallback=True)
    ow.submit_all()
    ow.to_deadline()
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    after(ow, 30)
    assert ow.session_row().state == "fallback"
    ow.act("custodian_centre", session.post_share, ow.pid, "01", ow.share_text("custodian_centre"))
    with ow.platform.db.read() as s:
        assert s.scalars(select(OpeningSharePost)).one().share_sealed is not None
    _perform(ow, "operator", "terminate")
    assert ow.session_row().state == "cancelled"
    with ow.platform.db.read() as s:
        assert s.scalars(select(OpeningSharePost)).one().share_sealed is None
    with pytest.raises(DomainError) as err:
        ow.act("custodian_notary", session.post_share, ow.pid, "01", ow.share_text("custodian_notary"))
    assert err.value.code == "opening.not_allowed"


# --- suspension -------------------------------------------------------------------------------------------------


def test_a_suspension_freezes_the_window_and_the_resume_gives_back_the_time_left(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    closes = ow.session_row().closes_at
    assert closes == ow.deadline + timedelta(minutes=30)
    after(ow, 10)
    _perform(ow, "regulator", "suspend")
    assert ow.project().state == "suspended"
    suspended = dict(ow.events())["session.suspended"]
    assert suspended == {"state": "decrypting", "remaining_ms": 1_200_000}
    with pytest.raises(DomainError) as err:
        ow.decrypt("bidder_a")
    assert err.value.code == "opening.suspended"
    with pytest.raises(DomainError) as err:
        ow.act("bidder_a", session.check_in, ow.pid, "01")
    assert err.value.code == "opening.suspended"
    with pytest.raises(DomainError) as err:
        ow.act("operator", session.operator_close, ow.pid)
    assert err.value.code == "opening.suspended"
    with ow.platform.uow() as uow:
        view = session.status_view(uow, ow.tw.actor("bidder_a"), ow.pid)
    assert view["suspended"] is True and view["state"] == "decrypting"
    after(ow, 60)  # long past the original close: the timer must not fire while suspended
    assert ow.session_row().state == "decrypting"
    assert "decryption.closed" not in ow.kinds()
    assert _bid(ow, "bidder_a").attempts == 0
    _perform(ow, "regulator", "resume")
    assert ow.project().state == "opening"
    s = ow.session_row()
    assert s.closes_at == ow.clock.now() + timedelta(minutes=20)
    resumed = dict(ow.events())["session.resumed"]
    assert resumed["state"] == "decrypting" and resumed["closes_at"].startswith(s.closes_at.isoformat()[:19])
    assert ow.kinds().count("session.started") == 1  # the resume does not start the session again
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    after(ow, 19)
    assert ow.session_row().state == "decrypting"
    after(ow, 1)
    assert ow.session_row().state == "recorded"
    failed = [d for k, d in ow.events() if k == "bid.decryption_failed"]
    assert [d["bidder_name"] for d in failed] == [ow.org("bidder_c").name]
    assert [a.tag.split(":", 1)[1] for a in _audits(ow, ":opening:suspend") + _audits(ow, ":opening:resume")] == [
        "opening:suspend",
        "opening:resume",
    ]


def test_a_suspension_during_bidding_leaves_the_session_scheduled_and_the_deadline_still_opens(ow: Ow) -> None:
    ow.submit_all()
    with ow.platform.db.read() as s:
        keys_before = s.scalars(select(OpeningKey.fingerprint)).all()
    _perform(ow, "regulator", "suspend")
    assert ow.session_row().state == "scheduled"
    _perform(ow, "regulator", "resume")
    assert ow.project().state == "bidding"
    assert ow.session_row().state == "scheduled" and ow.session_row().round == 1
    with ow.platform.db.read() as s:
        assert s.scalars(select(OpeningKey.fingerprint)).all() == keys_before
    assert ow.kinds() == []  # nothing was running: no event before the session starts
    ow.to_deadline()
    assert ow.session_row().state == "decrypting"


# --- the operator extends the window ----------------------------------------------------------------------------


def test_the_operator_extends_the_open_window_with_a_reason_on_record(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    after(ow, 25)
    with pytest.raises(DomainError) as err:
        ow.act("bidder_a", window.extend_window, ow.pid, 10, "网络故障")
    assert err.value.code == "opening.forbidden"
    with pytest.raises(DomainError) as err:
        ow.act("operator", window.extend_window, ow.pid, 10, " ")
    assert err.value.code == "opening.reason_required"
    with pytest.raises(DomainError) as err:
        ow.act("operator", window.extend_window, ow.pid, 61, "平台故障")
    assert err.value.code == "opening.bad_extension"
    ow.act("operator", window.extend_window, ow.pid, 10, "平台短时故障，部分投标人无法连接")
    assert ow.session_row().closes_at == ow.deadline + timedelta(minutes=40)
    (kind, data) = ow.events()[-1]
    assert kind == "decryption.extended"
    assert data["minutes"] == 10 and data["reason"] == "平台短时故障，部分投标人无法连接"
    (audit,) = _audits(ow, "opening:window_extend")
    assert audit.data["reason"] == data["reason"] and audit.data["from"].startswith("20")
    after(ow, 5)  # the old close passes: its timer is stale
    assert ow.session_row().state == "decrypting"
    ow.decrypt("bidder_a")  # in the extended time
    after(ow, 10)
    assert ow.session_row().state == "recorded"
    with pytest.raises(DomainError) as err:
        ow.act("operator", window.extend_window, ow.pid, 10, "太晚了")
    assert err.value.code == "opening.not_allowed"


def test_an_extension_before_the_session_starts_is_refused(ow: Ow) -> None:
    ow.submit_all()
    with pytest.raises(DomainError) as err:
        ow.act("operator", window.extend_window, ow.pid, 10, "平台故障")
    assert err.value.code == "opening.not_allowed"


# --- the cap on wrong content keys ------------------------------------------------------------------------------


def test_wrong_keys_past_the_cap_are_refused_and_logged_and_count_against_the_bidder_only_at_close(ow: Ow) -> None:
    ow.settings(max_key_attempts=2)
    ow.submit_all()
    ow.to_deadline()
    wrong = ow.content_key("bidder_b")
    for _ in range(2):
        with pytest.raises(DomainError) as err:
            ow.act("bidder_a", session.decrypt, ow.pid, ow.bids["bidder_a"], wrong)
        assert err.value.code == "opening.wrong_key"
    with pytest.raises(DomainError) as err:  # even the right key is refused now
        ow.decrypt("bidder_a")
    assert err.value.code == "opening.too_many_attempts" and err.value.details == {"attempts": 2, "cap": 2}
    ob = _bid(ow, "bidder_a")
    assert (ob.status, ob.attempts, ob.last_problem) == ("sealed", 2, "bid.wrong_key")  # not failed yet
    with ow.platform.uow() as uow:
        (mine,) = session.status_view(uow, ow.tw.actor("bidder_a"), ow.pid)["mine"]
    assert mine["attempts_left"] == 0 and mine["status"] == "sealed"
    (refused,) = _audits(ow, "opening:decrypt_refused")
    assert refused.data == {"project_code": ow.code, "bid_id": ow.bids["bidder_a"], "attempts": 2, "cap": 2}
    ow.decrypt("bidder_b")
    ow.decrypt("bidder_c")
    assert "bid.decryption_failed" not in ow.kinds()
    after(ow, 30)
    failed = {d["bidder_name"]: d for k, d in ow.events() if k == "bid.decryption_failed"}
    assert failed[ow.org("bidder_a").name]["outcome"] == "revoked"
    assert _bid(ow, "bidder_a").status == "revoked"


def test_a_bid_under_the_cap_still_decrypts_with_the_right_key(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    wrong = ow.content_key("bidder_b")
    for _ in range(4):  # default cap 5
        with pytest.raises(DomainError):
            ow.act("bidder_a", session.decrypt, ow.pid, ow.bids["bidder_a"], wrong)
    assert ow.decrypt("bidder_a").status == "decrypted"


# --- the custodian's share fetch is audited in the service ------------------------------------------------------


def test_every_share_fetch_through_the_service_is_audited_without_the_share(ow: Ow) -> None:
    with ow.platform.uow() as uow:
        actor = ow.tw.actor("custodian_centre")
        orgs = service.custodian_org_ids(actor.principal, ow.pid)
        shares = service.my_encrypted_shares(uow, orgs, ow.pid)
        assert [s["section"] for s in shares] == ["01"]
        assert service.my_encrypted_shares(uow, orgs, ow.pid, section="02") == []  # nothing held: nothing read
        assert service.my_encrypted_shares(uow, set(), ow.pid) == []
        uow.commit()
    (audit,) = _audits(ow, "opening:share_fetch")
    assert audit.data == {"sections": ["01"], "indexes": [shares[0]["index"]]}
    assert str(shares[0]["encrypted_share"]) not in str(audit.data)


# --- a chunk or completion after bidding closed is late and logged ----------------------------------------------


def test_a_chunk_or_completion_after_bidding_closed_is_refused_as_late_and_logged_anonymously(ow: Ow) -> None:
    ow.submit("bidder_a")
    ow.submit("bidder_b")
    data = ow.sealer.seal(ow.org("bidder_c"), ow.code)
    digest = ow.platform.suite.digest(data).hex()
    upload = ow.act("bidder_c", bids.create_upload, ow.pid, "01", length=len(data), container_hash=digest)
    pieces = chunks(data)
    ow.act("bidder_c", bids.append_chunk, upload.id, *pieces[0])
    ow.submit("bidder_c")  # a complete bid from the same bidder, so the opening starts
    ow.to_deadline()
    assert ow.project().state == "opening"
    after(ow, 1)
    with pytest.raises(DomainError) as err:
        ow.act("bidder_c", bids.append_chunk, upload.id, *pieces[1])
    assert err.value.code == "bid.deadline_passed"
    with pytest.raises(DomainError) as err:
        ow.act("bidder_c", bids.complete_upload, upload.id)
    assert err.value.code == "bid.deadline_passed"
    late = _audits(ow, ":bid:late")
    assert [e.data["what"] for e in late] == ["chunk", "complete"]
    assert all(e.actor_org_id is None and e.actor_user_id is None for e in late)
    assert all(ow.org("bidder_c").name not in str(e.data) for e in late)


def test_a_chunk_while_bidding_is_suspended_before_the_deadline_is_not_open_and_not_late(ow: Ow) -> None:
    data = ow.sealer.seal(ow.org("bidder_a"), ow.code)
    digest = ow.platform.suite.digest(data).hex()
    upload = ow.act("bidder_a", bids.create_upload, ow.pid, "01", length=len(data), container_hash=digest)
    _perform(ow, "regulator", "suspend")
    with pytest.raises(DomainError) as err:
        ow.act("bidder_a", bids.append_chunk, upload.id, *chunks(data)[0])
    assert err.value.code == "bid.not_open"
    assert _audits(ow, ":bid:late") == []
