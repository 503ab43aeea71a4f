"""Whether a channel is connected to its platform, and getting it connected again.

A platform that cannot be reached when ``serve`` starts (the network down, a revoked token, a
timeout, OAuth refusing the Zalo OA's refresh token) must not take the rest down with it: the web
chat, the other channels, the outbox and the scheduler keep serving. The channel's connection is
then *degraded* and tried again in the background with growing pauses (``BACKOFF``); it is logged
once when it goes down and once when it comes back, never per attempt, and /healthz shows it.

While degraded, the channel's sender does not call the platform: it tells the outbox to try again
just after the next attempt (``DeliveryRetry`` with ``after``, which uses up none of the message's
attempts), so messages wait as pending rows instead of failing, and leave once the channel is back.

    starting ──connected──▶ ok ──lost()──▶ degraded ──connected──▶ ok
        └───────failed──────────────────────▶ degraded ◀──failed──┘  (again after 1, 2, 5, 10, 30, 60, 60 … s)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

STARTING, OK, DEGRADED = "starting", "ok", "degraded"
BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # seconds before the 1st, 2nd, ... attempt again; then the last
FIRST_WAIT = 10.0  # seconds ``start`` waits for the first attempt before leaving it to the background
AFTER_ATTEMPT = 0.5  # a message held back for the next attempt comes due this long after it
WHILE_ATTEMPTING = 2.0  # ... or, while an attempt is under way, this long from now


def backoff(failures: int, error: BaseException) -> float:
    return BACKOFF[min(failures, len(BACKOFF)) - 1]


def error_name(error: BaseException) -> str:
    """Only the class: some libraries' messages carry the URL, and a Telegram URL carries the token."""
    return type(error).__name__


class PlatformConnection:
    """``connect`` is one attempt (it raises when the platform cannot be used, and may be called
    again after a failure); ``on_connected`` runs each time an attempt succeeds. With
    ``interrupt=False`` ``stop`` lets an attempt under way finish instead of cancelling it (the Zalo
    OA's: a token refresh cut short would lose the rotated pair)."""

    def __init__(self, name: str, connect: Callable[[], Awaitable[None]], *,
                 on_connected: Callable[[], None] | None = None,
                 pause: Callable[[int, BaseException], float] = backoff,
                 describe: Callable[[BaseException], str] = error_name, interrupt: bool = True):
        self.name = name
        self._interrupt = interrupt
        self._stopping = False
        self.state = STARTING
        self.failures = 0  # failed attempts since the last success
        self._connect = connect
        self._on_connected = on_connected
        self._pause = pause
        self._describe = describe
        self._task: asyncio.Task | None = None
        self._settled: asyncio.Event | None = None
        self._next_attempt: float | None = None  # loop time of the next attempt; None while one runs

    @property
    def degraded(self) -> bool:
        return self.state == DEGRADED

    @property
    def unavailable(self) -> bool:
        """Started and not connected (yet, or any more): messages should wait rather than be tried."""
        return self._task is not None and self.state != OK

    async def start(self, wait: float | None = None) -> None:
        """Connect now. If that fails, or takes longer than ``wait`` seconds (``FIRST_WAIT``),
        connecting goes on in the background and this returns anyway: it never raises."""
        wait = FIRST_WAIT if wait is None else wait
        if self._task is not None and not self._task.done():
            return
        self._stopping, self.state, self.failures = False, STARTING, 0
        self._settled = asyncio.Event()
        self._task = asyncio.create_task(self._keep_trying(0.0), name=f"{self.name}-connect")
        try:
            await asyncio.wait_for(self._settled.wait(), wait)
        except TimeoutError:
            log.warning("%s: the platform has not answered in %g s; still trying in the background",
                        self.name, wait)

    def lost(self, error: BaseException) -> None:
        """The platform stopped taking us (OAuth refused the token, say): degraded until an attempt
        succeeds. Nothing happens if attempts are already under way."""
        if self._task is not None and not self._task.done():
            return
        self.failures += 1
        self._went_down(error)
        if self._stopping:
            return
        pause = self._pause(self.failures, error)
        self._next_attempt = asyncio.get_running_loop().time() + pause
        self._task = asyncio.create_task(self._keep_trying(pause), name=f"{self.name}-connect")

    def retry_in(self) -> float:
        """Seconds until a message held back now should be tried again: just after the next attempt."""
        if self._next_attempt is None:
            return WHILE_ATTEMPTING
        return max(0.0, self._next_attempt - asyncio.get_running_loop().time()) + AFTER_ATTEMPT

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            if self._interrupt or self._next_attempt is not None:  # or it is only waiting for the next one
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._next_attempt = None

    async def _keep_trying(self, pause: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if pause:
                await asyncio.sleep(pause)
            self._next_attempt = None
            try:
                await self._connect()
            except Exception as error:  # noqa: BLE001 - whatever keeps the platform away, try again later
                self.failures += 1
                if self.degraded:
                    log.debug("%s: attempt %d failed (%s)", self.name, self.failures, self._describe(error))
                self._went_down(error)
                pause = self._pause(self.failures, error)
                self._next_attempt = loop.time() + pause
                self._settle()
                if self._stopping:
                    return
                continue
            if self.degraded:
                log.warning("%s: connected again after %d failed attempt(s)", self.name, self.failures)
            self.state, self.failures = OK, 0
            self._settle()
            if self._on_connected is not None:
                self._on_connected()
            return

    def _went_down(self, error: BaseException) -> None:
        if self.state != DEGRADED:
            self.state = DEGRADED
            log.warning("%s: cannot use the platform (%s); the rest keeps serving, trying again in the "
                        "background", self.name, self._describe(error))

    def _settle(self) -> None:
        if self._settled is not None:
            self._settled.set()
