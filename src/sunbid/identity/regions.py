"""Administrative divisions (行政区划, GB/T 2260): province → city → county, with 6-digit codes.

Every organisation belongs to a region and a centre serves one; regulators see their region and the regions
inside it. The national table ships as ``data/regions.csv`` (see ``data/README.md`` for its source and date)
and is loaded once per process by :meth:`RegionBook.load_default`.

Codes nest by prefix: a province is ``xx0000``, its cities ``xxyy00``, their counties ``xxyyzz``. Counties of
the four municipalities and county-level divisions governed directly by a province (``xx90zz``) hang on the
province itself, so a path has two or three steps. :func:`code_contains` decides containment from the codes
alone (no table needed), which is what the permission check uses; :meth:`RegionBook.contains` does the same
for codes it knows and rejects codes it does not.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources

from sunbid.core.errors import ValidationFailed

__all__ = [
    "Region",
    "RegionBook",
    "RegionLevel",
    "code_contains",
    "is_region_code",
]

_CODE_RE = re.compile(r"[0-9]{6}")


class RegionLevel(StrEnum):
    """The three levels of the table (省级 / 地级 / 县级)."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"

    @property
    def label_zh(self) -> str:
        """Chinese name of the level."""
        return _LEVEL_LABELS[self]


_LEVEL_LABELS: dict[RegionLevel, str] = {
    RegionLevel.PROVINCE: "省级",
    RegionLevel.CITY: "地级",
    RegionLevel.COUNTY: "县级",
}


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative division: its code, Chinese name, level and the code of the division above it."""

    code: str
    name: str
    level: RegionLevel
    parent_code: str | None


def is_region_code(code: object) -> bool:
    """Whether ``code`` has the shape of a division code (six ASCII digits, not all zero)."""
    return isinstance(code, str) and _CODE_RE.fullmatch(code) is not None and code != "000000"


def code_contains(ancestor_code: str, code: str) -> bool:
    """Whether the region ``ancestor_code`` is ``code`` itself or contains it, judged from the codes alone.

    A province ``xx0000`` contains every code starting ``xx``; a city ``xxyy00`` every code starting ``xxyy``;
    a county only itself. Malformed codes contain nothing and are contained by nothing. This agrees with the
    parent links of the national table (the tests check every row) and needs no data, so the permission check
    can call it on every request.
    """
    if not (is_region_code(ancestor_code) and is_region_code(code)):
        return False
    if ancestor_code[2:] == "0000":
        return code[:2] == ancestor_code[:2]
    if ancestor_code[4:] == "00":
        return code[:4] == ancestor_code[:4]
    return code == ancestor_code


def _unknown(code: object) -> ValidationFailed:
    return ValidationFailed(
        "identity.region_unknown",
        f"未知的行政区划代码：{code}",
        f"Unknown administrative division code: {code}",
        details={"code": code if isinstance(code, str) else repr(code)},
    )


class RegionBook:
    """The table of divisions, indexed by code and by parent; immutable once built."""

    __slots__ = ("_by_code", "_children", "_ordered", "data_as_of")

    def __init__(self, regions: Iterable[Region], *, data_as_of: str | None = None) -> None:
        """Build a book from regions; every parent must be in it, and codes must be unique and well formed."""
        by_code: dict[str, Region] = {}
        for region in regions:
            if not is_region_code(region.code):
                raise ValueError(f"malformed region code {region.code!r}")
            if region.code in by_code:
                raise ValueError(f"duplicate region code {region.code}")
            by_code[region.code] = region
        children: dict[str, list[Region]] = {}
        for region in by_code.values():
            if region.parent_code is None:
                if region.level is not RegionLevel.PROVINCE:
                    raise ValueError(f"region {region.code} has no parent but is not a province")
                continue
            parent = by_code.get(region.parent_code)
            if parent is None:
                raise ValueError(f"region {region.code} names unknown parent {region.parent_code}")
            if not code_contains(parent.code, region.code) or parent.code == region.code:
                raise ValueError(f"region {region.code} does not nest in its parent {parent.code}")
            children.setdefault(parent.code, []).append(region)
        self._by_code = by_code
        self._ordered = tuple(sorted(by_code.values(), key=lambda r: r.code))
        self._children: dict[str, tuple[Region, ...]] = {
            code: tuple(sorted(kids, key=lambda r: r.code)) for code, kids in children.items()
        }
        self.data_as_of = data_as_of

    @classmethod
    def load_default(cls) -> RegionBook:
        """The national table shipped with sunbid; parsed on first use and cached for the process."""
        return _load_default()

    @classmethod
    def from_csv_text(cls, text: str) -> RegionBook:
        """Parse ``code,name,level,parent_code`` CSV; ``#`` lines are comments (``# data_as_of:`` is kept)."""
        data_as_of: str | None = None
        body: list[str] = []
        for line in text.splitlines():
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                if key.strip() == "data_as_of":
                    data_as_of = value.strip()
                continue
            if line.strip():
                body.append(line)
        rows = csv.reader(body)
        header = next(rows, None)
        if header != ["code", "name", "level", "parent_code"]:
            raise ValueError(f"unexpected region table header {header!r}")
        levels = {level.value: level for level in RegionLevel}
        regions = [Region(code, name, levels[level], parent or None) for code, name, level, parent in rows]
        return cls(regions, data_as_of=data_as_of)

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Region]:
        """All regions in code order."""
        return iter(self._ordered)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._by_code

    def get(self, code: str) -> Region:
        """The region with this code (surrounding spaces ignored); unknown → ``identity.region_unknown``."""
        region = self._by_code.get(code.strip()) if isinstance(code, str) else None
        if region is None:
            raise _unknown(code)
        return region

    def provinces(self) -> tuple[Region, ...]:
        """The provincial-level divisions in code order."""
        return tuple(r for r in self if r.level is RegionLevel.PROVINCE)

    def children(self, code: str) -> tuple[Region, ...]:
        """The divisions directly under ``code``, in code order (empty for a county)."""
        region = self.get(code)
        return self._children.get(region.code, ())

    def path(self, code: str) -> tuple[Region, ...]:
        """From the province down to ``code`` itself: e.g. 安徽省 → 池州市 → 贵池区."""
        steps: list[Region] = []
        region: Region | None = self.get(code)
        while region is not None:
            steps.append(region)
            region = self._by_code[region.parent_code] if region.parent_code else None
        return tuple(reversed(steps))

    def full_name(self, code: str) -> str:
        """The names along the path joined, e.g. ``安徽省池州市贵池区``."""
        return "".join(r.name for r in self.path(code))

    def contains(self, ancestor_code: str, code: str) -> bool:
        """Whether ``ancestor_code`` is ``code`` or one of the divisions above it; unknown codes raise."""
        ancestor = self.get(ancestor_code)
        return any(r.code == ancestor.code for r in self.path(code))

    def search(self, name: str, *, limit: int | None = None) -> tuple[Region, ...]:
        """Regions whose name contains ``name``: exact matches first, then prefix matches, then the rest.

        Within each group results are in code order. An empty query finds nothing; a 6-digit query finds the
        region with that code, if any.
        """
        query = name.strip()
        if not query:
            return ()
        if is_region_code(query):
            found = self._by_code.get(query)
            return (found,) if found else ()
        hits = [r for r in self._ordered if query in r.name]
        hits.sort(key=lambda r: (r.name != query, not r.name.startswith(query), r.code))
        return tuple(hits if limit is None else hits[:limit])


@functools.cache
def _load_default() -> RegionBook:
    text = resources.files("sunbid.identity").joinpath("data/regions.csv").read_text(encoding="utf-8")
    return RegionBook.from_csv_text(text)
