"""Communes, wards and special zones (3,321 since 1 July 2025) and their 34 provinces, from the
``vietnam-provinces`` package, with a search that forgives what people type on a phone:

- no diacritics, any case ("hoan kiem", "HOÀN KIẾM" find "Phường Hoàn Kiếm"; "đ" is "d");
- with or without "Phường", "Xã", "Đặc khu" (or "P.", "X.");
- a province at the end narrows it down ("hoan kiem ha noi", "tan phu dong nai").

Exact names rank first, then names starting with the query, then names with a word starting with
it, then any other name containing it. The index is built once, on first use.

The index is read from the package's own data file (``vietnam_provinces.NESTED_DIVISIONS_JSON_PATH``)
without importing the package: its ``WardCode`` enum of 3,321 members and its ``Ward`` objects
(about 4 MB) would otherwise stay in a running server next to this index, which is all it uses.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

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
                _match(index, rest, set(positions), best)
    ranked = sorted(best, key=lambda i: (best[i], index.names[i], i))
    return [index.communes[i] for i in ranked[:limit]]


def _match(index: _Index, wanted: str, positions, best: dict[int, int]) -> None:
    """Rank every name among ``positions`` that contains ``wanted``. The names are searched as one
    text (``str.find`` in C), not one by one: a search is a step of every new citizen's dialog."""
    text, starts = _haystack()
    names, word_start = index.names, " " + wanted
    at = text.find(wanted)
    while at != -1:
        i = bisect_right(starts, at) - 1  # folded names hold no line break, so a match is inside one name
        if i in positions:
            name = names[i]
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
        at = text.find(wanted, at + 1)


@lru_cache(maxsize=1)
def _haystack() -> tuple[str, list[int]]:
    """Every folded name on a line of one text, and where each starts in it."""
    names = _index().names
    starts, at = [], 1
    for name in names:
        starts.append(at)
        at += len(name) + 1
    return "\n" + "\n".join(names) + "\n", starts


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


def divisions() -> list[tuple[int, str, str]]:
    """(code, name, province name) of every commune, ward and special zone, as the package has them."""
    try:
        spec = importlib.util.find_spec("vietnam_provinces")  # finds, does not import
        path = Path(spec.origin).with_name("data") / "nested-divisions.json"
        with open(path, encoding="utf-8") as data:
            provinces = json.load(data)
        return [(int(ward["code"]), ward["name"], province["name"])
                for province in provinces for ward in province["wards"]]
    except Exception:  # noqa: BLE001 - a different layout of the package: ask it the usual way
        log.warning("vietnam-provinces: data file not readable, importing the package", exc_info=True)
        from vietnam_provinces import Province, Ward

        province_names = {int(p.code): p.name for p in Province.iter_all()}
        return [(int(w.code), w.name, province_names[int(w.province_code)]) for w in Ward.iter_all()]


@lru_cache(maxsize=1)
def _index() -> _Index:
    communes, names, by_province = [], [], {}
    for position, (code, name, province_name) in enumerate(sorted(divisions())):
        communes.append(Commune(code, " ".join(name.split()), province_name))
        names.append(_strip(fold(name), COMMUNE_PREFIXES))
        full = fold(province_name)
        for key in {full, _strip(full, PROVINCE_PREFIXES)}:
            by_province.setdefault(key, []).append(position)
    return _Index(communes=tuple(communes), names=tuple(names),
                  by_code={c.code: c for c in communes},
                  by_province={key: tuple(positions) for key, positions in by_province.items()})
