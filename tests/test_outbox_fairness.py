"""One busy chat must not hold back anyone else's replies (issue 14, item 2).

Telegram takes about one message a second in a chat, and the dispatcher paces each chat so
(scheduler.outbox.ChatPacer). When an officer's chat has hundreds of new-item notices queued, a
citizen who writes /start in another chat is answered at once, while the officer's notices keep
leaving at the chat's pace, in their order, each once. The runtime is the real one: the outbox
dispatcher, the TelegramSender through python-telegram-bot and its overall rate limiter, and the
recording fake of the Bot API; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select, update
from telegram import Update

from bot.app import Runtime
from bot.domain.dialog import Reply
from scheduler.outbox import OutboxDispatcher
from storage.db import create_engine, session_factory
from storage.models import OutboxMessage, utcnow
from storage.uow import UnitOfWorkFactory
from tests.telegram_fake import RecordingBotAPI, text_update

TOKEN = "123:ABC"
OFFICER = 6660001
CITIZENS = (5550001, 5550002, 5550003)
WELCOME = ("Xin chào! Đây là kênh tiếp nhận phản ánh, kiến nghị của người dân với UBND xã, phường.\n"
           "Vui lòng chọn ngôn ngữ / Please choose a language:")
BURST = 3  # TelegramSender.per_chat_burst: what a chat may get at once before its pace applies
PROMPT = 2.0  # seconds: a reply normally takes half a second; the issue saw more than 120
update_ids = itertools.count(1)


def notice(n: int) -> str:
    return f"🔔 Phản ánh mới PA-{n:04d}: hạn xử lý 15/12/2026."


class TimedBotAPI(RecordingBotAPI):
    """The recording fake, also noting when each message reached Telegram (event loop time)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, int, str]] = []  # (when, chat id, text) of accepted messages

    async def do_request(self, url, method, request_data=None, *args, **kwargs):
        status, body = await super().do_request(url, method, request_data, *args, **kwargs)
        if url.endswith("/sendMessage") and status == 200:
            params = request_data.parameters
            self.arrivals.append((asyncio.get_running_loop().time(), int(params["chat_id"]), params["text"]))
        return status, body

    def times(self, chat: int) -> list[float]:
        return [at for at, chat_id, _ in self.arrivals if chat_id == chat]

    def texts(self, chat: int) -> list[str]:
        return [text for _, chat_id, text in self.arrivals if chat_id == chat]


async def until(condition, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def queue_notices(uows, count: int) -> None:
    """``count`` new-item notices for one officer, queued as bot.petitions does (one write, not bulk)."""
    async with uows() as uow:
        await uow.outbox.enqueue_many([("telegram", str(OFFICER), Reply(notice(n)), f"new-item:{n}:7:telegram")
                                       for n in range(count)])
        await uow.commit()


class Process:
    """A running tiepdan with Telegram on, pacing each chat at ``rate`` messages a second."""

    def __init__(self, settings, rate: float):
        self.api = TimedBotAPI()
        settings = settings.model_copy(update={"telegram_token": TOKEN, "telegram_per_chat_rate": rate})
        self.runtime = Runtime(settings, telegram_request=self.api, telegram_get_updates_request=self.api,
                               run_scheduler=False)
        self.errors: list[BaseException] = []

    async def __aenter__(self) -> "Process":
        async def record(update, context) -> None:
            self.errors.append(context.error)

        self.runtime.telegram.application.add_error_handler(record)
        await self.runtime.start(migrate=False)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.runtime.stop()

    async def seconds_to_answer(self, chat: int, text: str = "/start", timeout: float = 15.0) -> float:
        """A citizen writes in ``chat``: seconds until the first answer reached the chat."""
        application = self.runtime.telegram.application
        loop = asyncio.get_running_loop()
        before = len(self.api.times(chat))
        asked = loop.time()
        await application.process_update(Update.de_json(text_update(next(update_ids), chat, text), application.bot))
        assert not self.errors, self.errors
        if not await until(lambda: len(self.api.times(chat)) > before, timeout):
            return float("inf")
        return self.api.times(chat)[before] - asked

    async def statuses(self) -> dict[tuple[str, int], int]:
        """(status, attempts) → rows, of the officer's notices."""
        async with self.runtime.uows() as uow:
            rows = await uow.session.execute(
                select(OutboxMessage.status, OutboxMessage.attempts, func.count())
                .where(OutboxMessage.chat_id == str(OFFICER)).group_by(OutboxMessage.status, OutboxMessage.attempts))
            return {(status, attempts): count for status, attempts, count in rows.all()}


def assert_in_order_and_once(texts: list[str], queued: int) -> None:
    assert len(set(texts)) == len(texts), Counter(t for t in texts if texts.count(t) > 1)  # none twice
    assert texts == [notice(n) for n in range(len(texts))] and len(texts) <= queued  # none overtaken


def assert_paced(times: list[float], rate: float) -> None:
    """In any stretch of the chat, no more messages than the burst and the pace allow."""
    for first in range(len(times)):
        for last in range(first + BURST, len(times)):
            assert times[last] - times[first] >= (last - first + 1 - BURST) / rate - 0.005, (first, last)


async def test_a_citizen_is_answered_at_once_while_an_officer_has_1000_notices_queued(settings):
    # Telegram's own pace: a burst of three, then one a second in the officer's chat.
    async with Process(settings, rate=1.0) as process:
        await queue_notices(process.runtime.uows, 1000)
        assert await until(lambda: len(process.api.times(OFFICER)) >= BURST, 5.0)  # the burst left; now paced
        waited = await process.seconds_to_answer(CITIZENS[0])
        assert waited < PROMPT, f"the citizen's /start was answered after {waited:.1f} s"
        assert process.api.texts(CITIZENS[0]) == [WELCOME]
        started = process.api.times(OFFICER)[0]
        await asyncio.sleep(2.5)  # the officer's chat goes on at its pace meanwhile
        elapsed = asyncio.get_running_loop().time() - started
    officer = process.api.texts(OFFICER)
    assert_in_order_and_once(officer, 1000)
    assert BURST + 1 <= len(officer) <= BURST + elapsed * 1.0 + 1  # still one a second
    assert_paced(process.api.times(OFFICER), 1.0)
    statuses = await process.statuses()  # the dispatcher recorded all it sent before it stopped
    assert statuses.get(("sent", 1)) == len(officer)
    assert sum(statuses.values()) == 1000 and not {status for status, _ in statuses} - {"sent", "pending"}


async def test_the_busy_chat_drains_in_order_at_its_pace_while_others_are_answered(settings):
    # A faster pace (25 a second) so that 150 notices drain in six seconds; the mechanism is the same.
    rate, count = 25.0, 150
    async with Process(settings, rate=rate) as process:
        await queue_notices(process.runtime.uows, count)
        assert await until(lambda: len(process.api.times(OFFICER)) >= BURST, 5.0)
        waits = []
        for citizen in CITIZENS:
            waits.append(await process.seconds_to_answer(citizen))
            await asyncio.sleep(0.5)
        assert max(waits) < PROMPT, f"citizens answered after {', '.join(f'{w:.1f}' for w in waits)} s"
        assert await until(lambda: len(process.api.times(OFFICER)) >= count, count / rate + 10)
        await asyncio.sleep(0.2)  # nothing more arrives
        statuses = await process.statuses()
    officer = process.api.texts(OFFICER)
    assert_in_order_and_once(officer, count)
    assert len(officer) == count
    assert_paced(process.api.times(OFFICER), rate)
    # Waiting for the chat's pace is not a failed attempt: every notice went on its first.
    assert statuses == {("sent", 1): count}
    for citizen in CITIZENS:
        assert process.api.texts(citizen) == [WELCOME]


async def test_a_chat_whose_first_message_waits_does_not_hide_the_others_behind_its_queue(settings):
    """Claiming: the officer's first notice waits (its pace, a retry, another process's lease); the
    999 after it may not go before it, and must not keep the citizen's reply from being claimed."""
    engine = create_engine(settings.database_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    try:
        await queue_notices(uows, 1000)
        async with uows() as uow:
            await uow.outbox.enqueue("telegram", str(CITIZENS[0]), Reply(WELCOME), "reply:telegram:1:0")
            first = (await uow.session.execute(select(func.min(OutboxMessage.id)))).scalar_one()
            await uow.session.execute(update(OutboxMessage).where(OutboxMessage.id == first)
                                      .values(next_attempt_at=utcnow() + timedelta(seconds=30)))
            await uow.commit()
        async with uows() as uow:
            claimed = await uow.outbox.claim_due(100, timedelta(seconds=60), ["telegram"])
            assert [row.chat_id for row in claimed] == [str(CITIZENS[0])]
            await uow.commit()
    finally:
        await engine.dispose()


async def test_a_subscriber_who_writes_during_a_broadcast_gets_its_copy_then_the_reply_before_the_rest(settings):
    """The citizen's broadcast copy is far down the broadcast; their reply goes before the rest of the
    broadcast, and their own copy, queued earlier, goes just before it, not after."""
    engine = create_engine(settings.database_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    try:
        async with uows() as uow:
            await uow.outbox.enqueue_many([("telegram", str(8_000_000 + n), Reply("📣 Thông báo của UBND"),
                                            f"announce:test:{n}:telegram") for n in range(300)])
            await uow.outbox.enqueue("telegram", "8000250", Reply(WELCOME), "reply:telegram:1:0")
            await uow.commit()
        async with uows() as uow:
            claimed = await uow.outbox.claim_due(100, timedelta(seconds=60), ["telegram"], per_chat={"telegram": BURST})
            await uow.commit()
    finally:
        await engine.dispose()
    assert [(row.chat_id, row.bulk) for row in claimed[:2]] == [("8000250", True), ("8000250", False)]
    assert [row.chat_id for row in claimed[2:5]] == ["8000000", "8000001", "8000002"] and len(claimed) == 100


class Recorder:
    """A paced Telegram-like sender that records every delivery (chat, text)."""

    channel, per_chat_rate, per_chat_burst = "telegram", 50.0, BURST

    def __init__(self, delivered: list[tuple[str, str]]):
        self.delivered = delivered

    async def send(self, chat_id, reply, parts_sent=0):
        self.delivered.append((chat_id, reply.text))
        await asyncio.sleep(0.002)


async def test_two_dispatchers_at_once_send_each_message_once_and_each_chat_in_order(settings):
    engine = create_engine(settings.database_url)
    uows = UnitOfWorkFactory(session_factory(engine))
    delivered: list[tuple[str, str]] = []
    try:
        await queue_notices(uows, 120)
        async with uows() as uow:
            for n in range(60):
                await uow.outbox.enqueue("telegram", str(CITIZENS[n % 3]), Reply(f"trả lời {n}"), f"reply:{n}")
            await uow.commit()
        first = OutboxDispatcher(uows, {"telegram": Recorder(delivered)}, poll_interval=0.05)
        second = OutboxDispatcher(uows, {"telegram": Recorder(delivered)}, poll_interval=0.05)
        await asyncio.wait_for(asyncio.gather(first.drain(), second.drain()), timeout=60)
        # What one left waiting for its pace, the other may have found due after it stopped.
        await asyncio.wait_for(first.drain(), timeout=60)
        async with uows() as uow:
            statuses = dict((await uow.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status))).all())
    finally:
        await engine.dispose()
    assert statuses == {"sent": 180}
    assert len(delivered) == 180 and len(set(delivered)) == 180
    assert [text for chat, text in delivered if chat == str(OFFICER)] == [notice(n) for n in range(120)]
    for index, citizen in enumerate(CITIZENS):
        expected = [f"trả lời {n}" for n in range(index, 60, 3)]
        assert [text for chat, text in delivered if chat == str(citizen)] == expected
