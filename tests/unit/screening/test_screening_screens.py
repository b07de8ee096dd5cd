"""Per-tender screens against hand-computed values and against a naive per-tender implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sunbid.screening.screens import SCREEN_NAMES, compute_screens, sort_bids


def _screens(
    tenders: list[list[float]], winners: list[int | None] | None = None, estimates: list[float] | None = None
) -> dict[str, np.ndarray]:
    codes, amounts, win, est = [], [], [], []
    for k, bids in enumerate(tenders):
        for i, b in enumerate(bids):
            codes.append(k)
            amounts.append(b)
            w = None if winners is None else winners[k]
            win.append(-1 if w is None else int(i == w))
            est.append(math.nan if estimates is None else estimates[k])
    sb, run = sort_bids(
        np.array(codes, dtype=np.int64),
        np.array(amounts, dtype=np.float64),
        np.array(win, dtype=np.int8),
        np.array(est, dtype=np.float64),
    )
    assert list(run) == list(range(len(tenders)))
    return compute_screens(sb)


def test_screens_of_a_four_bid_tender_match_hand_computed_values() -> None:
    # Bids 100 (winner), 110, 120, 150; estimate 160.
    s = {k: float(v[0]) for k, v in _screens([[120.0, 100.0, 150.0, 110.0]], [1], [160.0]).items()}
    sd = math.sqrt(1400 / 3)
    assert s["n_bids"] == 4
    assert s["cv"] == pytest.approx(sd / 120)
    assert s["spread"] == pytest.approx(0.5)
    assert s["diffp"] == pytest.approx(0.1)
    assert s["rd"] == pytest.approx(10 / math.sqrt(866.6666666666666 / 2))
    assert s["rdnor"] == pytest.approx(0.6)
    assert s["rdalt"] == pytest.approx(0.5)
    assert s["ks"] == pytest.approx(0.35)
    assert s["skewness"] == pytest.approx(4 / 6 * 18000 / sd**3)
    assert s["kurtosis"] == pytest.approx(4 * 5 / (3 * 2 * 1) * (20**4 + 10**4 + 0 + 30**4) / sd**4 - 3 * 9 / (2 * 1))
    assert s["est_low_ratio"] == pytest.approx(0.625)
    assert s["est_mean_ratio"] == pytest.approx(0.75)
    assert s["est_share_above"] == 0.0
    assert s["winner_margin"] == pytest.approx(0.1)
    assert s["winner_rank"] == 0.0
    assert s["roundness"] == pytest.approx((2 / 3 + 1 / 3 + 1 / 3 + 1 / 3) / 4)
    assert s["benford_first"] == pytest.approx(2 * (1 - math.log10(2)) / 9)
    assert s["last_digit"] == pytest.approx(0.18)


def test_skewness_and_kurtosis_agree_with_scipys_bias_corrected_estimators() -> None:
    bids = [101.5, 99.0, 130.25, 97.0, 100.0, 104.0, 99.5]
    s = _screens([bids])
    assert s["skewness"][0] == pytest.approx(stats.skew(bids, bias=False))
    assert s["kurtosis"][0] == pytest.approx(stats.kurtosis(bids, bias=False, fisher=True))


def test_winner_that_is_not_the_lowest_bid_has_a_negative_margin() -> None:
    s = _screens([[100.0, 110.0, 120.0, 150.0]], [2])
    assert s["winner_margin"][0] == pytest.approx((100 - 120) / 120)
    assert s["winner_rank"][0] == pytest.approx(2 / 3)


def test_undefined_screens_are_nan_not_made_up() -> None:
    s = _screens([[100.0, 105.0], [50.0, 50.0, 50.0]])  # two bids; three equal bids; no winner, no estimate
    for name in ("rd", "rdnor", "rdalt", "ks", "kurtosis", "skewness"):
        assert math.isnan(s[name][0]), name
    assert s["cv"][1] == 0.0 and s["spread"][1] == 0.0
    for name in ("rd", "ks", "skewness", "kurtosis", "rdnor"):
        assert math.isnan(s[name][1]), name
    for name in ("est_low_ratio", "est_mean_ratio", "est_share_above", "winner_margin", "winner_rank"):
        assert np.isnan(s[name]).all(), name
    assert s["diffp"][0] == pytest.approx(0.05)


def test_bids_above_the_estimate_are_counted() -> None:
    s = _screens([[90.0, 105.0, 120.0, 80.0]], None, [100.0])
    assert s["est_share_above"][0] == pytest.approx(0.5)


def _naive(bids: list[float]) -> dict[str, float]:
    b = sorted(bids)
    n = len(b)
    m = sum(b) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in b) / (n - 1))
    losers = b[1:]
    ml = sum(losers) / len(losers)
    sdl = math.sqrt(sum((x - ml) ** 2 for x in losers) / (len(losers) - 1))
    u = [(x - b[0]) / (b[-1] - b[0]) for x in b]
    ks = max(max((i + 1) / n - u[i], u[i] - i / n) for i in range(n))
    return {
        "cv": sd / m,
        "spread": (b[-1] - b[0]) / b[0],
        "diffp": (b[1] - b[0]) / b[0],
        "rd": (b[1] - b[0]) / sdl,
        "rdnor": (b[1] - b[0]) / ((b[-1] - b[0]) / (n - 1)),
        "rdalt": (b[1] - b[0]) / ((b[-1] - b[1]) / (n - 2)),
        "ks": ks,
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(st.floats(min_value=1.0, max_value=1e9, allow_nan=False), min_size=4, max_size=12, unique=True),
        min_size=1,
        max_size=6,
    )
)
def test_vectorised_screens_equal_a_naive_per_tender_computation(tenders: list[list[float]]) -> None:
    s = _screens(tenders)
    for k, bids in enumerate(tenders):
        b = sorted(bids)
        if b[-1] - b[1] <= 1e-9 * b[-1] or b[1] - b[0] <= 1e-9 * b[1]:
            continue  # nearly tied bids: the ratios are numerically ill-conditioned either way
        for name, value in _naive(bids).items():
            assert s[name][k] == pytest.approx(value, rel=1e-6), name


def test_every_screen_has_a_column_and_an_empty_input_gives_empty_columns() -> None:
    sb, _ = sort_bids(np.empty(0, dtype=np.int64), np.empty(0))
    s = compute_screens(sb)
    assert set(s) == set(SCREEN_NAMES)
    assert all(v.size == 0 for v in s.values())


def test_chunked_threaded_computation_equals_the_single_pass() -> None:
    rng = np.random.default_rng(3)
    sizes = rng.integers(2, 9, size=500)
    codes = np.repeat(np.arange(500, dtype=np.int64), sizes)
    amounts = np.round(rng.lognormal(10, 1, size=codes.size), 2)
    winners = (rng.random(codes.size) < 0.2).astype(np.int8)
    estimates = np.repeat(rng.lognormal(10, 1, size=500), sizes)
    sb, _ = sort_bids(codes, amounts, winners, estimates)
    whole = compute_screens(sb)
    chunked = compute_screens(sb, chunk_bids=97, workers=3)
    for name in SCREEN_NAMES:
        assert np.array_equal(whole[name], chunked[name], equal_nan=True), name
