"""Helpers for the evaluation tests: method definitions built in code, bids from short tuples."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from sunbid.evaluation.methods import FORMAT, EvaluationMethod, parse_method
from sunbid.evaluation.price import Bid


def D(text: str) -> Decimal:
    return Decimal(text)


def deviation_def(**price: Any) -> dict[str, Any]:
    """A reasonable-low-price definition (price only) with the given price-rule fields."""
    rule: dict[str, Any] = {
        "formula": "deviation",
        "s_max": "100",
        "s_min": "0",
        "above_per_percent": "1",
        "below_per_percent": "0.5",
        "benchmark": {"average": "mean"},
    }
    rule.update(price)
    return {
        "format": FORMAT,
        "id": "test-deviation",
        "name_zh": "测试",
        "kind": "reasonable_low_price",
        "price": rule,
    }


def gp_def(**extra: Any) -> dict[str, Any]:
    """A procurement comprehensive-scoring definition (goods, weighted 0.5/0.2/0.3)."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "id": "test-gp",
        "name_zh": "测试综合评分",
        "kind": "gp_comprehensive",
        "category": "goods",
        "aggregation": "weighted",
        "factors": [
            {
                "id": "technical",
                "kind": "technical",
                "name_zh": "技术",
                "weight": "0.5",
                "max_points": "100",
                "items": [
                    {"id": "spec", "name_zh": "参数", "max_points": "60", "subjective": False},
                    {"id": "solution", "name_zh": "方案", "max_points": "40"},
                ],
            },
            {
                "id": "commercial",
                "kind": "commercial",
                "name_zh": "商务",
                "weight": "0.2",
                "max_points": "100",
                "items": [{"id": "service", "name_zh": "服务", "max_points": "100"}],
            },
            {"id": "price", "kind": "price", "name_zh": "价格", "weight": "0.3", "max_points": "100"},
        ],
        "price": {"formula": "lowest_ratio", "s_max": "100"},
        "ties": ["price_low"],
    }
    data.update(extra)
    return data


def build(data: dict[str, Any]) -> EvaluationMethod:
    return parse_method(copy.deepcopy(data))


def bids(*rows: tuple[str, str] | tuple[str, str, bool]) -> list[Bid]:
    out = []
    for row in rows:
        small = bool(row[2]) if len(row) > 2 else False  # type: ignore[misc]
        out.append(Bid(row[0], Decimal(row[1]), small))
    return out
