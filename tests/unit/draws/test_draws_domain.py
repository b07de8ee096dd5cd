"""The draw primitives: commit–reveal, seed derivation, the HMAC DRBG, unbiased selection, exact coefficients."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from decimal import Decimal

import gmssl_pyx
import pytest
from tests.unit.draws import draws_reference as ref

from sunbid.core.errors import ValidationFailed
from sunbid.draws.domain import (
    Drbg,
    SeedInput,
    choose_index,
    coefficient_set,
    commit,
    commitment_hash,
    derive_seed,
    draw_coefficient,
    draw_from_values,
    hmac_digest,
    reveal_matches,
    sample_indexes,
    sample_without_replacement,
    sealed_bids_input,
)

SUITES = ["intl", "gm"]
HASH = {"intl": "sha256", "gm": "sm3"}
SUBJECT = {"project": "SB-2025-0001", "section": "01"}
SECRET = bytes(range(32))
BIDS = [b"\x33" * 32, b"\x11" * 32, b"\x22" * 32]

# Known answers, computed once from the implementation (and matched by the reference re-implementation below).
# A change here means the algorithm changed: every published draw record would stop verifying.
KAT = {
    "intl": {
        "commitment": "60bee6d5a9203484f4e92f9ef6ff22be8feb1d6aabd65c9e8575d51cf85ebe1b",
        "seed": "a897a95adc9f63db625c836a5d264be4caaa303190ef0d99b741aea3086a01d8",
        "stream48": "f1f28835c23d488ef32d1de512da2f71a0c3135f3acc9d0d1ebd5c3468829160"
        + "230a4fac0207e9817ff4fc0c15a9a6d4",
        "index7": 1,
        "coefficient": "0.955",
        "perm10": [1, 3, 2, 8, 6, 5, 0, 4, 9, 7],
        "nine_of_100000": [36595, 73190, 55857, 89917, 40209, 48481, 26760, 90154, 20404],
    },
    "gm": {
        "commitment": "332ca6a730317ca7a281b9306d95f02735b106720a7075e8fb89dfa29400cee2",
        "seed": "dc566dbf9c5f76cda18f276b17d2b3f01a86339ab9ccde22c26e83fe2b7ddc1d",
        "stream48": "75c4cbcf37f7cfd9af0cd9b855c7d2456cff9c924c1ea39ccce435e845d108e0"
        + "2aee368ebc1864df266d2368695d05b4",
        "index7": 5,
        "coefficient": "0.975",
        "perm10": [5, 0, 1, 4, 8, 6, 2, 3, 9, 7],
        "nine_of_100000": [79863, 55737, 93441, 37455, 41888, 58426, 17879, 57393, 13974],
    },
}

# Chi-square critical values at p = 0.001 (df 6: tables; df 11: tables; df 191: Wilson–Hilferty).
CHI2_DF6 = 22.458
CHI2_DF11 = 31.264
CHI2_DF191 = 257.2


def _kat_seed(suite: str) -> bytes:
    inputs = [SeedInput("operator", SECRET), sealed_bids_input(BIDS)]
    return derive_seed("coefficient", inputs, suite=suite, subject=SUBJECT)


def _seeds(count: int, label: bytes) -> list[bytes]:
    """Deterministic, independent-looking seeds (so statistical tests are reproducible, never flaky)."""
    return [hashlib.sha256(label + i.to_bytes(4, "big")).digest() for i in range(count)]


def _chi2(counts: Counter[int], n: int, total: int) -> float:
    expected = total / n
    return sum((counts.get(i, 0) - expected) ** 2 / expected for i in range(n))


# --- known answers and the independent reference -------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_known_answer_vectors_are_pinned(suite: str) -> None:
    kat = KAT[suite]
    seed = _kat_seed(suite)
    assert commitment_hash("coefficient", SUBJECT, "operator", SECRET, suite=suite).hex() == kat["commitment"]
    assert seed.hex() == kat["seed"]
    assert Drbg(seed, suite=suite).read(48).hex() == kat["stream48"]
    assert choose_index(seed, 7, suite=suite) == kat["index7"]
    assert draw_coefficient(seed, coefficient_set(), suite=suite) == Decimal(str(kat["coefficient"]))
    assert sample_indexes(seed, 10, 10, suite=suite) == kat["perm10"]
    assert sample_indexes(seed, 100_000, 9, suite=suite) == kat["nine_of_100000"]


@pytest.mark.parametrize("suite", SUITES)
def test_known_answers_match_the_independent_reference(suite: str) -> None:
    name = HASH[suite]
    kat = KAT[suite]
    inputs = {"operator": SECRET, "sealed_bids": b"".join(sorted(BIDS))}
    seed = ref.seed(name, "coefficient", SUBJECT, inputs)
    assert ref.commitment(name, "coefficient", SUBJECT, "operator", SECRET).hex() == kat["commitment"]
    assert seed.hex() == kat["seed"]
    assert ref.stream(name, seed, 48).hex() == kat["stream48"]
    assert ref.sample(name, seed, 7, 1) == [kat["index7"]]
    assert ref.sample(name, seed, 10, 10) == kat["perm10"]
    assert ref.sample(name, seed, 100_000, 9) == kat["nine_of_100000"]


@pytest.mark.parametrize("suite", SUITES)
def test_agrees_with_reference_on_many_inputs(suite: str) -> None:
    name = HASH[suite]
    for i, seed in enumerate(_seeds(60, b"agree")):
        n = 1 + (i * 37) % 300
        k = min(n, 1 + i % 12)
        assert sample_indexes(seed, n, k, suite=suite) == ref.sample(name, seed, n, k), (i, n, k)
        inputs = {"a": seed[:5], f"b{i}": seed[5:], "sealed_bids": seed * 2}
        mine = derive_seed("expert", [SeedInput(k, v) for k, v in inputs.items()], suite=suite, subject={"p": str(i)})
        assert mine == ref.seed(name, "expert", {"p": str(i)}, inputs)


@pytest.mark.parametrize("key_len", [1, 16, 32, 64, 65, 200])
def test_hmac_matches_standard_hmac_sha256_and_gmssl_hmac_sm3(key_len: int) -> None:
    key, msg = bytes(i * 7 % 256 for i in range(key_len)), b"sunbid message"
    assert hmac_digest("intl", key, msg) == hmac.new(key, msg, hashlib.sha256).digest()
    assert hmac_digest("gm", key, msg) == bytes(gmssl_pyx.sm3_hmac(key, msg))


# --- unbiased selection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_choose_index_is_uniform_over_many_seeds(suite: str) -> None:
    seeds = _seeds(7000, b"uniform7")
    counts = Counter(choose_index(s, 7, suite=suite) for s in seeds)
    assert set(counts) == set(range(7))
    assert _chi2(counts, 7, len(seeds)) < CHI2_DF6


@pytest.mark.parametrize("suite", SUITES)
def test_no_modulo_bias_where_a_naive_modulo_would_show_it(suite: str) -> None:
    """n = 192: one byte mod 192 would make 0..63 twice as likely; rejection sampling must not."""
    n, seeds = 192, _seeds(192 * 150, b"uniform192")
    drbgs = [Drbg(s, suite=suite) for s in seeds]
    counts = Counter(d.below(n) for d in drbgs)
    assert _chi2(counts, n, len(seeds)) < CHI2_DF191
    assert sum(d.rejections for d in drbgs) > len(seeds) // 5  # about a quarter of first bytes are ≥ 192
    naive = Counter(Drbg(s, suite=suite).read(1)[0] % n for s in seeds)
    assert _chi2(naive, n, len(seeds)) > 5 * CHI2_DF191  # the same test catches the biased method


@pytest.mark.parametrize("suite", SUITES)
def test_rejected_draw_moves_on_to_the_next_bytes(suite: str) -> None:
    """n = 5 uses 3 bits of a byte and rejects 5, 6, 7: find a seed whose first byte is rejected."""
    name = HASH[suite]
    for seed in _seeds(200, b"reject"):
        first, second = ref.stream(name, seed, 2)
        if first & 7 >= 5 and second & 7 < 5:
            drbg = Drbg(seed, suite=suite)
            assert drbg.below(5) == second & 7
            assert drbg.rejections == 1 and drbg.bytes_used == 2
            return
    pytest.fail("no seed with a rejected first byte among 200")


def test_powers_of_two_never_reject_and_one_candidate_reads_nothing() -> None:
    seeds = _seeds(300, b"pow2")
    drbgs = [Drbg(s, suite="intl") for s in seeds]
    assert {d.below(8) for d in drbgs} == set(range(8))
    assert all(d.rejections == 0 and d.bytes_used == 1 for d in drbgs)
    single = Drbg(seeds[0], suite="intl")
    assert single.below(1) == 0 and single.bytes_used == 0


@pytest.mark.parametrize("suite", SUITES)
def test_sample_is_distinct_and_a_permutation_prefix(suite: str) -> None:
    items = [f"expert-{i:03d}" for i in range(50)]
    for seed in _seeds(20, b"prefix"):
        full = sample_without_replacement(seed, items, 50, suite=suite)
        assert sorted(full) == items
        for k in (0, 1, 9, 20):
            part = sample_without_replacement(seed, items, k, suite=suite)
            assert len(set(part)) == k and part == full[:k]


@pytest.mark.parametrize("suite", SUITES)
def test_ordered_pairs_are_uniform(suite: str) -> None:
    seeds = _seeds(6000, b"pairs")
    counts = Counter(tuple(sample_indexes(s, 4, 2, suite=suite)) for s in seeds)
    pairs = sorted(counts)
    assert len(pairs) == 12 and all(a != b for a, b in pairs)
    as_index = Counter({i: counts[p] for i, p in enumerate(pairs)})
    assert _chi2(as_index, 12, len(seeds)) < CHI2_DF11


def test_sample_refuses_k_outside_the_population() -> None:
    seed = _seeds(1, b"k")[0]
    with pytest.raises(ValidationFailed) as e:
        sample_indexes(seed, 3, 4, suite="intl")
    assert e.value.code == "draw.bad_k"
    with pytest.raises(ValidationFailed) as e:
        choose_index(seed, 0, suite="intl")
    assert e.value.code == "draw.bad_n"
    with pytest.raises(ValidationFailed) as e:
        Drbg(seed[:31], suite="intl")
    assert e.value.code == "draw.bad_seed"


def test_draw_from_values_returns_the_chosen_index() -> None:
    seed = _kat_seed("intl")
    values = ["甲", "乙", "丙", "丁", "戊", "己", "庚"]
    assert draw_from_values(seed, values, suite="intl") == values[KAT["intl"]["index7"]]


# --- coefficients ---------------------------------------------------------------------------------------


def test_coefficient_set_is_exact_and_inclusive() -> None:
    values = coefficient_set("0.95", "0.98", "0.005")
    assert [str(v) for v in values] == ["0.950", "0.955", "0.960", "0.965", "0.970", "0.975", "0.980"]
    assert values == coefficient_set()
    assert all(isinstance(v, Decimal) for v in values)


@pytest.mark.parametrize(
    ("start", "stop", "step", "expected"),
    [
        ("2", "5", "0.5", ["2.0", "2.5", "3.0", "3.5", "4.0", "4.5", "5.0"]),  # Fujian r, percent
        ("-4", "-1", "0.5", ["-4.0", "-3.5", "-3.0", "-2.5", "-2.0", "-1.5", "-1.0"]),
        ("0.25", "1.5", "0.25", ["0.25", "0.50", "0.75", "1.00", "1.25", "1.50"]),  # Gansu 浮动点, percent
        ("0.97", "0.97", "0.01", ["0.97"]),
    ],
)
def test_coefficient_sets_of_the_rules(start: str, stop: str, step: str, expected: list[str]) -> None:
    assert [str(v) for v in coefficient_set(start, stop, step)] == expected


@pytest.mark.parametrize(
    ("start", "stop", "step", "code"),
    [
        ("0.95", "0.98", "0.007", "draw.bad_range"),
        ("0.98", "0.95", "0.005", "draw.bad_range"),
        ("0.95", "0.98", "0", "draw.bad_range"),
        ("0.95", "0.98", 0.005, "draw.bad_decimal"),
        ("0.95", "9.8e-1", "0.005", "draw.bad_decimal"),
        ("0.95", "NaN", "0.005", "draw.bad_decimal"),
        ("0", "1", "0.00001", "draw.bad_range"),
    ],
)
def test_bad_coefficient_ranges_are_refused(start: str, stop: object, step: object, code: str) -> None:
    with pytest.raises(ValidationFailed) as e:
        coefficient_set(start, stop, step)  # type: ignore[arg-type]
    assert e.value.code == code
    assert e.value.message_zh and e.value.message_en


def test_coefficient_draw_refuses_duplicate_values() -> None:
    with pytest.raises(ValidationFailed) as e:
        draw_coefficient(_kat_seed("intl"), [Decimal("0.95"), Decimal("0.950")], suite="intl")
    assert e.value.code == "draw.duplicate_candidate"


# --- commit–reveal and the seed -------------------------------------------------------------------------


@pytest.mark.parametrize("suite", SUITES)
def test_reveal_matches_only_the_committed_secret(suite: str) -> None:
    c = commit("coefficient", SUBJECT, "operator", SECRET, suite=suite)
    assert reveal_matches(c, SECRET, suite=suite)
    assert not reveal_matches(c, SECRET[:-1] + b"\x00", suite=suite)
    assert not reveal_matches(c, SECRET[:8], suite=suite)  # too short to be a secret at all
    other_suite = "gm" if suite == "intl" else "intl"
    assert not reveal_matches(c, SECRET, suite=other_suite)
    for other in (
        commit("expert", SUBJECT, "operator", SECRET, suite=suite),
        commit("coefficient", {**SUBJECT, "section": "02"}, "operator", SECRET, suite=suite),
        commit("coefficient", SUBJECT, "regulator", SECRET, suite=suite),
    ):
        assert other.value_hash != c.value_hash


def test_weak_secret_cannot_be_committed() -> None:
    with pytest.raises(ValidationFailed) as e:
        commit("coefficient", SUBJECT, "operator", b"123456", suite="intl")
    assert e.value.code == "draw.weak_secret"


@pytest.mark.parametrize("suite", SUITES)
def test_seed_ignores_input_order_but_not_any_input(suite: str) -> None:
    inputs = [SeedInput("operator", SECRET), sealed_bids_input(BIDS), SeedInput("beacon", b"\x07" * 32)]
    seed = derive_seed("coefficient", inputs, suite=suite, subject=SUBJECT)
    assert derive_seed("coefficient", inputs[::-1], suite=suite, subject=SUBJECT) == seed
    variants = [
        [SeedInput("operator", SECRET[:-1] + b"\xff"), *inputs[1:]],
        [inputs[0], sealed_bids_input([*BIDS[:2], b"\x44" * 32]), inputs[2]],
        [inputs[0], sealed_bids_input(BIDS[:2]), inputs[2]],
        [SeedInput("operator2", SECRET), *inputs[1:]],
        inputs[:2],
    ]
    for v in variants:
        assert derive_seed("coefficient", v, suite=suite, subject=SUBJECT) != seed
    assert derive_seed("expert", inputs, suite=suite, subject=SUBJECT) != seed
    assert derive_seed("coefficient", inputs, suite=suite, subject={"project": "x"}) != seed


def test_length_prefixes_keep_name_and_value_apart() -> None:
    a = derive_seed("expert", [SeedInput("ab", b"c")], suite="intl")
    b = derive_seed("expert", [SeedInput("a", b"bc")], suite="intl")
    assert a != b


def test_seed_input_rules() -> None:
    with pytest.raises(ValidationFailed) as e:
        derive_seed("coefficient", [SeedInput("x", b"1"), SeedInput("x", b"2")], suite="intl")
    assert e.value.code == "draw.duplicate_input"
    with pytest.raises(ValidationFailed) as e:
        derive_seed("coefficient", [], suite="intl")
    assert e.value.code == "draw.no_inputs"
    with pytest.raises(ValidationFailed) as e:
        derive_seed("Coefficient!", [SeedInput("x", b"1")], suite="intl")
    assert e.value.code == "draw.bad_purpose"
    with pytest.raises(ValidationFailed) as e:
        SeedInput("投标", b"1")
    assert e.value.code == "draw.bad_name"
    with pytest.raises(ValidationFailed) as e:
        SeedInput("x", b"")
    assert e.value.code == "draw.bad_input_value"


def test_sealed_bids_input_is_sorted_and_strict() -> None:
    assert sealed_bids_input(BIDS).value == b"\x11" * 32 + b"\x22" * 32 + b"\x33" * 32
    assert sealed_bids_input(BIDS).name == "sealed_bids"
    for bad, code in (
        ([], "draw.no_bids"),
        ([b"\x11" * 32, b"\x11" * 32], "draw.duplicate_bid_hash"),
        ([b"\x11" * 31], "draw.bad_bid_hash"),
    ):
        with pytest.raises(ValidationFailed) as e:
            sealed_bids_input(bad)
        assert e.value.code == code
