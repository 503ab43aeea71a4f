"""Citizen and officer journeys over the Zalo Official Account, end to end, on SQLite and PostgreSQL.

The same journeys as on Telegram (test_telegram_journeys.py), lived in the Zalo app: signed webhook
events from the local fake of Zalo go to our webhook, through the flows and the outbox, and out to the
fake OA API, which records what the citizen's chat shows — texts, the buttons under them (five at
most a message), pictures and Zalo's contact-sharing card.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.domain.workflow import Action
from bot.officers import create_invite
from bot.petitions import move
from storage.models import (
    ChannelIdentity,
    Consent,
    ConversationState,
    Item,
    ItemContact,
    ItemEvent,
    OutboxMessage,
    Unit,
)
from tests.test_telegram_journeys import (
    COMPLAINT,
    CONSENT_QUESTION,
    DESCRIPTION,
    KIND_QUESTION,
    PHOTOS_QUESTION,
    RECEIPT,
    summary_text,
)
from tests import test_zalo_oa
from tests.test_zalo_oa import HOAN_KIEM, LAN, MENU, MENU_BUTTONS, MINH, MORE, WELCOME, ZaloUser, buttons

# The fake Zalo, the process and Lan at the main menu, as in the channel's own tests.
fake, open_process, zalo, lan = test_zalo_oa.fake, test_zalo_oa.open_process, test_zalo_oa.zalo, test_zalo_oa.lan

ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
PHOTO = "https://photo-stal-1.zdn.vn/2026/11/23/o-ga-hang-bac.jpg"
ASK_NAME = "Họ và tên đầy đủ của bạn:"
ASK_ADDRESS = "Địa chỉ nơi ở của bạn (số nhà, đường, tổ dân phố…):"
ASK_PHONE = "Số điện thoại để cán bộ liên hệ:"
CARD = "[thẻ: 📇 Chia sẻ thông tin liên hệ]"
NOT_NEEDED = "Cảm ơn bạn. Lúc này chưa cần thông tin liên hệ nên thông tin vừa chia sẻ không được lưu lại."


def code_of(receipt: str) -> str:
    match = RECEIPT.match(receipt)
    assert match, receipt
    return match.group(1)


async def describe(user: ZaloUser, kind: str, category: str, text: str) -> None:
    """From the menu to the photos question."""
    assert await user.press("menu:submit") == [KIND_QUESTION]
    await user.press(f"kind:{kind}")
    await user.press(f"category:{category}")
    assert await user.say(text) == [PHOTOS_QUESTION]


async def file_feedback(user: ZaloUser) -> str:
    await describe(user, "feedback", "infrastructure", DESCRIPTION)
    await user.press("photos:done")
    await user.press("location:skip")
    await user.press("consent:anonymous")
    receipt, menu, more = await user.press("submit:send")
    assert (menu, more) == (MENU, MORE)
    return code_of(receipt)


async def only(process, model, *where):
    [row] = await process.rows(model, *where)
    return row


# -- start and the menu ---------------------------------------------------------------------------------

async def test_a_follow_greets_and_leads_to_the_main_menu(fake, zalo):
    lan = ZaloUser(fake, zalo, LAN)
    assert await lan.follow() == [WELCOME]
    assert lan.last_buttons() == [("🇻🇳 Tiếng Việt", "lang:vi"), ("🇬🇧 English", "lang:en")]
    assert await lan.press("lang:vi") == [
        "Đã chọn tiếng Việt.", "Bạn sống ở xã, phường nào? Hãy gõ tên, ví dụ: «Hoàn Kiếm» hoặc «xa Tan Lap»."]
    assert await lan.say("hoan kiem") == ["Chọn xã, phường của bạn:"]
    assert lan.last_buttons() == [(HOAN_KIEM, "commune:70"), ("🔍 Tìm lại", "commune:again")]
    assert await lan.press("commune:70") == [f"Đã chọn: {HOAN_KIEM}.", MENU, MORE]
    assert lan.last_buttons() == MENU_BUTTONS
    identity = await only(zalo, ChannelIdentity)
    assert (identity.channel, identity.external_id, identity.last_chat_id) == ("zalo", LAN, LAN)
    # «Nhắn tin» on the OA's page mid-conversation does not throw the conversation away.
    await lan.press("menu:submit")
    assert await lan.deliver(fake.event("user_click_chatnow", LAN)) == []
    assert (await only(zalo, ConversationState)).flow == "submit"


# -- filing ---------------------------------------------------------------------------------------------

async def test_feedback_with_a_photo_and_a_shared_location_gets_a_receipt(fake, lan):
    await describe(lan, "feedback", "infrastructure", DESCRIPTION)
    assert [b for _, b in lan.last_buttons()] == ["photos:done", "submit:cancel"]
    assert await lan.deliver(fake.image_event(LAN, PHOTO)) and lan.fake.messages(LAN)[-1]["text"] == "Đã nhận ảnh 1/5."
    # Zalo's own way to share a place, not Telegram's 📎 (issue 18).
    assert await lan.press("photos:done") == [
        "Sự việc ở đâu? Gửi vị trí từ Zalo (bấm dấu «…» cạnh ô nhập → Vị trí) hoặc gõ địa chỉ. Bấm «Bỏ qua» nếu không cần."]
    pin = [m["text"] for m in await lan.deliver(fake.location_event(LAN, 21.03412, 105.85123))]
    assert pin == ["Đã ghi nhận vị trí.", CONSENT_QUESTION.format(purpose="báo kết quả cho bạn")]
    assert await lan.press("consent:anonymous") == [summary_text(
        "💬 Phản ánh, kiến nghị", "🛣️ Đường sá, hạ tầng", DESCRIPTION, 1, "đã gửi vị trí trên bản đồ", "ẩn danh")]
    receipt, menu, more = await lan.press("submit:send")
    code = code_of(receipt)
    assert f"Cán bộ {ECONOMY} sẽ xử lý." in receipt and "(Luật Tiếp công dân 2013, Điều 28 khoản 1)" in receipt
    item = await only(lan.process, Item)
    assert (item.tracking_code, item.channel, item.chat_id, item.photos) == (code, "zalo", LAN, [PHOTO])
    assert (round(item.latitude, 5), round(item.longitude, 5), item.anonymous) == (21.03412, 105.85123, True)


async def test_a_complaint_takes_contact_details_from_zalos_card_only_after_consent(fake, lan):
    # Shared before anyone asked: thanked, and nothing kept.
    assert [m["text"] for m in await lan.deliver(fake.submit_info_event(LAN, name="Nguyễn Thị Lan", phone="84912345678"))
            ] == [NOT_NEEDED]
    await describe(lan, "complaint_first", "land", COMPLAINT)
    await lan.press("photos:done")
    assert await lan.press("location:skip") == [CONSENT_QUESTION.format(purpose="thụ lý khiếu nại theo Điều 8 Luật Khiếu nại")]
    # Still not asked: the consent question is on screen.
    assert [m["text"] for m in await lan.deliver(fake.submit_info_event(LAN, name="Nguyễn Thị Lan"))] == [NOT_NEEDED]

    assert await lan.press("consent:yes") == [ASK_NAME, CARD]
    shared = await lan.deliver(fake.submit_info_event(
        LAN, name="Nguyễn Thị Lan", phone="84912345678", address="Số 3 Hàng Bạc, tổ 5", ward="Phường Hoàn Kiếm",
        district="", city="Hà Nội"))
    *prompts, summary = [m["text"] for m in shared]
    assert prompts == [ASK_ADDRESS, ASK_PHONE]  # each field went through the flow as if typed
    assert summary == summary_text("⚖️ Khiếu nại", "🏠 Đất đai, nhà ở", COMPLAINT, 0, "không có", "Nguyễn Thị Lan")
    receipt, _, _ = await lan.press("submit:send")
    item = await only(lan.process, Item)
    contact = await only(lan.process, ItemContact)
    assert item.tracking_code == code_of(receipt) and item.kind == "complaint_first" and not item.anonymous
    assert (contact.full_name, contact.address, contact.phone) == (
        "Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5, Phường Hoàn Kiếm, Hà Nội", "84912345678")
    assert [c.purpose for c in await lan.process.rows(Consent)] == ["petition_contact"]


async def test_a_shared_phone_the_flow_cannot_read_is_asked_for_again(fake, lan):
    await describe(lan, "complaint_first", "land", COMPLAINT)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:yes")
    shared = [m["text"] for m in await lan.deliver(fake.submit_info_event(
        LAN, name="Nguyễn Thị Lan", phone="12345", address="Số 3 Hàng Bạc"))]
    assert shared == [ASK_ADDRESS, ASK_PHONE, "Số điện thoại chưa đúng. Hãy gõ 10 chữ số, ví dụ 0912345678."]
    # The citizen types it; a number typed at a question is text, never a menu choice.
    [summary] = await lan.say("0912 345 678")
    assert summary.startswith("Kiểm tra lại trước khi gửi:") and "Người gửi: Nguyễn Thị Lan" in summary


# -- tracking -------------------------------------------------------------------------------------------

async def test_my_items_list_and_an_items_timeline(fake, lan):
    code = await file_feedback(lan)
    item = await only(lan.process, Item)
    [listing] = await lan.press("menu:track")
    assert listing.startswith("Hồ sơ của bạn (1):\n") and f"• {code}: đã tiếp nhận" in listing
    assert lan.last_buttons()[0] == (f"{code} · 💬 Phản ánh, kiến nghị · đã tiếp nhận", f"item:{item.id}")
    [detail] = await lan.press(f"item:{item.id}")
    assert detail.startswith(f"Hồ sơ {code}\nLoại: 💬 Phản ánh, kiến nghị\n")
    assert "\n\nDiễn biến:\n• " in detail and detail.endswith(": Tiếp nhận hồ sơ")
    assert "track:withdraw" in [value for _, value in lan.last_buttons()]


# -- the officer's side ---------------------------------------------------------------------------------

async def test_an_officer_redeems_an_invite_works_the_inbox_and_the_citizen_gets_the_answer(fake, zalo, lan):
    [economy] = await zalo.rows(Unit, Unit.name == ECONOMY)
    invite = await create_invite(zalo.runtime.uows, economy.id, "officer")
    minh = ZaloUser(fake, zalo, MINH)
    await minh.start_in_hoan_kiem()
    welcome, inbox, *_ = await minh.say(f"/officer {invite}")
    assert welcome == f"Bạn đã được ghi nhận là cán bộ của {ECONOMY}."
    assert inbox.startswith("📥 ")

    code = await file_feedback(lan)
    item = await only(zalo, Item)
    [notice] = [m for m in fake.messages(MINH) if m["text"].startswith("📥 Hồ sơ mới")]
    assert notice["text"].startswith(f"📥 Hồ sơ mới {code} (💬 Phản ánh, kiến nghị). Hạn đầu tiên: ")
    assert buttons(notice) == [("📂 Mở hồ sơ", f"g:oi:{item.id}")]

    [view] = await minh.press(f"g:oi:{item.id}")  # an anonymous item: no in-person verification offered
    assert view.startswith(f"Hồ sơ {code} — 💬 Phản ánh, kiến nghị\n") and DESCRIPTION in view
    assert (await minh.press("oa:accept"))[0] == f"Đã thực hiện «✅ Thụ lý» cho hồ sơ {code}."
    assert fake.messages(LAN)[-1]["text"] == f"🔔 Hồ sơ {code}: đã thụ lý."
    assert buttons(fake.messages(LAN)[-1]) == [("🔎 Xem hồ sơ", f"g:item:{item.id}")]

    assert (await minh.press("oa:answer"))[0].startswith("Nội dung trả lời hoặc quyết định giải quyết (có thể gửi kèm")
    answer = "Đã vá ổ gà trước số 12 Hàng Bạc ngày 25/11. Cảm ơn ông/bà đã phản ánh."
    assert (await minh.say(answer))[0] == f"Đã thực hiện «💬 Trả lời, ra quyết định» cho hồ sơ {code}."
    assert fake.messages(LAN)[-1]["text"] == f"🔔 Hồ sơ {code}: đã trả lời.\n\n{answer}"
    [inbox_again, *_] = await minh.say("/inbox")
    assert inbox_again.startswith("📥 ")
    [detail] = await lan.press(f"g:item:{item.id}")
    assert answer in detail


# -- Zalo's 7-day window --------------------------------------------------------------------------------

async def test_a_notification_outside_the_window_is_held_shown_on_the_item_and_delivered_on_return(fake, lan):
    code = await file_feedback(lan)
    fake.advance(days=8)  # Lan has not written for eight days when the answer comes
    async with lan.process.runtime.uows() as uow:
        item = (await uow.session.execute(select(Item))).scalar_one()
        await move(uow, item, Action.accept, actor_id=None)
        await move(uow, item, Action.answer, actor_id=None, note="Đã vá ổ gà trước số 12 Hàng Bạc.")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    held = await lan.process.rows(OutboxMessage, OutboxMessage.item_id == item.id)
    assert [r.status for r in held] == ["held", "held"]
    # Zalo refused the first; the chat's next one was held with it, not tried.
    assert [r.last_error for r in held] == ["window_closed: zalo error -230: User has not interacted with the OA "
                                            "in the past 7 days"] * 2
    assert [e.data["reason"] for e in await lan.process.rows(ItemEvent, ItemEvent.action == "notice_held")] == [
        "window_closed", "window_closed"]

    # Lan writes again: the two notifications arrive first, in order, then the answer to what she wrote.
    back = await lan.say("/menu")
    assert back == [
        "⏳ 2 tin nhắn dưới đây chưa gửi được cho bạn lúc trước nên đã được giữ lại; nay gửi lại theo thứ tự."
        f"\n\n🔔 Hồ sơ {code}: đã thụ lý.",
        f"🔔 Hồ sơ {code}: đã trả lời.\n\nĐã vá ổ gà trước số 12 Hàng Bạc.", MENU, MORE]
    [detail] = await lan.press(f"g:item:{item.id}")
    timeline = detail.split("Diễn biến:")[1]
    assert re.search(r"• \d\d/\d\d/\d{4}: ⚠️ Thông báo chưa gửi được: đã quá 7 ngày kể từ lần cuối bạn "
                     r"nhắn tin, Zalo không cho phép gửi tiếp\. Thông báo được giữ lại", timeline)
    assert timeline.rstrip().endswith("Đã gửi lại thông báo bị giữ")
    assert all(r.status == "sent" for r in await lan.process.rows(OutboxMessage, OutboxMessage.item_id == item.id))


async def test_an_unfollowers_item_shows_why_its_notification_did_not_arrive(fake, lan):
    code = await file_feedback(lan)
    await lan.unfollow()
    async with lan.process.runtime.uows() as uow:
        item = (await uow.session.execute(select(Item))).scalar_one()
        await move(uow, item, Action.accept, actor_id=None)
        await uow.commit()
    calls = fake.send_calls
    await lan.process.runtime.dispatcher.drain()
    assert fake.send_calls == calls
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.item_id == item.id)
    assert (row.status, row.last_error) == ("held", "unfollowed: not attempted")
    greeting = await lan.follow()
    assert greeting[0].endswith(f"\n\n🔔 Hồ sơ {code}: đã thụ lý.")
    [detail] = await lan.press(f"g:item:{item.id}")
    assert "⚠️ Thông báo chưa gửi được: bạn đã bỏ quan tâm trang Zalo của UBND." in detail
