"""Per-user flood limit: one person sending faster than anyone types is slowed down politely.

Each (channel, user) has a token bucket in this process's memory: a burst of ``flood_burst``
messages, then ``flood_rate`` messages a second. A message over the limit is recorded as delivered
(inbound dedupe, so a redelivery stays ignored) but never reaches a flow. The first one of a flood
episode gets one short answer in the user's language; the rest of the episode is silent. An episode
ends when the bucket is full again, that is after the user has been quiet for burst / rate seconds.

Memory follows the people writing right now: a bucket idle long enough to be full again is the same
as no bucket, so it is forgotten, and a hard cap bounds the rest.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from enum import Enum
from typing import Callable
from weakref import WeakKeyDictionary

from bot.domain.dialog import Incoming, Reply
from bot.settings import Settings
from bot.texts import t
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

MAX_BUCKETS = 100_000


class Verdict(Enum):
    admit = "admit"
    warn = "warn"        # over the limit, first time in this episode: say so once
    silent = "silent"    # over the limit again in the same episode


class FloodGate:
    """Token buckets keyed by (channel, user id), least recently seen first."""

    def __init__(self, burst: int, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = MAX_BUCKETS):
        self.burst, self.rate = float(burst), rate
        self.clock = clock  # seconds, monotonic; tests put a fake clock here
        self._max_buckets = max_buckets
        self._refill_seconds = burst / rate
        # key -> [tokens, last seen, warned in this episode]
        self._buckets: OrderedDict[tuple[str, str], list] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def admit(self, key: tuple[str, str]) -> Verdict:
        now = self.clock()
        self._forget_idle(now)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            tokens, warned = self.burst, False
        else:
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            warned = bucket[2] and tokens < self.burst
        if tokens >= 1.0:
            tokens -= 1.0
            verdict = Verdict.admit
        else:
            verdict = Verdict.silent if warned else Verdict.warn
            warned = True
        self._buckets[key] = [tokens, now, warned]
        return verdict

    def _forget_idle(self, now: float) -> None:
        while self._buckets:
            key, (_, seen, _) = next(iter(self._buckets.items()))
            if now - seen < self._refill_seconds and len(self._buckets) < self._max_buckets:
                return
            del self._buckets[key]


_gates: WeakKeyDictionary[UnitOfWorkFactory, FloodGate] = WeakKeyDictionary()


def gate_for(uows: UnitOfWorkFactory, settings: Settings) -> FloodGate:
    """One gate per running tiepdan (its unit-of-work factory), made on first use."""
    gate = _gates.get(uows)
    if gate is None:
        gate = _gates[uows] = FloodGate(settings.flood_burst, settings.flood_rate)
    return gate


async def turned_away(incoming: Incoming, uows: UnitOfWorkFactory, settings: Settings) -> bool:
    """True when the message is over the sender's limit: it is then acknowledged and, once per
    episode, answered with a request to slow down. Database errors propagate like the pipeline's."""
    verdict = gate_for(uows, settings).admit((incoming.channel, incoming.user_id))
    if verdict is Verdict.admit:
        return False
    async with uows() as uow:
        if await uow.inbound.first_delivery(incoming.channel, incoming.update_key) and verdict is Verdict.warn:
            log.info("flood: slowing down a sender channel=%s", incoming.channel)
            user = await uow.users.by_channel_identity(incoming.channel, incoming.user_id)
            await uow.outbox.enqueue(incoming.channel, incoming.chat_id, Reply(t(_language(user, incoming, settings),
                                                                                "flood.slow_down")),
                                     dedupe_key=f"flood:{incoming.channel}:{incoming.update_key}")
        await uow.commit()
    return True


def _language(user, incoming: Incoming, settings: Settings) -> str:
    if user is not None and user.language:
        return user.language
    hint = (incoming.platform_language or "").split("-")[0].lower()
    return "en" if hint == "en" else settings.default_language.value
