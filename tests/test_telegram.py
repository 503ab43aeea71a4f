"""Telegram end to end: updates go through python-telegram-bot's ``process_update`` and the replies
leave through the outbox to a recording fake of the Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update
from telegram import Update

from bot.app import Runtime
from bot.channels.telegram import TelegramSender, build_application, split_text
from bot.domain.dialog import Button, Reply
from storage.models import OutboxMessage
from tests.telegram_fake import (
    RecordingBotAPI,
    button_update,
    location_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

CHAT = 5550001
HOAN_KIEM = "Phường Hoàn Kiếm, Thành phố Hà Nội"


class Bot:
    """A Telegram runtime with its fake API, and a citizen's thumb."""

    def __init__(self, settings, api: RecordingBotAPI | None = None):
        self.api = api or RecordingBotAPI()
        self.runtime = Runtime(settings, telegram_request=self.api, telegram_get_updates_request=self.api,
                               run_scheduler=False)
        self.application = self.runtime.telegram.application
        self._update_id = 1000

    async def __aenter__(self) -> "Bot":
        await self.application.initialize()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.application.shutdown()
        await self.runtime.engine.dispose()

    def next_id(self) -> int:
        self._update_id += 1
        return self._update_id

    async def feed(self, data: dict, *, deliver: bool = True) -> list[str]:
        before = len(self.api.sent_texts(CHAT))
        await self.application.process_update(Update.de_json(data, self.application.bot))
        if deliver:
            await self.runtime.dispatcher.drain()
        return self.api.sent_texts(CHAT)[before:]

    async def say(self, text: str) -> list[str]:
        return await self.feed(text_update(self.next_id(), CHAT, text))

    async def press(self, data: str) -> list[str]:
        return await self.feed(button_update(self.next_id(), CHAT, data))

    def keyboard(self) -> dict[str, str]:
        return {label: data for row in self.api.last_keyboard(CHAT) for label, data in row}


@pytest.fixture
def tg_settings(settings):
    return settings.model_copy(update={"telegram_token": "123:ABC"})


async def test_start_flow_language_commune_menu(tg_settings):
    async with Bot(tg_settings) as bot:
        welcome = await bot.say("/start")
        assert "Xin chào" in welcome[-1]
        assert bot.keyboard() == {"🇻🇳 Tiếng Việt": "lang:vi", "🇬🇧 English": "lang:en"}
        asked = await bot.press("lang:vi")
        assert bot.api.count("answerCallbackQuery") == 1
        assert asked == ["Đã chọn tiếng Việt.", "Bạn sống ở xã, phường nào? Hãy gõ tên, ví dụ: «Hoàn Kiếm» hoặc «xa Tan Lap»."]
        await bot.say("hoan kiem")
        assert bot.keyboard()[HOAN_KIEM] == "commune:70"
        chosen = await bot.press("commune:70")
        assert chosen[0] == f"Đã chọn: {HOAN_KIEM}."
        assert "📅 Lịch tiếp công dân" in bot.keyboard()


async def test_english_speakers_get_english(tg_settings):
    async with Bot(tg_settings) as bot:
        await bot.say("/start")
        asked = await bot.press("lang:en")
        assert asked[0] == "English selected." and "Which commune" in asked[1]
        await bot.say("hoan kiem")
        await bot.press("commune:70")
        assert "📅 Citizen reception schedule" in bot.keyboard()


async def test_restart_in_the_middle_resumes_at_the_same_step(tg_settings):
    async with Bot(tg_settings) as first:
        await first.say("/start")
        await first.press("lang:vi")
    async with Bot(tg_settings) as second:  # a new process on the same database
        second._update_id = 5000
        found = await second.say("hoan kiem")
        assert found == ["Chọn xã, phường của bạn:"]
        assert HOAN_KIEM in second.keyboard()


async def test_a_redelivered_update_is_processed_once(tg_settings):
    async with Bot(tg_settings) as bot:
        data = text_update(4242, CHAT, "/start")
        first = await bot.feed(data)
        again = await bot.feed(data)
        assert len(first) == 1 and again == []
        assert len(bot.api.sent_texts(CHAT)) == 1


async def test_an_outbox_row_survives_a_crash_before_sending(tg_settings):
    async with Bot(tg_settings) as first:
        replies = await first.feed(text_update(77, CHAT, "/start"), deliver=False)
        assert replies == []  # crashed before the dispatcher ran
    async with Bot(tg_settings) as second:
        await second.runtime.dispatcher.drain()
        assert len(second.api.sent_texts(CHAT)) == 1
        await second.runtime.dispatcher.drain()
        assert len(second.api.sent_texts(CHAT)) == 1


async def test_a_message_claimed_by_a_dead_dispatcher_is_sent_after_its_lease(tg_settings):
    async with Bot(tg_settings) as bot:
        await bot.feed(text_update(78, CHAT, "/start"), deliver=False)
        async with bot.runtime.uows() as uow:
            await uow.outbox.claim_due(10, timedelta(minutes=1), ["telegram"])
            await uow.commit()
        await bot.runtime.dispatcher.drain()
        assert bot.api.sent_texts(CHAT) == []  # leased to the dead dispatcher
        async with bot.runtime.uows() as uow:
            await uow.session.execute(update(OutboxMessage).values(
                next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
            await uow.commit()
        await bot.runtime.dispatcher.drain()
        assert len(bot.api.sent_texts(CHAT)) == 1


async def _outbox_rows(bot: Bot) -> list[OutboxMessage]:
    async with bot.runtime.uows() as uow:
        rows = list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
        uow.session.expunge_all()
        return rows


async def test_flood_control_retry_after_is_honoured_without_losing_the_message(tg_settings):
    async with Bot(tg_settings) as bot:
        bot.api.fail_next("sendMessage", status=429, retry_after=3)
        sent = await bot.say("/start")
        assert sent == []
        [row] = await _outbox_rows(bot)
        assert row.status == "pending" and row.attempts == 0
        wait = (row.next_attempt_at.replace(tzinfo=timezone.utc) if row.next_attempt_at.tzinfo is None
                else row.next_attempt_at) - datetime.now(timezone.utc)
        assert timedelta(seconds=1.5) < wait <= timedelta(seconds=3.5)
        await bot.runtime.dispatcher.drain()
        assert bot.api.sent_texts(CHAT) == []  # not before the time Telegram asked for
        async with bot.runtime.uows() as uow:
            await uow.session.execute(update(OutboxMessage).values(next_attempt_at=datetime.now(timezone.utc)))
            await uow.commit()
        await bot.runtime.dispatcher.drain()
        assert len(bot.api.sent_texts(CHAT)) == 1


async def test_a_blocked_user_is_recorded_and_a_server_error_retried(tg_settings):
    async with Bot(tg_settings) as bot:
        bot.api.fail_next("sendMessage", status=403)
        await bot.say("/start")
        [row] = await _outbox_rows(bot)
        assert row.status == "failed" and "blocked" in row.last_error
        bot.api.fail_next("sendMessage", status=500)
        await bot.say("/help")
        retried = [r for r in await _outbox_rows(bot) if r.status == "pending"]
        assert len(retried) == 2  # the help text failed; the prompt after it waits to keep the order
        assert retried[0].attempts == 1 and "Internal Server Error" in retried[0].last_error
        assert retried[0].next_attempt_at.replace(tzinfo=timezone.utc) > datetime.now(timezone.utc)


@pytest.mark.parametrize("make, expected", [
    (lambda n: text_update(n, CHAT, "   "), "Tin nhắn trống"),
    (lambda n: text_update(n, CHAT, "ạ" * 4001), "Tin nhắn quá dài (4001 ký tự)"),
    (lambda n: sticker_update(n, CHAT), "(sticker)"),
    (lambda n: voice_update(n, CHAT), "(voice)"),
    (lambda n: text_update(n, CHAT, "/foo"), "Không có lệnh «/foo»"),
    (lambda n: button_update(n, CHAT, "menu:../../x"), "Nút này đã cũ"),
])
async def test_bad_input_gets_a_short_answer_and_the_step_again(tg_settings, make, expected):
    async with Bot(tg_settings) as bot:
        await bot.say("/start")
        await bot.press("lang:vi")
        replies = await bot.feed(make(bot.next_id()))
        assert expected in replies[0]
        assert replies[-1].startswith("Bạn sống ở xã, phường nào?")
        await bot.say("hoan kiem")
        assert HOAN_KIEM in bot.keyboard()


async def test_photos_and_locations_reach_the_flow_without_errors(tg_settings):
    async with Bot(tg_settings) as bot:
        await bot.say("/start")
        await bot.press("lang:vi")
        await bot.say("hoan kiem")
        await bot.press("commune:70")
        for data in (photo_update(bot.next_id(), CHAT, "ổ gà"), location_update(bot.next_id(), CHAT)):
            replies = await bot.feed(data)
            assert replies and "📅 Lịch tiếp công dân" in bot.keyboard()


async def test_group_chats_and_edited_messages_are_ignored(tg_settings):
    async with Bot(tg_settings) as bot:
        group = text_update(bot.next_id(), -100, "/start")
        group["message"]["chat"] = {"id": -100, "type": "group", "title": "Tổ dân phố"}
        await bot.feed(group)
        edited = text_update(bot.next_id(), CHAT, "sửa")
        edited["edited_message"] = edited.pop("message")
        await bot.feed(edited)
        assert bot.api.sent() == []


def test_long_texts_are_split_at_line_breaks_under_the_limit():
    text = "\n".join(f"Dòng {n}: " + "x" * 90 for n in range(100))
    parts = split_text(text)
    assert len(parts) == 3 and all(len(p) <= 4096 for p in parts)
    assert "".join(p + "\n" for p in parts).rstrip("\n").replace("\n", "") == text.replace("\n", "")
    assert split_text("ngắn") == ["ngắn"]
    assert all(len(p) <= 4096 for p in split_text("y" * 10000))


async def test_sender_puts_the_keyboard_on_the_last_part_only(tg_settings):
    api = RecordingBotAPI()
    application = build_application(tg_settings, request=api, get_updates_request=api)
    await application.initialize()
    try:
        reply = Reply("a" * 5000, ((Button("⬅️ Về menu chính", "g:menu"),),))
        await TelegramSender(application.bot).send(str(CHAT), reply)
        first, last = api.sent(CHAT)
        assert "reply_markup" not in first and last["reply_markup"]
        assert len(first["text"]) + len(last["text"]) == 5000
    finally:
        await application.shutdown()


async def test_a_self_hosted_bot_api_server_is_used_when_configured(tg_settings):
    api = RecordingBotAPI()
    application = build_application(tg_settings.model_copy(update={"telegram_base_url": "http://127.0.0.1:8081"}),
                                    request=api, get_updates_request=api)
    await application.initialize()
    await application.shutdown()
    assert api.urls and all(u.startswith("http://127.0.0.1:8081/bot123:ABC/") for u in api.urls)


async def test_webhook_checks_the_secret_token(tg_settings):
    settings = tg_settings.model_copy(update={"telegram_mode": "webhook",
                                              "telegram_webhook_url": "https://example.org/telegram/webhook",
                                              "telegram_webhook_secret": "s3cret-token"})
    async with Bot(settings) as bot:
        queue = bot.application.update_queue
        async with TestClient(TestServer(bot.runtime.web_app)) as client:
            body = text_update(1, CHAT, "/start")
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                            {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token-longer"}):
                response = await client.post("/telegram/webhook", json=body, headers=headers)
                assert response.status == 401
            assert queue.qsize() == 0
            good = {"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            response = await client.post("/telegram/webhook", data=b"{broken", headers=good)
            assert response.status == 400
            response = await client.post("/telegram/webhook", json=body, headers=good)
            assert response.status == 200 and queue.qsize() == 1
            await bot.application.process_update(await queue.get())
            await bot.runtime.dispatcher.drain()
            assert "Xin chào" in bot.api.sent_texts(CHAT)[0]
