"""Communes, wards and provinces from the ``vietnam-provinces`` package (34 provinces, 3,321 communes
since 1 July 2025), with a search that forgives missing diacritics: "hoan kiem" finds "Phường Hoàn Kiếm"."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from vietnam_provinces import Province, Ward

PREFIXES = ("phuong ", "xa ", "dac khu ", "thi tran ")
PROVINCE_PREFIXES = ("thanh pho ", "tinh ")


@dataclass(frozen=True)
class Commune:
    code: int
    name: str
    province_name: str

    @property
    def label(self) -> str:
        return f"{self.name}, {self.province_name}"


def fold(text: str) -> str:
    """Lower case without diacritics: "Phường Hoàn Kiếm" → "phuong hoan kiem"."""
    text = text.lower().replace("đ", "d")
    stripped = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return " ".join("".join(c if c.isalnum() else " " for c in stripped).split())


def _strip(text: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


@dataclass(frozen=True)
class _Entry:
    commune: Commune
    bare: str        # "hoan kiem"
    province: str    # "ha noi"


@lru_cache(maxsize=1)
def _index() -> tuple[dict[int, Commune], tuple[_Entry, ...]]:
    provinces = {int(p.code): p.name for p in Province.iter_all()}
    by_code: dict[int, Commune] = {}
    entries = []
    for ward in Ward.iter_all():
        province_name = provinces[int(ward.province_code)]
        commune = Commune(int(ward.code), " ".join(ward.name.split()), province_name)
        by_code[commune.code] = commune
        entries.append(_Entry(commune, _strip(fold(ward.name), PREFIXES), _strip(fold(province_name), PROVINCE_PREFIXES)))
    return by_code, tuple(entries)


def commune_by_code(code: int) -> Commune | None:
    return _index()[0].get(int(code))


def commune_label(code: int) -> str:
    commune = commune_by_code(code)
    return commune.label if commune else str(code)


def search_communes(query: str, limit: int = 8) -> list[Commune]:
    """Exact name first, then names starting with the query, then names containing it.
    A trailing province narrows the search: "hoan kiem ha noi"."""
    folded = _strip(fold(query), PREFIXES)
    if len(folded) < 2:
        return []
    ranked: list[tuple[int, str, Commune]] = []
    for entry in _index()[1]:
        rank = _rank(entry, folded)
        if rank is not None:
            ranked.append((rank, entry.bare, entry.commune))
    ranked.sort(key=lambda r: (r[0], r[1], r[2].code))
    return [commune for _, _, commune in ranked[:limit]]


def _rank(entry: _Entry, folded: str) -> int | None:
    for text, offset in ((folded, 0), *_with_province(entry, folded)):
        if entry.bare == text:
            return 0 + offset
        if entry.bare.startswith(text):
            return 1 + offset
        if f" {text}" in f" {entry.bare}":
            return 2 + offset
    return None


def _with_province(entry: _Entry, folded: str):
    if folded.endswith(" " + entry.province):
        yield folded[: -len(entry.province) - 1].strip(), 0
