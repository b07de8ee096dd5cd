"""Bid submission through the services: chunked resumable upload, commit, receipt, deadline, withdraw, access."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from sunbid.bidding import service as bids
from sunbid.bidding.models import Bid, BidUpload
from sunbid.bidding.receipts import ensure_receipt, verify_receipt
from sunbid.bidding.tasks import complete_before_closing
from sunbid.core.errors import Conflict, DomainError, NotFound
from sunbid.ledger.models import AuditEvent
from sunbid.platform.container import Platform
from sunbid.platform.context import RequestContext
from sunbid.projects.models import Project
from sunbid.projects.timing import project_facts
from tests.integration.bidding.bidtools import MARKER, chunks
from tests.integration.bidding.conftest import Bw


def _audit_tags(bw: Bw, suffix: str) -> list[AuditEvent]:
    with bw.platform.db.read() as s:
        return [e for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id)) if e.tag.endswith(suffix)]


def test_chunked_upload_with_retry_and_resume_gives_a_receipt_that_verifies_offline(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    pieces = chunks(data)
    assert len(pieces) >= 3
    (o0, c0), (o1, c1) = pieces[0], pieces[1]
    assert bw.act("bidder_a", bids.append_chunk, uid, o0, c0) == len(c0)
    assert bw.act("bidder_a", bids.append_chunk, uid, o0, c0) == len(c0)  # retry: accepted, nothing duplicated
    with pytest.raises(Conflict) as err:
        bw.act("bidder_a", bids.append_chunk, uid, o1 + len(c1), pieces[2][1])  # skipped a chunk
    assert err.value.code == "bid.offset_mismatch" and err.value.details["offset"] == len(c0)
    for at, piece in pieces[1:]:  # resume from the offset the server named
        bw.act("bidder_a", bids.append_chunk, uid, at, piece)
    bid = bw.act("bidder_a", bids.complete_upload, uid)
    with bw.platform.db.read() as s:
        stored = s.get(Bid, bid.id)
        assert stored is not None
        assert bw.platform.storage.get(stored.storage_key) == data  # byte for byte, no duplicated chunk
    receipt = ensure_receipt(bw.platform, bid.id)
    assert verify_receipt(json.dumps(receipt), bw.platform.log_keypair.public) == []
    body = receipt["receipt"]
    assert body["container_hash"] == bw.platform.suite.digest(data).hex()
    assert body["bidder_uscc"] == bw.org("bidder_a").uscc and body["section_code"] == "01"
    assert body["received_at"].endswith("+00:00") and "." in body["received_at"]
    other = bw.platform.suite.generate_signing_keypair().public
    assert verify_receipt(receipt, other) != []  # another key: refused
    forged = json.loads(json.dumps(receipt))
    forged["receipt"]["size"] += 1
    assert any("bad_signature" in p for p in verify_receipt(forged, bw.platform.log_keypair.public))


def test_the_log_entry_holds_the_hash_but_neither_price_nor_bidder(bw: Bw) -> None:
    bid = bw.submit("bidder_a")
    (event,) = _audit_tags(bw, ":bid:submit")
    assert event.data["container_hash"] == bid.container_hash
    text = json.dumps(event.data, ensure_ascii=False)
    assert "11800000" not in text and MARKER not in text and bw.org("bidder_a").uscc not in text
    assert event.actor_org_id is None and event.actor_user_id is None


def test_final_chunk_committed_one_ms_before_the_deadline_is_accepted(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    bw.clock.set(bw.deadline - timedelta(milliseconds=1))
    bw.send_all("bidder_a", uid, data)
    bid = bw.act("bidder_a", bids.complete_upload, uid)
    assert bid.status == "submitted" and bid.received_at == bw.deadline - timedelta(milliseconds=1)


def test_rejects_final_chunk_received_one_ms_after_the_deadline_and_logs_the_refusal(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    pieces = chunks(data)
    for at, piece in pieces[:-1]:
        bw.act("bidder_a", bids.append_chunk, uid, at, piece)
    bw.clock.set(bw.deadline + timedelta(milliseconds=1))
    with pytest.raises(Conflict) as err:
        bw.act("bidder_a", bids.append_chunk, uid, *pieces[-1])
    assert err.value.code == "bid.deadline_passed"
    with pytest.raises(Conflict) as err:
        bw.act("bidder_a", bids.complete_upload, uid)  # not whole, and too late anyway
    assert err.value.code == "bid.deadline_passed"
    late = _audit_tags(bw, ":bid:late")
    assert [e.data["what"] for e in late] == ["chunk", "complete"]
    assert all(e.data["at"].endswith(".001000+00:00") for e in late)
    with bw.platform.db.read() as s:
        assert s.scalars(select(Bid)).all() == []
    assert bw.bids_received() == 0


def test_final_chunk_received_in_time_is_accepted_though_the_server_writes_it_after_the_deadline(bw: Bw) -> None:
    """The deadline is judged when the final chunk reached the server, not when a busy server got to write it."""
    data, other = bw.seal("bidder_a"), bw.seal("bidder_b")
    uid, uid_b = bw.open_upload("bidder_a", data), bw.open_upload("bidder_b", other)
    pieces = chunks(data)
    for at, piece in pieces[:-1]:
        bw.act("bidder_a", bids.append_chunk, uid, at, piece)
    arrived = bw.deadline - timedelta(milliseconds=1)
    bw.clock.set(bw.deadline + timedelta(seconds=3))  # the request queued behind others for 3 s
    bw.act("bidder_a", bids.append_chunk, uid, *pieces[-1], received_at=arrived)
    bid = bw.act("bidder_a", bids.complete_upload, uid)
    assert bid.status == "submitted" and bid.received_at == arrived
    assert ensure_receipt(bw.platform, bid.id)["receipt"]["received_at"] == arrived.isoformat(timespec="microseconds")
    assert _audit_tags(bw, ":bid:late") == []
    # a claimed arrival time can never be later than the server clock, nor make a late chunk early
    with pytest.raises(Conflict) as err:
        bw.act("bidder_b", bids.append_chunk, uid_b, 0, other, received_at=bw.deadline)
    assert err.value.code == "bid.deadline_passed"


def test_completing_after_the_deadline_an_upload_made_whole_before_it_is_accepted(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    bw.clock.set(bw.deadline - timedelta(milliseconds=1))
    bw.send_all("bidder_a", uid, data)
    bw.clock.set(bw.deadline + timedelta(seconds=2))  # the complete call came late (lost reply, retry)
    bid = bw.act("bidder_a", bids.complete_upload, uid)
    assert bid.received_at == bw.deadline - timedelta(milliseconds=1)
    assert bw.bids_received() == 1


def test_completing_twice_gives_one_bid_and_the_same_receipt(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    bw.send_all("bidder_a", uid, data)
    first = bw.act("bidder_a", bids.complete_upload, uid)
    r1 = ensure_receipt(bw.platform, first.id)
    bw.submit("bidder_b")  # the log grows in between
    second = bw.act("bidder_a", bids.complete_upload, uid)
    assert second.id == first.id
    assert ensure_receipt(bw.platform, second.id) == r1
    with bw.platform.db.read() as s:
        assert len(s.scalars(select(Bid).where(Bid.org_id == bw.org("bidder_a").id)).all()) == 1
    assert len(_audit_tags(bw, ":bid:submit")) == 2


def test_withdraw_before_the_deadline_and_bids_received_follows(bw: Bw) -> None:
    a = bw.submit("bidder_a")
    assert bw.bids_received() == 1
    bw.submit("bidder_b")
    assert bw.bids_received() == 2
    withdrawn = bw.act("bidder_a", bids.withdraw_bid, a.id)
    assert withdrawn.status == "withdrawn"
    assert bw.bids_received() == 1
    assert len(_audit_tags(bw, ":bid:withdraw")) == 1
    with pytest.raises(Conflict):
        bw.act("bidder_a", bids.withdraw_bid, a.id)  # not twice


def test_withdraw_after_the_deadline_is_refused(bw: Bw) -> None:
    a = bw.submit("bidder_a")
    bw.clock.set(bw.deadline)
    with pytest.raises(Conflict) as err:
        bw.act("bidder_a", bids.withdraw_bid, a.id)
    assert err.value.code == "bid.deadline_passed"
    assert bw.bids_received() == 1


def test_a_new_submission_replaces_the_previous_one(bw: Bw) -> None:
    first = bw.submit("bidder_a")
    second = bw.submit("bidder_a")
    with bw.platform.db.read() as s:
        old = s.get(Bid, first.id)
        assert old is not None
        assert old.status == "replaced" and old.replaced_by_id == second.id
    assert bw.bids_received() == 1
    (_, latest) = _audit_tags(bw, ":bid:submit")
    assert latest.data["replaces"] == [first.container_hash]


def test_another_bidder_cannot_see_append_or_complete_someone_elses_upload(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    bw.send_all("bidder_a", uid, data)
    for call, args in ((bids.get_upload, ()), (bids.append_chunk, (0, data[:10])), (bids.complete_upload, ())):
        with pytest.raises(NotFound):
            bw.act("bidder_b", call, uid, *args)
    bid = bw.act("bidder_a", bids.complete_upload, uid)
    for who in ("bidder_b", "operator", "tenderer"):
        with pytest.raises(NotFound):
            bw.act(who, bids.get_bid, bid.id)
        assert bw.act(who, bids.own_bids, bw.pid) == []
    assert [b.id for b in bw.act("bidder_a", bids.own_bids, bw.pid)] == [bid.id]


def test_only_bidders_may_open_an_upload(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    for who in ("operator", "tenderer", "agency"):
        with pytest.raises(DomainError) as err:
            bw.open_upload(who, data)
        assert err.value.code == "bid.not_a_bidder"


def test_a_container_naming_another_bidder_or_with_another_hash_is_refused(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_b", data)  # bidder B uploads A's container
    bw.send_all("bidder_b", uid, data)
    with pytest.raises(DomainError) as err:
        bw.act("bidder_b", bids.complete_upload, uid)
    assert err.value.code == "bid.header_mismatch"
    other = bw.seal("bidder_b")
    with bw.platform.uow() as uow:
        upload = bids.create_upload(
            uow, bw.tw.actor("bidder_b"), bw.pid, "01", length=len(other), container_hash="0" * 64
        )
        uow.commit()
        wrong = int(upload.id)
    bw.send_all("bidder_b", wrong, other)
    with pytest.raises(DomainError) as err:
        bw.act("bidder_b", bids.complete_upload, wrong)
    assert err.value.code == "bid.hash_mismatch"
    assert bw.bids_received() == 0


def test_bytes_written_before_a_crash_but_not_recorded_are_dropped_on_resume(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    o0, c0 = chunks(data)[0]
    bw.act("bidder_a", bids.append_chunk, uid, o0, c0)
    with bw.platform.uow() as uow:
        path = bids.spool_path(uow, uid)
    with path.open("ab") as f:  # a crash after the write, before the offset was recorded
        f.write(b"garbage that was never acknowledged")
        f.flush()
        os.fsync(f.fileno())
    with bw.platform.db.read() as s:
        upload = s.get(BidUpload, uid)
        assert upload is not None and upload.offset == len(c0)
    bw.send_all("bidder_a", uid, data)
    bid = bw.act("bidder_a", bids.complete_upload, uid)
    assert bid.container_hash == bw.platform.suite.digest(data).hex()


def test_with_three_bids_the_scheduler_opens_at_the_deadline(bw: Bw) -> None:
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        bw.submit(who)
    assert bw.bids_received() == 3
    bw.clock.set(bw.deadline - timedelta(milliseconds=1))
    bw.platform.worker.run_once()
    assert bw.project().state == "bidding"
    bw.clock.set(bw.deadline)
    bw.platform.worker.run_once()
    assert bw.project().state == "opening"


@pytest.fixture
def settle(platform: Platform) -> float:
    """A deployment that waits 10 s after the deadline for submissions in flight (set before bidding opens)."""
    platform.settings.submission_settle_seconds = 10.0
    return 10.0


def test_bidding_closes_only_when_submissions_received_before_the_deadline_are_settled(settle: float, bw: Bw) -> None:
    for who in ("bidder_a", "bidder_b"):
        bw.submit(who)
    data = bw.seal("bidder_c")
    uid = bw.open_upload("bidder_c", data)
    *head, last = chunks(data)
    for at, piece in head:
        bw.act("bidder_c", bids.append_chunk, uid, at, piece)
    bw.clock.set(bw.deadline)
    bw.platform.worker.run_once()
    assert bw.project().state == "bidding"  # the close waits for the settling time
    bw.clock.set(bw.deadline + timedelta(seconds=4))  # a final chunk that arrived 1 ms early is written now
    bw.act("bidder_c", bids.append_chunk, uid, *last, received_at=bw.deadline - timedelta(milliseconds=1))
    bw.act("bidder_c", bids.complete_upload, uid)
    assert bw.bids_received() == 3
    bw.clock.set(bw.deadline + timedelta(seconds=settle))
    bw.platform.worker.run_once()
    project = bw.project()
    assert project.state == "opening" and project_facts(project, bw.clock.now()).bids_received == 3


def test_an_upload_made_whole_in_time_is_completed_by_the_platform_if_the_bidder_never_completes(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    bw.send_all("bidder_a", uid, data)  # then the bidder's tool dies: no complete call
    bw.clock.set(bw.deadline + timedelta(seconds=1))
    bw.platform.worker.run_once()  # the bid.complete job the final chunk enqueued
    with bw.platform.db.read() as s:
        (bid,) = s.scalars(select(Bid)).all()
        upload = s.get(BidUpload, uid)
        assert upload is not None and upload.status == "completed" and upload.bid_id == bid.id
    assert bid.received_at < bw.deadline and bid.status == "submitted"
    again = bw.act("bidder_a", bids.complete_upload, uid)  # the bidder's late complete finds the same bid
    assert again.id == bid.id
    (event,) = _audit_tags(bw, ":bid:submit")
    assert event.actor_org_id is None and event.actor_user_id is None  # the platform did it; still nobody named


def _as_platform(bw: Bw, fn: Any, *args: Any) -> Any:
    with bw.platform.uow(RequestContext(source="system", actor_name="scheduler")) as uow:
        result = fn(uow, *args)
        uow.commit()
        return result


def test_before_the_close_only_open_uploads_made_whole_in_time_are_completed(bw: Bw) -> None:
    done = bw.submit("bidder_c")
    assert done.upload_id is not None
    data = bw.seal("bidder_a")
    whole = bw.open_upload("bidder_a", data)
    bw.send_all("bidder_a", whole, data)
    data_b = bw.seal("bidder_b")
    partial = bw.open_upload("bidder_b", data_b)
    bw.act("bidder_b", bids.append_chunk, partial, *chunks(data_b)[0])
    bw.clock.set(bw.deadline + timedelta(seconds=1))
    assert _as_platform(bw, bids.complete_in_time_upload, partial) is None
    assert _as_platform(bw, bids.complete_in_time_upload, done.upload_id) is None  # completed: not handed back
    assert _as_platform(bw, bids.complete_upload_system, done.upload_id).id == done.id  # the job's is idempotent
    bid = _as_platform(bw, bids.complete_in_time_upload, whole)
    assert bid is not None and bid.received_at < bw.deadline and bw.bids_received() == 2
    assert _as_platform(bw, bids.complete_in_time_upload, whole) is None


def test_before_the_close_an_upload_without_the_time_of_its_final_chunk_is_left_alone(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    bw.send_all("bidder_a", uid, data)
    with bw.platform.uow() as uow:
        upload = uow.session.get(BidUpload, uid)
        assert upload is not None
        upload.final_chunk_at = None  # judged by the clock it would be late: a refusal
        uow.commit()
    bw.clock.set(bw.deadline + timedelta(seconds=1))
    refusals = len(_audit_tags(bw, ":bid:late"))
    assert _as_platform(bw, bids.complete_in_time_upload, uid) is None
    assert len(_audit_tags(bw, ":bid:late")) == refusals
    with pytest.raises(DomainError) as err:
        _as_platform(bw, bids.complete_upload_system, uid)
    assert err.value.code == "bid.deadline_passed"


def test_the_pre_close_hook_completes_in_time_uploads_and_a_refusal_rolls_back_only_its_own_savepoint(
    bw: Bw,
) -> None:
    data_a = bw.seal("bidder_a")
    foreign = bw.open_upload("bidder_b", data_a)  # bidder B uploads A's container: refused at completion
    bw.send_all("bidder_b", foreign, data_a)
    whole = bw.open_upload("bidder_a", data_a)
    bw.send_all("bidder_a", whole, data_a)
    bw.clock.set(bw.deadline + timedelta(seconds=1))
    with bw.platform.uow(RequestContext(source="system", actor_name="scheduler")) as uow:
        project = uow.session.get(Project, bw.pid)
        assert project is not None
        complete_before_closing(uow, project)
        uow.commit()
    with bw.platform.db.read() as s:
        statuses = {u.id: u.status for u in s.scalars(select(BidUpload))}
        (bid,) = s.scalars(select(Bid)).all()
    assert statuses == {foreign: "open", whole: "completed"} and bid.upload_id == whole
    assert bw.bids_received() == 1
