"""Waking the web chat's long-polls when a message for them is delivered, without asking the database.

A browser waits up to 25 s on ``GET /api/chat/messages``. The dispatcher that delivers a web message
(the outbox row is the web chat's message log) wakes the waits of that chat in its own process at
once; on PostgreSQL it also sends ``NOTIFY tiepdan_web, '<chat>'`` so a wait held by another serve
process wakes too (every process LISTENs on one connection of its own). A wait therefore reads the
database twice (when it starts and when it wakes or times out), however long it lasts. Should the
LISTEN connection be down, waits re-read every ``FALLBACK_POLL`` seconds until it is back.

The same connection carries ``tiepdan_outbox``: a process that does not dispatch (``serve --web-only``)
tells the dispatching processes that a commit wrote outbox rows, so a reply leaves at once rather than
at their next poll. Notifications leave one statement at a time on the connection (asyncpg runs one
operation at a time on it); those asked for meanwhile go together in the next statement.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from bot.domain.dialog import Reply

log = logging.getLogger(__name__)

CHANNEL = "web"
NOTIFY_CHANNEL = "tiepdan_web"
OUTBOX_CHANNEL = "tiepdan_outbox"
FALLBACK_POLL = 2.0
RECONNECT_AFTER = (1, 2, 5, 10, 30)  # seconds between attempts to LISTEN again


class WebChatHub:
    """The waits of this process, by chat; ``notify`` wakes those of one chat."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.listening = True  # False while a cross-process wake-up could be missed
        self.open_by_chat: dict[str, int] = defaultdict(int)
        self.open_by_address: dict[str, int] = defaultdict(int)

    def notify(self, chat_id: str) -> None:
        event = self._events.pop(chat_id, None)
        if event is not None:
            event.set()

    def arm(self, chat_id: str) -> asyncio.Event:
        """The event the next delivery to the chat sets. Armed before the chat's messages are read,
        so a delivery between that read and the wait is not missed."""
        event = self._events.get(chat_id)
        if event is None:
            event = self._events[chat_id] = asyncio.Event()
        return event

    async def wait(self, event: asyncio.Event, timeout: float) -> None:
        """Until the event is set or ``timeout`` passes (or the fallback interval, when a
        notification from another process could be missed)."""
        if not self.listening:
            timeout = min(timeout, FALLBACK_POLL)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass  # the event goes when the chat's last wait does (``_Held``)

    def holding(self, chat_id: str, address: str):
        return _Held(self, chat_id, address)


class _Held:
    """Counts one open wait of a chat and of a client address while it lasts."""

    def __init__(self, hub: WebChatHub, chat_id: str, address: str):
        self.hub, self.chat_id, self.address = hub, chat_id, address

    def __enter__(self):
        self.hub.open_by_chat[self.chat_id] += 1
        self.hub.open_by_address[self.address] += 1
        return self

    def __exit__(self, *exc) -> None:
        for counts, key in ((self.hub.open_by_chat, self.chat_id), (self.hub.open_by_address, self.address)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]
        if self.chat_id not in self.hub.open_by_chat:
            self.hub._events.pop(self.chat_id, None)


class PostgresWakeups:
    """LISTEN/NOTIFY on a connection of its own (asyncpg), reconnected in the background if lost."""

    def __init__(self, hub: WebChatHub, dsn: str):
        self.hub, self.dsn = hub, dsn
        self._connection = None
        self._task: asyncio.Task | None = None
        self.on_outbox = None  # called when another process wrote outbox rows (set by a dispatching Runtime)
        self._chats: set[str] = set()  # to be notified by the next statement
        self._outbox = False
        self._sending = asyncio.Lock()
        self._outbox_task: asyncio.Task | None = None

    async def start(self) -> None:
        self.hub.listening = False
        self._task = asyncio.create_task(self._keep_listening(), name="web-chat LISTEN")

    async def stop(self) -> None:
        if self._outbox_task is not None:
            await asyncio.gather(self._outbox_task, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._connection is not None:
            await self._connection.close(timeout=2)
            self._connection = None

    async def publish(self, chat_id: str) -> None:
        self._chats.add(chat_id)
        await self._flush()

    def wake_dispatchers(self) -> None:
        """From a commit hook: the dispatching processes should look at the outbox now."""
        self._outbox = True
        if self._outbox_task is None or self._outbox_task.done():
            self._outbox_task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        async with self._sending:
            chats, self._chats = sorted(self._chats), set()
            outbox, self._outbox = self._outbox, False
            connection = self._connection
            if (not chats and not outbox) or connection is None or connection.is_closed():
                return  # carried by an earlier statement; or the others re-read every few seconds meanwhile
            try:
                if chats:
                    await connection.execute("SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c",
                                             NOTIFY_CHANNEL, chats)
                if outbox:
                    await connection.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
            except Exception as exc:  # noqa: BLE001 - any failure: the reconnect loop takes over
                log.warning("web chat: NOTIFY failed (%s); waits fall back to polling", type(exc).__name__)

    def _received(self, connection, pid, channel, payload: str) -> None:
        if channel == OUTBOX_CHANNEL:
            if self.on_outbox is not None:
                self.on_outbox()
            return
        self.hub.notify(payload)

    async def _keep_listening(self) -> None:
        import asyncpg

        attempt = 0
        while True:
            try:
                connection = await asyncpg.connect(self.dsn, timeout=10)
                await connection.add_listener(NOTIFY_CHANNEL, self._received)
                if self.on_outbox is not None:
                    await connection.add_listener(OUTBOX_CHANNEL, self._received)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _: lost.set())
                if attempt:
                    log.info("web chat: listening for deliveries again")
                self._connection, attempt = connection, 0
                self.hub.listening = True
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - unreachable, refused, dropped: all retried
                if attempt == 0:
                    log.warning("web chat: cannot LISTEN for deliveries (%s); waits poll until it can",
                                type(exc).__name__)
            self.hub.listening = False
            self._connection = None
            await asyncio.sleep(RECONNECT_AFTER[min(attempt, len(RECONNECT_AFTER) - 1)])
            attempt += 1


class WebChatSender:
    """The outbox row is the web chat's message log, so sending only wakes the waiting browser."""

    channel = CHANNEL

    def __init__(self, hub: WebChatHub, wakeups: PostgresWakeups | None = None):
        self.hub, self.wakeups = hub, wakeups

    async def send(self, chat_id: str, reply: Reply, parts_sent: int = 0) -> None:
        self.hub.notify(chat_id)
        if self.wakeups is not None:
            await self.wakeups.publish(chat_id)
