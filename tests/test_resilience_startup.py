"""A platform that cannot be reached when tiepdan starts (issue 14), on SQLite and PostgreSQL.

Telegram's getMe failing (a revoked token, the network down), the Zalo Bot Platform's getMe failing,
Zalo's OAuth failing or refusing the OA's refresh token: ``Runtime.start()`` returns all the same, the
web chat answers, /healthz names the degraded channel (with a 200: only a database that is down is a
503), the channel's messages wait in the outbox as pending rows without using up their attempts, and
when the platform answers again the channel connects by itself and they leave. Each test runs a whole
process (dispatcher running) against the fakes in tests/.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.app import Runtime
from bot.domain.dialog import Reply
from storage.demo import seed_demo
from storage.models import OutboxMessage
from tests.telegram_fake import RecordingBotAPI, text_update
from tests.webchat import Browser, reach_menu
from tests.zalo_bot_fake import TOKEN as ZALO_BOT_TOKEN
from tests.zalo_bot_fake import FakeZaloBotPlatform
from tests.zalo_fake import APP_ID, APP_SECRET, OA_SECRET, FakeZalo

TELEGRAM_TOKEN = "123:ABC"
CHAT = 5550001
ZALO_BOT_CHAT = "e4ea2cd5189df1c3a88c"
LAN = "8421000000000000001"
WELCOME = ("Xin chào! Đây là kênh tiếp nhận phản ánh, kiến nghị của người dân với UBND xã, phường.\n"
           "Vui lòng chọn ngôn ngữ / Please choose a language:")
MENU = "Bạn muốn làm gì? Chọn một mục bên dưới."


async def wait_for(condition, seconds: float = 15.0) -> None:
    """Until ``condition()`` (a plain or an async function) holds; the background retries take seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s")


async def health(client: TestClient) -> tuple[int, dict]:
    response = await client.get("/healthz")
    return response.status, await response.json()


async def outbox(runtime: Runtime, channel: str) -> list[OutboxMessage]:
    async with runtime.uows() as uow:
        found = list((await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.channel == channel).order_by(OutboxMessage.id))).scalars())
        uow.session.expunge_all()
        return found


async def queue_notice(runtime: Runtime, channel: str, chat_id: str, text: str) -> None:
    """A notification for someone on ``channel``, as an officer's action writes it."""
    async with runtime.uows() as uow:
        await uow.outbox.enqueue(channel, chat_id, Reply(text), dedupe_key=f"notice:{channel}:{text}")
        await uow.commit()


async def waits_unspent(runtime: Runtime, channel: str) -> bool:
    """The channel's messages have been tried while it was down and wait: pending, no attempt used."""
    rows = await outbox(runtime, channel)
    return bool(rows) and all(row.status == "pending" and row.attempts == 0 and row.last_error
                              and "not connected" in row.last_error for row in rows)


def state_changes(caplog, name: str) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "bot.channels.connection" and record.levelno >= logging.WARNING
            and record.getMessage().startswith(f"{name}: ")]


# -- Telegram --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("outage", ["revoked token", "network down"])
async def test_telegram_unreachable_at_start_is_degraded_and_recovers_by_itself(settings, caplog, outage):
    caplog.set_level(logging.INFO)
    api = RecordingBotAPI()
    if outage == "revoked token":
        api.fail_next("getMe", status=401, description="Unauthorized", times=2)  # InvalidToken, twice
    else:
        api.unreachable("getMe", times=2)
    configured = settings.model_copy(update={"telegram_token": TELEGRAM_TOKEN, "telegram_per_chat_rate": 1000.0})
    runtime = Runtime(configured, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    await seed_demo(runtime.uows, configured)
    try:
        await runtime.start(migrate=False)  # returns although Telegram refused
        async with TestClient(TestServer(runtime.web_app)) as client:
            assert await health(client) == (200, {"status": "degraded", "database": "ok",
                                                  "channels": {"telegram": "degraded"}})
            tab = Browser(client)
            assert (await reach_menu(tab))[-1]["text"] == MENU  # the web chat serves meanwhile

            # A notice for a Telegram citizen waits in the outbox; trying it uses up none of its attempts.
            await queue_notice(runtime, "telegram", str(CHAT), "🔔 Hồ sơ TD-00001: đã thụ lý.")
            await wait_for(lambda: waits_unspent(runtime, "telegram"))
            assert api.sent() == []

            # Telegram answers again: the channel connects by itself, the notice leaves, polling serves.
            await wait_for(lambda: api.sent_texts(CHAT) == ["🔔 Hồ sơ TD-00001: đã thụ lý."])
            assert await health(client) == (200, {"status": "ok", "database": "ok", "channels": {"telegram": "ok"}})
            api.deliver(text_update(90001, CHAT, "/start"))
            await wait_for(lambda: WELCOME in api.sent_texts(CHAT))
    finally:
        await runtime.stop()
    assert [call for call, _ in api.calls].count("getMe") == 3
    # Logged when it went down and when it came back: not once per attempt.
    assert len(state_changes(caplog, "telegram")) == 2
    assert TELEGRAM_TOKEN not in caplog.text


async def test_a_telegram_that_does_not_answer_does_not_hold_up_the_start(settings, monkeypatch):
    from bot.channels import connection

    monkeypatch.setattr(connection, "FIRST_WAIT", 0.2)
    api = RecordingBotAPI()
    api.slow("getMe", 1.5)  # a connection that hangs until its timeout
    configured = settings.model_copy(update={"telegram_token": TELEGRAM_TOKEN, "telegram_per_chat_rate": 1000.0})
    runtime = Runtime(configured, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        await runtime.start(migrate=False)
        assert loop.time() - began < 1.0
        async with TestClient(TestServer(runtime.web_app)) as client:
            assert await health(client) == (200, {"status": "degraded", "database": "ok",
                                                  "channels": {"telegram": "starting"}})
            await wait_for(lambda: runtime.telegram.connection.state == "ok")
            assert await health(client) == (200, {"status": "ok", "database": "ok", "channels": {"telegram": "ok"}})
    finally:
        await runtime.stop()


# -- the Zalo Bot Platform ------------------------------------------------------------------------------

async def test_the_zalo_bot_unreachable_at_start_is_degraded_and_recovers_by_itself(settings, caplog):
    caplog.set_level(logging.INFO)
    fake = await FakeZaloBotPlatform().start()
    fake.fail_next("getMe", 401, description="Unauthorized", times=2)
    secret = "s3cret-webhook-token"
    configured = settings.model_copy(update={
        "zalo_bot_token": ZALO_BOT_TOKEN, "zalo_bot_base_url": fake.url, "zalo_bot_mode": "webhook",
        "zalo_bot_webhook_url": "https://tiepdan.example/zalobot/webhook", "zalo_bot_webhook_secret": secret})
    runtime = Runtime(configured, run_scheduler=False)
    await seed_demo(runtime.uows, configured)
    try:
        await runtime.start(migrate=False)
        async with TestClient(TestServer(runtime.web_app)) as client:
            assert await health(client) == (200, {"status": "degraded", "database": "ok",
                                                  "channels": {"zalo_bot": "degraded"}})
            assert (await reach_menu(Browser(client)))[-1]["text"] == MENU
            # What the platform delivers is still taken; the answer waits for the channel.
            response = await client.post("/zalobot/webhook", json={"ok": True, "result": fake.text(ZALO_BOT_CHAT, "/start")},
                                         headers={"X-Bot-Api-Secret-Token": secret})
            assert response.status == 200
            await wait_for(lambda: waits_unspent(runtime, "zalobot"))
            assert fake.answered("sendMessage") == []

            await wait_for(lambda: fake.texts(ZALO_BOT_CHAT))
            assert fake.texts(ZALO_BOT_CHAT)[0].startswith(WELCOME)
            assert fake.webhook == {"url": "https://tiepdan.example/zalobot/webhook", "secret_token": secret}
            assert await health(client) == (200, {"status": "ok", "database": "ok", "channels": {"zalo_bot": "ok"}})
    finally:
        await runtime.stop()
        await fake.close()
    assert len(state_changes(caplog, "zalo_bot")) == 2
    assert ZALO_BOT_TOKEN not in caplog.text


# -- the Zalo Official Account ---------------------------------------------------------------------------

def zalo_oa_settings(settings, fake: FakeZalo, access: str | None, refresh: str):
    return settings.model_copy(update={
        "zalo_oa_app_id": APP_ID, "zalo_oa_secret_key": OA_SECRET, "zalo_oa_app_secret": APP_SECRET,
        "zalo_oa_access_token": access, "zalo_oa_refresh_token": refresh, "zalo_oa_api_url": fake.url,
        "zalo_oa_oauth_url": fake.url, "zalo_oa_requests_per_second": 1000.0})


class OAProcess:
    """A whole tiepdan process with the Zalo OA on, its web app listening for the fake's webhook calls."""

    def __init__(self, settings, fake: FakeZalo):
        self.runtime = Runtime(settings, run_scheduler=False)
        self.client = TestClient(TestServer(self.runtime.web_app, host="127.0.0.1"))
        self.fake = fake

    async def start(self) -> "OAProcess":
        await self.client.start_server()
        self.fake.webhook_url = str(self.client.make_url(self.runtime.settings.zalo_oa_webhook_path))
        await self.runtime.start(migrate=False)
        return self

    async def health(self) -> tuple[int, dict]:
        return await health(self.client)

    async def stop(self) -> None:
        await self.runtime.stop()
        await self.client.close()


@pytest.fixture
async def fake():
    fake = await FakeZalo().start()
    yield fake
    await fake.stop()


def texts(fake: FakeZalo, user: str) -> list[str]:
    return [message.get("text", "") for message in fake.messages(user)]


async def test_zalo_oauth_unreachable_at_start_is_degraded_and_recovers_by_itself(settings, fake, caplog):
    caplog.set_level(logging.INFO)
    _, refresh = fake.issue()
    fake.oauth_down = 2  # the first two refreshes get a 502
    configured = zalo_oa_settings(settings, fake, None, refresh)  # no access token yet: one must be had at start
    process = OAProcess(configured, fake)
    await seed_demo(process.runtime.uows, configured)
    try:
        await process.start()
        assert await process.health() == (200, {"status": "degraded", "database": "ok",
                                                "channels": {"zalo_oa": "degraded"}})
        # Lan follows meanwhile: the event is handled, the greeting waits for the channel.
        assert await fake.deliver(fake.event("follow", LAN)) == 200
        await wait_for(lambda: waits_unspent(process.runtime, "zalo"))
        assert fake.sent == []

        await wait_for(lambda: texts(fake, LAN))
        assert texts(fake, LAN) == [WELCOME]
        assert await process.health() == (200, {"status": "ok", "database": "ok", "channels": {"zalo_oa": "ok"}})
    finally:
        await process.stop()
    assert fake.refresh_calls == 3
    assert len(state_changes(caplog, "zalo_oa")) == 2


async def refused_then_reauthorised(settings, fake: FakeZalo) -> tuple[OAProcess, str, str]:
    """A process whose configured pair OAuth refuses (the refresh token was retired), with Lan's greeting
    waiting for the channel; and the pair of the OA's new authorisation."""
    _, retired = fake.issue()
    fake.issue()  # authorised again somewhere else: the configured refresh token no longer works
    configured = zalo_oa_settings(settings, fake, None, retired)
    process = OAProcess(configured, fake)
    await seed_demo(process.runtime.uows, configured)
    await process.start()
    assert await process.health() == (200, {"status": "degraded", "database": "ok",
                                            "channels": {"zalo_oa": "degraded"}})
    assert await fake.deliver(fake.event("follow", LAN)) == 200
    await wait_for(lambda: waits_unspent(process.runtime, "zalo"))
    refusals = len(fake.refused_refreshes)
    await asyncio.sleep(1.0)
    assert len(fake.refused_refreshes) == refusals  # the refused token is not sent to OAuth again and again
    access, refresh = fake.issue()
    return process, access, refresh


async def test_after_a_new_authorisation_is_configured_waiting_messages_leave_within_seconds(settings, fake):
    process, access, refresh = await refused_then_reauthorised(settings, fake)
    await process.stop()
    # The administrator configures the new pair and restarts.
    restarted = OAProcess(zalo_oa_settings(settings, fake, access, refresh), fake)
    try:
        await restarted.start()
        assert (await restarted.health())[1]["channels"] == {"zalo_oa": "ok"}
        await wait_for(lambda: texts(fake, LAN) == [WELCOME], seconds=10)
    finally:
        await restarted.stop()


async def test_after_another_process_stores_a_new_authorisation_this_one_sends_within_seconds(settings, fake):
    process, access, refresh = await refused_then_reauthorised(settings, fake)
    other = Runtime(zalo_oa_settings(settings, fake, access, refresh), run_scheduler=False)
    try:
        await other.zalo.start()  # stores the new pair; its dispatcher is not running: the first process sends
        await wait_for(lambda: texts(fake, LAN) == [WELCOME], seconds=10)
        assert (await process.health())[1]["channels"] == {"zalo_oa": "ok"}
    finally:
        await other.zalo.stop()
        await other.engine.dispose()
        await process.stop()
