"""Repositories load and save; they never commit (the unit of work does)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

from sqlalchemy import any_, bindparam, event, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.dialog import Conversation, Reply
from storage.db import is_postgres
from storage.models import (
    ChannelIdentity,
    ConversationState,
    Disclosure,
    Item,
    ItemContact,
    ItemDeadline,
    ItemEvent,
    OutboxMessage,
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


# Dedupe keys of the many copies of one publication or scheduled notice (bot/publishing.py,
# scheduler/sweep.py): these rows are "bulk" and wait behind replies to people using the bot.
BULK_KEYS = ("announce:", "project:", "session-published:", "session-moved:", "session-cancelled:",
             "reception:", "digest:", "consult-closed:")


# A claim that lost chats to another dispatcher's claim at that moment looks at further chats: this
# many times at most.
CLAIM_ROUNDS = 3


def _open(outbox):
    """Rows still to send (pending, or claimed and being sent), stated as the partial indexes state it:
    SQLite uses a partial index only for the same words, not for parameters."""
    return outbox.status.in_([literal_column("'pending'"), literal_column("'sending'")])


async def _insert_at_commit(uow, rows: list[dict]) -> None:
    """The messages queued with ``enqueue_many(..., at_commit=True)`` during a unit of work."""
    await uow.outbox._insert_rows(rows)


class OutboxRepository:
    # Channels without keyboards rewrite a message's buttons as they are queued (handlers/numbered.py
    # registers itself): renderer(outbox, channel, chat_id, reply, dedupe_key) → the reply to store.
    renderers: dict[str, Callable[..., Awaitable[Reply]]] = {}
    # Channels that keep the person's side of the chat too (the web chat shows both after a reload;
    # bot/channels/web_history.py registers itself): transcriber(incoming) → the line's payload or None.
    transcribers: dict[str, Callable[[Any], dict | None]] = {}

    def __init__(self, session: AsyncSession, uow=None):
        self.session = session
        self.uow = uow
        self.rendered: dict[Any, Any] = {}  # the renderers' notes for this transaction only
        self._said: list[dict] = []  # the person's lines, written with the next replies queued at commit

    def transcribe(self, incoming) -> None:
        """Keep what the person wrote as a row of their chat, written with the replies queued next
        (``enqueue_many(..., at_commit=True)``: the same statement, before them, so a reader sees
        question then answer). Already 'sent': no dispatcher takes it; the replies that follow wake
        the chat's other tabs."""
        transcriber = self.transcribers.get(incoming.channel)
        payload = transcriber(incoming) if transcriber is not None and self.uow is not None else None
        if payload is None:
            return
        now = utcnow()
        self._said.append(
            {"dedupe_key": f"said:{incoming.channel}:{incoming.update_key}"[:200], "channel": incoming.channel,
             "chat_id": incoming.chat_id, "payload": payload, "status": "sent", "attempts": 0, "parts_sent": 0,
             "next_attempt_at": now, "created_at": now, "item_id": None, "bulk": False})

    async def enqueue(self, channel: str, chat_id: str, reply: Reply, dedupe_key: str, *,
                      item_id: int | None = None) -> None:
        """``item_id``: the item a notification is about (its timeline tells when it could not be delivered)."""
        await self.enqueue_all(channel, chat_id, [(reply, dedupe_key)], item_id=item_id)

    async def enqueue_all(self, channel: str, chat_id: str, replies: Sequence[tuple[Reply, str]], *,
                          item_id: int | None = None) -> None:
        """Several (reply, dedupe key) to one chat, in their order, in one statement."""
        await self.enqueue_many([(channel, chat_id, reply, dedupe_key) for reply, dedupe_key in replies],
                                item_id=item_id)

    async def enqueue_many(self, messages: Sequence[tuple[str, str, Reply, str]], *,
                           item_id: int | None = None, at_commit: bool = False) -> None:
        """Several (channel, chat id, reply, dedupe key), each chat's in their order, in one statement.
        ``at_commit``: written when the unit of work commits instead, in one statement with every other
        message queued so, in the order they were queued (a step's replies and the notices its new
        items send the officers: one write for a whole group commit)."""
        now = utcnow()
        rows = []
        for channel, chat_id, reply, dedupe_key in messages:
            render = self.renderers.get(channel)
            if render is not None:
                reply = await render(self, channel, chat_id, reply, dedupe_key)
            rows.append({"dedupe_key": dedupe_key, "channel": channel, "chat_id": chat_id,
                         "payload": reply.to_payload(), "status": "pending", "attempts": 0, "parts_sent": 0,
                         "next_attempt_at": now, "created_at": now, "item_id": item_id,
                         "bulk": dedupe_key.startswith(BULK_KEYS)})
        if at_commit and self.uow is not None:
            rows, self._said = self._said + rows, []
            if rows:
                self.uow.before_commit(_insert_at_commit).extend(rows)
            return
        if not rows:
            return
        await self._insert_rows(rows)

    async def _insert_rows(self, rows: list[dict]) -> None:
        statement = _prebuilt(self.session, "enqueue", lambda insert: insert(OutboxMessage.__table__)
                              .on_conflict_do_nothing(index_elements=["dedupe_key"]))
        await self.session.execute(statement, _parameters(rows))
        if self.uow is not None:
            self.uow.enqueued += len(rows)

    async def claim_due(self, limit: int, lease: timedelta, channels: Iterable[str], *,
                        per_chat: Mapping[str, int] | None = None) -> list[OutboxMessage]:
        """Claim due rows for sending, chat by chat: pending ones and ones whose sender died mid-lease.

        A chat's messages leave in order, so a chat is claimable only when its first open message is
        due; one whose first message waits (its pace: the dispatcher gave it back until the chat may
        send again; a retry; another dispatcher's lease) is passed over, and its queue, however long,
        holds back nobody else's. Of a claimable chat the due messages from its first one on are
        claimed, up to ``per_chat[channel]`` (default ``limit``). Chats with a reply or notice due come
        first, by that message's age; then the chats whose next message is a copy of a broadcast.
        A chat's messages are claimed together or left for the next claim, never cut by ``limit``.

        On PostgreSQL rows are locked with FOR UPDATE SKIP LOCKED, so several dispatchers never take the
        same row: a chat another dispatcher is claiming at this moment is left to it, and further chats
        are taken instead. The lease makes a crashed sender's rows due again.

        Three kinds of short read (the chats, their messages, the lock), each index probes per message
        or per chat and never a join (see ``_claimable_chats``); about 10 ms on either database with a
        broadcast of 10,000 and an officer's 1,000 notices queued.
        """
        now = utcnow()
        channels = list(channels)
        chats = await self._claimable_chats(channels, now, limit)
        if not chats:
            return []
        runs = await self._runs(chats, now, {channel: min(limit, (per_chat or {}).get(channel, limit))
                                             for channel in channels})
        waiting = [chat for chat in chats if runs.get(chat)]
        claimed: dict[tuple[str, str], list[OutboxMessage]] = {}
        count = 0
        for _ in range(CLAIM_ROUNDS):  # a second round only when another dispatcher took some chats
            wanted, room = [], limit - count
            for chat in waiting:
                if len(runs[chat]) <= room:
                    wanted.append(chat)
                    room -= len(runs[chat])
            if not wanted:
                break
            locked = await self._lock([row_id for chat in wanted for row_id in runs[chat]], now)
            for chat in wanted:
                # Only from the chat's first message on: a later one must not go before one held elsewhere.
                rows = list(itertools.takewhile(lambda row: row is not None, (locked.get(i) for i in runs[chat])))
                if rows:
                    claimed[chat] = rows
                    count += len(rows)
            if len(locked) == sum(len(runs[chat]) for chat in wanted):
                break
            tried = set(wanted)
            waiting = [chat for chat in waiting if chat not in tried]
        rows = [row for chat in chats for row in claimed.get(chat, ())]
        for row in rows:
            row.status = "sending"
            row.attempts += 1
            row.next_attempt_at = now + lease
        return rows

    async def _claimable_chats(self, channels: list[str], now: datetime, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` chats whose first open message is due, (channel, chat id), in claiming order.

        Whether a message is its chat's first is a subquery, one index probe, never a join: right after
        a broadcast writes thousands of rows the planner's statistics are stale, and PostgreSQL then ran
        such a join as every open row against every other (9 s for 10,000 rows in an earlier claim, 24 s
        as NOT EXISTS)."""
        earlier = aliased(OutboxMessage)

        def first_of_chat(chat):
            return (select(earlier.id).where(earlier.channel == chat.channel, earlier.chat_id == chat.chat_id,
                                             _open(earlier))
                    .order_by(earlier.id).limit(1))

        # Chats with a reply or notice due, by its age: one group per chat, however long its queue. The
        # chat starts with the broadcast copies before that message, if any, unless one of them waits.
        first_due = func.min(OutboxMessage.id)
        waits_or_replies = first_of_chat(OutboxMessage).where(
            or_(earlier.next_attempt_at > now, earlier.bulk.is_(False))).scalar_subquery()
        replies = (select(OutboxMessage.channel, OutboxMessage.chat_id)
                   .where(_open(OutboxMessage), OutboxMessage.bulk.is_(False), OutboxMessage.channel.in_(channels),
                          OutboxMessage.next_attempt_at <= now)
                   .group_by(OutboxMessage.channel, OutboxMessage.chat_id)
                   .having(first_due == waits_or_replies)
                   .order_by(first_due).limit(limit))
        found = dict.fromkeys(tuple(chat) for chat in (await self.session.execute(replies)).all())
        room = limit - len(found)
        if room > 0:
            # Then the broadcasts, oldest first: a copy that is its chat's first open message. A channel
            # at a time, so that the index hands out the copies in order and the probes stop at ``room``.
            copies = []
            for channel in channels:
                copies += (await self.session.execute(
                    select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.chat_id)
                    .where(_open(OutboxMessage), OutboxMessage.channel == channel, OutboxMessage.bulk.is_(True),
                           OutboxMessage.next_attempt_at <= now,
                           OutboxMessage.id == first_of_chat(OutboxMessage).scalar_subquery())
                    .order_by(OutboxMessage.id).limit(room))).all()
            found.update(dict.fromkeys((channel, chat) for _, channel, chat in sorted(copies)[:room]))
        return list(found)[:limit]

    async def _runs(self, chats: list[tuple[str, str]], now: datetime,
                    caps: dict[str, int]) -> dict[tuple[str, str], list[int]]:
        """Each chat's open messages from its first on while they are due, at most its channel's cap: ids.
        One index probe per chat: on PostgreSQL a lateral join over the chat ids (one range of the
        index read instead of every open message of the channel, and the dead entries of those sent)."""
        postgres = is_postgres(self.session.bind)
        runs: dict[tuple[str, str], list[int]] = {}
        for channel in sorted({channel for channel, _ in chats}):
            due = (OutboxMessage.next_attempt_at <= now).label("due")
            if postgres:
                wanted = func.unnest(bindparam("chat_ids", type_=postgresql.ARRAY(OutboxMessage.chat_id.type))
                                     ).table_valued("chat_id").render_derived(name="wanted")
                run = (select(OutboxMessage.id, OutboxMessage.chat_id, due)
                       .where(OutboxMessage.channel == channel, OutboxMessage.chat_id == wanted.c.chat_id,
                              _open(OutboxMessage))
                       .order_by(OutboxMessage.id).limit(caps[channel]).lateral("run"))
                query = select(run.c.id, run.c.chat_id, run.c.due).select_from(wanted).join(run, literal_column("true"))
            else:
                position = func.row_number().over(partition_by=OutboxMessage.chat_id, order_by=OutboxMessage.id)
                open_ = (select(OutboxMessage.id, OutboxMessage.chat_id, due, position.label("position"))
                         .where(OutboxMessage.channel == channel, _open(OutboxMessage),
                                OutboxMessage.chat_id.in_(bindparam("chat_ids", expanding=True)))
                         .subquery())
                query = select(open_.c.id, open_.c.chat_id, open_.c.due).where(open_.c.position <= caps[channel])
            rows = await self.session.execute(
                query, {"chat_ids": [chat for chat_channel, chat in chats if chat_channel == channel]})
            stopped: set[str] = set()
            for row_id, chat, is_due in sorted(rows.all(), key=lambda row: (row[1], row[0])):
                if not is_due:
                    stopped.add(chat)
                elif chat not in stopped:
                    runs.setdefault((channel, chat), []).append(row_id)
        return runs

    async def _lock(self, ids: list[int], now: datetime) -> dict[int, OutboxMessage]:
        """The rows among ``ids`` still open and due, locked; on PostgreSQL those another transaction
        holds are skipped."""
        postgres = is_postgres(self.session.bind)
        query = (select(OutboxMessage)
                 .where(_among(OutboxMessage.id, "ids", postgres), _open(OutboxMessage), OutboxMessage.next_attempt_at <= now)
                 .order_by(OutboxMessage.id))
        if postgres:
            query = query.with_for_update(skip_locked=True)
        return {row.id: row for row in (await self.session.execute(query, {"ids": ids})).scalars()}

    def release(self, rows: Sequence[OutboxMessage], at: datetime) -> None:
        """Give claimed rows back unsent, due again at ``at`` (their chat's pace: it may not send before).
        Not an attempt: the claim's count is taken back."""
        for row in rows:
            row.status, row.attempts, row.next_attempt_at = "pending", row.attempts - 1, at

    async def mark_sent_many(self, message_ids: list[int]) -> None:
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(message_ids))
            .values(status="sent", sent_at=utcnow(), last_error=None)
        )

    async def mark_sent(self, message_id: int) -> None:
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id)
            .values(status="sent", sent_at=utcnow(), last_error=None)
        )

    async def mark_retry(self, message_id: int, at: datetime, error: str | None, *, count_attempt=True,
                         parts_sent: int | None = None) -> None:
        values: dict[str, Any] = {"status": "pending", "next_attempt_at": at}
        if parts_sent is not None:
            values["parts_sent"] = parts_sent
        if error is not None:
            values["last_error"] = error[:1000]
        if not count_attempt:
            values["attempts"] = OutboxMessage.attempts - 1
        await self.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))

    async def mark_failed(self, message_id: int, error: str) -> None:
        await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id)
            .values(status="failed", last_error=error[:1000])
        )

    async def mark_held(self, message_id: int, reason: str, *, parts_sent: int | None = None) -> int | None:
        """Keep a message the platform will not take now (the chat's window closed, the user unfollowed
        or blocked us) for the chat's next interaction; ``reason`` is recorded. Returns its item id."""
        values: dict[str, Any] = {"status": "held", "last_error": reason[:1000]}
        if parts_sent is not None:
            values["parts_sent"] = parts_sent
        result = await self.session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values)
            .returning(OutboxMessage.item_id))
        return result.scalar_one_or_none()

    async def held(self, channel: str, chat_id: str) -> list[OutboxMessage]:
        """The chat's held messages, oldest first."""
        rows = await self.session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id,
                                        OutboxMessage.status == "held").order_by(OutboxMessage.id))
        return list(rows.scalars())

    async def for_chat(self, channel: str, chat_id: str, after_id: int, limit: int = 100) -> Sequence[OutboxMessage]:
        rows = await self.session.execute(
            select(OutboxMessage)
            .where(OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id, OutboxMessage.id > after_id)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list(rows.scalars())



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
