"""Abandoned uploads expire (idle, deadline passed, bidding closed), their spool files go, nobody is named."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from sunbid.bidding import service as bids
from sunbid.bidding.cleanup import UPLOAD_IDLE_LIMIT, abandoned_reason, expire_uploads
from sunbid.bidding.models import Bid, BidUpload
from sunbid.core.errors import Conflict, ValidationFailed
from sunbid.ledger.models import AuditEvent
from sunbid.projects import service as projects
from tests.integration.bidding.bidtools import chunks
from tests.integration.bidding.conftest import Bw

T = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _upload(bw: Bw, uid: int) -> BidUpload:
    with bw.platform.db.read() as s:
        u = s.get(BidUpload, uid)
        assert u is not None
        return u


def _expiries(bw: Bw) -> list[AuditEvent]:
    with bw.platform.db.read() as s:
        return [e for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id)) if e.tag.endswith("bid:upload_expire")]


def _partial(bw: Bw, who: str) -> int:
    """An upload with its first chunk only."""
    data = bw.seal(who)
    uid = bw.open_upload(who, data)
    bw.act(who, bids.append_chunk, uid, *chunks(data)[0])
    return uid


def _cleanup(bw: Bw, **kw: object) -> dict[str, object]:
    with bw.platform.uow() as uow:
        report = expire_uploads(uow, **kw)  # type: ignore[arg-type]
        uow.commit()
    return report.to_json()


# --- the rule, pure ------------------------------------------------------------------------------------------


def test_abandoned_reason_rule() -> None:
    deadline = T + timedelta(days=3)
    fresh, stale = T - HOUR, T - UPLOAD_IDLE_LIMIT - timedelta(microseconds=1)
    assert abandoned_reason("bidding", deadline, fresh, T, UPLOAD_IDLE_LIMIT) is None
    assert abandoned_reason("bidding", deadline, T - UPLOAD_IDLE_LIMIT, T, UPLOAD_IDLE_LIMIT) is None  # exactly at it
    assert abandoned_reason("bidding", deadline, stale, T, UPLOAD_IDLE_LIMIT) == "idle"
    assert abandoned_reason("bidding", T, fresh, T, UPLOAD_IDLE_LIMIT) == "deadline_passed"  # the deadline instant
    assert abandoned_reason("bidding", T + timedelta(microseconds=1), fresh, T, UPLOAD_IDLE_LIMIT) is None
    for gone in ("opening", "failed", "terminated", "opened"):
        assert abandoned_reason(gone, deadline, fresh, T, UPLOAD_IDLE_LIMIT) == "bidding_closed"
    assert abandoned_reason("suspended", T - HOUR, fresh, T, UPLOAD_IDLE_LIMIT) is None  # bidding may resume
    assert abandoned_reason("suspended", deadline, stale, T, UPLOAD_IDLE_LIMIT) == "idle"


# --- idle uploads --------------------------------------------------------------------------------------------


def test_an_idle_upload_expires_its_spool_goes_and_it_cannot_be_resumed(bw: Bw) -> None:
    idle = _partial(bw, "bidder_a")
    bw.clock.advance(UPLOAD_IDLE_LIMIT - HOUR)
    busy = _partial(bw, "bidder_b")
    idle_spool = bw.platform.settings.data_dir / "uploads" / f"{idle}.part"
    assert idle_spool.stat().st_size > 0
    bw.clock.advance(2 * HOUR)
    report = _cleanup(bw)
    assert report == {"expired": 1, "expired_upload_ids": [idle], "reasons": {"idle": 1}, "spool_removed": 1}
    assert not idle_spool.exists()
    assert (bw.platform.settings.data_dir / "uploads" / f"{busy}.part").exists()
    assert _upload(bw, idle).status == "expired" and _upload(bw, busy).status == "open"
    (event,) = _expiries(bw)
    assert event.data["reason"] == "idle" and event.data["upload_id"] == idle and event.data["section"] == "01"
    assert event.actor_user_id is None and event.actor_org_id is None and event.actor_name is None
    logged = json.dumps(event.data, ensure_ascii=False)
    assert bw.org("bidder_a").uscc not in logged and bw.org("bidder_a").name not in logged
    # the bidder still sees it (expired), but can neither append nor complete it
    with bw.platform.uow() as uow:
        assert bids.get_upload(uow, bw.tw.actor("bidder_a"), idle).status == "expired"
    data = bw.seal("bidder_a")
    for call, args in ((bids.append_chunk, (idle, 0, data[:10])), (bids.complete_upload, (idle,))):
        with pytest.raises(Conflict) as err:
            bw.act("bidder_a", call, *args)
        assert err.value.code == "bid.upload_expired"
    assert _cleanup(bw)["expired"] == 0  # nothing twice
    assert len(_expiries(bw)) == 1
    bw.submit("bidder_a")  # a new upload works
    assert bw.bids_received() == 1


def test_appending_keeps_an_upload_alive(bw: Bw) -> None:
    data = bw.seal("bidder_a")
    uid = bw.open_upload("bidder_a", data)
    for at, piece in chunks(data)[:3]:
        bw.clock.advance(UPLOAD_IDLE_LIMIT - HOUR)
        bw.act("bidder_a", bids.append_chunk, uid, at, piece)
        assert _cleanup(bw)["expired"] == 0
    assert _upload(bw, uid).status == "open"


def test_the_idle_limit_is_configurable_and_must_be_positive(bw: Bw) -> None:
    uid = _partial(bw, "bidder_a")
    bw.clock.advance(2 * HOUR)
    assert _cleanup(bw, idle=3 * HOUR)["expired"] == 0
    assert _cleanup(bw, idle=HOUR)["expired_upload_ids"] == [uid]
    with bw.platform.uow() as uow, pytest.raises(ValidationFailed):
        expire_uploads(uow, idle=timedelta(0))


# --- bidding closes ------------------------------------------------------------------------------------------


def test_when_bidding_closes_open_uploads_expire_and_completed_spools_are_removed(bw: Bw) -> None:
    for who in ("bidder_a", "bidder_b", "bidder_c"):
        bw.submit(who)  # through the services: the API's after-commit spool clean-up did not run
    done_spools = sorted((bw.platform.settings.data_dir / "uploads").glob("*.part"))
    assert len(done_spools) == 3
    late = _partial(bw, "bidder_a")  # a replacement begun but never finished
    bw.clock.set(bw.deadline)
    bw.platform.worker.run_once()  # the timed transition bidding -> opening
    assert bw.project().state == "opening"
    assert _upload(bw, late).status == "expired"
    (event,) = _expiries(bw)
    assert event.data["reason"] == "bidding_closed" and event.actor_org_id is None
    assert list((bw.platform.settings.data_dir / "uploads").glob("*.part")) == []
    with bw.platform.db.read() as s:  # the bids are untouched: their containers are in storage
        stored = s.scalars(select(Bid).where(Bid.status == "submitted")).all()
        assert len(stored) == 3
        assert all(bw.platform.storage.exists(b.storage_key) for b in stored)
    assert bw.bids_received() == 3


def test_a_failed_tender_expires_its_open_uploads_too(bw: Bw) -> None:
    uid = _partial(bw, "bidder_b")
    bw.clock.set(bw.deadline)
    bw.platform.worker.run_once()  # no bids: bidding -> failed
    assert bw.project().state == "failed"
    assert _upload(bw, uid).status == "expired"


def test_a_rolled_back_closing_keeps_the_upload_and_its_bytes(bw: Bw) -> None:
    uid = _partial(bw, "bidder_a")
    spool = bw.platform.settings.data_dir / "uploads" / f"{uid}.part"
    bw.clock.set(bw.deadline)
    with bw.platform.uow() as uow:
        projects.perform(uow, None, bw.pid, "close_bidding", {}, system=True)
        assert uow.session.get(BidUpload, uid).status == "expired"  # type: ignore[union-attr]
        # no commit: the transaction rolls back
    assert spool.exists() and spool.stat().st_size > 0
    assert _upload(bw, uid).status == "open"


# --- the admin command ---------------------------------------------------------------------------------------


def test_cli_cleanup_uploads(bw: Bw, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sunbid.cli import app

    uid = _partial(bw, "bidder_a")
    settings = bw.platform.settings
    monkeypatch.setenv("SUNBID_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUNBID_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SUNBID_CRYPTO_SUITE", settings.crypto_suite)
    monkeypatch.setenv("SUNBID_CONFIG", str(tmp_path / "none.toml"))
    # the command runs on the real clock, long after this fake tender's deadline
    assert datetime.now(UTC) > bw.deadline
    result = CliRunner().invoke(app, ["db", "cleanup-uploads", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["expired_upload_ids"] == [uid] and out["reasons"] == {"deadline_passed": 1}
    assert out["spool_removed"] == 1
    assert _upload(bw, uid).status == "expired"
    again = CliRunner().invoke(app, ["db", "cleanup-uploads"])
    assert again.exit_code == 0 and "0" in again.stdout
    bad = CliRunner().invoke(app, ["db", "cleanup-uploads", "--idle-hours", "0"])
    assert bad.exit_code != 0 and "bid.bad_idle_limit" in bad.output
