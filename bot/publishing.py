"""What a leader publishes from the bot: an announcement to the commune's subscribers, a project's
progress update (its followers are told), closing a consultation. Each is one transaction with
every outgoing message, so a broadcast interrupted by a crash resumes from the outbox and nobody
is missed; each row has a dedupe key naming the publication and the recipient, so publishing again
writes nothing twice. Only a message in flight at the crash can reach Telegram twice (no idempotency
key there; see tests/test_broadcast_resume.py). Only a leader or admin publishes, and only for the
commune they serve (bot/policy.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select, union

from bot import policy
from bot.consultations import results, results_text
from bot.domain.dialog import Reply
from bot.officers import NotAllowed, actor_for
from bot.texts import t
from storage.models import (
    Consultation,
    ConsultationVote,
    Project,
    ProjectUpdate,
    ReceptionRegistration,
    ReceptionSession,
    Subscription,
    User,
    utcnow,
)
from storage.models_public import Announcement
from storage.repositories import UserRepository
from storage.repositories_outbox import OutboxRepository


async def publishing_commune(uow, user: User) -> int:
    """The commune ``user`` publishes for: the one of the unit they serve, if publishing is theirs."""
    actor = await actor_for(uow, user)
    if not policy.may_publish(actor, actor.commune_code):
        raise NotAllowed(user.id)
    return actor.commune_code


async def _may_publish_for(uow, user: User, commune_code: int) -> bool:
    return policy.may_publish(await actor_for(uow, user), commune_code)


async def _audience(session, commune_code: int, topic: str | None):
    """(user id, language, channel, chat) of every subscriber of the commune (of one topic if given)."""
    subscribers = select(Subscription.user_id).where(Subscription.commune_code == commune_code)
    if topic is not None:
        subscribers = subscribers.where(Subscription.topic == topic)
    return await UserRepository(session).chats(subscribers)


async def announce(uow, leader: User, text: str, publication_key: str) -> int:
    """Send ``text`` to every subscriber, and keep it as the commune's announcement (its public page
    and feeds list it, bot/public/); the same key again keeps the one row."""
    commune_code = await publishing_commune(uow, leader)
    await _keep_announcement(uow.session, commune_code, text, publication_key)
    people = set()
    for user_id, language, channel, chat_id in await _audience(uow.session, commune_code, None):
        body = t(language, "publish.announcement", text=text)
        await uow.outbox.enqueue(channel, chat_id, Reply(body), dedupe_key=f"announce:{publication_key}:{user_id}:{channel}")
        people.add(user_id)
    return len(people)


async def audience_count(uow, commune_code: int, topic: str | None) -> int:
    """How many people a publication would reach (the preview's count, the same as ``announce``'s)."""
    return len({user_id for user_id, *_ in await _audience(uow.session, commune_code, topic)})


async def voter_count(uow, consultation_id: int) -> int:
    """How many people voted, and are told the result when the consultation closes."""
    voters = select(ConsultationVote.user_id).where(ConsultationVote.consultation_id == consultation_id)
    return len({user_id for user_id, *_ in await UserRepository(uow.session).chats(voters)})


async def _keep_announcement(session, commune_code: int, text: str, key: str) -> None:
    kept = (await session.execute(select(Announcement.id).where(
        Announcement.commune_code == commune_code, Announcement.key == key[:200]))).first()
    if kept is None:
        session.add(Announcement(commune_code=commune_code, key=key[:200], text=text))


async def project_update(uow, leader: User, project_id: int, progress: int, note: str, on: date,
                         publication_key: str) -> int:
    project = await project_to_update(uow, leader, project_id)
    uow.session.add(ProjectUpdate(project_id=project.id, on=on, progress_percent=progress, note=note))
    project.progress_percent = progress
    project.status = "completed" if progress >= 100 else "in_progress"
    told = set()
    for user_id, language, channel, chat_id in await _audience(uow.session, project.commune_code, f"project:{project.id}"):
        body = t(language, "publish.project_update", name=project.name, progress=progress, note=note)
        reply = Reply(body)
        await uow.outbox.enqueue(channel, chat_id, reply, dedupe_key=f"project:{publication_key}:{user_id}:{channel}")
        told.add(user_id)
    return len(told)


async def project_to_update(uow, leader: User, project_id: int) -> Project:
    project = await uow.session.get(Project, project_id)
    if project is None or not await _may_publish_for(uow, leader, project.commune_code):
        raise NotAllowed(project_id)
    return project


async def open_consultations(uow, commune_code: int) -> list[Consultation]:
    rows = await uow.session.execute(select(Consultation).where(Consultation.commune_code == commune_code,
                                                                Consultation.status == "open"))
    return list(rows.scalars())


async def close_consultation(uow, leader: User, consultation_id: int, *, reason: str | None = None,
                             zone=None) -> Consultation:
    """Close it and tell everyone who voted the result: both tallies, the official one of verified
    residents and the unverified one, each labelled (the commune makes the results of a consultation
    public, Luật Thực hiện dân chủ ở cơ sở 2022 Điều 28 khoản 3). The moment it closed is kept, and
    with an end before the published one, the leader's ``reason``, shown with the result."""
    consultation = await uow.session.get(Consultation, consultation_id)
    if consultation is None or not await _may_publish_for(uow, leader, consultation.commune_code):
        raise NotAllowed(consultation_id)
    consultation.status = "closed"
    consultation.closed_at = utcnow()
    consultation.close_reason = reason
    counted = await results(uow.session, consultation)
    voters = select(ConsultationVote.user_id).where(ConsultationVote.consultation_id == consultation.id)
    notices = [(channel, chat_id, Reply(t(language, "consult.closed_notice", title=consultation.title,
                                          results=results_text(language, consultation, counted, zone=zone))),
                f"consult-closed:{consultation.id}:{user_id}:{channel}")
               for user_id, language, channel, chat_id in await UserRepository(uow.session).chats(voters)]
    if notices:
        await uow.outbox.enqueue_many(notices)
    return consultation




async def announce_sessions(session, sessions: list[ReceptionSession], zone) -> int:
    """Tell the commune's reception subscribers of newly published sessions (Luật Tiếp công dân 2013,
    Điều 24: the schedule is made public). ``session`` is the importer's SQLAlchemy session."""
    outbox = OutboxRepository(session)
    told = 0
    for reception in sessions:
        start, end = reception.starts_at.astimezone(zone), reception.ends_at.astimezone(zone)
        for user_id, language, channel, chat_id in await _audience(session, reception.commune_code, "reception"):
            text = t(language, "publish.session_new", receiver=reception.receiver, place=reception.place,
                     **_when(language, start, end))
            await outbox.enqueue(channel, chat_id, Reply(text),
                                 dedupe_key=f"session-published:{reception.id}:{user_id}:{channel}")
            told += 1
    return told


def _when(language: str, start: datetime, end: datetime) -> dict[str, str]:
    return {"weekday": t(language, f"weekday.{start.weekday()}"), "date": f"{start:%d/%m/%Y}",
            "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}


async def _session_audience(session, reception: ReceptionSession):
    """The commune's reception subscribers and everyone registered for an occurrence still to come."""
    subscribers = select(Subscription.user_id).where(Subscription.commune_code == reception.commune_code,
                                                     Subscription.topic == "reception")
    attendees = select(ReceptionRegistration.user_id).where(
        ReceptionRegistration.session_id == reception.id, ReceptionRegistration.cancelled_at.is_(None),
        ReceptionRegistration.occurs_at >= utcnow())
    return await UserRepository(session).chats(union(subscribers, attendees).subquery().select())


async def move_registrations(session, reception: ReceptionSession, old_start: datetime) -> int:
    """Registrations for occurrences still to come move with a postponed session (by the same shift);
    one that would land on another registration of the same citizen is left where it was."""
    shift = reception.starts_at - old_start
    rows = list((await session.execute(
        select(ReceptionRegistration).where(ReceptionRegistration.session_id == reception.id,
                                            ReceptionRegistration.occurs_at >= utcnow())
        .order_by(ReceptionRegistration.occurs_at.desc() if shift.total_seconds() > 0
                  else ReceptionRegistration.occurs_at))).scalars())
    taken = {(row.user_id, row.occurs_at) for row in rows}
    moved = 0
    for row in rows:
        target = row.occurs_at + shift
        if (row.user_id, target) in taken:
            continue
        taken.discard((row.user_id, row.occurs_at))
        taken.add((row.user_id, target))
        row.occurs_at = target
        moved += 1
        await session.flush()  # one at a time, so the unique (session, time, user) holds at each step
    return moved


async def announce_session_moved(session, reception: ReceptionSession, old_start: datetime, old_place: str,
                                 zone) -> int:
    """A postponement: the old and the new time (and place), to subscribers and registered citizens."""
    outbox = OutboxRepository(session)
    start, end = reception.starts_at.astimezone(zone), reception.ends_at.astimezone(zone)
    old = old_start.astimezone(zone)
    told = 0
    for user_id, language, channel, chat_id in await _session_audience(session, reception):
        text = t(language, "publish.session_moved", old_weekday=t(language, f"weekday.{old.weekday()}"),
                 old_date=f"{old:%d/%m/%Y}", old_start=f"{old:%H:%M}", receiver=reception.receiver,
                 place=reception.place, **_when(language, start, end))
        if old_place != " ".join(reception.place.split()):
            text += t(language, "publish.session_moved_place", old_place=old_place)
        epoch = int(reception.starts_at.timestamp())
        await outbox.enqueue(channel, chat_id, Reply(text),
                             dedupe_key=f"session-moved:{reception.id}:{epoch}:{user_id}:{channel}")
        told += 1
    return told


async def announce_session_cancelled(session, reception: ReceptionSession, zone) -> int:
    outbox = OutboxRepository(session)
    start, end = reception.starts_at.astimezone(zone), reception.ends_at.astimezone(zone)
    told = 0
    for user_id, language, channel, chat_id in await _session_audience(session, reception):
        text = t(language, "publish.session_cancelled", receiver=reception.receiver, place=reception.place,
                 **_when(language, start, end))
        epoch = int(reception.starts_at.timestamp())
        await outbox.enqueue(channel, chat_id, Reply(text),
                             dedupe_key=f"session-cancelled:{reception.id}:{epoch}:{user_id}:{channel}")
        told += 1
    return told
