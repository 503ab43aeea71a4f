"""Planning: every entry checked and turned into the values of its row, before the database is touched.

The planner reads what is common to every entry (its commune, or the province for a province unit) and
hands the rest to the reader of its kind (one module per kind of record: units.py, officers.py, ...).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from bot.domain.communes import commune_by_code, fold, search_communes
from bot.domain.provinces import province_by_name, province_name, province_of
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
from bot.importer.fields import Entry, Planned, bare, bare_province, group
from bot.importer.sections import PROVINCE_SECTIONS, SECTIONS
from bot.importer.source import Document, Raw, Source

READERS = {
    "units": units.read, "officers": officers.read, "routing": routing.read, "categories": categories.read,
    "templates": templates.read, "reception_sessions": reception.read, "disclosures": disclosures.read,
    "projects": projects.read, "consultations": consultations.read, "communes": communes.read,
    "boards": boards.read, "zalo_templates": zalo_templates.read,
}


class Planner:
    def __init__(self, source: Source, zone: ZoneInfo):
        self.source, self.zone = source, zone
        self.default_commune: int | None = None
        self.province: int | None = None  # the file's province: given, or that of its communes

    def plan(self, document: Document) -> dict[str, list[Planned]]:
        self.province = self._province(document.province)  # names of communes are looked for in it
        if document.commune is not None:
            self.default_commune = self.commune(document.commune, "commune")
        if self.province is None:
            self.province = province_of(self.default_commune)
        elif self.default_commune is not None and province_of(self.default_commune) != self.province:
            raise self.source.error(document.commune.line, "commune",
                                    f"commune {self.default_commune} is not in {province_name(self.province)}")
        plan: dict[str, list[Planned]] = {}
        for section, raws in document.sections.items():
            required, optional = SECTIONS[section]
            read = READERS[section]
            planned = []
            seen: dict[tuple, int] = {}
            for raw in raws:
                entry = Entry(self.source, section, raw, ("commune", *required, *optional))
                for name in required:
                    if not entry.given(name):
                        raise entry.fail(name, "missing (required)")
                row = read(self, entry, self._entry_commune(entry))
                if row.key in seen:
                    raise self.source.error(row.line, section, f"the same entry as on line {seen[row.key]}")
                seen[row.key] = row.line
                planned.append(row)
            plan[section] = planned
        for fallbacks in group(plan.get("units", []), lambda row: row.commune).values():
            marked = [row for row in fallbacks if row.values["is_fallback"]]
            if len(marked) > 1:
                where = "per commune" if marked[0].commune is not None else "for the province"
                raise self.source.error(marked[1].lines["fallback"], "units.fallback",
                                        f"only one fallback unit {where} (already line {marked[0].line})")
        return plan

    def _entry_commune(self, entry: Entry) -> int | None:
        """The entry's commune; None for an entry of the province (a province unit, its officers), which
        only a file naming its province may hold."""
        if entry.given("commune"):
            return self.commune(entry.fields["commune"], f"{entry.section}.commune")
        if self.default_commune is not None:
            return self.default_commune
        if entry.section in PROVINCE_SECTIONS and self.province is not None:
            return None
        raise entry.fail("commune", "missing: give the commune at the top of the file or in the entry")

    def _province(self, raw: Raw | None) -> int | None:
        if raw is None:
            return None
        if not isinstance(raw.value, str) or not raw.value.strip():
            raise self.source.error(raw.line, "province", "expected a province code or its name")
        value = unicodedata.normalize("NFC", raw.value).strip()
        code = int(value) if value.isdigit() else province_by_name(value)
        if code is None or province_name(code) == str(code):
            raise self.source.error(raw.line, "province", f"no province is {value!r} (use its code or exact name)")
        return code

    def commune(self, raw: Raw, where: str) -> int:
        if not isinstance(raw.value, str) or not raw.value.strip():
            raise self.source.error(raw.line, where, "expected a commune code or its exact name")
        value = unicodedata.normalize("NFC", raw.value).strip()
        if value.isdigit():
            if commune_by_code(int(value)) is None:
                raise self.source.error(raw.line, where, f"no commune has the code {value}")
            return int(value)
        wanted = bare(fold(value))
        exact = [commune for commune in search_communes(value, limit=10)
                 if wanted in (bare(fold(commune.name)), bare(fold(f"{commune.name} {commune.province_name}")),
                               bare(fold(commune.name)) + " " + bare_province(commune.province_name))]
        if len({commune.code for commune in exact}) > 1 and self.province is not None:
            exact = [commune for commune in exact if province_of(commune.code) == self.province] or exact
        if len({commune.code for commune in exact}) == 1:
            return exact[0].code
        if exact:
            raise self.source.error(raw.line, where, f"{value!r} names several communes "
                                                     f"({'; '.join(c.label for c in exact[:3])}): use the code")
        raise self.source.error(raw.line, where, f"no commune is named exactly {value!r} (use the code)")

    def local(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(timezone.utc)

    def published(self, entry: Entry) -> datetime | None:
        moment = entry.moment("published", allow_date=True)
        return self.local(moment[0], moment[1] or time(0, 0)) if moment else None

    def url(self, entry: Entry, name: str) -> str | None:
        url = entry.text(name, limit=500)
        if url is not None and not re.match(r"https?://\S+$", url):
            raise entry.fail(name, f"expected a web address starting with https://, not {url!r}")
        return url
