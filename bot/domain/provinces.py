"""The province each commune belongs to (34 provinces since 1 July 2025), from the same
``vietnam-provinces`` data file as bot/domain/communes.py: the scope policy asks it whether an item's
commune lies in a province-level actor's province, and the inbox lists a province's communes.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path

from bot.domain.communes import divisions, fold


@lru_cache(maxsize=1)
def _provinces() -> tuple[dict[int, int], dict[int, tuple[int, ...]], dict[int, str], dict[str, int]]:
    """(commune → province, province → its communes, province → name, name → province)."""
    of: dict[int, int] = {}
    communes: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    try:
        spec = importlib.util.find_spec("vietnam_provinces")
        with open(Path(spec.origin).with_name("data") / "nested-divisions.json", encoding="utf-8") as data:
            for province in json.load(data):
                code = int(province["code"])
                names[code] = province["name"]
                for ward in province["wards"]:
                    of[int(ward["code"])] = code
                    communes.setdefault(code, []).append(int(ward["code"]))
    except Exception:  # noqa: BLE001 - another layout of the package: number provinces by their names
        by_name: dict[str, int] = {}
        for code, _, province_name in divisions():
            province = by_name.setdefault(province_name, len(by_name) + 1)
            names[province] = province_name
            of[code] = province
            communes.setdefault(province, []).append(code)
    return (of, {code: tuple(sorted(found)) for code, found in communes.items()}, names,
            {name: code for code, name in names.items()})


def province_of(commune_code: int | None) -> int | None:
    """The province of a commune, ward or special zone; None for a code the package does not know."""
    return _provinces()[0].get(int(commune_code)) if commune_code is not None else None


def communes_of(province_code: int) -> tuple[int, ...]:
    """Every commune, ward and special zone of a province, by code."""
    return _provinces()[1].get(int(province_code), ())


def province_name(province_code: int | None) -> str:
    """"Thành phố Hà Nội"; the bare code if the package does not know it."""
    return _provinces()[2].get(province_code, str(province_code)) if province_code is not None else "—"


def province_by_name(name: str) -> int | None:
    """The province with exactly this name ("Thành phố Hà Nội", "Hà Nội", "ha noi": case and marks
    aside); None when none or several fit."""
    wanted = fold(name)
    found = {code for full, code in _provinces()[3].items()
             if wanted in (fold(full), fold(full).removeprefix("thanh pho ").removeprefix("tinh "))}
    return found.pop() if len(found) == 1 else None
