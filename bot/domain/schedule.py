"""Reception sessions (lịch tiếp công dân): when the next sessions are, one-off or recurring.

Recurring sessions carry an RFC 5545 RRULE such as ``FREQ=WEEKLY;BYDAY=TH`` ("every Thursday").
The commune chairman receives citizens at least one day a week (Luật Tiếp công dân 2013, Đ.15).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from dateutil.rrule import rrulestr

WEEKDAY_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class Occurrence:
    starts_at: datetime
    ends_at: datetime


def upcoming(starts_at: datetime, ends_at: datetime, recurrence: str | None, after: datetime,
             count: int = 3, zone: tzinfo | None = None) -> list[Occurrence]:
    """The next ``count`` occurrences that have not ended by ``after`` (all datetimes aware).

    A weekly rule means the commune's weekdays: pass ``zone`` (or local ``starts_at``) so that a
    Thursday 06:30 session is not expanded on UTC's Wednesday."""
    if zone is not None:
        starts_at, ends_at, after = starts_at.astimezone(zone), ends_at.astimezone(zone), after.astimezone(zone)
    duration = ends_at - starts_at
    if not recurrence:
        return [Occurrence(starts_at, ends_at)] if ends_at > after else []
    rule = rrulestr(recurrence, dtstart=starts_at)
    found: list[Occurrence] = []
    start = rule.after(after - duration, inc=True)
    while start is not None and len(found) < count:
        found.append(Occurrence(start, start + duration))
        start = rule.after(start)
    return found


def weekly_days(recurrence: str | None) -> list[int]:
    """Weekday numbers (0 = Monday) of a weekly rule, for a human description; [] if not weekly."""
    if not recurrence or "FREQ=WEEKLY" not in recurrence.upper():
        return []
    for part in recurrence.upper().split(";"):
        if part.startswith("BYDAY="):
            return [WEEKDAY_CODES.index(day[-2:]) for day in part[6:].split(",") if day[-2:] in WEEKDAY_CODES]
    return []


def is_valid_rule(recurrence: str, starts_at: datetime) -> bool:
    try:
        rrulestr(recurrence, dtstart=starts_at)
    except (ValueError, TypeError):
        return False
    return True


