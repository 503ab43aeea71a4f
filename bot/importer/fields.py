"""Planning's vocabulary: one entry's fields read by type (every problem raises with the field's line),
the row an entry becomes (``Planned``), and the small conversions readers and writers share."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

from bot.domain.communes import COMMUNE_PREFIXES, fold
from bot.importer.errors import ImportError_
from bot.importer.source import Raw, Source


@dataclass
class Planned:
    section: str
    line: int
    commune: int | None                             # None: the province's own (a province unit)
    key: tuple
    values: dict[str, Any]
    lines: dict[str, int]                             # field → line, for errors found later
    refs: dict[str, str] = field(default_factory=dict)  # unit names to resolve
    children: list[Planned] = field(default_factory=list)
    published: datetime | None = None                 # explicitly given publication time
    moved_from: datetime | None = None                # a reception session's earlier start
    files: list = field(default_factory=list)         # documents or photos read with it (bot/public/files.py)


class Entry:
    """One entry's fields, read by type; any problem raises with the field's line."""

    def __init__(self, source: Source, section: str, raw: Raw, allowed: tuple[str, ...]):
        self.source, self.section, self.line = source, section, raw.line
        if not isinstance(raw.value, dict):
            raise source.error(raw.line, section, "expected an entry of 'field: value' lines")
        self.fields: dict[str, Raw] = raw.value
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
        day, clock = parse_moment(value)
        if day is None or clock is not None:
            raise self.fail(name, f"expected a date like 2026-12-03, not {value!r}")
        return day

    def moment(self, name: str, *, required: bool = False,
               allow_date: bool = False) -> tuple[date, time | None] | None:
        """A local date and time like 2026-12-03 07:30; with ``allow_date``, a bare date (time None)."""
        value = self.text(name, required=required)
        if value is None:
            return None
        day, clock = parse_moment(value)
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

    def texts(self, name: str, *, separators: str = "|") -> list[Raw]:
        """A list of short texts: a YAML list, or one text split at ``separators``."""
        raw = self.fields.get(name)
        if raw is None or raw.value is None:
            return []
        if isinstance(raw.value, list):
            items = raw.value
        elif isinstance(raw.value, str):
            items = [Raw(part, raw.line) for part in re.split(f"[{re.escape(separators)}]", raw.value)]
        else:
            raise self.fail(name, "expected a list")
        result = []
        for item in items:
            if not isinstance(item.value, str):
                raise self.fail(name, "expected a list of texts", item.line)
            text = " ".join(unicodedata.normalize("NFC", item.value).split())
            if text:
                result.append(Raw(text, item.line))
        return result

    def entries(self, name: str) -> list[Raw]:
        raw = self.fields.get(name)
        if raw is None or raw.value is None:
            return []
        if not isinstance(raw.value, list):
            raise self.fail(name, "expected a list of entries (each line starting with '- ')")
        return raw.value


DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y")
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%Hh%M", "%Hh")


def parse_moment(value: str) -> tuple[date | None, time | None]:
    """"2026-12-03" → (date, None); "2026-12-03 07:30" / "2026-12-03T07:30" / "03/12/2026 7:30" → (date, time)."""
    parts = value.replace("T", " ", 1).split() if re.match(r"\d{4}-\d\d-\d\dT", value) else value.split()
    if not 1 <= len(parts) <= 2:
        return None, None
    day = None
    for pattern in DATE_FORMATS:
        try:
            day = datetime.strptime(parts[0], pattern).date()
            break
        except ValueError:
            continue
    if day is None or len(parts) == 1:
        return day, None
    for pattern in TIME_FORMATS:
        try:
            return day, datetime.strptime(parts[1], pattern).time()
        except ValueError:
            continue
    return None, None


def bare(folded: str) -> str:
    for prefix in COMMUNE_PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix):]
    return folded


def bare_province(name: str) -> str:
    folded = fold(name)
    for prefix in ("thanh pho ", "tinh "):
        if folded.startswith(prefix):
            return folded[len(prefix):]
    return folded


def group(rows: list[Planned], key: Callable[[Planned], Any]) -> dict[Any, list[Planned]]:
    groups: dict[Any, list[Planned]] = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    return groups


def utc(moment: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; they are UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        return utc(old) == utc(new)
    return old == new
