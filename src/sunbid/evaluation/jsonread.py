"""Reading JSON definitions strictly: typed getters that name the field, exact decimals, no unknown keys.

Pure. Errors are ``ValidationFailed`` with ``details["field"]`` the dotted path of the field
(``factors[0].weight``) and the path in both messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from sunbid.core.errors import ValidationFailed

__all__ = ["JsonObject", "dec_text", "field_error", "to_decimal"]

_DECIMAL_RE: Final = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?")
_ID_RE: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


def dec_text(value: Decimal) -> str:
    """A decimal as plain text without exponent."""
    return format(value, "f")


def field_error(code: str, field: str, message_zh: str, message_en: str) -> ValidationFailed:
    """A method validation error naming ``field`` (a dotted path such as ``factors[0].weight``)."""
    where_zh = f"字段 {field}：" if field else ""
    where_en = f"field {field}: " if field else ""
    return ValidationFailed(code, where_zh + message_zh, where_en + message_en, details={"field": field})


def to_decimal(value: Any, field: str) -> Decimal:
    """An exact decimal from a JSON number (parsed as ``Decimal``), an ``int`` or a decimal string."""
    if isinstance(value, (bool, float)):
        raise field_error("method.bad_decimal", field, "须为十进制数（字符串或 JSON 数字）", "must be a decimal number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise field_error("method.bad_decimal", field, "不是有限的十进制数", "is not a finite decimal")
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL_RE.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            pass
    raise field_error("method.bad_decimal", field, f"不是十进制数：{value!r}", f"is not a decimal: {value!r}")


class JsonObject:
    """A JSON object being read: typed getters that name the field, and a check for unknown keys."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise field_error("method.bad_type", path, "须为 JSON 对象", "must be a JSON object")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data and self.data[key] is not None

    def raw(self, key: str, *, required: bool = True) -> Any:
        self.used.add(key)
        if not self.has(key):
            if required:
                raise field_error("method.missing_field", self.at(key), "缺少必填字段", "is required")
            return None
        return self.data[key]

    def text(self, key: str, *, required: bool = True, default: str = "", max_len: int = 200) -> str:
        value = self.raw(key, required=required)
        if value is None:
            return default
        if not isinstance(value, str) or not 1 <= len(value.strip()) <= max_len:
            raise field_error(
                "method.bad_text", self.at(key), f"须为 1–{max_len} 个字符的字符串", f"must be 1-{max_len} characters"
            )
        return value.strip()

    def ident(self, key: str) -> str:
        value = self.text(key, max_len=64)
        if not _ID_RE.fullmatch(value):
            raise field_error(
                "method.bad_id",
                self.at(key),
                f"标识 {value!r} 须为小写字母、数字或 _ . -",
                f"identifier {value!r} must be lower-case letters, digits or _ . -",
            )
        return value

    def dec(
        self,
        key: str,
        *,
        default: Decimal | None = None,
        lo: Decimal | None = None,
        hi: Decimal | None = None,
        lo_open: bool = False,
    ) -> Decimal:
        value = self.raw(key, required=default is None)
        d = default if value is None else to_decimal(value, self.at(key))
        assert d is not None
        too_low = lo is not None and (d <= lo if lo_open else d < lo)
        if too_low or (hi is not None and d > hi):
            left = "(" if lo_open else "["
            lo_txt = "-∞" if lo is None else dec_text(lo)
            hi_txt = "+∞" if hi is None else dec_text(hi)
            raise field_error(
                "method.out_of_range",
                self.at(key),
                f"取值 {dec_text(d)} 不在 {left}{lo_txt}, {hi_txt}] 范围内",
                f"value {dec_text(d)} is outside {left}{lo_txt}, {hi_txt}]",
            )
        return d

    def integer(self, key: str, *, default: int, lo: int, hi: int) -> int:
        value = self.raw(key, required=False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise field_error(
                "method.out_of_range", self.at(key), f"须为 {lo}–{hi} 的整数", f"must be an integer {lo}-{hi}"
            )
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self.raw(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise field_error("method.bad_type", self.at(key), "须为 true 或 false", "must be true or false")
        return value

    def choice(self, key: str, options: Sequence[str], *, default: str | None = None) -> str:
        value = self.raw(key, required=default is None)
        if value is None:
            assert default is not None
            return default
        if value not in options:
            raise field_error(
                "method.bad_choice",
                self.at(key),
                f"取值 {value!r} 无效，可选：{', '.join(options)}",
                f"value {value!r} is not one of: {', '.join(options)}",
            )
        return str(value)

    def obj(self, key: str, *, required: bool = False) -> JsonObject | None:
        value = self.raw(key, required=required)
        return None if value is None else JsonObject(value, self.at(key))

    def items(self, key: str) -> list[tuple[str, Any]]:
        value = self.raw(key, required=False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise field_error("method.bad_type", self.at(key), "须为 JSON 数组", "must be a JSON array")
        return [(f"{self.at(key)}[{i}]", v) for i, v in enumerate(value)]

    def done(self) -> None:
        unknown = sorted(k for k in self.data if k not in self.used)
        if unknown:
            raise field_error(
                "method.unknown_field",
                self.at(unknown[0]),
                f"未知字段（{', '.join(unknown)}），请检查拼写",
                f"unknown field(s) {', '.join(unknown)}: check the spelling",
            )
