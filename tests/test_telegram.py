"""Telegram end to end, on SQLite and PostgreSQL.

Updates go in through python-telegram-bot's ``Application.process_update`` (or the webhook, or
polling); replies leave through the outbox to a recording fake of the Bot API. Tests read what the
citizen would see in the chat: texts with diacritics and the buttons under the latest message.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta, timezone

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from telegram import Update

from bot.app import Runtime
from bot.channels.telegram import TelegramSender, build_application, split_text
from bot.domain.dialog import Button, Reply
from bot.settings import TelegramMode
from storage.demo import seed_demo
from storage.models import OutboxMessage, utcnow
from tests.telegram_fake import (
    RecordingBotAPI,
    button_update,
    location_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)

TOKEN = "123:ABC"
CHAT = 5550001
SECRET = "s3cret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

WELCOME = ("Xin chào! Đây là kênh tiếp nhận phản ánh, kiến nghị của người dân với UBND xã, phường.\n"
           "Vui lòng chọn ngôn ngữ / Please choose a language:")
LANGUAGE_BUTTONS = [[("🇻🇳 Tiếng Việt", "lang:vi"), ("🇬🇧 English", "lang:en")]]
VIETNAMESE_CHOSEN = "Đã chọn tiếng Việt."
ASK_COMMUNE = "Bạn sống ở xã, phường nào? Hãy gõ tên, ví dụ: «Hoàn Kiếm» hoặc «xa Tan Lap»."
PICK_COMMUNE = "Chọn xã, phường của bạn:"
HOAN_KIEM = "Phường Hoàn Kiếm, Thành phố Hà Nội"
COMMUNE_BUTTONS = [[(HOAN_KIEM, "commune:70")], [("🔍 Tìm lại", "commune:again")]]
MENU = "Bạn muốn làm gì? Chọn một mục bên dưới."
MENU_ENTRIES = {("📅 Lịch tiếp công dân", "menu:schedule"), ("📢 Thông tin công khai", "menu:disclosures"),
                ("🏗️ Dự án, công trình", "menu:projects"), ("⚙️ Ngôn ngữ, xã phường", "menu:settings"),
                ("❓ Hướng dẫn", "g:help")}
STALE_BUTTON = "Nút này đã cũ hoặc không còn hiệu lực. Đây là bước hiện tại của bạn:"

# Update ids are unique across every runtime of a test: they share one database, which remembers them.
update_ids = itertools.count(1000)


class TelegramBot:
    """One tiepdan process with Telegram on, its fake Bot API, and a citizen typing in one private chat."""

    def __init__(self, settings, api: RecordingBotAPI | None = None):
        self.api = api or RecordingBotAPI()
        self.runtime = Runtime(settings, telegram_request=self.api, telegram_get_updates_request=self.api,
                               run_scheduler=False)
        self.application = self.runtime.telegram.application
        self.errors: list[BaseException] = []
        self.started = self.closed = False

    async def open(self) -> "TelegramBot":
        async def record(update, context) -> None:
            self.errors.append(context.error)

        self.application.add_error_handler(record)
        await self.application.initialize()
        return self

    async def start(self) -> None:
        """As in production: dispatcher running, polling or webhook registered (the database is migrated)."""
        await self.runtime.start(migrate=False)
        self.started = True

    async def close(self) -> None:
        """Stop the process; without draining the outbox, that is what a crash leaves behind."""
        if self.closed:
            return
        self.closed = True
        if self.started:
            await self.runtime.stop()
        else:
            await self.application.shutdown()
            await self.runtime.engine.dispose()

    async def feed(self, data: dict | Update, *, deliver: bool = True) -> list[str]:
        """Process one update as Telegram delivers it; return the texts that reached the chat because of it."""
        before = len(self.api.sent_texts(CHAT))
        update = data if isinstance(data, Update) else Update.de_json(data, self.application.bot)
        await self.application.process_update(update)
        if self.errors:
            raise self.errors[0]
        if deliver:
            await self.runtime.dispatcher.drain()
        return self.api.sent_texts(CHAT)[before:]

    async def say(self, text: str, *, deliver: bool = True, language_code: str = "vi") -> list[str]:
        return await self.feed(text_update(next(update_ids), CHAT, text, language_code=language_code), deliver=deliver)

    async def press(self, data: str) -> list[str]:
        return await self.feed(button_update(next(update_ids), CHAT, data))

    def keyboard(self) -> list[list[tuple[str, str]]]:
        return self.api.last_keyboard(CHAT)

    def shows_main_menu(self) -> bool:
        """The latest message carries the main menu: one entry a row, the entries every commune has among them."""
        keyboard = self.keyboard()
        return all(len(row) == 1 for row in keyboard) and MENU_ENTRIES <= {entry for [entry] in keyboard}

    async def outbox(self) -> list[OutboxMessage]:
        async with self.runtime.uows() as uow:
            rows = list((await uow.session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())
            uow.session.expunge_all()  # keep the values as read
            return rows

    async def edit_outbox(self, **values) -> None:
        """Change every outbox row directly in the database, the way another process would leave it."""
        async with self.runtime.uows() as uow:
            for row in (await uow.session.execute(select(OutboxMessage))).scalars():
                for name, value in values.items():
                    setattr(row, name, value(row) if callable(value) else value)
            await uow.commit()

    async def wait_a_while(self, seconds: float) -> None:
        """Let ``seconds`` pass for the outbox without sleeping: every due time moves that much earlier."""
        await self.edit_outbox(next_attempt_at=lambda row: row.next_attempt_at - timedelta(seconds=seconds))


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC


def due_in(row: OutboxMessage, since: datetime) -> float:
    """Seconds from ``since`` (taken just before the failing send) to the row's next attempt: at least
    the delay asked for however slow the machine, and not much more."""
    return (as_utc(row.next_attempt_at) - since).total_seconds()


@pytest.fixture
def tg_settings(settings):
    # Test conversations burst far faster than a person types; pacing has its own test.
    return settings.model_copy(update={"telegram_token": TOKEN, "telegram_per_chat_rate": 1000.0})


@pytest.fixture
async def open_bot(tg_settings):
    """Builds tiepdan processes on the test's database; closes whatever is still open at the end."""
    opened: list[TelegramBot] = []

    async def open_(settings=None, api: RecordingBotAPI | None = None) -> TelegramBot:
        bot = TelegramBot(settings or tg_settings, api)
        opened.append(bot)
        if bot.runtime.settings.database_url == tg_settings.database_url:
            # The demo ward has units to act on what its citizens file (a commune without any says so).
            await seed_demo(bot.runtime.uows, bot.runtime.settings)
        return await bot.open()

    yield open_
    for bot in opened:
        await bot.close()


@pytest.fixture
async def bot(open_bot) -> TelegramBot:
    return await open_bot()


async def choose_vietnamese(bot: TelegramBot) -> None:
    await bot.say("/start")
    await bot.press("lang:vi")


# -- the /start journey ------------------------------------------------------------------------------

async def test_start_language_commune_then_the_main_menu(bot):
    assert await bot.say("/start") == [WELCOME]
    assert bot.keyboard() == LANGUAGE_BUTTONS

    press = button_update(next(update_ids), CHAT, "lang:vi")
    assert await bot.feed(press) == [VIETNAMESE_CHOSEN, ASK_COMMUNE]
    assert bot.api.answered("answerCallbackQuery") == [{"callback_query_id": press["callback_query"]["id"]}]

    assert await bot.say("hoan kiem") == [PICK_COMMUNE]
    assert bot.keyboard() == COMMUNE_BUTTONS

    assert await bot.press("commune:70") == [f"Đã chọn: {HOAN_KIEM}.", MENU]
    assert bot.shows_main_menu()
    assert bot.api.count("answerCallbackQuery") == 2


class SlowToAnswerButtons(RecordingBotAPI):
    """Telegram far away: answering a button's callback query takes until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def _result(self, api_method: str, params: dict):
        if api_method == "answerCallbackQuery":
            await self.release.wait()
        return await super()._result(api_method, params)


async def test_a_button_step_does_not_wait_for_its_callback_answer(open_bot):
    """The spinner is stopped while the step runs: the step's replies are committed before a slow
    answerCallbackQuery returns, and the handler still waits for the answer before it ends."""
    api = SlowToAnswerButtons()
    bot = await open_bot(api=api)
    await bot.say("/start")
    press = asyncio.ensure_future(bot.feed(button_update(next(update_ids), CHAT, "lang:vi"), deliver=False))
    for _ in range(200):
        if any(row.payload["text"] == VIETNAMESE_CHOSEN for row in await bot.outbox()):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the step waited for the callback answer")
    assert not press.done()  # the answer is still on its way
    api.release.set()
    await asyncio.wait_for(press, 5)
    assert api.count("answerCallbackQuery") == 1


async def test_choosing_english_switches_every_later_text_to_english(bot):
    assert await bot.say("/start") == [WELCOME]
    assert await bot.press("lang:en") == [
        "English selected.", "Which commune or ward do you live in? Type its name, for example «Hoan Kiem»."]
    assert await bot.say("hoan kiem") == ["Choose your commune or ward:"]
    assert bot.keyboard() == [[(HOAN_KIEM, "commune:70")], [("🔍 Search again", "commune:again")]]
    assert await bot.press("commune:70") == [f"Selected: {HOAN_KIEM}.", "What would you like to do? Choose below."]
    labels = [label for [(label, _)] in bot.keyboard()]
    assert {"📅 Citizen reception schedule", "📢 Public disclosures", "⚙️ Language, commune", "❓ Help"} <= set(labels)


async def test_an_english_telegram_app_is_greeted_in_english(bot):
    [welcome] = await bot.say("/start", language_code="en")
    assert welcome.startswith("Hello! This is the channel for citizens' feedback")
    assert bot.keyboard() == LANGUAGE_BUTTONS


async def test_a_restart_in_the_middle_continues_at_the_commune_step(open_bot):
    first = await open_bot()
    await choose_vietnamese(first)
    await first.close()

    second = await open_bot()  # a new process on the same database
    assert await second.say("hoan kiem") == [PICK_COMMUNE]
    assert second.keyboard() == COMMUNE_BUTTONS
    assert await second.press("commune:70") == [f"Đã chọn: {HOAN_KIEM}.", MENU]


async def test_a_redelivered_update_is_answered_once(bot):
    start = text_update(4242, CHAT, "/start")
    press = button_update(4243, CHAT, "lang:vi")
    assert await bot.feed(start) == [WELCOME]
    assert await bot.feed(start) == []
    assert await bot.feed(press) == [VIETNAMESE_CHOSEN, ASK_COMMUNE]
    assert await bot.feed(press) == []

    # A late redelivery of /start must not take the citizen back to the welcome either.
    assert await bot.feed(start) == []
    assert await bot.say("hoan kiem") == [PICK_COMMUNE]
    assert bot.api.sent_texts(CHAT) == [WELCOME, VIETNAMESE_CHOSEN, ASK_COMMUNE, PICK_COMMUNE]


# -- the outbox: nothing lost, nothing twice -------------------------------------------------------------

async def test_a_reply_written_before_a_crash_is_sent_once_by_the_next_process(open_bot):
    crashed = await open_bot()
    assert await crashed.say("/start", deliver=False) == []
    await crashed.close()  # died before its dispatcher ran
    assert crashed.api.sent() == []

    restarted = await open_bot()
    await restarted.runtime.dispatcher.drain()
    await restarted.runtime.dispatcher.drain()
    assert restarted.api.sent_texts(CHAT) == [WELCOME]
    assert restarted.keyboard() == LANGUAGE_BUTTONS
    assert [row.status for row in await restarted.outbox()] == ["sent"]


async def test_a_message_claimed_by_a_dispatcher_that_died_is_sent_when_its_lease_runs_out(open_bot):
    crashed = await open_bot()
    await crashed.say("/start", deliver=False)
    # The dead dispatcher claimed the row for a minute and never reported back.
    await crashed.edit_outbox(status="sending", attempts=1, next_attempt_at=utcnow() + timedelta(seconds=60))
    await crashed.close()

    restarted = await open_bot()
    await restarted.runtime.dispatcher.drain()
    assert restarted.api.sent() == []  # the lease still holds: maybe it is being sent right now

    await restarted.edit_outbox(next_attempt_at=utcnow() - timedelta(seconds=1))
    await restarted.runtime.dispatcher.drain()
    await restarted.runtime.dispatcher.drain()
    assert restarted.api.sent_texts(CHAT) == [WELCOME]
    assert [row.status for row in await restarted.outbox()] == ["sent"]


async def test_flood_control_delays_the_message_by_what_telegram_asked_and_sends_it_once(bot):
    bot.api.fail_next("sendMessage", status=429, retry_after=3)
    before = utcnow()
    assert await bot.say("/start") == []

    [row] = await bot.outbox()
    assert row.status == "pending" and row.attempts == 0  # Telegram's limit, not the message's fault
    assert 3.0 <= due_in(row, before) <= 8.0
    assert "retry after 3" in row.last_error

    await bot.runtime.dispatcher.drain()
    assert bot.api.sent() == []  # not before the time Telegram asked for

    await bot.wait_a_while(3)
    await bot.runtime.dispatcher.drain()
    await bot.runtime.dispatcher.drain()
    assert bot.api.sent_texts(CHAT) == [WELCOME]
    assert bot.keyboard() == LANGUAGE_BUTTONS


async def test_messages_keep_their_order_while_waiting_out_flood_control(bot):
    await bot.say("/start")
    bot.api.fail_next("sendMessage", status=429, retry_after=3)
    assert await bot.press("lang:vi") == []

    await bot.wait_a_while(1.5)
    await bot.runtime.dispatcher.drain()
    assert bot.api.sent_texts(CHAT) == [WELCOME]  # "where do you live?" must not come before "Vietnamese chosen"

    await bot.wait_a_while(2)
    await bot.runtime.dispatcher.drain()
    assert bot.api.sent_texts(CHAT) == [WELCOME, VIETNAMESE_CHOSEN, ASK_COMMUNE]


async def test_a_citizen_who_blocked_the_bot_is_held_not_retried_and_reached_when_they_write_again(bot):
    bot.api.fail_next("sendMessage", status=403)
    assert await bot.say("/start") == []

    [row] = await bot.outbox()
    assert row.status == "held"
    assert row.last_error.startswith("blocked: ") and "bot was blocked by the user" in row.last_error
    await bot.wait_a_while(600)
    await bot.runtime.dispatcher.drain()
    assert [method for method, _ in bot.api.calls].count("sendMessage") == 1

    # Unblocked later (writing again is how a citizen unblocks), the held greeting comes first.
    assert await bot.press("lang:vi") == [
        "⏳ 1 tin nhắn dưới đây chưa gửi được cho bạn lúc trước nên đã được giữ lại; nay gửi lại theo thứ tự."
        f"\n\n{WELCOME}", VIETNAMESE_CHOSEN, ASK_COMMUNE]


async def test_a_server_error_is_retried_with_growing_back_off(bot):
    bot.api.fail_next("sendMessage", status=500, times=2)
    before = utcnow()
    assert await bot.say("/start") == []

    [row] = await bot.outbox()
    assert (row.status, row.attempts) == ("pending", 1)
    assert 2.0 <= due_in(row, before) < 4.0  # 2 s after the first failure
    assert "Internal Server Error" in row.last_error

    await bot.wait_a_while(2)
    before = utcnow()
    await bot.runtime.dispatcher.drain()
    [row] = await bot.outbox()
    assert (row.status, row.attempts) == ("pending", 2)
    assert 4.0 <= due_in(row, before) < 8.0  # 4 s after the second

    await bot.wait_a_while(4)
    await bot.runtime.dispatcher.drain()
    assert bot.api.sent_texts(CHAT) == [WELCOME]
    [row] = await bot.outbox()
    assert row.status == "sent"


async def test_a_message_telegram_keeps_refusing_is_given_up_after_the_configured_attempts(open_bot, tg_settings):
    bot = await open_bot(tg_settings.model_copy(update={"outbox_max_attempts": 2}))
    bot.api.fail_next("sendMessage", status=500, times=5)
    await bot.say("/start")
    await bot.wait_a_while(2)
    await bot.runtime.dispatcher.drain()
    await bot.wait_a_while(600)
    await bot.runtime.dispatcher.drain()

    [row] = await bot.outbox()
    assert row.status == "failed" and row.last_error.startswith("gave up after 2 attempts")
    assert len(bot.api.failed) == 2 and bot.api.sent() == []


async def test_a_long_reply_interrupted_by_flood_control_is_not_sent_twice(bot):
    long_text = "\n".join(f"Dòng {n}: thông tin công khai" + "." * 60 for n in range(80))
    async with bot.runtime.uows() as uow:
        await uow.outbox.enqueue("telegram", str(CHAT), Reply(long_text), dedupe_key="long-1")
        await uow.commit()
    bot.api.fail_next("sendMessage", status=429, retry_after=1, after=1)
    await bot.runtime.dispatcher.drain()
    await bot.wait_a_while(1)
    await bot.runtime.dispatcher.drain()
    assert "\n".join(bot.api.sent_texts(CHAT)) == long_text


# -- bad input: a short answer, the current step again, and the conversation still works ---------------

BAD_INPUT = {
    "empty text": (lambda n: text_update(n, CHAT, ""), "Tin nhắn trống. Hãy gõ nội dung hoặc chọn một nút bên dưới."),
    "only spaces": (lambda n: text_update(n, CHAT, "  \n\t "),
                    "Tin nhắn trống. Hãy gõ nội dung hoặc chọn một nút bên dưới."),
    "4001 characters": (lambda n: text_update(n, CHAT, "ạ" * 4001),
                        "Tin nhắn quá dài (4001 ký tự). Vui lòng gửi tối đa 4000 ký tự mỗi lần."),
    "sticker": (lambda n: sticker_update(n, CHAT),
                "Xin lỗi, tôi chưa nhận được loại tin nhắn này (nhãn dán). Hãy gửi chữ, ảnh hoặc vị trí."),
    "voice": (lambda n: voice_update(n, CHAT),
              "Xin lỗi, tôi chưa nhận được loại tin nhắn này (tin nhắn thoại). Hãy gửi chữ, ảnh hoặc vị trí."),
    "unknown command": (lambda n: text_update(n, CHAT, "/foo"), "Không có lệnh «/foo». Gõ /help để xem các lệnh."),
    "forged button": (lambda n: button_update(n, CHAT, "menu:../../x"), STALE_BUTTON),
    "button not on this step": (lambda n: button_update(n, CHAT, "commune:70"), STALE_BUTTON),
}


@pytest.mark.parametrize("make", BAD_INPUT.values(), ids=BAD_INPUT.keys())
async def test_bad_input_gets_a_short_answer_and_the_question_again(bot, make):
    build, answer = make
    await choose_vietnamese(bot)

    assert await bot.feed(build(next(update_ids))) == [answer, ASK_COMMUNE]

    assert await bot.say("hoan kiem") == [PICK_COMMUNE]
    assert await bot.press("commune:70") == [f"Đã chọn: {HOAN_KIEM}.", MENU]
    assert bot.shows_main_menu()


@pytest.mark.parametrize("data", ["menu:../../x", "commune:70", "x" * 64])
async def test_a_button_not_on_the_menu_shows_the_menu_again(bot, data):
    await choose_vietnamese(bot)
    await bot.say("hoan kiem")
    await bot.press("commune:70")

    assert await bot.press(data) == [STALE_BUTTON, MENU]
    assert bot.shows_main_menu()


async def test_photos_and_locations_do_not_break_the_menu(bot):
    await choose_vietnamese(bot)
    await bot.say("hoan kiem")
    await bot.press("commune:70")
    pothole = photo_update(next(update_ids), CHAT, "Ổ gà trước nhà số 5")
    for update in (pothole, location_update(next(update_ids), CHAT)):
        assert await bot.feed(update) == ["Hãy chọn một trong các nút bên dưới.", MENU]
        assert bot.shows_main_menu()


async def test_when_the_database_is_down_the_citizen_is_asked_to_send_again(open_bot, tg_settings, tmp_path):
    on_postgres = tg_settings.database_url.startswith("postgresql")
    unreachable = ("postgresql+asyncpg://postgres@127.0.0.1:1/tiepdan" if on_postgres
                   else f"sqlite+aiosqlite:///{tmp_path}/no-such-directory/tiepdan.db")
    bot = await open_bot(tg_settings.model_copy(update={"database_url": unreachable}))
    assert await bot.say("/start", deliver=False) == [
        "Hệ thống đang bận, vui lòng thử lại sau ít phút. Tin nhắn của bạn chưa bị mất — hãy gửi lại."]


async def test_group_chats_and_edited_messages_are_ignored(bot):
    group = text_update(next(update_ids), -100123, "/start")
    group["message"]["chat"] = {"id": -100123, "type": "group", "title": "Tổ dân phố số 3"}
    await bot.feed(group)
    edited = text_update(next(update_ids), CHAT, "sửa lại")
    edited["edited_message"] = edited.pop("message")
    await bot.feed(edited)
    assert bot.api.sent() == []


# -- webhook and polling -------------------------------------------------------------------------------

@pytest.fixture
def webhook_settings(tg_settings):
    return tg_settings.model_copy(update={"telegram_mode": TelegramMode.webhook,
                                          "telegram_webhook_url": "https://example.org/tg",
                                          "telegram_webhook_secret": SECRET})


async def test_the_webhook_takes_updates_only_with_the_secret_token(open_bot, webhook_settings):
    bot = await open_bot(webhook_settings)
    queue = bot.application.update_queue
    update = text_update(next(update_ids), CHAT, "/start")
    async with TestClient(TestServer(bot.runtime.web_app)) as client:
        for headers in ({}, {SECRET_HEADER: ""}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"},
                        {SECRET_HEADER: SECRET.upper()}):
            response = await client.post("/telegram/webhook", json=update, headers=headers)
            assert response.status == 401, headers
        assert queue.qsize() == 0

        response = await client.post("/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET})
        assert response.status == 200
        assert queue.qsize() == 1

    await bot.feed(await queue.get())
    assert bot.api.sent_texts(CHAT) == [WELCOME]


@pytest.mark.parametrize("body", [b"{broken", b"", b"[1, 2]", b"null", b'"text"', b'{"message": {}}',
                                  b'{"update_id": 7, "message": "x"}'])
async def test_the_webhook_rejects_a_malformed_body(open_bot, webhook_settings, body):
    bot = await open_bot(webhook_settings)
    async with TestClient(TestServer(bot.runtime.web_app)) as client:
        response = await client.post("/telegram/webhook", data=body,
                                     headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"})
        assert response.status == 400
    assert bot.application.update_queue.qsize() == 0


async def wait_for(condition, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_a_started_webhook_process_registers_the_webhook_and_answers(open_bot, webhook_settings):
    bot = await open_bot(webhook_settings)
    await bot.start()
    [registration] = bot.api.answered("setWebhook")
    assert registration["url"] == "https://example.org/tg" and registration["secret_token"] == SECRET
    assert set(registration["allowed_updates"]) == {"message", "callback_query"}

    async with TestClient(TestServer(bot.runtime.web_app)) as client:
        response = await client.post("/telegram/webhook", json=text_update(next(update_ids), CHAT, "/start"),
                                     headers={SECRET_HEADER: SECRET})
        assert response.status == 200
        await wait_for(lambda: bot.api.sent_texts(CHAT))
    assert bot.api.sent_texts(CHAT) == [WELCOME]
    await bot.close()
    assert bot.errors == []


async def test_a_polling_process_answers_what_get_updates_brings(bot):
    await bot.start()
    assert bot.api.count("deleteWebhook") == 1
    bot.api.deliver(text_update(next(update_ids), CHAT, "/start"))
    await wait_for(lambda: bot.api.sent_texts(CHAT))
    assert bot.api.sent_texts(CHAT) == [WELCOME]
    await bot.close()
    assert bot.errors == []


# -- long replies and the self-hosted Bot API server ------------------------------------------------------

def test_split_text_keeps_short_texts_whole():
    assert split_text("Xin chào") == ["Xin chào"]
    assert split_text("ạ" * 4096) == ["ạ" * 4096]


def test_split_text_cuts_long_texts_at_line_breaks_under_the_limit():
    text = "\n".join(f"Dòng {n}: " + "ư" * 90 for n in range(100))
    parts = split_text(text)
    assert len(parts) == 3
    assert all(len(part) <= 4096 for part in parts)
    assert "\n".join(parts) == text  # nothing lost, nothing reordered: only the break at each cut goes


def test_split_text_cuts_a_text_without_line_breaks_at_the_limit():
    assert [len(part) for part in split_text("y" * 10000)] == [4096, 4096, 1808]


def test_split_text_never_leaves_an_empty_part():
    parts = split_text("x" * 4096 + "\n\n\n")
    assert parts == ["x" * 4096]


async def test_the_sender_splits_a_long_reply_and_puts_the_buttons_on_the_last_part(tg_settings):
    api = RecordingBotAPI()
    application = build_application(tg_settings, request=api, get_updates_request=api)
    await application.initialize()
    try:
        reply = Reply("a" * 5000, ((Button("⬅️ Về menu chính", "g:menu"),),), photos=("photo-large",))
        await TelegramSender(application.bot).send(str(CHAT), reply)
    finally:
        await application.shutdown()
    assert [method for method, _ in api.calls if method != "getMe"] == ["sendPhoto", "sendMessage", "sendMessage"]
    first, last = api.sent(CHAT)
    assert len(first["text"]) == 4096 and len(last["text"]) == 904
    assert "reply_markup" not in first
    assert api.last_keyboard(CHAT) == [[("⬅️ Về menu chính", "g:menu")]]


async def test_a_self_hosted_bot_api_server_gets_every_call(open_bot, tg_settings):
    bot = await open_bot(tg_settings.model_copy(update={"telegram_base_url": "http://127.0.0.1:8081/"}))
    await bot.say("/start")
    assert {url.rsplit("/", 1)[1] for url in bot.api.urls} == {"getMe", "sendMessage"}
    assert all(url.startswith("http://127.0.0.1:8081/bot123:ABC/") for url in bot.api.urls)
    assert bot.application.bot.base_file_url == "http://127.0.0.1:8081/file/bot123:ABC"
