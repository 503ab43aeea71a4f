"""Working days and legal time periods.

Working days skip weekends and Vietnamese public holidays, including Tết and days moved by
government decision (a Saturday made a working day, a Monday given off), as the ``holidays``
package knows them. Periods follow the Civil Code 2015 (Bộ luật Dân sự, Điều 147–148): the day of
the event is not counted; a period ending on a weekend or holiday ends at the end of the next
working day.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


class WorkingCalendar:
    def __init__(self, extra_days_off: frozenset[date] = frozenset()):
        self._calendar = holidays.Vietnam()
        self._extra = extra_days_off

    @lru_cache(maxsize=8192)
    def is_working_day(self, day: date) -> bool:
        if day in self._extra:
            return False
        return self._calendar.is_working_day(day)

    def next_working_day(self, day: date) -> date:
        """The first working day on or after ``day``."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start`` (``start`` itself is not counted)."""
        day = start
        remaining = count
        while remaining > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def add_days(self, start: date, count: int) -> date:
        """``count`` calendar days after ``start``; moved to the next working day if it is a day off."""
        return self.next_working_day(start + timedelta(days=count))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def __hash__(self) -> int:
        return id(self)


DEFAULT_CALENDAR = WorkingCalendar()
