"""The report's CJK font: found and checked on the machine, with a clear error when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen

from sunbid.core.errors import Unavailable
from sunbid.evaluation.fonts import CANDIDATES, ENV_VAR, PROBE, cjk_font, find_cjk_font


def _latin_font(path: Path) -> Path:
    """A tiny TrueType font with glyphs for A–Z only (no Chinese)."""
    names = [".notdef", *[chr(c) for c in range(ord("A"), ord("Z") + 1)]]
    fb = FontBuilder(1000, isTTF=True)
    fb.setupGlyphOrder(names)
    fb.setupCharacterMap({ord(n): n for n in names[1:]})
    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((500, 0))
    pen.lineTo((500, 700))
    pen.closePath()
    glyph = pen.glyph()
    fb.setupGlyf(dict.fromkeys(names, glyph))
    fb.setupHorizontalMetrics(dict.fromkeys(names, (600, 0)))
    fb.setupHorizontalHeader(ascent=800, descent=-200)
    fb.setupNameTable({"familyName": "Latin Only", "styleName": "Regular"})
    fb.setupOS2()
    fb.setupPost()
    fb.save(str(path))
    return path


def test_the_machine_has_a_simplified_chinese_face() -> None:
    font = cjk_font()
    assert font.path.is_file()
    assert "SC" in font.family or "WenQuanYi" in font.family
    assert find_cjk_font(f"{font.path}#{font.index}") == font


def test_a_missing_font_file_is_a_clear_error() -> None:
    with pytest.raises(Unavailable) as exc:
        find_cjk_font("/nonexistent/NotoSansCJK.ttc")
    assert exc.value.code == "report.font_missing"
    assert "fonts-noto-cjk" in exc.value.message_zh
    assert ENV_VAR in exc.value.message_en


def test_a_font_without_chinese_glyphs_is_refused(tmp_path: Path) -> None:
    latin = _latin_font(tmp_path / "latin.ttf")
    with pytest.raises(Unavailable) as exc:
        find_cjk_font(str(latin))
    assert exc.value.code == "report.font_missing"
    assert "缺少中文字形" in exc.value.message_zh
    with pytest.raises(Unavailable):
        find_cjk_font(None, candidates=(str(latin),))


def test_no_candidate_on_the_machine_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Unavailable) as exc:
        find_cjk_font(None, candidates=(str(tmp_path / "none.ttc"),))
    assert exc.value.code == "report.font_missing"


def test_a_non_font_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ttf"
    junk.write_bytes(b"not a font" * 10)
    with pytest.raises(Unavailable):
        find_cjk_font(str(junk))


def test_the_probe_and_the_default_locations_are_sane() -> None:
    assert all("\u4e00" <= ch <= "\u9fff" for ch in PROBE)
    assert any("noto" in c.lower() for c in CANDIDATES)
