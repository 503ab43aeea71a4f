"""Citizen reception in a report: what the published schedule held, what the reception register
recorded, and who registered online — per commune, counts only (the register's names never leave it).

    sessions_held      occurrences of the published schedule (Luật Tiếp công dân 2013, Điều 15, 24), not
                       cancelled, that ended in the period by the cut-off
    meetings_recorded  reception meetings recorded as held in the console's register
    registrations      online registrations for held occurrences, not cancelled by the citizen
    walk_ins           register rows of citizens received in person (lượt tiếp, Mẫu 03/TCD)
    citizens_received  the people those rows say came (số người được tiếp: a delegation counts its members)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.domain.schedule import upcoming
from bot.reports.period import Period
from storage.models import ReceptionRegistration, ReceptionSession
from storage.models_desk import ReceptionEntry, ReceptionMeeting

MAX_OCCURRENCES = 400  # a daily session over a year, with room
WALK_IN = "walk_in"


@dataclass
class Reception:
    sessions_held: int = 0
    meetings_recorded: int = 0
    registrations: int = 0
    walk_ins: int = 0
    citizens_received: int = 0

    def __add__(self, other: "Reception") -> "Reception":
        return Reception(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


RECEPTION_FIELDS = tuple(f.name for f in fields(Reception))


async def reception_figures(uow, communes: tuple[int, ...], period: Period, zone: ZoneInfo,
                            cut_off: datetime) -> dict[int, Reception]:
    found: dict[int, Reception] = {}
    if not communes:
        return found

    def of(commune: int) -> Reception:
        return found.setdefault(commune, Reception())

    start = period.starts_at(zone)
    last_day = min(period.last, cut_off.astimezone(zone).date())
    sessions = (await uow.session.execute(
        select(ReceptionSession).where(ReceptionSession.commune_code.in_(communes),
                                       ReceptionSession.status != "cancelled",
                                       ReceptionSession.starts_at < cut_off))).scalars().all()
    for session in sessions:
        held = [o for o in upcoming(session.starts_at, session.ends_at, session.recurrence, start,
                                    count=MAX_OCCURRENCES, zone=zone)
                if o.starts_at >= start and o.ends_at <= cut_off]
        if held:
            of(session.commune_code).sessions_held += len(held)
    for commune, count in (await uow.session.execute(
            select(ReceptionSession.commune_code, func.count()).select_from(ReceptionRegistration)
            .join(ReceptionSession, ReceptionSession.id == ReceptionRegistration.session_id)
            .where(ReceptionSession.commune_code.in_(communes), ReceptionSession.status != "cancelled",
                   ReceptionRegistration.cancelled_at.is_(None), ReceptionRegistration.occurs_at >= start,
                   ReceptionRegistration.occurs_at < cut_off)
            .group_by(ReceptionSession.commune_code))).all():
        of(commune).registrations = count
    for commune, count in (await uow.session.execute(
            select(ReceptionMeeting.commune_code, func.count())
            .where(ReceptionMeeting.commune_code.in_(communes), ReceptionMeeting.held_on >= period.first,
                   ReceptionMeeting.held_on <= last_day)
            .group_by(ReceptionMeeting.commune_code))).all():
        of(commune).meetings_recorded = count
    for commune, rows, people in (await uow.session.execute(
            select(ReceptionEntry.commune_code, func.count(), func.coalesce(func.sum(ReceptionEntry.people), 0))
            .where(ReceptionEntry.commune_code.in_(communes), ReceptionEntry.form == WALK_IN,
                   ReceptionEntry.received_on >= period.first, ReceptionEntry.received_on <= last_day)
            .group_by(ReceptionEntry.commune_code))).all():
        of(commune).walk_ins, of(commune).citizens_received = rows, int(people)
    return found
