"""Every text in its own language: no Vietnamese left in the English catalogue and no English in the
Vietnamese one, with the page's own texts (bot/texts/webpage.py) among them. The same detector runs
over the texts as the page shows them in Chromium (tests/test_webchat_page_browser.py).

The detector's rules:
  - English: no letter with a Vietnamese diacritic (à … ỹ, đ) once the placeholders are filled with
    digits. Vietnamese words left in an English message always carry them, proper names included.
  - Vietnamese: none of the common English function words (``ENGLISH_WORDS``: the, and, you, please,
    …) as a whole word, and a text of four words or more has at least one Vietnamese letter (a
    shorter one may be plain Vietnamese: "Giao cho"). Words
    written the same in both languages ("an" in "an toàn", "to", "no", "Menu") are not on the list;
    addresses (http…), commands (/officer), placeholders and official document numbers
    ("154/2026/NĐ-CP") are left out before checking.
  - Scope: the keys the chat and its page show (bot/texts/vi.py, en.py, officer.py and webpage.py).
  - ``BILINGUAL``: texts that are meant to hold the other language — the greeting shown before any
    language is chosen asks in both, a language switch names each language in that language, product
    names (Excel, Zalo Official Account) and protocol values (Open311's yes/no) are not translated,
    and a report's definition glosses the Vietnamese legal term it defines.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict

import pytest

from bot.channels import web_page
from bot.texts import CATALOGUES, officer, vi, webpage

VIETNAMESE = re.compile(r"[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.I)
ENGLISH_WORDS = frozenset(
    "the and your you please with from this that will are is for not have has been which what when where here "
    "there can must should would could was were our their they them its be by or if yes cannot don't".split())
BILINGUAL = {
    "en": {"start.welcome", "language.vi", "public.other_language", "public.other_language_name",
           "reports.def.accepted"},  # the legal term glossed: "accepted for resolution (thụ lý)"
    "vi": {"start.welcome", "language.en", "public.other_language_name", "reports.format.xlsx",
           "conv.channel.zalo",
           "public.open311.consent_attribute"},  # Open311's attribute values are literally yes/no
}
# Addresses, commands, placeholders, and official document numbers ("154/2026/NĐ-CP", "15/QĐ-XPHC").
_IGNORED = re.compile(r"https?://\S+|(?<!\w)/[a-z_]+|\{[^}]*\}|\b\d+(?:/\d{4})?/[A-ZĐ][A-ZĐ0-9-]*")
# What the chat and its page can show: the chat's catalogue and the page's own texts (the console,
# reports and public pages are other surfaces, with texts of their own).
CHAT_KEYS = sorted(set(vi.TEXTS) | set(officer.VI) | set(webpage.VI))


def chat_texts(language: str) -> dict[str, str]:
    return {key: CATALOGUES[language][key] for key in CHAT_KEYS}


class _Sample:
    """Fills any placeholder, whatever its format (``{due:%d/%m/%Y}``, ``{count:,}``), with digits."""

    def __format__(self, spec: str) -> str:
        return "12"

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self


def filled(text: str) -> str:
    values = defaultdict(_Sample)
    try:
        return string.Formatter().vformat(text, (), values)
    except (ValueError, IndexError, KeyError):
        return text


def wrong_language(language: str, text: str) -> str | None:
    """Why ``text`` does not read as ``language``; None when it does."""
    plain = _IGNORED.sub(" ", text)
    if language == "en":
        found = VIETNAMESE.search(plain)
        return f"Vietnamese letter {found.group()!r}" if found else None
    english = sorted({w.lower() for w in re.findall(r"[A-Za-z']+", plain)} & ENGLISH_WORDS)
    if english:
        return f"English words {english}"
    if len(re.findall(r"[^\W\d_]{2,}", plain)) >= 4 and not VIETNAMESE.search(plain):
        return "no Vietnamese letter at all"
    return None


def misplaced(language: str, texts: dict[str, str]) -> dict[str, str]:
    return {key: reason for key, text in texts.items() if key not in BILINGUAL[language]
            and (reason := wrong_language(language, filled(text)))}


def test_the_detector_tells_the_languages_apart():
    assert wrong_language("en", "Your item was received.") is None
    assert wrong_language("en", "Your item was received (Luật Khiếu nại).")
    assert wrong_language("vi", "Đã nhận phản ánh của bạn.") is None
    assert wrong_language("vi", "Vì an toàn, hãy gửi /officer kèm mã.") is None
    assert wrong_language("vi", "Đã nhận. Please wait for the officer.")
    assert wrong_language("vi", "Open data request status report")
    assert wrong_language("vi", "Giao cho") is None  # short Vietnamese may need no diacritic
    assert wrong_language("en", "Decree 154/2026/NĐ-CP, Article 29") is None


@pytest.mark.parametrize("language", ["en", "vi"])
def test_every_text_key_of_the_chat_is_in_its_own_language(language):
    assert len(CHAT_KEYS) > 500
    assert misplaced(language, chat_texts(language)) == {}


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_page_itself_is_in_one_language(language):
    page = web_page.render(language)
    assert f'<html lang="{language}">' in page
    visible = re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.S)
    shown = re.findall(r'>([^<>]+)<|(?<![-\w])(?:aria-label|title|placeholder)="([^"]+)"', visible)
    words = [a or b for a, b in shown if (a or b).strip() and "{{" not in (a or b)]
    assert len(words) >= 10
    assert "{{" not in visible
    assert {text: why for text in words if (why := wrong_language(language, text))} == {}
