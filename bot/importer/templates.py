"""templates: officers' one-tap answers, per action, kind and category (left out: any).

    templates:
      - {key: info_photos, action: request_info, text: Đề nghị ông/bà gửi thêm ảnh chụp hiện trường.}

Keyed by commune and key.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.importer.categories import check_categories
from bot.importer.fields import Entry, Planned
from bot.importer.sections import ITEM_KINDS
from bot.templates import TEMPLATE_ACTIONS
from storage.models import ResponseTemplate

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    key = entry.name("key", required=True, limit=50)
    if not re.fullmatch(r"[a-z0-9_]+", key):
        raise entry.fail("key", f"a key is lower-case letters, digits and _ (like answer_road_fixed), not {key!r}")
    action = entry.choice("action", TEMPLATE_ACTIONS, "")
    kind = entry.choice("kind", ITEM_KINDS, "") or None
    category = entry.name("category", limit=50)
    category = None if category in (None, "*") else category
    return Planned("templates", entry.line, commune, (commune, key),
                   {"commune_code": commune, "key": key, "action": action, "kind": kind, "category": category,
                    "text": entry.text("text", required=True, limit=3000),
                    "position": entry.integer("position", minimum=0) or 0, "active": entry.flag("active", True)},
                   {"category": entry.line_of("category")})


async def check(writer: Writer) -> None:
    await check_categories(writer, "templates")


async def write(writer: Writer) -> None:
    await writer.upsert(ResponseTemplate, "templates",
                        await writer.rows(ResponseTemplate, ResponseTemplate.commune_code.in_(writer.communes)),
                        lambda template: (template.commune_code, template.key))
