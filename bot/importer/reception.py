"""reception_sessions: the reception schedule (lịch tiếp công dân, Luật Tiếp công dân 2013, Điều 15, 24).

    reception_sessions:
      - {receiver: Chủ tịch UBND phường, place: Phòng tiếp công dân, start: 2026-12-03 07:30, end: 11:30,
         every: thursday, key: dinh-ky, moved_from: 2026-12-03 07:30, status: scheduled | cancelled}

A session may carry the commune's own ``key`` (matched before the time and place) or name the time it
is ``moved_from``; either way a new time for a known session is a postponement: the session is moved,
registrations move with it, and subscribers and registered citizens are told the old and the new time.
Setting ``status: cancelled`` on a session still to come tells them it is cancelled. A schedule
published fewer than 5 working days ahead is reported as a warning (Điều 24).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from datetime import date, datetime

from bot.domain.calendar import DEFAULT_CALENDAR
from bot.domain.communes import fold
from bot.domain.schedule import WEEKDAY_CODES, is_valid_rule, upcoming
from bot.importer.fields import Entry, Planned, parse_moment, utc
from bot.importer.sections import SCHEDULE_NOTICE_WORKING_DAYS, SESSION_STATUSES
from bot.publishing import (
    announce_session_cancelled,
    announce_session_moved,
    announce_sessions,
    move_registrations,
)
from storage.models import ReceptionSession

if TYPE_CHECKING:
    from bot.importer.plan import Planner
    from bot.importer.write import Writer

WEEKDAYS = {  # folded spellings → RFC 5545 day codes
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


def read(planner: Planner, entry: Entry, commune: int) -> Planned:
    day, start_clock = entry.moment("start", required=True)
    starts_at = planner.local(day, start_clock)
    end_text = entry.text("end", required=True)
    end_day, end_clock = parse_moment(end_text)
    if end_day is None:
        end_day, end_clock = day, entry.clock("end", end_text)
    elif end_clock is None:
        raise entry.fail("end", f"expected a time like 11:30 or a date and time, not {end_text!r}")
    ends_at = planner.local(end_day, end_clock)
    if ends_at <= starts_at:
        raise entry.fail("end", f"the session ends ({end_day} {end_clock:%H:%M}) before it starts "
                                f"({day} {start_clock:%H:%M})")
    recurrence = _recurrence(entry, day, starts_at)
    place = entry.name("place", required=True, limit=300)
    session_key = entry.name("key", limit=100)
    moved = entry.moment("moved_from")
    moved_from = planner.local(*moved) if moved else None
    if moved_from is not None and moved_from == starts_at:
        raise entry.fail("moved_from", "the same time as start: a session moved from its own time is not moved")
    return Planned("reception_sessions", entry.line, commune,
                   ("key", commune, session_key) if session_key else (commune, starts_at, place),
                   {"commune_code": commune, "receiver": entry.text("receiver", required=True, limit=200),
                    "place": place, "topics": entry.text("topics"), "starts_at": starts_at,
                    "ends_at": ends_at, "recurrence": recurrence,
                    "online_url": planner.url(entry, "online_url"),
                    "status": entry.choice("status", SESSION_STATUSES, "scheduled"), "key": session_key},
                   {"start": entry.line_of("start"), "moved_from": entry.line_of("moved_from")},
                   published=planner.published(entry), moved_from=moved_from)


def _recurrence(entry: Entry, day: date, starts_at: datetime) -> str | None:
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
        code = WEEKDAYS.get(fold(item.value))
        if code is None:
            raise entry.fail("every", f"not a day of the week: {item.value!r} (like thursday)", item.line)
        codes.add(code)
    if WEEKDAY_CODES[day.weekday()] not in codes:
        raise entry.fail("start", f"{day} is a {day:%A}, not one of the days in every")
    return "FREQ=WEEKLY;BYDAY=" + ",".join(code for code in WEEKDAY_CODES if code in codes)


async def write(writer: Writer) -> None:
    """Sessions are found by the commune's key, then by time and place, then by the time they are
    moved from. A known session that gets a new time or place is moved; one still to come that
    gets ``cancelled`` is cancelled; both are announced, like new sessions."""
    existing = await writer.rows(ReceptionSession, ReceptionSession.commune_code.in_(writer.communes))
    by_key = {(row.commune_code, row.key): row for row in existing if row.key}
    by_time: dict[tuple, ReceptionSession] = {}
    for row in existing:
        by_time.setdefault((row.commune_code, utc(row.starts_at), " ".join(row.place.split())), row)
    new, moves, cancellations = [], [], []
    for planned in writer.plan.get("reception_sessions", []):
        values = planned.values
        commune, place = planned.commune, values["place"]
        row = by_key.get((commune, values["key"])) if values["key"] else None
        row = row or by_time.get((commune, values["starts_at"], place))
        if row is None and planned.moved_from is not None:
            row = by_time.get((commune, planned.moved_from, place))
            if row is None:
                raise writer.source.error(planned.lines["moved_from"], "reception_sessions.moved_from",
                                          f"no session at {planned.moved_from.astimezone(writer.zone):%Y-%m-%d %H:%M} "
                                          f"in {place!r} to move")
        if row is not None and row.key and values["key"] and row.key != values["key"]:
            row = None  # time and place of another named session: a second session at the same time
        values = {**values, **writer.publication(planned, row)}
        if row is None:
            row = ReceptionSession(**values)
            writer.session.add(row)
            writer.summary.created += 1
            new.append(row)
        else:
            before = (utc(row.starts_at), utc(row.ends_at), " ".join(row.place.split()), row.status)
            if values["key"] is None:
                values.pop("key")  # a file without keys keeps the key an earlier file gave
            if writer.assign(row, values):
                writer.summary.changed += 1
            else:
                writer.summary.unchanged += 1
            _session_changes(writer, row, before, moves, cancellations)
        by_time.setdefault((commune, utc(row.starts_at), place), row)
        if row.key:
            by_key[(commune, row.key)] = row
        if row.status != "cancelled":
            _check_notice(writer, planned, row)
    new = [row for row in new if row.status != "cancelled"]
    if new or moves or cancellations:
        await writer.session.flush()  # the new sessions need their ids for the dedupe keys
    if new:
        await announce_sessions(writer.session, new, writer.zone)
    for row, old_start, old_place in moves:
        await move_registrations(writer.session, row, old_start)
        await announce_session_moved(writer.session, row, old_start, old_place, writer.zone)
    for row in cancellations:
        await announce_session_cancelled(writer.session, row, writer.zone)


def _session_changes(writer, row: ReceptionSession, before: tuple, moves: list, cancellations: list) -> None:
    """Adds ``row`` to ``moves`` or ``cancellations`` if the import moved or cancelled it."""
    old_start, _, old_place, old_status = before
    if old_status == "cancelled" or old_start <= writer.now:
        return  # nothing announced was still to come
    if row.status == "cancelled":
        cancellations.append(row)
        writer.summary.sessions_cancelled += 1
    elif utc(row.starts_at) != old_start or " ".join(row.place.split()) != old_place:
        row.moved_from = old_start
        moves.append((row, old_start, old_place))
        writer.summary.sessions_moved += 1


def _check_notice(writer, planned: Planned, session: ReceptionSession) -> None:
    """Luật Tiếp công dân 2013, Đ.24: the schedule is published 5 working days before the session."""
    published = utc(session.published_at)
    first = upcoming(utc(session.starts_at), utc(session.ends_at), session.recurrence, after=published, count=1,
                     zone=writer.zone)
    line = planned.lines["start"]
    published_day = published.astimezone(writer.zone).date()
    if not first or first[0].starts_at < published:
        writer.warn(line, "reception_sessions.start", f"the session starts before it is published ({published_day})")
        return
    starts_day = first[0].starts_at.astimezone(writer.zone).date()
    earliest = DEFAULT_CALENDAR.add_working_days(published_day, SCHEDULE_NOTICE_WORKING_DAYS)
    if starts_day < earliest:
        writer.warn(line, "reception_sessions.start",
                    f"published {published_day}, fewer than {SCHEDULE_NOTICE_WORKING_DAYS} working days before "
                    f"the session of {starts_day} (Luật Tiếp công dân 2013, Điều 24: the earliest lawful day is "
                    f"{earliest})")
