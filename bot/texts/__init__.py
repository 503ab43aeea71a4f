"""User-facing texts: one catalogue per language, Vietnamese first, English second.

``t("vi", "menu.title")`` looks a key up; a key missing in English falls back to Vietnamese, and a
key missing everywhere is a programming error (KeyError), caught by the catalogue test.

The chat's texts live in ``vi.py`` and ``en.py``, the officers' side of the chat in ``officer``. Each later surface keeps its texts in a module of
its own holding both languages side by side (``VI`` and ``EN`` dicts): ``desk`` (the staff console,
the reception register), ``reports`` (reports and the dashboard), ``public`` (the public pages and open data), ``webpage`` (the
web chat page itself) and ``zalo`` (Zalo's template notices and set-up). A key defined twice is an
error at import.
"""

from __future__ import annotations

from bot.texts import conversation, desk, en, officer, public, reports, vi, webpage, zalo

AREAS = (officer, desk, reports, public, webpage, zalo, conversation)


def _merged(base: dict[str, str], language: str) -> dict[str, str]:
    merged = dict(base)
    for area in AREAS:
        texts = getattr(area, language.upper())
        twice = merged.keys() & texts.keys()
        if twice:
            raise RuntimeError(f"text keys defined twice ({area.__name__}): {sorted(twice)[:5]}")
        merged.update(texts)
    return merged


VI_TEXTS = _merged(vi.TEXTS, "vi")
EN_TEXTS = _merged(en.TEXTS, "en")
CATALOGUES = {"vi": VI_TEXTS, "en": EN_TEXTS}
LANGUAGES = ("vi", "en")


def t(language: str, key: str, **values) -> str:
    catalogue = CATALOGUES.get(language, VI_TEXTS)
    text = catalogue.get(key)
    if text is None:
        text = VI_TEXTS[key]
    return text.format(**values) if values else text


def has(key: str) -> bool:
    return key in VI_TEXTS
