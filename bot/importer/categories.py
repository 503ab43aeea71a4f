"""categories: a commune's own petition categories (without any, the defaults of bot/categories.py).

    categories:
      - {key: land, label_vi: "🏠 Đất đai, nhà ở", label_en: "🏠 Land and housing"}

Keyed by commune and key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.categories import DEFAULT_CATEGORIES
from bot.importer.fields import Entry, Planned
from storage.models import CommuneCategory

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    key = entry.name("key", required=True, limit=50)
    if not re.fullmatch(r"[a-z0-9_]+", key):
        raise entry.fail("key", f"a key is lower-case letters, digits and _ (like land_use), not {key!r}")
    position = entry.integer("position", minimum=0)
    return Planned("categories", entry.line, commune, (commune, key),
                   {"commune_code": commune, "key": key,
                    "label_vi": entry.text("label_vi", required=True, limit=100),
                    "label_en": entry.text("label_en", required=True, limit=100),
                    "position": position, "active": entry.flag("active", True)}, {})


async def check_categories(writer: Writer, section: str) -> None:
    """The categories that ``section``'s entries name exist: defaults, in the file, or in the database."""
    known = {(commune, category.key) for commune in writer.communes for category in DEFAULT_CATEGORIES}
    known |= {row.key for row in writer.plan.get("categories", [])}
    known |= {(row.commune_code, row.key)
              for row in await writer.rows(CommuneCategory, CommuneCategory.commune_code.in_(writer.communes))}
    for row in writer.plan.get(section, []):
        category = row.values["category"]
        if category is not None and (row.commune, category) not in known:
            keys = sorted(key for commune, key in known if commune == row.commune)
            raise writer.source.error(row.lines["category"], f"{row.section}.category",
                                      f"unknown category {category!r} (expected * or one of {', '.join(keys)})")


async def write(writer: Writer) -> None:
    planned = writer.plan.get("categories", [])
    for position, row in enumerate(planned):
        if row.values["position"] is None:
            row.values["position"] = position
    await writer.upsert(CommuneCategory, "categories",
                        await writer.rows(CommuneCategory, CommuneCategory.commune_code.in_(writer.communes)),
                        lambda category: (category.commune_code, category.key))
