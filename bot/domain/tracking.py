"""Tracking codes a citizen can read out over the phone, such as ``TD-4K70X-M9PA3``.

Design:
- Ten random symbols drawn with ``secrets`` from a 23-symbol alphabet: the ten digits, which every
  Vietnamese speaker reads unambiguously (không, một, hai, ...), and thirteen letters of the
  Vietnamese alphabet that look unlike any digit: A C D E H K M N P R T X Y.
- Left out: O and Q (like 0), I and L (like 1), Z (2), S (5), G (6), B (8); U and V (like each other);
  F, J, W (not in the Vietnamese alphabet, awkward to spell aloud).
- 23^10 ≈ 4.1 × 10^13 codes, 45.2 bits: guessing one of a million live codes takes ~4 × 10^7 tries.
- Shown as ``TD-XXXXX-XXXXX`` (14 characters). Whatever the citizen types back is forgiven: any case,
  spaces or dashes, the ``TD`` prefix optional, and the left-out look-alikes read as the digit they
  resemble (O→0, I→1, ...), and Đ typed on a Vietnamese keyboard as D. Anything else is not a code.
"""

from __future__ import annotations

import secrets
import unicodedata

ALPHABET = "0123456789ACDEHKMNPRTXY"
LENGTH = 10
PREFIX = "TD"
LOOK_ALIKES = str.maketrans({"O": "0", "Q": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "G": "6", "B": "8",
                             "Đ": "D"})
_LONGEST_INPUT = 40


def new_tracking_code(rng=secrets) -> str:
    """A fresh code; ``rng`` is anything with ``choice`` (``secrets``, or a seeded ``random.Random`` in tests)."""
    return _display("".join(rng.choice(ALPHABET) for _ in range(LENGTH)))


def normalize_tracking_code(text: str | None) -> str | None:
    """What a citizen typed → the code as displayed, or None if it cannot be a code."""
    if not text or len(text) > _LONGEST_INPUT:
        return None
    typed = unicodedata.normalize("NFKC", text).upper().translate(LOOK_ALIKES)
    symbols = "".join(ch for ch in typed if ch.isalnum())
    if len(symbols) == len(PREFIX) + LENGTH and symbols.startswith(PREFIX):
        symbols = symbols[len(PREFIX):]
    if len(symbols) != LENGTH or any(ch not in ALPHABET for ch in symbols):
        return None
    return _display(symbols)


def _display(symbols: str) -> str:
    return f"{PREFIX}-{symbols[:5]}-{symbols[5:]}"
