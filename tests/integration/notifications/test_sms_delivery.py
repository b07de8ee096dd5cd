"""SMS through the simulator: stored once, bad numbers refused for good, outages retried, then given up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sunbid.core.clock import FakeClock
from sunbid.notifications.adapters import SimulatedSmsGateway
from sunbid.notifications.domain import PermanentDeliveryError, SkipReason, TransientDeliveryError
from sunbid.notifications.service import Skipped
from sunbid.platform.container import Platform
from tests.integration.notifications.conftest import audits, deliveries, make_user, outbox


def _gateway(platform: Platform) -> SimulatedSmsGateway:
    gw = platform.notifier.sms
    assert isinstance(gw, SimulatedSmsGateway)
    return gw


def _remind(platform: Platform, users: list[int], dedupe: str = "contract-reminder:7") -> None:
    with platform.uow() as uow:
        platform.notifier.notify(
            uow,
            user_ids=users,
            kind="contract_reminder",
            subject_zh="合同签订提醒",
            body_zh="请于 5 个工作日内在线签订合同。",
            channels=("sms",),
            dedupe=dedupe,
        )
        uow.commit()


def test_sms_is_stored_by_the_simulator_once(platform: Platform) -> None:
    a = make_user(platform, "winner", phone="+86 138-0013-8000")
    _remind(platform, [a])
    assert platform.worker.run_once().sent == 1
    assert platform.worker.run_once().sent == 0
    (sms,) = _gateway(platform).messages()
    assert sms.phone == "13800138000"
    assert sms.text == "【示范公共资源交易中心】合同签订提醒：请于 5 个工作日内在线签订合同。"
    assert sms.segments == 1
    (m,) = outbox(platform)
    assert sms.message_id == f"sunbid.notify.{m.id}"
    (d,) = deliveries(platform)
    assert d.status == "sent" and d.provider_id == f"sim-{sms.id}" and d.address == "13800138000"


def test_simulator_sends_a_repeated_message_id_once(platform: Platform) -> None:
    gw = _gateway(platform)
    first = gw.send("13800138000", "【测试】一", "m-1")
    again = gw.send("13800138000", "【测试】一", "m-1")
    other = gw.send("13900139000", "【测试】二", "m-2")
    assert first == again != other
    assert [s.message_id for s in gw.messages()] == ["m-1", "m-2"]
    assert [s.message_id for s in gw.messages("13900139000")] == ["m-2"]


@pytest.mark.parametrize("phone", ["12812345678", "1380013800", "138001380001", "02012345678", "abc", ""])
def test_simulator_refuses_malformed_numbers_for_good(platform: Platform, phone: str) -> None:
    gw = _gateway(platform)
    with pytest.raises(PermanentDeliveryError) as info:
        gw.send(phone, "【测试】内容", "m-bad")
    assert info.value.code == "notification.bad_mobile" and info.value.permanent
    assert gw.messages() == []


def test_simulator_outage_is_transient(platform: Platform) -> None:
    gw = _gateway(platform)
    gw.fail_next(2)
    for _ in range(2):
        with pytest.raises(TransientDeliveryError):
            gw.send("13800138000", "【测试】内容", "m-1")
    assert gw.messages() == []
    gw.send("13800138000", "【测试】内容", "m-1")
    assert len(gw.messages()) == 1


def test_failure_rate_is_reproducible_with_a_seed(platform: Platform, clock: FakeClock) -> None:
    def pattern(seed: int) -> list[bool]:
        gw = SimulatedSmsGateway(platform.db, clock, failure_rate=0.5, seed=seed)
        out = []
        for i in range(20):
            try:
                gw.send("13800138000", "【测试】内容", f"seed{seed}-{i}")
                out.append(True)
            except TransientDeliveryError:
                out.append(False)
        return out

    first = pattern(7)
    assert first == pattern(7)
    assert True in first and False in first
    assert first != pattern(8)


def test_transient_failures_are_retried_with_backoff(platform: Platform, clock: FakeClock) -> None:
    a = make_user(platform, "winner", phone="13800138000")
    gw = _gateway(platform)
    gw.fail_next(2)
    _remind(platform, [a])

    assert platform.worker.run_once().failed == 1
    (d,) = deliveries(platform)
    assert d.status == "retrying" and d.attempts == 1 and "sms_unavailable" in (d.last_error or "")
    clock.advance(timedelta(seconds=2))
    assert platform.worker.run_once().failed == 1
    clock.advance(timedelta(seconds=4))
    assert platform.worker.run_once().sent == 1
    assert len(gw.messages()) == 1
    (d,) = deliveries(platform)
    assert d.status == "sent" and d.attempts == 3
    (m,) = outbox(platform)
    assert m.status == "sent" and m.attempts == 2


def test_delivery_is_marked_failed_when_the_outbox_gives_up(platform: Platform, clock: FakeClock) -> None:
    a = make_user(platform, "winner", phone="13800138000")
    _gateway(platform).failure_rate = 1.0
    _remind(platform, [a])
    for _ in range(11):
        platform.worker.run_once()
        clock.advance(timedelta(hours=1))
    (d,) = deliveries(platform)
    assert d.status == "retrying" and d.attempts == 11
    assert platform.worker.run_once().dead == 1
    (m,) = outbox(platform)
    assert m.status == "dead" and m.attempts == 12
    (d,) = deliveries(platform)
    assert d.status == "failed" and d.reason == "gave_up" and d.attempts == 12
    (fail,) = audits(platform, "notification:fail")
    assert fail.data["reason"] == "gave_up"


def test_users_without_a_usable_phone_are_skipped_with_the_reason(platform: Platform) -> None:
    none = make_user(platform, "nophone")
    bad = make_user(platform, "badphone", phone="0566-1234567")
    off = make_user(platform, "disabled", phone="13800138000", status="disabled")
    ok = make_user(platform, "winner", phone="13900139000")
    with platform.uow() as uow:
        result = platform.notifier.notify(
            uow,
            user_ids=[none, bad, off, ok],
            kind="contract_reminder",
            subject_zh="合同签订提醒",
            body_zh="请签订合同。",
            channels=("sms",),
            dedupe="contract-reminder:8",
        )
        uow.commit()
    assert result.skipped == [
        Skipped(none, "sms", SkipReason.NO_PHONE),
        Skipped(bad, "sms", SkipReason.INVALID_PHONE),
        Skipped(off, "sms", SkipReason.USER_INACTIVE),
    ]
    assert result.queued == [(ok, "sms")]
    assert [(d.user_id, d.status, d.reason) for d in deliveries(platform)] == [
        (none, "skipped", "no_phone"),
        (bad, "skipped", "invalid_phone"),
        (off, "skipped", "user_inactive"),
        (ok, "queued", None),
    ]
    assert [m.dedupe_key for m in outbox(platform)] == [f"notify:contract-reminder:8:{ok}:sms"]
    (queued,) = audits(platform, "notification:queue")
    skipped = {r["user_id"]: r["skipped"] for r in queued.data["recipients"]}
    assert skipped == {
        none: {"sms": "no_phone"},
        bad: {"sms": "invalid_phone"},
        off: {"sms": "user_inactive"},
        ok: {},
    }
    platform.worker.run_once()
    assert [s.phone for s in _gateway(platform).messages()] == ["13900139000"]


def test_send_at_holds_external_channels_until_then(platform: Platform, clock: FakeClock) -> None:
    a = make_user(platform, "winner", phone="13800138000")
    with platform.uow() as uow:
        platform.notifier.notify(
            uow,
            user_ids=[a],
            kind="contract_reminder",
            subject_zh="合同签订提醒",
            body_zh="请签订合同。",
            dedupe="contract-reminder:9",
            send_at=clock.now() + timedelta(hours=9),  # not at night
        )
        uow.commit()
    assert platform.worker.run_once().sent == 0
    clock.advance(timedelta(hours=8, minutes=59))
    assert platform.worker.run_once().sent == 0 and _gateway(platform).messages() == []
    clock.advance(timedelta(minutes=1))
    assert platform.worker.run_once().sent == 1 and len(_gateway(platform).messages()) == 1
