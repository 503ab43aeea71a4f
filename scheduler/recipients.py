"""Who the sweep (scheduler/sweep.py) writes to and what it writes: everyone a run may tell, loaded
with a few batched queries, and the run's messages by dedupe key, enqueued once each."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from sqlalchemy import and_, or_, select

from bot import policy
from bot.domain.dialog import Reply
from bot.domain.provinces import province_of
from bot.domain.roles import STAFF_ROLES
from storage.models import (
    ChannelIdentity,
    Item,
    OutboxMessage,
    Subscription,
    Unit,
    User,
)
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from scheduler.sweep import Announcement, SweepReport

RECEPTION_TOPIC = "reception"
KEYS_PER_QUERY = 500
# Who may be told at the commune's and the province's rungs (the policy then decides for each item).
COMMUNE_RUNG_ROLES = tuple(role for role, grants in policy.ROLES.items() if grants.level is policy.Level.commune
                           and grants.permissions & {policy.Permission.escalation, policy.Permission.manage})
PROVINCE_RUNG_ROLES = tuple(role for role, grants in policy.ROLES.items() if grants.level is policy.Level.province
                            and policy.Permission.escalation in grants.permissions)


@dataclass
class Person:
    user_id: int
    language: str
    chats: list[tuple[str, str]] = field(default_factory=list)  # (channel, last_chat_id)


class People:
    """Everyone this run may write to, loaded with a few batched queries: staff of the units concerned,
    admins and chairmen of the communes concerned, overseers of their provinces, reception subscribers
    and attendees, and their chats. Staff come with the ``policy.Actor`` that decides what they are told."""

    def __init__(self):
        self.persons: dict[int, Person] = {}
        self.actors: dict[int, policy.Actor] = {}
        self.staff: dict[tuple[int, str], list[int]] = defaultdict(list)        # (unit, role) → users
        self.admins: dict[int, list[int]] = defaultdict(list)                   # commune → users
        self.commune_heads: dict[int, list[int]] = defaultdict(list)            # commune → chairmen
        self.province_heads: dict[int, list[int]] = defaultdict(list)           # province → overseers
        self.officers_of_commune: dict[int, list[int]] = defaultdict(list)
        self.subscribers_of: dict[int, list[int]] = defaultdict(list)
        self.units: dict[int, Unit] = {}

    @classmethod
    async def load(cls, uow: UnitOfWork, due, new_by_unit: dict[int, int], announcements: list[Announcement],
                   attendees: dict[tuple[int, int], list[int]]) -> "People":
        people = cls()
        unit_ids = {item.unit_id for _, item in due if item.unit_id is not None} | set(new_by_unit)
        communes = {item.commune_code for _, item in due}
        provinces = {province_of(commune) for commune in communes} - {None}
        reception_communes = {a.session.commune_code for a in announcements}
        if unit_ids or reception_communes:
            unit_rows = await uow.session.execute(
                select(Unit).where(or_(Unit.id.in_(unit_ids), Unit.commune_code.in_(reception_communes))))
            people.units = {unit.id: unit for unit in unit_rows.scalars()}
        unit_ids |= set(people.units)
        user_ids = {item.assignee_id for _, item in due if item.assignee_id is not None}
        user_ids |= {user_id for users in attendees.values() for user_id in users}
        if unit_ids or communes:
            province_units = frozenset((await uow.session.execute(
                select(Unit.id).where(Unit.commune_code.is_(None)))).scalars())
            # Scope comes from the unit a person was appointed to (bot/officers.py, actor_for).
            staff = await uow.session.execute(
                select(User, Unit).outerjoin(Unit, Unit.id == User.unit_id)
                .where(User.role.in_(STAFF_ROLES),
                       or_(User.unit_id.in_(unit_ids),
                           and_(User.role.in_(COMMUNE_RUNG_ROLES), Unit.commune_code.in_(communes)),
                           and_(User.role.in_(PROVINCE_RUNG_ROLES), Unit.province_code.in_(provinces))))
                .order_by(User.id))
            for user, unit in staff.all():
                people._add(user)
                at_province = unit is not None and unit.at_province
                people.actors[user.id] = policy.Actor(
                    role=user.role, unit_id=user.unit_id, user_id=user.id,
                    commune_code=unit.commune_code if unit is not None else None,
                    province_code=unit.province_code if at_province else None, outside_units=province_units)
                if user.unit_id is not None:
                    people.staff[(user.unit_id, user.role)].append(user.id)
                    if user.role == "officer" and unit is not None and unit.commune_code in reception_communes:
                        people.officers_of_commune[unit.commune_code].append(user.id)
                if unit is None:
                    continue
                if user.role == "admin" and unit.commune_code is not None:
                    people.admins[unit.commune_code].append(user.id)
                if user.role in COMMUNE_RUNG_ROLES and unit.commune_code is not None:
                    people.commune_heads[unit.commune_code].append(user.id)
                if user.role in PROVINCE_RUNG_ROLES and at_province:
                    people.province_heads[unit.province_code].append(user.id)
        if reception_communes:
            subscriptions = await uow.session.execute(
                select(Subscription.commune_code, Subscription.user_id)
                .where(Subscription.topic == RECEPTION_TOPIC, Subscription.commune_code.in_(reception_communes))
                .order_by(Subscription.id))
            for commune_code, user_id in subscriptions.all():
                people.subscribers_of[commune_code].append(user_id)
                user_ids.add(user_id)
        missing = user_ids - set(people.persons)
        if missing:
            for user in (await uow.session.execute(select(User).where(User.id.in_(missing)))).scalars():
                people._add(user)
        if people.persons:
            chats = await uow.session.execute(
                select(ChannelIdentity.user_id, ChannelIdentity.channel, ChannelIdentity.last_chat_id)
                .where(ChannelIdentity.user_id.in_(list(people.persons)), ChannelIdentity.last_chat_id.is_not(None))
                .order_by(ChannelIdentity.id))
            for user_id, channel, chat_id in chats.all():
                people.persons[user_id].chats.append((channel, chat_id))
        return people

    def actor(self, user_id: int) -> policy.Actor:
        return self.actors.get(user_id) or policy.Actor(role="citizen", user_id=user_id)

    def heads(self, rung: policy.Level, item: Item) -> list[int]:
        """Who the policy tells when ``item`` reaches ``rung``: the chairmen of its commune, the
        overseers of its province (a commune's scope stops at the province's units)."""
        candidates = (self.commune_heads.get(item.commune_code, []) if rung is policy.Level.commune
                      else self.province_heads.get(province_of(item.commune_code), []))
        return [user_id for user_id in candidates if policy.told_at_rung(self.actor(user_id), item, rung)]

    def _add(self, user: User) -> None:
        self.persons.setdefault(user.id, Person(user.id, user.language or "vi"))

    def get(self, user_id: int) -> Person | None:
        return self.persons.get(user_id)

    def staff_of(self, unit_id: int | None, role: str) -> list[int]:
        return list(self.staff.get((unit_id, role), [])) if unit_id is not None else []

    def admins_of(self, commune_code: int) -> list[int]:
        return list(self.admins.get(commune_code, []))

    def duty_officers(self, commune_code: int) -> list[int]:
        return list(self.officers_of_commune.get(commune_code, []))

    def subscribers(self, commune_code: int) -> list[int]:
        return list(self.subscribers_of.get(commune_code, []))

    def unit_name(self, unit_id: int | None) -> str:
        unit = self.units.get(unit_id) if unit_id is not None else None
        return unit.name if unit is not None else "—"


@dataclass
class Message:
    kind: str
    channel: str
    chat_id: str
    text: str


class Outgoing:
    """Messages of one run by dedupe key; the first one written for a key wins."""

    def __init__(self):
        self.messages: dict[str, Message] = {}

    def add(self, kind: str, key: str, person: Person | None, render: Callable[[str], str]) -> None:
        if person is None:
            return
        for channel, chat_id in person.chats:
            full_key = f"{key}:{channel}"
            if full_key not in self.messages:
                self.messages[full_key] = Message(kind, channel, chat_id, render(person.language))

    async def write(self, uow: UnitOfWork, report: SweepReport) -> None:
        """Enqueue what is not in the outbox yet; counting only those keeps the report truthful."""
        keys = list(self.messages)
        for start in range(0, len(keys), KEYS_PER_QUERY):
            chunk = keys[start:start + KEYS_PER_QUERY]
            existing = set((await uow.session.execute(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk)))).scalars())
            for key in chunk:
                if key in existing:
                    continue
                message = self.messages[key]
                await uow.outbox.enqueue(message.channel, message.chat_id, Reply(message.text), dedupe_key=key)
                setattr(report, message.kind, getattr(report, message.kind) + 1)
