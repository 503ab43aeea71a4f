"""Per-chat pacing of outgoing messages (Telegram: about one message a second in a chat)."""

from __future__ import annotations

import asyncio

from scheduler.outbox import ChatPacer


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
