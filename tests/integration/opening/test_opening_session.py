"""The opening session (SPEC B-4) through the services: window, decryption, failures, record, objections, finish."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from sunbid.core.errors import DomainError
from sunbid.ledger.models import AuditEvent
from sunbid.opening import session
from sunbid.opening.models import OpeningBid
from sunbid.opening.record import ROW_FIELDS, verify_record
from sunbid.projects import service as projects
from sunbid.projects.timing import project_facts
from tests.integration.opening.conftest import BIDDERS, Ow, after

PRICE_MARK = "11800000.00"


def _no_price_before_record(ow: Ow) -> None:
    for kind, data in ow.events():
        if kind == "record.published":
            return
        assert PRICE_MARK not in json.dumps(data, ensure_ascii=False), kind


def test_with_sealed_bids_the_deadline_starts_the_session_and_opens_the_window(ow: Ow) -> None:
    ow.submit_all()
    assert ow.kinds() == []
    ow.to_deadline()
    assert ow.project().state == "opening"
    s = ow.session_row()
    assert s.state == "decrypting"
    assert s.closes_at == ow.deadline + timedelta(minutes=30)
    events = ow.events()
    assert [k for k, _ in events] == ["session.started", "decryption.opened"]
    started = events[0][1]
    assert started["sections"] == ["01"] and started["bids"] == 3 and started["window_minutes"] == 30
    assert sorted(started["bidders"]) == sorted(ow.org(w).name for w in BIDDERS)


def test_every_bidder_decrypts_then_the_signed_record_is_published_and_verifies_offline(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    ow.act("bidder_a", session.check_in, ow.pid, "01")
    ow.act("bidder_a", session.check_in, ow.pid, "01")  # idempotent
    for who in BIDDERS:
        ob = ow.decrypt(who)
        assert ob.status == "decrypted"
    s = ow.session_row()
    assert s.state == "recorded"  # all decrypted: the window closes at once
    kinds = ow.kinds()
    assert kinds.count("bidder.checked_in") == 3  # decrypting checks the bidder in too
    assert kinds[-2:] == ["decryption.closed", "record.published"]
    _no_price_before_record(ow)
    with ow.platform.uow() as uow:
        doc_json = session.record_view(uow, ow.pid)
    assert verify_record(doc_json, ow.platform.log_keypair.public) == []
    rows = doc_json["record"]["sections"][0]["rows"]
    assert all(set(r) == set(ROW_FIELDS) for r in rows)  # the fields docs/opening.md lists
    assert {r["price"] for r in rows} == {PRICE_MARK}
    assert {r["decryption_status"] for r in rows} == {"decrypted"}
    with ow.platform.uow() as uow:  # whatever the deposits feature says about each bidder, as at the start
        from sunbid.bidding.service import deposit_status
        from sunbid.projects.models import Project, Section

        project = uow.session.get(Project, ow.pid)
        section = uow.session.scalars(select(Section).where(Section.project_id == ow.pid)).one()
        assert project is not None
        expected = {ow.org(w).name: deposit_status(uow, project, section, ow.org(w))[0] for w in BIDDERS}
    assert {r["bidder_name"]: r["deposit_status_code"] for r in rows} == expected
    published = dict(ow.events())["record.published"]
    assert published["record_hash"] == doc_json["record_hash"]
    assert published["sections"][0]["rows"][0]["price"] == PRICE_MARK
    tampered = json.loads(json.dumps(doc_json))
    tampered["record"]["sections"][0]["rows"][0]["price"] = "1.00"
    problems = verify_record(tampered, ow.platform.log_keypair.public)
    assert any("hash_mismatch" in p for p in problems) and any("bad_signature" in p for p in problems)


def test_the_record_reads_out_each_decrypted_bids_declared_items_and_the_hall_gets_them(ow: Ow) -> None:
    declared = {"项目经理": "张三（一级建造师）", "类似工程业绩": "3", "下浮率": "3.50%"}
    ow.submit("bidder_a", extra=declared)
    ow.submit("bidder_b")  # declares nothing
    ow.submit("bidder_c", extra={"类似工程业绩": "9"})  # never decrypted: its items are never read out
    ow.to_deadline()
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    after(ow, 30)
    assert ow.session_row().state == "recorded"
    with ow.platform.uow() as uow:
        doc = session.record_view(uow, ow.pid)
    assert verify_record(doc, ow.platform.log_keypair.public) == []
    rows = {r["bidder_name"]: r for r in doc["record"]["sections"][0]["rows"]}
    a, b, c = (rows[ow.org(w).name] for w in BIDDERS)
    assert a["extra"] == declared  # (key order is the database's: hall and verify show the items by name)
    assert b["extra"] == {}
    assert (c["decryption_status"], c["price"], c["extra"]) == ("revoked", None, None)
    published = dict(ow.events())["record.published"]
    assert {r["bidder_name"]: r["extra"] for r in published["sections"][0]["rows"]} == {
        a["bidder_name"]: declared,
        b["bidder_name"]: {},
        c["bidder_name"]: None,
    }
    for kind, data in ow.events():  # like the price, nothing declared shows before the record
        if kind == "record.published":
            break
        assert "张三" not in json.dumps(data, ensure_ascii=False), kind
    assert "类似工程业绩" not in json.dumps(c, ensure_ascii=False)  # the revoked bid's items are nowhere in it
    tampered = json.loads(json.dumps(doc))
    tampered["record"]["sections"][0]["rows"][0]["extra"]["类似工程业绩"] = "5"
    problems = verify_record(tampered, ow.platform.log_keypair.public)
    assert any("hash_mismatch" in p for p in problems) and any("bad_signature" in p for p in problems)


def test_the_content_key_is_kept_sealed_for_evaluation_and_its_use_is_audited(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    ow.decrypt("bidder_a")
    import base64

    with ow.platform.uow() as uow:
        ob = uow.session.scalars(select(OpeningBid).where(OpeningBid.bid_id == ow.bids["bidder_a"])).one()
        assert ob.content_key_sealed is not None
        assert base64.b64decode(ow.content_key("bidder_a")) not in ob.content_key_sealed
        assert session.content_key_of(uow, ob) == base64.b64decode(ow.content_key("bidder_a"))
        assert ob.documents and ob.documents[0]["name"] == "商务标.pdf"
        uow.commit()
    with ow.platform.db.read() as s:
        assert s.scalars(select(AuditEvent).where(AuditEvent.tag.like("%opening:content_key_access"))).all()


def test_a_wrong_key_is_counted_and_a_bid_never_decrypted_is_revoked_when_the_window_closes(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    wrong = ow.content_key("bidder_b")  # B's key for A's bid
    for attempt in (1, 2):
        with pytest.raises(DomainError) as err:
            ow.act("bidder_a", session.decrypt, ow.pid, ow.bids["bidder_a"], wrong)
        assert err.value.code == "opening.wrong_key"
        with ow.platform.db.read() as s:
            ob = s.scalars(select(OpeningBid).where(OpeningBid.bid_id == ow.bids["bidder_a"])).one()
            assert (ob.status, ob.attempts, ob.last_problem) == ("sealed", attempt, "bid.wrong_key")
    ow.decrypt("bidder_b")
    after(ow, 29)
    assert ow.session_row().state == "decrypting"  # the timer is not due yet
    after(ow, 1)
    s = ow.session_row()
    assert s.state == "recorded"
    failed = {d["bidder_name"]: d for k, d in ow.events() if k == "bid.decryption_failed"}
    assert failed[ow.org("bidder_a").name]["outcome"] == "revoked"
    assert "撤销" in failed[ow.org("bidder_a").name]["reason_zh"]
    assert failed[ow.org("bidder_c").name]["outcome"] == "revoked"
    closed = dict(ow.events())["decryption.closed"]
    assert closed == {"decrypted": 1, "failed": 2}
    with ow.platform.db.read() as db:
        audits = db.scalars(select(AuditEvent).where(AuditEvent.tag.like("%opening:decrypt_failed"))).all()
        assert len(audits) == 2
    with pytest.raises(DomainError) as err:
        ow.decrypt("bidder_c")
    assert err.value.code == "opening.not_allowed"


def test_a_stored_container_that_fails_its_hash_is_the_platforms_fault_and_the_bid_is_withdrawn(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    with ow.platform.db.read() as s:
        from sunbid.bidding.models import Bid

        bid = s.get(Bid, ow.bids["bidder_c"])
        assert bid is not None
        damaged = bytearray(ow.platform.storage.get(bid.storage_key))
        damaged[-100] ^= 1
        ow.platform.storage.put(bid.storage_key, bytes(damaged))
    with pytest.raises(DomainError) as err:
        ow.decrypt("bidder_c")
    assert err.value.code == "opening.stored_container_damaged"
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    ow.act("operator", session.operator_close, ow.pid)
    failed = {d["bidder_name"]: d for k, d in ow.events() if k == "bid.decryption_failed"}
    assert failed == {ow.org("bidder_c").name: failed[ow.org("bidder_c").name]}
    assert failed[ow.org("bidder_c").name]["outcome"] == "withdrawn"
    assert "撤回" in failed[ow.org("bidder_c").name]["reason_zh"]


def test_objections_hold_the_finish_until_answered_then_the_operator_finishes(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    for who in BIDDERS:
        ow.decrypt(who)
    ow.act("bidder_a", session.confirm, ow.pid, "01")
    obj = ow.act("bidder_b", session.raise_objection, ow.pid, "01", "甲公司报价与开标一览表不一致")
    assert project_facts(ow.project(), ow.clock.now()).open_objections == 1
    with pytest.raises(DomainError):
        ow.act("operator", session.finish, ow.pid)
    with pytest.raises(DomainError) as err:
        ow.act("bidder_a", session.answer_objection, ow.pid, obj.id, "不是我答")
    assert err.value.code == "opening.forbidden"
    ow.act("operator", session.answer_objection, ow.pid, obj.id, "经核对，报价一致，异议不成立。")
    assert project_facts(ow.project(), ow.clock.now()).open_objections == 0
    assert ow.act("operator", session.finish, ow.pid) == (3, "opened")
    assert ow.project().state == "opened"
    assert ow.session_row().state == "closed"
    kinds = ow.kinds()
    assert kinds[-4:] == ["bidder.confirmed", "objection.raised", "objection.answered", "session.closed"]
    assert dict(ow.events())["session.closed"] == {"valid_bids": 3}


def test_finishing_through_the_lifecycle_before_the_record_or_with_other_valid_bids_is_refused(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    with pytest.raises(DomainError) as err:
        ow.act("operator", projects.perform, ow.pid, "finish_opening", {"valid_bids": 3})
    assert err.value.code == "opening.not_recorded"
    for who in BIDDERS:
        ow.decrypt(who)
    with pytest.raises(DomainError) as err:
        ow.act("operator", projects.perform, ow.pid, "finish_opening", {"valid_bids": 2})
    assert err.value.code == "opening.valid_bids_mismatch"


def test_fewer_than_three_bids_means_no_opening_and_the_session_failed_event(ow: Ow) -> None:
    ow.submit("bidder_a")
    ow.submit("bidder_b")
    ow.to_deadline()
    assert ow.project().state == "failed"
    assert ow.session_row().state == "failed"
    (kind, data), *_ = ow.events()
    assert kind == "session.failed" and "2" in data["reason_zh"]


def test_settings_change_before_the_deadline_only_and_by_the_tender_side_only(ow: Ow) -> None:
    s = ow.settings(window_minutes=15)
    assert s.settings["window_minutes"] == 15
    with pytest.raises(DomainError) as err:
        ow.settings("bidder_a", window_minutes=20)
    assert err.value.code == "opening.forbidden"
    with pytest.raises(DomainError) as err:
        ow.settings(window_minutes=2)
    assert err.value.code == "opening.bad_settings"
    ow.submit_all()
    ow.to_deadline()
    assert ow.session_row().closes_at == ow.deadline + timedelta(minutes=15)
    with pytest.raises(DomainError) as err:
        ow.settings(window_minutes=20)
    assert err.value.code == "opening.settings_locked"


def test_a_bidder_sees_only_its_own_decryption_state_and_nobody_sees_a_price_before_the_record(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    ow.decrypt("bidder_a")
    for who in ("operator", "agency", "bidder_b", "regulator"):
        with ow.platform.uow() as uow:
            view = session.status_view(uow, ow.tw.actor(who), ow.pid)
        assert PRICE_MARK not in json.dumps(view, ensure_ascii=False)
        if who == "bidder_b":
            assert [m["bid_id"] for m in view["mine"]] == [ow.bids["bidder_b"]]
            assert view["mine"][0]["status"] == "sealed"
        else:
            assert view["mine"] == []
        assert view["sections"][0]["decrypted"] == 1
    with pytest.raises(DomainError) as err:
        ow.act("bidder_b", session.decrypt, ow.pid, ow.bids["bidder_c"], ow.content_key("bidder_c"))
    assert err.value.code == "opening.bid_not_found"
    with pytest.raises(DomainError) as err:
        ow.act("operator", session.decrypt, ow.pid, ow.bids["bidder_c"], ow.content_key("bidder_c"))
    assert err.value.code == "opening.bid_not_found"
    with pytest.raises(DomainError) as err:
        ow.act("operator", session.check_in, ow.pid, "01")
    assert err.value.code == "opening.not_a_bidder"
    with pytest.raises(DomainError) as err, ow.platform.uow() as uow:
        session.record_view(uow, ow.pid)
    assert err.value.code == "opening.no_record"
    _no_price_before_record(ow)


def test_too_few_valid_bids_fail_the_opening_only_after_the_record_and_with_the_decrypted_count(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    with pytest.raises(DomainError) as err:  # not while bidders may still decrypt
        ow.act("operator", projects.perform, ow.pid, "declare_failed", {"valid_bids": 0})
    assert err.value.code == "opening.not_recorded"
    ow.decrypt("bidder_a")
    after(ow, 30)
    with ow.platform.uow() as uow:
        projects.update_facts(uow, ow.pid, "test", valid_bids=2)
        with pytest.raises(DomainError) as err:
            projects.perform(uow, ow.tw.actor("operator"), ow.pid, "declare_failed", {})
        assert err.value.code == "opening.valid_bids_mismatch"
    with ow.platform.uow() as uow:
        projects.update_facts(uow, ow.pid, "opening: 1 bid decrypted", valid_bids=1)
        projects.perform(uow, ow.tw.actor("operator"), ow.pid, "declare_failed", {})
        uow.commit()
    assert ow.project().state == "failed"
    assert ow.session_row().state == "failed"
    kind, data = ow.events()[-1]
    assert kind == "session.failed" and "1" in data["reason_zh"]


def test_finishing_with_fewer_decrypted_bids_than_the_minimum_fails_the_opening(ow: Ow) -> None:
    ow.submit_all()
    ow.to_deadline()
    ow.decrypt("bidder_a")
    ow.decrypt("bidder_b")
    after(ow, 30)
    obj = ow.act("bidder_c", session.raise_objection, ow.pid, "01", "我方已按时解密")
    with pytest.raises(DomainError) as err:
        ow.act("operator", session.finish, ow.pid)
    assert err.value.code == "opening.objections_open"
    ow.act("operator", session.answer_objection, ow.pid, obj.id, "系统记录显示贵方未在解密时限内解密。")
    assert ow.act("operator", session.finish, ow.pid) == (2, "failed")
    assert ow.project().state == "failed"
    assert project_facts(ow.project(), ow.clock.now()).valid_bids == 2
    assert ow.kinds()[-1] == "session.failed"


def test_a_re_tender_opens_a_new_round_with_its_own_bids_and_a_fresh_draw_commitment(ow: Ow) -> None:
    from sunbid.opening.models import OpeningKey, OpeningSession

    ow.submit("bidder_a")
    ow.submit("bidder_b")
    with ow.platform.db.read() as s:
        first = s.scalars(select(OpeningKey.draw_commitment).where(OpeningKey.project_id == ow.pid)).one()
    ow.to_deadline()
    assert ow.project().state == "failed"
    ow.act("agency", projects.perform, ow.pid, "retender", {})
    ow.act("agency", projects.perform, ow.pid, "publish_announcement", {})
    deadline = ow.clock.now() + timedelta(days=21)
    ow.act("agency", projects.perform, ow.pid, "issue_documents", {"bid_deadline": deadline.isoformat()})
    assert ow.project().state == "bidding"
    with ow.platform.db.read() as s:
        rounds = s.scalars(select(OpeningSession.state).order_by(OpeningSession.round)).all()
        second = s.scalars(select(OpeningKey.draw_commitment).where(OpeningKey.project_id == ow.pid)).one()
    assert rounds == ["failed", "scheduled"]
    assert second is not None and first is not None and second["value_hash"] != first["value_hash"]
    ow.submit_all()
    ow.deadline = deadline
    ow.to_deadline()
    s2 = ow.session_row()
    assert (s2.round, s2.state) == (2, "decrypting")
    started = [d for k, d in ow.events() if k == "session.started"]
    assert len(started) == 1 and started[0]["bids"] == 3
    for who in BIDDERS:
        ow.decrypt(who)
    assert ow.session_row().state == "recorded"
