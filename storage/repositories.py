"""Repositories load and save; they never commit (the unit of work does)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import any_, bindparam, event, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.dialog import Conversation
from storage.db import is_postgres
from storage.models import (
    ChannelIdentity,
    ConversationState,
    Disclosure,
    Item,
    ItemContact,
    ItemDeadline,
    ItemEvent,
    ProcessedUpdate,
    Project,
    ProjectUpdate,
    ReceptionSession,
    RoutingRule,
    Unit,
    User,
    utcnow,
)

_PREBUILT: dict[tuple[str, str], Any] = {}


def _prebuilt(session: AsyncSession, name: str, build: Callable[[Any], Any]):
    """A statement of the hot path built once per dialect (``build(insert)`` gets the dialect's
    ``insert`` for ON CONFLICT) and then run with parameters: it skips statement construction and the
    ORM's bulk-insert path, about half a millisecond each (bench/pipeline.py)."""
    dialect = session.bind.dialect.name
    statement = _PREBUILT.get((dialect, name))
    if statement is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = _PREBUILT[(dialect, name)] = build(insert)
    return statement


def _parameters(rows: list[dict]):
    """One row as a single execution, several as executemany."""
    return rows if len(rows) > 1 else rows[0]


_identities = ChannelIdentity.__table__
# How stale ``last_seen_at`` may get: most messages of a conversation then skip writing it.
LAST_SEEN_PRECISION = timedelta(minutes=1)
# The hot path's reads and writes, built once (bindparams instead of values).
_IDENTITY_SEEN = (
    update(_identities).where(_identities.c.id == bindparam("identity_id"))
    .values(last_chat_id=bindparam("chat", type_=_identities.c.last_chat_id.type),
            last_seen_at=bindparam("seen", type_=_identities.c.last_seen_at.type)))
_CONVERSATION = select(ConversationState).where(
    ConversationState.channel == bindparam("channel"), ConversationState.chat_id == bindparam("chat_id"))
_CONVERSATION_LOCKED = _CONVERSATION.with_for_update()
# The same reads and writes for a group of deliveries committed together (handlers/pipeline.py):
# one statement for the whole group instead of one per delivery. Each in two forms, by dialect
# (``[postgres]``): see ``_among``.


def _among(column, name: str, postgres: bool):
    """``column IN (a list)``. On PostgreSQL ``column = ANY(an array)``: IN renders one placeholder a
    value, so every group size was another statement text, which asyncpg prepared again (a round
    trip) and PostgreSQL planned again; the array form is one prepared statement for every size."""
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


_IDENTITIES_AND_USERS = [
    select(ChannelIdentity.external_id, ChannelIdentity.id, ChannelIdentity.last_chat_id,
           ChannelIdentity.last_seen_at, User)
    .join(User, User.id == ChannelIdentity.user_id)
    .where(ChannelIdentity.channel == bindparam("channel"), _among(ChannelIdentity.external_id, "external_ids", postgres))
    for postgres in (False, True)]
_conversations = ConversationState.__table__
_CONVERSATIONS = [
    select(_conversations.c.chat_id, _conversations.c.flow, _conversations.c.step, _conversations.c.data,
           _conversations.c.expected_buttons)
    .where(_conversations.c.channel == bindparam("channel"), _among(_conversations.c.chat_id, "chat_ids", postgres))
    .order_by(_conversations.c.chat_id)  # one lock order for every group: no deadlock between two
    for postgres in (False, True)]
_CONVERSATIONS_LOCKED = _CONVERSATIONS[True].with_for_update()  # PostgreSQL's (SQLite locks the database)


def _conversation_upsert(insert):
    statement = insert(_conversations)
    return statement.on_conflict_do_update(
        index_elements=["channel", "chat_id"],
        set_={name: statement.excluded[name] for name in ("user_id", "flow", "step", "data", "expected_buttons",
                                                          "updated_at")})


_processed = ProcessedUpdate.__table__
_items = Item.__table__
_RECENT_BY_TEXT = (
    select(_items.c.tracking_code)
    .where(_items.c.citizen_id == bindparam("citizen_id"), _items.c.received_at >= bindparam("since"),
           _items.c.description == bindparam("description"))
    .order_by(_items.c.id.desc()).limit(1))
_RECENT_OF = [
    select(_items.c.citizen_id, _items.c.received_at, _items.c.description, _items.c.tracking_code)
    .where(_among(_items.c.citizen_id, "citizen_ids", postgres), _items.c.received_at >= bindparam("since"))
    .order_by(_items.c.id.desc())
    for postgres in (False, True)]
_users = User.__table__
_STAFF_CHATS = (
    select(_users.c.unit_id, _users.c.id, _users.c.language, _identities.c.channel, _identities.c.last_chat_id)
    .join(_identities, _identities.c.user_id == _users.c.id)
    .where(_users.c.unit_id.in_(bindparam("unit_ids", expanding=True)), _users.c.role.in_(bindparam("roles", expanding=True)),
           _identities.c.last_chat_id.is_not(None))
    .order_by(_users.c.id, _identities.c.id))


class UserRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def by_channel_identity(self, channel: str, external_id: str) -> User | None:
        row = await self.session.execute(
            select(User).join(ChannelIdentity).where(
                ChannelIdentity.channel == channel, ChannelIdentity.external_id == external_id
            )
        )
        return row.scalar_one_or_none()

    async def get_or_create(self, channel: str, external_id: str, chat_id: str, *, language: str) -> User:
        """The user behind a channel identity, created on first contact (no personal data is stored)."""
        return (await self.get_or_create_many(channel, [(external_id, chat_id, language)]))[external_id]

    async def get_or_create_many(self, channel: str, people: Sequence[tuple[str, str, str]]) -> dict[str, User]:
        """The users behind several identities of one channel, created on first contact: (external id,
        chat id, language of a new user) each, distinct external ids. One read for all (identity and
        user joined); one write for those whose chat changed or whose ``last_seen_at`` is older than
        ``LAST_SEEN_PRECISION``; the new users and their identities in one flush."""
        found = (await self.session.execute(
            _IDENTITIES_AND_USERS[is_postgres(self.session.bind)],
            {"channel": channel, "external_ids": [person[0] for person in people]})).all()
        now = utcnow()
        users: dict[str, User] = {}
        seen = []
        known = {external_id: rest for external_id, *rest in found}
        for external_id, chat_id, _ in people:
            if external_id not in known:
                continue
            identity_id, last_chat_id, last_seen_at, user = known[external_id]
            users[external_id] = user
            if last_chat_id != chat_id or last_seen_at is None or now - last_seen_at >= LAST_SEEN_PRECISION:
                seen.append({"identity_id": identity_id, "chat": chat_id, "seen": now})
        if seen:
            await self.session.execute(_IDENTITY_SEEN, seen)
        new = [(external_id, chat_id, User(language=language)) for external_id, chat_id, language in people
               if external_id not in users]
        if new:  # one flush: the users, then their identities (the relationship orders the two inserts)
            self.session.add_all([ChannelIdentity(channel=channel, external_id=external_id, user=user,
                                                  last_chat_id=chat_id) for external_id, chat_id, user in new])
            await self.session.flush()
            users.update((external_id, user) for external_id, _, user in new)
        return users

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def chats(self, user_ids) -> list[tuple[int, str, str, str]]:
        """(user id, language, channel, chat) for every channel each of ``user_ids`` (a select of ids)
        can be reached on."""
        rows = await self.session.execute(
            select(User.id, User.language, ChannelIdentity.channel, ChannelIdentity.last_chat_id)
            .join(ChannelIdentity, ChannelIdentity.user_id == User.id)
            .where(User.id.in_(user_ids), ChannelIdentity.last_chat_id.is_not(None))
            .order_by(User.id, ChannelIdentity.id))
        return [tuple(row) for row in rows.all()]

    async def staff_chats(self, unit_ids, roles) -> list[tuple[int, int, str, str, str]]:
        """(unit id, user id, language, channel, chat) for every channel the staff of ``unit_ids`` with
        one of ``roles`` can be reached on; a Core read that flushes nothing."""
        rows = await self.session.execute(_STAFF_CHATS, {"unit_ids": list(unit_ids), "roles": list(roles)})
        return [tuple(row) for row in rows.all()]

    def add(self, user: User) -> None:
        self.session.add(user)


class ConversationRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def load(self, channel: str, chat_id: str, *, lock: bool = True,
                   fresh: bool = False) -> ConversationState | None:
        """``fresh``: as stored now, even if this session loaded the row before (``save_many`` writes
        with Core, which the session's copy does not see)."""
        # Two deliveries for one chat processed at once must not interleave their steps (PostgreSQL
        # locks the row; SQLite's BEGIN IMMEDIATE already serialises writers).
        query = _CONVERSATION_LOCKED if lock and is_postgres(self.session.bind) else _CONVERSATION
        if fresh:
            query = query.execution_options(populate_existing=True)
        return (await self.session.execute(query, {"channel": channel, "chat_id": chat_id})).scalar_one_or_none()

    async def load_many(self, channel: str, chat_ids: Sequence[str]) -> dict[str, Conversation]:
        """The conversations of several chats of one channel, locked on PostgreSQL like ``load``;
        chats with none yet are missing from the answer."""
        query = _CONVERSATIONS_LOCKED if is_postgres(self.session.bind) else _CONVERSATIONS[False]
        rows = await self.session.execute(query, {"channel": channel, "chat_ids": list(chat_ids)})
        # Each row's JSON is decoded afresh, so a flow may change it in place.
        return {chat_id: Conversation(flow, step, data or {}, list(expected or []))
                for chat_id, flow, step, data, expected in rows.all()}

    async def save_many(self, channel: str, saves: Sequence[tuple[str, int, Conversation]]) -> None:
        """Write (chat id, user id, conversation) for several chats in one statement, inserting the
        ones that have none yet."""
        if not saves:
            return
        now = utcnow()
        statement = _prebuilt(self.session, "save_conversations", _conversation_upsert)
        rows = [{"channel": channel, "chat_id": chat_id, "user_id": user_id, "flow": conversation.flow,
                 "step": conversation.step, "data": dict(conversation.data),
                 "expected_buttons": list(conversation.expected_buttons), "updated_at": now}
                for chat_id, user_id, conversation in saves]
        await self.session.execute(statement, _parameters(rows))


class InboundRepository:
    def __init__(self, session: AsyncSession):
        self.session = session

    async def first_delivery(self, channel: str, update_key: str) -> bool:
        """Record a delivery; False when it was recorded before (a redelivery to ignore)."""
        return update_key in await self.first_deliveries(channel, [update_key])

    async def first_deliveries(self, channel: str, update_keys: Sequence[str]) -> set[str]:
        """``first_delivery`` for several deliveries of one channel in one statement: the keys that
        had not been recorded before."""
        statement = _prebuilt(self.session, "first_deliveries", lambda insert: insert(_processed).on_conflict_do_nothing(
            index_elements=["channel", "update_key"]).returning(_processed.c.update_key))
        now = utcnow()
        rows = [{"channel": channel, "update_key": update_key, "processed_at": now} for update_key in update_keys]
        return set((await self.session.execute(statement, _parameters(rows))).scalars().all())

    async def forget_older_than(self, cutoff: datetime) -> int:
        result = await self.session.execute(
            ProcessedUpdate.__table__.delete().where(ProcessedUpdate.processed_at < cutoff)
        )
        return result.rowcount


class UnitRepository:
    """Units, routing rules and fallback units are read once per transaction: they change only through
    the importer, in a transaction of its own, and a group of submissions would otherwise read them
    again for each one."""

    def __init__(self, session: AsyncSession):
        self.session = session
        self._rules: dict[int, list[RoutingRule]] = {}
        self._fallbacks: dict[int, Unit | None] = {}
        self._units: dict[int, Unit | None] = {}

    async def get(self, unit_id: int) -> Unit | None:
        if unit_id not in self._units:
            with self.session.no_autoflush:  # a unit's row does not depend on what is pending
                self._units[unit_id] = await self.session.get(Unit, unit_id)
        return self._units[unit_id]

    async def for_commune(self, commune_code: int) -> list[Unit]:
        rows = await self.session.execute(select(Unit).where(Unit.commune_code == commune_code).order_by(Unit.id))
        return list(rows.scalars())

    async def routing_rules(self, commune_code: int) -> list[RoutingRule]:
        """The rules that apply to a commune; their units are read with them (``get`` then needs no
        statement of its own for the unit an item is routed to)."""
        if commune_code not in self._rules:
            rows = (await self.session.execute(
                select(RoutingRule, Unit).join(Unit, Unit.id == RoutingRule.unit_id)
                .where(or_(RoutingRule.commune_code == commune_code, RoutingRule.commune_code.is_(None)))
                .order_by(RoutingRule.id))).all()
            self._rules[commune_code] = [rule for rule, _ in rows]
            self._units.update((unit.id, unit) for _, unit in rows)
        return self._rules[commune_code]

    async def fallback_for(self, commune_code: int) -> Unit | None:
        if commune_code not in self._fallbacks:
            rows = await self.session.execute(
                select(Unit).where(Unit.commune_code == commune_code, Unit.is_fallback.is_(True)).order_by(Unit.id))
            fallback = self._fallbacks[commune_code] = rows.scalars().first()
            if fallback is not None:
                self._units[fallback.id] = fallback
        return self._fallbacks[commune_code]

    def add(self, obj) -> None:
        self.session.add(obj)

    async def flush(self) -> None:
        await self.session.flush()


class ItemRepository:
    def __init__(self, session: AsyncSession):
        self.session = session
        # Rows of new items' own tables (contact, consent, deadlines, events) waiting for the items' ids.
        self._filed: list[tuple[Item, dict[Any, list[dict]]]] = []
        # Citizens' stored items received since a moment, read for several citizens at once
        # (prime_recent): citizen id -> [(received_at, description, tracking code)], newest first.
        self._recent: dict[int, list[tuple[datetime, str, str]]] = {}
        self._recent_since: datetime | None = None

    def add_filed(self, item: Item, rows: dict[Any, list[dict]]) -> None:
        """A new item with the rows that come with it, {table: [row]} (``item_id`` filled in where the
        table has one). They are written like the ORM's autoflush would write them, but with one
        statement a table for every item filed in the transaction: before the next statement the
        session runs while autoflush is on, or at commit. A group of submissions (handlers/pipeline.py)
        is thus written with a handful of statements instead of several per submission."""
        if not self._filed:
            sync = self.session.sync_session
            if not event.contains(sync, "do_orm_execute", self._write_filed_before):
                event.listen(sync, "do_orm_execute", self._write_filed_before)
                event.listen(sync, "before_commit", self._write_filed)
                event.listen(sync, "after_soft_rollback", self._forget_filed)
        self.session.add(item)
        self._filed.append((item, rows))

    def _write_filed_before(self, state) -> None:
        if self._filed and state.session.autoflush:
            self._write_filed(state.session)

    def _write_filed(self, session) -> None:
        # Runs inside SQLAlchemy's greenlet (a session event), so the synchronous calls do async I/O.
        if not self._filed:
            return
        filed, self._filed = self._filed, []
        session.flush()  # the items get their ids
        by_table: dict[Any, list[dict]] = {}
        for item, rows in filed:
            for table, table_rows in rows.items():
                by_table.setdefault(table, []).extend(
                    {**row, "item_id": item.id} if "item_id" in table.c else row for row in table_rows)
        connection = session.connection()
        for table, rows in by_table.items():
            if rows:
                connection.execute(table.insert(), rows)

    def _forget_filed(self, session, previous_transaction) -> None:
        self._filed = []

    def add(self, item: Item) -> None:
        self.session.add(item)

    def add_contact(self, contact: ItemContact) -> None:
        self.session.add(contact)

    async def flush(self) -> None:
        await self.session.flush()

    async def get(self, item_id: int) -> Item | None:
        return await self.session.get(Item, item_id)

    async def by_tracking_code(self, code: str) -> Item | None:
        return (await self.session.execute(select(Item).where(Item.tracking_code == code))).scalar_one_or_none()

    async def recent_by_text(self, citizen_id: int, description: str, since: datetime) -> str | None:
        """The tracking code of the citizen's latest stored item with this very text received since
        ``since`` (not flushing the transaction's pending items, which are other people's)."""
        primed = self._recent.pop(citizen_id, None)  # answers once: a later check reads again
        if primed is not None and self._recent_since is not None and since >= self._recent_since:
            return next((code for received_at, text, code in primed if received_at >= since and text == description),
                        None)
        with self.session.no_autoflush:
            return (await self.session.execute(_RECENT_BY_TEXT, {
                "citizen_id": citizen_id, "description": description, "since": since})).scalar()

    async def prime_recent(self, citizen_ids: Iterable[int], since: datetime) -> None:
        """Read the stored items of every one of ``citizen_ids`` received since ``since`` with one
        statement, so that ``recent_by_text`` answers them without a statement each: a group of
        submissions committed together (handlers/pipeline.py) checks its duplicates at once. Each
        citizen's answer is given once (a group holds one delivery of a person); a second check of
        the same citizen reads again."""
        wanted = sorted(set(citizen_ids))
        if not wanted:
            return
        with self.session.no_autoflush:
            rows = (await self.session.execute(_RECENT_OF[is_postgres(self.session.bind)],
                                               {"citizen_ids": wanted, "since": since})).all()
        self._recent = {citizen_id: [] for citizen_id in wanted}
        self._recent_since = since
        for citizen_id, received_at, description, code in rows:
            self._recent[citizen_id].append((received_at, description, code))

    async def contact(self, item_id: int) -> ItemContact | None:
        return await self.session.get(ItemContact, item_id)

    def record(self, event: ItemEvent) -> None:
        self.session.add(event)

    async def events(self, item_id: int) -> list[ItemEvent]:
        rows = await self.session.execute(select(ItemEvent).where(ItemEvent.item_id == item_id).order_by(ItemEvent.id))
        return list(rows.scalars())

    def add_deadline(self, deadline: ItemDeadline) -> None:
        self.session.add(deadline)

    async def open_deadlines(self, item_id: int) -> list[ItemDeadline]:
        rows = await self.session.execute(
            select(ItemDeadline).where(ItemDeadline.item_id == item_id, ItemDeadline.done_at.is_(None))
            .order_by(ItemDeadline.due_on)
        )
        return list(rows.scalars())

    async def for_citizen(self, citizen_id: int) -> list[Item]:
        rows = await self.session.execute(select(Item).where(Item.citizen_id == citizen_id).order_by(Item.id.desc()))
        return list(rows.scalars())


class PublicationRepository:
    """What a commune publishes: reception sessions, disclosures, projects."""

    def __init__(self, session: AsyncSession):
        self.session = session

    def add(self, obj) -> None:
        self.session.add(obj)

    async def reception_sessions(self, commune_code: int) -> list[ReceptionSession]:
        rows = await self.session.execute(
            select(ReceptionSession).where(ReceptionSession.commune_code == commune_code,
                                           ReceptionSession.status != "cancelled")
            .order_by(ReceptionSession.starts_at)
        )
        return list(rows.scalars())

    async def disclosures(self, commune_code: int, limit: int = 20) -> list[Disclosure]:
        rows = await self.session.execute(
            select(Disclosure).where(Disclosure.commune_code == commune_code)
            .order_by(Disclosure.published_at.desc(), Disclosure.id.desc()).limit(limit)
        )
        return list(rows.scalars())

    async def projects(self, commune_code: int) -> list[Project]:
        rows = await self.session.execute(select(Project).where(Project.commune_code == commune_code).order_by(Project.id))
        return list(rows.scalars())

    async def project(self, project_id: int) -> Project | None:
        return await self.session.get(Project, project_id)

    async def project_updates(self, project_id: int) -> list[ProjectUpdate]:
        rows = await self.session.execute(
            select(ProjectUpdate).where(ProjectUpdate.project_id == project_id).order_by(ProjectUpdate.on)
        )
        return list(rows.scalars())
