"""The voice-call adapters: the simulator's scripted answers and the HTTP provider's status mapping."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from sunbid.core.clock import FakeClock
from sunbid.experts.voice import CallResult, HttpVoiceGateway, SimulatedVoiceCaller
from sunbid.notifications.domain import PermanentDeliveryError, TransientDeliveryError


def test_simulator_keeps_calls_and_answers_as_scripted(tmp_path: Path) -> None:
    sim = SimulatedVoiceCaller(tmp_path / "voice", FakeClock())
    sim.press("139 0000 0001", "1")
    assert sim.call("13900000001", "请按 1", "m1") == CallResult(True, "1")
    assert sim.call("13900000002", "请按 1", "m2") == CallResult(False, None)
    assert {c["message_id"] for c in sim.calls()} == {"m1", "m2"}
    with pytest.raises(PermanentDeliveryError):
        sim.call("12345", "x", "m3")


def test_http_gateway_maps_statuses(tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        assert request.headers["Idempotency-Key"] == body["message_id"]
        status = {"m-ok": 200, "m-busy": 503, "m-bad": 400}[body["message_id"]]
        return httpx.Response(status, json={"answered": True, "pressed": "2"})

    gw = HttpVoiceGateway("https://voice.example/call", token="s3cr3t-token", transport=httpx.MockTransport(handler))
    assert gw.call("13900000001", "script", "m-ok") == CallResult(True, "2")
    with pytest.raises(TransientDeliveryError):
        gw.call("13900000001", "script", "m-busy")
    with pytest.raises(PermanentDeliveryError):
        gw.call("13900000001", "script", "m-bad")
    assert seen[0]["keys"] == {"1": "confirm", "2": "refuse"}
    assert "s3cr3t" not in repr(gw)
