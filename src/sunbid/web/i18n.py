"""Languages of the pages: gettext catalogues (zh-CN first, English), loaded at runtime with Babel.

Templates and page code write **English msgids** (``{{ _("Sign in") }}``, ``N_("...")`` in Python for strings
translated later); the Chinese text lives in ``locale/zh_CN/LC_MESSAGES/messages.po``. English is the source
language, so ``locale/en/.../messages.po`` holds the same msgids with empty translations (gettext then shows
the msgid) and is there for English corrections that should not touch the code.

The ``.po`` files are read directly (no compiled ``.mo`` to keep in step), so a fresh ``pip install`` works.
After adding or changing a string run::

    python -m sunbid.web.i18n update   # extract from src/sunbid and merge into both catalogues
    python -m sunbid.web.i18n check    # what is missing (the page tests run the same check)

then fill the new ``msgstr`` in the zh_CN catalogue.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations
from starlette.requests import Request

LANG_COOKIE = "sunbid_lang"
DEFAULT_LANG = "zh-CN"
LANGUAGES: dict[str, str] = {"zh-CN": "zh_CN", "en": "en"}  # page language → gettext locale directory
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # src/sunbid: every feature's pages are extracted
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
# Fixed so that re-running ``update`` does not rewrite the header of an unchanged catalogue.
CATALOGUE_DATE = datetime(2026, 11, 23, 12, 0)
HEADER_COMMENT = (
    "# Page messages of sunbid. The msgids are English (the source language of the templates).\n"
    "# Update with `python -m sunbid.web.i18n update`, then translate the empty msgstr entries.\n"
    "#"
)


def N_(msgid: str) -> str:
    """Mark ``msgid`` for extraction without translating it now (it is translated when shown)."""
    return msgid


def negotiate(request: Request) -> str:
    """The page language: Chinese first; English only when the visitor chose it with the switch (cookie).

    A browser's Accept-Language is not enough: a Chinese user's browser often says ``en-US``, and pages of a
    Chinese trading centre are read in Chinese unless someone asks otherwise.
    """
    return normalise(request.cookies.get(LANG_COOKIE)) or DEFAULT_LANG


def normalise(value: str | None) -> str | None:
    """A supported page language from a user's choice (``en``, ``zh-CN``, ``zh_cn``, ``zh``), else None."""
    v = (value or "").strip().lower().replace("_", "-")
    if v == "en" or v.startswith("en-"):
        return "en"
    if v == "zh" or v.startswith("zh-"):
        return "zh-CN"
    return None


def catalogue_path(lang: str) -> Path:
    """Where the ``.po`` catalogue of page language ``lang`` lives."""
    return LOCALE_DIR / LANGUAGES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LANGUAGES))
def translations(lang: str) -> Translations:
    """The translations of ``lang``, compiled in memory from its ``.po`` file (fuzzy entries skipped)."""
    with catalogue_path(lang).open("rb") as fh:
        catalog = read_po(fh, locale=LANGUAGES[lang], domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


@dataclass(frozen=True)
class Translator:
    """Translation functions of one language, given to templates as ``_``, ``gettext`` and ``ngettext``."""

    lang: str

    def gettext(self, msgid: str, /, **params: Any) -> str:
        """Translate ``msgid``; ``%(name)s`` placeholders are filled from ``params``."""
        text = translations(self.lang).gettext(msgid)
        return text % params if params else text

    def ngettext(self, singular: str, plural: str, n: int, /, **params: Any) -> str:
        """Translate with a plural form chosen by ``n`` (available as ``%(num)s``)."""
        text = translations(self.lang).ngettext(singular, plural, n)
        return text % {"num": n, **params}

    @property
    def english(self) -> bool:
        """Whether pages are shown in English."""
        return self.lang == "en"


def translator(lang: str) -> Translator:
    """The translator of a supported page language (Chinese for anything else)."""
    return Translator(lang if lang in LANGUAGES else DEFAULT_LANG)


# --- catalogue maintenance (development) -------------------------------------------------------------------


def extract(source: Path = PACKAGE_DIR) -> Catalog:
    """Every translatable string of the package's templates and Python code."""
    template = Catalog(project="sunbid", version="0.1", creation_date=CATALOGUE_DATE, charset="utf-8", fuzzy=False)
    found: Iterable[tuple[str, int, Any, list[str], str | None]] = extract_from_dir(
        source,
        METHOD_MAP,
        directory_filter=lambda d: Path(d).name not in {"__pycache__", "static", "locale"},
    )
    for filename, lineno, message, comments, context in found:
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def _load(lang: str) -> Catalog | None:
    path = catalogue_path(lang)
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=LANGUAGES[lang], domain=DOMAIN)


def update(source: Path = PACKAGE_DIR) -> dict[str, int]:
    """Merge the extracted strings into every catalogue, keeping translations; returns sizes."""
    template = extract(source)
    sizes = {}
    for lang, code in LANGUAGES.items():
        catalog = _load(lang) or Catalog(
            locale=code,
            domain=DOMAIN,
            header_comment=HEADER_COMMENT,
            project="sunbid",
            version="0.1",
            copyright_holder="sunbid contributors",
            msgid_bugs_address="",
            creation_date=CATALOGUE_DATE,
            revision_date=CATALOGUE_DATE,
            last_translator="sunbid contributors",
            language_team=f"{lang} (sunbid)",
            fuzzy=False,
        )
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        path = catalogue_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=110, ignore_obsolete=True, include_lineno=False)
        sizes[lang] = len(catalog)
    translations.cache_clear()
    return sizes


def check(source: Path = PACKAGE_DIR) -> list[str]:
    """Problems of the catalogues: strings missing, untranslated or fuzzy in zh-CN, or out of step."""
    wanted = {m.id for m in extract(source) if m.id}
    problems: list[str] = []
    for lang in LANGUAGES:
        catalog = _load(lang)
        if catalog is None:
            problems.append(f"{lang}: no catalogue at {catalogue_path(lang)}")
            continue
        have = {m.id for m in catalog if m.id}
        problems += [f"{lang}: missing {mid!r}" for mid in sorted(wanted - have, key=str)]
        problems += [f"{lang}: obsolete {mid!r}" for mid in sorted(have - wanted, key=str)]
        if lang != "en":
            for m in catalog:
                if not m.id:
                    continue
                strings = m.string if isinstance(m.string, tuple) else (m.string,)
                if m.fuzzy or not all(strings):
                    problems.append(f"{lang}: untranslated {m.id!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m sunbid.web.i18n update|check``."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["update"]:
        for lang, n in update().items():
            print(f"{catalogue_path(lang)}: {n} messages")
        return 0
    if args == ["check"]:
        problems = check()
        for p in problems:
            print(p)
        return 1 if problems else 0
    print("usage: python -m sunbid.web.i18n update|check")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
