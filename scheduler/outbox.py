"""Outbox dispatcher: delivers the messages that transactions wrote, with retries, never twice.

Rows are claimed with a lease (and FOR UPDATE SKIP LOCKED on PostgreSQL), sent, and marked sent in
a second short transaction. A process that dies mid-send leaves its rows claimed until the lease runs
out; then any dispatcher takes them again. Messages to one chat leave in order; chats in parallel.
The dispatcher is woken in-process after each commit that enqueued something, and also polls.

Scheduled per chat: a chat gets only what its pace allows now (Telegram: about one a second). The
rest of its claim is given back at once, due when the chat may send again, so no batch ever waits for
a chat's pace: an officer with a thousand notices queued gets them one a second, in order, while a
citizen who has just written is answered at once (issue 14; tests/test_outbox_fairness.py).

A platform may refuse a chat until its user writes again (Zalo: 7 days after the last interaction,
or after an unfollow). Such messages are held with the reason, not dropped: the item a held
notification is about gets a timeline event, and the chat's next interaction releases them in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select, update

from bot.domain.dialog import Reply
from bot.texts import t
from storage.models import ItemEvent, OutboxMessage, utcnow
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


class DeliveryRetry(Exception):
    """The platform could not take the message now; try again (after ``after`` seconds if it said).
    ``parts_sent`` counts the parts of a split message that did get through, so they are not resent."""

    def __init__(self, reason: str, after: float | None = None, parts_sent: int = 0):
        super().__init__(reason)
        self.after = after
        self.parts_sent = parts_sent


class DeliveryRefused(Exception):
    """The platform will never take this message (bot blocked, chat gone): record it, do not retry."""


class DeliveryHeld(DeliveryRefused):
    """The platform will not take messages to this chat until its user interacts again: keep them,
    with ``reason`` (``window_closed``, ``unfollowed``, ``blocked``), for that moment."""

    def __init__(self, reason: str, detail: str = "", parts_sent: int = 0):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.parts_sent = parts_sent


# The payload key under which a sender keeps the platform's id of a message with buttons.
SENT_MESSAGE = "sent_message"
# Timeline events of an item whose notification was held, and later released.
NOTICE_HELD = "notice_held"
NOTICE_RELEASED = "notice_released"
# Channels whose sender may hold messages (it registers itself); the others skip release_held's query.
HOLDING_CHANNELS: set[str] = set()


class Sender(Protocol):
    channel: str

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> None:
        """Deliver ``reply``, skipping the first ``parts_sent`` parts already delivered earlier."""


# The dispatcher looks again for a chat given back for its pace this long after the chat's messages
# are due in the database: the wall clock and the event loop's are read at different moments.
PACE_MARGIN = 0.002


def backoff(attempt: int) -> float:
    return min(300.0, 2.0 ** attempt)


class ChatPacer:
    """A token bucket per chat: a short burst, then ``rate`` messages a second. Telegram asks for
    about one message a second in a chat; the Telegram rate limiter (bot/channels/pacing.py) paces
    only the overall limit. The dispatcher asks ``allow`` how many of a chat's claimed messages may
    go now (the others go back to the outbox, nobody waits for them) and takes a token with ``wait``
    as each one leaves."""

    def __init__(self, rate: float, burst: int, clock=None):
        self.rate, self.burst = rate, burst
        self._clock = clock or (lambda: asyncio.get_running_loop().time())
        self._buckets: dict[str, tuple[float, float]] = {}
        self._behind: set[str] = set()  # chats told to wait for their pace (``allow``)

    def _tokens(self, chat: str, now: float) -> float:
        tokens, stamp = self._buckets.get(chat, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - stamp) * self.rate)

    def allow(self, chat: str, wanted: int) -> tuple[int, float]:
        """Of ``wanted`` messages to ``chat``, how many may go now without waiting, and in how many
        seconds the next of the others may (0.0 when all may go now). Takes nothing: ``wait`` does."""
        tokens = self._tokens(chat, self._clock())
        now = min(wanted, int(tokens))
        if now < wanted:
            self._behind.add(chat)
        return now, (0.0 if now == wanted else (1.0 - (tokens - now)) / self.rate)

    def refused(self, chat: str) -> None:
        """The platform refused a message to ``chat`` for now (429): no burst right after it."""
        self._buckets[chat] = (0.0, self._clock())
        self._behind.add(chat)

    async def wait(self, chat: str) -> None:
        now = self._clock()
        tokens = self._tokens(chat, now)
        if tokens < 1.0:
            delay = (1.0 - tokens) / self.rate
            await asyncio.sleep(delay)
            now, tokens = now + delay, 1.0
        if chat in self._behind:
            # Its message waited to be claimed again: the next one waits a whole interval from this
            # one leaving, not from when it could have (a platform counting strictly would refuse it).
            self._behind.discard(chat)
            tokens = min(tokens, 1.0)
        self._buckets[chat] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget chats idle long enough to have a full bucket again
            horizon = now - self.burst / self.rate
            self._buckets = {c: v for c, v in self._buckets.items() if v[1] > horizon}
            self._behind &= self._buckets.keys()


# At most this many of one chat's messages in a claim when its channel has no pace (a paced chat: its
# burst). A chat with a long queue then shares each batch with the others instead of filling it.
CHAT_SHARE = 10


class OutboxDispatcher:
    def __init__(self, uows: UnitOfWorkFactory, senders: dict[str, Sender], *, batch_size: int = 100,
                 lease: timedelta = timedelta(seconds=60), max_attempts: int = 8, poll_interval: float = 1.0,
                 parallel_chats: int = 20):
        self.uows = uows
        self.senders = senders
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self._parallel = asyncio.Semaphore(parallel_chats)
        self._pacers = {channel: ChatPacer(sender.per_chat_rate, getattr(sender, "per_chat_burst", 3))
                        for channel, sender in senders.items() if getattr(sender, "per_chat_rate", None)}
        self._per_chat = {channel: self._pacers[channel].burst if channel in self._pacers else CHAT_SHARE
                          for channel in senders}
        self._paced: list[float] = []  # when chats given back for their pace may send again (loop time)
        self._claimed_at = float("-inf")  # when the latest claim began (loop time)
        self._in_flight = 0  # claims under way in this process (the background task's or drain's)
        self._settled = asyncio.Event()  # set whenever none is
        self._settled.set()
        self._wake = asyncio.Event()
        self._outcomes: list = []  # (message id, attempts, outcome, future) waiting to be committed
        self._recorder: asyncio.Task | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self.metrics = None  # bot/metrics.py's Metrics, set by the Runtime: sends by channel and outcome

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            try:
                sent = await self.drain_once()
            except Exception:  # the database may be down for a while; keep trying
                log.exception("outbox drain failed; retrying")
                sent = 0
            if sent:
                continue
            paced = self._until_paced()
            try:
                await asyncio.wait_for(self._wake.wait(),
                                       timeout=self.poll_interval if paced is None else min(paced, self.poll_interval))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def drain(self) -> int:
        """Send everything that is due now, and what the chats' pace holds back as it comes due, and
        wait for what this process's background task had claimed and is still sending (used by tests)."""
        total = 0
        while True:
            count = await self.drain_once()
            total += count
            if count:
                continue
            if self._in_flight:  # the background task is claiming or sending: what it holds is due now
                await self._settled.wait()
                continue
            paced = self._until_paced()
            if paced is None:
                return total
            await asyncio.sleep(paced)

    async def drain_once(self) -> int:
        """Claim what is due, give back what the chats' pace does not allow yet, send the rest; returns
        how many messages were sent (or failed)."""
        self._in_flight += 1
        self._settled.clear()
        try:
            return await self._claim_and_send()
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._settled.set()

    async def _claim_and_send(self) -> int:
        loop = asyncio.get_running_loop()
        self._until_paced()  # forgets the times the previous claim saw come
        self._claimed_at = loop.time()
        by_chat: dict[tuple[str, str], list] = defaultdict(list)
        async with self.uows() as uow:
            for row in await uow.outbox.claim_due(self.batch_size, self.lease, self.senders.keys(),
                                                  per_chat=self._per_chat):
                by_chat[(row.channel, row.chat_id)].append(row)
            claimed = []
            for (channel, chat_id), rows in by_chat.items():
                pacer = self._pacers.get(channel)
                allowed, after = pacer.allow(chat_id, len(rows)) if pacer is not None else (len(rows), 0.0)
                if allowed < len(rows):
                    # Not an attempt, and nobody waits for it: due again when the chat may send.
                    uow.outbox.release(rows[allowed:], utcnow() + timedelta(seconds=after))
                    self._paced.append(loop.time() + after + PACE_MARGIN)
                if allowed:
                    claimed.append([(row.id, channel, chat_id, row.payload, row.attempts, row.parts_sent)
                                    for row in rows[:allowed]])
            await uow.commit()
        if claimed:
            await asyncio.gather(*(self._send_chat(entries) for entries in claimed))
        return sum(len(entries) for entries in claimed)

    def _until_paced(self) -> float | None:
        """Seconds until the next chat given back for its pace may send (0.0: it may, and no claim has
        looked since); None when none waits."""
        self._paced = [at for at in self._paced if at > self._claimed_at]
        if not self._paced:
            return None
        return max(0.0, min(self._paced) - asyncio.get_running_loop().time())

    async def _send_chat(self, entries: list) -> None:
        async with self._parallel:
            for position, (message_id, channel, chat_id, payload, attempts, parts_sent) in enumerate(entries):
                outcome, sent = await self._send_one(channel, chat_id, payload, parts_sent)
                if self.metrics is not None:
                    self.metrics.send_outcome(channel, _outcome_name(outcome))
                if isinstance(outcome, DeliveryHeld):
                    # Nothing reaches this chat before its next interaction: hold the rest too, in order.
                    await self._hold(channel, [e[0] for e in entries[position:]], outcome)
                    return
                await self._record(message_id, attempts, outcome, {**payload, **sent} if sent else None)
                if outcome is not None:
                    # Keep the chat's order: later messages wait for this one.
                    await self._postpone([e[0] for e in entries[position + 1:]])
                    return

    async def _send_one(self, channel: str, chat_id: str, payload: dict, parts_sent: int):
        """The outcome (None: delivered) and what the sender asks to keep in the row's payload (the
        platform's id of a message with buttons, so a later step can take them away)."""
        if payload.get("clears"):
            # Taking an earlier reply's buttons away: that reply left before this (one chat's messages
            # leave in order), and its send recorded the platform's id; without one there is nothing to take.
            message = await self._sent_message(payload["clears"])
            if message is None:
                return None, None
            payload = {**payload, "clears_message": message}
        pacer = self._pacers.get(channel)
        if pacer is not None:
            await pacer.wait(chat_id)
        try:
            sent = await self.senders[channel].send(chat_id, Reply.from_payload(payload), parts_sent)
        except (DeliveryRetry, DeliveryRefused) as exc:
            if pacer is not None and isinstance(exc, DeliveryRetry) and exc.after is not None:
                pacer.refused(chat_id)
            return exc, None
        except Exception as exc:  # unknown failure: retry with back-off, keep the reason
            log.warning("outbox send failed channel=%s: %s", channel, type(exc).__name__)
            return DeliveryRetry(f"{type(exc).__name__}: {exc}"), None
        return None, (sent if isinstance(sent, dict) and sent else None)

    async def _sent_message(self, dedupe_key: str) -> str | None:
        async with self.uows() as uow:
            payload = (await uow.session.execute(
                select(OutboxMessage.payload).where(OutboxMessage.dedupe_key == dedupe_key))).scalar_one_or_none()
        return (payload or {}).get(SENT_MESSAGE)

    async def _record(self, message_id: int, attempts: int, outcome, payload: dict | None = None) -> None:
        """Record one send's outcome; returns once it is committed, so a chat's next message is only
        sent after this one is on record. Outcomes that arrive while a commit is under way go in the
        next one together (group commit): one writer instead of every chat queueing for SQLite's lock."""
        done = asyncio.get_running_loop().create_future()
        self._outcomes.append((message_id, attempts, outcome, payload, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_outcomes(), name="outbox-recorder")
        await done

    async def _write_outcomes(self) -> None:
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                async with self.uows() as uow:
                    sent = [message_id for message_id, _, outcome, _, _ in batch if outcome is None]
                    if sent:
                        await uow.outbox.mark_sent_many(sent)
                    for message_id, _, outcome, payload, _ in batch:
                        if outcome is None and payload is not None:  # what the sender asked to keep
                            await uow.session.execute(
                                update(OutboxMessage).where(OutboxMessage.id == message_id).values(payload=payload))
                    for message_id, attempts, outcome, _, _ in batch:
                        if outcome is not None:
                            await self._record_failure(uow, message_id, attempts, outcome)
                    await uow.commit()
            except Exception as exc:  # the database is down: the senders' drain fails and is retried
                for *_, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for *_, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _record_failure(self, uow, message_id: int, attempts: int, outcome) -> None:
        if isinstance(outcome, DeliveryRefused):
            await uow.outbox.mark_failed(message_id, str(outcome))
        elif outcome.after is not None:
            # Rate limited: not the message's fault, so it does not use up an attempt.
            await uow.outbox.mark_retry(message_id, utcnow() + timedelta(seconds=outcome.after), str(outcome),
                                        count_attempt=False, parts_sent=outcome.parts_sent or None)
        elif attempts >= self.max_attempts:
            await uow.outbox.mark_failed(message_id, f"gave up after {attempts} attempts: {outcome}")
        else:
            await uow.outbox.mark_retry(message_id, utcnow() + timedelta(seconds=backoff(attempts)), str(outcome),
                                        parts_sent=outcome.parts_sent or None)

    async def _hold(self, channel: str, message_ids: list[int], held: DeliveryHeld) -> None:
        async with self.uows() as uow:
            for position, message_id in enumerate(message_ids):
                item_id = await uow.outbox.mark_held(message_id, str(held),
                                                     parts_sent=held.parts_sent if position == 0 else None)
                if item_id is not None:
                    uow.items.record(ItemEvent(item_id=item_id, action=NOTICE_HELD,
                                               data={"channel": channel, "reason": held.reason}))
            await uow.commit()
        log.info("outbox held %d message(s) channel=%s reason=%s", len(message_ids), channel, held.reason)

    async def _postpone(self, message_ids: list[int]) -> None:
        if not message_ids:
            return
        async with self.uows() as uow:
            for message_id in message_ids:
                await uow.outbox.mark_retry(message_id, utcnow() + timedelta(seconds=1), None, count_attempt=False)
            await uow.commit()


def _outcome_name(outcome) -> str:
    """A send's outcome as the metrics label it (bot/metrics.py)."""
    if outcome is None:
        return "sent"
    if isinstance(outcome, DeliveryHeld):
        return "held"
    return "refused" if isinstance(outcome, DeliveryRefused) else "retry"


async def release_held(uow, channel: str, chat_id: str, language: str) -> int:
    """The chat's user interacted again: its held messages leave now, in their order, the first one
    saying that they were held. Called at the start of every step; the partial index makes it cheap."""
    if channel not in HOLDING_CHANNELS:
        return 0
    rows = await uow.outbox.held(channel, chat_id)
    if not rows:
        return 0
    # The notice rides on the first real message (an entry taking buttons away shows no text).
    first = next((row for row in rows if not row.payload.get("clears")), rows[0])
    if not first.parts_sent and not first.payload.get("clears"):
        notice = t(language, "zalo.held_released", count=len(rows))
        first.payload = {**first.payload, "text": f"{notice}\n\n{first.payload['text']}"}
    now = utcnow()
    for row in rows:
        row.status, row.attempts, row.next_attempt_at = "pending", 0, now
    for item_id in sorted({row.item_id for row in rows if row.item_id is not None}):
        uow.items.record(ItemEvent(item_id=item_id, action=NOTICE_RELEASED, data={"channel": channel}))
    uow.enqueued += len(rows)
    return len(rows)
