"""Working days and legal time periods.

Working days skip weekends and Vietnamese public holidays, including Tết and days moved by
government decision (Saturday 2026-08-22 worked so that Monday 2026-08-31 is off), as the
``holidays`` package knows them. Periods follow the Civil Code 2015 (Bộ luật Dân sự, Điều 147–148):
the day of the event is not counted, the period starts the next day; a period whose last day is a
weekend or holiday ends at the end of the next working day.

The ``holidays`` package is the default, not the law: a commune can take back a day the package
marks off but the law in force does not, add a Saturday worked in exchange for a day off, or add a
day off the package does not know (``WorkingCalendar.adjust``; settings TIEPDAN_HOLIDAYS_REMOVE,
TIEPDAN_WORKING_SATURDAYS, TIEPDAN_EXTRA_DAYS_OFF). A change of the Labour Code or a government
swap is then a change of data. The composition root (``bot.app.Runtime``) adjusts ``DEFAULT_CALENDAR``
once from the settings, so every deadline and the sweep count on the same days.

The deadline sweep asks this for many items, so each year's working days are computed once into a
sorted list of ordinals; counting is then a binary search, not a walk day by day.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

import holidays

log = logging.getLogger(__name__)

# Years loaded past the start of a count: legal periods are weeks, so this is ample.
_YEARS_AHEAD = 1
_VIETNAM_MODULE = "_tiepdan_holidays_vietnam"


def vietnam_holidays() -> holidays.HolidayBase:
    """``holidays.country_holidays("VN")``, without the other countries.

    Any import of ``holidays.countries.vietnam`` (and ``holidays.Vietnam()``, which does one) first
    runs ``holidays/countries/__init__.py``, which imports all 250-odd countries: about 7 MB that
    stay in a running server. The Vietnam module needs only the package's core, so it is loaded
    from its file on its own; should the package ever move it, the ordinary way is taken.
    """
    loaded = sys.modules.get("holidays.countries.vietnam") or sys.modules.get(_VIETNAM_MODULE)
    if loaded is None:
        try:
            spec = importlib.util.spec_from_file_location(
                _VIETNAM_MODULE, Path(holidays.__file__).with_name("countries") / "vietnam.py")
            loaded = importlib.util.module_from_spec(spec)
            sys.modules[_VIETNAM_MODULE] = loaded
            spec.loader.exec_module(loaded)
        except Exception:  # noqa: BLE001 - a different layout of the package: load it the usual way
            sys.modules.pop(_VIETNAM_MODULE, None)
            log.warning("holidays: Vietnam not loadable on its own, importing every country", exc_info=True)
            return holidays.country_holidays("VN")
    return loaded.Vietnam()


class WorkingCalendar:
    def __init__(self, extra_days_off: Iterable[date] = (), *, not_days_off: Iterable[date] = (),
                 working_days: Iterable[date] = ()):
        """The ``holidays`` package's working days, changed by three lists of dates (see ``adjust``)."""
        self._country = vietnam_holidays()
        self.adjust(extra_days_off=extra_days_off, not_days_off=not_days_off, working_days=working_days)

    def adjust(self, *, extra_days_off: Iterable[date] = (), not_days_off: Iterable[date] = (),
               working_days: Iterable[date] = ()) -> None:
        """Replace the changes to the package's days (each call replaces the previous ones):

        - ``not_days_off``: holidays the package marks that the law in force does not; such a day is
          counted as an ordinary day again (a working day from Monday to Friday);
        - ``working_days``: days worked that are normally off, such as a Saturday worked in exchange for
          a day off decided by the government;
        - ``extra_days_off``: days off the package does not know: the day given in such an exchange, or
          a local decision closing the offices (storm, election). It wins over the other two lists.
        """
        self._extra_days_off = frozenset(extra_days_off)
        self._not_days_off = frozenset(not_days_off)
        self._working_days = frozenset(working_days)
        self._first_year = self._last_year = 0
        self._working: list[int] = []  # ordinals of the working days of the loaded years, ascending
        self._working_set: frozenset[int] = frozenset()

    def is_working_day(self, day: date) -> bool:
        self._load(day.year, day.year)
        return day.toordinal() in self._working_set

    def next_working_day(self, day: date) -> date:
        """``day`` itself if it is a working day, otherwise the first working day after it."""
        self._load(day.year, day.year + 1)
        index = bisect_left(self._working, day.toordinal())
        return date.fromordinal(self._working[index])

    def add_working_days(self, start: date, count: int) -> date:
        """The ``count``-th working day after ``start``; ``start`` itself is not counted (BLDS Đ.147)."""
        if count < 0:
            raise ValueError("count must not be negative")
        if count == 0:
            return start
        self._load(start.year, start.year + _YEARS_AHEAD)
        index = bisect_right(self._working, start.toordinal()) + count - 1
        while index >= len(self._working):
            self._load(start.year, self._last_year + _YEARS_AHEAD)
        return date.fromordinal(self._working[index])

    def add_days(self, start: date, count: int) -> date:
        """The end of a period of ``count`` calendar days after ``start`` (BLDS Đ.147–148).

        Its last day is ``start + count``; on a weekend or holiday the period runs to the end of the
        next working day.
        """
        if count < 0:
            raise ValueError("count must not be negative")
        return self.next_working_day(start + timedelta(days=count))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 if ``end`` is not after ``start``)."""
        if end <= start:
            return 0
        self._load(start.year, end.year)
        return bisect_right(self._working, end.toordinal()) - bisect_right(self._working, start.toordinal())

    def _load(self, first_year: int, last_year: int) -> None:
        if self._working and self._first_year <= first_year and last_year <= self._last_year:
            return
        if self._working:
            first_year, last_year = min(first_year, self._first_year), max(last_year, self._last_year)
        day, end = date(first_year, 1, 1), date(last_year, 12, 31)
        working = []
        while day <= end:
            if self._works_on(day):
                working.append(day.toordinal())
            day += timedelta(days=1)
        self._first_year, self._last_year = first_year, last_year
        self._working, self._working_set = working, frozenset(working)

    def _works_on(self, day: date) -> bool:
        if day in self._extra_days_off:
            return False
        if day in self._working_days:
            return True
        if day in self._not_days_off:
            return day.weekday() < 5
        return self._country.is_working_day(day)


DEFAULT_CALENDAR = WorkingCalendar()
