"""Long-polls of the web chat: woken by the delivery itself, in this process or (PostgreSQL) another,
without asking the database every two seconds; and bounded per chat and per client address."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Runtime
from bot.domain.dialog import Reply
from bot.texts import t
from tests.webchat import Browser, chat_id


def _count_outbox_reads(web_chat) -> list[int]:
    """Counts the web chat's reads of a chat's messages (the dispatcher's own reads are not polls)."""
    reads, read = [0], web_chat._rows

    async def counted(chat_id, after):
        reads[0] += 1
        return await read(chat_id, after)

    web_chat._rows = counted
    return reads


async def _delivered_while_waiting(writer, tab: Browser, text: str) -> tuple[list[str], float]:
    """A poll of ``tab`` waits; ``writer`` (a runtime) enqueues a message to its chat: the texts the
    poll got and how long after the commit."""
    poll = asyncio.create_task(tab.client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 20}))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    async with writer.uows() as uow:
        await uow.outbox.enqueue("web", chat_id(tab), Reply(text), dedupe_key=f"test:wake:{text}")
        await uow.commit()
    response = await asyncio.wait_for(poll, 5)
    return [m["text"] for m in (await response.json())["messages"]], time.monotonic() - started


async def test_a_waiting_poll_does_not_read_the_database_while_nothing_happens(runtime):
    """Before: every open poll read the outbox every 2 s (8,000 open polls: 4,000 reads a second)."""
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        await runtime.dispatcher.drain()  # its delivery wakes waits of the chat: let that pass first
        await asyncio.sleep(0.3)
        reads = _count_outbox_reads(runtime.web_chat)
        started = time.monotonic()
        response = await client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 5})
        assert response.status == 200 and (await response.json())["messages"] == []
        assert time.monotonic() - started >= 4.9
        assert reads[0] == 2  # when it began and when it ended


async def test_a_delivery_wakes_the_poll_at_once(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        texts, took = await _delivered_while_waiting(runtime, tab, "Hồ sơ của bạn đã được thụ lý.")
        assert texts == ["Hồ sơ của bạn đã được thụ lý."] and took < 1.0


async def test_a_delivery_by_another_process_wakes_the_poll_through_postgresql(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several serve processes share a database only on PostgreSQL")
    first, second = Runtime(settings, run_scheduler=False), Runtime(settings, run_scheduler=False)
    await first.start(migrate=False)
    await second.start(migrate=False)
    try:
        first.dispatcher.senders.pop("web", None)  # only the first process's dispatcher is told of the row
        second.dispatcher.senders.pop("web", None)
        from bot.channels.web_wakeup import WebChatSender

        first.dispatcher.senders["web"] = WebChatSender(first.web_chat.hub, first.web_chat.wakeups)
        for _ in range(50):
            if second.web_chat.hub.listening and first.web_chat.wakeups._connection is not None:
                break
            await asyncio.sleep(0.1)
        async with TestClient(TestServer(second.web_app)) as client:
            tab = Browser(client)
            await tab.send("/start")
            await first.dispatcher.drain()
            await asyncio.sleep(0.3)
            reads = _count_outbox_reads(second.web_chat)
            texts, took = await _delivered_while_waiting(first, tab, "Thông báo từ tiến trình khác.")
            assert texts == ["Thông báo từ tiến trình khác."] and took < 1.0
            assert reads[0] == 2
    finally:
        await first.stop()
        await second.stop()


async def test_open_polls_are_bounded_per_chat(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        waits = [asyncio.create_task(client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 3}))
                 for _ in range(4)]
        await asyncio.sleep(0.3)
        response = await client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 3})
        assert response.status == 429
        assert (await response.json())["error"] == t("vi", "error.too_many_tabs")
        assert [r.status for r in await asyncio.gather(*waits)] == [200] * 4
        assert runtime.web_chat.hub.open_by_chat == {} and runtime.web_chat.hub._events == {}
        # An instant read (wait=0) is always answered.
        assert (await client.get("/api/chat/messages", params={"after": 0})).status == 200
