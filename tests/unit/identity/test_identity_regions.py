"""Administrative divisions (行政区划, GB/T 2260): lookup, tree, containment, search and the shipped table."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sunbid.core.errors import ValidationFailed
from sunbid.identity import regions
from sunbid.identity.regions import Region, RegionBook, RegionLevel, code_contains

BOOK = RegionBook.load_default()
ALL_CODES = [r.code for r in BOOK]


def names(found: tuple[Region, ...]) -> list[str]:
    return [r.name for r in found]


def test_the_table_covers_the_country() -> None:
    assert len(BOOK.provinces()) == 34  # 31 mainland, Hong Kong, Macao, Taiwan
    assert sum(1 for r in BOOK if r.level is RegionLevel.CITY) == 333
    assert sum(1 for r in BOOK if r.level is RegionLevel.COUNTY) == 2845
    assert BOOK.data_as_of == "2025-12-31"


@pytest.mark.parametrize(
    ("code", "name", "level", "parent"),
    [
        ("110000", "北京市", RegionLevel.PROVINCE, None),
        ("340000", "安徽省", RegionLevel.PROVINCE, None),
        ("341700", "池州市", RegionLevel.CITY, "340000"),
        ("341702", "贵池区", RegionLevel.COUNTY, "341700"),
        ("370100", "济南市", RegionLevel.CITY, "370000"),
        ("530600", "昭通市", RegionLevel.CITY, "530000"),
        ("230300", "鸡西市", RegionLevel.CITY, "230000"),
        ("110101", "东城区", RegionLevel.COUNTY, "110000"),
        ("419001", "济源市", RegionLevel.COUNTY, "410000"),
    ],
)
def test_looks_up_regions_by_code(code: str, name: str, level: RegionLevel, parent: str | None) -> None:
    assert BOOK.get(code) == Region(code, name, level, parent)


def test_lookup_ignores_surrounding_spaces() -> None:
    assert BOOK.get(" 341700 ").name == "池州市"


def test_children_go_one_level_down_in_code_order() -> None:
    anhui = BOOK.children("340000")
    assert "池州市" in names(anhui)
    assert all(r.parent_code == "340000" for r in anhui)
    assert [r.code for r in anhui] == sorted(r.code for r in anhui)
    assert "贵池区" in names(BOOK.children("341700"))
    assert BOOK.children("341702") == ()


def test_path_runs_from_province_to_the_region() -> None:
    assert names(BOOK.path("341702")) == ["安徽省", "池州市", "贵池区"]
    assert names(BOOK.path("341700")) == ["安徽省", "池州市"]
    assert names(BOOK.path("340000")) == ["安徽省"]
    assert names(BOOK.path("110101")) == ["北京市", "东城区"]  # municipality: no city level
    assert BOOK.full_name("530602") == "云南省昭通市昭阳区"


@pytest.mark.parametrize(
    ("ancestor", "code", "expected"),
    [
        ("340000", "341702", True),
        ("341700", "341702", True),
        ("341702", "341702", True),
        ("340000", "340000", True),
        ("341702", "341700", False),
        ("341700", "340000", False),
        ("370000", "341702", False),
        ("370100", "370200", False),
        ("110000", "120101", False),
        ("410000", "419001", True),
    ],
)
def test_contains_follows_the_tree(ancestor: str, code: str, expected: bool) -> None:
    assert BOOK.contains(ancestor, code) is expected
    assert code_contains(ancestor, code) is expected


@pytest.mark.parametrize("call", ["get", "children", "path"])
@pytest.mark.parametrize("code", ["999999", "341799", "abc", "", "3417000"])
def test_unknown_codes_are_rejected(call: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        getattr(BOOK, call)(code)
    assert caught.value.code == "identity.region_unknown"
    assert caught.value.details == {"code": code}
    assert code in caught.value.message_zh


def test_containment_with_an_unknown_code_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        BOOK.contains("340000", "349999")
    with pytest.raises(ValidationFailed):
        BOOK.contains("349900", "341702")


def test_search_puts_exact_names_first_then_prefixes() -> None:
    assert names(BOOK.search("池州")) == ["池州市"]
    chengqu = BOOK.search("城区")  # 东城区 (110101) has a lower code than any 城区, but ranks after them
    exact = [r for r in chengqu if r.name == "城区"]
    assert len(exact) >= 2
    assert list(chengqu[: len(exact)]) == exact
    assert "东城区" in names(chengqu[len(exact) :])
    an = BOOK.search("安")
    starts = [r.name.startswith("安") for r in an]
    assert starts == sorted(starts, reverse=True)  # every prefix match before every other match
    assert "安徽省" in names(an)
    assert "西安市" in names(an)
    assert [r.code for r in an if r.name.startswith("安")] == sorted(r.code for r in an if r.name.startswith("安"))


def test_search_by_code_empty_query_and_limit() -> None:
    assert names(BOOK.search("341702")) == ["贵池区"]
    assert BOOK.search("999999") == ()
    assert BOOK.search("   ") == ()
    assert len(BOOK.search("区", limit=5)) == 5
    assert BOOK.search("不存在的地方") == ()


def test_every_row_nests_and_the_code_rule_agrees_with_the_tree() -> None:
    for region in BOOK:
        path_codes = {r.code for r in BOOK.path(region.code)}
        candidates = {region.code[:2] + "0000", region.code[:4] + "00", region.code}
        assert {c for c in candidates if c in BOOK} == path_codes, region
        assert all(code_contains(c, region.code) for c in path_codes)
        if region.level is RegionLevel.COUNTY:
            assert BOOK.get(region.parent_code or "").level in {RegionLevel.CITY, RegionLevel.PROVINCE}
        elif region.level is RegionLevel.CITY:
            assert BOOK.get(region.parent_code or "").level is RegionLevel.PROVINCE
        else:
            assert region.parent_code is None


@given(st.sampled_from(ALL_CODES), st.sampled_from(ALL_CODES))
def test_code_rule_and_tree_agree_on_any_pair(ancestor: str, code: str) -> None:
    assert code_contains(ancestor, code) == BOOK.contains(ancestor, code)


@pytest.mark.parametrize(("ancestor", "code"), [("34000", "341702"), ("340000", None), ("000000", "000000")])
def test_code_rule_treats_malformed_codes_as_outside(ancestor: str, code: str | None) -> None:
    assert code_contains(ancestor, code) is False  # type: ignore[arg-type]


def test_default_book_is_cached_and_loads_fast() -> None:
    assert RegionBook.load_default() is BOOK
    timings = []
    for _ in range(3):
        regions._load_default.cache_clear()
        start = time.perf_counter()
        fresh = RegionBook.load_default()
        timings.append(time.perf_counter() - start)
    assert len(fresh) == len(BOOK)
    assert min(timings) < 0.1


def test_book_rejects_broken_tables() -> None:
    province = Region("340000", "安徽省", RegionLevel.PROVINCE, None)
    with pytest.raises(ValueError, match="unknown parent"):
        RegionBook([province, Region("341700", "池州市", RegionLevel.CITY, "350000")])
    with pytest.raises(ValueError, match="duplicate"):
        RegionBook([province, province])
    with pytest.raises(ValueError, match="malformed"):
        RegionBook([Region("34", "安徽省", RegionLevel.PROVINCE, None)])
    with pytest.raises(ValueError, match="nest"):
        RegionBook([province, Region("350100", "福州市", RegionLevel.CITY, "340000")])
    with pytest.raises(ValueError, match="not a province"):
        RegionBook([Region("341700", "池州市", RegionLevel.CITY, None)])
    with pytest.raises(ValueError, match="header"):
        RegionBook.from_csv_text("code,name\n340000,安徽省\n")


def test_csv_parser_reads_comments_and_rows() -> None:
    book = RegionBook.from_csv_text(
        "# data_as_of: 2030-01-01\ncode,name,level,parent_code\n340000,安徽省,province,\n341700,池州市,city,340000\n"
    )
    assert book.data_as_of == "2030-01-01"
    assert names(book.path("341700")) == ["安徽省", "池州市"]
    assert "341700" in book
    assert "341702" not in book
