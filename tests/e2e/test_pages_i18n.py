"""The page catalogues: every string of every template and page module is translated into Chinese."""

from __future__ import annotations

from sunbid.identity.domain import Role
from sunbid.web import i18n
from sunbid.web.roles import ROLE_HOMES


def test_catalogues_are_complete_and_in_step_with_the_code() -> None:
    assert i18n.check() == []  # fix with: python -m sunbid.web.i18n update, then translate


def test_chinese_is_the_default_and_english_shows_the_source_text() -> None:
    zh, en = i18n.translator("zh-CN"), i18n.translator("en")
    assert zh.gettext("Sign in") == "登录"
    assert en.gettext("Sign in") == "Sign in"
    assert i18n.translator("fr").gettext("Sign in") == "登录"
    assert zh.gettext("Welcome, %(name)s. This is your home page on the platform.", name="王").startswith("王，")


def test_language_choice_is_normalised() -> None:
    assert [i18n.normalise(v) for v in ("en", "EN-gb", "zh-CN", "zh_cn", "zh", "fr", "", None)] == [
        "en",
        "en",
        "zh-CN",
        "zh-CN",
        "zh-CN",
        None,
        None,
        None,
    ]


def test_every_role_that_can_sign_in_has_a_home_section() -> None:
    assert set(ROLE_HOMES) == set(Role)
    zh = i18n.translator("zh-CN")
    for home in ROLE_HOMES.values():
        assert home.duties
        assert zh.gettext(home.summary) != home.summary  # translated, not the English msgid
