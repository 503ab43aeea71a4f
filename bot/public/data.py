"""What a commune publishes, read for the public pages and feeds: read-only, nothing personal.

The same records the chat shows (handlers/schedules.py, handlers/publications.py) through the same
services (bot/domain/schedule.py, bot/consultations.py, bot/statistics.py). Consultation results are
read only once a consultation has closed; no vote, comment or voter is ever read here except the
tallies (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 28 khoản 3: the results are made public)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.consultations import Results, is_open, results
from bot.domain.schedule import Occurrence, upcoming
from bot.statistics import Report, commune_report
from storage.models import Consultation, Item, ItemEvent, Disclosure, Project, ProjectUpdate, ReceptionSession
from storage.models_public import Announcement, PublicChange

SHOWN_OCCURRENCES = 4  # of each recurring session
FIGURES_DAYS = 365


@dataclass(frozen=True)
class Slot:
    """One occurrence of a session, as the schedule lists it."""

    occurrence: Occurrence
    session: ReceptionSession
    cancelled: bool


@dataclass(frozen=True)
class ConsultationView:
    consultation: Consultation
    open: bool
    results: Results | None  # once closed only


async def version(uow, commune_code: int) -> tuple[int, datetime | None]:
    """The commune's publication version and when it changed: one primary-key read."""
    row = await uow.session.get(PublicChange, commune_code, populate_existing=True)
    return (row.version, row.changed_at) if row is not None else (0, None)


async def activity(uow, commune_code: int) -> int:
    """The latest event of any of the commune's items: the figures change only when it does."""
    return (await uow.session.execute(select(func.max(ItemEvent.id)).join(Item, Item.id == ItemEvent.item_id)
                                      .where(Item.commune_code == commune_code))).scalar() or 0


async def sessions(uow, commune_code: int) -> list[ReceptionSession]:
    """Every session of the commune, cancelled ones too (a calendar must hear of a cancellation)."""
    rows = await uow.session.execute(select(ReceptionSession).where(ReceptionSession.commune_code == commune_code)
                                     .order_by(ReceptionSession.starts_at, ReceptionSession.id))
    return list(rows.scalars())


def schedule(all_sessions: list[ReceptionSession], now: datetime, zone: ZoneInfo) -> list[Slot]:
    """The coming occurrences, soonest first; a cancelled session still to come is listed as such."""
    slots = []
    for session in all_sessions:
        count = SHOWN_OCCURRENCES if session.recurrence else 1
        for occurrence in upcoming(session.starts_at, session.ends_at, session.recurrence, now, count=count, zone=zone):
            slots.append(Slot(occurrence, session, session.status == "cancelled"))
    slots.sort(key=lambda slot: (slot.occurrence.starts_at, slot.session.id))
    return slots


async def disclosures(uow, commune_code: int) -> list[Disclosure]:
    rows = await uow.session.execute(select(Disclosure).where(Disclosure.commune_code == commune_code)
                                     .order_by(Disclosure.published_at.desc(), Disclosure.id.desc()).limit(500))
    return list(rows.scalars())


async def projects(uow, commune_code: int) -> list[tuple[Project, list[ProjectUpdate]]]:
    found = list((await uow.session.execute(select(Project).where(Project.commune_code == commune_code)
                                            .order_by(Project.id))).scalars())
    updates: dict[int, list[ProjectUpdate]] = {project.id: [] for project in found}
    if found:
        for update in (await uow.session.execute(
                select(ProjectUpdate).where(ProjectUpdate.project_id.in_(list(updates)))
                .order_by(ProjectUpdate.on, ProjectUpdate.id))).scalars():
            updates[update.project_id].append(update)
    return [(project, updates[project.id]) for project in found]


async def consultations(uow, commune_code: int, now: datetime) -> list[ConsultationView]:
    rows = (await uow.session.execute(select(Consultation).where(Consultation.commune_code == commune_code,
                                                                  Consultation.opens_at <= now)
                                      .order_by(Consultation.closes_at.desc(), Consultation.id.desc())
                                      .limit(50))).scalars().all()
    views = []
    for consultation in rows:
        running = is_open(consultation, now)
        counted = None if running else await results(uow.session, consultation, comments=0)
        views.append(ConsultationView(consultation, running, counted))
    return views


async def announcements(uow, commune_code: int, limit: int = 50) -> list[Announcement]:
    rows = await uow.session.execute(select(Announcement).where(Announcement.commune_code == commune_code)
                                     .order_by(Announcement.published_at.desc(), Announcement.id.desc()).limit(limit))
    return list(rows.scalars())


async def figures(uow, commune_code: int, zone: ZoneInfo) -> Report:
    since = datetime.now(timezone.utc) - timedelta(days=FIGURES_DAYS)
    return await commune_report(uow, commune_code, since, zone)
