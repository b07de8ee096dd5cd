"""The HTTP SMS gateway against a real local HTTP server: JSON posted, replies classified, refusals final."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sunbid.core.clock import FakeClock
from sunbid.notifications.adapters import HttpSmsGateway
from sunbid.notifications.domain import PermanentDeliveryError, TransientDeliveryError
from sunbid.platform.container import Platform
from sunbid.platform.settings import NotificationSettings, Settings
from tests.integration.notifications.conftest import GatewayStub, deliveries, free_port, make_user, outbox

TOKEN = "gw-secret-token"


def test_posts_json_with_token_and_idempotency_key(sms_gateway_stub: GatewayStub) -> None:
    gw = HttpSmsGateway(sms_gateway_stub.url, token=TOKEN, timeout=5)
    assert gw.send("+86 13800138000", "【示范中心】合同签订提醒：请签订合同。", "sunbid.notify.9") == "gw-1"
    (req,) = sms_gateway_stub.requests
    assert req["path"] == "/sms/send"
    assert req["json"] == {
        "message_id": "sunbid.notify.9",
        "phone": "13800138000",
        "text": "【示范中心】合同签订提醒：请签订合同。",
    }
    assert req["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert req["headers"]["Idempotency-Key"] == "sunbid.notify.9"
    assert TOKEN not in repr(gw)


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_busy_or_failing_gateway_is_transient(sms_gateway_stub: GatewayStub, status: int) -> None:
    sms_gateway_stub.replies.append((status, {"error": "busy"}))
    with pytest.raises(TransientDeliveryError) as info:
        HttpSmsGateway(sms_gateway_stub.url, timeout=5).send("13800138000", "【测试】内容", "m-1")
    assert info.value.code == "notification.sms_unavailable" and str(status) in info.value.message_en


@pytest.mark.parametrize("status", [400, 403, 422])
def test_refusal_is_permanent(sms_gateway_stub: GatewayStub, status: int) -> None:
    sms_gateway_stub.replies.append((status, {"error": "号码为空号"}))
    with pytest.raises(PermanentDeliveryError) as info:
        HttpSmsGateway(sms_gateway_stub.url, timeout=5).send("13800138000", "【测试】内容", "m-1")
    assert info.value.code == "notification.sms_refused" and info.value.details["http_status"] == status


def test_malformed_number_is_refused_without_a_request(sms_gateway_stub: GatewayStub) -> None:
    with pytest.raises(PermanentDeliveryError):
        HttpSmsGateway(sms_gateway_stub.url, timeout=5).send("12345", "【测试】内容", "m-1")
    assert sms_gateway_stub.requests == []


def test_unreachable_or_slow_gateway_is_transient(sms_gateway_stub: GatewayStub) -> None:
    with pytest.raises(TransientDeliveryError):
        HttpSmsGateway(f"http://127.0.0.1:{free_port()}/sms", timeout=2).send("13800138000", "【测试】", "m-1")
    sms_gateway_stub.delay = 1.0
    with pytest.raises(TransientDeliveryError) as info:
        HttpSmsGateway(sms_gateway_stub.url, timeout=0.2).send("13800138000", "【测试】", "m-2")
    assert "Timeout" in info.value.message_en


class TestThroughThePlatform:
    @pytest.fixture
    def settings(self, settings: Settings, sms_gateway_stub: GatewayStub) -> Settings:
        http = NotificationSettings(
            sms_gateway="http", sms_url=sms_gateway_stub.url, sms_token=TOKEN, sms_timeout_seconds=5
        )
        return settings.model_copy(update={"notifications": http})

    def _notify(self, platform: Platform, users: list[int]) -> None:
        with platform.uow() as uow:
            platform.notifier.notify(
                uow,
                user_ids=users,
                kind="bid_opening",
                subject_zh="开标提醒",
                body_zh="明天 9:30 不见面开标，请准时登录解密。",
                channels=("sms",),
                dedupe="opening:3",
            )
            uow.commit()

    def test_refused_message_fails_once_and_retryable_one_is_sent(
        self, platform: Platform, sms_gateway_stub: GatewayStub, clock: FakeClock
    ) -> None:
        assert isinstance(platform.notifier.sms, HttpSmsGateway)
        a = make_user(platform, "bidder_a", phone="13800138000")
        b = make_user(platform, "bidder_b", phone="13900139000")
        sms_gateway_stub.replies.extend([(400, {"error": "空号"}), (503, {"error": "busy"})])
        self._notify(platform, [a, b])

        stats = platform.worker.run_once()
        assert (stats.sent, stats.failed) == (1, 1)  # a: handled (refused for good); b: retry later
        by_user = {d.user_id: d for d in deliveries(platform)}
        assert by_user[a].status == "failed" and by_user[a].reason == "notification.sms_refused"
        assert by_user[b].status == "retrying"
        for _ in range(3):
            clock.advance(timedelta(minutes=10))
            platform.worker.run_once()
        phones = [r["json"]["phone"] for r in sms_gateway_stub.requests]
        assert phones.count("13800138000") == 1  # never retried
        assert phones.count("13900139000") == 2  # 503, then sent
        by_user = {d.user_id: d for d in deliveries(platform)}
        assert by_user[b].status == "sent" and by_user[b].provider_id == "gw-3"
        assert {m.status for m in outbox(platform)} == {"sent"}
