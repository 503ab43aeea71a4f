"""Text as it arrives from people and platforms, made storable: a NUL byte (JSON's "\\u0000", a pasted
binary, a forged client) is nothing a person meant, and PostgreSQL refuses it in text — kept, it
failed every save of the record it was in. Every entrance (a chat message on any channel, a console
form, an Open311 post, a Zalo contact card) drops it with ``without_nul``."""

from __future__ import annotations

NUL = "\x00"


def without_nul(text: str) -> str:
    return text.replace(NUL, "") if NUL in text else text
