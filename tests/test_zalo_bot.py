"""The Zalo Bot Platform channel, on SQLite and PostgreSQL, against a local fake of the platform.

Updates come in as the platform sends them (the webhook with its secret header, or getUpdates),
replies leave through the outbox to the fake, which checks each request the way the platform does.
These tests cover the channel itself: webhook security and dedupe, polling, splitting, photos, and
what the outbox records when the platform refuses or fails. The journeys are in
test_zalo_bot_journeys.py.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.app import Runtime
from bot.channels.zalo_bot import ZaloBotAPI, ZaloBotError, ZaloBotSender, split_text, text_units, to_incoming
from bot.domain.dialog import Reply
from bot.settings import SettingsError, load_settings
from handlers.numbered import typed_number
from storage.demo import seed_demo
from scheduler.outbox import DeliveryRetry
from storage.models import ConversationState, OutboxMessage, ProcessedUpdate, utcnow
from tests.zalo_bot_fake import TOKEN, FakeZaloBotPlatform, utf16_units

SECRET = "s3cret-webhook-token"
PUBLIC = "https://tiepdan.example"
CHAT = "e4ea2cd5189df1c3a88c"
WELCOME = ("Xin chào! Đây là kênh tiếp nhận phản ánh, kiến nghị của người dân với UBND xã, phường.\n"
           "Vui lòng chọn ngôn ngữ / Please choose a language:\n\n1. 🇻🇳 Tiếng Việt\n2. 🇬🇧 English")
NUMBERED = re.compile(r"^(#?\d+)[.]? (.+)$")


# -- a tiepdan process with the Zalo Bot on, and people writing to it ------------------------------------

class ZaloBotProcess:
    """One tiepdan process serving the Zalo Bot, its web app under a test client, and the fake platform.
    The outbox is drained by hand after each update, so a test reads exactly what one message caused."""

    def __init__(self, settings, fake: FakeZaloBotPlatform):
        self.fake = fake
        self.runtime = Runtime(settings, run_scheduler=False)
        self.channel = self.runtime.zalo_bot
        self.client: TestClient | None = None

    async def open(self) -> "ZaloBotProcess":
        await self.channel.start()
        self.client = TestClient(TestServer(self.runtime.web_app))
        await self.client.start_server()
        return self

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        await self.runtime.stop()

    async def settle(self) -> None:
        """Every update received has been processed and everything queued has been sent."""
        await self.channel.idle()
        await self.runtime.dispatcher.drain()

    async def rows(self, model, *where) -> list:
        async with self.runtime.uows() as uow:
            query = select(model).where(*where).order_by(*model.__mapper__.primary_key)
            found = list((await uow.session.execute(query)).scalars())
            uow.session.expunge_all()
            return found


class ZaloUser:
    """A person in a private chat with the bot."""

    def __init__(self, process: ZaloBotProcess, chat_id: str, name: str = "Lan"):
        self.process, self.chat_id, self.name = process, chat_id, name

    @property
    def fake(self) -> FakeZaloBotPlatform:
        return self.process.fake

    async def send(self, update: dict) -> list[str]:
        """The platform delivers ``update`` to our webhook; the texts this chat received because of it."""
        before = len(self.fake.texts(self.chat_id))
        response = await self.fake.deliver(self.process.client, update)
        assert response.status == 200, await response.text()
        await self.process.settle()
        return self.fake.texts(self.chat_id)[before:]

    async def say(self, text: str) -> list[str]:
        return await self.send(self.fake.text(self.chat_id, text, display_name=self.name))

    async def send_photo(self, url: str, caption: str | None = None) -> list[str]:
        return await self.send(self.fake.image(self.chat_id, url, caption, display_name=self.name))

    def texts(self) -> list[str]:
        return self.fake.texts(self.chat_id)

    def options(self, message: str | None = None) -> dict[str, str]:
        """The numbered lines of a message (the latest by default): label → what to type."""
        message = self.texts()[-1] if message is None else message
        return {m.group(2): m.group(1) for line in message.split("\n") if (m := NUMBERED.match(line))}

    def number_of(self, label: str) -> str:
        """What to type for the line containing ``label``, looking from the newest message back."""
        for message in reversed(self.texts()):
            for shown, typed in self.options(message).items():
                if label in shown:
                    return typed
        raise AssertionError(f"no numbered line with {label!r} in {self.texts()[-3:]}")

    async def choose(self, label: str) -> list[str]:
        return await self.say(self.number_of(label))


@pytest.fixture
async def fake():
    platform = await FakeZaloBotPlatform().start()
    yield platform
    await platform.close()


@pytest.fixture
async def api(fake):
    client = ZaloBotAPI(TOKEN, fake.url)
    fake.known_chats.add(CHAT)
    yield client
    await client.close()


@pytest.fixture
def zb_settings(settings, fake):
    return settings.model_copy(update={
        "zalo_bot_token": TOKEN, "zalo_bot_base_url": fake.url, "zalo_bot_mode": "webhook",
        "zalo_bot_webhook_url": f"{PUBLIC}/zalobot/webhook", "zalo_bot_webhook_secret": SECRET})


@pytest.fixture
async def process(zb_settings, fake):
    opened = ZaloBotProcess(zb_settings, fake)
    await seed_demo(opened.runtime.uows, zb_settings)
    await opened.open()
    yield opened
    await opened.close()
    for method, payload in fake.calls:  # nothing the bot sent broke the platform's limits
        if method == "sendMessage":
            assert 1 <= utf16_units(payload["text"]) <= 2000


# -- webhook ----------------------------------------------------------------------------------------

async def test_the_webhook_is_registered_with_its_secret_and_answers_start(process, fake):
    assert [m for m, _ in fake.calls[:2]] == ["getMe", "setWebhook"]
    assert fake.webhook == {"url": f"{PUBLIC}/zalobot/webhook", "secret_token": SECRET}
    lan = ZaloUser(process, CHAT)
    assert await lan.say("/start") == [WELCOME]
    assert await lan.say("1") == ["Đã chọn tiếng Việt.",
                                  "Bạn sống ở xã, phường nào? Hãy gõ tên, ví dụ: «Hoàn Kiếm» hoặc «xa Tan Lap»."]


@pytest.mark.parametrize("secret", ["", "wrong-secret-token", SECRET[:-1], SECRET + "x"])
async def test_a_forged_or_missing_secret_is_rejected_and_nothing_is_processed(process, fake, secret):
    response = await fake.deliver(process.client, fake.text(CHAT, "/start"), secret=secret)
    assert response.status == 401
    await process.settle()
    assert fake.texts(CHAT) == []
    assert await process.rows(ProcessedUpdate) == [] and await process.rows(OutboxMessage) == []
    assert await process.rows(ConversationState) == []


async def test_a_redelivered_update_is_processed_once(process, fake):
    update = fake.text(CHAT, "/start", message_id="16f6366b3f02645a3d15")
    for _ in range(3):  # the platform retries a webhook call it thinks failed
        response = await fake.deliver(process.client, update)
        assert response.status == 200
    await process.settle()
    assert fake.texts(CHAT) == [WELCOME]
    [delivery] = await process.rows(ProcessedUpdate)
    assert (delivery.channel, delivery.update_key) == ("zalobot", "16f6366b3f02645a3d15")


async def test_an_unwrapped_delivery_is_read_too(process, fake):
    response = await fake.deliver(process.client, fake.text(CHAT, "/start"), wrapped=False)
    assert response.status == 200
    await process.settle()
    assert fake.texts(CHAT) == [WELCOME]


@pytest.mark.parametrize("body", [b"", b"not json", b"[1, 2]", b'{"ok": true, "result": {"message": {}}}', b"null"])
async def test_a_malformed_webhook_body_is_refused(process, fake, body):
    response = await process.client.post("/zalobot/webhook", data=body, headers={"X-Bot-Api-Secret-Token": SECRET})
    assert response.status == 400
    assert await process.rows(ProcessedUpdate) == []


async def test_group_messages_and_bots_are_ignored_stickers_are_answered(process, fake):
    group = fake.text(CHAT, "/start")
    group["message"]["chat"]["chat_type"] = "GROUP"
    robot = fake.text(CHAT, "/start")
    robot["message"]["from"]["is_bot"] = True
    for update in (group, robot):
        assert (await fake.deliver(process.client, update)).status == 200
    await process.settle()
    assert fake.texts(CHAT) == []
    lan = ZaloUser(process, CHAT)
    await lan.say("/start")
    sticker = await lan.send(fake.sticker(CHAT))
    assert sticker[0] == ("Xin lỗi, tôi chưa nhận được loại tin nhắn này (nhãn dán). "
                          "Hãy gửi chữ, ảnh hoặc vị trí.")
    assert sticker[1] == WELCOME  # and the step again


def test_an_update_becomes_an_incoming_with_its_message_id():
    fake = FakeZaloBotPlatform()
    text = to_incoming(fake.text("c1", "xin chào", message_id="m1"))
    assert (text.channel, text.chat_id, text.user_id, text.update_key, text.text) == (
        "zalobot", "c1", "c1", "m1", "xin chào")
    photo = to_incoming(fake.image("c1", "https://photo.zdn.vn/a.jpg", caption="Ổ gà"))
    assert [p.ref for p in photo.photos] == ["https://photo.zdn.vn/a.jpg"] and photo.text == "Ổ gà"
    documented = fake.message("c1", "message.image.received", photo="https://photo.zdn.vn/b.jpg")
    assert [p.ref for p in to_incoming(documented).photos] == ["https://photo.zdn.vn/b.jpg"]
    withheld = to_incoming(fake.message("c1", "message.unsupported.received"))
    assert withheld.unsupported == "other"
    no_id = fake.text("c1", "xin chào")
    del no_id["message"]["message_id"]
    assert to_incoming(no_id).update_key == to_incoming(no_id).update_key  # the same delivery, the same key


# -- polling ------------------------------------------------------------------------------------------

async def test_polling_deletes_the_webhook_and_answers_what_get_updates_brings(zb_settings, fake):
    fake.poll_wait = 0.05  # empty long polls end quickly with 408
    runtime = Runtime(zb_settings.model_copy(update={"zalo_bot_mode": "polling"}), run_scheduler=False)
    await seed_demo(runtime.uows, runtime.settings)
    await runtime.start(migrate=False)
    try:
        await asyncio.sleep(0.2)  # a few empty polls
        assert fake.count("getUpdates") >= 2  # each ended with 408 and the next one followed
        order = [m for m, _ in fake.calls]
        assert order.index("deleteWebhook") < order.index("getUpdates")
        assert all(p == {"timeout": "30"} for m, p in fake.calls if m == "getUpdates")
        fake.queue(fake.text(CHAT, "/start"))
        fake.queue(fake.text(CHAT, "1"))
        deadline = time.monotonic() + 10
        while len(fake.texts(CHAT)) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert fake.texts(CHAT)[:2] == [WELCOME, "Đã chọn tiếng Việt."]
    finally:
        await runtime.stop()


async def test_polling_survives_a_platform_outage(zb_settings, fake):
    fake.poll_wait = 0.05
    fake.fail_next("getUpdates", 500)
    runtime = Runtime(zb_settings.model_copy(update={"zalo_bot_mode": "polling"}), run_scheduler=False)
    await runtime.start(migrate=False)
    try:
        fake.queue(fake.text(CHAT, "/start"))
        deadline = time.monotonic() + 10
        while not fake.texts(CHAT) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert fake.texts(CHAT) == [WELCOME]
    finally:
        await runtime.stop()



async def test_with_several_processes_one_polls_and_another_takes_over(zb_settings, fake):
    """getUpdates answers one caller at a time: on PostgreSQL only the process holding the polling lock
    polls (bot/leader.py), a process started with --web-only never does, and when the poller stops
    another takes over and the citizen's message is answered once."""
    if not zb_settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite runs one process by design; it simply polls")
    fake.poll_wait = 0.05
    settings = zb_settings.model_copy(update={"zalo_bot_mode": "polling"})
    first, second = Runtime(settings, run_scheduler=False), Runtime(settings, run_scheduler=False)
    web_only = Runtime(settings, run_scheduler=False, run_dispatcher=False, poll=False)
    await seed_demo(first.uows, settings)
    started = []
    try:
        for runtime in (first, second, web_only):
            await runtime.start(migrate=False)
            started.append(runtime)
        await asyncio.sleep(0.3)
        assert [r.zalo_bot._poller is not None for r in started] == [True, False, False]
        await first.stop()
        started.remove(first)
        deadline = time.monotonic() + 15
        while second.zalo_bot._poller is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert second.zalo_bot._poller is not None and web_only.zalo_bot._poller is None
        fake.queue(fake.text(CHAT, "/start"))
        deadline = time.monotonic() + 10
        while not fake.texts(CHAT) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        assert fake.texts(CHAT) == [WELCOME]
    finally:
        for runtime in started:
            await runtime.stop()

# -- sending --------------------------------------------------------------------------------------------

def test_long_texts_are_split_at_line_breaks_within_2000_units():
    paragraph = "Đoạn văn bản khá dài về một dự án công trình của phường. " * 8
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(12))
    parts = split_text(text)
    assert len(parts) > 1 and all(1 <= text_units(p) <= 2000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert all(p.endswith(". ") for p in parts[:-1])  # cut between paragraphs, not inside one
    unbroken = "🏗️" * 1500  # no break anywhere, two UTF-16 units per emoji and one per selector
    parts = split_text(unbroken)
    assert all(text_units(p) <= 2000 for p in parts) and "".join(parts) == unbroken


async def test_a_long_reply_arrives_in_parts_and_a_retry_resends_only_what_was_lost(api, fake):
    sender = ZaloBotSender(api)
    text = "\n".join(f"Dòng {n}: " + "nội dung " * 30 for n in range(20))
    fake.fail_next("sendMessage", 500, after=1)
    with pytest.raises(DeliveryRetry) as failed:
        await sender.send(CHAT, Reply(text))
    assert failed.value.parts_sent == 1
    await sender.send(CHAT, Reply(text), parts_sent=failed.value.parts_sent)
    sent = fake.texts(CHAT)
    assert len(sent) == len(split_text(text)) >= 3
    assert "\n".join(sent) == text


async def test_photos_go_first_as_urls_the_platform_can_fetch(api, fake):
    """A web-chat photo goes as a signed link: the platform has no session, and nobody else may fetch it."""
    from bot.web_security import WebSecurity

    security = WebSecurity(trust_proxy=False)
    security.use_key("k" * 43)
    reply = Reply("Hồ sơ TD-1", photos=("https://photo.zdn.vn/a.jpg", "web:AbC123", "AgACAgIAAxkBAAI"))
    await ZaloBotSender(api, media_base=PUBLIC, sign_media=security.media_query).send(CHAT, reply)
    first, signed = fake.photos(CHAT)
    assert first == "https://photo.zdn.vn/a.jpg" and signed.startswith(f"{PUBLIC}/media/AbC123?exp=")
    query = dict(part.split("=", 1) for part in signed.split("?", 1)[1].split("&"))
    assert security.media_link_valid("AbC123", query["exp"], query["sig"])
    assert not security.media_link_valid("AbC124", query["exp"], query["sig"])
    assert [m for m, _ in fake.calls] == ["sendPhoto", "sendPhoto", "sendMessage"]
    await ZaloBotSender(api, media_base=None).send(CHAT, reply)  # polling: no public address for /media
    assert fake.photos(CHAT)[2:] == ["https://photo.zdn.vn/a.jpg"]


async def test_the_token_travels_only_in_the_path(fake):
    api = ZaloBotAPI("123:wrong", fake.url)
    try:
        with pytest.raises(ZaloBotError) as refused:
            await api.call("getMe")
    finally:
        await api.close()
    assert refused.value.code == 401 and fake.wrong_token_calls == 1 and "wrong" not in str(refused.value)


async def _queue_and_send(process, fake, *failures) -> OutboxMessage:
    """/start from the chat with the platform failing as scripted; the outbox row of the welcome."""
    for method, kwargs in failures:
        fake.fail_next(method, **kwargs)
    response = await fake.deliver(process.client, fake.text(CHAT, "/start"))
    assert response.status == 200
    await process.settle()
    [row] = await process.rows(OutboxMessage)
    return row


async def test_a_rate_limit_with_retry_after_is_retried_later_without_using_an_attempt(process, fake):
    before = utcnow()
    row = await _queue_and_send(process, fake, ("sendMessage", {"code": 429, "retry_after": 120}))
    assert (row.status, row.attempts) == ("pending", 0)
    assert 110 <= (row.next_attempt_at - before).total_seconds() <= 130
    assert "429" in row.last_error and TOKEN not in row.last_error


async def test_a_server_error_is_retried_with_back_off(process, fake):
    before = utcnow()
    row = await _queue_and_send(process, fake, ("sendMessage", {"code": 500}))
    assert (row.status, row.attempts) == ("pending", 1)
    assert 1 <= (row.next_attempt_at - before).total_seconds() <= 5
    async with process.runtime.uows() as uow:  # time passes
        row_now = await uow.session.get(OutboxMessage, row.id)
        row_now.next_attempt_at = utcnow()
        await uow.commit()
    await process.runtime.dispatcher.drain()
    [row] = await process.rows(OutboxMessage)
    assert row.status == "sent" and fake.texts(CHAT) == [WELCOME]


async def test_an_error_body_in_an_http_200_is_still_an_error(process, fake):
    row = await _queue_and_send(process, fake, ("sendMessage", {"code": 500, "http_status": 200}))
    assert (row.status, row.attempts) == ("pending", 1) and fake.texts(CHAT) == []


@pytest.mark.parametrize("code", [403, 400, 404])
async def test_a_refusal_is_recorded_and_not_retried(process, fake, code):
    row = await _queue_and_send(process, fake, ("sendMessage", {"code": code, "description": "refused for test"}))
    assert row.status == "failed" and f"{code} refused for test" in row.last_error
    await process.runtime.dispatcher.drain()
    assert fake.count("sendMessage") == 1


async def test_an_unreachable_platform_is_retried(process, fake):
    await fake.close()  # connection refused from now on
    row = await _queue_and_send(process, fake)
    assert (row.status, row.attempts) == ("pending", 1) and "ClientConnectorError" in row.last_error


# -- numbered choices ------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, expected", [("1", (1, False)), ("1.", (1, False)), (" 2 ", (2, False)),
                                             ("3)", (3, False)), ("#4", (4, True)), ("# 12", (12, True)),
                                             ("0912345678", None), ("1 2", None), ("số 1", None), ("", None)])
def test_what_counts_as_a_typed_number(typed, expected):
    assert typed_number(typed) == expected


async def test_a_web_chat_citizen_typing_a_number_is_not_given_a_button(runtime, citizen):
    # Numbers stand for buttons only on channels without keyboards.
    replies = await citizen.send("1")
    # Typed at the menu: a pointer to the buttons (issue 18), no number taken for one.
    assert replies[0]["text"].startswith("Hãy chọn một mục bên dưới.")
    async with runtime.uows() as uow:
        count = (await uow.session.execute(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.payload["text"].as_string().like("%1. 📝%")))).scalar_one()
    assert count == 0  # web chat messages keep their buttons as buttons


def test_settings_for_the_zalo_bot_are_checked():
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_BOT_WEBHOOK_URL is required"):
        load_settings(_env_file=None, zalo_bot_token="1:a", zalo_bot_mode="webhook")
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_BOT_WEBHOOK_SECRET: must be 8-256"):
        load_settings(_env_file=None, zalo_bot_webhook_secret="short")
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_BOT_WEBHOOK_URL: must be an https://"):
        load_settings(_env_file=None, zalo_bot_webhook_url="http://insecure.example/hook")
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_BOT_MODE"):
        load_settings(_env_file=None, zalo_bot_mode="push")
    settings = load_settings(_env_file=None, zalo_bot_base_url="http://127.0.0.1:9000/")
    assert settings.zalo_bot_base_url == "http://127.0.0.1:9000" and settings.zalo_bot_token is None

