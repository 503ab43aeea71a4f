"""consultations: questions put to the people (lấy ý kiến), open at least 20 days (Luật Thực hiện dân
chủ ở cơ sở 2022, Điều 28).

    consultations:
      - {title: ..., body: ..., options: [Đồng ý, Không đồng ý], opens: 2026-11-25 08:00, closes: 2026-12-20}

A closing date alone means to the end of that day. Keyed by commune and title.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from datetime import time, timedelta

from bot.importer.fields import Entry, Planned
from bot.importer.sections import CONSULTATION_MIN_DAYS, CONSULTATION_STATUSES
from storage.models import Consultation

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    title = entry.name("title", required=True, limit=300)
    options = entry.texts("options")
    if len(options) < 2:
        raise entry.fail("options", "a consultation needs at least 2 options")
    seen: set[str] = set()
    for option in options:
        if len(option.value) > 100:
            raise entry.fail("options", f"option too long ({len(option.value)} characters, at most 100)",
                             option.line)
        if option.value in seen:
            raise entry.fail("options", f"option {option.value!r} is given twice", option.line)
        seen.add(option.value)
    opens_day, opens_clock = entry.moment("opens", required=True, allow_date=True)
    opens_at = planner.local(opens_day, opens_clock or time(0, 0))
    # A bare closing date means to the end of that day (24:00, Bộ luật Dân sự Đ.148).
    closes_day, closes_clock = entry.moment("closes", required=True, allow_date=True)
    closes_at = (planner.local(closes_day, closes_clock) if closes_clock is not None
                 else planner.local(closes_day + timedelta(days=1), time(0, 0)))
    if closes_at <= opens_at:
        raise entry.fail("closes", "the consultation closes before it opens")
    if closes_at - opens_at < timedelta(days=CONSULTATION_MIN_DAYS):
        length = (closes_at - opens_at) / timedelta(days=1)
        raise entry.fail("closes", f"a consultation runs at least {CONSULTATION_MIN_DAYS} days (Luật Thực hiện "
                                   f"dân chủ ở cơ sở 2022, Điều 28); this one runs {length:.3g} days")
    return Planned("consultations", entry.line, commune, (commune, title),
                   {"commune_code": commune, "title": title, "body": entry.text("body", required=True),
                    "options": [option.value for option in options], "opens_at": opens_at,
                    "closes_at": closes_at, "status": entry.choice("status", CONSULTATION_STATUSES, "open")},
                   {})


async def write(writer: Writer) -> None:
    await writer.upsert(Consultation, "consultations",
                        await writer.rows(Consultation, Consultation.commune_code.in_(writer.communes)),
                        lambda consultation: (consultation.commune_code, consultation.title))
