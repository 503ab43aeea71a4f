"""The period a report covers, as an officer writes it: a year (2026), a half (2026-H2), a quarter
(2026-Q4) or a month (2026-11). Days are the commune's local days (settings.timezone); the period runs
from its first day at 00:00 to the day after its last, exclusive."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PATTERN = re.compile(r"^\s*(\d{4})(?:-(?:(Q[1-4])|(H[12])|(\d{1,2})))?\s*$", re.IGNORECASE)
FIRST_YEAR, LAST_YEAR = 2000, 2100


class PeriodError(ValueError):
    """Not a period we understand; the message is the text the person wrote."""


@dataclass(frozen=True)
class Period:
    key: str      # canonical spelling: 2026, 2026-H2, 2026-Q4, 2026-11
    first: date   # first local day
    end: date     # the day after the last local day

    @property
    def last(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    def starts_at(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.first, time(), zone)

    def ends_at(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.end, time(), zone)

    def months(self) -> list[str]:
        """Every month of the period, as YYYY-MM, in order."""
        found, year, month = [], self.first.year, self.first.month
        while date(year, month, 1) < self.end:
            found.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str) -> Period:
    found = PATTERN.match(text or "")
    if not found:
        raise PeriodError(text)
    year = int(found.group(1))
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise PeriodError(text)
    quarter, half, month = found.group(2), found.group(3), found.group(4)
    if quarter:
        number = int(quarter[1])
        first = date(year, 3 * number - 2, 1)
        return Period(f"{year}-Q{number}", first, _month_start(year, 3 * number + 1))
    if half:
        number = int(half[1])
        first = date(year, 6 * number - 5, 1)
        return Period(f"{year}-H{number}", first, _month_start(year, 6 * number + 1))
    if month:
        number = int(month)
        if not 1 <= number <= 12:
            raise PeriodError(text)
        return Period(f"{year}-{number:02d}", date(year, number, 1), _month_start(year, number + 1))
    return Period(str(year), date(year, 1, 1), date(year + 1, 1, 1))


def current_quarter(today: date) -> Period:
    return parse_period(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
