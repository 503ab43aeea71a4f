"""The commune's reception schedule as an iCalendar feed (RFC 5545, the ``icalendar`` package), for
a phone's calendar to subscribe to (``webcal://…/c/<commune>/schedule.ics``).

Each session is one VEVENT whose UID never changes; a recurring one ("every Thursday morning")
carries its RRULE, so the phone expands its occurrences itself. A postponement moves DTSTART and a
cancellation sets STATUS:CANCELLED, each with a higher SEQUENCE (raised by whoever changes the
session, storage/models_public.py), which is how a subscribed calendar knows its copy is outdated
(RFC 5545 §3.8.7.4). Times carry TZID Asia/Ho_Chi_Minh with its VTIMEZONE."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from bot.domain.communes import Commune
from bot.texts import t
from storage.models import ReceptionSession

KEPT_DAYS = 60  # a one-off session stays in the feed this long after it ended


def uid(session: ReceptionSession, install: str) -> str:
    return f"reception-{session.id}@{install}.tiepdan"


def calendar(commune: Commune, sessions: list[ReceptionSession], *, language: str, zone: ZoneInfo, install: str,
             page_url: str, now: datetime | None = None) -> bytes:
    now = now or datetime.now(timezone.utc)
    cal = Calendar()
    cal.add("prodid", "-//tiepdan//public schedule//VI")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    name = t(language, "public.ical.name", commune=commune.name)
    cal.add("x-wr-calname", name)
    cal.add("name", name)
    cal.add("x-wr-timezone", zone.key)
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", "PT1H")
    for session in sessions:
        if not session.recurrence and session.ends_at < now - timedelta(days=KEPT_DAYS):
            continue
        cal.add_component(_event(session, language, zone, install, page_url))
    cal.add_missing_timezones()
    return cal.to_ical()


def _event(session: ReceptionSession, language: str, zone: ZoneInfo, install: str, page_url: str) -> Event:
    event = Event()
    event.add("uid", uid(session, install))
    event.add("sequence", session.sequence or 0)
    stamp = session.updated_at or session.published_at or session.starts_at
    event.add("dtstamp", stamp.astimezone(timezone.utc))
    event.add("last-modified", stamp.astimezone(timezone.utc))
    event.add("dtstart", session.starts_at.astimezone(zone))
    event.add("dtend", session.ends_at.astimezone(zone))
    if session.recurrence:
        event.add("rrule", vRecur.from_ical(session.recurrence))
    event.add("summary", t(language, "public.ical.summary", receiver=session.receiver))
    event.add("location", session.place)
    description = t(language, "public.ical.description", receiver=session.receiver)
    if session.topics:
        description += "\n" + session.topics
    if session.online_url:
        description += "\n" + session.online_url
    event.add("description", description)
    event.add("status", "CANCELLED" if session.status == "cancelled" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("url", page_url)
    return event
