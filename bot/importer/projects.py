"""projects: public investment projects with status, progress, budget and a dated timeline.

    projects:
      - {name: Cải tạo vỉa hè phố Hàng Bạc, status: in_progress, budget: 12_500_000_000,
         start: 2026-09-15, end: 2027-02-28, updates: [{date: 2026-11-10, progress: 40, note: ...}]}

Keyed by commune and name; an update by project and date. ``photos``: JPEG, PNG or WebP files beside
the import file, shown on the project's public page (bot/public/files.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.importer.fields import Entry, Planned
from bot.public import files as public_files
from bot.importer.sections import PROJECT_STATUSES
from storage.models import Project, ProjectUpdate

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    name = entry.name("name", required=True, limit=300)
    starts_on, ends_on = entry.date("start"), entry.date("end")
    if starts_on and ends_on and ends_on < starts_on:
        raise entry.fail("end", f"the project ends ({ends_on}) before it starts ({starts_on})")
    updates, seen = [], {}
    for raw in entry.entries("updates"):
        update = Entry(planner.source, "projects.updates", raw, ("date", "progress", "note"))
        on = update.date("date", required=True)
        progress = update.integer("progress", minimum=0, maximum=100, what="a percentage from 0 to 100")
        if progress is None:
            raise update.fail("progress", "missing (required)")
        if on in seen:
            raise update.fail("date", f"two updates on {on} (the other on line {seen[on]})")
        seen[on] = update.line
        updates.append(Planned("project_updates", update.line, commune, (on,),
                               {"on": on, "progress_percent": progress,
                                "note": update.text("note", required=True)}, {}))
    progress = entry.integer("progress", minimum=0, maximum=100, what="a percentage from 0 to 100")
    if progress is None:
        latest = max(updates, key=lambda row: row.values["on"], default=None)
        progress = latest.values["progress_percent"] if latest else 0
    return Planned("projects", entry.line, commune, (commune, name),
                   {"commune_code": commune, "name": name, "description": entry.text("description") or "",
                    "status": entry.choice("status", PROJECT_STATUSES, "planned"),
                    "progress_percent": progress,
                    "budget_vnd": entry.integer("budget", minimum=0, what="an amount in đồng"),
                    "starts_on": starts_on, "ends_on": ends_on}, {}, children=updates,
                   files=public_files.read(planner, entry, "photos", photos=True))


async def write(writer: Writer) -> None:
    written = await writer.upsert(Project, "projects",
                                  await writer.rows(Project, Project.commune_code.in_(writer.communes)),
                                  lambda project: (project.commune_code, " ".join(project.name.split())))
    if not written:
        return
    await writer.session.flush()
    await public_files.write(writer, "project", written)
    project_ids = [project.id for _, project in written]
    existing = await writer.rows(ProjectUpdate, ProjectUpdate.project_id.in_(project_ids))
    by_key: dict[tuple, ProjectUpdate] = {}
    for update in existing:
        by_key.setdefault((update.project_id, update.on), update)
    for planned, project in written:
        for child in planned.children:
            values = {**child.values, "project_id": project.id}
            update = by_key.get((project.id, child.values["on"]))
            if update is None:
                writer.session.add(ProjectUpdate(**values))
                writer.summary.created += 1
            elif writer.assign(update, values):
                writer.summary.changed += 1
            else:
                writer.summary.unchanged += 1
