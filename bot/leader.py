"""Exactly one process polls a platform at a time: the one holding a PostgreSQL advisory lock.

Telegram's getUpdates answers one caller at a time per bot (a second poller gets 409 Conflict and
the two steal updates' confirmations from each other), so with several ``serve`` processes only the
leader polls. Leadership is a session-level ``pg_try_advisory_lock`` on a connection of its own,
held while polling: when the leader dies (SIGKILL, a lost machine) the server ends its session and
frees the lock, and another process, trying every ``RETRY_SECONDS``, takes over within seconds.

A lost connection means the lock may already be someone else's: polling stops as soon as the
connection is seen closed (asyncpg's termination listener), and the leader also checks it every
``RETRY_SECONDS``. Two processes could poll together only if the database dropped the leader's
session while the network between them hid it (no FIN reached the leader) — for at most one check
interval — and Telegram then answers one of them 409 Conflict, which python-telegram-bot retries.
On SQLite there is one process by design (README "Running several processes"); it simply polls.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

RETRY_SECONDS = 2.0  # how often a follower tries for the lock, and a leader checks it still holds it
CONNECT_TIMEOUT = 10.0
# pg_advisory_lock keys: "tiepdan" in ASCII followed by a number, one per lock (scheduler/sweep.py is 1).
POLLING_LOCKS = {"telegram": 0x74696570_64616E02, "zalobot": 0x74696570_64616E03}


class PollingLeader:
    """Runs ``lead`` while this process holds the lock ``key``, and ``follow`` when it stops holding it.

    ``lead`` starts polling and returns; ``follow`` stops it. Either may raise: a ``lead`` that fails
    (the platform unreachable) gives the lock back so another process may try, and is retried.
    """

    def __init__(self, dsn: str, key: int, name: str, lead: Callable[[], Awaitable[None]],
                 follow: Callable[[], Awaitable[None]], *, on_change: Callable[[bool], None] | None = None,
                 retry: float = RETRY_SECONDS):
        self.dsn, self.key, self.name = dsn, key, name
        self._lead, self._follow, self._on_change = lead, follow, on_change
        self.retry = retry
        self.leading = False
        self._task: asyncio.Task | None = None
        self._connection = None
        self._on_lost: asyncio.Task | None = None
        self._turn = asyncio.Lock()  # the first attempt (in ``start``) and the loop's never overlap

    @property
    def started(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        """Try once now (a lone process polls by the time its start returns), then keep trying."""
        self._task = asyncio.create_task(self._run(), name=f"{self.name} polling leader")
        await self._attempt()

    async def _attempt(self) -> None:
        async with self._turn:
            try:
                if self._connection is None or self._connection.is_closed():
                    await self._step_down()  # the session that held the lock is gone
                    await self._connect()
                if self.leading:
                    await self._connection.fetchval("SELECT 1", timeout=self.retry)
                elif await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key,
                                                     timeout=self.retry):
                    await self._become_leader()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - unreachable, dropped, timed out: stop, then retry
                if self.leading:
                    log.warning("%s: lost the polling lock's connection (%s); polling stopped", self.name,
                                type(exc).__name__)
                await self._step_down()
                await self._close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._on_lost is not None:
            self._on_lost.cancel()
            await asyncio.gather(self._on_lost, return_exceptions=True)
        await self._step_down()
        await self._close()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.retry)
            await self._attempt()

    async def _connect(self) -> None:
        import asyncpg

        self._connection = await asyncpg.connect(self.dsn, timeout=CONNECT_TIMEOUT)
        # The server ended the session (and so freed the lock): stop polling now, not at the next check.
        self._connection.add_termination_listener(self._lost)

    def _lost(self, connection) -> None:
        if self.leading and connection is self._connection:
            self._on_lost = asyncio.get_running_loop().create_task(self._attempt())

    async def _become_leader(self) -> None:
        try:
            await self._lead()
        except Exception as exc:  # noqa: BLE001 - give another process its chance, try again later
            log.warning("%s: could not start polling (%s); the lock is given back", self.name, type(exc).__name__)
            await self._release()
            return
        self.leading = True
        log.info("%s: this process polls now (leader)", self.name)
        if self._on_change is not None:
            self._on_change(True)

    async def _step_down(self) -> None:
        if not self.leading:
            return
        self.leading = False
        if self._on_change is not None:
            self._on_change(False)
        try:
            await self._follow()
        except Exception as exc:  # noqa: BLE001 - stopping must not fail the loop
            log.warning("%s: stopping polling failed (%s)", self.name, type(exc).__name__)
        await self._release()

    async def _release(self) -> None:
        connection = self._connection
        if connection is None or connection.is_closed():
            return
        try:
            await connection.fetchval("SELECT pg_advisory_unlock($1)", self.key, timeout=self.retry)
        except Exception:  # noqa: BLE001 - closing the session frees it anyway
            await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            try:
                await connection.close(timeout=2)
            except Exception:  # noqa: BLE001
                connection.terminate()


def polling_leader(runtime, channel: str, polling: bool, lead: Callable[[], Awaitable[None]],
                   follow: Callable[[], Awaitable[None]]) -> tuple[bool, PollingLeader | None]:
    """How a channel polls: ``(polls, leader)``. On SQLite the one process polls itself (``polls``); on
    PostgreSQL a leader decides, and the metrics say which process it is. A channel that does not poll
    (webhook mode, a ``--web-only`` process) gets neither."""
    dsn = getattr(runtime, "postgres_dsn", None)
    if not polling or dsn is None:
        return polling, None

    def leading(now: bool) -> None:
        metrics = getattr(runtime, "metrics", None)
        if metrics is not None:
            metrics.leader.labels(channel).set(1 if now else 0)

    return False, PollingLeader(dsn, POLLING_LOCKS[channel], channel, lead, follow, on_change=leading)
