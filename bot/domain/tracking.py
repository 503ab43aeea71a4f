"""Public tracking codes: short, unguessable, easy to read aloud over the phone.

``TD-K7QX3-M9PAW``: ten symbols from a 23-symbol alphabet that leaves out every character that is
confusable when read or spoken (0/O/D-like pairs aside: no 0, O, 1, I, L, 2, Z, 5, S, 8, B, U, V),
so 23^10 ≈ 4 × 10^13 codes, about 45 bits. Codes come from ``secrets``: they cannot be predicted,
and a citizen sees only their own items anyway.
"""

from __future__ import annotations

import secrets

ALPHABET = "34679ACDEFGHJKMNPQRTWXY"  # 23 symbols, none confusable with another when spoken or read
LENGTH = 10
PREFIX = "TD"


def new_tracking_code(rng=secrets) -> str:
    symbols = "".join(rng.choice(ALPHABET) for _ in range(LENGTH))
    return f"{PREFIX}-{symbols[:5]}-{symbols[5:]}"


def normalize_tracking_code(text: str) -> str | None:
    """What a citizen typed (any case, spaces or dashes, prefix optional) → the code, or None."""
    if not text:
        return None
    cleaned = "".join(ch for ch in text.upper() if ch.isalnum())
    if cleaned.startswith(PREFIX) and len(cleaned) == LENGTH + len(PREFIX):
        cleaned = cleaned[len(PREFIX):]
    if len(cleaned) != LENGTH:
        return None
    if any(ch not in ALPHABET for ch in cleaned):
        return None
    return f"{PREFIX}-{cleaned[:5]}-{cleaned[5:]}"
