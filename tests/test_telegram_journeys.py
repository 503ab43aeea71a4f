"""Citizen journeys through Telegram, end to end, on SQLite and PostgreSQL.

The same journeys as the web-chat tests (test_submit_and_track, test_know, test_discuss), but as a
citizen lives them in a Telegram private chat: updates go in through python-telegram-bot's
``Application.process_update``, replies leave through the outbox to the recording fake of the Bot
API, and the tests read the chat: Vietnamese texts with their diacritics, the inline keyboard under
the latest message (labels and callback data), and where it matters the rows in the database.

Every process a test opens is checked at teardown against Telegram's limits: no sendMessage text
over 4096 characters, no callback data over 64 bytes.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update
from telegram import Update

from bot.officers import create_invite
from storage.demo import DEMO_COMMUNE, seed_demo
from storage.models import (
    ChannelIdentity,
    Consent,
    Consultation,
    ConsultationVote,
    Disclosure,
    Item,
    ItemContact,
    ItemDeadline,
    ItemEvent,
    Project,
    ReceptionRegistration,
    ReceptionSession,
    Subscription,
    Unit,
    utcnow,
)
from tests.telegram_fake import (
    RecordingBotAPI,
    button_update,
    location_update,
    photo_update,
    text_update,
)
from tests.test_telegram import (
    ASK_COMMUNE,
    CHAT,
    HOAN_KIEM,
    MENU,
    STALE_BUTTON,
    TOKEN,
    VIETNAMESE_CHOSEN,
    WELCOME,
    TelegramBot,
    update_ids,
)

OTHER_CHAT = 5550002  # a second citizen, in their own private chat

TEXT_LIMIT = 4096        # characters in one sendMessage
CALLBACK_DATA_LIMIT = 64  # bytes of callback_data in one inline button

PICK_COMMUNE = "Chọn xã, phường của bạn:"
BACK_TO_MENU = ("⬅️ Về menu chính", "g:menu")
CANCEL = ("🗑️ Huỷ", "submit:cancel")
CANCELLED = "Đã huỷ. Bạn có thể chọn việc khác."

KIND_QUESTION = (
    "Bạn muốn gửi loại nào?\n\n"
    "• Phản ánh, kiến nghị: báo một việc chưa ổn hoặc đề xuất cách làm tốt hơn (ổ gà, rác thải, tiếng ồn…).\n"
    "• Khiếu nại: đề nghị xem xét lại một quyết định hay việc làm của cơ quan, cán bộ ảnh hưởng trực tiếp "
    "đến quyền lợi của bạn.\n"
    "• Tố cáo: báo cho cơ quan có thẩm quyền biết hành vi vi phạm pháp luật của bất kỳ ai.")
KIND_BUTTONS = [[("💬 Phản ánh, kiến nghị", "kind:feedback")], [("⚖️ Khiếu nại", "kind:complaint_first")],
                [("🛡️ Tố cáo", "kind:denunciation")], [BACK_TO_MENU]]
CATEGORY_QUESTION = "Việc này thuộc lĩnh vực nào?"
CATEGORY_BUTTONS = [[("🏠 Đất đai, nhà ở", "category:land")], [("🌳 Môi trường, vệ sinh", "category:environment")],
                    [("🛣️ Đường sá, hạ tầng", "category:infrastructure")],
                    [("🚨 Trật tự, an ninh", "category:public_order")],
                    [("🤝 Chính sách xã hội", "category:social_policy")],
                    [("📄 Thủ tục hành chính", "category:administrative_procedures")],
                    [("📌 Khác", "category:other")], [BACK_TO_MENU]]
DESCRIPTION_QUESTION = "Hãy mô tả sự việc: chuyện gì, ở đâu, từ khi nào. Viết càng rõ càng dễ giải quyết."
TOO_SHORT = "Nội dung hơi ngắn. Hãy viết ít nhất 10 ký tự để cán bộ hiểu rõ sự việc."
PHOTOS_QUESTION = ("Bạn có ảnh chụp hiện trường không? Gửi tối đa 5 ảnh, rồi bấm «Xong». "
                   "Không có thì bấm «Bỏ qua».")
LOCATION_QUESTION = ("Sự việc ở đâu? Gửi vị trí (📎 → Vị trí) hoặc gõ địa chỉ. "
                     "Bấm «Bỏ qua» nếu không cần.")
LOCATION_BUTTONS = [[("⏭️ Bỏ qua", "location:skip")], [CANCEL]]
CONSENT_QUESTION = ("Để {purpose}, chúng tôi cần họ tên, địa chỉ và số điện thoại của bạn. "
                    "Thông tin chỉ dùng để giải quyết hồ sơ này, không hiện trong nhật ký hệ thống, "
                    "và bạn có thể xem hoặc xoá bất cứ lúc nào bằng lệnh /privacy. Bạn đồng ý cung cấp không?")
PROTECTED = ("🛡️ Danh tính người tố cáo được giữ bí mật theo Điều 8, 47 Luật Tố cáo: "
             "cán bộ xử lý chỉ thấy nội dung, không thấy họ tên, địa chỉ của bạn.")
ANONYMOUS_DENUNCIATION = ("Tố cáo ẩn danh không được thụ lý như một tố cáo chính thức (Điều 25 Luật Tố cáo). "
                          "Nội dung vẫn được chuyển tới cơ quan có thẩm quyền làm thông tin để kiểm tra.")
ASK_NAME = "Họ và tên đầy đủ của bạn:"
ASK_ADDRESS = "Địa chỉ nơi ở của bạn (số nhà, đường, tổ dân phố…):"
ASK_PHONE = "Số điện thoại để cán bộ liên hệ:"
BAD_PHONE = "Số điện thoại chưa đúng. Hãy gõ 10 chữ số, ví dụ 0912345678."
SUMMARY_BUTTONS = [[("📨 Gửi", "submit:send")], [("✏️ Sửa nội dung", "submit:edit")],
                   [("✂️ Tách phần nội dung khác loại", "submit:split")], [CANCEL]]
RECEIPT = re.compile(r"✅ Đã tiếp nhận\. Mã hồ sơ của bạn: (TD-[0-9A-Z]{5}-[0-9A-Z]{5})\n\n")

DESCRIPTION = "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần từ tuần trước."
COMPLAINT = "Tôi khiếu nại quyết định xử phạt số 15/QĐ-XPHC vì sai đối tượng."
DENUNCIATION = "Cán bộ X nhận tiền để bỏ qua vi phạm xây dựng ở ngõ 5."
CONSULTATION = "Phương án bố trí chỗ để xe máy trên phố Hàng Bạc"
WHO_VOTES = ("🪪 Ai được tính: kết quả chính thức chỉ tính phiếu của cư dân đã xác minh, mỗi người một phiếu "
             "(Điều 29 Luật Thực hiện dân chủ ở cơ sở 2022: người tham gia ý kiến là công dân cư trú trên địa bàn). "
             "Phiếu khác được ghi riêng vào phần «chưa xác minh», chỉ để tham khảo.")
UNVERIFIED = ("ℹ️ Bạn chưa xác minh: phiếu của bạn được ghi vào phần «chưa xác minh». "
              "Bấm «🪪 Xác minh cư dân» để biết cách xác minh.")
PROJECT = "Cải tạo vỉa hè, thoát nước phố Hàng Bạc"


# -- the fake Telegram's record, checked against Telegram's limits -----------------------------------------

def assert_within_telegram_limits(api: RecordingBotAPI) -> None:
    """Every message the bot sent is one Telegram accepts: text 1–4096 characters, callback data ≤ 64 bytes."""
    for method, params in api.calls:
        if method != "sendMessage":
            continue
        text = params["text"]
        assert 0 < len(text) <= TEXT_LIMIT, f"sendMessage of {len(text)} characters: {text[:80]!r}…"
        markup = params.get("reply_markup") or {"inline_keyboard": []}
        for row in markup.get("inline_keyboard", []):  # a reply keyboard has no callback data
            for button in row:
                data = button["callback_data"]
                size = len(data.encode())
                assert size <= CALLBACK_DATA_LIMIT, f"callback data of {size} bytes: {data!r}"


# -- a citizen in a private chat -------------------------------------------------------------------------

class Citizen:
    """One person in a private Telegram chat. ``bot`` is the tiepdan process serving them right now
    (a restart hands them to another process on the same database and the same fake Telegram)."""

    def __init__(self, bot: TelegramBot, chat_id: int = CHAT):
        self.bot = bot
        self.chat_id = chat_id

    async def feed(self, update: dict) -> list[str]:
        """Telegram delivers ``update``; the outbox is drained; the texts that reached this chat are returned."""
        before = len(self.bot.api.sent_texts(self.chat_id))
        await self.bot.application.process_update(Update.de_json(update, self.bot.application.bot))
        if self.bot.errors:
            raise self.bot.errors[0]
        await self.bot.runtime.dispatcher.drain()
        return self.bot.api.sent_texts(self.chat_id)[before:]

    async def say(self, text: str) -> list[str]:
        return await self.feed(text_update(next(update_ids), self.chat_id, text))

    async def press(self, data: str) -> list[str]:
        return await self.feed(button_update(next(update_ids), self.chat_id, data))

    async def send_photo(self, name: str, caption: str | None = None) -> list[str]:
        """A photo as Telegram sends it: several sizes, here deliberately not smallest first."""
        update = photo_update(next(update_ids), self.chat_id, caption)
        update["message"]["photo"] = [
            {"file_id": f"{name}-m", "file_unique_id": f"{name}m", "width": 320, "height": 240},
            {"file_id": f"{name}-xl", "file_unique_id": f"{name}x", "width": 1280, "height": 960},
            {"file_id": f"{name}-s", "file_unique_id": f"{name}s", "width": 90, "height": 67},
        ]
        return await self.feed(update)

    async def share_location(self, latitude: float, longitude: float) -> list[str]:
        return await self.feed(location_update(next(update_ids), self.chat_id, latitude, longitude))

    def keyboard(self) -> list[list[tuple[str, str]]]:
        """The inline keyboard under the latest message, as rows of (label, callback data)."""
        return self.bot.api.last_keyboard(self.chat_id)

    def buttons(self) -> dict[str, str]:
        """The same keyboard flattened: label → callback data."""
        return {label: data for row in self.keyboard() for label, data in row}

    def texts(self) -> list[str]:
        """Everything the chat has received so far."""
        return self.bot.api.sent_texts(self.chat_id)

    # -- common moves ------------------------------------------------------------------------------------
    async def start_in_hoan_kiem(self) -> None:
        assert await self.say("/start") == [WELCOME]
        assert await self.press("lang:vi") == [VIETNAMESE_CHOSEN, ASK_COMMUNE]
        assert await self.say("hoan kiem") == [PICK_COMMUNE]
        assert await self.press("commune:70") == [f"Đã chọn: {HOAN_KIEM}.", MENU]
        self.assert_main_menu()

    async def go_to_menu(self) -> None:
        assert await self.press("g:menu") == [MENU]
        self.assert_main_menu()

    def assert_main_menu(self) -> None:
        assert self.keyboard() == [
            [("📝 Gửi phản ánh, khiếu nại, tố cáo", "menu:submit")], [("🔎 Hồ sơ của tôi", "menu:track")],
            [("📅 Lịch tiếp công dân", "menu:schedule")], [("📢 Thông tin công khai", "menu:disclosures")],
            [("🏗️ Dự án, công trình", "menu:projects")], [("🗳️ Lấy ý kiến người dân", "menu:consultations")],
            [("📊 Kết quả giải quyết", "menu:statistics")], [("⚙️ Ngôn ngữ, xã phường", "menu:settings")],
            [("❓ Hướng dẫn", "g:help")]]


# -- journeys shared by several tests ------------------------------------------------------------------------

async def describe(citizen: Citizen, kind: str, category: str, text: str) -> None:
    """From anywhere: menu → kind → category → description; the photos question is on screen."""
    await citizen.go_to_menu()
    assert await citizen.press("menu:submit") == [KIND_QUESTION]
    assert citizen.keyboard() == KIND_BUTTONS
    assert await citizen.press(f"kind:{kind}") == [CATEGORY_QUESTION]
    assert citizen.keyboard() == CATEGORY_BUTTONS
    assert await citizen.press(f"category:{category}") == [DESCRIPTION_QUESTION]
    assert citizen.keyboard() == [[BACK_TO_MENU]]
    assert await citizen.say(text) == [PHOTOS_QUESTION]
    assert citizen.keyboard() == [[("⏭️ Bỏ qua", "photos:done")], [CANCEL]]


async def give_contact(citizen: Citizen, name: str, address: str, phone: str) -> list[str]:
    """Consent given; name, address and phone typed in turn. Returns what the phone brought (the summary)."""
    assert await citizen.press("consent:yes") == [ASK_NAME]
    assert citizen.keyboard() == [[CANCEL]]
    assert await citizen.say(name) == [ASK_ADDRESS]
    assert citizen.keyboard() == [[CANCEL]]
    assert await citizen.say(address) == [ASK_PHONE]
    assert citizen.keyboard() == [[CANCEL]]
    return await citizen.say(phone)


def tracking_code(receipt: str) -> str:
    match = RECEIPT.match(receipt)
    assert match, receipt
    return match.group(1)


async def send_and_read_receipt(citizen: Citizen) -> tuple[str, str]:
    """Press «📨 Gửi» on the summary: the receipt, then the main menu. Returns (receipt, tracking code)."""
    receipt, menu = await citizen.press("submit:send")
    assert menu == MENU
    citizen.assert_main_menu()
    return receipt, tracking_code(receipt)


async def file_anonymous_feedback(citizen: Citizen, text: str = DESCRIPTION) -> str:
    """The shortest filing: no photos, no place, anonymous. Returns the tracking code."""
    await describe(citizen, "feedback", "infrastructure", text)
    assert await citizen.press("photos:done") == [LOCATION_QUESTION]
    assert await citizen.press("location:skip") == [CONSENT_QUESTION.format(purpose="báo kết quả cho bạn")]
    await citizen.press("consent:anonymous")
    return (await send_and_read_receipt(citizen))[1]


async def file_complaint(citizen: Citizen) -> str:
    await describe(citizen, "complaint_first", "land", COMPLAINT)
    await citizen.press("photos:done")
    await citizen.press("location:skip")
    await give_contact(citizen, "Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5", "0912345678")
    return (await send_and_read_receipt(citizen))[1]


def deadline_lines(deadlines: list[ItemDeadline]) -> str:
    """The law's deadlines by date with their articles, then the commune's own targets by date, labelled
    as its own (issue 18)."""
    phases = {"intake": "Xử lý ban đầu, thông báo thụ lý", "resolution": "Giải quyết",
              "status_update": "Cập nhật tình hình cho bạn", "escalation": "Báo cáo lãnh đạo nếu chưa xong"}
    legal = sorted((d for d in deadlines if not d.citation.startswith("Mục tiêu nội bộ")), key=lambda d: d.due_on)
    own = sorted((d for d in deadlines if d.citation.startswith("Mục tiêu nội bộ")), key=lambda d: d.due_on)
    lines = [f"• {phases[d.phase]}: chậm nhất ngày {d.due_on:%d/%m/%Y} ({d.citation})" for d in legal]
    if own:
        lines.append("Mục tiêu riêng của xã, phường (không phải thời hạn luật định):")
        lines += [f"• {phases[d.phase]}: trước ngày {d.due_on:%d/%m/%Y}" for d in own]
    return "\n".join(lines)


def receipt_text(code: str, deadlines: list[ItemDeadline], unit: str) -> str:
    return (f"✅ Đã tiếp nhận. Mã hồ sơ của bạn: {code}\n\n{deadline_lines(deadlines)}\n\nCán bộ {unit} sẽ xử lý. "
            "Mỗi khi có tiến triển, bạn sẽ nhận được tin nhắn tại đây. Xem lại bất cứ lúc nào ở mục «Hồ sơ của tôi».")


def summary_text(kind: str, category: str, description: str, photos: int, location: str, sender: str) -> str:
    return (f"Kiểm tra lại trước khi gửi:\n\nLoại: {kind}\nLĩnh vực: {category}\nXã, phường: {HOAN_KIEM}\n"
            f"Nội dung: {description}\nẢnh: {photos}\nVị trí: {location}\nNgười gửi: {sender}")


def today_here(bot: TelegramBot):
    return datetime.now(bot.runtime.settings.zone).date()


def local_day(bot: TelegramBot, moment: datetime) -> str:
    """A stored moment as the citizen reads it (SQLite hands back naive UTC)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    return f"{aware.astimezone(bot.runtime.settings.zone):%d/%m/%Y}"


async def rows(bot: TelegramBot, model, *where) -> list:
    """Rows of ``model`` in the test's database, oldest first."""
    async with bot.runtime.uows() as uow:
        query = select(model).where(*where).order_by(*model.__mapper__.primary_key)
        found = list((await uow.session.execute(query)).scalars())
        uow.session.expunge_all()  # keep the values as read
        return found


# -- fixtures ------------------------------------------------------------------------------------------------

@pytest.fixture
def tg_settings(settings):
    # A test citizen taps far faster than a person; the per-chat pacing has its own tests.
    return settings.model_copy(update={"telegram_token": TOKEN, "telegram_per_chat_rate": 1000.0})


@pytest.fixture
async def processes(tg_settings):
    """Opens tiepdan processes with Telegram on the test's database; at the end closes them and checks
    that nothing they sent broke Telegram's limits."""
    opened: list[TelegramBot] = []

    async def open_(api: RecordingBotAPI | None = None) -> TelegramBot:
        bot = TelegramBot(tg_settings, api)
        opened.append(bot)
        return await bot.open()

    yield open_
    for bot in opened:
        await bot.close()
    for api in {id(bot.api): bot.api for bot in opened}.values():
        assert_within_telegram_limits(api)


@pytest.fixture
async def bot(processes) -> TelegramBot:
    bot = await processes()
    await seed_demo(bot.runtime.uows, bot.runtime.settings)
    return bot


@pytest.fixture
async def lan(bot) -> Citizen:
    """Lan, in Phường Hoàn Kiếm, looking at the main menu."""
    citizen = Citizen(bot, CHAT)
    await citizen.start_in_hoan_kiem()
    return citizen


@pytest.fixture
async def minh(bot) -> Citizen:
    """Minh, another citizen of the same ward, in his own chat."""
    citizen = Citizen(bot, OTHER_CHAT)
    await citizen.start_in_hoan_kiem()
    return citizen


# -- 1. anonymous feedback with photos and a location ---------------------------------------------------------

async def test_anonymous_feedback_with_two_photos_and_a_location(bot, lan):
    await lan.go_to_menu()
    await lan.press("menu:submit")
    await lan.press("kind:feedback")
    await lan.press("category:infrastructure")
    assert await lan.say("ổ gà") == [TOO_SHORT]
    assert await lan.say(DESCRIPTION) == [PHOTOS_QUESTION]

    assert await lan.send_photo("AgADhole1") == ["Đã nhận ảnh 1/5."]
    assert lan.keyboard() == [[("✅ Xong", "photos:done")], [CANCEL]]
    assert await lan.send_photo("AgADhole2") == ["Đã nhận ảnh 2/5."]
    assert await lan.press("photos:done") == [LOCATION_QUESTION]
    assert lan.keyboard() == LOCATION_BUTTONS

    assert await lan.share_location(21.03412, 105.85123) == [
        "Đã ghi nhận vị trí.", CONSENT_QUESTION.format(purpose="báo kết quả cho bạn")]
    assert lan.keyboard() == [[("✅ Đồng ý", "consent:yes")], [("🙈 Gửi ẩn danh", "consent:anonymous")], [CANCEL]]

    assert await lan.press("consent:anonymous") == [summary_text(
        "💬 Phản ánh, kiến nghị", "🛣️ Đường sá, hạ tầng", DESCRIPTION, 2, "đã gửi vị trí trên bản đồ", "ẩn danh")]
    assert lan.keyboard() == SUMMARY_BUTTONS

    receipt, code = await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    deadlines = await rows(bot, ItemDeadline, ItemDeadline.item_id == item.id)
    assert [d.phase for d in deadlines] == ["intake", "resolution", "status_update", "escalation"]
    assert receipt == receipt_text(code, deadlines, "Phòng Kinh tế, Hạ tầng và Đô thị")
    assert "(Luật Tiếp công dân 2013, Điều 28 khoản 1)" in receipt.splitlines()[2]
    assert (item.tracking_code, item.kind, item.category, item.status) == (
        code, "feedback", "infrastructure", "received")
    assert (item.channel, item.chat_id, item.anonymous, item.description) == ("telegram", str(CHAT), True, DESCRIPTION)
    assert item.photos == ["AgADhole1-xl", "AgADhole2-xl"]  # the largest size of each, whatever its position
    assert (item.latitude, item.longitude, item.address) == (pytest.approx(21.03412), pytest.approx(105.85123), None)
    assert await rows(bot, ItemContact) == [] and await rows(bot, Consent) == []
    assert [e.action for e in await rows(bot, ItemEvent)] == ["submit"]


async def test_a_typed_place_is_kept_as_the_address(bot, lan):
    await describe(lan, "feedback", "environment", "Rác thải để trước cửa nhà số 5 không được thu gom ba ngày nay.")
    await lan.press("photos:done")
    assert await lan.say("Trước số 5 ngõ Hàng Hành") == [CONSENT_QUESTION.format(purpose="báo kết quả cho bạn")]
    [summary] = await lan.press("consent:anonymous")
    assert "\nẢnh: 0\nVị trí: Trước số 5 ngõ Hàng Hành\n" in summary
    await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    assert (item.address, item.latitude, item.photos) == ("Trước số 5 ngõ Hàng Hành", None, [])


async def test_pressing_send_again_on_the_old_summary_files_nothing_more(bot, lan):
    """Telegram keeps the summary's keyboard on screen after filing: a second tap must not file twice."""
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:anonymous")
    await send_and_read_receipt(lan)
    assert await lan.press("submit:send") == [STALE_BUTTON, MENU]
    lan.assert_main_menu()
    assert len(await rows(bot, Item)) == 1


async def test_cancel_from_the_summary_files_nothing(bot, lan):
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:anonymous")
    assert await lan.press("submit:cancel") == [CANCELLED, MENU]
    lan.assert_main_menu()
    assert await rows(bot, Item) == []


async def test_a_citizen_can_still_cancel_after_sending_a_photo(bot, lan):
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    await lan.send_photo("AgADhole1")
    assert lan.keyboard() == [[("✅ Xong", "photos:done")], [CANCEL]]
    assert await lan.press("submit:cancel") == [CANCELLED, MENU]
    assert await rows(bot, Item) == []


async def test_a_photo_sent_when_the_place_is_asked_is_kept(bot, lan):
    """A late photo of an album (or one sent after «Xong») is kept, and its caption is not taken for the place."""
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    await lan.send_photo("AgADhole1")
    await lan.press("photos:done")
    late = await lan.send_photo("AgADhole2", caption="Ảnh chụp từ phía ngõ 5")
    assert late == ["Đã nhận ảnh 2/5.", LOCATION_QUESTION]
    assert lan.keyboard() == LOCATION_BUTTONS
    await lan.press("location:skip")
    [summary] = await lan.press("consent:anonymous")
    assert "\nẢnh: 2\nVị trí: không có\n" in summary
    await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    assert (item.photos, item.address) == (["AgADhole1-xl", "AgADhole2-xl"], None)


async def test_a_location_shared_while_photos_are_asked_is_not_silently_lost(bot, lan):
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    replies = await lan.share_location(21.03412, 105.85123)
    await lan.press("photos:done")
    if "location:skip" in lan.buttons().values():
        await lan.press("location:skip")
    await lan.press("consent:anonymous")
    await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    assert replies[0] == "Đã ghi nhận vị trí."
    assert (item.latitude, item.longitude) == (pytest.approx(21.03412), pytest.approx(105.85123))


async def test_a_photo_with_its_caption_as_the_description_is_not_answered_with_choose_a_button(bot, lan):
    await lan.go_to_menu()
    await lan.press("menu:submit")
    await lan.press("kind:feedback")
    await lan.press("category:infrastructure")
    replies = await lan.send_photo("AgADfirst", caption=DESCRIPTION)
    assert replies[0] != "Hãy chọn một trong các nút bên dưới."  # a text step: there is nothing to choose


# -- 2. a complaint with consent and contact ---------------------------------------------------------------

async def test_a_complaint_with_consent_and_contact(bot, lan):
    await describe(lan, "complaint_first", "land", COMPLAINT)
    await lan.press("photos:done")
    assert await lan.press("location:skip") == [
        CONSENT_QUESTION.format(purpose="thụ lý khiếu nại theo Điều 8 Luật Khiếu nại")]
    assert lan.keyboard() == [[("✅ Đồng ý", "consent:yes")], [("❌ Không đồng ý", "consent:no")], [CANCEL]]

    assert await lan.press("consent:yes") == [ASK_NAME]
    assert await lan.say("Nguyễn Thị Lan") == [ASK_ADDRESS]
    assert await lan.say("Số 3 Hàng Bạc, tổ 5") == [ASK_PHONE]
    assert await lan.say("12345") == [BAD_PHONE]
    assert await lan.say("0912 345 678") == [summary_text(
        "⚖️ Khiếu nại", "🏠 Đất đai, nhà ở", COMPLAINT, 0, "không có", "Nguyễn Thị Lan")]
    assert lan.keyboard() == SUMMARY_BUTTONS

    receipt, code = await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    deadlines = await rows(bot, ItemDeadline)
    assert [d.phase for d in deadlines] == ["intake"]
    # A first complaint's receipt also tells the 90 days to complain (Luật Khiếu nại 2011, Điều 9).
    filing_limit = ("• Thời hiệu khiếu nại: 90 ngày kể từ ngày bạn nhận được hoặc biết được quyết định, hành vi hành "
                    "chính (Luật Khiếu nại 2011, Điều 9). Cho biết ngày đó ở «Hồ sơ của tôi» để biết hạn chót của bạn.")
    assert receipt == receipt_text(code, deadlines, "Phòng Kinh tế, Hạ tầng và Đô thị").replace(
        deadline_lines(deadlines), f"{deadline_lines(deadlines)}\n{filing_limit}")
    assert "NĐ 155/2026/NĐ-CP, Điều 10" in receipt  # filed after 1/7/2026: 7 working days to accept
    assert (item.kind, item.anonymous, item.category) == ("complaint_first", False, "land")
    [contact] = await rows(bot, ItemContact)
    assert (contact.item_id, contact.full_name, contact.address, contact.phone) == (
        item.id, "Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5", "0912345678")
    [consent] = await rows(bot, Consent)
    assert (consent.user_id, consent.purpose, consent.withdrawn_at) == (item.citizen_id, "petition_contact", None)


async def test_a_complaint_refused_identity_can_go_as_anonymous_feedback(bot, lan):
    await describe(lan, "complaint_first", "land", COMPLAINT)
    await lan.press("photos:done")
    await lan.press("location:skip")
    assert await lan.press("consent:no") == [(
        "Khiếu nại phải ghi rõ họ tên, địa chỉ của người khiếu nại (Điều 8 Luật Khiếu nại), nên không thể gửi ẩn danh. "
        "Bạn có thể gửi dưới dạng phản ánh, kiến nghị ẩn danh.")]
    assert lan.keyboard() == [[("💬 Gửi thành phản ánh ẩn danh", "consent:as_feedback")], [CANCEL]]
    assert await lan.press("consent:as_feedback") == [summary_text(
        "💬 Phản ánh, kiến nghị", "🏠 Đất đai, nhà ở", COMPLAINT, 0, "không có", "ẩn danh")]
    await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    assert (item.kind, item.anonymous) == ("feedback", True)
    assert await rows(bot, ItemContact) == []


# -- 3. denunciations ------------------------------------------------------------------------------------------

async def test_an_anonymous_denunciation_is_filed_as_information(bot, lan):
    await describe(lan, "denunciation", "public_order", DENUNCIATION)
    await lan.press("photos:done")
    assert await lan.press("location:skip") == [
        PROTECTED, CONSENT_QUESTION.format(purpose="thụ lý tố cáo theo Điều 23 Luật Tố cáo")]
    assert lan.keyboard() == [[("✅ Đồng ý", "consent:yes")],
                              [("🙈 Gửi ẩn danh (chỉ là thông tin)", "consent:anonymous")], [CANCEL]]
    assert await lan.press("consent:anonymous") == [ANONYMOUS_DENUNCIATION, summary_text(
        "ℹ️ Thông tin tố cáo ẩn danh", "🚨 Trật tự, an ninh", DENUNCIATION, 0, "không có", "ẩn danh")]
    receipt, code = await send_and_read_receipt(lan)
    assert receipt.startswith(f"✅ Đã tiếp nhận. Mã hồ sơ của bạn: {code}")
    assert "Cán bộ Văn phòng HĐND và UBND phường sẽ xử lý." in receipt
    [item] = await rows(bot, Item)
    assert (item.kind, item.anonymous, item.category) == ("information", True, "public_order")
    assert await rows(bot, ItemContact) == [] and await rows(bot, ItemDeadline) == []


async def test_the_receipt_of_information_has_no_blank_gap(bot, lan):
    await describe(lan, "denunciation", "public_order", DENUNCIATION)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:anonymous")
    receipt, _ = await send_and_read_receipt(lan)
    assert "\n\n\n" not in receipt


async def test_a_denunciation_with_identity_is_told_it_is_protected(bot, lan):
    await describe(lan, "denunciation", "public_order", DENUNCIATION)
    await lan.press("photos:done")
    consent = await lan.press("location:skip")
    assert consent[0] == PROTECTED
    summary = await give_contact(lan, "Trần Văn Minh", "Số 7 ngõ 5 Hàng Bạc", "+84 912 345 679")
    assert summary == [summary_text("🛡️ Tố cáo", "🚨 Trật tự, an ninh", DENUNCIATION, 0, "không có", "Trần Văn Minh")]
    receipt, code = await send_and_read_receipt(lan)
    [item] = await rows(bot, Item)
    deadlines = await rows(bot, ItemDeadline)
    assert receipt == receipt_text(code, deadlines, "Văn phòng HĐND và UBND phường")
    assert "(Luật Tố cáo 2018, Điều 24 khoản 1)" in receipt
    assert (item.kind, item.anonymous) == ("denunciation", False)
    [contact] = await rows(bot, ItemContact)
    assert (contact.full_name, contact.phone) == ("Trần Văn Minh", "+84912345679")


# -- 4. a restart halfway through ---------------------------------------------------------------------------

async def test_a_submission_interrupted_by_a_restart_carries_on(bot, lan, processes):
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)

    # The process goes away (deploy, crash) while the photos question is on screen.
    await bot.close()
    restarted = await processes(api=bot.api)  # a new Runtime on the same database, the same Telegram
    lan.bot = restarted

    assert await lan.send_photo("AgADafter1") == ["Đã nhận ảnh 1/5."]
    assert await lan.send_photo("AgADafter2") == ["Đã nhận ảnh 2/5."]
    assert await lan.press("photos:done") == [LOCATION_QUESTION]
    assert await lan.share_location(21.0285, 105.8542) == [
        "Đã ghi nhận vị trí.", CONSENT_QUESTION.format(purpose="báo kết quả cho bạn")]
    [summary] = await lan.press("consent:anonymous")
    assert f"Nội dung: {DESCRIPTION}\nẢnh: 2\nVị trí: đã gửi vị trí trên bản đồ" in summary
    _, code = await send_and_read_receipt(lan)

    [item] = await rows(restarted, Item)
    assert (item.tracking_code, item.description) == (code, DESCRIPTION)
    assert item.photos == ["AgADafter1-xl", "AgADafter2-xl"]
    assert (item.latitude, item.longitude) == (pytest.approx(21.0285), pytest.approx(105.8542))
    assert lan.texts().count(PHOTOS_QUESTION) == 1  # nothing asked twice, nothing lost across the restart
    assert sum(text.startswith("✅ Đã tiếp nhận") for text in lan.texts()) == 1


# -- 5. tracking -----------------------------------------------------------------------------------------------

async def test_track_list_detail_typed_code_and_withdraw(bot, lan):
    code = await file_anonymous_feedback(lan)
    [item] = await rows(bot, Item)
    received = local_day(bot, item.received_at)
    intake = next(d for d in await rows(bot, ItemDeadline) if d.phase == "intake")  # the law's, first

    listing = (f"Hồ sơ của bạn (1):\n• {code}: đã tiếp nhận, hạn tiếp theo {intake.due_on:%d/%m/%Y}\n\n"
               "Bạn cũng có thể gõ mã hồ sơ (ví dụ TD-K7QX3-M9PAW) để xem chi tiết.")
    assert await lan.press("menu:track") == [listing]
    assert lan.keyboard() == [[(f"{code} · 💬 Phản ánh, kiến nghị · đã tiếp nhận", f"item:{item.id}")], [BACK_TO_MENU]]

    detail = (f"Hồ sơ {code}\nLoại: 💬 Phản ánh, kiến nghị\nLĩnh vực: 🛣️ Đường sá, hạ tầng\n"
              f"Trạng thái: đã tiếp nhận\nNgày gửi: {received}\n\n{DESCRIPTION}\n\n"
              f"Hạn tiếp theo: Xử lý ban đầu, thông báo thụ lý — {intake.due_on:%d/%m/%Y} ({intake.citation})"
              f"\n\nDiễn biến:\n• {received}: Tiếp nhận hồ sơ")
    detail_buttons = [[("↩️ Rút đơn", "track:withdraw")], [("⬅️ Danh sách hồ sơ", "track:list")], [BACK_TO_MENU]]
    assert await lan.press(f"item:{item.id}") == [detail]
    assert lan.keyboard() == detail_buttons

    # Typed back the way people type: lower case, spaces for dashes.
    assert await lan.press("track:list") == [listing]
    typed = code.lower().replace("-", " ")
    assert await lan.say(typed) == [detail]

    confirm = f"Bạn có chắc muốn rút hồ sơ {code}? Sau khi rút, hồ sơ sẽ không được giải quyết tiếp."
    assert await lan.press("track:withdraw") == [confirm]
    assert lan.keyboard() == [[("↩️ Có, rút đơn", "track:withdraw_yes")], [("Không", "track:detail")]]
    assert await lan.press("track:detail") == [detail]  # changed her mind
    assert (await rows(bot, Item))[0].status == "received"

    assert await lan.press("track:withdraw") == [confirm]
    withdrawn, shown = await lan.press("track:withdraw_yes")
    assert withdrawn == f"Đã rút hồ sơ {code}."
    assert "\nTrạng thái: đã rút\n" in shown and "Hạn tiếp theo" not in shown
    assert shown.endswith(f"\n• {received}: Tiếp nhận hồ sơ\n• {received}: Bạn rút đơn")
    assert lan.keyboard() == [[("⬅️ Danh sách hồ sơ", "track:list")], [BACK_TO_MENU]]
    [item] = await rows(bot, Item)
    assert item.status == "withdrawn"
    assert all(d.done_at is not None for d in await rows(bot, ItemDeadline))
    assert [e.action for e in await rows(bot, ItemEvent)] == ["submit", "withdraw"]


async def test_another_telegram_user_cannot_see_the_item(bot, lan, minh):
    code = await file_anonymous_feedback(lan)
    [item] = await rows(bot, Item)
    seen_before = len(minh.texts())

    assert await minh.press("menu:track") == ["Bạn chưa gửi hồ sơ nào."]
    assert minh.keyboard() == [[BACK_TO_MENU]]
    not_found = "Không tìm thấy hồ sơ có mã này trong các hồ sơ của bạn."
    assert await minh.say(code) == [not_found, "Bạn chưa gửi hồ sơ nào."]
    assert await minh.say(code.lower().replace("-", " ")) == [not_found, "Bạn chưa gửi hồ sơ nào."]
    # A forged button: as on his own list, and as in a notification.
    assert await minh.press(f"item:{item.id}") == [STALE_BUTTON, "Bạn chưa gửi hồ sơ nào."]
    assert await minh.press(f"g:item:{item.id}") == [not_found, "Bạn chưa gửi hồ sơ nào."]
    # Nor can he withdraw it.
    assert await minh.press("track:withdraw") == [STALE_BUTTON, "Bạn chưa gửi hồ sơ nào."]

    shown_to_minh = "\n".join(minh.texts()[seen_before:])
    assert DESCRIPTION not in shown_to_minh and "Hàng Bạc" not in shown_to_minh
    assert (await rows(bot, Item))[0].status == "received"


async def test_a_notification_button_opens_the_item(bot, lan):
    """An officer's move reaches the chat through the outbox; its button opens the item from anywhere."""
    from bot.domain.workflow import Action
    from bot.petitions import move

    code = await file_anonymous_feedback(lan)
    await lan.press("menu:schedule")  # somewhere else entirely
    async with bot.runtime.uows() as uow:
        item = (await uow.session.execute(select(Item))).scalar_one()
        await move(uow, item, Action.accept, actor_id=None, note="Đã giao Phòng Kinh tế kiểm tra hiện trường.")
        await uow.commit()
    await bot.runtime.dispatcher.drain()
    assert lan.texts()[-1] == f"🔔 Hồ sơ {code}: đã thụ lý.\n\nĐã giao Phòng Kinh tế kiểm tra hiện trường."
    assert lan.keyboard() == [[("🔎 Xem hồ sơ", f"g:item:{item.id}")]]

    [detail] = await lan.press(f"g:item:{item.id}")
    assert detail.startswith(f"Hồ sơ {code}\n") and "\nTrạng thái: đã thụ lý\n" in detail
    assert detail.endswith(": Thụ lý: Đã giao Phòng Kinh tế kiểm tra hiện trường.")


# -- 6. Dân biết: reception schedule, disclosures, projects ---------------------------------------------------

async def test_register_for_a_reception_session_cancel_and_subscribe(bot, lan):
    [schedule] = await lan.press("menu:schedule")
    assert schedule.startswith(f"📅 Lịch tiếp công dân — {HOAN_KIEM}\n\n• Thứ ")
    assert "Người tiếp: Chủ tịch UBND phường Hoàn Kiếm" in schedule
    assert "07:30–11:30 (định kỳ: hằng tuần vào Thứ Năm)" in schedule
    assert "Địa điểm: Phòng tiếp công dân, trụ sở UBND phường Hoàn Kiếm" in schedule
    register = [(label, data) for label, data in lan.buttons().items() if label.startswith("✍️ Đăng ký dự buổi ")]
    assert len(register) == 3  # the next two Thursdays and the one-off session
    assert all(re.fullmatch(r"reg:\d+:\d+", data) for _, data in register)
    assert list(lan.buttons().items())[-2:] == [("🔔 Nhận thông báo lịch tiếp công dân", "schedule:toggle"),
                                                BACK_TO_MENU]

    label, data = register[-1]  # the latest: days ahead, never the session going on right now
    day_month = label.removeprefix("✍️ Đăng ký dự buổi ")
    registered, shown = await lan.press(data)
    assert re.fullmatch(rf"Đã đăng ký dự buổi tiếp công dân {day_month}/\d{{4}} \d\d:\d\d\. "
                        r"Bạn sẽ được nhắc trước một ngày\.", registered)
    when = registered.removeprefix("Đã đăng ký dự buổi tiếp công dân ").split(".")[0]
    assert f"✅ Bạn đã đăng ký dự buổi {when}." in shown
    [registration] = await rows(bot, ReceptionRegistration)
    assert registration.cancelled_at is None
    assert data not in lan.buttons().values()
    assert lan.buttons()[f"❌ Huỷ đăng ký buổi {day_month}"] == f"unreg:{registration.id}"

    cancelled, shown = await lan.press(f"unreg:{registration.id}")
    assert cancelled == "Đã huỷ đăng ký."
    assert "✅ Bạn đã đăng ký" not in shown and lan.buttons()[label] == data
    [registration] = await rows(bot, ReceptionRegistration)
    assert registration.cancelled_at is not None

    subscribed, _ = await lan.press("schedule:toggle")
    assert subscribed == "Bạn sẽ nhận thông báo khi có lịch tiếp công dân mới hoặc thay đổi."
    assert lan.buttons()["🔕 Thôi nhận thông báo lịch tiếp"] == "schedule:toggle"
    [subscription] = await rows(bot, Subscription)
    assert (subscription.topic, subscription.commune_code) == ("reception", DEMO_COMMUNE)
    unsubscribed, _ = await lan.press("schedule:toggle")
    assert unsubscribed == "Đã thôi nhận thông báo lịch tiếp công dân."
    assert lan.buttons()["🔔 Nhận thông báo lịch tiếp công dân"] == "schedule:toggle"
    assert await rows(bot, Subscription) == []


async def test_a_forged_registration_button_is_refused(bot, lan):
    [schedule] = await lan.press("menu:schedule")
    assert await lan.press("reg:1:12345") == [STALE_BUTTON, schedule]
    assert await rows(bot, ReceptionRegistration) == []


async def add_disclosures(bot: TelegramBot, category: str, count: int, title: str = "Mức phí số {n}",
                          body: str = "Nội dung mức phí số {n}.", url: str | None = None) -> None:
    """``count`` disclosures of one category, published an hour apart, newest (n = 0) first."""
    async with bot.runtime.uows() as uow:
        for n in range(count):
            uow.session.add(Disclosure(commune_code=DEMO_COMMUNE, category=category, title=title.format(n=n),
                                       body=body.format(n=n), url=url.format(n=n) if url else None,
                                       published_at=datetime.now(timezone.utc) - timedelta(hours=n)))
        await uow.commit()


async def test_disclosures_by_category_newest_first_and_paged(bot, lan):
    await add_disclosures(bot, "fees", 7)
    assert await lan.press("menu:disclosures") == [f"📢 Thông tin công khai — {HOAN_KIEM}\nChọn loại thông tin:"]
    assert lan.keyboard() == [[("🗂️ Tất cả, mới nhất trước (9)", "dcat:*")], [("Phí, lệ phí (7)", "dcat:fees")],
                              [("Đất đai, bồi thường, tái định cư (1)", "dcat:land")],
                              [("Ngân sách (1)", "dcat:budget")],
                              [BACK_TO_MENU]]

    published = {d.title: d.published_at for d in await rows(bot, Disclosure, Disclosure.category == "fees")}
    [first] = await lan.press("dcat:fees")
    entries = first.split("\n\n")
    assert entries[0] == f"📢 Thông tin công khai — {HOAN_KIEM}"
    assert entries[1:] == [  # newest first, five a page
        f"• [Phí, lệ phí] Mức phí số {n}\n  Công bố ngày {local_day(bot, published[f'Mức phí số {n}'])}\n"
        f"  Nội dung mức phí số {n}." for n in range(5)]
    assert "Dự toán ngân sách" not in first
    assert lan.keyboard() == [[("➡️ Xem thêm", "dmore")], [("🗂️ Các loại thông tin", "dcats")], [BACK_TO_MENU]]

    [second] = await lan.press("dmore")
    assert [entry.splitlines()[0] for entry in second.split("\n\n")[1:]] == [
        "• [Phí, lệ phí] Mức phí số 5", "• [Phí, lệ phí] Mức phí số 6"]
    assert lan.keyboard() == [[("🗂️ Các loại thông tin", "dcats")], [BACK_TO_MENU]]

    assert await lan.press("dcats") == [f"📢 Thông tin công khai — {HOAN_KIEM}\nChọn loại thông tin:"]
    [land] = await lan.press("dcat:land")
    assert "• [Đất đai, bồi thường, tái định cư] Phương án bồi thường, hỗ trợ khi cải tạo vỉa hè phố Hàng Bạc" in land
    assert ", niêm yết đến " in land


async def test_every_disclosure_on_a_page_is_shown_whole(bot, lan):
    await add_disclosures(
        bot, "land", 5,
        title="Quyết định số 12{n}/QĐ-UBND về việc phê duyệt phương án bồi thường, hỗ trợ và tái định cư khi Nhà "
              "nước thu hồi đất để thực hiện dự án Cải tạo vỉa hè, thoát nước phố Hàng Bạc, phường Hoàn Kiếm (đợt {n})",
        body="Danh sách hộ gia đình, cá nhân bị ảnh hưởng, diện tích thu hồi, đơn giá bồi thường và mức hỗ trợ. " * 6,
        url="https://hoankiem.hanoi.gov.vn/cong-khai/dat-dai/2026/quyet-dinh-boi-thuong-dot-{n}.pdf")
    await lan.press("menu:disclosures")
    shown = "\n".join(await lan.press("dcat:land"))
    while "dmore" in lan.buttons().values():
        shown += "\n".join(await lan.press("dmore"))
    for disclosure in await rows(bot, Disclosure, Disclosure.category == "land"):
        assert disclosure.title in shown
        assert disclosure.url is None or disclosure.url in shown, disclosure.url


async def test_project_timeline_and_following(bot, lan):
    [project] = await rows(bot, Project)
    assert await lan.press("menu:projects") == [
        f"🏗️ Dự án, công trình — {HOAN_KIEM}\nChọn một dự án để xem chi tiết:"]
    assert lan.keyboard() == [[(f"{PROJECT} — 40%", f"project:{project.id}")], [BACK_TO_MENU]]

    [detail] = await lan.press(f"project:{project.id}")
    assert detail.startswith(
        f"• {PROJECT}\n  Trạng thái: đang thi công — tiến độ 40%\n  Kinh phí: 12.500.000.000 đồng\n"
        f"  Thời gian: {project.starts_on:%d/%m/%Y} → {project.ends_on:%d/%m/%Y}\n\n"
        "Lát lại vỉa hè đá tự nhiên, cải tạo rãnh thoát nước, hạ ngầm cáp.\n\nDiễn biến:")
    started = detail.index(": Khởi công (0%)")
    assert started < detail.index(": Hoàn thành lát vỉa hè đoạn từ Hàng Đào đến Đinh Liệt (40%)")
    follow_buttons = [[("🔔 Theo dõi dự án này", "follow")], [("⬅️ Danh sách dự án", "projects")], [BACK_TO_MENU]]
    assert lan.keyboard() == follow_buttons

    assert await lan.press("follow") == ["Bạn sẽ nhận tin mỗi khi dự án có cập nhật.", detail]
    assert lan.keyboard()[0] == [("🔕 Thôi theo dõi", "follow")]
    [subscription] = await rows(bot, Subscription)
    assert (subscription.topic, subscription.commune_code) == (f"project:{project.id}", DEMO_COMMUNE)

    assert await lan.press("follow") == ["Đã thôi theo dõi dự án.", detail]
    assert lan.keyboard() == follow_buttons
    assert await rows(bot, Subscription) == []
    assert await lan.press("projects") == [f"🏗️ Dự án, công trình — {HOAN_KIEM}\nChọn một dự án để xem chi tiết:"]


# -- 7. Dân bàn: a consultation ----------------------------------------------------------------------------

async def open_consultation(citizen: Citizen, mark: str) -> str:
    """Menu → consultations → the demo's consultation (🗳️ while open, 📊 once closed); returns its text."""
    await citizen.go_to_menu()
    assert await citizen.press("menu:consultations") == [
        "🗳️ Các cuộc lấy ý kiến (🗳️ đang mở, 📊 đã có kết quả):"]
    [[(label, data)], back] = citizen.keyboard()
    assert (label, back) == (f"{mark} {CONSULTATION}", [BACK_TO_MENU])
    [detail] = await citizen.press(data)
    return detail


async def test_vote_change_comment_then_results_after_closing(bot, lan, minh):
    [consultation] = await rows(bot, Consultation)
    closes = consultation.closes_at.replace(tzinfo=consultation.closes_at.tzinfo or timezone.utc)
    closes = f"{closes.astimezone(bot.runtime.settings.zone):%d/%m/%Y %H:%M}"
    detail = await open_consultation(lan, "🗳️")
    assert detail == f"{CONSULTATION}\n\n{consultation.body}\n\nHạn góp ý: {closes}\n\n{WHO_VOTES}\n{UNVERIFIED}"
    assert closes.endswith(" 17:00")
    back = [[("⬅️ Các cuộc lấy ý kiến", "consult:list")], [BACK_TO_MENU]]
    verify = [("🪪 Xác minh cư dân", "consult:verify")]
    assert lan.keyboard() == [[("Đồng ý", "vote:0")], [("Không đồng ý", "vote:1")],
                              [("Đồng ý nếu miễn phí cho người dân trong phố", "vote:2")], verify, *back]

    voted, shown = await lan.press("vote:0")
    assert voted == "Đã ghi nhận lựa chọn «Đồng ý»."
    assert shown == detail + "\n\nBạn đã chọn: Đồng ý. Bạn có thể đổi ý đến khi hết hạn."
    assert lan.keyboard() == [[("✅ Đồng ý", "vote:0")], [("Không đồng ý", "vote:1")],
                              [("Đồng ý nếu miễn phí cho người dân trong phố", "vote:2")],
                              [("💬 Thêm ý kiến", "consult:comment")], verify, *back]
    changed, _ = await lan.press("vote:1")
    assert changed == "Đã đổi lựa chọn thành «Không đồng ý»."
    assert lan.buttons()["✅ Không đồng ý"] == "vote:1" and "✅ Đồng ý" not in lan.buttons()

    assert await lan.press("consult:comment") == ["Hãy viết ý kiến của bạn (tối đa 1000 ký tự):"]
    assert lan.keyboard() == [[("⏭️ Bỏ qua", "consult:detail")]]
    commented, _ = await lan.say("Phố đã chật, nên để xe ở bãi Đinh Tiên Hoàng.")
    assert commented == "Cảm ơn bạn đã góp ý."
    [vote] = await rows(bot, ConsultationVote)
    assert (vote.option, vote.comment) == ("Không đồng ý", "Phố đã chật, nên để xe ở bãi Đinh Tiên Hoàng.")

    await open_consultation(minh, "🗳️")
    await minh.press("vote:2")

    async with bot.runtime.uows() as uow:
        await uow.session.execute(update(Consultation).values(closes_at=utcnow() - timedelta(minutes=1)))
        await uow.commit()
    late, result = await lan.press("vote:0")  # the old keyboard is still on her screen
    assert late == "Cuộc lấy ý kiến này đã kết thúc."
    # Neither has verified as a resident: both votes are in the unverified tally, none is official.
    assert result.endswith(
        "\n\n📊 Kết quả chính thức — cư dân đã xác minh (0 người):\n• Đồng ý: 0 (0%)\n• Không đồng ý: 0 (0%)\n"
        "• Đồng ý nếu miễn phí cho người dân trong phố: 0 (0%)\n"
        "📝 Phiếu chưa xác minh — chỉ để tham khảo, không tính vào kết quả chính thức (2 phiếu):\n"
        "• Đồng ý: 0 (0%)\n• Không đồng ý: 1 (50%)\n"
        "• Đồng ý nếu miễn phí cho người dân trong phố: 1 (50%)\n"
        "Một số ý kiến:\n“Phố đã chật, nên để xe ở bãi Đinh Tiên Hoàng.”")
    assert lan.keyboard() == back  # no more voting
    assert sorted(v.option for v in await rows(bot, ConsultationVote)) == [
        "Không đồng ý", "Đồng ý nếu miễn phí cho người dân trong phố"]

    assert await open_consultation(lan, "📊") == result
    # Minh's screen still shows the voting buttons: the vote is refused, his vote stays as it was.
    assert await minh.press("vote:1") == ["Cuộc lấy ý kiến này đã kết thúc.", result]
    assert sorted(v.option for v in await rows(bot, ConsultationVote)) == [
        "Không đồng ý", "Đồng ý nếu miễn phí cho người dân trong phố"]


@pytest.fixture
def server_clock_on_vietnam_time():
    """The host's local time set to UTC+7, as on a server installed in Vietnam (POSIX rule: no tz database needed)."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "ICT-7"
    time.tzset()
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


async def test_times_are_shown_in_vietnam_time_whatever_the_servers_clock(server_clock_on_vietnam_time, bot, lan):
    """SQLite hands back timestamps without a zone; read as the host's local time they would be 7 hours off."""
    [schedule] = await lan.press("menu:schedule")
    assert "07:30–11:30 (định kỳ: hằng tuần vào Thứ Năm)" in schedule
    [weekly] = await rows(bot, ReceptionSession, ReceptionSession.recurrence.is_not(None))
    data = [data for data in lan.buttons().values() if data.startswith(f"reg:{weekly.id}:")][-1]  # next week's
    registered, shown = await lan.press(data)
    assert re.fullmatch(r"Đã đăng ký dự buổi tiếp công dân \d\d/\d\d/\d{4} 07:30\. Bạn sẽ được nhắc trước một ngày\.",
                        registered)
    assert re.search(r"✅ Bạn đã đăng ký dự buổi \d\d/\d\d/\d{4} 07:30\.", shown)
    assert data not in lan.buttons().values()  # not offered again
    assert re.search(r"\nHạn góp ý: \d\d/\d\d/\d{4} 17:00\n", await open_consultation(lan, "🗳️"))


# -- 8. Dân kiểm tra and /privacy -----------------------------------------------------------------------------

async def test_statistics_show_the_communes_figures(bot, lan):
    await file_anonymous_feedback(lan)
    await file_complaint(lan)
    today = today_here(bot)
    [month] = await lan.press("menu:statistics")
    assert month == (
        f"📊 Kết quả tiếp nhận, giải quyết — {HOAN_KIEM}, tháng {today:%m/%Y}\n"
        "• Tổng cộng: nhận 2, đã trả lời 0, đúng hạn —, trung bình — ngày\n"
        "\nTheo loại:\n"
        "• ⚖️ Khiếu nại: nhận 1, đã trả lời 0, đúng hạn —, trung bình — ngày\n"
        "• 💬 Phản ánh, kiến nghị: nhận 1, đã trả lời 0, đúng hạn —, trung bình — ngày\n"
        "\nTheo lĩnh vực:\n"
        "• 🛣️ Đường sá, hạ tầng: nhận 1, đã trả lời 0, đúng hạn —, trung bình — ngày\n"
        "• 🏠 Đất đai, nhà ở: nhận 1, đã trả lời 0, đúng hạn —, trung bình — ngày")
    assert lan.keyboard() == [[("📅 Xem cả năm", "stats:year")], [BACK_TO_MENU]]
    [year] = await lan.press("stats:year")
    assert year.startswith(f"📊 Kết quả tiếp nhận, giải quyết — {HOAN_KIEM}, năm {today.year}\n"
                           "• Tổng cộng: nhận 2, đã trả lời 0")
    assert lan.keyboard() == [[("📅 Xem tháng này", "stats:month")], [BACK_TO_MENU]]


async def test_statistics_of_a_commune_with_nothing_received(bot, lan):
    [month] = await lan.press("menu:statistics")
    assert month.endswith(", tháng " + f"{today_here(bot):%m/%Y}\n"
                          "• Tổng cộng: nhận 0, đã trả lời 0, đúng hạn —, trung bình — ngày")


async def test_privacy_shows_and_erases_personal_data_keeping_the_item(bot, lan):
    code = await file_complaint(lan)
    await lan.go_to_menu()
    await lan.press("menu:schedule")
    await lan.press("schedule:toggle")  # one subscription

    [shown] = await lan.say("/privacy")
    assert shown == (
        "🔒 Dữ liệu của bạn mà hệ thống đang lưu:\n• Ngôn ngữ: 🇻🇳 Tiếng Việt\n"
        f"• Xã, phường: {HOAN_KIEM}\n• Kênh liên lạc: Telegram\n• Số hồ sơ đã gửi: 1\n"
        f"• Hồ sơ {code}: Nguyễn Thị Lan, Số 3 Hàng Bạc, tổ 5, 0912345678\n• Đăng ký nhận tin: 1\n"
        "Nhật ký hệ thống không ghi nội dung tin nhắn hay thông tin cá nhân của bạn.")
    assert lan.keyboard() == [[("🗑️ Xoá dữ liệu cá nhân", "privacy:erase")], [BACK_TO_MENU]]

    confirm = ("Xoá họ tên, địa chỉ, số điện thoại, lịch sử trò chuyện và các đăng ký của bạn? "
               "Các hồ sơ đã gửi vẫn được giữ để giải quyết nhưng không còn gắn với bạn, "
               "nên bạn sẽ không theo dõi được chúng nữa.")
    assert await lan.press("privacy:erase") == [confirm]
    assert lan.keyboard() == [[("🗑️ Có, xoá", "privacy:erase_yes")], [("Không", "privacy:show")]]
    assert await lan.press("privacy:show") == [shown]  # not yet
    assert len(await rows(bot, ItemContact)) == 1

    await lan.press("privacy:erase")
    assert await lan.press("privacy:erase_yes") == ["Đã xoá dữ liệu cá nhân của bạn. Gõ /start nếu muốn dùng lại."]
    [item] = await rows(bot, Item)
    assert (item.tracking_code, item.status, item.kind) == (code, "received", "complaint_first")
    assert (item.citizen_id, item.chat_id, item.anonymous) == (None, None, True)
    assert await rows(bot, ItemContact) == []
    assert await rows(bot, Subscription) == []
    assert await rows(bot, ChannelIdentity, ChannelIdentity.channel == "telegram") == []
    assert all(consent.withdrawn_at is not None for consent in await rows(bot, Consent))

    # A stranger again: greeted from the start, nothing of hers to see.
    assert await lan.say("/start") == [WELCOME]
    await lan.press("lang:vi")
    await lan.say("hoan kiem")
    await lan.press("commune:70")
    assert await lan.press("menu:track") == ["Bạn chưa gửi hồ sơ nào."]
    assert await lan.say(code) == ["Không tìm thấy hồ sơ có mã này trong các hồ sơ của bạn.", "Bạn chưa gửi hồ sơ nào."]
    [shown_after] = await lan.say("/privacy")
    assert "• Số hồ sơ đã gửi: 0\n• Bạn chưa cung cấp họ tên, địa chỉ hay số điện thoại.\n" in shown_after


# -- 9. Telegram's limits ------------------------------------------------------------------------------------

async def test_long_texts_stay_within_telegrams_limits(bot, lan):
    long_description = ("Đoạn đường trước số 12 phố Hàng Bạc bị sụt lún, nước đọng, xe máy ngã nhiều lần. " * 60)[:4000]
    assert await lan.say("ư" * 4001) == [
        "Tin nhắn quá dài (4001 ký tự). Vui lòng gửi tối đa 4000 ký tự mỗi lần.", MENU]
    code = await file_anonymous_feedback(lan, long_description)
    [item] = await rows(bot, Item)
    assert item.description == long_description  # stored whole, shown cut
    await lan.press("menu:track")
    [detail] = await lan.press(f"item:{item.id}")
    assert detail.startswith(f"Hồ sơ {code}\n") and long_description[:1500] in detail
    url = "https://hoankiem.hanoi.gov.vn/cong-khai/ngan-sach/2026/" + "phu-luc-" * 40 + "{n}.pdf"
    await add_disclosures(bot, "budget", 7, title="Dự toán ngân sách, phụ lục {n}",
                          body="Thuyết minh dự toán ngân sách phường. " * 40, url=url)
    await lan.go_to_menu()
    await lan.press("menu:disclosures")
    page = await lan.press("dcat:budget")  # five long entries: more than one Telegram message holds
    assert len(page) >= 2 and all(len(part) <= TEXT_LIMIT for part in page)
    assert [bool(params.get("reply_markup")) for params in bot.api.sent(CHAT)[-len(page):]] == [
        False] * (len(page) - 1) + [True]  # the keyboard rides on the last part
    assert lan.keyboard() == [[("➡️ Xem thêm", "dmore")], [("🗂️ Các loại thông tin", "dcats")], [BACK_TO_MENU]]
    whole = "\n".join(page)
    assert all(url.format(n=n) in whole for n in range(5))  # cut at line breaks: every link whole
    await lan.press("dmore")

    # Every test's fixture checks this at teardown; here also that the check itself bites.
    assert_within_telegram_limits(bot.api)
    assert sum(bool(params.get("reply_markup")) for params in bot.api.sent()) > 10  # and keyboards checked
    oversized = RecordingBotAPI()
    oversized.calls.append(("sendMessage", {"chat_id": CHAT, "text": "ạ" * (TEXT_LIMIT + 1)}))
    with pytest.raises(AssertionError, match="4097 characters"):
        assert_within_telegram_limits(oversized)
    forged = RecordingBotAPI()
    forged.calls.append(("sendMessage", {"chat_id": CHAT, "text": "ok", "reply_markup": {
        "inline_keyboard": [[{"text": "x", "callback_data": "ư" * 33}]]}}))
    with pytest.raises(AssertionError, match="66 bytes"):
        assert_within_telegram_limits(forged)


# -- officers and leaders in Telegram -------------------------------------------------------------------
# The officer's side through Telegram, end to end on both databases: an officer and a leader redeem
# invites in their own private chats, a citizen's denunciation reaches the officer at once with a button,
# the officer opens it (the denouncer's identity withheld), accepts, asks for information, the citizen
# adds it, the officer answers with a one-tap template; the leader reveals the identity with a reason and
# publishes an announcement; the citizen, in Telegram, hears of every move. The flows are the same as in
# the web chat (tests/test_officer.py); this proves their buttons and texts survive Telegram's shapes.

STAFF_UNIT = "Văn phòng HĐND và UBND phường"
OFFICER_CHAT, LEADER_CHAT = 5550101, 5550102


async def _staff(bot, chat: int, role: str) -> Citizen:
    person = Citizen(bot, chat)
    await person.start_in_hoan_kiem()
    [unit] = await rows(bot, Unit, Unit.name == STAFF_UNIT)
    code = await create_invite(bot.runtime.uows, unit.id, role)
    title = "lãnh đạo" if role == "leader" else "cán bộ"
    assert (await person.say(f"/officer {code}"))[0] == f"Bạn đã được ghi nhận là {title} của {STAFF_UNIT}."
    return person


async def test_an_officer_and_a_leader_handle_a_denunciation_in_telegram(bot, lan):
    officer = await _staff(bot, OFFICER_CHAT, "officer")
    leader = await _staff(bot, LEADER_CHAT, "leader")
    before = len(officer.texts())

    await lan.go_to_menu()
    await lan.press("menu:submit")
    await lan.press("kind:denunciation")
    await lan.press("category:public_order")
    await lan.say("Cán bộ địa chính X nhận tiền để bỏ qua công trình xây dựng trái phép ở ngõ 5 Hàng Bạc.")
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:yes")
    await lan.say("Trần Thị Hoa")
    await lan.say("Số 9 Hàng Bạc")
    await lan.say("0987654321")
    await lan.press("submit:send")
    [item] = await rows(bot, Item)

    # The officer is told at once, in their own chat, with a button to open the item.
    [notice] = officer.texts()[before:]
    assert notice.startswith(f"📥 Hồ sơ mới {item.tracking_code} (🛡️ Tố cáo)")
    assert ("Mở hồ sơ", f"g:oi:{item.id}") in [(label.split(" ", 1)[-1], data)
                                             for row in officer.keyboard() for label, data in row]
    view = (await officer.press(f"g:oi:{item.id}"))[-1]
    assert "Danh tính người tố cáo được bảo mật" in view
    assert "Trần Thị Hoa" not in view and "0987654321" not in view and "Số 9 Hàng Bạc" not in view
    assert "oa:accept" in officer.buttons().values()

    heard = await officer.press("oa:accept")
    assert heard[0] == f"Đã thực hiện «✅ Thụ lý» cho hồ sơ {item.tracking_code}."
    assert any("đã thụ lý" in text for text in lan.texts()[-3:])

    await officer.press("oa:request_info")
    await officer.say("Đề nghị cung cấp ảnh chụp công trình và thời điểm nhận tiền.")
    assert "Đề nghị cung cấp ảnh chụp công trình" in lan.texts()[-1]
    await lan.press(f"g:item:{item.id}")
    await lan.press("track:add_info")
    await lan.say("Việc nhận tiền xảy ra tối 12/11 tại quán nước đầu ngõ.")
    await lan.press("photos:done")

    await officer.press(f"g:oi:{item.id}")
    await officer.press("oa:answer")
    templates = {label: data for label, data in officer.buttons().items() if data.startswith("otpl:")}
    assert not templates or all(label.startswith("📋 ") for label in templates)
    await officer.say("Kết luận nội dung tố cáo số 3/KL-UBND: tố cáo đúng; đã xử lý kỷ luật cán bộ X.")
    [answer] = await rows(bot, ItemEvent, ItemEvent.action == "answer")
    assert answer.actor_id is not None and answer.note.startswith("Kết luận nội dung tố cáo số 3/KL-UBND")
    assert "Kết luận nội dung tố cáo số 3/KL-UBND" in lan.texts()[-1]

    # An officer cannot reveal identity; the leader can, with a reason that is logged.
    await officer.press(f"g:oi:{item.id}")
    assert "oreveal" not in officer.buttons().values()
    refused = await officer.press("oreveal")
    assert "Trần Thị Hoa" not in " ".join(refused)
    await leader.press(f"g:oi:{item.id}")
    assert "oreveal" in leader.buttons().values()
    await leader.press("oreveal")
    revealed = await leader.say("Phục vụ xác minh theo yêu cầu của Thanh tra huyện.")
    assert any("Trần Thị Hoa" in text and "0987654321" in text for text in revealed)
    [reveal] = await rows(bot, ItemEvent, ItemEvent.action == "reveal_identity")
    assert reveal.note == "Phục vụ xác minh theo yêu cầu của Thanh tra huyện."

    # The leader publishes an announcement; the subscribed citizen gets it in Telegram.
    await lan.press("g:menu")
    await lan.press("menu:schedule")
    await lan.press("schedule:toggle")  # follows the ward's reception announcements
    assert len(await rows(bot, Subscription)) == 1
    await leader.press("g:menu")
    await leader.say("/inbox")
    await leader.press("opub")
    await leader.press("opub:announce")
    await leader.say("Thứ Bảy 12/12 tổng vệ sinh phố Hàng Bạc từ 7 giờ.")
    await leader.press("opub:send")  # after its preview (issue 18)
    await bot.runtime.dispatcher.drain()
    assert any("Thứ Bảy 12/12 tổng vệ sinh phố Hàng Bạc" in text for text in lan.texts()[-2:])
