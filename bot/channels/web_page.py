"""The chat page at ``/``, in the person's language.

static/index.html is the page with ``{{webpage.…}}`` placeholders; it is filled here with the texts
of bot/texts/webpage.py (escaped for HTML), ``<html lang>`` is set, and both languages' page texts
are inlined as JSON so chat.js can switch at once when the person picks a language in the chat
(no build step, no second request before the first message).
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path

from bot.texts import LANGUAGES, t
from bot.texts import webpage

STATIC = Path(__file__).parent / "static"
PLACEHOLDER = re.compile(r"\{\{(webpage\.[a-z_]+)\}\}")


@lru_cache(maxsize=1)
def _template() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def page_texts() -> dict[str, dict[str, str]]:
    """Every page text in every language, keyed without the ``webpage.`` prefix (what chat.js uses)."""
    return {language: {key.removeprefix("webpage."): t(language, key) for key in webpage.VI}
            for language in LANGUAGES}


@lru_cache(maxsize=len(LANGUAGES))
def render(language: str) -> str:
    language = language if language in LANGUAGES else LANGUAGES[0]
    # "<" escaped: the JSON sits in a <script> element and must not be able to close it.
    texts = json.dumps(page_texts(), ensure_ascii=False).replace("<", "\\u003c")
    filled = PLACEHOLDER.sub(lambda match: html.escape(t(language, match.group(1))), _template())
    return filled.replace("{{lang}}", language).replace("{{texts}}", texts)
