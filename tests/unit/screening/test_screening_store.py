"""Stored imports under <data_dir>/screening and the SVG bid plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunbid.core.errors import NotFound, ValidationFailed
from sunbid.screening.io import parse_csv_text
from sunbid.screening.service import ScreeningStore, default_name, score
from sunbid.screening.svg import bids_svg

CSV = (
    "tender_id,bidder_id,bid_amount,is_winner,estimate\n"
    "A,x,100,1,120\nA,y,101,0,120\nA,z,103,0,120\nB,x,90,0,\nB,y,80,1,\nB,w,130,0,\n"
)


def test_saved_imports_are_listed_and_reloaded(tmp_path: Path) -> None:
    store = ScreeningStore.of_data_dir(tmp_path)
    data = parse_csv_text(CSV)
    summary = store.save("first", "f.csv", data, score(data))
    assert summary["method"] == "unsupervised" and summary["tenders"] == 2
    doc = store.load("first")
    assert [r["rank"] for r in doc["scores"]] == [1, 2]
    assert {b["amount"] for b in doc["bids"]["A"]} == {100.0, 101.0, 103.0}
    (tmp_path / "screening" / "broken.json").write_text("{not json", encoding="utf-8")
    assert [i["name"] for i in store.list()] == ["first"]
    with pytest.raises(ValidationFailed):
        store.load("broken")
    with pytest.raises(NotFound):
        store.load("absent")


@pytest.mark.parametrize("name", ["../x", "a/b", "", "x" * 65, "名字"])
def test_import_names_cannot_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        ScreeningStore.of_data_dir(tmp_path).load(name)
    assert info.value.code == "screen.bad_name"


def test_default_names_are_safe() -> None:
    assert default_name(Path("/tmp/巴西 data (2).csv")) == "data-2"
    assert default_name(Path("中文.csv")) == "import"


def test_bid_plot_marks_the_winner_and_the_estimate_and_escapes_text() -> None:
    svg = bids_svg(
        [
            {"amount": 120.0, "winner": 0, "estimate": 150.0, "bidder": "<script>"},
            {"amount": 100.0, "winner": 1, "estimate": 150.0, "bidder": "甲"},
        ]
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count('<g class="bid') == 2 and svg.count('class="bid winner"') == 1
    assert svg.index("100.00") < svg.index("120.00")  # lowest first
    assert "控制价 150.00" in svg and "<script>" not in svg and "&lt;script&gt;" in svg
    assert "无投标" in bids_svg([]) and "no bids" in bids_svg([], english=True)
