"""Pacing of outgoing messages: per chat (Telegram: about one message a second in a chat) and overall
(Telegram: about 30 messages a second, bot.channels.pacing)."""

from __future__ import annotations

import asyncio
import math

import pytest
from telegram.error import RetryAfter
from telegram.ext import ExtBot

from bot.channels.pacing import SlidingWindowLimiter, paced
from bot.channels.telegram import rate_limiter
from scheduler.outbox import ChatPacer
from tests.telegram_fake import RecordingBotAPI


async def test_a_burst_goes_at_once_then_one_a_second_per_chat():
    loop = asyncio.get_running_loop()
    pacer = ChatPacer(rate=20.0, burst=3)  # 20/s so the test takes a fraction of a second
    start = loop.time()
    for _ in range(3):
        await pacer.wait("a")
    assert loop.time() - start < 0.03  # the burst is not delayed
    for _ in range(4):
        await pacer.wait("a")
    assert loop.time() - start >= 4 / 20.0 - 0.01  # then paced at the rate
    other = loop.time()
    await pacer.wait("b")
    assert loop.time() - other < 0.02  # another chat has its own bucket


async def test_a_quiet_chat_gets_its_burst_back():
    clock = [0.0]
    pacer = ChatPacer(rate=1.0, burst=3, clock=lambda: clock[0])
    for _ in range(3):
        await pacer.wait("a")
    clock[0] += 10.0
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(3):
        await pacer.wait("a")
    assert loop.time() - start < 0.03


async def test_the_dispatcher_paces_a_chat_and_not_the_others(settings):
    from bot.domain.dialog import Reply
    from scheduler.outbox import OutboxDispatcher
    from storage.db import create_engine, session_factory
    from storage.uow import UnitOfWorkFactory

    class Recorder:
        channel, per_chat_rate, per_chat_burst = "telegram", 20.0, 2

        def __init__(self):
            self.sent: list[tuple[str, float]] = []

        async def send(self, chat_id, reply, parts_sent=0):
            self.sent.append((chat_id, asyncio.get_running_loop().time()))

    engine = create_engine(settings.database_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    async with uows() as uow:
        for n in range(6):
            await uow.outbox.enqueue("telegram", "busy", Reply(f"m{n}"), f"busy-{n}")
        await uow.outbox.enqueue("telegram", "quiet", Reply("hello"), "quiet-0")
        await uow.commit()
    recorder = Recorder()
    await OutboxDispatcher(uows, {"telegram": recorder}).drain()
    await engine.dispose()
    busy = [at for chat, at in recorder.sent if chat == "busy"]
    quiet = [at for chat, at in recorder.sent if chat == "quiet"]
    assert len(busy) == 6 and len(quiet) == 1
    assert busy[-1] - busy[0] >= 4 / 20.0 - 0.01  # 2 at once, then 4 more at 20 a second
    assert quiet[0] - busy[0] < 0.05  # the other chat did not wait behind the busy one



async def test_drain_waits_for_what_the_running_dispatcher_is_still_sending(settings):
    """Tests call drain() while the runtime's own dispatcher runs: rows it has claimed and is sending
    are not due any more, yet they are not sent either. drain() returned at once and a test counted
    too early (seen in CI under load: tests/test_metrics.py)."""
    from sqlalchemy import select

    from bot.domain.dialog import Reply
    from scheduler.outbox import OutboxDispatcher
    from storage.db import create_engine, session_factory
    from storage.models import OutboxMessage
    from storage.uow import UnitOfWorkFactory

    class Slow:
        channel = "web"

        def __init__(self):
            self.started, self.release, self.sent = asyncio.Event(), asyncio.Event(), []

        async def send(self, chat_id, reply, parts_sent=0):
            self.started.set()
            await self.release.wait()
            self.sent.append(reply.text)

    engine = create_engine(settings.database_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    sender = Slow()
    dispatcher = OutboxDispatcher(uows, {"web": sender}, poll_interval=0.05)
    try:
        async with uows() as uow:
            await uow.outbox.enqueue("web", "c1", Reply("xin chào"), "slow-0")
            await uow.commit()
        dispatcher.start()
        await asyncio.wait_for(sender.started.wait(), 5)
        drain = asyncio.create_task(dispatcher.drain())
        await asyncio.sleep(0.3)
        assert not drain.done()  # the background task's send is not over
        sender.release.set()
        await asyncio.wait_for(drain, 5)
        assert sender.sent == ["xin chào"]
        async with uows() as uow:
            status = (await uow.session.execute(select(OutboxMessage.status))).scalar_one()
        assert status == "sent"
    finally:
        sender.release.set()
        await dispatcher.stop()
        await engine.dispose()

# -- the overall limit (bot.channels.pacing) ---------------------------------------------------------

class FakeTime:
    """A clock that only moves when the limiter sleeps, and oversleeps by ``late`` each time, as a busy
    event loop does."""

    def __init__(self, late: float = 0.0):
        self.now, self.late, self.sleeps = 0.0, late, 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        # At least a tick: a sleep that rounding made too short for the limiter is followed by a tiny one.
        self.now = max(self.now + seconds + self.late, math.nextafter(self.now, math.inf))
        await asyncio.sleep(0)


async def _broadcast(limiter, count: int, clock, answer_after=lambda: 0.0) -> list[float]:
    """``count`` messages asked for at once (as the outbox does, many chats in parallel); returns when
    each one left, by ``clock``."""
    left: list[float] = []

    async def call(n):
        left.append(clock())
        if (pause := answer_after()):
            await asyncio.sleep(pause)
        return {"message_id": n}

    await asyncio.gather(*(limiter.process_request(call, (n,), {}, "sendMessage", {"chat_id": n}, None)
                           for n in range(count)))
    return left


def _most_in_a_window(times: list[float], window: float) -> int:
    times, best, start = sorted(times), 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_never_more_than_the_limit_in_any_window():
    time = FakeTime(late=0.0013)
    limiter = SlidingWindowLimiter(per_window=30, window=1.0, margin=0.0, clock=time, sleep=time.sleep)
    left = await _broadcast(limiter, 300, time)
    assert _most_in_a_window(left, 1.0) == 30
    assert all(later - earlier >= 1.0 for earlier, later in zip(left, left[30:]))


async def test_a_window_is_spread_at_twice_the_pace_not_sent_at_once():
    # All at once would queue at the server, and be counted later than they left.
    time = FakeTime()
    limiter = SlidingWindowLimiter(per_window=30, window=1.0, clock=time, sleep=time.sleep)
    left = await _broadcast(limiter, 31, time)
    assert left[:30] == pytest.approx([n / 60 for n in range(30)])
    assert left[30] == pytest.approx(1.0)


async def test_late_wake_ups_are_made_up():
    # Every sleep ends 5 ms late. A limiter that holds one message (AIORateLimiter(1, 1/30)) loses
    # those 5 ms on every message: 599 × (1/30 + 0.005) ≈ 22.96 s for 600. The window loses them once
    # a window: the 30th message leaves at 29 × (1/60 + 0.005) ≈ 0.63 s, its 20th at 19 × 1.005 s later.
    time = FakeTime(late=0.005)
    limiter = SlidingWindowLimiter(per_window=30, window=1.0, margin=0.0, clock=time, sleep=time.sleep)
    left = await _broadcast(limiter, 600, time)
    assert max(left) < 0.63 + 19 * 1.005 + 0.01
    assert _most_in_a_window(left, 1.0) == 30


async def test_a_pause_is_made_up():
    # The outbox pauses between batches; the messages due during a pause need not wait for the window
    # and go at twice the pace (3 a second here) until caught up.
    time = FakeTime()
    limiter = SlidingWindowLimiter(per_window=3, window=1.0, margin=0.0, clock=time, sleep=time.sleep)
    await _broadcast(limiter, 3, time)
    time.now = 1.5  # nothing asked for a while
    left = await _broadcast(limiter, 3, time)
    assert left == pytest.approx([1.5, 1.5 + 1 / 6, 1.5 + 2 / 6])


async def test_a_message_counts_from_its_answer_or_from_the_margin_after_it_left():
    # Real time, short windows: 2 messages per 0.1 s, margin 0.1 s. Answers after 10 ms: the next but
    # one waits 0.1 s from the answer (0.11 s from leaving, not 0.2). Answers after 0.3 s: it waits
    # 0.1 s from the margin (0.2 s from leaving, not 0.4).
    for answer_after, lane, instead in ((0.01, 0.11, 0.2), (0.3, 0.2, 0.4)):
        clock = asyncio.get_running_loop().time
        limiter = SlidingWindowLimiter(per_window=2, window=0.1, margin=0.1, clock=clock)
        left = await _broadcast(limiter, 4, clock, answer_after=lambda: answer_after)
        gaps = [later - earlier for earlier, later in zip(left, left[2:])]
        assert all(lane - 0.001 <= gap < (lane + instead) / 2 for gap in gaps), (answer_after, gaps)


async def test_retry_after_is_raised_at_once_and_the_message_still_counts():
    time = FakeTime()
    limiter = SlidingWindowLimiter(per_window=2, window=1.0, margin=0.0, clock=time, sleep=time.sleep)
    calls = []

    async def refused():
        calls.append(time())
        raise RetryAfter(3)

    with pytest.raises(RetryAfter):
        await limiter.process_request(refused, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert calls == [0.0]  # not retried here: TelegramSender makes it the outbox's DeliveryRetry
    left = await _broadcast(limiter, 2, time)
    assert left == pytest.approx([0.25, 1.0])  # one more at the spacing, then the refused one's window


def test_only_messages_are_paced():
    for endpoint in ("sendMessage", "sendPhoto", "sendMediaGroup", "copyMessage", "forwardMessage"):
        assert paced(endpoint), endpoint
    for endpoint in ("getUpdates", "getMe", "answerCallbackQuery", "setWebhook", "deleteWebhook",
                     "sendChatAction", "editMessageText", "getChat"):
        assert not paced(endpoint), endpoint


async def test_other_calls_are_not_held_behind_a_broadcast():
    # python-telegram-bot's own bot, as build_application makes it: the window is full (a broadcast is
    # waiting for two seconds), yet button answers, webhook calls and getMe go at once.
    api = RecordingBotAPI()
    bot = ExtBot("123:ABC", request=api, get_updates_request=api,
                 rate_limiter=SlidingWindowLimiter(per_window=2, window=2.0, spacing=0.0))
    await bot.initialize()
    await bot.send_message(chat_id=1, text="a")
    await bot.send_message(chat_id=2, text="b")
    waiting = asyncio.create_task(bot.send_message(chat_id=3, text="c"))
    try:
        await asyncio.sleep(0.01)
        assert not waiting.done()
        await asyncio.wait_for(asyncio.gather(
            bot.answer_callback_query("query"), bot.set_webhook("https://example.org/hook"),
            bot.delete_webhook(), bot.get_me(), bot.send_chat_action(chat_id=4, action="typing"),
            bot.get_updates(timeout=0)), timeout=0.5)
        assert not waiting.done()
    finally:
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await bot.shutdown()
    assert [method for method, _ in api.calls].count("sendMessage") == 2


def test_production_paces_30_a_second():
    limiter = rate_limiter()
    assert isinstance(limiter, SlidingWindowLimiter)
    assert (limiter.per_window, limiter.window) == (30, 1.0)
