"""A worker killed in the middle of a scheduled transition: on restart it is neither lost nor repeated."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sunbid.core.clock import FakeClock
from sunbid.platform.models import OutboxMessage
from sunbid.projects import service
from sunbid.projects.models import Project, ProjectEvent
from tests.integration.projects.conftest import Tw

ROOT = Path(__file__).resolve().parents[3]


def _project_at_deadline(tw: Tw, clock: FakeClock) -> int:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    clock.set(start)
    with tw.platform.uow() as uow:
        pid = service.create_project(
            uow,
            tw.actor("agency"),
            name="重启测试工程",
            procedure_code="eng_open",
            tenderer_org_id=tw.world.orgs["tenderer"].id,
            agency_org_id=tw.world.orgs["agency"].id,
        ).id
        uow.commit()
    for who, action, params in (("operator", "accept", {}), ("agency", "publish_announcement", {})):
        with tw.platform.uow() as uow:
            service.perform(uow, tw.actor(who), pid, action, params)
            uow.commit()
    with tw.platform.uow() as uow:
        service.add_document(
            uow,
            tw.actor("agency"),
            pid,
            kind="tender_documents",
            title="招标文件",
            filename="a.pdf",
            content_type="application/pdf",
            data=b"%PDF tender",
        )
        deadline = clock.now() + timedelta(days=25)
        service.perform(uow, tw.actor("agency"), pid, "issue_documents", {"bid_deadline": deadline.isoformat()})
        service.update_facts(uow, pid, "bids", bids_received=4)
        uow.commit()
    clock.set(deadline + timedelta(minutes=1))  # the deadline is past, also for the real clock
    return pid


def _kill_run(tw: Tw, mode: str) -> int:
    env = {
        **os.environ,
        "SUNBID_DATA_DIR": str(tw.platform.settings.data_dir),
        "SUNBID_DATABASE_URL": tw.platform.settings.resolved_database_url,
        "SUNBID_CRYPTO_SUITE": tw.platform.settings.crypto_suite,
        "PYTHONPATH": str(ROOT),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.support.crash_worker", mode],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return proc.returncode


def _closings(tw: Tw, pid: int) -> int:
    with tw.platform.db.read() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(ProjectEvent)
                .where(ProjectEvent.project_id == pid, ProjectEvent.action == "close_bidding")
            )
            or 0
        )


def _timed_message(tw: Tw) -> OutboxMessage:
    with tw.platform.db.read() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.topic == service.TIMED_TOPIC)).one()


def _restart(tw: Tw, clock: FakeClock) -> None:
    clock.set(datetime.now(UTC) + timedelta(minutes=10))  # the dead worker's lease has run out
    tw.platform.worker.run_once()


@pytest.mark.parametrize("mode", ["after_commit", "before_commit"])
def test_killed_worker_neither_loses_nor_repeats_the_transition(tw: Tw, clock: FakeClock, mode: str) -> None:
    pid = _project_at_deadline(tw, clock)
    assert _kill_run(tw, mode) == 137  # it really died in the middle
    msg = _timed_message(tw)
    assert msg.status == "pending"  # not lost: still to be done (or to be confirmed)
    assert _closings(tw, pid) == (1 if mode == "after_commit" else 0)
    _restart(tw, clock)
    with tw.platform.db.read() as s:
        project = s.get(Project, pid)
        assert project is not None and project.state == "opening"
    assert _closings(tw, pid) == 1  # exactly once
    assert _timed_message(tw).status == "sent"
    tw.platform.worker.run_once()
    assert _closings(tw, pid) == 1
