"""Canonical JSON: one byte string per value, so a log entry hashes the same everywhere.

The encoding is RFC 8785 (JSON Canonicalization Scheme) restricted to the values sunbid logs:

* objects with string keys, sorted by their UTF-16 code units (as RFC 8785 §3.2.3 says; this equals code point
  order except when a key mixes characters above U+FFFF with ones in U+E000–U+FFFF);
* arrays (lists or tuples), strings, ``true``/``false``/``null``;
* integers in the I-JSON safe range ``-(2**53 - 1) .. 2**53 - 1`` only. Floats are rejected: money travels
  as a decimal string (``"1234.50"``), and an integer outside the safe range would be rounded by a
  JavaScript or other IEEE-754 verifier, giving it different bytes.

No whitespace; strings are UTF-8, not ``\\u``-escaped (Chinese stays Chinese); only ``"``, ``\\`` and
control characters are escaped, ``\\b \\f \\n \\r \\t`` by name and the rest as ``\\u00xx`` (lower-case
hex), exactly as RFC 8785 §3.2.2.2 requires. Lone surrogates cannot be UTF-8 and are rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias

__all__ = ["MAX_SAFE_INTEGER", "CanonicalJSONError", "JsonValue", "canonical_json"]

JsonValue: TypeAlias = "str | int | bool | Sequence[JsonValue] | Mapping[str, JsonValue] | None"
"""What :func:`canonical_json` accepts (checked at run time too)."""

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude accepted: the I-JSON / JavaScript safe-integer limit (RFC 7493 §2.2)."""


class CanonicalJSONError(ValueError):
    """The value cannot be encoded canonically (float, unsafe integer, non-string key, unsupported type)."""


def _refuse(obj: object) -> object:
    raise TypeError(f"type {type(obj).__name__} is not allowed")


def _make_encoder() -> Callable[[object], str]:
    """``json``'s C encoder built once, with the canonical settings and no circular-reference bookkeeping.

    Building it per call (as ``json.dumps`` does) costs about a third of the time for a typical entry. Without
    markers a cycle ends in ``RecursionError``, which :func:`canonical_json` reports. Falls back to the
    pure-Python encoder where the C one is missing.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(
            ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"), default=_refuse
        ).encode
    iterencode = make(None, _refuse, json.encoder.encode_basestring, None, ":", ",", True, False, False)

    def encode(obj: object) -> str:
        return "".join(iterencode(obj, 0))

    return encode


_encode = _make_encoder()


def canonical_json(obj: JsonValue) -> bytes:
    """Encode ``obj`` as canonical JSON (RFC 8785 style) in UTF-8.

    Raises :class:`CanonicalJSONError` (a ``ValueError``) for floats, integers beyond ±(2**53 - 1), non-string
    object keys, lone surrogates, circular references and any type other than ``dict``/``list``/``tuple``/
    ``str``/``int``/``bool``/``None`` (so ``Decimal``, ``bytes``, ``datetime`` must be converted first).
    """
    try:
        text = _encode(obj)  # rejects unsupported types and cycles, so the walk below terminates
    except RecursionError as exc:
        raise CanonicalJSONError("value is circular or nested too deeply") from exc
    except (TypeError, ValueError) as exc:
        raise CanonicalJSONError(f"cannot encode as canonical JSON: {exc}") from exc
    if _check(obj):
        try:
            text = _encode_utf16_order(obj)
        except RecursionError as exc:  # pragma: no cover - only for pathologically deep values
            raise CanonicalJSONError("value is nested too deeply") from exc
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("string contains a lone surrogate, which is not valid UTF-8") from exc


def _bad_int(value: int) -> CanonicalJSONError:
    return CanonicalJSONError(f"integer {value} is outside the safe range ±{MAX_SAFE_INTEGER}")


def _check(root: object) -> bool:
    """Reject what ``json`` accepts but canonical JSON does not; True if some key needs UTF-16 ordering.

    Only called after ``json`` encoded ``root``: the value is acyclic and made of dict/list/tuple/str/int/
    float/bool/None (or subclasses), so only floats, unsafe integers and non-string keys are left to catch.
    Written as a flat loop with the common scalar cases inlined, since it runs for every log entry.
    """
    lo, hi = -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER
    astral_keys = False
    stack: list[object] = [root]
    pop, push = stack.pop, stack.append
    while stack:
        o = pop()
        t = type(o)
        if t is dict:
            assert isinstance(o, dict)
            for k, v in o.items():
                if type(k) is not str and not isinstance(k, str):
                    raise CanonicalJSONError(f"object key {k!r} is not a string")
                if not astral_keys and not k.isascii():
                    astral_keys = any(ord(c) > 0xFFFF for c in k)
                tv = type(v)
                if tv is str or v is None or tv is bool:
                    continue
                if tv is int:
                    if lo <= v <= hi:
                        continue
                    raise _bad_int(v)
                push(v)
        elif t is list or t is tuple:
            assert isinstance(o, list | tuple)
            for v in o:
                tv = type(v)
                if tv is str or v is None or tv is bool:
                    continue
                if tv is int:
                    if lo <= v <= hi:
                        continue
                    raise _bad_int(v)
                push(v)
        elif isinstance(o, float):
            raise CanonicalJSONError(f"float {o!r} is not allowed: write money and decimals as strings")
        elif isinstance(o, bool) or o is None or isinstance(o, str):
            pass
        elif isinstance(o, int):
            if not lo <= o <= hi:
                raise _bad_int(o)
        elif isinstance(o, dict):
            push(dict(o))  # a subclass: check it as a plain dict
        elif isinstance(o, list | tuple):
            push(list(o))
        else:  # pragma: no cover - json.dumps has already refused anything else
            raise CanonicalJSONError(f"unsupported type {type(o).__name__}")
    return astral_keys


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _encode_utf16_order(obj: object) -> str:
    """Slow path: the same encoding with object keys sorted by UTF-16 code units (RFC 8785 §3.2.3)."""
    if isinstance(obj, dict):
        items = sorted(obj.items(), key=lambda kv: _utf16_key(kv[0]))
        return "{" + ",".join(_encode(k) + ":" + _encode_utf16_order(v) for k, v in items) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(_encode_utf16_order(v) for v in obj) + "]"
    return _encode(obj)
