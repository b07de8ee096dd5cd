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
                    {
                        "id": "spec",
                        "name_zh": "参数",
                        "max_points": "60",
                        "subjective": False,
                        "rule": {"kind": "count", "field": "extra.参数满足项数", "per_unit": "6"},
                    },
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


def objective_def(*items: dict[str, Any]) -> dict[str, Any]:
    """A points-aggregated comprehensive method whose technical factor holds ``items`` (objective or not)."""
    total = sum((Decimal(str(i["max_points"])) for i in items), Decimal(0))
    return {
        "format": FORMAT,
        "id": "test-objective",
        "name_zh": "客观项测试",
        "kind": "comprehensive",
        "aggregation": "points",
        "factors": [
            {"id": "technical", "kind": "technical", "name_zh": "技术", "max_points": str(total), "items": list(items)},
            {"id": "price", "kind": "price", "name_zh": "价格", "max_points": "60"},
        ],
        "price": {
            "formula": "deviation",
            "s_max": "60",
            "above_per_percent": "1",
            "below_per_percent": "0.5",
            "benchmark": {"average": "mean"},
        },
    }


def rule_item(item_id: str, max_points: str, rule: dict[str, Any], name_zh: str = "客观项") -> dict[str, Any]:
    """An objective item with ``rule``."""
    return {"id": item_id, "name_zh": name_zh, "max_points": max_points, "subjective": False, "rule": rule}


def build(data: dict[str, Any]) -> EvaluationMethod:
    return parse_method(copy.deepcopy(data))


def bids(*rows: tuple[str, str] | tuple[str, str, bool]) -> list[Bid]:
    out = []
    for row in rows:
        small = bool(row[2]) if len(row) > 2 else False  # type: ignore[misc]
        out.append(Bid(row[0], Decimal(row[1]), small))
    return out
