"""The publishing importer: what a commune's office keeps in a spreadsheet or a YAML file (units,
officers, routing, petition categories, the reception schedule, disclosures, projects,
consultations) loaded with ``tiepdan admin import FILE``.

A YAML file has these top-level sections, all optional::

    commune: 70                      # code or exact name; the default for every entry
    units:        [{name, fallback}]
    officers:     [{name, unit, role, language}]
    routing:      {category: unit name, "*": unit for any other category}
    categories:   [{key, label_vi, label_en, position, active}]
    reception_sessions: [{receiver, place, topics, start: 2026-12-03 07:30, end: 11:30,
                          every: thursday | [monday, thursday], rrule, online_url, status, published,
                          key, moved_from: 2026-12-03 07:30}]
    disclosures:  [{category, title, body, url, decided_on, published, board_until}]
    projects:     [{name, description, status, progress, budget, start, end,
                    updates: [{date, progress, note}]}]
    consultations: [{title, body, options: [..], opens, closes, status}]
    templates:    [{key, action, text, kind, category, position, active}]   # officers' one-tap answers

Any entry may name its own ``commune``. Times are local time in the configured zone. A CSV file
holds one kind of entry, told by a ``kind`` column or by its columns; list cells (options, every)
are separated by ``|``.

Importing is an update, never a duplication: each entry is matched by a natural key (unit: commune +
name; officer: name + unit; routing rule: commune + category; category: commune + key; session:
commune + start + place; disclosure, consultation: commune + title; project: commune + name; project
update: project + date; response template: commune + key) and the row is updated in place. A reception session may carry the commune's
own ``key`` (matched before the time and place) or name the time it is ``moved_from``; either way a
new time for a known session is a postponement: the session is moved, registrations move with it, and
subscribers and registered citizens are told the old and the new time. Setting ``status: cancelled``
on a session still to come tells them it is cancelled. Fields left out take their defaults, except
the publication time, which stays as first published. Nothing is ever deleted.

The whole file is checked before anything is written and goes in one transaction: an invalid file is
refused whole, with the line and the field that is wrong. Lawful-but-late publication (a reception
schedule announced fewer than 5 working days ahead, a disclosure later than 5 working days after the
decision or on the board for fewer than 30 days) is reported as a warning in the summary.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.categories import DEFAULT_CATEGORIES
from bot.domain.calendar import DEFAULT_CALENDAR
from bot.domain.communes import COMMUNE_PREFIXES, commune_by_code, fold, search_communes
from bot.domain.roles import STAFF_ROLES
from bot.domain.kinds import ItemKind
from bot.domain.schedule import WEEKDAY_CODES, is_valid_rule, upcoming
from bot.publishing import (
    announce_session_cancelled,
    announce_session_moved,
    announce_sessions,
    move_registrations,
)
from bot.templates import TEMPLATE_ACTIONS
from bot.texts import vi
from storage.models import (
    CommuneCategory,
    Consultation,
    Disclosure,
    Project,
    ProjectUpdate,
    ReceptionSession,
    ResponseTemplate,
    RoutingRule,
    Unit,
    User,
)
from storage.uow import UnitOfWorkFactory

# The catalogue is the single list of disclosure categories (Luật Thực hiện dân chủ ở cơ sở 2022, Đ.11)
# and of project statuses; the importer accepts exactly what the bot can show.
DISCLOSURE_CATEGORIES = tuple(key.removeprefix("disclosure.category.") for key in vi.TEXTS
                              if key.startswith("disclosure.category."))
PROJECT_STATUSES = tuple(key.removeprefix("projects.status.") for key in vi.TEXTS
                         if key.startswith("projects.status."))
SESSION_STATUSES = ("scheduled", "cancelled")
CONSULTATION_STATUSES = ("open", "closed")
LANGUAGES = ("vi", "en")
ITEM_KINDS = tuple(kind.value for kind in ItemKind)

# Luật Tiếp công dân 2013, Đ.24: the reception schedule is published at least 5 working days ahead.
SCHEDULE_NOTICE_WORKING_DAYS = 5
# Luật Thực hiện dân chủ ở cơ sở 2022: disclose within 5 working days of the decision (Đ.12), keep it
# on the notice board at least 30 consecutive days (Đ.13), consult for at least 20 days (Đ.28).
DISCLOSURE_WORKING_DAYS = 5
BOARD_DAYS = 30
CONSULTATION_MIN_DAYS = 20

SECTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # section: (required fields, optional fields); every entry may also carry ``commune``
    "units": (("name",), ("fallback",)),
    "officers": (("name", "unit"), ("role", "language")),
    "routing": (("category", "unit"), ()),
    "categories": (("key", "label_vi", "label_en"), ("position", "active")),
    "reception_sessions": (("receiver", "place", "start", "end"),
                           ("topics", "every", "rrule", "online_url", "status", "published", "key", "moved_from")),
    "disclosures": (("category", "title", "body"), ("url", "decided_on", "published", "board_until")),
    "projects": (("name",), ("description", "status", "progress", "budget", "start", "end", "updates")),
    "consultations": (("title", "body", "options", "opens", "closes"), ("status",)),
    "templates": (("key", "action", "text"), ("kind", "category", "position", "active")),
}
LABELS = {  # summary order and wording
    "units": ("unit", "units"),
    "officers": ("officer", "officers"),
    "routing": ("routing rule", "routing rules"),
    "reception_sessions": ("reception session", "reception sessions"),
    "disclosures": ("disclosure", "disclosures"),
    "projects": ("project", "projects"),
    "consultations": ("consultation", "consultations"),
    "categories": ("category", "categories"),
    "templates": ("response template", "response templates"),
}
CSV_ONLY_IN_YAML = {"updates"}  # fields a CSV row cannot hold

_WEEKDAYS = {  # folded spellings → RFC 5545 day codes
    **{name: code for code, names in {
        "MO": ("monday", "mon", "mo", "thu hai", "thu 2", "t2"),
        "TU": ("tuesday", "tue", "tu", "thu ba", "thu 3", "t3"),
        "WE": ("wednesday", "wed", "we", "thu tu", "thu 4", "t4"),
        "TH": ("thursday", "thu", "th", "thu nam", "thu 5", "t5"),
        "FR": ("friday", "fri", "fr", "thu sau", "thu 6", "t6"),
        "SA": ("saturday", "sat", "sa", "thu bay", "thu 7", "t7"),
        "SU": ("sunday", "sun", "su", "chu nhat", "cn"),
    }.items() for name in names},
}


class ImportError_(Exception):
    """The file cannot be imported; the message is one line naming the file, the line and the field."""

    def __init__(self, path: str, line: int | None, where: str | None, problem: str):
        self.path, self.line, self.field, self.problem = path, line, where, problem
        location = ", ".join(part for part in (path, f"line {line}" if line else None, where) if part)
        super().__init__(f"{location}: {problem}")


@dataclass
class ImportSummary:
    counts: dict[str, int] = field(default_factory=dict)   # entries in the file, by section
    project_updates: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0
    sessions_moved: int = 0
    sessions_cancelled: int = 0
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for section, (one, many) in LABELS.items():
            count = self.counts.get(section, 0)
            if not count:
                continue
            part = f"{count} {one if count == 1 else many}"
            if section == "projects" and self.project_updates:
                part += f" ({self.project_updates} update{'' if self.project_updates == 1 else 's'})"
            parts.append(part)
        text = ", ".join(parts) or "nothing"
        text += f" — {self.created} new, {self.changed} changed, {self.unchanged} unchanged"
        if self.sessions_moved or self.sessions_cancelled:
            text += (f"; reception sessions moved: {self.sessions_moved}, cancelled: {self.sessions_cancelled}"
                     " (subscribers and registered citizens told)")
        return "\n".join([text, *(f"warning: {warning}" for warning in self.warnings)])


async def import_file(uows: UnitOfWorkFactory, path: str | Path, *, zone: ZoneInfo | str) -> ImportSummary:
    """Check the whole file, then create or update its entries in one transaction."""
    zone = ZoneInfo(zone) if isinstance(zone, str) else zone
    source = _Source(str(path))
    plan = _Planner(source, zone).plan(source.read())
    async with uows() as uow:
        writer = _Writer(uow.session, source, plan, zone)
        await writer.check_references()
        summary = await writer.write()
        await uow.commit()
    return summary


# ---------------------------------------------------------------------------------------------
# Reading: YAML and CSV become the same tree of raw text values, each with the line it is on.

@dataclass
class _Raw:
    value: Any  # str | None | list[_Raw] | dict[str, _Raw]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class _Document:
    commune: _Raw | None
    sections: dict[str, list[_Raw]]  # section → its entries (mappings)


class _Source:
    def __init__(self, path: str):
        self.path = path

    def error(self, line: int | None, where: str | None, problem: str) -> ImportError_:
        return ImportError_(self.path, line, where, problem)

    def read(self) -> _Document:
        suffix = Path(self.path).suffix.lower()
        if suffix not in (".yaml", ".yml", ".csv"):
            raise self.error(None, None, "expected a .yaml, .yml or .csv file")
        try:
            data = Path(self.path).read_bytes()
        except OSError as exc:
            raise self.error(None, None, f"cannot read the file: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise self.error(line, None, "not UTF-8 text (save the file as UTF-8)") from None
        return self._read_csv(text) if suffix == ".csv" else self._read_yaml(text)

    def _read_yaml(self, text: str) -> _Document:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise self.error(mark.line + 1 if mark else None, None, f"not valid YAML: {problem}") from None
        if root is None:
            raise self.error(None, None, "the file is empty")
        top = self._raw(root)
        if not isinstance(top.value, dict):
            raise self.error(top.line, None, "expected sections such as units:, disclosures: at the top level")
        sections: dict[str, list[_Raw]] = {}
        for name, raw in top.value.items():
            line = top.key_lines[name]
            if name == "commune":
                continue
            if name not in SECTIONS:
                raise self.error(line, name, f"unknown section (expected commune, {', '.join(SECTIONS)})")
            if raw.value is None:
                sections[name] = []
            elif name == "routing":
                sections[name] = self._routing_entries(raw)
            elif isinstance(raw.value, list):
                sections[name] = raw.value
            else:
                raise self.error(raw.line, name, "expected a list of entries (each line starting with '- ')")
        return _Document(commune=top.value.get("commune"), sections=sections)

    def _routing_entries(self, raw: _Raw) -> list[_Raw]:
        """``routing: {land: Phòng Kinh tế, "*": Văn phòng}`` → entries {category, unit}."""
        if not isinstance(raw.value, dict):
            raise self.error(raw.line, "routing", "expected lines of the form 'category: unit name'")
        entries = []
        for category, unit in raw.value.items():
            line = raw.key_lines[category]
            entries.append(_Raw({"category": _Raw(category, line), "unit": unit}, line,
                                {"category": line, "unit": unit.line}))
        return entries

    def _raw(self, node: yaml.Node) -> _Raw:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            return _Raw(None if node.tag == "tag:yaml.org,2002:null" else node.value, line)
        if isinstance(node, yaml.SequenceNode):
            return _Raw([self._raw(item) for item in node.value], line)
        mapping: dict[str, _Raw] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_line, None, "a field name must be plain text")
            key = key_node.value
            if key in mapping:
                raise self.error(key_line, key, f"given twice (first on line {key_lines[key]})")
            mapping[key], key_lines[key] = self._raw(value_node), key_line
        return _Raw(mapping, line, key_lines)

    def _read_csv(self, text: str) -> _Document:
        first_line = text.split("\n", 1)[0]
        delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            rows = []
            last_line = 0
            for cells in reader:
                rows.append((last_line + 1, cells))
                last_line = reader.line_num
        except csv.Error as exc:
            raise self.error(reader.line_num, None, f"not valid CSV: {exc}") from None
        rows = [(line, cells) for line, cells in rows if any(cell.strip() for cell in cells)]
        if not rows:
            raise self.error(None, None, "the file is empty")
        header_line, header = rows[0]
        columns = [cell.strip().lower() for cell in header]
        for position, column in enumerate(columns):
            if not column:
                raise self.error(header_line, f"column {position + 1}", "the column has no name")
            if column in columns[:position]:
                raise self.error(header_line, column, "the column is given twice")
        kind = self._csv_kind(header_line, columns, rows[1:])
        required, optional = SECTIONS[kind]
        allowed = {"kind", "commune", *required, *optional} - CSV_ONLY_IN_YAML
        for column in columns:
            if column not in allowed:
                raise self.error(header_line, column, f"unknown column for {kind} "
                                                      f"(expected {', '.join(sorted(allowed))})")
        entries = []
        for line, cells in rows[1:]:
            if len(cells) > len(columns):
                raise self.error(line, None, f"{len(cells)} cells but only {len(columns)} columns")
            values = {column: _Raw(cell.strip() or None, line) for column, cell in zip(columns, cells)
                      if column != "kind"}
            entries.append(_Raw(values, line, {column: line for column in values}))
        return _Document(commune=None, sections={kind: entries})

    def _csv_kind(self, header_line: int, columns: list[str], rows: list[tuple[int, list[str]]]) -> str:
        if "kind" in columns:
            position = columns.index("kind")
            kinds = set()
            for line, cells in rows:
                name = _section_name(cells[position] if position < len(cells) else "")
                if name is None:
                    raise self.error(line, "kind", f"unknown kind (expected one of {', '.join(SECTIONS)})")
                kinds.add(name)
                if len(kinds) > 1:
                    raise self.error(line, "kind", "one CSV file holds one kind of entry")
            if kinds:
                return kinds.pop()
        present = set(columns) - {"kind", "commune"}
        fitting = [name for name, (required, optional) in SECTIONS.items()
                   if set(required) <= present <= set(required) | set(optional)]
        if len(fitting) == 1:
            return fitting[0]
        raise self.error(header_line, None, "cannot tell what the rows are from the columns; "
                                            f"add a kind column ({', '.join(SECTIONS)})")


def _section_name(text: str) -> str | None:
    name = fold(text).replace(" ", "_")
    for section, (one, many) in LABELS.items():
        if name in (section, one.replace(" ", "_"), many.replace(" ", "_")):
            return section
    return None


# ---------------------------------------------------------------------------------------------
# Planning: every entry checked and turned into the values of its row, before the database is touched.

@dataclass
class _Planned:
    section: str
    line: int
    commune: int
    key: tuple
    values: dict[str, Any]
    lines: dict[str, int]                             # field → line, for errors found later
    refs: dict[str, str] = field(default_factory=dict)  # unit names to resolve
    children: list[_Planned] = field(default_factory=list)
    published: datetime | None = None                 # explicitly given publication time
    moved_from: datetime | None = None                # a reception session's earlier start


class _Entry:
    """One entry's fields, read by type; any problem raises with the field's line."""

    def __init__(self, source: _Source, section: str, raw: _Raw, allowed: tuple[str, ...]):
        self.source, self.section, self.line = source, section, raw.line
        if not isinstance(raw.value, dict):
            raise source.error(raw.line, section, "expected an entry of 'field: value' lines")
        self.fields: dict[str, _Raw] = raw.value
        self.key_lines = raw.key_lines
        for name in self.fields:
            if name not in allowed:
                raise self.fail(name, f"unknown field (expected {', '.join(allowed)})", self.key_lines[name])

    def fail(self, name: str, problem: str, line: int | None = None) -> ImportError_:
        if line is None:  # the field's own line, or the entry's when the field is missing
            line = self.key_lines.get(name, self.line)
        return self.source.error(line, f"{self.section}.{name}", problem)

    def line_of(self, name: str) -> int:
        return self.key_lines.get(name, self.line)

    def given(self, name: str) -> bool:
        raw = self.fields.get(name)
        return raw is not None and raw.value is not None and raw.value != ""

    def text(self, name: str, *, required: bool = False, limit: int | None = None) -> str | None:
        raw = self.fields.get(name)
        if raw is None or raw.value is None or (isinstance(raw.value, str) and not raw.value.strip()):
            if required:
                raise self.fail(name, "missing (required)")
            return None
        if not isinstance(raw.value, str):
            raise self.fail(name, "expected text, not a list or a mapping")
        value = unicodedata.normalize("NFC", raw.value).strip()
        if limit and len(value) > limit:
            raise self.fail(name, f"too long ({len(value)} characters, at most {limit})")
        return value

    def name(self, name: str, *, required: bool = False, limit: int | None = None) -> str | None:
        """Text used as a key: runs of spaces count as one."""
        value = self.text(name, required=required, limit=limit)
        return " ".join(value.split()) if value is not None else None

    def choice(self, name: str, choices: tuple[str, ...], default: str) -> str:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in choices:
            raise self.fail(name, f"unknown value {value!r} (expected one of {', '.join(choices)})")
        return value.lower()

    def flag(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        folded = fold(value)
        if folded in ("true", "yes", "y", "1", "co", "x"):
            return True
        if folded in ("false", "no", "n", "0", "khong"):
            return False
        raise self.fail(name, f"expected yes or no, not {value!r}")

    def integer(self, name: str, *, minimum: int | None = None, maximum: int | None = None,
                what: str = "a whole number") -> int | None:
        value = self.text(name)
        if value is None:
            return None
        digits = value.removesuffix("%").strip().replace("_", "")
        if re.fullmatch(r"-?\d{1,3}([., ]\d{3})+", digits):  # 12.500.000.000 or 12,500,000,000
            digits = re.sub(r"[., ]", "", digits)
        if not re.fullmatch(r"-?\d+", digits):
            raise self.fail(name, f"expected {what}, not {value!r}")
        number = int(digits)
        if minimum is not None and number < minimum or maximum is not None and number > maximum:
            if maximum is None:
                raise self.fail(name, f"must not be less than {minimum}" if minimum else "must not be negative")
            raise self.fail(name, f"must be between {minimum} and {maximum}, not {number}")
        return number

    def date(self, name: str, *, required: bool = False) -> date | None:
        value = self.text(name, required=required)
        if value is None:
            return None
        day, clock = _parse_moment(value)
        if day is None or clock is not None:
            raise self.fail(name, f"expected a date like 2026-12-03, not {value!r}")
        return day

    def moment(self, name: str, *, required: bool = False,
               allow_date: bool = False) -> tuple[date, time | None] | None:
        """A local date and time like 2026-12-03 07:30; with ``allow_date``, a bare date (time None)."""
        value = self.text(name, required=required)
        if value is None:
            return None
        day, clock = _parse_moment(value)
        if day is None or (clock is None and not allow_date):
            example = "2026-12-03 or 2026-12-03 07:30" if allow_date else "2026-12-03 07:30"
            raise self.fail(name, f"expected a date and time like {example}, not {value!r}")
        return day, clock

    def clock(self, name: str, value: str) -> time:
        match = re.fullmatch(r"(\d{1,2})[:hH](\d{2})?(?::(\d{2}))?", value)
        if match:
            try:
                return time(int(match[1]), int(match[2] or 0), int(match[3] or 0))
            except ValueError:
                pass
        raise self.fail(name, f"expected a time like 11:30 or a date and time, not {value!r}")

    def texts(self, name: str, *, separators: str = "|") -> list[_Raw]:
        """A list of short texts: a YAML list, or one text split at ``separators``."""
        raw = self.fields.get(name)
        if raw is None or raw.value is None:
            return []
        if isinstance(raw.value, list):
            items = raw.value
        elif isinstance(raw.value, str):
            items = [_Raw(part, raw.line) for part in re.split(f"[{re.escape(separators)}]", raw.value)]
        else:
            raise self.fail(name, "expected a list")
        result = []
        for item in items:
            if not isinstance(item.value, str):
                raise self.fail(name, "expected a list of texts", item.line)
            text = " ".join(unicodedata.normalize("NFC", item.value).split())
            if text:
                result.append(_Raw(text, item.line))
        return result

    def entries(self, name: str) -> list[_Raw]:
        raw = self.fields.get(name)
        if raw is None or raw.value is None:
            return []
        if not isinstance(raw.value, list):
            raise self.fail(name, "expected a list of entries (each line starting with '- ')")
        return raw.value


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")
_TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%Hh%M", "%Hh")


def _parse_moment(value: str) -> tuple[date | None, time | None]:
    """"2026-12-03" → (date, None); "2026-12-03 07:30" / "2026-12-03T07:30" / "03/12/2026 7:30" → (date, time)."""
    parts = value.replace("T", " ", 1).split() if re.match(r"\d{4}-\d\d-\d\dT", value) else value.split()
    if not 1 <= len(parts) <= 2:
        return None, None
    day = None
    for pattern in _DATE_FORMATS:
        try:
            day = datetime.strptime(parts[0], pattern).date()
            break
        except ValueError:
            continue
    if day is None or len(parts) == 1:
        return day, None
    for pattern in _TIME_FORMATS:
        try:
            return day, datetime.strptime(parts[1], pattern).time()
        except ValueError:
            continue
    return None, None


class _Planner:
    def __init__(self, source: _Source, zone: ZoneInfo):
        self.source, self.zone = source, zone
        self.default_commune: int | None = None

    def plan(self, document: _Document) -> dict[str, list[_Planned]]:
        if document.commune is not None:
            self.default_commune = self._commune(document.commune, "commune")
        plan: dict[str, list[_Planned]] = {}
        for section, raws in document.sections.items():
            required, optional = SECTIONS[section]
            read = getattr(self, f"_{section}")
            planned = []
            seen: dict[tuple, int] = {}
            for raw in raws:
                entry = _Entry(self.source, section, raw, ("commune", *required, *optional))
                for name in required:
                    if not entry.given(name):
                        raise entry.fail(name, "missing (required)")
                commune = self._entry_commune(entry)
                row = read(entry, commune)
                if row.key in seen:
                    raise self.source.error(row.line, section, f"the same entry as on line {seen[row.key]}")
                seen[row.key] = row.line
                planned.append(row)
            plan[section] = planned
        for fallbacks in _group(plan.get("units", []), lambda row: row.commune).values():
            marked = [row for row in fallbacks if row.values["is_fallback"]]
            if len(marked) > 1:
                raise self.source.error(marked[1].lines["fallback"], "units.fallback",
                                        f"only one fallback unit per commune (already line {marked[0].line})")
        return plan

    def _entry_commune(self, entry: _Entry) -> int:
        if entry.given("commune"):
            return self._commune(entry.fields["commune"], f"{entry.section}.commune")
        if self.default_commune is None:
            raise entry.fail("commune", "missing: give the commune at the top of the file or in the entry")
        return self.default_commune

    def _commune(self, raw: _Raw, where: str) -> int:
        if not isinstance(raw.value, str) or not raw.value.strip():
            raise self.source.error(raw.line, where, "expected a commune code or its exact name")
        value = unicodedata.normalize("NFC", raw.value).strip()
        if value.isdigit():
            if commune_by_code(int(value)) is None:
                raise self.source.error(raw.line, where, f"no commune has the code {value}")
            return int(value)
        wanted = _bare(fold(value))
        exact = [commune for commune in search_communes(value, limit=10)
                 if wanted in (_bare(fold(commune.name)), _bare(fold(f"{commune.name} {commune.province_name}")),
                               _bare(fold(commune.name)) + " " + _bare_province(commune.province_name))]
        if len({commune.code for commune in exact}) == 1:
            return exact[0].code
        if exact:
            raise self.source.error(raw.line, where, f"{value!r} names several communes "
                                                     f"({'; '.join(c.label for c in exact[:3])}): use the code")
        raise self.source.error(raw.line, where, f"no commune is named exactly {value!r} (use the code)")

    def _local(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=self.zone).astimezone(timezone.utc)

    def _published(self, entry: _Entry) -> datetime | None:
        moment = entry.moment("published", allow_date=True)
        return self._local(moment[0], moment[1] or time(0, 0)) if moment else None

    def _units(self, entry: _Entry, commune: int) -> _Planned:
        name = entry.name("name", required=True, limit=200)
        return _Planned("units", entry.line, commune, (commune, name),
                        {"commune_code": commune, "name": name, "is_fallback": entry.flag("fallback", False)},
                        {"fallback": entry.line_of("fallback")})

    def _officers(self, entry: _Entry, commune: int) -> _Planned:
        name = entry.name("name", required=True, limit=200)
        unit = entry.name("unit", required=True, limit=200)
        return _Planned("officers", entry.line, commune, (commune, unit, name),
                        {"commune_code": commune, "display_name": name,
                         "role": entry.choice("role", STAFF_ROLES, "officer"),
                         "language": entry.choice("language", LANGUAGES, "vi")},
                        {"unit": entry.line_of("unit")}, refs={"unit_id": unit})

    def _routing(self, entry: _Entry, commune: int) -> _Planned:
        category = entry.name("category", required=True, limit=50)
        unit = entry.name("unit", required=True, limit=200)
        category = None if category == "*" else category
        return _Planned("routing", entry.line, commune, (commune, category),
                        {"commune_code": commune, "category": category},
                        {"unit": entry.line_of("unit"), "category": entry.line_of("category")},
                        refs={"unit_id": unit})

    def _categories(self, entry: _Entry, commune: int) -> _Planned:
        key = entry.name("key", required=True, limit=50)
        if not re.fullmatch(r"[a-z0-9_]+", key):
            raise entry.fail("key", f"a key is lower-case letters, digits and _ (like land_use), not {key!r}")
        position = entry.integer("position", minimum=0)
        return _Planned("categories", entry.line, commune, (commune, key),
                        {"commune_code": commune, "key": key,
                         "label_vi": entry.text("label_vi", required=True, limit=100),
                         "label_en": entry.text("label_en", required=True, limit=100),
                         "position": position, "active": entry.flag("active", True)}, {})

    def _templates(self, entry: _Entry, commune: int) -> _Planned:
        key = entry.name("key", required=True, limit=50)
        if not re.fullmatch(r"[a-z0-9_]+", key):
            raise entry.fail("key", f"a key is lower-case letters, digits and _ (like answer_road_fixed), not {key!r}")
        action = entry.choice("action", TEMPLATE_ACTIONS, "")
        kind = entry.choice("kind", ITEM_KINDS, "") or None
        category = entry.name("category", limit=50)
        category = None if category in (None, "*") else category
        return _Planned("templates", entry.line, commune, (commune, key),
                        {"commune_code": commune, "key": key, "action": action, "kind": kind, "category": category,
                         "text": entry.text("text", required=True, limit=3000),
                         "position": entry.integer("position", minimum=0) or 0, "active": entry.flag("active", True)},
                        {"category": entry.line_of("category")})

    def _reception_sessions(self, entry: _Entry, commune: int) -> _Planned:
        day, start_clock = entry.moment("start", required=True)
        starts_at = self._local(day, start_clock)
        end_text = entry.text("end", required=True)
        end_day, end_clock = _parse_moment(end_text)
        if end_day is None:
            end_day, end_clock = day, entry.clock("end", end_text)
        elif end_clock is None:
            raise entry.fail("end", f"expected a time like 11:30 or a date and time, not {end_text!r}")
        ends_at = self._local(end_day, end_clock)
        if ends_at <= starts_at:
            raise entry.fail("end", f"the session ends ({end_day} {end_clock:%H:%M}) before it starts "
                                    f"({day} {start_clock:%H:%M})")
        recurrence = self._recurrence(entry, day, starts_at)
        place = entry.name("place", required=True, limit=300)
        session_key = entry.name("key", limit=100)
        moved = entry.moment("moved_from")
        moved_from = self._local(*moved) if moved else None
        if moved_from is not None and moved_from == starts_at:
            raise entry.fail("moved_from", "the same time as start: a session moved from its own time is not moved")
        return _Planned("reception_sessions", entry.line, commune,
                        ("key", commune, session_key) if session_key else (commune, starts_at, place),
                        {"commune_code": commune, "receiver": entry.text("receiver", required=True, limit=200),
                         "place": place, "topics": entry.text("topics"), "starts_at": starts_at,
                         "ends_at": ends_at, "recurrence": recurrence,
                         "online_url": self._url(entry, "online_url"),
                         "status": entry.choice("status", SESSION_STATUSES, "scheduled"), "key": session_key},
                        {"start": entry.line_of("start"), "moved_from": entry.line_of("moved_from")},
                        published=self._published(entry), moved_from=moved_from)

    def _recurrence(self, entry: _Entry, day: date, starts_at: datetime) -> str | None:
        if entry.given("every") and entry.given("rrule"):
            raise entry.fail("rrule", "give either every or rrule, not both")
        if entry.given("rrule"):
            rule = entry.text("rrule").upper().removeprefix("RRULE:").replace(" ", "")
            if "FREQ=" not in rule or not is_valid_rule(rule, starts_at):
                raise entry.fail("rrule", f"not an RFC 5545 rule like FREQ=WEEKLY;BYDAY=TH: {rule!r}")
            return rule
        days = entry.texts("every", separators=",;|")
        if not days:
            return None
        codes = set()
        for item in days:
            code = _WEEKDAYS.get(fold(item.value))
            if code is None:
                raise entry.fail("every", f"not a day of the week: {item.value!r} (like thursday)", item.line)
            codes.add(code)
        if WEEKDAY_CODES[day.weekday()] not in codes:
            raise entry.fail("start", f"{day} is a {day:%A}, not one of the days in every")
        return "FREQ=WEEKLY;BYDAY=" + ",".join(code for code in WEEKDAY_CODES if code in codes)

    def _url(self, entry: _Entry, name: str) -> str | None:
        url = entry.text(name, limit=500)
        if url is not None and not re.match(r"https?://\S+$", url):
            raise entry.fail(name, f"expected a web address starting with https://, not {url!r}")
        return url

    def _disclosures(self, entry: _Entry, commune: int) -> _Planned:
        category = entry.text("category", required=True)
        if category not in DISCLOSURE_CATEGORIES:
            raise entry.fail("category", f"unknown category {category!r} "
                                         f"(expected one of {', '.join(DISCLOSURE_CATEGORIES)})")
        title = entry.name("title", required=True, limit=300)
        decided_on, published = entry.date("decided_on"), self._published(entry)
        published_day = published.astimezone(self.zone).date() if published else datetime.now(self.zone).date()
        if decided_on is not None and decided_on > published_day:
            raise entry.fail("decided_on", f"decided on {decided_on}, after its publication on {published_day}")
        return _Planned("disclosures", entry.line, commune, (commune, title),
                        {"commune_code": commune, "category": category, "title": title,
                         "body": entry.text("body", required=True), "url": self._url(entry, "url"),
                         "decided_on": decided_on, "board_until": entry.date("board_until")},
                        {"board_until": entry.line_of("board_until"), "published": entry.line_of("published")},
                        published=published)

    def _projects(self, entry: _Entry, commune: int) -> _Planned:
        name = entry.name("name", required=True, limit=300)
        starts_on, ends_on = entry.date("start"), entry.date("end")
        if starts_on and ends_on and ends_on < starts_on:
            raise entry.fail("end", f"the project ends ({ends_on}) before it starts ({starts_on})")
        updates, seen = [], {}
        for raw in entry.entries("updates"):
            update = _Entry(self.source, "projects.updates", raw, ("date", "progress", "note"))
            on = update.date("date", required=True)
            progress = update.integer("progress", minimum=0, maximum=100, what="a percentage from 0 to 100")
            if progress is None:
                raise update.fail("progress", "missing (required)")
            if on in seen:
                raise update.fail("date", f"two updates on {on} (the other on line {seen[on]})")
            seen[on] = update.line
            updates.append(_Planned("project_updates", update.line, commune, (on,),
                                    {"on": on, "progress_percent": progress,
                                     "note": update.text("note", required=True)}, {}))
        progress = entry.integer("progress", minimum=0, maximum=100, what="a percentage from 0 to 100")
        if progress is None:
            latest = max(updates, key=lambda row: row.values["on"], default=None)
            progress = latest.values["progress_percent"] if latest else 0
        return _Planned("projects", entry.line, commune, (commune, name),
                        {"commune_code": commune, "name": name, "description": entry.text("description") or "",
                         "status": entry.choice("status", PROJECT_STATUSES, "planned"),
                         "progress_percent": progress,
                         "budget_vnd": entry.integer("budget", minimum=0, what="an amount in đồng"),
                         "starts_on": starts_on, "ends_on": ends_on}, {}, children=updates)

    def _consultations(self, entry: _Entry, commune: int) -> _Planned:
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
        opens_at = self._local(opens_day, opens_clock or time(0, 0))
        # A bare closing date means to the end of that day (24:00, Bộ luật Dân sự Đ.148).
        closes_day, closes_clock = entry.moment("closes", required=True, allow_date=True)
        closes_at = (self._local(closes_day, closes_clock) if closes_clock is not None
                     else self._local(closes_day + timedelta(days=1), time(0, 0)))
        if closes_at <= opens_at:
            raise entry.fail("closes", "the consultation closes before it opens")
        if closes_at - opens_at < timedelta(days=CONSULTATION_MIN_DAYS):
            length = (closes_at - opens_at) / timedelta(days=1)
            raise entry.fail("closes", f"a consultation runs at least {CONSULTATION_MIN_DAYS} days (Luật Thực hiện "
                                       f"dân chủ ở cơ sở 2022, Điều 28); this one runs {length:.3g} days")
        return _Planned("consultations", entry.line, commune, (commune, title),
                        {"commune_code": commune, "title": title, "body": entry.text("body", required=True),
                         "options": [option.value for option in options], "opens_at": opens_at,
                         "closes_at": closes_at, "status": entry.choice("status", CONSULTATION_STATUSES, "open")},
                        {})


def _bare(folded: str) -> str:
    for prefix in COMMUNE_PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix):]
    return folded


def _bare_province(name: str) -> str:
    folded = fold(name)
    for prefix in ("thanh pho ", "tinh "):
        if folded.startswith(prefix):
            return folded[len(prefix):]
    return folded


def _group(rows: list[_Planned], key: Callable[[_Planned], Any]) -> dict[Any, list[_Planned]]:
    groups: dict[Any, list[_Planned]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


# ---------------------------------------------------------------------------------------------
# Writing: references checked against the database, then each entry created or updated in place.

def _utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; they are UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return _utc(old) == _utc(new)
    return old == new


class _Writer:
    def __init__(self, session: AsyncSession, source: _Source, plan: dict[str, list[_Planned]], zone: ZoneInfo):
        self.session, self.source, self.plan, self.zone = session, source, plan, zone
        self.now = datetime.now(timezone.utc)
        self.summary = ImportSummary(counts={section: len(rows) for section, rows in plan.items()})
        self.summary.project_updates = sum(len(row.children) for row in plan.get("projects", []))
        self.communes = sorted({row.commune for rows in plan.values() for row in rows})
        self.units: dict[tuple[int, str], Unit] = {}

    async def _rows(self, model, *conditions) -> list:
        result = await self.session.execute(select(model).where(*conditions).order_by(model.id))
        return list(result.scalars())

    async def check_references(self) -> None:
        """Units and categories named by officers and routing exist, in the file or in the database."""
        for unit in await self._rows(Unit, Unit.commune_code.in_(self.communes)):
            self.units.setdefault((unit.commune_code, unit.name), unit)
        known_units = set(self.units) | {row.key for row in self.plan.get("units", [])}
        known_categories = {(commune, category.key) for commune in self.communes for category in DEFAULT_CATEGORIES}
        known_categories |= {row.key for row in self.plan.get("categories", [])}
        known_categories |= {(row.commune_code, row.key)
                             for row in await self._rows(CommuneCategory,
                                                         CommuneCategory.commune_code.in_(self.communes))}
        for row in self.plan.get("officers", []) + self.plan.get("routing", []):
            unit = row.refs["unit_id"]
            if (row.commune, unit) not in known_units:
                raise self.source.error(row.lines["unit"], f"{row.section}.unit",
                                        f"unknown unit {unit!r} (not under units: and not in the database "
                                        f"for commune {row.commune})")
        for row in self.plan.get("routing", []) + self.plan.get("templates", []):
            category = row.values["category"]
            if category is not None and (row.commune, category) not in known_categories:
                keys = sorted(key for commune, key in known_categories if commune == row.commune)
                raise self.source.error(row.lines["category"], f"{row.section}.category",
                                        f"unknown category {category!r} (expected * or one of {', '.join(keys)})")

    async def write(self) -> ImportSummary:
        await self._write_units()
        await self._write_officers()
        await self._upsert(RoutingRule, "routing",
                           await self._rows(RoutingRule, RoutingRule.commune_code.in_(self.communes)),
                           lambda rule: (rule.commune_code, rule.category))
        await self._write_categories()
        await self._upsert(ResponseTemplate, "templates",
                           await self._rows(ResponseTemplate, ResponseTemplate.commune_code.in_(self.communes)),
                           lambda template: (template.commune_code, template.key))
        await self._write_sessions()
        await self._write_disclosures()
        await self._write_projects()
        await self._upsert(Consultation, "consultations",
                           await self._rows(Consultation, Consultation.commune_code.in_(self.communes)),
                           lambda consultation: (consultation.commune_code, consultation.title))
        await self.session.flush()
        return self.summary

    async def _upsert(self, model, section: str, existing: list, key: Callable[[Any], tuple],
                      keep: Callable[[_Planned, Any], dict[str, Any]] | None = None) -> list:
        """Create or update each planned row of ``section``; returns (planned, row) pairs."""
        by_key: dict[tuple, Any] = {}
        for row in existing:
            by_key.setdefault(key(row), row)
        written = []
        for planned in self.plan.get(section, []):
            values = dict(planned.values)
            for name, unit in planned.refs.items():
                values[name] = self.units[(planned.commune, unit)].id
            row = by_key.get(planned.key)
            if keep:
                values.update(keep(planned, row))
            if row is None:
                row = model(**values)
                self.session.add(row)
                by_key[planned.key] = row
                self.summary.created += 1
            elif self._assign(row, values):
                self.summary.changed += 1
            else:
                self.summary.unchanged += 1
            written.append((planned, row))
        return written

    def _assign(self, row, values: dict[str, Any]) -> bool:
        changed = False
        for name, value in values.items():
            if not _same(getattr(row, name), value):
                setattr(row, name, value)
                changed = True
        return changed

    async def _write_units(self) -> None:
        written = await self._upsert(Unit, "units", list(self.units.values()),
                                     lambda unit: (unit.commune_code, unit.name))
        await self.session.flush()
        for planned, unit in written:
            self.units[planned.key] = unit
        # The file names the fallback unit of a commune: any other one stops being it.
        fallbacks = {planned.commune: unit for planned, unit in written if unit.is_fallback}
        for unit in self.units.values():
            chosen = fallbacks.get(unit.commune_code)
            if chosen is not None and unit is not chosen and unit.is_fallback:
                unit.is_fallback = False
                self.summary.changed += 1

    async def _write_officers(self) -> None:
        planned = self.plan.get("officers", [])
        if not planned:
            return
        unit_ids = {self.units[(row.commune, row.refs["unit_id"])].id for row in planned}
        existing = await self._rows(User, User.unit_id.in_(unit_ids), User.role.in_(STAFF_ROLES))
        units_by_id = {unit.id: unit for unit in self.units.values()}
        await self._upsert(User, "officers", existing,
                           lambda user: (units_by_id[user.unit_id].commune_code, units_by_id[user.unit_id].name,
                                         user.display_name))

    async def _write_categories(self) -> None:
        planned = self.plan.get("categories", [])
        for position, row in enumerate(planned):
            if row.values["position"] is None:
                row.values["position"] = position
        await self._upsert(CommuneCategory, "categories",
                           await self._rows(CommuneCategory, CommuneCategory.commune_code.in_(self.communes)),
                           lambda category: (category.commune_code, category.key))

    def _publication(self, planned: _Planned, row) -> dict[str, Any]:
        """Given in the file, or kept from the first import, or now."""
        if planned.published is not None:
            return {"published_at": planned.published}
        if row is not None and row.published_at is not None:
            return {}
        return {"published_at": self.now}

    async def _write_sessions(self) -> None:
        """Sessions are found by the commune's key, then by time and place, then by the time they are
        moved from. A known session that gets a new time or place is moved; one still to come that
        gets ``cancelled`` is cancelled; both are announced, like new sessions."""
        existing = await self._rows(ReceptionSession, ReceptionSession.commune_code.in_(self.communes))
        by_key = {(row.commune_code, row.key): row for row in existing if row.key}
        by_time: dict[tuple, ReceptionSession] = {}
        for row in existing:
            by_time.setdefault((row.commune_code, _utc(row.starts_at), " ".join(row.place.split())), row)
        new, moves, cancellations = [], [], []
        for planned in self.plan.get("reception_sessions", []):
            values = planned.values
            commune, place = planned.commune, values["place"]
            row = by_key.get((commune, values["key"])) if values["key"] else None
            row = row or by_time.get((commune, values["starts_at"], place))
            if row is None and planned.moved_from is not None:
                row = by_time.get((commune, planned.moved_from, place))
                if row is None:
                    raise self.source.error(planned.lines["moved_from"], "reception_sessions.moved_from",
                                            f"no session at {planned.moved_from.astimezone(self.zone):%Y-%m-%d %H:%M} "
                                            f"in {place!r} to move")
            if row is not None and row.key and values["key"] and row.key != values["key"]:
                row = None  # time and place of another named session: a second session at the same time
            values = {**values, **self._publication(planned, row)}
            if row is None:
                row = ReceptionSession(**values)
                self.session.add(row)
                self.summary.created += 1
                new.append(row)
            else:
                before = (_utc(row.starts_at), _utc(row.ends_at), " ".join(row.place.split()), row.status)
                if values["key"] is None:
                    values.pop("key")  # a file without keys keeps the key an earlier file gave
                if self._assign(row, values):
                    self.summary.changed += 1
                else:
                    self.summary.unchanged += 1
                self._session_changes(row, before, moves, cancellations)
            by_time.setdefault((commune, _utc(row.starts_at), place), row)
            if row.key:
                by_key[(commune, row.key)] = row
            if row.status != "cancelled":
                self._check_notice(planned, row)
        new = [row for row in new if row.status != "cancelled"]
        if new or moves or cancellations:
            await self.session.flush()  # the new sessions need their ids for the dedupe keys
        if new:
            await announce_sessions(self.session, new, self.zone)
        for row, old_start, old_place in moves:
            await move_registrations(self.session, row, old_start)
            await announce_session_moved(self.session, row, old_start, old_place, self.zone)
        for row in cancellations:
            await announce_session_cancelled(self.session, row, self.zone)

    def _session_changes(self, row: ReceptionSession, before: tuple, moves: list, cancellations: list) -> None:
        """Adds ``row`` to ``moves`` or ``cancellations`` if the import moved or cancelled it."""
        old_start, _, old_place, old_status = before
        if old_status == "cancelled" or old_start <= self.now:
            return  # nothing announced was still to come
        if row.status == "cancelled":
            cancellations.append(row)
            self.summary.sessions_cancelled += 1
        elif _utc(row.starts_at) != old_start or " ".join(row.place.split()) != old_place:
            row.moved_from = old_start
            moves.append((row, old_start, old_place))
            self.summary.sessions_moved += 1

    def _check_notice(self, planned: _Planned, session: ReceptionSession) -> None:
        """Luật Tiếp công dân 2013, Đ.24: the schedule is published 5 working days before the session."""
        published = _utc(session.published_at)
        first = upcoming(_utc(session.starts_at), _utc(session.ends_at), session.recurrence, after=published, count=1,
                         zone=self.zone)
        line = planned.lines["start"]
        published_day = published.astimezone(self.zone).date()
        if not first or first[0].starts_at < published:
            self._warn(line, "reception_sessions.start", f"the session starts before it is published ({published_day})")
            return
        starts_day = first[0].starts_at.astimezone(self.zone).date()
        earliest = DEFAULT_CALENDAR.add_working_days(published_day, SCHEDULE_NOTICE_WORKING_DAYS)
        if starts_day < earliest:
            self._warn(line, "reception_sessions.start",
                       f"published {published_day}, fewer than {SCHEDULE_NOTICE_WORKING_DAYS} working days before "
                       f"the session of {starts_day} (Luật Tiếp công dân 2013, Điều 24: the earliest lawful day is "
                       f"{earliest})")

    async def _write_disclosures(self) -> None:
        written = await self._upsert(
            Disclosure, "disclosures",
            await self._rows(Disclosure, Disclosure.commune_code.in_(self.communes)),
            lambda disclosure: (disclosure.commune_code, " ".join(disclosure.title.split())),
            keep=self._publication)
        for planned, disclosure in written:
            self._check_disclosure(planned, disclosure)

    def _check_disclosure(self, planned: _Planned, disclosure: Disclosure) -> None:
        """Luật Thực hiện dân chủ ở cơ sở 2022: disclosed within 5 working days of the decision (Đ.12),
        on the notice board at least 30 consecutive days (Đ.13)."""
        published = _utc(disclosure.published_at).astimezone(self.zone).date()
        decided, board_until = disclosure.decided_on, disclosure.board_until
        if decided is not None:
            latest = DEFAULT_CALENDAR.add_working_days(decided, DISCLOSURE_WORKING_DAYS)
            if published > latest:
                self._warn(planned.lines["published"], "disclosures.published",
                           f"published {published}, more than {DISCLOSURE_WORKING_DAYS} working days after the "
                           f"decision of {decided} (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 12: by {latest})")
        if board_until is not None and (board_until - published).days + 1 < BOARD_DAYS:
            self._warn(planned.lines["board_until"], "disclosures.board_until",
                       f"on the notice board from {published} to {board_until}, fewer than {BOARD_DAYS} days "
                       f"(Luật Thực hiện dân chủ ở cơ sở 2022, Điều 13)")

    def _warn(self, line: int, where: str, problem: str) -> None:
        self.summary.warnings.append(str(self.source.error(line, where, problem)))

    async def _write_projects(self) -> None:
        written = await self._upsert(Project, "projects",
                                     await self._rows(Project, Project.commune_code.in_(self.communes)),
                                     lambda project: (project.commune_code, " ".join(project.name.split())))
        if not written:
            return
        await self.session.flush()
        project_ids = [project.id for _, project in written]
        existing = await self._rows(ProjectUpdate, ProjectUpdate.project_id.in_(project_ids))
        by_key: dict[tuple, ProjectUpdate] = {}
        for update in existing:
            by_key.setdefault((update.project_id, update.on), update)
        for planned, project in written:
            for child in planned.children:
                values = {**child.values, "project_id": project.id}
                update = by_key.get((project.id, child.values["on"]))
                if update is None:
                    self.session.add(ProjectUpdate(**values))
                    self.summary.created += 1
                elif self._assign(update, values):
                    self.summary.changed += 1
                else:
                    self.summary.unchanged += 1
