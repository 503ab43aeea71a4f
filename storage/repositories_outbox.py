"""The outbox's repository: messages queued in the sender's unit of work, claimed chat by chat by the
dispatchers (scheduler/outbox.py), held, resent and read back for the web chat's history. Split from
storage/repositories.py; like every repository it never commits."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence

from sqlalchemy import bindparam, func, literal_column, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.domain.dialog import Reply
from storage.db import is_postgres
from storage.models import OutboxMessage, utcnow
from storage.repositories import _among, _parameters, _prebuilt

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
