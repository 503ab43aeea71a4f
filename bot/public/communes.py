"""The ``<commune>`` of a public URL: the commune's code (``/c/70``) or a readable slug
(``/c/phuong-hoan-kiem``). Many names recur across provinces (Xã Tân Phú), so such a name's slug
carries its province (``/c/xa-tan-phu-dong-nai``); the canonical URL of every commune is its slug."""

from __future__ import annotations

from collections import Counter
from functools import lru_cache

from bot.domain.communes import PROVINCE_PREFIXES, Commune, commune_by_code, divisions, fold


def _plain(name: str) -> str:
    return fold(name).replace(" ", "-")


def _province(name: str) -> str:
    folded = fold(name)
    for prefix in PROVINCE_PREFIXES:
        folded = folded.removeprefix(prefix)
    return folded.replace(" ", "-")


@lru_cache(maxsize=1)
def _slugs() -> tuple[dict[str, int], dict[int, str]]:
    rows = divisions()
    counts = Counter(_plain(name) for _, name, _ in rows)
    by_slug, by_code = {}, {}
    for code, name, province in rows:
        plain, full = _plain(name), f"{_plain(name)}-{_province(province)}"
        by_slug[full] = code
        if counts[plain] == 1:
            by_slug[plain] = code
        by_code[code] = plain if counts[plain] == 1 else full
    return by_slug, by_code


def slug(code: int) -> str:
    return _slugs()[1].get(code, str(code))


def resolve(segment: str) -> Commune | None:
    """The commune a URL segment names, or None."""
    if segment.isascii() and segment.isdigit() and len(segment) <= 6:  # "²" is a digit int() refuses
        return commune_by_code(int(segment))
    code = _slugs()[0].get(segment.lower())
    return commune_by_code(code) if code is not None else None
