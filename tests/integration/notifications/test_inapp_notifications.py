"""In-app messages and queuing: written with the caller's change, deduplicated, audited, read by owners."""

from __future__ import annotations

import json
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest

from sunbid.core.clock import FakeClock
from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.notifications import service
from sunbid.notifications.adapters import EmailSimulator
from sunbid.notifications.domain import DEDUPE_MAX
from sunbid.platform.container import Platform
from tests.integration.notifications.conftest import (
    audits,
    deliveries,
    make_user,
    notifications,
    outbox,
)


def _notify(platform: Platform, users: list[int], **overrides: Any) -> service.NotifyResult:
    fields: dict[str, Any] = {
        "kind": "contract_reminder",
        "subject_zh": "合同签订提醒",
        "body_zh": "中标通知书已发出 25 个工作日，请尽快签订合同。",
        "dedupe": "contract-reminder:42",
    }
    fields.update(overrides)
    with platform.uow() as uow:
        result = platform.notifier.notify(uow, user_ids=users, **fields)
        uow.commit()
    return result


def test_each_user_gets_one_inbox_message(platform: Platform, clock: FakeClock) -> None:
    a = make_user(platform, "tenderer", email="a@example.org", phone="13800138000")
    b = make_user(platform, "winner")
    result = _notify(platform, [a, b, a])
    assert result.in_app == [a, b]
    rows = notifications(platform)
    assert [(n.user_id, n.kind, n.subject, n.in_app, n.read_at) for n in rows] == [
        (a, "contract_reminder", "合同签订提醒", True, None),
        (b, "contract_reminder", "合同签订提醒", True, None),
    ]
    assert rows[0].created_at == clock.now()
    assert result.notification_ids == {a: rows[0].id, b: rows[1].id}
    assert sorted((m.topic, m.dedupe_key) for m in outbox(platform)) == [
        ("notify.email", f"notify:contract-reminder:42:{a}:email"),
        ("notify.sms", f"notify:contract-reminder:42:{a}:sms"),
    ]
    with platform.db.read() as s:
        assert [n.id for n in service.inbox(s, a)] == [rows[0].id]
        assert service.unread_count(s, a) == 1
        assert service.unread_count(s, b) == 1


def test_repeated_notify_writes_nothing_new(platform: Platform) -> None:
    a = make_user(platform, "winner", email="a@example.org", phone="13800138000")
    first = _notify(platform, [a])
    again = _notify(platform, [a], subject_zh="合同签订提醒（再次）")
    assert first.changed and not again.changed
    assert sorted(again.duplicates) == sorted([(a, "inapp"), (a, "email"), (a, "sms")])
    assert len(notifications(platform)) == 1 and notifications(platform)[0].subject == "合同签订提醒"
    assert len(outbox(platform)) == 2 and len(deliveries(platform)) == 2
    assert len(audits(platform, "notification:queue")) == 1
    other = _notify(platform, [a], dedupe="contract-reminder:42:second")
    assert other.changed and len(notifications(platform)) == 2 and len(outbox(platform)) == 4


def test_a_channel_added_later_is_sent_once(platform: Platform) -> None:
    a = make_user(platform, "winner", email="a@example.org", phone="13800138000")
    _notify(platform, [a], channels=("sms",))
    (row,) = notifications(platform)
    assert row.in_app is False
    with platform.db.read() as s:
        assert service.inbox(s, a) == []
    result = _notify(platform, [a], channels=("inapp", "sms", "email"))
    assert result.in_app == [a] and result.queued == [(a, "email")] and result.duplicates == [(a, "sms")]
    (row,) = notifications(platform)
    assert row.in_app is True
    assert sorted(m.topic for m in outbox(platform)) == ["notify.email", "notify.sms"]


def test_nothing_is_written_when_the_change_rolls_back(platform: Platform) -> None:
    a = make_user(platform, "winner", email="a@example.org")
    with platform.uow() as uow:
        platform.notifier.notify(
            uow, user_ids=[a], kind="award", subject_zh="中标通知", body_zh="您已中标。", dedupe="award:1"
        )
        # no commit: the award itself failed
    assert notifications(platform) == [] and outbox(platform) == [] and deliveries(platform) == []


def test_bad_input_changes_nothing(platform: Platform) -> None:
    a = make_user(platform, "winner", email="a@example.org")
    with pytest.raises(NotFound) as info:
        _notify(platform, [a, 999_999])
    assert info.value.code == "notification.unknown_user" and info.value.details["user_ids"] == [999_999]
    with pytest.raises(ValidationFailed) as bad:
        _notify(platform, [a], channels=("inapp", "fax"))
    assert bad.value.code == "notification.bad_channel" and "fax" in bad.value.message_zh
    with pytest.raises(ValidationFailed):
        _notify(platform, [])
    assert notifications(platform) == [] and outbox(platform) == []


def test_audit_names_channels_and_reasons_but_no_addresses(platform: Platform) -> None:
    a = make_user(platform, "winner", email="secret.mailbox@example.org", phone="13800138000")
    b = make_user(platform, "agency")
    _notify(platform, [a, b], subject_en="Contract reminder")
    (event,) = audits(platform, "notification:queue")
    assert event.tag == "system:notification:queue" and event.subject_id == "contract-reminder:42"
    assert event.data["subject_zh"] == "合同签订提醒" and event.data["subject_en"] == "Contract reminder"
    recipients = {r["user_id"]: r for r in event.data["recipients"]}
    assert recipients[a]["queued"] == ["inapp", "email", "sms"] and recipients[a]["skipped"] == {}
    assert recipients[b]["queued"] == ["inapp"]
    assert recipients[b]["skipped"] == {"email": "no_email", "sms": "no_phone"}
    text = json.dumps(event.data, ensure_ascii=False)
    assert "secret.mailbox" not in text and "13800138000" not in text


def test_owner_marks_a_message_read(platform: Platform, clock: FakeClock) -> None:
    a = make_user(platform, "winner")
    b = make_user(platform, "other")
    result = _notify(platform, [a], channels=("inapp",))
    nid = result.notification_ids[a]
    with platform.uow() as uow, pytest.raises(NotFound):
        service.mark_read(uow, user_id=b, notification_id=nid)
    with platform.uow() as uow:
        row = service.mark_read(uow, user_id=a, notification_id=nid)
        uow.commit()
    assert row.read_at == clock.now()
    with platform.db.read() as s:
        assert service.unread_count(s, a) == 0
        assert service.inbox(s, a, unread_only=True) == []
        assert [n.id for n in service.inbox(s, a)] == [nid]
    assert len(audits(platform, "notification:read")) == 1


def test_default_email_simulator_writes_each_message_once(platform: Platform) -> None:
    a = make_user(platform, "winner", email="a@example.org")
    _notify(platform, [a], channels=("email",), subject_en="Contract reminder")
    sender = platform.notifier.email
    assert isinstance(sender, EmailSimulator)
    assert platform.worker.run_once().sent == 1
    (m,) = outbox(platform)
    sender.send("a@example.org", "重复", "重复", f"sunbid.notify.{m.id}")  # a retry of the same message
    files = sorted((platform.settings.data_dir / "mail").iterdir())
    assert [f.name for f in files] == [f"sunbid.notify.{m.id}.eml"]
    msg = message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert msg["To"] == "a@example.org" and msg["Subject"] == "合同签订提醒 / Contract reminder"


def test_the_longest_dedupe_key_fits_every_column(platform: Platform) -> None:
    a = make_user(platform, "winner", email="a@example.org", phone="13800138000")
    key = "k" * DEDUPE_MAX
    result = _notify(platform, [a], dedupe=key)
    assert result.queued == [(a, "email"), (a, "sms")]
    assert notifications(platform)[0].dedupe_key == key
    assert audits(platform, "notification:queue")[0].subject_id == key
    assert platform.worker.run_once().sent == 2
