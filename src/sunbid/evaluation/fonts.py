"""The CJK font the evaluation report is set in: found on the machine and checked, never assumed.

The report PDF embeds (a subset of) a font that has Simplified Chinese glyphs. No maintained PyPI package ships
one, so the font comes from the operating system, installed by the project's own install steps (``.ci/run``
installs Debian's ``fonts-noto-cjk``; see ``docs/evaluation-report.md``), and is looked up in this order:

1. ``SUNBID_CJK_FONT`` — a path to a ``.ttf``/``.otf``/``.ttc``/``.otc`` file, optionally ``path#index`` to pick
   a face of a collection;
2. the usual install locations of Noto Sans CJK (Debian, Fedora, Arch, Alpine), Source Han Sans and WenQuanYi.

In a collection the Simplified Chinese face (family name ending in ``SC``, or ``WenQuanYi``) is chosen. The
chosen face must map every character of :data:`PROBE`; otherwise, or when nothing is found, :func:`cjk_font`
raises ``report.font_missing`` (kind UNAVAILABLE) saying what to install. ``sunbid calc font`` runs the check.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fontTools.ttLib import TTLibError

from sunbid.core.errors import Unavailable

__all__ = ["CANDIDATES", "ENV_VAR", "PROBE", "CjkFont", "cjk_font", "find_cjk_font"]

ENV_VAR: Final = "SUNBID_CJK_FONT"
PROBE: Final = "评标委员会报告中标候选人第一名签字价格得分"
"""Characters the chosen face must have (a face without them would print empty boxes)."""

CANDIDATES: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/adobe-source-han-sans/SourceHanSansSC-Regular.otf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
)
_COLLECTIONS: Final = (".ttc", ".otc")


@dataclass(frozen=True, slots=True)
class CjkFont:
    """A font file and the face to use in it (``index`` is 0 for a single-font file)."""

    path: Path
    index: int
    family: str


def _missing(detail_zh: str, detail_en: str) -> Unavailable:
    return Unavailable(
        "report.font_missing",
        f"找不到可用于评标报告的中文字体：{detail_zh}。请安装 fonts-noto-cjk（apt-get install fonts-noto-cjk），"
        f"或用环境变量 {ENV_VAR} 指定字体文件",
        f"no CJK font for the evaluation report: {detail_en}. Install fonts-noto-cjk "
        f"(apt-get install fonts-noto-cjk) or set {ENV_VAR} to a font file",
    )


def _faces(path: Path) -> list[tuple[int, str]]:
    """(index, family name) of every face in the file."""
    from fontTools.ttLib import TTCollection, TTFont

    if path.suffix.lower() in _COLLECTIONS:
        collection = TTCollection(str(path), lazy=True)
        return [(i, str(f["name"].getDebugName(1) or "")) for i, f in enumerate(collection.fonts)]
    font = TTFont(str(path), lazy=True)
    return [(0, str(font["name"].getDebugName(1) or ""))]


def _pick(faces: list[tuple[int, str]]) -> tuple[int, str]:
    """The Simplified Chinese proportional face, else the first."""
    for index, family in faces:
        if family.endswith(" SC") and "Mono" not in family:
            return index, family
    for index, family in faces:
        if "WenQuanYi" in family or family.endswith("SC"):
            return index, family
    return faces[0]


def _covers(path: Path, index: int) -> bool:
    from fontTools.ttLib import TTFont

    kwargs = {"fontNumber": index} if path.suffix.lower() in _COLLECTIONS else {}
    font = TTFont(str(path), lazy=True, **kwargs)
    cmap = font.getBestCmap() or {}
    return all(ord(ch) in cmap for ch in PROBE)


def find_cjk_font(override: str | None = None, candidates: tuple[str, ...] = CANDIDATES) -> CjkFont:
    """Locate and check a CJK face (``override`` is ``path`` or ``path#index``); ``report.font_missing`` if none."""
    if override:
        raw, _, number = override.partition("#")
        path = Path(raw)
        if not path.is_file():
            raise _missing(f"{ENV_VAR} 指向的 {raw} 不存在", f"{ENV_VAR} points to {raw}, which does not exist")
        try:
            faces = _faces(path)
            if number:
                index = int(number)
                family = dict(faces)[index]
            else:
                index, family = _pick(faces)
            ok = _covers(path, index)
        except (OSError, ValueError, KeyError, AssertionError, TTLibError) as exc:
            raise _missing(f"{raw} 不是可读的字体文件", f"{raw} is not a readable font file ({exc})") from None
        if not ok:
            raise _missing(f"{raw} 缺少中文字形", f"{raw} lacks Chinese glyphs")
        return CjkFont(path, index, family)
    for raw in candidates:
        path = Path(raw)
        if not path.is_file():
            continue
        try:
            index, family = _pick(_faces(path))
            if _covers(path, index):
                return CjkFont(path, index, family)
        except (OSError, ValueError, KeyError, AssertionError, TTLibError):
            continue
    raise _missing("常见安装位置均无中文字体", "none of the usual locations has one")


@functools.cache
def _cached(override: str | None) -> CjkFont:
    return find_cjk_font(override)


def cjk_font() -> CjkFont:
    """The report font of this machine (checked once per process and per ``SUNBID_CJK_FONT`` value)."""
    return _cached(os.environ.get(ENV_VAR) or None)
