"""Communes, wards and special zones (3,321 since 1 July 2025) and their 34 provinces, from the
``vietnam-provinces`` package, with a search that forgives what people type on a phone:

- no diacritics, any case ("hoan kiem", "HOÀN KIẾM" find "Phường Hoàn Kiếm"; "đ" is "d");
- with or without "Phường", "Xã", "Đặc khu" (or "P.", "X.");
- a province at the end narrows it down ("hoan kiem ha noi", "tan phu dong nai").

Exact names rank first, then names starting with the query, then names with a word starting with
it, then any other name containing it. The index is built once, on first use.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from vietnam_provinces import Province, Ward

COMMUNE_PREFIXES = ("phuong ", "xa ", "dac khu ", "p ", "x ")
PROVINCE_PREFIXES = ("thanh pho ", "tinh ")
EXACT, PREFIX, WORD, SUBSTRING = range(4)


@dataclass(frozen=True)
class Commune:
    code: int
    name: str           # "Phường Hoàn Kiếm"
    province_name: str  # "Thành phố Hà Nội"

    @property
    def label(self) -> str:
        return f"{self.name}, {self.province_name}"


def fold(text: str) -> str:
    """Lower case, no diacritics, words separated by single spaces: "Phường Hoàn Kiếm" → "phuong hoan kiem"."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    bare = "".join(ch if ch.isalnum() else " " for ch in text if unicodedata.category(ch) != "Mn")
    return " ".join(bare.split())


def commune_by_code(code: int) -> Commune | None:
    return _index().by_code.get(int(code))


def commune_label(code: int) -> str:
    """"Phường Hoàn Kiếm, Thành phố Hà Nội"; the bare code if the package does not know it."""
    commune = commune_by_code(code)
    return commune.label if commune else str(code)


def search_communes(query: str, limit: int = 8) -> list[Commune]:
    index = _index()
    wanted = _strip(fold(query), COMMUNE_PREFIXES)
    if len(wanted) < 2:
        return []
    best: dict[int, int] = {}  # position in the index → best rank
    _match(index, wanted, range(len(index.communes)), best)
    for province, positions in index.by_province.items():
        if wanted.endswith(" " + province):
            rest = wanted[: -len(province) - 1]
            if rest:
                _match(index, rest, positions, best)
    ranked = sorted(best, key=lambda i: (best[i], index.names[i], i))
    return [index.communes[i] for i in ranked[:limit]]


def _match(index: _Index, wanted: str, positions, best: dict[int, int]) -> None:
    names, word_start = index.names, " " + wanted
    for i in positions:
        name = names[i]
        if wanted not in name:
            continue
        if name == wanted:
            rank = EXACT
        elif name.startswith(wanted):
            rank = PREFIX
        elif word_start in name:
            rank = WORD
        else:
            rank = SUBSTRING
        if rank < best.get(i, SUBSTRING + 1):
            best[i] = rank


def _strip(text: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


@dataclass(frozen=True)
class _Index:
    communes: tuple[Commune, ...]            # in the package's order (by code)
    names: tuple[str, ...]                   # folded, without "phuong"/"xa"/"dac khu": "hoan kiem"
    by_code: dict[int, Commune]
    by_province: dict[str, tuple[int, ...]]  # "ha noi", "thanh pho ha noi" → positions of its communes


@lru_cache(maxsize=1)
def _index() -> _Index:
    province_names = {int(p.code): p.name for p in Province.iter_all()}
    communes, names, by_province = [], [], {}
    for position, ward in enumerate(sorted(Ward.iter_all(), key=lambda w: int(w.code))):
        province_name = province_names[int(ward.province_code)]
        communes.append(Commune(int(ward.code), " ".join(ward.name.split()), province_name))
        names.append(_strip(fold(ward.name), COMMUNE_PREFIXES))
        full = fold(province_name)
        for key in {full, _strip(full, PROVINCE_PREFIXES)}:
            by_province.setdefault(key, []).append(position)
    return _Index(communes=tuple(communes), names=tuple(names),
                  by_code={c.code: c for c in communes},
                  by_province={key: tuple(positions) for key, positions in by_province.items()})
