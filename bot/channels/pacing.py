"""Telegram's overall limit, paced so that a broadcast runs at the limit without a 429.

Telegram refuses a bot's messages beyond about 30 a second overall (429 with ``retry_after``);
``bench/fake_bot_api.py`` counts them as strictly as Telegram may: at most 30 in any one-second
window. python-telegram-bot's ``AIORateLimiter`` is a leaky bucket. Holding 30 (its default), it lets
30 through at once and then 30 a second, so its first second carries up to 59. Holding one message,
it never passes 30 in a second, but a timer that fires late loses its lateness for good: the bucket
cannot let two through to make up, so every late wake-up slows every later message (0.949 × the
limit in ``bench.broadcast``).

``SlidingWindowLimiter`` checks the rule the server checks: it remembers the last ``per_window``
messages and lets the next one go once the ``per_window``-th previous is out of the window. A late
message then delays only the one ``per_window`` messages after it, and the messages that fell due
during a pause (the outbox claiming its next batch) go as soon as it ends, at up to twice the pace
(``spacing``), not all at once: a burst queues at the server, and a message that waits there is
counted later than it left.

The server counts a message somewhere between our sending it and our reading its answer. The
answer's arrival is a bound that holds however loaded the machine or slow the network, so a message
is taken as counted then; but ``margin`` after it left at the latest, so that one answer that does
not come back holds up the others for no longer than that.

What AIORateLimiter also does, and why it is not here:

- Per-chat pacing: AIORateLimiter has none for private chats; ``scheduler.outbox.ChatPacer`` paces
  every chat (a short burst, then about one a second). Its group limit (20 a minute for groups and
  channels) is not kept: tiepdan talks only in private chats (``to_incoming`` ignores the others).
- RetryAfter: AIORateLimiter's default (``max_retries=0``, as production configured it) re-raises it
  at once and holds nothing back. So does this limiter: ``TelegramSender`` turns it into a
  ``DeliveryRetry`` and the outbox resends that one message after ``retry_after``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Coroutine

from telegram.ext import BaseRateLimiter

Answer = bool | dict[str, Any] | list[dict[str, Any]]  # what a Bot API call returns

# The method families that put a message in a chat, the ones Telegram's broadcast limit counts.
# AIORateLimiter paces every call that has a chat_id (sendChatAction, editMessageText and getChat
# too); we pace messages only, so that nothing else waits behind a broadcast. Calls without a
# chat_id (answerCallbackQuery, setWebhook, getMe) were not paced by AIORateLimiter either, and
# getUpdates never reaches a rate limiter (python-telegram-bot's ExtBot sends it directly).
MESSAGE_METHODS = ("send", "copy", "forward")
NOT_MESSAGES = frozenset({"sendChatAction"})  # the "typing…" indicator: nothing lands in the chat

# The latest a message is taken as counted, after it left, when its answer is slower to come back
# (see the module docstring). Against Telegram every window costs min(round trip, MARGIN), so a
# large margin slows a distant server's broadcasts (250 ms would cost a 200 ms round trip a sixth of
# the rate); 100 ms bounds that at 27 a second. On the shared development machine, with ``spacing``,
# the fake's answers came back in 3 ms typically and the latest arrival was 101 ms after it left.
MARGIN = 0.1


def paced(endpoint: str) -> bool:
    """Whether a call of this Bot API method counts against the overall message limit."""
    return endpoint.startswith(MESSAGE_METHODS) and endpoint not in NOT_MESSAGES


@dataclass(slots=True)
class _Send:
    left: float                     # when we let it go
    answered: float | None = None   # when its answer (or failure) came back
    answer: asyncio.Event = field(default_factory=asyncio.Event)  # set then, for a message waiting on it

    def counted_by(self, margin: float) -> float:
        """The latest moment the server can have counted it."""
        deadline = self.left + margin
        return deadline if self.answered is None else min(self.answered, deadline)


class SlidingWindowLimiter(BaseRateLimiter[None]):
    """At most ``per_window`` messages counted in any ``window`` seconds, first come first served."""

    def __init__(self, per_window: int = 30, window: float = 1.0, margin: float = MARGIN,
                 spacing: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        spacing = window / per_window / 2 if spacing is None else spacing
        if per_window < 1 or window <= 0 or margin < 0 or spacing < 0:
            raise ValueError("per_window must be at least 1, window positive, margin and spacing not negative")
        self.per_window, self.window, self.margin, self.spacing = per_window, window, margin, spacing
        self._clock, self._sleep = clock, sleep
        self._recent: deque[_Send] = deque(maxlen=per_window)  # the last per_window messages, oldest first
        self._turn = asyncio.Lock()  # FIFO: messages leave in the order they asked

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    def _delay(self, now: float) -> float:
        """How long the next message must still wait: until ``spacing`` after the last one, and until
        the oldest one remembered is out of the window. Reckoned as the server does (``now - then >=
        window``), so that rounding cannot let one more through at the edge of a window."""
        if not self._recent:
            return 0.0
        delay = self.spacing - (now - self._recent[-1].left)
        if len(self._recent) == self.per_window:
            delay = max(delay, self.window - (now - self._recent[0].counted_by(self.margin)))
        return delay

    async def _wait(self, seconds: float) -> None:
        oldest = self._recent[0]
        if len(self._recent) < self.per_window or oldest.answered is not None:
            await self._sleep(seconds)
            return
        # The oldest one's answer may still come back before then, and free its place sooner.
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        answered = asyncio.ensure_future(oldest.answer.wait())
        try:
            await asyncio.wait((sleeping, answered), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            answered.cancel()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Answer]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Answer:
        if not paced(endpoint):
            return await callback(*args, **kwargs)
        async with self._turn:
            while (wait := self._delay(self._clock())) > 0:
                await self._wait(wait)
            send = _Send(self._clock())  # the real time, not the one we slept for: timers fire late
            self._recent.append(send)
        try:
            return await callback(*args, **kwargs)
        finally:
            # A refused or failed call counts too: the server may have counted it before refusing.
            send.answered = self._clock()
            send.answer.set()
