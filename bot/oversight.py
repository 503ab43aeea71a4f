"""Oversight — dân kiểm tra, dân giám sát: what the people's boards and the province read, and the
observations (kiến nghị) a board records and the commune must answer on its own clock.

A board's members (Ban Thanh tra nhân dân of a commune, Ban Giám sát đầu tư của cộng đồng of a project;
Luật Thực hiện dân chủ ở cơ sở 2022, Điều 36–45) read the commune's items without any contact, the
deadlines kept or missed, and the projects with their progress and budget; they record observations.
The commune's chairman or admin answers each by its deadline (bot/domain/oversight.py: 15 days, Điều 40
khoản 1 điểm c, Điều 45 khoản 2 điểm c). The province's admin and overseer read the same figures for
every commune of the province. Every read and write asks the scope policy (bot/policy.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import policy
from bot.domain.dialog import Reply
from bot.domain.oversight import answer_due
from bot.domain.provinces import communes_of
from bot.officers import NotAllowed, actor_for, items_within
from bot.policy import Actor, Level, Permission
from bot.texts import t
from storage.models import (
    BoardObservation,
    ChannelIdentity,
    Item,
    ItemDeadline,
    OversightBoard,
    Project,
    User,
    utcnow,
)

# Legal periods, not the internal targets for feedback (status updates, the hard escalation).
KEPT_PHASES = ("intake", "forwarding", "acceptance_notice", "resolution")
ANSWERING_ROLES = tuple(role for role, grants in policy.ROLES.items()
                        if Permission.answer_observation in grants.permissions)


async def board_of(uow, actor: Actor) -> OversightBoard | None:
    return await uow.session.get(OversightBoard, actor.board_id) if actor.board_id is not None else None


# --- observations ------------------------------------------------------------------------------

async def record_observation(uow, member: User, text: str, zone: ZoneInfo, *,
                             item_id: int | None = None) -> BoardObservation:
    """A board's observation, about its commune (or project) or one item it may see; the commune's
    answerers are told, with the deadline and its basis."""
    actor = await actor_for(uow, member)
    board = await board_of(uow, actor)
    if board is None:
        raise NotAllowed(item_id)
    if item_id is not None:
        item = await uow.items.get(item_id)
        if item is None or not policy.may_see_item(actor, item) or not policy.may_observe(actor, item.commune_code):
            raise NotAllowed(item_id)
    elif not policy.may_observe(actor, board.commune_code, board.project_id):
        raise NotAllowed(None)
    received_at = utcnow()
    due_on, rule = answer_due(board.kind, received_at.astimezone(zone).date())
    observation = BoardObservation(board_id=board.id, commune_code=board.commune_code, item_id=item_id,
                                   author_id=member.id, text=text, received_at=received_at, due_on=due_on,
                                   rule_id=rule.rule_id, citation=rule.citation, statutory=rule.statutory)
    uow.session.add(observation)
    await uow.session.flush()
    for user_id, language, channel, chat_id in await _answerers_chats(uow, board.commune_code):
        reply = Reply(t(language, "oversight.notice_new", board=board.name, date=due_on.strftime("%d/%m/%Y"),
                        citation=rule.citation, text=text[:500]))
        await uow.outbox.enqueue(channel, chat_id, reply, dedupe_key=f"observation:{observation.id}:{user_id}:{channel}")
    return observation


async def observations(uow, user: User, *, limit: int = 30) -> list[BoardObservation]:
    """The observations the user may read, open ones first, nearest deadline first."""
    actor = await actor_for(uow, user)
    query = select(BoardObservation)
    if actor.board_id is not None and policy.is_staff(actor):
        query = query.where(BoardObservation.board_id == actor.board_id)
    elif policy.may_answer_observation(actor, actor.commune_code):
        query = query.where(BoardObservation.commune_code == actor.commune_code)
    elif actor.grants.level is Level.province and actor.holds(Permission.figures) and actor.province_code:
        query = query.where(BoardObservation.commune_code.in_(communes_of(actor.province_code)))
    else:
        return []
    query = query.order_by(BoardObservation.answered_at.is_not(None), BoardObservation.due_on,
                           BoardObservation.id).limit(limit)
    return list((await uow.session.execute(query)).scalars())


async def observation(uow, user: User, observation_id: int) -> BoardObservation:
    found = await uow.session.get(BoardObservation, observation_id)
    if found is None or not policy.may_read_observation(await actor_for(uow, user), found.commune_code, found.board_id):
        raise NotAllowed(observation_id)
    return found


async def answer_observation(uow, answerer: User, observation_id: int, text: str) -> BoardObservation:
    """The commune's answer; the board's members are told. Answered once: a second answer is refused."""
    found = await uow.session.get(BoardObservation, observation_id)
    if (found is None or found.answered_at is not None
            or not policy.may_answer_observation(await actor_for(uow, answerer), found.commune_code)):
        raise NotAllowed(observation_id)
    found.answer, found.answered_at, found.answered_by = text, utcnow(), answerer.id
    board = await uow.session.get(OversightBoard, found.board_id)
    members = await uow.session.execute(
        select(User.id, User.language, ChannelIdentity.channel, ChannelIdentity.last_chat_id)
        .join(ChannelIdentity, ChannelIdentity.user_id == User.id)
        .where(User.board_id == found.board_id, User.role.in_(tuple(policy.BOARD_ROLES.values())),
               ChannelIdentity.last_chat_id.is_not(None)).order_by(User.id))
    for user_id, language, channel, chat_id in members.all():
        reply = Reply(t(language or "vi", "oversight.notice_answered", board=board.name, text=found.text[:300],
                        answer=text[:1500]))
        await uow.outbox.enqueue(channel, chat_id, reply, dedupe_key=f"observation-answer:{found.id}:{user_id}:{channel}")
    return found


async def _answerers_chats(uow, commune_code: int) -> list[tuple[int, str, str, str]]:
    """(user, language, channel, chat) of the commune's chairmen and admins (appointed to its units)."""
    units = [unit.id for unit in await uow.units.for_commune(commune_code)]
    if not units:
        return []
    return [(user_id, language or "vi", channel, chat_id) for _, user_id, language, channel, chat_id
            in await uow.users.staff_chats(units, ANSWERING_ROLES)]


# --- what a board and the province read ------------------------------------------------------------

@dataclass
class DeadlineRecord:
    """A commune's legal deadlines of items received since a day: met in time, met late, open and
    already past, open and still running."""

    commune_code: int
    kept: int = 0
    missed: int = 0
    overdue: int = 0
    running: int = 0


async def deadline_records(uow, user: User, today: date, since: datetime, zone: ZoneInfo) -> list[DeadlineRecord]:
    """Per commune of the user's figures scope (a board's commune, a unit for a leader, every commune
    of the province for its readers); counts only, no item and no person named."""
    scope = policy.figures_scope(await actor_for(uow, user))
    rows = await uow.session.execute(
        select(Item.commune_code, ItemDeadline.due_on, ItemDeadline.done_at)
        .join(Item, Item.id == ItemDeadline.item_id)
        .where(items_within(scope), Item.received_at >= since, ItemDeadline.phase.in_(KEPT_PHASES)))
    records: dict[int, DeadlineRecord] = {}
    for commune_code, due_on, done_at in rows.all():
        record = records.setdefault(commune_code, DeadlineRecord(commune_code))
        if done_at is not None:
            if done_at.astimezone(zone).date() <= due_on:
                record.kept += 1
            else:
                record.missed += 1
        elif due_on < today:
            record.overdue += 1
        else:
            record.running += 1
    return sorted(records.values(), key=lambda r: (-(r.missed + r.overdue), r.commune_code))


async def projects_in_view(uow, user: User) -> list[Project]:
    """The projects a board follows: a project's board its own, a commune's inspection board all of
    the commune's; for the province's readers, every project of the province."""
    actor = await actor_for(uow, user)
    query = select(Project)
    if actor.project_id is not None:
        query = query.where(Project.id == actor.project_id)
    elif actor.board_id is not None or actor.grants.level is Level.commune:
        query = query.where(Project.commune_code == actor.commune_code)
    elif actor.grants.level is Level.province and actor.province_code is not None:
        query = query.where(Project.commune_code.in_(communes_of(actor.province_code)))
    else:
        return []
    return list((await uow.session.execute(query.order_by(Project.commune_code, Project.id))).scalars())


async def overdue_observations(uow, today: date) -> list[BoardObservation]:
    """Unanswered observations past their deadline (the sweep tells the commune's chairmen)."""
    rows = await uow.session.execute(
        select(BoardObservation).where(BoardObservation.answered_at.is_(None), BoardObservation.due_on < today)
        .order_by(BoardObservation.due_on, BoardObservation.id))
    return list(rows.scalars())
