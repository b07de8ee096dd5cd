"""Canonical JSON: one encoding per value, UTF-8 text, no floats."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from enum import IntEnum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunbid.ledger.canonical import MAX_SAFE_INTEGER, CanonicalJSONError, canonical_json


def test_keys_are_sorted_and_there_is_no_whitespace() -> None:
    value: dict[str, Any] = {"b": 1, "a": {"z": [3, 2, 1], "y": None}, "c": True}
    assert canonical_json(value) == b'{"a":{"y":null,"z":[3,2,1]},"b":1,"c":true}'


def test_chinese_text_stays_utf8() -> None:
    value = {"项目名称": "某市第一中学教学楼建设工程施工招标", "金额": "1234567.89"}
    encoded = canonical_json(value)
    assert encoded == '{"金额":"1234567.89","项目名称":"某市第一中学教学楼建设工程施工招标"}'.encode()
    assert b"\\u" not in encoded


def test_only_quotes_backslashes_and_control_characters_are_escaped() -> None:
    text = 'q"b\\\b\f\n\r\t\x01\x1f\x7f\u2028é😀'
    assert canonical_json(text) == b'"q\\"b\\\\\\b\\f\\n\\r\\t\\u0001\\u001f' + '\x7f\u2028é😀"'.encode()


def test_key_order_follows_utf16_code_units_as_rfc8785_requires() -> None:
    # The sorting example of RFC 8785 §3.2.3.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    order = list(json.loads(canonical_json(value)))
    assert order == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    assert canonical_json([{"\uffff": 1, "\U0001f600": 2}]) == '[{"😀":2,"\uffff":1}]'.encode()


def test_floats_are_rejected_wherever_they_hide() -> None:
    finite: list[Any] = [1.0, 0.1, -0.0, {"amount": 12.5}, [1, [2, [3.0]]], {"a": {"b": 1e300}}, ("t", 2.0)]
    for value in finite:
        with pytest.raises(CanonicalJSONError, match="decimals as strings"):
            canonical_json(value)
    for special in [float("nan"), float("inf"), {"x": [float("-inf")]}]:
        with pytest.raises(CanonicalJSONError, match="Out of range float"):
            canonical_json(special)  # type: ignore[arg-type]


def test_integers_beyond_the_safe_range_are_rejected() -> None:
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0]) == b"[9007199254740991,-9007199254740991,0]"
    for value in (2**53, -(2**53), {"n": 2**64}, [10**30]):
        with pytest.raises(CanonicalJSONError, match="safe range"):
            canonical_json(value)


def test_other_types_and_non_string_keys_are_rejected() -> None:
    bad: list[Any] = [
        Decimal("1.50"),
        b"bytes",
        {1: "a"},
        {None: 1},
        {1: "a", "b": 2},
        {"s": {1, 2}},
        object(),
    ]
    for value in bad:
        with pytest.raises(CanonicalJSONError):
            canonical_json(value)


def test_circular_values_and_lone_surrogates_are_rejected() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(CanonicalJSONError, match="circular"):
        canonical_json(loop)
    with pytest.raises(CanonicalJSONError, match="surrogate"):
        canonical_json("\ud800")


def test_booleans_stay_booleans_and_int_enums_become_numbers() -> None:
    class Level(IntEnum):
        HIGH = 3

    assert canonical_json([True, False, None, Level.HIGH, ("t", 1)]) == b'[true,false,null,3,["t",1]]'


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


@given(value=json_values, seed=st.integers())
def test_encoding_is_independent_of_key_insertion_order_and_round_trips(value: Any, seed: int) -> None:
    encoded = canonical_json(value)
    assert canonical_json(shuffled(value, random.Random(seed))) == encoded
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded
