"""disclosures: what the commune discloses (công khai, Luật Thực hiện dân chủ ở cơ sở 2022, Điều 11).

    disclosures:
      - {category: budget, title: Dự toán ngân sách 2027, body: ..., decided_on: 2026-11-18,
         published: 2026-11-20, board_until: 2026-12-20, files: [du-toan-2027.pdf]}

``files``: documents beside the import file, served by the public pages (bot/public/files.py).

Published later than 5 working days after the decision (Điều 12) or on the notice board for fewer than
30 days (Điều 13) is reported as a warning. Keyed by commune and title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from datetime import datetime

from bot.domain.calendar import DEFAULT_CALENDAR
from bot.importer.fields import Entry, Planned, utc
from bot.importer.sections import BOARD_DAYS, DISCLOSURE_CATEGORIES, DISCLOSURE_WORKING_DAYS
from bot.public import files as public_files
from storage.models import Disclosure

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    category = entry.text("category", required=True)
    if category not in DISCLOSURE_CATEGORIES:
        raise entry.fail("category", f"unknown category {category!r} "
                                     f"(expected one of {', '.join(DISCLOSURE_CATEGORIES)})")
    title = entry.name("title", required=True, limit=300)
    decided_on, published = entry.date("decided_on"), planner.published(entry)
    published_day = published.astimezone(planner.zone).date() if published else datetime.now(planner.zone).date()
    if decided_on is not None and decided_on > published_day:
        raise entry.fail("decided_on", f"decided on {decided_on}, after its publication on {published_day}")
    return Planned("disclosures", entry.line, commune, (commune, title),
                   {"commune_code": commune, "category": category, "title": title,
                    "body": entry.text("body", required=True), "url": planner.url(entry, "url"),
                    "decided_on": decided_on, "board_until": entry.date("board_until")},
                   {"board_until": entry.line_of("board_until"), "published": entry.line_of("published")},
                   published=published, files=public_files.read(planner, entry, "files", photos=False))


async def write(writer: Writer) -> None:
    written = await writer.upsert(
        Disclosure, "disclosures",
        await writer.rows(Disclosure, Disclosure.commune_code.in_(writer.communes)),
        lambda disclosure: (disclosure.commune_code, " ".join(disclosure.title.split())),
        keep=writer.publication)
    for planned, disclosure in written:
        _check_disclosure(writer, planned, disclosure)
    await public_files.write(writer, "disclosure", written)


def _check_disclosure(writer, planned: Planned, disclosure: Disclosure) -> None:
    """Luật Thực hiện dân chủ ở cơ sở 2022: disclosed within 5 working days of the decision (Đ.12),
    on the notice board at least 30 consecutive days (Đ.13)."""
    published = utc(disclosure.published_at).astimezone(writer.zone).date()
    decided, board_until = disclosure.decided_on, disclosure.board_until
    if decided is not None:
        latest = DEFAULT_CALENDAR.add_working_days(decided, DISCLOSURE_WORKING_DAYS)
        if published > latest:
            writer.warn(planned.lines["published"], "disclosures.published",
                        f"published {published}, more than {DISCLOSURE_WORKING_DAYS} working days after the "
                        f"decision of {decided} (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 12: by {latest})")
    if board_until is not None and (board_until - published).days + 1 < BOARD_DAYS:
        writer.warn(planned.lines["board_until"], "disclosures.board_until",
                    f"on the notice board from {published} to {board_until}, fewer than {BOARD_DAYS} days "
                    f"(Luật Thực hiện dân chủ ở cơ sở 2022, Điều 13)")
