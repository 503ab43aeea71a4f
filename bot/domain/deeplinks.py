"""Links into the chat about one thing a commune publishes: the public pages' "chat about this"
(bot/public/) opens the web chat at ``/?start=<code>`` or Telegram at ``https://t.me/<bot>?start=<code>``;
either way the chat receives ``/start <code>`` and handlers/start.py takes the citizen there.

A code names the commune and, optionally, what to open: ``c70`` (the commune), ``c70-schedule``,
``c70-disclosures``, ``c70-projects``, ``c70-p12`` (project 12), ``c70-consultations``, ``c70-v3``
(consultation 3), ``c70-submit`` (a new feedback). Telegram allows 1–64 characters of A–Z, a–z, 0–9,
``_`` and ``-`` in a start parameter; every code fits. A link says where to go, never who someone is,
and what it names is checked again when opened (a project of another commune is not shown).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.domain.ids import MAX_RECORD_ID

PLACES = ("schedule", "disclosures", "projects", "consultations", "statistics", "submit")
RECORDS = {"p": "project", "v": "consultation"}

_CODE = re.compile(r"c([0-9]{1,6})(?:-(?:(" + "|".join(PLACES) + r")|([pv])([0-9]{1,10})))?")  # ASCII digits only


@dataclass(frozen=True)
class Target:
    commune_code: int
    place: str | None = None      # one of PLACES, "project" or "consultation"; None: the commune's menu
    record_id: int | None = None  # the project's or consultation's id


def encode(commune_code: int, place: str | None = None, record_id: int | None = None) -> str:
    if place is None:
        return f"c{commune_code}"
    if place in PLACES:
        return f"c{commune_code}-{place}"
    letter = next(letter for letter, name in RECORDS.items() if name == place)
    return f"c{commune_code}-{letter}{record_id}"


def decode(text: str) -> Target | None:
    """The target a start parameter names; None for anything else (a mistyped or forged link)."""
    match = _CODE.fullmatch(text.strip()) if text and len(text) <= 64 else None
    if match is None:
        return None
    commune, place, letter, number = match.groups()
    if letter is None:
        return Target(int(commune), place)
    if int(number) > MAX_RECORD_ID:
        return None
    return Target(int(commune), RECORDS[letter], int(number))
