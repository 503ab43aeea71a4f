"""Writing: references checked against the database, then each entry created or updated in place, in
one transaction. The writer of each kind lives in its module; this one holds what they share (the units
already known, the upsert by natural key, the summary) and their order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.importer import (
    boards,
    categories,
    communes,
    consultations,
    disclosures,
    officers,
    projects,
    reception,
    routing,
    templates,
    units,
    zalo_templates,
)
from bot.importer.errors import ImportSummary
from bot.importer.fields import Planned, same
from bot.importer.source import Source
from storage.models import Unit

# Units first (the others name them), projects before the boards that follow them.
WRITERS = (units.write, officers.write, routing.write, categories.write, templates.write, reception.write,
           disclosures.write, projects.write, consultations.write, communes.write, boards.write,
           zalo_templates.write)
CHECKS = (units.check, officers.check, routing.check, templates.check, communes.check, boards.check)


class Writer:
    def __init__(self, session: AsyncSession, source: Source, plan: dict[str, list[Planned]], zone: ZoneInfo,
                 province: int | None):
        self.session, self.source, self.plan, self.zone, self.province = session, source, plan, zone, province
        self.now = datetime.now(timezone.utc)
        self.summary = ImportSummary(counts={section: len(rows) for section, rows in plan.items()})
        self.summary.project_updates = sum(len(row.children) for row in plan.get("projects", []))
        self.communes = sorted({row.commune for rows in plan.values() for row in rows if row.commune is not None})
        # (commune, name) of a commune's unit, (None, name) of one of the file's province.
        self.units: dict[tuple[int | None, str], Unit] = {}

    async def rows(self, model, *conditions) -> list:
        result = await self.session.execute(select(model).where(*conditions)
                                             .order_by(*model.__table__.primary_key.columns))
        return list(result.scalars())

    def unit_key(self, commune: int | None, name: str) -> tuple[int | None, str] | None:
        """A name as an entry of ``commune`` means it: that commune's unit, else the province's."""
        for key in ((commune, name), (None, name)):
            if key in self.units or key in self.planned_units:
                return key
        return None

    def unit(self, commune: int | None, name: str) -> Unit:
        return self.units[self.unit_key(commune, name)]

    @property
    def planned_units(self) -> set[tuple[int | None, str]]:
        return {row.key for row in self.plan.get("units", [])}

    async def check_references(self) -> None:
        """Units, categories and projects named by other entries exist, in the file or in the database."""
        for unit in await self.rows(Unit, Unit.commune_code.in_(self.communes)):
            self.units.setdefault((unit.commune_code, unit.name), unit)
        if self.province is not None:
            for unit in await self.rows(Unit, Unit.commune_code.is_(None), Unit.province_code == self.province):
                self.units.setdefault((None, unit.name), unit)
        for check in CHECKS:
            await check(self)

    async def write(self) -> ImportSummary:
        for write in WRITERS:
            await write(self)
        await self.session.flush()
        return self.summary

    async def upsert(self, model, section: str, existing: list, key: Callable[[Any], tuple],
                     keep: Callable[[Planned, Any], dict[str, Any]] | None = None) -> list:
        """Create or update each planned row of ``section``; returns (planned, row) pairs."""
        by_key: dict[tuple, Any] = {}
        for row in existing:
            by_key.setdefault(key(row), row)
        written = []
        for planned in self.plan.get(section, []):
            values = dict(planned.values)
            for name, unit in planned.refs.items():
                values[name] = self.unit(planned.commune, unit).id
            row = by_key.get(planned.key)
            if keep:
                values.update(keep(planned, row))
            if row is None:
                row = model(**values)
                self.session.add(row)
                by_key[planned.key] = row
                self.summary.created += 1
            elif self.assign(row, values):
                self.summary.changed += 1
            else:
                self.summary.unchanged += 1
            written.append((planned, row))
        return written

    def assign(self, row, values: dict[str, Any]) -> bool:
        changed = False
        for name, value in values.items():
            if not same(getattr(row, name), value):
                setattr(row, name, value)
                changed = True
        return changed

    def publication(self, planned: Planned, row) -> dict[str, Any]:
        """Given in the file, or kept from the first import, or now."""
        if planned.published is not None:
            return {"published_at": planned.published}
        if row is not None and row.published_at is not None:
            return {}
        return {"published_at": self.now}

    def warn(self, line: int, where: str, problem: str) -> None:
        self.summary.warnings.append(str(self.source.error(line, where, problem)))
