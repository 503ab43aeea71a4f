"""communes: what the province knows of each of its communes.

    communes:
      - {commune: Xã Ba Vì, remote: yes}                         # vùng sâu, vùng xa, đi lại khó khăn
      - {commune: Xã Bát Tràng, served_by: Ban Tiếp công dân Thành phố}   # a province unit takes its items
      - {commune: 10105, refer_to: "Nộp trực tiếp tại Bộ phận một cửa UBND xã, số 1 đường Chính."}

``remote`` lengthens complaint periods and filing windows (Luật Khiếu nại 2011, Điều 9, 28, 33, 37):
items filed there are remote-area items. A commune without units of its own is served by the unit of
the province it names (``served_by``), else by the province's fallback unit, unless ``refer_to`` tells
its citizens where to go instead; then they are told so before they file, and no item is created.
Keyed by commune.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.domain.provinces import province_name, province_of
from bot.importer.fields import Entry, Planned
from storage.models import CommuneProfile

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    if planner.province is not None and province_of(commune) != planner.province:
        raise entry.fail("commune", f"commune {commune} is not in {province_name(planner.province)}, "
                                    f"the province of this file")
    served_by = entry.name("served_by", limit=200)
    refer_to = entry.text("refer_to", limit=500)
    if served_by is not None and refer_to is not None:
        raise entry.fail("refer_to", "give either served_by (a unit of the province takes the items) or refer_to "
                                     "(where citizens go instead), not both")
    return Planned("communes", entry.line, commune, (commune,),
                   {"commune_code": commune, "province_code": province_of(commune),
                    "remote_area": entry.flag("remote", False), "refer_to": refer_to},
                   {"served_by": entry.line_of("served_by")}, refs={"served_by_unit_id": served_by} if served_by else {})


async def check(writer: Writer) -> None:
    """``served_by`` names a unit of the province; a commune with units of its own does not need it."""
    for row in writer.plan.get("communes", []):
        name = row.refs.get("served_by_unit_id")
        if name is None:
            continue
        if (None, name) not in writer.units and (None, name) not in writer.planned_units:
            raise writer.source.error(row.lines["served_by"], "communes.served_by",
                                      f"unknown unit of the province {name!r} (a unit with level: province, "
                                      f"under units: or in the database)")
        if any(commune == row.commune for commune, _ in list(writer.units) + list(writer.planned_units)):
            writer.warn(row.lines["served_by"], "communes.served_by",
                        f"commune {row.commune} has units of its own: they take its items, not {name!r}")


async def write(writer: Writer) -> None:
    if not writer.plan.get("communes"):
        return
    for row in writer.plan.get("communes", []):
        name = row.refs.pop("served_by_unit_id", None)  # always the province's, never a commune's namesake
        row.values["served_by_unit_id"] = writer.units[(None, name)].id if name is not None else None
    await writer.upsert(CommuneProfile, "communes",
                        await writer.rows(CommuneProfile, CommuneProfile.commune_code.in_(writer.communes)),
                        lambda profile: (profile.commune_code,))
