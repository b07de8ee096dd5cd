"""The contract reminder (SPEC T-4): on the 25th working day after the award notice, once, to all three
parties, through a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from sunbid.core.clock import FakeClock
from sunbid.identity.models import User
from sunbid.platform.container import Platform
from sunbid.platform.settings import NotificationSettings
from sunbid.projects import contracts, service
from tests.integration.notifications.conftest import SmtpSink, free_port
from tests.integration.projects.conftest import Tw

AWARD_AT = datetime(2026, 9, 21, 2, 0, tzinfo=UTC)  # Monday 2026-09-21 10:00 in Shanghai
# Working days after it: Mid-Autumn (Fri 25 Sep) and National Day (1–7 Oct) are off, Sat 10 Oct is a make-up
# working day; counted by hand from the official 2026 schedule, the 25th working day is Monday 2 November.
DAY_25 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink(port=free_port())
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_tw(tw: Tw, smtp: SmtpSink, clock: FakeClock) -> Iterator[Tw]:
    settings = tw.platform.settings.model_copy(
        update={
            "notifications": NotificationSettings(
                email_backend="smtp", smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="noreply@sunbid.test"
            )
        }
    )
    platform = Platform(settings, clock=clock)
    with platform.db.engine.begin() as conn:
        for name in ("tenderer", "agency", "bidder_a", "bidder_b"):
            conn.execute(update(User).where(User.username == name).values(email=f"{name}@example.cn"))
    yield Tw(platform, tw.world)
    platform.close()


def _run(tw: Tw, who: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    with tw.platform.uow() as uow:
        out = fn(uow, tw.actor(who), *args, **kwargs)
        uow.commit()
        return out


def _award(tw: Tw, clock: FakeClock) -> int:
    clock.set(AWARD_AT - timedelta(days=45))
    pid = int(
        _run(
            tw,
            "agency",
            lambda uow, a: (
                service.create_project(
                    uow,
                    a,
                    name="提醒测试工程",
                    procedure_code="eng_open",
                    tenderer_org_id=tw.world.orgs["tenderer"].id,
                    agency_org_id=tw.world.orgs["agency"].id,
                ).id
            ),
        )
    )
    _run(tw, "operator", service.perform, pid, "accept", {})
    _run(tw, "agency", service.perform, pid, "publish_announcement", {})
    _run(
        tw,
        "agency",
        service.add_document,
        pid,
        kind="tender_documents",
        title="招标文件",
        filename="z.pdf",
        content_type="application/pdf",
        data=b"%PDF z",
    )
    deadline = clock.now() + timedelta(days=21)
    _run(tw, "agency", service.perform, pid, "issue_documents", {"bid_deadline": deadline.isoformat()})
    with tw.platform.uow() as uow:
        service.update_facts(uow, pid, "bids", bids_received=3)
        uow.commit()
    clock.set(deadline)
    tw.platform.worker.run_once()
    _run(tw, "operator", service.perform, pid, "finish_opening", {"valid_bids": 3})
    _run(tw, "operator", service.perform, pid, "start_evaluation", {"committee_ready": True})
    _run(tw, "expert", service.perform, pid, "submit_report", {})
    _run(tw, "agency", service.perform, pid, "publish_candidates", {})
    clock.set(AWARD_AT - timedelta(hours=1))
    tw.platform.worker.run_once()
    clock.set(AWARD_AT)
    _run(tw, "tenderer", contracts.confirm_award, pid, winner_org_id=tw.world.orgs["bidder_a"].id, amount="9800000")
    return pid


def test_reminder_fires_once_on_the_25th_working_day_to_all_three_parties(
    mail_tw: Tw, smtp: SmtpSink, clock: FakeClock
) -> None:
    _award(mail_tw, clock)
    clock.set(DAY_25 - timedelta(minutes=1))
    for _ in range(3):
        mail_tw.platform.worker.run_once()
    assert smtp.messages == []  # not a minute early
    clock.set(DAY_25)
    for _ in range(4):  # reminder, then the e-mails it queued; repeated passes send nothing more
        mail_tw.platform.worker.run_once()
    assert smtp.recipients() == ["agency@example.cn", "bidder_a@example.cn", "tenderer@example.cn"]
    subjects = {str(m["Subject"]) for m in smtp.parsed()}
    assert subjects == {"合同签订提醒：提醒测试工程 / Contract reminder: 341700-2026-0001"}
    assert "25个工作日" in smtp.parsed()[0].get_content()
    clock.advance(timedelta(days=3))
    mail_tw.platform.worker.run_once()
    assert len(smtp.messages) == 3  # exactly once


def test_no_reminder_when_the_contract_was_signed(mail_tw: Tw, smtp: SmtpSink, clock: FakeClock) -> None:
    pid = _award(mail_tw, clock)
    with mail_tw.platform.uow() as uow:
        service.update_facts(uow, pid, "test: contract signed offline record", contract_signed_at=AWARD_AT)
        uow.commit()
    clock.set(DAY_25 + timedelta(hours=1))
    for _ in range(3):
        mail_tw.platform.worker.run_once()
    assert smtp.messages == []
