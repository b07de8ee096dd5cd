"""The opening hall's projection of the session events (pure): stages, bidders, progress, the record, draws,
custodians, objections, and tolerance of events it does not understand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sunbid.opening.hall_state import HallEvent, apply, declared_items, fold, parse_time, safe_url
from sunbid.opening.hall_views import fill, log_text, remaining
from sunbid.web.i18n import translator

T = datetime(2026, 3, 23, 1, 0, tzinfo=UTC)


def ev(seq: int, kind: str, **data: Any) -> HallEvent:
    return HallEvent(seq, kind, data, T + timedelta(seconds=10 * seq))


def session() -> list[HallEvent]:
    rows = [
        {
            "bidder_name": "甲",
            "price": "100.00",
            "duration_days": 300,
            "quality": "合格",
            "deposit_status": "paid",
            "extra": {"类似工程业绩": "3", "信用等级": "AAA"},
        },
        {
            "bidder_name": "丙",
            "price": None,
            "deposit_status": {"code": "missing", "label_zh": "未缴纳"},
            "extra": None,
        },
    ]
    return [
        ev(1, "session.started", project_code="P1", sections=["A", "B"], bids=3, window_minutes=30),
        ev(2, "bidder.checked_in", section="A", bidder_name="甲"),
        ev(3, "bidder.checked_in", section="B", bidder_name="乙"),
        ev(4, "decryption.opened", closes_at=(T + timedelta(minutes=30)).isoformat()),
        ev(5, "bid.decrypted", section="A", bidder_name="甲", by="bidder"),
        ev(6, "bid.decryption_failed", section="A", bidder_name="丙", outcome="withdrawn", reason_zh="平台故障"),
        ev(7, "custodian.approved", section="B", custodian_name="张", approvals=1, threshold=2),
        ev(8, "custodian.approved", section="B", custodian_name="李", approvals=2, threshold=2),
        ev(9, "key.rebuilt", section="B"),
        ev(10, "bid.decrypted", section="B", bidder_name="乙", by="custodians"),
        ev(11, "decryption.closed", decrypted=2, failed=1),
        ev(12, "coefficient.drawn", section="A", value="0.965", draw_record={"seed": "ab"}),
        ev(13, "record.published", sections=[{"section": "A", "rows": rows}], record_hash="ff", url="/r/1"),
        ev(14, "bidder.confirmed", section="A", bidder_name="甲"),
        ev(15, "objection.raised", id=1, section="A", bidder_name="丙", text="<b>异议</b>"),
        ev(16, "objection.answered", id=1, answer="已复核"),
        ev(17, "session.closed", valid_bids=2),
    ]


def test_a_whole_session_folds_into_what_the_hall_shows() -> None:
    s = fold(session())
    assert s.stage == "closed" and s.finished and s.last_seq == 17 and len(s.log) == 17
    assert s.project_code == "P1" and s.sections == ["A", "B"] and s.bids == 3 and s.window_minutes == 30
    assert [(b.section, b.name, b.decryption) for b in s.bidders.values()] == [
        ("A", "甲", "decrypted"),
        ("B", "乙", "decrypted"),
        ("A", "丙", "withdrawn"),
    ]
    assert s.bidders["A\x1f丙"].reason_zh == "平台故障" and s.bidders["A\x1f丙"].checked_in_at is None
    assert s.checked_in == 2 and s.decrypted == 2 and s.failed == 1 and s.total == 3 and s.percent == 100
    assert s.custody["B"].approvals == ["张", "李"] and s.custody["B"].threshold == 2 and s.custody["B"].rebuilt
    assert s.draws["A"].value == "0.965" and s.draws["A"].record == {"seed": "ab"}
    (record,) = s.record
    assert record.section == "A" and [r.bidder_name for r in record.rows] == ["甲", "丙"]
    assert record.rows[0].duration_days == "300" and record.rows[1].price == ""
    assert record.rows[1].deposit_status == "missing"
    assert record.rows[0].extra == (("信用等级", "AAA"), ("类似工程业绩", "3")) and record.rows[1].extra == ()
    assert s.record_hash == "ff" and s.record_url == "/r/1"
    assert s.bidders["A\x1f甲"].confirmed_at == T + timedelta(seconds=140)
    assert s.objections["1"].text == "<b>异议</b>" and s.objections["1"].answer == "已复核"
    assert s.valid_bids == 2


@pytest.mark.parametrize(
    ("upto", "stage"),
    [(0, "waiting"), (1, "checking_in"), (4, "decrypting"), (11, "decrypted"), (13, "published"), (17, "closed")],
)
def test_the_stage_follows_the_session(upto: int, stage: str) -> None:
    assert fold(session()[:upto]).stage == stage


def test_progress_counts_decrypted_and_failed_bids_before_the_window_closes() -> None:
    s = fold(session()[:6])
    assert (s.decrypted, s.failed, s.total, s.percent) == (1, 1, 3, 66)
    assert fold([]).percent == 0


def test_a_late_check_in_never_moves_the_stage_back_and_an_ended_session_stays_ended() -> None:
    s = fold(session()[:4])
    apply(s, ev(5, "bidder.checked_in", section="A", bidder_name="丁"))
    assert s.stage == "decrypting"
    ended = fold([ev(1, "session.started", bids=2), ev(2, "session.failed", reason_zh="不足3家", reason_en="< 3")])
    apply(ended, ev(3, "decryption.opened", closes_at=T.isoformat()))
    assert ended.stage == "failed" and ended.failure_zh == "不足3家" and ended.failure_en == "< 3"


def test_events_apply_once_in_seq_order() -> None:
    events = session()
    assert fold(reversed(events)).log == fold(events).log
    s = fold(events[:3])
    apply(s, events[1])  # a duplicate (a reconnect that re-sent it) changes nothing
    assert len(s.log) == 3 and s.checked_in == 2


def test_unknown_kinds_and_malformed_data_never_break_the_hall() -> None:
    s = fold(
        [
            ev(1, "session.started", sections="A", bids="lots", window_minutes=True),
            ev(2, "session.note", text="主持人宣读纪律"),
            ev(3, "bidder.checked_in", section="A"),  # no name: nothing to show
            ev(4, "decryption.opened", closes_at="tomorrow"),
            ev(5, "bid.decryption_failed", section="A", bidder_name="甲", outcome="exploded"),
            ev(6, "record.published", sections=[{"section": "A", "rows": ["x", {"bidder_name": "甲"}]}, 3], url="x"),
            ev(7, "objection.answered", id="9", answer="答复"),
            ev(8, "coefficient.drawn", section="A", value=0.97, draw_record="not a record"),
        ]
    )
    assert s.bids == 0 and s.window_minutes is None and s.sections == ["A"]
    assert s.closes_at is None and len(s.log) == 8
    assert s.bidders["A\x1f甲"].decryption == "revoked"  # an unknown outcome counts against the bid
    assert [r.bidder_name for r in s.record[0].rows] == ["甲"] and s.record_url == ""
    assert s.objections["9"].answer == "答复" and s.objections["9"].text == ""
    assert s.draws["A"].value == "0.97" and s.draws["A"].record == {}


def test_declared_items_read_as_name_value_pairs_by_name_and_anything_else_as_none() -> None:
    assert declared_items({"b": "2", "a": "<b>1</b>", "c": 3, "d": None, "e": ["x"]}) == (("a", "<b>1</b>"), ("b", "2"))
    for value in (None, "AAA", ["信用等级", "AAA"], 3):
        assert declared_items(value) == ()
    rows = [{"bidder_name": "甲", "extra": "AAA"}, {"bidder_name": "乙"}]  # malformed, or a record without items
    s = fold([ev(1, "record.published", sections=[{"section": "A", "rows": rows}])])
    assert [r.extra for r in s.record[0].rows] == [(), ()]


def test_a_list_of_bids_counts_as_its_length() -> None:
    assert fold([ev(1, "session.started", bids=[{"id": 1}, {"id": 2}])]).bids == 2


def test_event_from_its_json_form() -> None:
    e = HallEvent.from_json({"seq": 3, "kind": "bid.decrypted", "data": None, "at": "2026-03-23T01:00:00.000+00:00"})
    assert e == HallEvent(3, "bid.decrypted", {}, T)


def test_times_parse_as_utc_and_bad_ones_are_dropped() -> None:
    assert parse_time("2026-03-23T01:00:00Z") == T
    assert parse_time("2026-03-23T01:00:00") == T  # naive means UTC
    assert parse_time("2026-03-23T09:00:00+08:00") == T
    assert parse_time("soon") is None and parse_time(None) is None and parse_time(12) is None


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/portal/opening/1", "/portal/opening/1"),
        ("https://ggzy.example.cn/r/1", "https://ggzy.example.cn/r/1"),
        ("javascript:alert(1)", ""),
        ("//evil.example/x", ""),
        ("https://a.example/ x", ""),
        ("data:text/html,<b>", ""),
    ],
)
def test_only_local_and_http_links_are_shown(url: str, shown: str) -> None:
    assert safe_url(url) == shown


# --- texts -------------------------------------------------------------------------------------------------


def test_fill_leaves_missing_placeholders_empty_and_joins_lists() -> None:
    assert fill("%(a)s-%(b)s-%(c)s", {"a": ["A", "B"], "c": {"code": "paid"}}) == "A、B--paid"
    assert fill("100%", {}) == "100%"


def test_log_lines_in_chinese_and_english() -> None:
    zh, en = translator("zh-CN"), translator("en")
    failed = ev(
        6, "bid.decryption_failed", section="A", bidder_name="丙", outcome="revoked", reason_zh="超时", reason_en="late"
    )
    assert log_text(failed, zh) == "丙 的投标文件解密失败（标段 A）：视为撤销（投标人原因）。超时"
    assert log_text(failed, en) == "The bid of 丙 could not be decrypted (section A): Revoked (bidder's fault). late"
    opened = ev(4, "decryption.opened", closes_at="2026-03-23T01:30:00+00:00")
    assert log_text(opened, zh) == "开始解密，截止时间 2026-03-23 09:30:00"  # China time
    assert log_text(ev(9, "session.note"), zh) == "事件 session.note"
    started = ev(1, "session.started", sections=["A", "B"], bids=3, window_minutes=30)
    assert log_text(started, zh) == "开标会开始：标段 A、B，投标文件 3 份，解密时限 30 分钟"


def test_remaining_time_of_the_window() -> None:
    assert remaining(T + timedelta(minutes=29, seconds=5), T) == (29, 5)
    assert remaining(T, T) is None and remaining(None, T) is None


def test_bidders_named_at_the_start_are_listed_and_keep_their_place_when_they_check_in() -> None:
    s = fold([ev(1, "session.started", sections=["A", "B"], bids=3, bidders=["乙", "甲", "乙", 7])])
    assert [(b.section, b.name, b.checked_in_at) for b in s.bidders.values()] == [("", "乙", None), ("", "甲", None)]
    apply(s, ev(2, "bidder.checked_in", section="B", bidder_name="甲"))
    apply(s, ev(3, "bidder.checked_in", section="A", bidder_name="甲"))  # 甲 bid in both sections
    assert [(b.section, b.name) for b in s.bidders.values()] == [("", "乙"), ("B", "甲"), ("A", "甲")]
    assert s.checked_in == 2 and s.total == 3


def test_an_extension_or_a_resume_moves_the_close_and_a_cancelled_session_ends_the_hall() -> None:
    closes = T + timedelta(minutes=30)
    hall = fold(
        [
            ev(1, "session.started", project_code="P1", sections=["A"], bids=3, window_minutes=30),
            ev(2, "decryption.opened", closes_at=closes.isoformat()),
            ev(3, "decryption.extended", minutes=10, closes_at=(closes + timedelta(minutes=10)).isoformat()),
        ]
    )
    assert hall.closes_at == closes + timedelta(minutes=10) and hall.stage == "decrypting"
    apply(hall, ev(4, "session.suspended", state="decrypting", remaining_ms=600_000))
    assert hall.closes_at == closes + timedelta(minutes=10)  # unchanged until the resume says when
    apply(hall, ev(5, "session.resumed", state="decrypting", closes_at=(T + timedelta(hours=2)).isoformat()))
    assert hall.closes_at == T + timedelta(hours=2)
    apply(hall, ev(6, "session.resumed", state="decrypting", closes_at="garbage"))
    assert hall.closes_at == T + timedelta(hours=2)
    apply(hall, ev(7, "session.cancelled", reason_zh="项目已终止，开标取消", reason_en="terminated"))
    assert hall.finished and hall.stage == "failed" and hall.failure_zh == "项目已终止，开标取消"
    apply(hall, ev(8, "bid.decrypted", section="A", bidder_name="甲", by="bidder"))
    assert hall.stage == "failed"


def test_a_cancelled_session_is_terminal_for_the_stream() -> None:
    from sunbid.opening.hall_state import TERMINAL_KINDS

    assert "session.cancelled" in TERMINAL_KINDS


def test_log_lines_of_suspension_cancellation_and_a_window_extension() -> None:
    zh, en = translator("zh-CN"), translator("en")
    extended = ev(7, "decryption.extended", minutes=15, closes_at="2026-03-23T01:45:00+00:00", reason="平台网络故障")
    assert log_text(extended, zh) == "解密时间延长 15 分钟，截止于 2026-03-23 09:45:00（平台网络故障）"
    assert "extended by 15 minutes" in log_text(extended, en) and "平台网络故障" in log_text(extended, en)
    cancelled = ev(8, "session.cancelled", reason_zh="项目已终止，开标取消", reason_en="The project was terminated")
    assert log_text(cancelled, zh) == "开标已取消：项目已终止，开标取消"
    assert log_text(cancelled, en) == "The opening was cancelled: The project was terminated"
    assert log_text(ev(9, "session.suspended", state="decrypting"), zh) == "项目已暂停：开标中止"
    assert log_text(ev(10, "session.resumed", state="decrypting"), zh) == "项目已恢复：开标继续"
