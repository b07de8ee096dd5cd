"""E-mail through a real SMTP server (aiosmtpd on 127.0.0.1): once per recipient, Chinese intact, retried."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sunbid.core.clock import FakeClock
from sunbid.notifications.adapters import SmtpEmailSender
from sunbid.platform.container import Platform
from sunbid.platform.settings import NotificationSettings, Settings
from tests.integration.notifications.conftest import (
    SmtpSink,
    audits,
    deliveries,
    make_user,
    outbox,
)

SENDER = "池州市公共资源交易中心 <noreply@ggzy.example.org>"


@pytest.fixture
def settings(settings: Settings, smtp_server: SmtpSink) -> Settings:
    smtp = NotificationSettings(
        email_backend="smtp", smtp_port=smtp_server.port, smtp_from=SENDER, smtp_timeout_seconds=5
    )
    return settings.model_copy(update={"notifications": smtp})


def _remind(platform: Platform, users: list[int], dedupe: str = "contract-reminder:42") -> None:
    with platform.uow() as uow:
        platform.notifier.notify(
            uow,
            user_ids=users,
            kind="contract_reminder",
            subject_zh="合同签订提醒",
            subject_en="Contract signing reminder",
            body_zh="项目“池州市体育馆改造工程”中标通知书已发出 25 个工作日，请尽快在线签订合同。",
            body_en="Please sign the contract online.",
            channels=("inapp", "email"),
            dedupe=dedupe,
        )
        uow.commit()


def test_uses_the_smtp_sender_from_settings(platform: Platform, smtp_server: SmtpSink) -> None:
    sender = platform.notifier.email
    assert isinstance(sender, SmtpEmailSender)
    assert sender.port == smtp_server.port


def test_each_recipient_gets_the_email_exactly_once_with_chinese_intact(
    platform: Platform, smtp_server: SmtpSink
) -> None:
    a = make_user(platform, "tenderer", email="zhaobiao@example.org")
    b = make_user(platform, "winner", email="Zhongbiao@Example.ORG")
    c = make_user(platform, "agency")  # no e-mail: skipped, not an error
    _remind(platform, [a, b, c])

    stats = platform.worker.run_once()
    assert stats.sent == 2 and stats.failed == 0
    assert smtp_server.recipients() == ["Zhongbiao@example.org", "zhaobiao@example.org"]
    for msg in smtp_server.parsed():
        assert msg["Subject"] == "合同签订提醒 / Contract signing reminder"
        assert msg.get_content_charset() == "utf-8"
        body = msg.get_content()
        assert "池州市体育馆改造工程" in body and "Please sign the contract online." in body
        assert msg["From"].addresses[0].display_name == "池州市公共资源交易中心"
        assert msg["Auto-Submitted"] == "auto-generated"
    mids = sorted(m.id for m in outbox(platform))
    assert sorted(m["Message-ID"] for m in smtp_server.parsed()) == sorted(
        f"<sunbid.notify.{mid}@ggzy.example.org>" for mid in mids
    )

    assert platform.worker.run_once().sent == 0  # nothing left: never sent twice
    assert len(smtp_server.messages) == 2
    by_user = {d.user_id: d for d in deliveries(platform)}
    assert by_user[a].status == "sent" and by_user[b].status == "sent"
    assert by_user[a].provider_id is not None and by_user[a].attempts == 1
    assert by_user[c].status == "skipped" and by_user[c].reason == "no_email"
    assert len(audits(platform, "notification:send")) == 2


def test_repeated_notify_sends_one_email(platform: Platform, smtp_server: SmtpSink) -> None:
    a = make_user(platform, "winner", email="zhongbiao@example.org")
    for _ in range(3):
        _remind(platform, [a])
    assert len(outbox(platform)) == 1
    platform.worker.run_once()
    _remind(platform, [a])  # again after it was sent
    platform.worker.run_once()
    assert len(smtp_server.messages) == 1


def test_email_is_retried_after_the_smtp_server_was_down(
    platform: Platform, smtp_server: SmtpSink, clock: FakeClock
) -> None:
    a = make_user(platform, "winner", email="zhongbiao@example.org")
    smtp_server.stop()
    _remind(platform, [a])

    stats = platform.worker.run_once()
    assert stats.failed == 1 and stats.sent == 0
    (m,) = outbox(platform)
    assert m.status == "pending" and m.attempts == 1
    assert "notification.smtp_unavailable" in (m.last_error or "")
    (d,) = deliveries(platform)
    assert d.status == "retrying" and d.attempts == 1 and "smtp_unavailable" in (d.last_error or "")

    smtp_server.start()
    assert platform.worker.run_once().sent == 0  # still in backoff
    assert smtp_server.messages == []
    clock.advance(timedelta(seconds=3))
    assert platform.worker.run_once().sent == 1
    assert platform.worker.run_once().sent == 0
    assert smtp_server.recipients() == ["zhongbiao@example.org"]
    (msg,) = smtp_server.parsed()
    assert msg["Message-ID"] == f"<sunbid.notify.{m.id}@ggzy.example.org>"  # the same id as the failed try
    (d,) = deliveries(platform)
    assert d.status == "sent" and d.attempts == 2 and d.last_error is None


def test_refused_mailbox_fails_at_once_and_is_not_retried(
    platform: Platform, smtp_server: SmtpSink, clock: FakeClock
) -> None:
    a = make_user(platform, "gone", email="gone@example.org")
    b = make_user(platform, "winner", email="zhongbiao@example.org")
    smtp_server.refuse.add("gone@example.org")
    _remind(platform, [a, b])

    platform.worker.run_once()
    for _ in range(3):
        clock.advance(timedelta(hours=1))
        platform.worker.run_once()
    assert smtp_server.rcpt_attempts.count("gone@example.org") == 1
    assert smtp_server.recipients() == ["zhongbiao@example.org"]
    assert {m.status for m in outbox(platform)} == {"sent"}  # handled: nothing left to retry
    by_user = {d.user_id: d for d in deliveries(platform)}
    assert by_user[a].status == "failed" and by_user[a].reason == "notification.email_refused"
    assert "550" in (by_user[a].last_error or "")
    (fail,) = audits(platform, "notification:fail")
    assert fail.tag == "worker:notification:fail" and fail.data["user_id"] == a


def test_starttls_required_but_not_offered_is_a_transient_failure(platform: Platform, smtp_server: SmtpSink) -> None:
    sender = SmtpEmailSender(host="127.0.0.1", port=smtp_server.port, sender=SENDER, starttls=True, timeout=5)
    from sunbid.notifications.domain import TransientDeliveryError

    with pytest.raises(TransientDeliveryError) as info:
        sender.send("a@example.org", "测试", "正文", "sunbid.test.1")
    assert info.value.code == "notification.smtp_unavailable"
    assert smtp_server.messages == []  # never sent in clear text when STARTTLS was asked for


def test_handler_run_again_for_the_same_message_sends_nothing(platform: Platform, smtp_server: SmtpSink) -> None:
    a = make_user(platform, "winner", email="zhongbiao@example.org")
    _remind(platform, [a])
    (m,) = outbox(platform)
    platform.notifier.deliver("email", m.id, dict(m.payload))  # sent, then the worker died before marking
    assert outbox(platform)[0].status == "pending"
    assert platform.worker.run_once().sent == 1  # the outbox runs the handler again ...
    assert len(smtp_server.messages) == 1  # ... which sees the delivery done and sends nothing
    (d,) = deliveries(platform)
    assert d.status == "sent" and d.attempts == 1
