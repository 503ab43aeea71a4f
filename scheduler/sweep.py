"""The periodic sweep: deadline reminders, overdue escalations, the morning digest and reception-day
announcements, all found by indexed queries on each run (nothing is scheduled in memory).

One run is one transaction. It reads the open deadlines due within ``REMIND_DAYS_BEFORE`` days or
already overdue (a range scan of the partial index on open due dates, so its cost follows the due
rows, not all items) and the reception occurrences of today and tomorrow, and writes every message to
the outbox with a dedupe key naming what it is about and the day it belongs to. Running the sweep
again, or in two processes at once, therefore sends nothing twice; on PostgreSQL a transaction-level
advisory lock also keeps a second process from doing the same work at the same time.

Officers are reminded 3 days before, 1 day before and on the day a deadline falls due; once it is
overdue the unit's leaders are told every day until it is met (Luật Tiếp công dân 2013, Luật Khiếu nại
2011 and Luật Tố cáo 2018 set the periods; the citation travels with each deadline). An item still
overdue climbs the ladder of bot/policy.py (``LADDER``): after ``EscalationLadder.commune_after`` working
days the commune's chairman and vice-chairmen are told, after ``province_after`` the province's
overseers, once each; who is told at each rung is the scope policy's answer, not this module's. Citizens who
follow a commune's reception schedule (Luật Tiếp công dân 2013, Đ.15, Đ.24), those registered for a
session and the commune's officers on duty are reminded the day before and on the morning itself.
The people a run may tell and its messages by dedupe key are scheduler/recipients.py's.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, timezone, tzinfo

from sqlalchemy import func, or_, select, text

from bot import policy
from bot.domain.calendar import DEFAULT_CALENDAR
from bot.domain.schedule import Occurrence, upcoming
from bot.domain.workflow import OPEN, ItemStatus
from bot.texts import has, t
from scheduler.recipients import KEYS_PER_QUERY, Outgoing, People, Person
from storage.models import (
    BoardObservation,
    ChannelIdentity,
    Item,
    ItemDeadline,
    OutboxMessage,
    OversightBoard,
    ReceptionRegistration,
    ReceptionSession,
    Unit,
    User,
)
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# Days before a deadline on which its officer is reminded (0: the day itself).
REMIND_DAYS_BEFORE = (3, 1, 0)
DIGEST_FROM = time(7, 0)
RECEPTION_FROM = time(6, 0)
# pg_try_advisory_xact_lock key: "tiepdan" in ASCII followed by 1, the sweep's number.
SWEEP_LOCK = 0x74_69_65_70_64_61_6E_01
# Occurrences looked at per recurring session; two days never hold more of a sane schedule.
OCCURRENCES_AHEAD = 8

OPEN_STATUSES = tuple(status.value for status in OPEN)


@dataclass(frozen=True)
class EscalationLadder:
    """Working days an item stays overdue before each higher rung is told (bot/policy.py, ``LADDER``):
    the commune's chairman, then the province's overseer. The unit's leaders are told from the first
    overdue day. No law sets these steps: they are the province's own rule."""

    commune_after: int = 5
    province_after: int = 10


DEFAULT_LADDER = EscalationLadder()
ANSWERING_ROLES = tuple(role for role, grants in policy.ROLES.items()
                        if policy.Permission.answer_observation in grants.permissions)


@dataclass
class SweepReport:
    """How many outbox messages one run enqueued, by kind (one per recipient and channel)."""

    reminders: int = 0
    escalations: int = 0
    digests: int = 0
    reception_subscribers: int = 0
    reception_attendees: int = 0
    reception_duty: int = 0
    observations: int = 0       # boards' observations past their answer deadline, told to the commune
    cancelled: int = 0          # stale reminders and escalations deleted before they were sent
    skipped: bool = False       # another process was sweeping; this run did nothing

    @property
    def enqueued(self) -> int:
        return sum(getattr(self, f.name) for f in fields(self) if f.name not in ("cancelled", "skipped"))


async def sweep(uows: UnitOfWorkFactory, *, now: datetime, zone: tzinfo,
                ladder: EscalationLadder = DEFAULT_LADDER, digest_from: time = DIGEST_FROM) -> SweepReport:
    """One run at ``now``. The morning digest goes from ``digest_from`` in the commune's zone (the
    settings' ``digest_hour``), once per officer and local day whatever the runs and restarts: its
    dedupe key names the local day, and a late start after the hour still sends that day's once."""
    report = SweepReport()
    clock = Clock(now.astimezone(timezone.utc), now.astimezone(zone), zone)
    async with uows() as uow:
        if not await _take_sweep_lock(uow):
            report.skipped = True
            return report
        report.cancelled = await _cancel_stale_reminders(uow)
        outgoing = Outgoing()
        due = await _due_deadlines(uow, clock.today + timedelta(days=max(REMIND_DAYS_BEFORE)))
        new_by_unit = await _new_items_by_unit(uow) if clock.local.time() >= digest_from else {}
        announcements = await _reception_occurrences(uow, clock)
        attendees = await _attendees(uow, announcements, clock) if announcements else {}
        people = await People.load(uow, due, new_by_unit, announcements, attendees)
        _deadline_messages(outgoing, people, due, clock, ladder)
        if clock.local.time() >= digest_from:
            _digests(outgoing, people, due, new_by_unit, clock)
        _reception_messages(outgoing, people, announcements, attendees)
        await _observation_messages(uow, outgoing, clock)
        await outgoing.write(uow, report)
        await uow.commit()
    if report.enqueued or report.cancelled:
        log.info("sweep %s", report)
    return report


@dataclass(frozen=True)
class Clock:
    utc: datetime
    local: datetime
    zone: tzinfo

    @property
    def today(self) -> date:
        return self.local.date()

    def start_of(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.zone).astimezone(timezone.utc)


async def _take_sweep_lock(uow: UnitOfWork) -> bool:
    """On PostgreSQL only one process sweeps at a time; SQLite has one writer anyway (BEGIN IMMEDIATE)."""
    if uow.dialect != "postgresql":
        return True
    taken = await uow.session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})
    return bool(taken.scalar_one())


# --- deadlines ---------------------------------------------------------------------------------

async def _cancel_stale_reminders(uow: UnitOfWork) -> int:
    """Delete unsent reminders and escalations whose deadline was met or whose item was closed.

    Only pending rows are read (the partial outbox index), so this costs what is waiting to be sent.
    """
    pending = (await uow.session.execute(
        select(OutboxMessage.id, OutboxMessage.dedupe_key).where(
            OutboxMessage.status.in_(("pending", "sending")), OutboxMessage.status == "pending",
            OutboxMessage.parts_sent == 0,
            or_(OutboxMessage.dedupe_key.like("remind:%"), OutboxMessage.dedupe_key.like("escalate:%"))))).all()
    rows_by_deadline: dict[int, list[int]] = defaultdict(list)
    for row_id, key in pending:
        deadline_id = key.split(":")[1]
        if deadline_id.isdigit():
            rows_by_deadline[int(deadline_id)].append(row_id)
    if not rows_by_deadline:
        return 0
    stale = (await uow.session.execute(
        select(ItemDeadline.id).join(Item, Item.id == ItemDeadline.item_id).where(
            ItemDeadline.id.in_(list(rows_by_deadline)),
            or_(ItemDeadline.done_at.is_not(None), Item.status.not_in(OPEN_STATUSES))))).scalars().all()
    row_ids = [row_id for deadline_id in stale for row_id in rows_by_deadline[deadline_id]]
    if not row_ids:
        return 0
    deleted = await uow.session.execute(
        OutboxMessage.__table__.delete().where(OutboxMessage.id.in_(row_ids), OutboxMessage.status == "pending"))
    return deleted.rowcount


async def _due_deadlines(uow: UnitOfWork, horizon: date) -> list[tuple[ItemDeadline, Item]]:
    """Open deadlines of open items due by ``horizon`` (overdue ones included), nearest first.

    Two steps on purpose: joined in one statement, PostgreSQL may prefer scanning every open item
    for a hash join; the partial index on open due dates and then primary-key lookups keep the cost
    to the due rows.
    """
    deadlines = list((await uow.session.execute(
        select(ItemDeadline).where(ItemDeadline.done_at.is_(None), ItemDeadline.due_on <= horizon)
        .order_by(ItemDeadline.due_on, ItemDeadline.id))).scalars())
    item_ids = sorted({deadline.item_id for deadline in deadlines})
    items: dict[int, Item] = {}
    for start in range(0, len(item_ids), KEYS_PER_QUERY):
        rows = await uow.session.execute(
            select(Item).where(Item.id.in_(item_ids[start:start + KEYS_PER_QUERY]), Item.status.in_(OPEN_STATUSES)))
        items.update((item.id, item) for item in rows.scalars())
    return [(deadline, items[deadline.item_id]) for deadline in deadlines if deadline.item_id in items]


async def _new_items_by_unit(uow: UnitOfWork) -> dict[int, int]:
    """Items received and not yet accepted, per unit (read through the index on status)."""
    rows = await uow.session.execute(
        select(Item.unit_id, func.count()).where(Item.status == ItemStatus.received.value, Item.unit_id.is_not(None))
        .group_by(Item.unit_id))
    return {unit_id: count for unit_id, count in rows.all()}


def _deadline_messages(outgoing: Outgoing, people: People, due, clock: Clock, ladder: EscalationLadder) -> None:
    for deadline, item in due:
        days_left = (deadline.due_on - clock.today).days
        if days_left in REMIND_DAYS_BEFORE:
            which = f"{days_left}d"
            recipients = ([item.assignee_id] if item.assignee_id is not None
                          else people.staff_of(item.unit_id, "officer"))
            for user_id in recipients:
                outgoing.add("reminders", f"remind:{deadline.id}:{which}:{user_id}", people.get(user_id),
                             lambda lang: t(lang, "sweep.reminder", code=item.tracking_code,
                                            phase=_phase(lang, deadline.phase), date=_day(deadline.due_on),
                                            when=t(lang, f"sweep.when.{which}"), citation=deadline.citation))
        elif days_left < 0:
            # The unit's rung, every day until met: its leaders, or the commune's admins when it has none.
            recipients = ([u for u in people.staff_of(item.unit_id, "leader")
                           if policy.told_at_rung(people.actor(u), item, policy.Level.unit)]
                          or [u for u in people.admins_of(item.commune_code)
                              if policy.stands_in_for_leaders(people.actor(u), item)])
            for user_id in recipients:
                outgoing.add("escalations", f"escalate:{deadline.id}:{clock.today.isoformat()}:{user_id}",
                             people.get(user_id),
                             lambda lang: t(lang, "sweep.escalation", code=item.tracking_code,
                                            kind=t(lang, f"kind.{item.kind}"), phase=_phase(lang, deadline.phase),
                                            date=_day(deadline.due_on), days=-days_left,
                                            citation=deadline.citation, unit=people.unit_name(item.unit_id)))
            _climb(outgoing, people, deadline, item, clock, ladder)


def _climb(outgoing: Outgoing, people: People, deadline: ItemDeadline, item: Item, clock: Clock,
           ladder: EscalationLadder) -> None:
    """The higher rungs, each told once when the item has been overdue long enough in working days."""
    overdue = DEFAULT_CALENDAR.working_days_between(deadline.due_on, clock.today)
    for rung, after in ((policy.Level.commune, ladder.commune_after), (policy.Level.province, ladder.province_after)):
        if overdue < after:
            continue
        for user_id in people.heads(rung, item):
            outgoing.add("escalations", f"escalate:{deadline.id}:{rung.value}:{user_id}", people.get(user_id),
                         lambda lang, rung=rung: t(lang, "sweep.escalation_climbed", code=item.tracking_code,
                                                   kind=t(lang, f"kind.{item.kind}"), days=overdue,
                                                   level=t(lang, f"sweep.level.{rung.value}"),
                                                   phase=_phase(lang, deadline.phase), date=_day(deadline.due_on),
                                                   citation=deadline.citation, unit=people.unit_name(item.unit_id)))


def _digests(outgoing: Outgoing, people: People, due, new_by_unit: dict[int, int], clock: Clock) -> None:
    """Each officer's morning summary of their unit: new, due within 3 days, overdue (items, not deadlines)."""
    overdue: dict[int, set[int]] = defaultdict(set)
    due_soon: dict[int, set[int]] = defaultdict(set)
    for deadline, item in due:
        if item.unit_id is not None:
            (overdue if deadline.due_on < clock.today else due_soon)[item.unit_id].add(item.id)
    for unit_id in set(new_by_unit) | set(overdue) | set(due_soon):
        counts = {"new": new_by_unit.get(unit_id, 0), "due_soon": len(due_soon[unit_id] - overdue[unit_id]),
                  "overdue": len(overdue[unit_id])}
        for user_id in people.staff_of(unit_id, "officer"):
            outgoing.add("digests", f"digest:{user_id}:{clock.today.isoformat()}", people.get(user_id),
                         lambda lang: t(lang, "sweep.digest", date=_day(clock.today),
                                        unit=people.unit_name(unit_id), **counts))


async def _observation_messages(uow: UnitOfWork, outgoing: Outgoing, clock: Clock) -> None:
    """A board's observation unanswered past its deadline (bot/domain/oversight.py): the commune's
    chairmen and admins are told once."""
    overdue = list((await uow.session.execute(
        select(BoardObservation, OversightBoard.name).join(OversightBoard, OversightBoard.id == BoardObservation.board_id)
        .where(BoardObservation.answered_at.is_(None), BoardObservation.due_on < clock.today)
        .order_by(BoardObservation.due_on, BoardObservation.id))).all())
    if not overdue:
        return
    rows = await uow.session.execute(
        select(User, Unit.commune_code, ChannelIdentity.channel, ChannelIdentity.last_chat_id)
        .join(Unit, Unit.id == User.unit_id).join(ChannelIdentity, ChannelIdentity.user_id == User.id)
        .where(User.role.in_(ANSWERING_ROLES), Unit.commune_code.in_({o.commune_code for o, _ in overdue}),
               ChannelIdentity.last_chat_id.is_not(None))
        .order_by(User.id, ChannelIdentity.id))
    answerers: dict[int, dict[int, Person]] = defaultdict(dict)
    for user, commune_code, channel, chat_id in rows.all():
        actor = policy.Actor(role=user.role, unit_id=user.unit_id, commune_code=commune_code, user_id=user.id)
        if policy.may_answer_observation(actor, commune_code):
            person = answerers[commune_code].setdefault(user.id, Person(user.id, user.language or "vi"))
            person.chats.append((channel, chat_id))
    for observation, board in overdue:
        for person in answerers.get(observation.commune_code, {}).values():
            outgoing.add("observations", f"observation-overdue:{observation.id}:{person.user_id}", person,
                         lambda lang, o=observation, b=board: t(
                             lang, "sweep.observation_overdue", board=b, date=_day(o.due_on),
                             received=_day(o.received_at.astimezone(clock.zone).date()), citation=o.citation,
                             text=o.text[:300]))


# --- reception days ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Announcement:
    """One occurrence of a reception session to remind people of: ``which`` is day_before or today."""

    session: ReceptionSession
    occurrence: Occurrence
    which: str

    @property
    def epoch(self) -> int:
        return int(self.occurrence.starts_at.timestamp())


async def _reception_occurrences(uow: UnitOfWork, clock: Clock) -> list[Announcement]:
    """Published, not cancelled occurrences of today (until they end) and tomorrow, from 06:00 local."""
    if clock.local.time() < RECEPTION_FROM:
        return []
    tomorrow = clock.today + timedelta(days=1)
    sessions = (await uow.session.execute(
        select(ReceptionSession).where(
            ReceptionSession.status != "cancelled", ReceptionSession.published_at.is_not(None),
            or_(ReceptionSession.recurrence.is_not(None), ReceptionSession.ends_at > clock.utc)))).scalars()
    found = []
    for session in sessions:
        starts, ends = session.starts_at.astimezone(clock.zone), session.ends_at.astimezone(clock.zone)
        for occurrence in upcoming(starts, ends, session.recurrence, clock.local, count=OCCURRENCES_AHEAD):
            day = occurrence.starts_at.astimezone(clock.zone).date()
            if day == clock.today:
                found.append(Announcement(session, occurrence, "today"))
            elif day == tomorrow:
                found.append(Announcement(session, occurrence, "day_before"))
    return found


def _reception_messages(outgoing: Outgoing, people: People, announcements: list[Announcement],
                        attendees: dict[tuple[int, int], list[int]]) -> None:
    """One message per person and occurrence: the officer on duty, else the attendee, else the subscriber."""
    for announcement in announcements:
        session = announcement.session
        base = f"reception:{session.id}:{announcement.epoch}:{announcement.which}"
        groups = (("reception_duty", "sweep.reception.duty", people.duty_officers(session.commune_code)),
                  ("reception_attendees", "sweep.reception.attendee",
                   attendees.get((session.id, announcement.epoch), [])),
                  ("reception_subscribers", "sweep.reception.subscriber", people.subscribers(session.commune_code)))
        for kind, key, user_ids in groups:
            for user_id in user_ids:
                outgoing.add(kind, f"{base}:{user_id}", people.get(user_id),
                             lambda lang: _reception_text(lang, key, announcement))


async def _attendees(uow: UnitOfWork, announcements: list[Announcement],
                     clock: Clock) -> dict[tuple[int, int], list[int]]:
    rows = await uow.session.execute(
        select(ReceptionRegistration.session_id, ReceptionRegistration.occurs_at, ReceptionRegistration.user_id)
        .where(ReceptionRegistration.session_id.in_({a.session.id for a in announcements}),
               ReceptionRegistration.cancelled_at.is_(None),
               ReceptionRegistration.occurs_at >= clock.start_of(clock.today),
               ReceptionRegistration.occurs_at < clock.start_of(clock.today + timedelta(days=2)))
        .order_by(ReceptionRegistration.id))
    found: dict[tuple[int, int], list[int]] = defaultdict(list)
    for session_id, occurs_at, user_id in rows.all():
        found[(session_id, int(occurs_at.timestamp()))].append(user_id)
    return found


def _reception_text(language: str, key: str, announcement: Announcement) -> str:
    session = announcement.session
    start, end = announcement.occurrence.starts_at, announcement.occurrence.ends_at  # local already
    message = t(language, key, when=t(language, f"sweep.reception.{announcement.which}"), date=_day(start.date()),
                start=f"{start:%H:%M}", end=f"{end:%H:%M}", receiver=session.receiver, place=session.place)
    if session.topics:
        message += t(language, "sweep.reception.topics", topics=session.topics)
    if session.online_url:
        message += t(language, "sweep.reception.online", url=session.online_url)
    return message


def _phase(language: str, phase: str) -> str:
    key = f"sweep.phase.{phase}"
    return t(language, key) if has(key) else phase


def _day(day: date) -> str:
    return day.strftime("%d/%m/%Y")
