"""officers: the staff of a unit, by name (people are bound to their chat by an invite).

    officers:
      - {name: Nguyễn Thị Thu Hà, unit: Văn phòng HĐND và UBND phường, role: leader}
      - {name: Trần Quốc Bảo, unit: Văn phòng HĐND và UBND phường, role: chairman}
      - {name: Đỗ Minh Tâm, unit: Thanh tra Thành phố, role: province_overseer}   # a province unit

Roles are those of bot/policy.py appointed to a unit: officer, leader, admin, chairman, vice_chairman
(commune units), province_admin, province_overseer (province units). Keyed by unit and name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.importer.fields import Entry, Planned
from bot.importer.sections import COMMUNE_ROLES, LANGUAGES, PROVINCE_ROLES, UNIT_ROLES
from storage.models import User

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int | None) -> Planned:
    name = entry.name("name", required=True, limit=200)
    unit = entry.name("unit", required=True, limit=200)
    return Planned("officers", entry.line, commune, (commune, unit, name),
                   {"commune_code": commune, "display_name": name,
                    "role": entry.choice("role", UNIT_ROLES, "officer"),
                    "language": entry.choice("language", LANGUAGES, "vi")},
                   {"unit": entry.line_of("unit"), "role": entry.line_of("role")}, refs={"unit_id": unit})


async def check(writer: Writer) -> None:
    """The unit exists, in the file or the database; a province role sits in a province unit and a
    commune's role (admin, chairman) in a commune's unit; officers and leaders in either."""
    for row in writer.plan.get("officers", []):
        key = writer.unit_key(row.commune, row.refs["unit_id"])
        if key is None:
            raise unknown_unit(writer, row)
        role, at_province = row.values["role"], key[0] is None
        if role in PROVINCE_ROLES and not at_province or role in COMMUNE_ROLES and at_province:
            raise writer.source.error(row.lines["role"], "officers.role",
                                      f"a {role} belongs to a unit of {'a commune' if at_province else 'the province'}, "
                                      f"not {key[1]!r}")


def unknown_unit(writer: Writer, row: Planned):
    unit = row.refs["unit_id"]
    where = f"for commune {row.commune}" if row.commune is not None else "of the province"
    return writer.source.error(row.lines["unit"], f"{row.section}.unit",
                               f"unknown unit {unit!r} (not under units: and not in the database {where})")


async def write(writer: Writer) -> None:
    planned = writer.plan.get("officers", [])
    if not planned:
        return
    for row in planned:  # keyed by the unit the name means, a commune's or the province's
        unit = writer.unit(row.commune, row.refs["unit_id"])
        row.key = (unit.commune_code, unit.name, row.values["display_name"])
    unit_ids = {writer.unit(row.commune, row.refs["unit_id"]).id for row in planned}
    existing = await writer.rows(User, User.unit_id.in_(unit_ids), User.role.in_(UNIT_ROLES))
    units_by_id = {unit.id: unit for unit in writer.units.values()}
    await writer.upsert(User, "officers", existing,
                        lambda user: (units_by_id[user.unit_id].commune_code, units_by_id[user.unit_id].name,
                                      user.display_name))
