"""Unified social credit code (统一社会信用代码, GB 32100-2015) validation and generation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunbid.core.errors import ErrorKind, ValidationFailed
from sunbid.identity.domain import (
    REGISTRATION_AUTHORITIES,
    USCC_ALPHABET,
    make_uscc,
    org_code_check_char,
    parse_uscc,
    uscc_check_char,
    validate_uscc,
)

# Published codes of real organisations; each passes both its GB 11714 and its GB 32100 check, which a
# misremembered code would do by chance about once in 341 tries.
PUBLISHED = [
    "91350100M000100Y43",  # the widely published example code
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91330100799655058B",  # 阿里巴巴（中国）有限公司
    "91110000710925462X",  # 中国石油天然气股份有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91110000802100433B",  # 百度在线网络技术（北京）有限公司
    "12100000400000624D",  # a central public institution (事业单位), division code 100000
]

valid_codes = st.one_of(
    st.sampled_from(PUBLISHED),
    st.integers(min_value=0, max_value=10**8 - 1).map(make_uscc),
)


def reason_of(code: str) -> str:
    with pytest.raises(ValidationFailed) as caught:
        validate_uscc(code)
    assert caught.value.code == "identity.uscc_invalid"
    reason: str = caught.value.details["reason"]
    return reason


@pytest.mark.parametrize("code", PUBLISHED)
def test_accepts_published_codes(code: str) -> None:
    assert validate_uscc(code) == code


def test_known_check_characters_are_computed() -> None:
    assert uscc_check_char("91350100M000100Y4") == "3"
    assert uscc_check_char("91440300708461136") == "T"
    assert org_code_check_char("M000100Y") == "4"
    assert org_code_check_char("19220382") == "1"


def test_org_code_check_maps_ten_to_x_and_eleven_to_zero() -> None:
    assert org_code_check_char("00000006") == "X"  # 6×2 = 12 ≡ 1 (mod 11) → 11 − 1 = 10 → X
    assert org_code_check_char("00000000") == "0"  # 0 → 11 − 0 = 11 → 0


def test_normalises_case_spaces_and_full_width_characters() -> None:
    assert validate_uscc("  91350100m000100y43\n") == "91350100M000100Y43"
    assert validate_uscc("９１３５０１００Ｍ０００１００Ｙ４３") == "91350100M000100Y43"


def test_parse_names_the_parts() -> None:
    parsed = parse_uscc("91350100M000100Y43")
    assert parsed.authority.name_zh == "工商"
    assert parsed.org_type_zh == "企业"
    assert parsed.org_type_en == "enterprise"
    assert parsed.region_code == "350100"
    assert parsed.org_code == "M000100Y-4"


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433", "9135 0100M000100Y43"])
def test_rejects_wrong_length_and_says_so(code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_uscc(code)
    error = caught.value
    assert error.details["reason"] == "length"
    assert error.details["expected"] == 18
    assert error.kind is ErrorKind.INVALID
    assert "18" in error.message_zh
    assert "18" in error.message_en


@pytest.mark.parametrize("bad", ["I", "O", "Z", "S", "V", "-", "中"])
def test_rejects_characters_outside_the_alphabet_with_their_position(bad: str) -> None:
    code = "91350100M000100Y43"
    corrupted = code[:9] + bad + code[10:]
    with pytest.raises(ValidationFailed) as caught:
        validate_uscc(corrupted)
    assert caught.value.details == {"reason": "character", "position": 10, "character": bad}
    assert "第 10 位" in caught.value.message_zh


def test_rejects_unknown_registration_authority() -> None:
    assert reason_of("B1350100M000100Y43") == "authority"


@pytest.mark.parametrize("prefix", ["94", "Y2", "58", "1A"])
def test_rejects_organisation_type_the_authority_does_not_issue(prefix: str) -> None:
    assert reason_of(prefix + "350100M000100Y43") == "org_type"


def test_rejects_letters_in_the_division_code() -> None:
    assert reason_of("9135010AM000100Y43") == "region_code"


def test_rejects_a_wrong_organisation_code_check_even_if_the_last_check_fits() -> None:
    first17 = "91350100M000100Y" + "5"  # the organisation code's own check should be 4
    code = first17 + uscc_check_char(first17)
    assert reason_of(code) == "org_code_check"


def test_rejects_a_wrong_check_character() -> None:
    assert reason_of("91350100M000100Y44") == "check_char"


def test_rejects_non_text() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_uscc(91350100)  # type: ignore[arg-type]
    assert caught.value.details["reason"] == "not_text"


@given(valid_codes, st.integers(min_value=0, max_value=17), st.sampled_from(USCC_ALPHABET))
def test_any_single_character_change_is_detected(code: str, position: int, replacement: str) -> None:
    if code[position] == replacement:
        replacement = USCC_ALPHABET[(USCC_ALPHABET.index(replacement) + 1) % len(USCC_ALPHABET)]
    corrupted = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(ValidationFailed):
        validate_uscc(corrupted)


@given(valid_codes, st.integers(min_value=0, max_value=15))
def test_any_swap_of_two_different_neighbours_is_detected(code: str, position: int) -> None:
    a, b = code[position], code[position + 1]
    if a == b:
        return
    swapped = code[:position] + b + a + code[position + 2 :]
    with pytest.raises(ValidationFailed):
        validate_uscc(swapped)


@given(st.integers(min_value=0, max_value=10**8 - 1))
def test_made_codes_are_valid_and_deterministic(serial: int) -> None:
    code = make_uscc(serial)
    assert validate_uscc(code) == code
    assert make_uscc(serial) == code
    assert code[8:16] == f"{serial:08d}"


def test_made_codes_carry_the_requested_parts() -> None:
    code = make_uscc(42, region_code="341702", authority="5", org_type="3")
    parsed = parse_uscc(code)
    assert parsed.region_code == "341702"
    assert parsed.authority.code == "5"
    assert parsed.org_type_zh == "基金会"
    assert make_uscc(1) != make_uscc(2)


def test_making_a_code_with_parts_outside_the_tables_fails() -> None:
    with pytest.raises(ValidationFailed):
        make_uscc(1, authority="9", org_type="9")
    with pytest.raises(ValueError, match="serial"):
        make_uscc(10**8)
    with pytest.raises(ValueError, match="serial"):
        make_uscc(-1)


def test_check_char_helper_rejects_wrong_input() -> None:
    with pytest.raises(ValidationFailed) as caught:
        uscc_check_char("9135")
    assert caught.value.details["reason"] == "length"
    with pytest.raises(ValidationFailed) as caught:
        uscc_check_char("91350100M000100I4")
    assert caught.value.details["reason"] == "character"


def test_authority_table_matches_the_standard() -> None:
    assert set(REGISTRATION_AUTHORITIES) == set("123456789ANY")
    assert set(REGISTRATION_AUTHORITIES["9"].org_types) == {"1", "2", "3"}
    assert set(REGISTRATION_AUTHORITIES["5"].org_types) == {"1", "2", "3", "9"}
    assert set(REGISTRATION_AUTHORITIES["Y"].org_types) == {"1"}
    assert all(c in USCC_ALPHABET for a in REGISTRATION_AUTHORITIES.values() for c in (a.code, *a.org_types))
