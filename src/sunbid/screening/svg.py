"""Server-side SVG plots of a tender's bids (no JavaScript, nothing fetched from elsewhere).

A "bid ladder": one horizontal bar per bid, lowest first, the winning bid highlighted, the estimate (control
price) as a dashed line. Values are escaped; the result is a complete ``<svg>`` element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any, Final

WIDTH: Final = 560
ROW: Final = 16
LEFT: Final = 36
RIGHT: Final = 120
TOP: Final = 22
MAX_ROWS: Final = 40
BAR: Final = "#4a6fa5"
WINNER: Final = "#c0392b"
ESTIMATE: Final = "#2d7d46"


def money(value: float) -> str:
    return f"{value:,.2f}"


def bids_svg(bids: Sequence[dict[str, Any]], *, english: bool = False, title: str = "") -> str:
    """The bid ladder of one tender; ``bids`` hold ``amount``, ``winner`` (1/0/None), ``estimate``, ``bidder``."""
    rows = sorted(
        (b for b in bids if isinstance(b.get("amount"), int | float) and math.isfinite(b["amount"])),
        key=lambda b: float(b["amount"]),
    )[:MAX_ROWS]
    estimates = [
        float(b["estimate"])
        for b in bids
        if isinstance(b.get("estimate"), int | float) and math.isfinite(b["estimate"]) and b["estimate"] > 0
    ]
    estimate = estimates[0] if estimates else None
    height = TOP + ROW * max(len(rows), 1) + 26
    label = title or ("Bids, lowest first" if english else "投标报价（由低到高）")
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bid-plot" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
    ]
    if not rows:
        out.append(f'<text x="{LEFT}" y="{TOP + 12}" font-size="12">{"no bids" if english else "无投标"}</text></svg>')
        return "".join(out)
    values = [float(b["amount"]) for b in rows] + ([estimate] if estimate else [])
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or hi * 0.02 or 1.0
    lo, hi = max(lo - pad, 0.0), hi + pad * 0.5
    span = WIDTH - LEFT - RIGHT

    def xpos(v: float) -> float:
        return LEFT + (v - lo) / (hi - lo) * span

    axis_y = TOP + ROW * len(rows) + 4
    out.append(f'<line x1="{LEFT}" y1="{TOP - 4}" x2="{LEFT}" y2="{axis_y}" stroke="#999" stroke-width="1"/>')
    for i, b in enumerate(rows):
        y = TOP + i * ROW
        amount = float(b["amount"])
        win = b.get("winner") == 1
        colour = WINNER if win else BAR
        w = max(xpos(amount) - LEFT, 1.0)
        who = b.get("bidder") or ""
        tip = f"{who} {money(amount)}" + ((" (winner)" if english else "（中标）") if win else "")
        out.append(
            f'<g class="bid{" winner" if win else ""}"><title>{escape(tip.strip())}</title>'
            f'<text x="{LEFT - 4}" y="{y + 11}" font-size="10" text-anchor="end" fill="#555">{i + 1}</text>'
            f'<rect x="{LEFT}" y="{y + 2}" width="{w:.1f}" height="{ROW - 4}" fill="{colour}" rx="2"/>'
            f'<text x="{LEFT + w + 4:.1f}" y="{y + 11}" font-size="10" fill="#333">{escape(money(amount))}</text></g>'
        )
    if estimate:
        ex = xpos(estimate)
        name = "estimate" if english else "控制价"
        out.append(
            f'<g class="estimate"><line x1="{ex:.1f}" y1="{TOP - 6}" x2="{ex:.1f}" y2="{axis_y}" '
            f'stroke="{ESTIMATE}" stroke-width="1.5" stroke-dasharray="4 3"/>'
            f'<text x="{ex:.1f}" y="{TOP - 9}" font-size="10" text-anchor="middle" fill="{ESTIMATE}">'
            f"{escape(name)} {escape(money(estimate))}</text></g>"
        )
    legend_y = axis_y + 16
    win_txt = "winning bid" if english else "中标价"
    other_txt = "other bids" if english else "其他投标"
    out.append(
        f'<rect x="{LEFT}" y="{legend_y - 9}" width="10" height="10" fill="{WINNER}"/>'
        f'<text x="{LEFT + 14}" y="{legend_y}" font-size="10">{win_txt}</text>'
        f'<rect x="{LEFT + 90}" y="{legend_y - 9}" width="10" height="10" fill="{BAR}"/>'
        f'<text x="{LEFT + 104}" y="{legend_y}" font-size="10">{other_txt}</text>'
    )
    out.append("</svg>")
    return "".join(out)
