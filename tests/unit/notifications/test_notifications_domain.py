"""Notification rules without a database: fields, addresses, routing, texts, MIME, settings."""

from __future__ import annotations

import base64
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from sunbid.core.clock import FakeClock
from sunbid.core.errors import ValidationFailed
from sunbid.notifications import domain
from sunbid.notifications.adapters import SmtpEmailSender, build_email
from sunbid.notifications.domain import PermanentDeliveryError, Recipient, SkipReason
from sunbid.platform.settings import NotificationSettings, Settings


def _message(**overrides: object) -> domain.Message:
    fields: dict[str, object] = {
        "kind": "contract_reminder",
        "subject_zh": "合同签订提醒",
        "body_zh": "请签订合同。",
        "dedupe": "contract:1",
    }
    fields.update(overrides)
    return domain.make_message(**fields)  # type: ignore[arg-type]


# --- fields -------------------------------------------------------------------------------------------------


def test_message_keeps_channels_in_order_without_repeats() -> None:
    msg = _message(channels=["sms", "inapp", "sms"])
    assert msg.channels == ("sms", "inapp")
    assert msg.external_channels == ("sms",)
    assert _message().channels == ("inapp", "email", "sms")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"kind": "Contract"}, "notification.bad_kind"),
        ({"kind": ""}, "notification.bad_kind"),
        ({"subject_zh": "  "}, "notification.bad_subject"),
        ({"subject_zh": "合同\r\nBcc: x@example.org"}, "notification.bad_subject"),
        ({"subject_zh": "长" * 201}, "notification.bad_subject"),
        ({"subject_en": "two\nlines"}, "notification.bad_subject"),
        ({"body_zh": ""}, "notification.bad_body"),
        ({"body_zh": "bell\x07"}, "notification.bad_body"),
        ({"dedupe": "has space"}, "notification.bad_dedupe"),
        ({"dedupe": "x" * 129}, "notification.bad_dedupe"),
        ({"channels": ["fax"]}, "notification.bad_channel"),
        ({"channels": []}, "notification.no_channel"),
    ],
)
def test_bad_fields_are_refused_with_a_chinese_message(overrides: dict[str, object], code: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        _message(**overrides)
    assert info.value.code == code
    assert info.value.message_zh and info.value.message_en
    assert info.value.message_zh != info.value.message_en


def test_body_keeps_line_breaks_and_empty_english_is_none() -> None:
    msg = _message(body_zh="第一行\r\n第二行", subject_en="  ", body_en="")
    assert msg.body_zh == "第一行\n第二行"
    assert msg.subject_en is None and msg.body_en is None


# --- addresses ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("008619912345678", "19912345678"),
        ("8615012345678", "15012345678"),
        ("(138) 0013 8000", "13800138000"),
        ("12800138000", None),
        ("1380013800", None),
        ("138001380001", None),
        ("0566-1234567", None),
        ("1380013800a", None),
        ("", None),
        (None, None),
    ],
)
def test_normalises_mainland_mobile_numbers(raw: str | None, expected: str | None) -> None:
    assert domain.normalise_cn_mobile(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("zhaobiao@example.org", "zhaobiao@example.org"),
        (" Li.Ming+ggzy@Mail.Example.CN ", "Li.Ming+ggzy@mail.example.cn"),
        ("a@b.com\r\nBcc: victim@example.org", None),
        ("李明 <li@example.org>", None),
        ("li@localhost", None),
        ("li@@example.org", None),
        ("li example@example.org", None),
        ("@example.org", None),
        ("", None),
    ],
)
def test_normalises_email_addresses_and_refuses_header_tricks(raw: str, expected: str | None) -> None:
    assert domain.normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("recipient", "channel", "address", "reason"),
    [
        (Recipient(1, True, "a@example.org", None), "email", "a@example.org", None),
        (Recipient(1, True, None, None), "email", None, SkipReason.NO_EMAIL),
        (Recipient(1, True, "  ", None), "email", None, SkipReason.NO_EMAIL),
        (Recipient(1, True, "not-an-address", None), "email", None, SkipReason.INVALID_EMAIL),
        (Recipient(1, True, None, "+8613800138000"), "sms", "13800138000", None),
        (Recipient(1, True, None, None), "sms", None, SkipReason.NO_PHONE),
        (Recipient(1, True, None, "12345"), "sms", None, SkipReason.INVALID_PHONE),
        (Recipient(1, False, "a@example.org", "13800138000"), "sms", None, SkipReason.USER_INACTIVE),
        (Recipient(1, False, "a@example.org", "13800138000"), "email", None, SkipReason.USER_INACTIVE),
    ],
)
def test_routes_each_channel_or_says_why_not(
    recipient: Recipient, channel: domain.ExternalChannel, address: str | None, reason: SkipReason | None
) -> None:
    found = domain.route(recipient, channel)
    assert (found.channel, found.address, found.skipped) == (channel, address, reason)


def test_skip_reasons_have_both_languages() -> None:
    for reason in SkipReason:
        assert reason.message_zh and reason.message_en and reason.message_zh != reason.message_en


def test_outbox_key_fits_the_outbox_column() -> None:
    key = domain.outbox_dedupe_key("x" * domain.DEDUPE_MAX, 9_223_372_036_854_775_807, "email")
    assert key.startswith("notify:xxx") and key.endswith(":9223372036854775807:email")
    assert len(key) <= 200
    assert domain.outbox_topic("sms") == "notify.sms"


# --- texts --------------------------------------------------------------------------------------------------


def test_email_texts_are_chinese_first_then_english() -> None:
    msg = _message(subject_en="Contract reminder", body_en="Please sign.")
    assert domain.email_subject(msg) == "合同签订提醒 / Contract reminder"
    assert domain.email_subject(_message()) == "合同签订提醒"
    body = domain.email_body(msg, centre_name="池州市公共资源交易中心")
    assert body.index("请签订合同。") < body.index("Please sign.") < body.index("池州市公共资源交易中心")
    assert "English" not in domain.email_body(_message(), centre_name="中心")


def test_sms_text_has_signature_and_is_cut_to_the_limit() -> None:
    assert domain.sms_text(_message(), signature="示范中心") == "【示范中心】合同签订提醒：请签订合同。"
    long = domain.sms_text(_message(body_zh="长" * 1000), signature="示范中心")
    assert len(long) == domain.SMS_MAX_CHARS and long.endswith("…")
    assert domain.sms_text(_message(body_zh="第一行\n\n第二行"), signature="S").endswith("第一行 第二行")


@pytest.mark.parametrize(("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3)])
def test_counts_sms_segments_like_carriers(length: int, segments: int) -> None:
    assert domain.sms_segments("字" * length) == segments


def test_delivery_errors_say_whether_to_retry() -> None:
    assert domain.PermanentDeliveryError("c", "中", "en").permanent is True
    assert domain.TransientDeliveryError("c", "中", "en").permanent is False


# --- MIME ---------------------------------------------------------------------------------------------------


def test_email_is_utf8_mime_with_encoded_subject_and_stable_message_id() -> None:
    clock = FakeClock()
    msg = build_email(
        sender="池州市公共资源交易中心 <noreply@ggzy.example.org>",
        to="a@example.org",
        subject="合同签订提醒",
        body_text="请签订合同。\n",
        message_id="sunbid.notify.7",
        clock=clock,
    )
    raw = msg.as_bytes()
    assert raw.isascii()  # no 8-bit data on the wire: any SMTP server takes it
    assert b"Subject: =?utf-8?b?" in raw
    assert b"Message-ID: <sunbid.notify.7@ggzy.example.org>" in raw
    assert b"Content-Transfer-Encoding: base64" in raw
    parsed = message_from_bytes(raw, policy=default_policy)
    assert parsed["Subject"] == "合同签订提醒"
    assert parsed.get_content().splitlines() == ["请签订合同。"]
    payload = raw.split(b"\r\n\r\n", 1)[1]
    assert base64.b64decode(payload).decode("utf-8") == "请签订合同。\r\n"


def test_email_to_a_malformed_address_is_refused_for_good() -> None:
    with pytest.raises(PermanentDeliveryError):
        build_email(
            sender="noreply@example.org",
            to="a@example.org\r\nBcc: b@example.org",
            subject="s",
            body_text="b",
            message_id="m",
            clock=FakeClock(),
        )


# --- settings -----------------------------------------------------------------------------------------------


def test_smtp_password_and_sms_token_are_never_shown(tmp_path: object) -> None:
    secret = NotificationSettings(smtp_password="smtp-pass-123", sms_token="sms-token-456")
    settings = Settings(notifications=secret)
    shown = settings.public_dict()
    assert shown["notifications"]["smtp_password"] == "***"
    assert shown["notifications"]["sms_token"] == "***"
    for text in (repr(settings), repr(secret), str(shown)):
        assert "smtp-pass-123" not in text and "sms-token-456" not in text
    sender = SmtpEmailSender(host="h", port=25, sender="a@example.org", password="smtp-pass-123")
    assert "smtp-pass-123" not in repr(sender)


def test_notification_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUNBID_NOTIFICATIONS__EMAIL_BACKEND", "smtp")
    monkeypatch.setenv("SUNBID_NOTIFICATIONS__SMTP_PORT", "2525")
    monkeypatch.setenv("SUNBID_NOTIFICATIONS__SMS_GATEWAY", "http")
    n = Settings().notifications
    assert (n.email_backend, n.smtp_port, n.sms_gateway) == ("smtp", 2525, "http")
