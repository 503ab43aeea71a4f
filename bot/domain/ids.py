"""Record ids as they arrive from outside — a button's value, a link, a form field, a URL path: ASCII
digits within the databases' integer ids, or nothing."""

from __future__ import annotations

MAX_RECORD_ID = 2 ** 31 - 1  # ids are 32-bit integers on PostgreSQL


def record_id(text: object) -> int | None:
    """The id ``text`` names; None for anything else ("²" passes ``isdigit`` and fails ``int``; 25
    digits overflow the column; a form field sent twice arrives as a list, an upload as a tuple)."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10 \
            and int(text) <= MAX_RECORD_ID:
        return int(text)
    return None
