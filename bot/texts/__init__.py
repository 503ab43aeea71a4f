"""User-facing texts: one catalogue per language, Vietnamese first, English second.

``t("vi", "menu.title")`` looks a key up; a key missing in English falls back to Vietnamese, and a
key missing everywhere is a programming error (KeyError), caught by the catalogue test.
"""

from __future__ import annotations

from bot.texts import en, vi

CATALOGUES = {"vi": vi.TEXTS, "en": en.TEXTS}
LANGUAGES = ("vi", "en")


def t(language: str, key: str, **values) -> str:
    catalogue = CATALOGUES.get(language, vi.TEXTS)
    text = catalogue.get(key)
    if text is None:
        text = vi.TEXTS[key]
    return text.format(**values) if values else text


def has(key: str) -> bool:
    return key in vi.TEXTS
