"""Working days counted by hand on the 2026 calendar.

February 2026: Sunday the 1st; Tết holidays Monday 16 – Friday 20. August–September 2026: Saturday
22/08 is worked so that Monday 31/08 is off, then National Day 01–02/09 (Tuesday, Wednesday).
"""

from datetime import date, timedelta

import pytest

from bot.domain.calendar import WorkingCalendar
from tests.fresh_interpreter import modules_loaded


calendar = WorkingCalendar()


def test_weekends_and_tet_are_not_working_days():
    assert calendar.is_working_day(date(2026, 2, 13))          # Friday before Tết
    assert not calendar.is_working_day(date(2026, 2, 14))      # Saturday
    for day in range(16, 21):
        assert not calendar.is_working_day(date(2026, 2, day)), day
    assert calendar.is_working_day(date(2026, 2, 23))          # first Monday after Tết


def test_the_start_day_is_not_counted_and_weekends_are_skipped():
    # Friday 06/03 + 1 working day → Monday 09/03; + 5 → Friday 13/03.
    assert calendar.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)
    assert calendar.add_working_days(date(2026, 3, 6), 5) == date(2026, 3, 13)
    # Counting from a Saturday starts on Monday.
    assert calendar.add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)
    assert calendar.add_working_days(date(2026, 3, 6), 0) == date(2026, 3, 6)


def test_working_days_jump_over_tet():
    # Friday 13/02 + 1 → Monday 23/02: the whole Tết week and two weekends are skipped.
    assert calendar.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)
    # Thursday 12/02 + 10: Fri 13, then 23–27/02, then 02–05/03.
    assert calendar.add_working_days(date(2026, 2, 12), 10) == date(2026, 3, 5)


def test_the_worked_saturday_counts_and_the_day_off_in_lieu_does_not():
    assert calendar.is_working_day(date(2026, 8, 22))          # a Saturday, worked
    assert not calendar.is_working_day(date(2026, 8, 31))      # the Monday given off for it
    # Thursday 20/08 + 3 working days: Fri 21, Sat 22, Mon 24 (Tuesday 25 without the swap).
    assert calendar.add_working_days(date(2026, 8, 20), 3) == date(2026, 8, 24)
    # Friday 28/08 + 2: Sat 29, Sun 30, Mon 31 (in lieu), 01–02/09 (National Day) off → Thu 03, Fri 04/09.
    assert calendar.add_working_days(date(2026, 8, 28), 2) == date(2026, 9, 4)
    # Friday 21/08 → Friday 28/08: Saturday 22 plus Monday–Friday 24–28.
    assert calendar.working_days_between(date(2026, 8, 21), date(2026, 8, 28)) == 6


def test_calendar_day_periods_ending_on_a_day_off_run_to_the_next_working_day():
    # 01/08 + 30 days = Monday 31/08, the day off in lieu; 01–02/09 are holidays → Thursday 03/09.
    assert calendar.add_days(date(2026, 8, 1), 30) == date(2026, 9, 3)
    # 23/07 + 30 days = Saturday 22/08, which is worked that week: the period ends that day.
    assert calendar.add_days(date(2026, 7, 23), 30) == date(2026, 8, 22)
    # 13/02 + 30 days = Sunday 15/03 → Monday 16/03.
    assert calendar.add_days(date(2026, 2, 13), 30) == date(2026, 3, 16)
    # A last day that is a working day stays: 02/03 + 30 = Wednesday 01/04.
    assert calendar.add_days(date(2026, 3, 2), 30) == date(2026, 4, 1)


def test_next_working_day_is_the_day_itself_or_the_first_after_it():
    assert calendar.next_working_day(date(2026, 2, 14)) == date(2026, 2, 23)
    assert calendar.next_working_day(date(2026, 2, 23)) == date(2026, 2, 23)


def test_counting_across_the_new_year():
    # Wednesday 31/12/2025 + 1: Thursday 01/01/2026 is New Year's Day → Friday 02/01.
    assert calendar.add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 2)


def test_a_local_closure_is_a_day_off_too():
    closed = WorkingCalendar(extra_days_off=[date(2026, 3, 9)])  # e.g. offices shut for a storm
    assert closed.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 10)


def test_negative_periods_are_refused():
    with pytest.raises(ValueError):
        calendar.add_working_days(date(2026, 3, 6), -1)


def test_vietnam_alone_gives_the_same_days_off_as_the_holidays_package():
    """The calendar loads only the package's Vietnam module (see vietnam_holidays); the days off
    must be those ``holidays.country_holidays("VN")`` gives, names included."""
    import holidays

    from bot.domain.calendar import vietnam_holidays

    ours, theirs = vietnam_holidays(), holidays.country_holidays("VN")
    assert type(ours).__name__ == "Vietnam"
    day = date(2015, 1, 1)
    while day.year <= 2035:
        assert ours.is_working_day(day) == theirs.is_working_day(day), day
        assert ours.get(day) == theirs.get(day), day
        day += timedelta(days=1)


def test_the_calendar_does_not_import_every_country():
    """The other 250-odd countries of the holidays package are about 7 MB that a server would keep."""
    code = ("from datetime import date; from bot.domain.calendar import DEFAULT_CALENDAR as c; "
            "assert c.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 23)")
    assert modules_loaded(code, "holidays.countries") == []
