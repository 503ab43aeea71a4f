"""The importer: what a province's and its communes' offices keep in a spreadsheet or a YAML file
(units, officers, routing, the communes themselves, petition categories, the reception schedule,
disclosures, projects, consultations, oversight boards) loaded with ``tiepdan admin import FILE``.

A YAML file has these top-level sections, all optional::

    province: 1                      # code or exact name; the province of its units with level: province
    commune: 70                      # code or exact name; the default for every entry
    units:        [{name, fallback, level: commune | province, second_complaints}]
    officers:     [{name, unit, role, language}]
    routing:      {category: unit name, "*": unit for any other category}
    communes:     [{commune, remote, served_by, refer_to}]
    categories:   [{key, label_vi, label_en, position, active}]
    reception_sessions: [{receiver, place, topics, start: 2026-12-03 07:30, end: 11:30,
                          every: thursday | [monday, thursday], rrule, online_url, status, published,
                          key, moved_from: 2026-12-03 07:30}]
    disclosures:  [{category, title, body, url, decided_on, published, board_until}]
    projects:     [{name, description, status, progress, budget, start, end,
                    updates: [{date, progress, note}]}]
    consultations: [{title, body, options: [..], opens, closes, status}]
    templates:    [{key, action, text, kind, category, position, active}]   # officers' one-tap answers
    boards:       [{name, type: inspection | investment, project}]          # oversight boards
    zalo_templates: [{notice, template_id, price, code_param, date_param, status_param,
                      in_charged_band: template | message}]                  # Zalo template notices (ZNS)

Any entry may name its own ``commune``; a unit of the province (and its officers) has none. Times are
local time in the configured zone. A CSV file holds one kind of entry, told by a ``kind`` column or by
its columns; list cells (options, every) are separated by ``|``. Each kind of record has its own module
here, whose docstring says what it means and how it is keyed: units.py, officers.py, routing.py,
communes.py, categories.py, reception.py, disclosures.py, projects.py, consultations.py, templates.py,
boards.py, zalo_templates.py.

Importing is an update, never a duplication: each entry is matched by a natural key and the row is
updated in place. Fields left out take their defaults, except the publication time, which stays as
first published. Nothing is ever deleted.

The whole file is checked before anything is written and goes in one transaction: an invalid file is
refused whole, with the line and the field that is wrong (``ImportError_``). Lawful-but-late
publication is reported as a warning in the summary.

    source.py  YAML and CSV → a tree of raw values with their lines
    plan.py    every entry checked and turned into the values of its row (``Planner``)
    write.py   references checked, rows created or updated in order (``Writer``)
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from bot.importer.errors import ImportError_, ImportSummary
from storage.uow import UnitOfWorkFactory

__all__ = ["ImportError_", "ImportSummary", "import_file"]


async def import_file(uows: UnitOfWorkFactory, path: str | Path, *, zone: ZoneInfo | str) -> ImportSummary:
    """Check the whole file, then create or update its entries in one transaction."""
    from bot.importer.plan import Planner
    from bot.importer.source import Source
    from bot.importer.write import Writer

    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    source = Source(str(path))
    planner = Planner(source, zone)
    plan = planner.plan(source.read())
    async with uows() as uow:
        writer = Writer(uow.session, source, plan, zone, planner.province)
        await writer.check_references()
        summary = await writer.write()
        await uow.commit()
    return summary
