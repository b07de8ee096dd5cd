"""Structured logs: JSON lines with the request id, secrets masked."""

from __future__ import annotations

import json
import logging

from sunbid.platform.logging import JsonFormatter, request_id_var


def test_log_line_is_json_with_request_id_and_masked_secrets() -> None:
    record = logging.LogRecord("sunbid.test", logging.INFO, __file__, 1, "登录 %s", ("ok",), None)
    record.fields = {"user": "bidder1", "password": "hunter2", "api_token": "sbt_x"}  # type: ignore[attr-defined]
    token = request_id_var.set("req-abcdef12")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id_var.reset(token)
    data = json.loads(line)
    assert data["msg"] == "登录 ok" and data["request_id"] == "req-abcdef12" and data["user"] == "bidder1"
    assert data["password"] == "***" and data["api_token"] == "***"
    assert "hunter2" not in line
