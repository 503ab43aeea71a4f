"""Citizen and officer journeys over the Zalo Bot Platform, end to end, on SQLite and PostgreSQL.

The platform has no keyboards, so everything here is typed: a number picks a numbered line, ``#1``
picks an option where the step takes free text, and a number typed where the citizen's own words are
asked (a house number, a phone number) stays their words. Updates reach our webhook from the fake
platform with its secret header; replies come back to the fake through the outbox.
"""

from __future__ import annotations

import re

import pytest
from bot.domain.workflow import Action
from bot.officers import create_invite
from bot.petitions import move
from storage.models import ConversationState, Item, ItemContact, ItemEvent, Unit
from tests import test_zalo_bot
from tests.test_zalo_bot import CHAT, WELCOME, ZaloUser

# The fake platform and a process serving the Zalo Bot by webhook, shared with test_zalo_bot.py.
fake, zb_settings, process = test_zalo_bot.fake, test_zalo_bot.zb_settings, test_zalo_bot.process

OFFICER_CHAT = "7a01c4b2d0e54f7a9a11"
ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
HOAN_KIEM = "Phường Hoàn Kiếm, Thành phố Hà Nội"
MENU = ("Bạn muốn làm gì? Chọn một mục bên dưới.\n\n"
        "1. 📝 Gửi phản ánh, khiếu nại, tố cáo\n2. 🔎 Hồ sơ của tôi\n3. 📅 Lịch tiếp công dân\n"
        "4. 📢 Thông tin công khai\n5. 🏗️ Dự án, công trình\n6. 🗳️ Lấy ý kiến người dân\n"
        "7. 📊 Kết quả giải quyết\n8. ⚙️ Ngôn ngữ, xã phường\n9. ❓ Hướng dẫn")
FREE_TEXT_HINT = "(Gõ # và số để chọn, ví dụ #1. Tin nhắn khác được ghi nhận là câu trả lời của bạn.)"
# No location sharing and no buttons on the Zalo Bot: the question says so (texts keyed "…@zalobot").
LOCATION_QUESTION = ("Sự việc ở đâu? Hãy gõ địa chỉ (số nhà, ngõ, tổ dân phố), hoặc chọn «Bỏ qua» nếu không cần.\n\n"
                     f"#1 ⏭️ Bỏ qua\n#2 🗑️ Huỷ\n{FREE_TEXT_HINT}")
ASK_PHONE = f"Số điện thoại để cán bộ liên hệ:\n\n#1 🗑️ Huỷ\n{FREE_TEXT_HINT}"
RECEIPT = re.compile(r"✅ Đã tiếp nhận\. Mã hồ sơ của bạn: (TD-[0-9A-Z]{5}-[0-9A-Z]{5})\n\n")
DESCRIPTION = "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần từ tuần trước."
COMPLAINT = "Tôi khiếu nại quyết định xử phạt số 15/QĐ-XPHC vì sai đối tượng."
PHOTO = "https://photo-stal.zadn.vn/tiepdan/o-ga-hang-bac.jpg"


async def start_in_hoan_kiem(person: ZaloUser) -> None:
    assert await person.say("/start") == [WELCOME]
    assert await person.say("1") == ["Đã chọn tiếng Việt.",
                                     "Bạn sống ở xã, phường nào? Hãy gõ tên, ví dụ: «Hoàn Kiếm» hoặc «xa Tan Lap»."]
    assert await person.say("hoan kiem") == [f"Chọn xã, phường của bạn:\n\n1. {HOAN_KIEM}\n2. 🔍 Tìm lại"]
    assert await person.say("1") == [f"Đã chọn: {HOAN_KIEM}.", MENU]


@pytest.fixture
async def lan(process) -> ZaloUser:
    citizen = ZaloUser(process, CHAT, "Lan")
    await start_in_hoan_kiem(citizen)
    return citizen


async def describe(citizen: ZaloUser, kind: str, category: str, text: str) -> None:
    """From the main menu to the photos question, choosing by number."""
    assert (await citizen.choose("Gửi phản ánh"))[0].startswith("Bạn muốn gửi loại nào?")
    assert (await citizen.choose(kind)) == [
        "Việc này thuộc lĩnh vực nào?\n\n1. 🏠 Đất đai, nhà ở\n2. 🌳 Môi trường, vệ sinh\n3. 🛣️ Đường sá, hạ tầng\n"
        "4. 🚨 Trật tự, an ninh\n5. 🤝 Chính sách xã hội\n6. 📄 Thủ tục hành chính\n7. 📌 Khác\n8. ⬅️ Về menu chính"]
    assert await citizen.choose(category) == [
        "Hãy mô tả sự việc: chuyện gì, ở đâu, từ khi nào. Viết càng rõ càng dễ giải quyết.\n\n"
        f"#1 ⬅️ Về menu chính\n{FREE_TEXT_HINT}"]
    assert (await citizen.say(text))[0].startswith("Bạn có ảnh chụp hiện trường không?")


def tracking_code(receipt: str) -> str:
    match = RECEIPT.match(receipt)
    assert match, receipt
    return match.group(1)


async def send_summary(citizen: ZaloUser) -> str:
    """Choose «📨 Gửi» on the summary: the receipt, then the main menu. Returns the tracking code."""
    assert citizen.options()["📨 Gửi"] == "1"
    receipt, menu = await citizen.choose("📨 Gửi")
    assert menu == MENU
    return tracking_code(receipt)


async def file_feedback(citizen: ZaloUser, text: str = DESCRIPTION) -> str:
    await describe(citizen, "Phản ánh, kiến nghị", "Đường sá", text)
    await citizen.choose("Bỏ qua")
    await citizen.choose("Bỏ qua")
    await citizen.choose("Gửi ẩn danh")
    return await send_summary(citizen)


# -- submitting ------------------------------------------------------------------------------------------

async def test_feedback_with_a_photo_and_a_typed_house_number_that_is_also_an_option_number(process, lan):
    await describe(lan, "Phản ánh, kiến nghị", "Đường sá", DESCRIPTION)
    added = await lan.send_photo(PHOTO)
    assert added == ["Đã nhận ảnh 1/5.\n\n1. ✅ Xong\n2. 🗑️ Huỷ"]
    assert await lan.say("1") == [LOCATION_QUESTION]
    # "2" is the house number where it happened, not «🗑️ Huỷ» (#2): the step takes free text.
    consent = await lan.say("2")
    assert consent[0].startswith("Để báo kết quả cho bạn, chúng tôi cần họ tên")
    assert lan.options() == {"✅ Đồng ý": "1", "🙈 Gửi ẩn danh": "2", "🗑️ Huỷ": "3"}
    summary = await lan.say("2.")
    assert "Ảnh: 1\nVị trí: 2\nNgười gửi: ẩn danh" in summary[0]
    code = await send_summary(lan)
    [item] = await process.rows(Item)
    assert (item.tracking_code, item.kind, item.channel, item.chat_id) == (code, "feedback", "zalobot", CHAT)
    assert item.photos == [PHOTO] and item.address == "2" and item.description == DESCRIPTION


async def test_a_complaint_with_consent_and_a_typed_phone_number(process, lan):
    await describe(lan, "Khiếu nại", "Đất đai", COMPLAINT)
    assert await lan.say(" 1 ") == [LOCATION_QUESTION]  # «⏭️ Bỏ qua» of the photos question
    consent = await lan.say("#1")                       # «⏭️ Bỏ qua» of the place, written #1 there
    assert consent[0].startswith("Để thụ lý khiếu nại theo Điều 8 Luật Khiếu nại, chúng tôi cần họ tên")
    assert await lan.say("9") == ["Không có lựa chọn số 9. Hãy gõ một trong các số dưới đây.", consent[0]]
    assert (await lan.choose("Đồng ý"))[0].startswith("Họ và tên đầy đủ của bạn:")
    assert (await lan.say("Nguyễn Thị Lan"))[0].startswith("Địa chỉ nơi ở của bạn")
    assert await lan.say("Số 3 Hàng Bạc, tổ 5") == [ASK_PHONE]
    summary = await lan.say("0912345678")  # a number, and the answer to the question
    assert "Người gửi: Nguyễn Thị Lan" in summary[0]
    code = await send_summary(lan)
    [item] = await process.rows(Item)
    [contact] = await process.rows(ItemContact)
    assert (item.tracking_code, item.kind) == (code, "complaint_first")
    assert (contact.full_name, contact.address, contact.phone) == ("Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5", "0912345678")


async def test_cancel_and_menu_work_as_typed_commands(process, lan):
    await describe(lan, "Phản ánh, kiến nghị", "Đường sá", DESCRIPTION)
    # A half-written submission: /menu asks first (issue 18), and keeps it as a draft when told to.
    [asked] = await lan.say("/menu")
    assert asked.startswith("Bạn đang soạn dở") and "Bỏ bản nháp" in asked
    assert await lan.choose("Bỏ bản nháp") == ["Đã bỏ bản nháp.", MENU]
    assert (await lan.choose("Gửi phản ánh"))[0].startswith("Bạn muốn gửi loại nào?")
    assert await lan.say("/cancel") == ["Đã huỷ. Bạn có thể chọn việc khác.", MENU]
    assert await process.rows(Item) == []


# -- tracking ----------------------------------------------------------------------------------------------

async def test_the_tracking_list_and_an_items_timeline_by_number(process, lan):
    first = await file_feedback(lan)
    second = await file_feedback(lan, "Đèn đường ngõ 12 Hàng Bạc bị hỏng, buổi tối rất tối và nguy hiểm.")
    [listing] = await lan.choose("Hồ sơ của tôi")
    assert listing.startswith("Hồ sơ của bạn (2):")
    entries = lan.options(listing)
    assert entries[f"{second} · 💬 Phản ánh, kiến nghị · đã tiếp nhận"] == "1"
    assert entries[f"{first} · 💬 Phản ánh, kiến nghị · đã tiếp nhận"] == "2"
    [detail] = await lan.say("2")
    assert detail.startswith(f"Hồ sơ {first}\nLoại: 💬 Phản ánh, kiến nghị\nLĩnh vực: 🛣️ Đường sá, hạ tầng\n"
                             "Trạng thái: đã tiếp nhận")
    assert DESCRIPTION in detail and "\n\nDiễn biến:\n• " in detail
    [back] = await lan.choose("Danh sách hồ sơ")
    assert back.startswith("Hồ sơ của bạn (2):")
    typed_code = await lan.say(second.lower().replace("-", " "))  # a tracking code typed by hand
    assert typed_code[0].startswith(f"Hồ sơ {second}\n")


# -- the officer ---------------------------------------------------------------------------------------------

async def test_an_officer_answers_by_number_and_the_citizen_reads_the_answer(process, lan):
    [unit] = await process.rows(Unit, Unit.name == ECONOMY)
    officer = ZaloUser(process, OFFICER_CHAT, "Cán bộ Minh")
    await start_in_hoan_kiem(officer)
    code = await create_invite(process.runtime.uows, unit.id, "officer")
    welcome, inbox = await officer.say(f"/officer {code}")
    assert welcome == f"Bạn đã được ghi nhận là cán bộ của {ECONOMY}."
    assert inbox.startswith("📥 Đang mở: không có hồ sơ nào.\n\n")
    inbox_lines = officer.options(inbox)

    tracking = await file_feedback(lan)
    [item] = await process.rows(Item)
    [notice] = officer.texts()[-1:]
    assert notice.startswith(f"📥 Hồ sơ mới {tracking} (💬 Phản ánh, kiến nghị). Hạn đầu tiên:")
    # The notice continues the numbering of the inbox still on the officer's screen.
    open_number = officer.number_of("Mở hồ sơ")
    assert open_number == str(len(inbox_lines) + 1)
    view = await officer.say(open_number)
    assert view[0].startswith(f"Hồ sơ {tracking} — 💬 Phản ánh, kiến nghị")
    assert DESCRIPTION in view[0]
    accepted = await officer.choose("Thụ lý")
    assert accepted[0] == f"Đã thực hiện «✅ Thụ lý» cho hồ sơ {tracking}."
    ask = await officer.choose("Trả lời, ra quyết định")
    assert ask[0].startswith("Nội dung trả lời hoặc quyết định giải quyết (có thể gửi kèm") and "\n#1 📋 " in ask[0]
    answer = "Đã vá ổ gà trước số 12 Hàng Bạc ngày 02/12."
    done = await officer.say(answer)
    assert done[0] == f"Đã thực hiện «💬 Trả lời, ra quyết định» cho hồ sơ {tracking}."
    [event] = await process.rows(ItemEvent, ItemEvent.action == "answer")
    assert event.note == answer and event.item_id == item.id

    # Lan sits at the main menu (1–9); the news arrives with the next free number.
    news = [text for text in lan.texts() if text.startswith(f"🔔 Hồ sơ {tracking}")]
    assert any(answer in text for text in news)
    accepted_notice, answered_notice = news
    assert accepted_notice.endswith("\n\n10. 🔎 Xem hồ sơ") and answered_notice.endswith("\n\n11. 🔎 Xem hồ sơ")
    [detail] = await lan.say("11")
    assert detail.startswith(f"Hồ sơ {tracking}\n") and "💬 Trả lời của cơ quan" in detail and answer in detail
    assert lan.options(detail)["😊 Hài lòng"] == "1"


async def test_a_notification_between_steps_takes_a_number_of_its_own(process, lan):
    tracking = await file_feedback(lan)
    [item] = await process.rows(Item)
    await describe(lan, "Phản ánh, kiến nghị", "Môi trường", "Rác thải đổ trộm ở đầu ngõ 5 Hàng Bạc mỗi tối.")
    assert lan.options() == {"⏭️ Bỏ qua": "1", "🗑️ Huỷ": "2"}  # the photos question
    async with process.runtime.uows() as uow:  # meanwhile an officer accepts the first report
        await move(uow, await uow.session.get(Item, item.id), Action.accept, actor_id=None)
        await uow.commit()
    await process.settle()
    assert lan.texts()[-1] == f"🔔 Hồ sơ {tracking}: đã thụ lý.\n\n3. 🔎 Xem hồ sơ"
    [state] = await process.rows(ConversationState, ConversationState.chat_id == CHAT)
    assert state.data["numbered"]["choices"] == {"1": "photos:done", "2": "submit:cancel", "3": f"g:item:{item.id}"}
    # "3" opens the item; the photos question's 1 and 2 would still have meant what they said.
    [detail] = await lan.say("3")
    assert detail.startswith(f"Hồ sơ {tracking}\nLoại: 💬 Phản ánh, kiến nghị")
    # The new screen numbers from 1 again, and the notice's number is gone with the old one.
    [state] = await process.rows(ConversationState, ConversationState.chat_id == CHAT)
    assert sorted(state.data["numbered"]["choices"]) == sorted(lan.options(detail).values())
    assert f"g:item:{item.id}" not in state.data["numbered"]["choices"].values()


async def test_a_number_stays_with_its_line_when_the_officer_is_also_the_citizen(process, lan):
    [unit] = await process.rows(Unit, Unit.name == ECONOMY)  # Lan works in the unit her own report goes to
    code = await create_invite(process.runtime.uows, unit.id, "officer")
    await lan.say(f"/officer {code}")
    await lan.say("/menu")
    await describe(lan, "Phản ánh, kiến nghị", "Đường sá", DESCRIPTION)
    await lan.choose("Bỏ qua")
    await lan.choose("Bỏ qua")
    await lan.choose("Gửi ẩn danh")
    receipt_step = await lan.choose("📨 Gửi")
    notice = next(text for text in receipt_step if text.startswith("📥 Hồ sơ mới"))
    # Queued in the same step as the receipt and the menu, the notice keeps a number of its own.
    open_number = lan.options(notice)["📂 Mở hồ sơ"]
    # The notice goes out when the step commits (the item's id is in its button), after the menu.
    menu = next(text for text in receipt_step if text.startswith("Bạn muốn làm gì?"))
    menu_numbers = set(lan.options(menu).values())
    assert open_number not in menu_numbers
    view = await lan.say(open_number)
    assert DESCRIPTION in view[0]


async def test_the_officers_own_step_and_a_notice_to_him_in_one_group_keep_numbers_of_their_own(
        process, lan, monkeypatch):
    """Group commit: the officer's own message and a citizen's confirmation in one transaction. The
    new-item notice to the officer is numbered while the citizen's step runs; the officer's own reply,
    queued after both steps wrote their conversations, must continue that numbering, so no number
    stands for two lines and the notice's opens the new item."""
    import asyncio

    import handlers.pipeline as pipeline
    from bot.channels.zalo_bot import to_incoming, unwrap
    from handlers.pipeline import group_commit_for, handle_incoming

    [unit] = await process.rows(Unit, Unit.name == ECONOMY)
    officer = ZaloUser(process, OFFICER_CHAT, "Cán bộ Minh")
    await start_in_hoan_kiem(officer)
    await officer.say(f"/officer {await create_invite(process.runtime.uows, unit.id, 'officer')}")
    await describe(lan, "Phản ánh, kiến nghị", "Đường sá", DESCRIPTION)
    await lan.choose("Bỏ qua")
    await lan.choose("Bỏ qua")
    await lan.choose("Gửi ẩn danh")
    send_number = lan.number_of("📨 Gửi")

    groups: list[set[str]] = []
    real = pipeline._process_group

    async def recorded(group, uows):
        groups.append({waiting.incoming.chat_id for waiting in group})
        return await real(group, uows)

    monkeypatch.setattr(pipeline, "_process_group", recorded)
    monkeypatch.setattr(group_commit_for(process.runtime.uows), "parallel", 1)
    before = len(officer.texts())
    # Arriving together, the two meet in one transaction (one group at a time here, as on SQLite).
    updates = [process.fake.text(OFFICER_CHAT, "/inbox", display_name="Cán bộ Minh"),
               process.fake.text(CHAT, send_number, display_name="Lan")]
    results = await asyncio.gather(*(handle_incoming(to_incoming(unwrap(update)), process.runtime.uows,
                                                     process.runtime.settings) for update in updates))
    await process.settle()
    assert all(result.outcome is pipeline.Outcome.handled for result in results)
    assert groups == [{CHAT, OFFICER_CHAT}]

    [item] = await process.rows(Item)
    received = officer.texts()[before:]
    notice = next(text for text in received if text.startswith("📥 Hồ sơ mới"))
    inbox = next(text for text in received if text.startswith("📥 Đang mở"))
    numbers = [*officer.options(notice).values(), *officer.options(inbox).values()]
    assert len(numbers) == len(set(numbers))  # no number stands for two lines
    [state] = await process.rows(ConversationState, ConversationState.chat_id == OFFICER_CHAT)
    choices = state.data["numbered"]["choices"]
    assert choices[officer.options(notice)["📂 Mở hồ sơ"]] == f"g:oi:{item.id}"
    assert sorted(choices) == sorted(numbers)
    view = await officer.say(officer.options(notice)["📂 Mở hồ sơ"])
    assert view[0].startswith(f"Hồ sơ {item.tracking_code} — 💬 Phản ánh, kiến nghị")
