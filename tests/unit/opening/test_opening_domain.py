"""The opening session's pure rules: states and actions, failure classification (RULES §3), settings, key plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sunbid.core.errors import DomainError
from sunbid.draws.domain import DecimalRange
from sunbid.opening.domain import (
    MAX_EXTENSION_MINUTES,
    MAX_TOTAL_WINDOW_MINUTES,
    PLATFORM_FAULTS,
    Action,
    BidStatus,
    OpeningSettings,
    SessionState,
    allowed,
    attempts_exhausted,
    attempts_left,
    bid_context,
    classify_failure,
    ensure_allowed,
    extended_close,
    resumed_close,
    share_plan,
    window_is_open,
)

T = datetime(2026, 3, 23, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "action", "ok"),
    [
        (SessionState.SCHEDULED, Action.CONFIGURE, True),
        (SessionState.SCHEDULED, Action.DECRYPT, False),
        (SessionState.SCHEDULED, Action.POST_SHARE, False),
        (SessionState.DECRYPTING, Action.DECRYPT, True),
        (SessionState.DECRYPTING, Action.CONFIGURE, False),
        (SessionState.DECRYPTING, Action.POST_SHARE, False),
        (SessionState.DECRYPTING, Action.FINISH, False),
        (SessionState.FALLBACK, Action.POST_SHARE, True),
        (SessionState.FALLBACK, Action.DECRYPT, False),
        (SessionState.FALLBACK, Action.END_FALLBACK, True),
        (SessionState.RECORDED, Action.OBJECT, True),
        (SessionState.RECORDED, Action.ANSWER, True),
        (SessionState.RECORDED, Action.FINISH, True),
        (SessionState.RECORDED, Action.DECRYPT, False),
        (SessionState.CLOSED, Action.OBJECT, False),
        (SessionState.FAILED, Action.START, False),
    ],
)
def test_actions_allowed_per_state(state: SessionState, action: Action, ok: bool) -> None:
    assert allowed(state, action) is ok
    if ok:
        ensure_allowed(state, action)
    else:
        with pytest.raises(DomainError) as err:
            ensure_allowed(state, action)
        assert err.value.code == "opening.not_allowed" and err.value.message_zh


def test_no_action_leads_out_of_a_closed_or_failed_session() -> None:
    for state in (SessionState.CLOSED, SessionState.FAILED):
        assert not any(allowed(state, a) for a in Action)


def test_the_window_is_open_only_while_decrypting_and_strictly_before_its_close() -> None:
    closes = T + timedelta(minutes=30)
    assert window_is_open(SessionState.DECRYPTING, closes, closes - timedelta(microseconds=1))
    assert not window_is_open(SessionState.DECRYPTING, closes, closes)
    assert not window_is_open(SessionState.FALLBACK, closes, T)
    assert not window_is_open(SessionState.DECRYPTING, None, T)


@pytest.mark.parametrize("problem", [None, "bid.wrong_key", "bid.signature_invalid", "bid.manifest_other", "bid.x"])
def test_bidders_fault_is_revoked(problem: str | None) -> None:
    failure = classify_failure(problem)
    assert failure.outcome is BidStatus.REVOKED
    assert "撤销" in failure.reason_zh and "revoked" in failure.reason_en


@pytest.mark.parametrize("problem", sorted(PLATFORM_FAULTS))
def test_platform_fault_is_withdrawn(problem: str) -> None:
    failure = classify_failure(problem)
    assert failure.outcome is BidStatus.WITHDRAWN
    assert "撤回" in failure.reason_zh and "Not the bidder" in failure.reason_en


def test_settings_defaults_round_trip_and_limits() -> None:
    default = OpeningSettings()
    assert default.to_dict() == {
        "window_minutes": 30,
        "custodian_fallback": False,
        "coefficient": None,
        "max_key_attempts": 5,
    }
    # settings stored before the attempt cap existed read with the default cap
    old = {"window_minutes": 30, "custodian_fallback": False, "coefficient": None}
    assert OpeningSettings.from_dict(old).max_key_attempts == 5
    full = OpeningSettings(45, True, DecimalRange("0.95", "0.98", "0.005"), 3)
    assert OpeningSettings.from_dict(full.to_dict()) == full
    assert full.window() == timedelta(minutes=45)
    for bad in (
        {"window_minutes": 4},
        {"window_minutes": 241},
        {"window_minutes": True},
        {"window_minutes": "30"},
        {"custodian_fallback": 1},
        {"max_key_attempts": 0},
        {"max_key_attempts": 51},
        {"max_key_attempts": "5"},
        {"max_key_attempts": True},
        {"coefficient": {"low": "0.95", "high": "0.98"}},
        {"coefficient": {"low": "0.95", "high": "0.98", "step": 0.005}},
        {"coefficient": {"low": "0.95", "high": "0.98", "step": "0.007"}},
        {"coefficient": {"low": "0.95", "high": "0.95", "step": "0.005"}},
        {"coefficient": {"low": "-0.1", "high": "0.1", "step": "0.1"}},
    ):
        with pytest.raises(DomainError) as err:
            OpeningSettings.from_dict(bad)
        assert err.value.code in ("opening.bad_settings", "draw.bad_range", "draw.bad_decimal"), bad


def test_bid_context_binds_centre_project_section_and_key() -> None:
    fp = "ab" * 32
    assert bid_context("341700", "P-1", "01", fp) == f"sunbid:341700:P-1:01:{fp[:16]}"
    assert bid_context("341700", "P-1", "02", fp) != bid_context("341700", "P-1", "01", fp)
    for bad in (("", "P", "01"), ("341700", "P:1", "01"), ("341700", "P", " 01")):
        with pytest.raises(DomainError):
            bid_context(*bad, fp)


def test_share_plan_is_k_of_n_with_k_at_least_two_and_none_below_two_custodians() -> None:
    assert share_plan(0) is None and share_plan(1) is None
    assert share_plan(2) == (2, 2)
    assert share_plan(3) == (2, 3)
    assert share_plan(5, 3) == (3, 5)
    assert share_plan(2, 3) == (2, 2)
    assert share_plan(300) == (2, 255)
    with pytest.raises(DomainError):
        share_plan(3, 1)


def test_state_and_status_labels_are_chinese() -> None:
    assert SessionState.RECORDED.label_zh == "已唱标"
    assert BidStatus.REVOKED.label_zh.endswith("视为撤销投标文件）")


def test_an_open_window_extends_by_the_minutes_given_within_the_limits() -> None:
    closes = T + timedelta(minutes=30)
    assert extended_close(T, closes, T + timedelta(minutes=10), 15) == closes + timedelta(minutes=15)
    for minutes in (0, MAX_EXTENSION_MINUTES + 1, True):
        with pytest.raises(DomainError) as err:
            extended_close(T, closes, T, minutes)
        assert err.value.code == "opening.bad_extension"
    with pytest.raises(DomainError) as err:  # the window already closed
        extended_close(T, closes, closes, 5)
    assert err.value.code == "opening.window_closed"
    near_cap = T + timedelta(minutes=MAX_TOTAL_WINDOW_MINUTES - 10)
    assert extended_close(T, near_cap, T, 10) == T + timedelta(minutes=MAX_TOTAL_WINDOW_MINUTES)
    with pytest.raises(DomainError) as err:
        extended_close(T, near_cap, T, 11)
    assert err.value.code == "opening.bad_extension"


def test_a_resumed_window_gets_back_the_time_it_had_left() -> None:
    closes = T + timedelta(minutes=30)
    suspended, resumed = T + timedelta(minutes=20), T + timedelta(hours=3)
    assert resumed_close(closes, suspended, resumed) == resumed + timedelta(minutes=10)
    # a window already due when suspended (its timer had not run) closes at the resume
    assert resumed_close(closes, closes + timedelta(seconds=1), resumed) == resumed


def test_the_attempt_cap_counts_bidder_failures_and_never_platform_faults() -> None:
    assert not attempts_exhausted(4, 5, "bid.wrong_key")
    assert attempts_exhausted(5, 5, "bid.wrong_key")
    assert attempts_exhausted(6, 5, "bid.signature_invalid")
    assert not attempts_exhausted(5, 5, None)
    for fault in PLATFORM_FAULTS:
        assert not attempts_exhausted(9, 5, fault)
        assert attempts_left(9, 5, fault) == 1
    assert [attempts_left(n, 5, "bid.wrong_key") for n in range(7)] == [5, 4, 3, 2, 1, 0, 0]
    assert attempts_left(0, 5, None) == 5


def test_a_cancelled_session_allows_nothing_and_only_decrypting_extends() -> None:
    for action in Action:
        assert not allowed(SessionState.CANCELLED, action)
    assert SessionState.CANCELLED.label_zh == "已取消（项目终止）"
    assert [s for s in SessionState if allowed(s, Action.EXTEND_WINDOW)] == [SessionState.DECRYPTING]
    with pytest.raises(DomainError) as err:
        ensure_allowed(SessionState.FALLBACK, Action.EXTEND_WINDOW)
    assert err.value.code == "opening.not_allowed" and "延长解密时间" in err.value.message_zh
