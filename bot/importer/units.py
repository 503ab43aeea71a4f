"""units: the offices of a commune's people's committee, or of the province (``level: province``).

    units:
      - {name: Văn phòng HĐND và UBND phường, fallback: yes}      # takes what no routing rule claims
      - {name: Ban Tiếp công dân tỉnh, level: province, fallback: yes, second_complaints: yes}

A province unit belongs to the file's ``province``. As the province's fallback it takes the items of
the province's communes that have no unit of their own; with ``second_complaints`` it takes second
complaints, which go above the commune that decided the first (Luật Khiếu nại 2011, Điều 7 khoản 1).
Keyed by commune (none for a province unit) and name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.importer.fields import Entry, Planned
from bot.importer.sections import UNIT_LEVELS
from storage.models import Unit

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int | None) -> Planned:
    name = entry.name("name", required=True, limit=200)
    level = entry.choice("level", UNIT_LEVELS, "province" if commune is None else "commune")
    if level == "province":
        if entry.given("commune"):
            raise entry.fail("commune", "a unit of the province belongs to no commune (leave commune out)")
        if planner.province is None:
            raise entry.fail("level", "a unit of the province needs the file's province (province: at the top)")
        commune = None
    second_complaints = entry.flag("second_complaints", False)
    if second_complaints and commune is not None:
        raise entry.fail("second_complaints", "only a unit of the province takes second complaints "
                                              "(Luật Khiếu nại 2011, Điều 7: the level above the first decision)")
    return Planned("units", entry.line, commune, (commune, name),
                   {"commune_code": commune, "name": name, "is_fallback": entry.flag("fallback", False),
                    "province_code": planner.province if commune is None else None,
                    "takes_second_complaints": second_complaints},
                   {"fallback": entry.line_of("fallback")})


async def check(writer: Writer) -> None:
    """Nothing to look up: a unit names nothing else."""


async def write(writer: Writer) -> None:
    written = await writer.upsert(Unit, "units", list(writer.units.values()),
                                  lambda unit: (unit.commune_code, unit.name))
    await writer.session.flush()
    for planned, unit in written:
        writer.units[planned.key] = unit
    # The file names the fallback unit of a commune (or of the province): any other one stops being it.
    fallbacks = {planned.commune: unit for planned, unit in written if unit.is_fallback}
    for unit in writer.units.values():
        chosen = fallbacks.get(unit.commune_code)
        if chosen is not None and unit is not chosen and unit.is_fallback:
            unit.is_fallback = False
            writer.summary.changed += 1
