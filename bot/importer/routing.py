"""routing: which unit takes a category's items, ``"*"`` for any other category.

    routing:
      land: Phòng Kinh tế, Hạ tầng và Đô thị
      "*": Văn phòng HĐND và UBND phường

A unit is the commune's own, or one of the province's. Keyed by commune and category.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.importer.categories import check_categories
from bot.importer.fields import Entry, Planned
from bot.importer.officers import unknown_unit
from storage.models import RoutingRule

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    category = entry.name("category", required=True, limit=50)
    unit = entry.name("unit", required=True, limit=200)
    category = None if category == "*" else category
    return Planned("routing", entry.line, commune, (commune, category),
                   {"commune_code": commune, "category": category},
                   {"unit": entry.line_of("unit"), "category": entry.line_of("category")},
                   refs={"unit_id": unit})


async def check(writer: Writer) -> None:
    for row in writer.plan.get("routing", []):
        if writer.unit_key(row.commune, row.refs["unit_id"]) is None:
            raise unknown_unit(writer, row)
    await check_categories(writer, "routing")


async def write(writer: Writer) -> None:
    await writer.upsert(RoutingRule, "routing",
                        await writer.rows(RoutingRule, RoutingRule.commune_code.in_(writer.communes)),
                        lambda rule: (rule.commune_code, rule.category))
