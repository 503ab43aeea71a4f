"""Issue 18, part 2: a conversation that forgives, through the web chat API on SQLite and PostgreSQL.

Channel-true instructions (5), adding information in several messages until «Xong» (6), typed text at
a menu (7), «Menu» with a half-written submission and drafts (8), contact details offered back (11).
"""

from __future__ import annotations

from sqlalchemy import select

from bot.domain.workflow import Action
from storage.models import ChannelIdentity, Item, ItemContact, ItemEvent, OutboxMessage, User
from tests.test_follow_up import _officer
from tests.webchat import DESCRIPTION, buttons, describe, file_feedback, file_item, rows

MENU = "Bạn muốn làm gì? Chọn một mục bên dưới."
STALE = "Nút này đã cũ hoặc không còn hiệu lực. Đây là bước hiện tại của bạn:"
CONTACT = ("Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5", "0912345678")


def texts(messages: list[dict]) -> list[str]:
    return [message["text"] for message in messages]


# -- 5: instructions true to the channel ------------------------------------------------------------------

async def test_the_web_chat_is_told_of_its_own_location_button_and_privacy_names_channels(citizen):
    await citizen.send(button="menu:submit")
    await citizen.send(button="kind:feedback")
    await citizen.send(button="category:infrastructure")
    await citizen.send(DESCRIPTION)
    [location] = await citizen.send(button="photos:done")
    assert location["text"].startswith("Sự việc ở đâu? Bấm nút 📍 cạnh ô nhập")
    assert "📎" not in location["text"]
    [page] = await citizen.send("/privacy")
    assert "• Kênh liên lạc: Trò chuyện trên trang web\n" in page["text"]
    assert "Kênh liên lạc: web" not in page["text"]


async def test_typing_at_the_privacy_page_does_not_send_the_whole_page_again(citizen):
    await citizen.send("/privacy")
    answer = await citizen.send("cho tôi hỏi")
    assert texts(answer) == ["Ở đây chỉ xem hoặc xoá dữ liệu của bạn. Hãy chọn một nút bên dưới."]
    assert set(buttons(answer[0]).values()) == {"privacy:erase", "g:menu"}


# -- 7: typed text at the menu ---------------------------------------------------------------------------

async def test_a_sentence_typed_at_the_menu_is_offered_as_a_feedback_and_kept(runtime, citizen):
    offered = await citizen.send(DESCRIPTION)
    assert offered[0]["text"] == (f"Bạn vừa gõ: «{DESCRIPTION}»\n\nBạn có muốn gửi nội dung này thành một phản ánh, "
                                  "kiến nghị tới UBND không? Hoặc chọn một mục trong menu.")
    assert buttons(offered[0]) == {"📨 Gửi nội dung này thành phản ánh": "menu:typed"}
    assert offered[-1]["text"] == MENU  # the menu is still there to choose from
    kept = await citizen.send(button="menu:typed")
    assert kept[0]["text"].startswith("Đã dùng nội dung bạn vừa gõ làm phần mô tả.")
    assert kept[-1]["text"] == "Việc này thuộc lĩnh vực nào?"
    photos = await citizen.send(button="category:infrastructure")  # the description is not asked again
    assert photos[-1]["text"].startswith("Bạn có ảnh chụp hiện trường không?")
    await citizen.send(button="photos:done")
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:anonymous")
    await citizen.send(button="submit:send")
    [item] = await rows(runtime, Item)
    assert (item.kind, item.description) == ("feedback", DESCRIPTION)


async def test_a_short_word_at_the_menu_gets_a_pointer_and_an_own_code_opens_the_item(runtime, citizen):
    answer = await citizen.send("alo")
    assert answer[0]["text"].startswith("Hãy chọn một mục bên dưới. Muốn gửi phản ánh") and answer[-1]["text"] == MENU
    await file_feedback(citizen)
    [item] = await rows(runtime, Item)
    opened = await citizen.send(item.tracking_code.lower())
    assert opened[-1]["text"].startswith(f"Hồ sơ {item.tracking_code}\nLoại:")


# -- 6: adding information in several messages ---------------------------------------------------------------

async def reachable_officers(runtime, unit_id: int) -> list[int]:
    """The officers of ``unit_id`` get a Telegram chat each (the demo's officers have none)."""
    async with runtime.uows() as uow:
        officers = list((await uow.session.execute(
            select(User).where(User.unit_id == unit_id, User.role == "officer"))).scalars())
        for officer in officers:
            chat = f"officer-{officer.id}"
            uow.session.add(ChannelIdentity(channel="telegram", external_id=chat, user_id=officer.id, last_chat_id=chat))
        await uow.commit()
        return [officer.id for officer in officers]


async def test_information_is_added_in_several_messages_until_done_and_officers_told_each_time(runtime, citizen):
    await file_feedback(citizen)
    [item] = await rows(runtime, Item)
    officers = await reachable_officers(runtime, item.unit_id)
    assert officers
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.request_info, "Xin gửi ảnh và mô tả rõ vị trí.")
    [item] = await rows(runtime, Item)
    await citizen.send(button=f"g:item:{item.id}")
    asked = await citizen.send(button="track:add_info")
    assert asked[0]["text"].startswith("Hãy gửi thông tin hoặc ảnh mà cán bộ đề nghị bổ sung. Bạn có thể gửi nhiều")
    first = await citizen.send("Ổ gà nằm sát vạch kẻ đường.")
    # The next sentence is information too: never read as a tracking code.
    second = await citizen.send("Cạnh cột điện số 12, đối diện hiệu thuốc.")
    assert texts(first) == ["Đã chuyển tới cán bộ (1 tin đã gửi). Gửi tiếp hoặc bấm «✅ Xong»."]
    assert texts(second) == ["Đã chuyển tới cán bộ (2 tin đã gửi). Gửi tiếp hoặc bấm «✅ Xong»."]
    events = [e for e in await rows(runtime, ItemEvent, ItemEvent.item_id == item.id)
              if e.action in ("info_provided", "info_added")]
    assert [(e.action, e.note) for e in events] == [("info_provided", "Ổ gà nằm sát vạch kẻ đường."),
                                                    ("info_added", "Cạnh cột điện số 12, đối diện hiệu thuốc.")]
    # The officers of the unit are told at once, each time, without the citizen's words or identity.
    notices = await rows(runtime, OutboxMessage, OutboxMessage.dedupe_key.like("info:%"))
    assert len({n.dedupe_key.split(":")[1] for n in notices}) == 2  # two events
    assert {n.chat_id for n in notices} == {f"officer-{officer}" for officer in officers}
    assert all(n.payload["text"] == f"📎 Hồ sơ {item.tracking_code}: người gửi vừa bổ sung thông tin. Mở hồ sơ để xem."
               for n in notices)
    done = await citizen.send(button="track:info_done")
    assert done[0]["text"] == "Cảm ơn bạn. Cán bộ đã nhận 2 tin bổ sung; hồ sơ tiếp tục được giải quyết."
    assert done[-1]["text"].startswith(f"Hồ sơ {item.tracking_code}\nLoại:")
    # At the item's page a sentence is not taken for a code either.
    answer = await citizen.send("Tôi muốn hỏi thêm")
    assert answer[0]["text"].startswith("«Tôi muốn hỏi thêm» không phải là mã hồ sơ")


# -- 8: «Menu» with a half-written submission; drafts ----------------------------------------------------------

async def test_menu_with_a_half_written_submission_asks_and_the_draft_is_resumed(runtime, citizen):
    await describe(citizen, "feedback")  # at the location question
    asked = await citizen.send(button="g:menu")
    assert asked[0]["text"].startswith("Bạn đang soạn dở (💬 Phản ánh, kiến nghị):\n«Ổ gà lớn trước số 12")
    assert set(buttons(asked[0]).values()) == {"draft:continue", "draft:keep", "draft:discard"}
    back = await citizen.send(button="draft:continue")
    assert back[-1]["text"].startswith("Sự việc ở đâu?")
    await citizen.send(button="g:menu")
    menu = await citizen.send(button="draft:keep")
    assert menu[0]["text"].startswith("Đã giữ bản nháp.") and menu[-1]["text"] == MENU
    assert buttons(menu[-1])["✏️ Tiếp tục bản nháp (💬 Phản ánh, kiến nghị)"] == "menu:draft"
    # «Gửi phản ánh» with a draft asks whether to continue it or start anew.
    choice = await citizen.send(button="menu:submit")
    assert choice[0]["text"].startswith("Bạn còn một bản nháp chưa gửi")
    resumed = await citizen.send(button="menu:draft")
    assert texts(resumed)[0] == "Tiếp tục bản nháp của bạn." and resumed[-1]["text"].startswith("Sự việc ở đâu?")
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:anonymous")
    receipt = await citizen.send(button="submit:send")
    assert receipt[0]["text"].startswith("✅ Đã tiếp nhận")
    [item] = await rows(runtime, Item)
    assert item.description == DESCRIPTION
    assert "menu:draft" not in buttons(receipt[-1]).values()  # sent: no draft left


async def test_a_draft_survives_leaving_by_a_notification_and_a_reload(runtime, citizen):
    await file_feedback(citizen)
    [item] = await rows(runtime, Item)
    await describe(citizen, "complaint_first", "land", "Tôi khiếu nại quyết định số 15 vì sai đối tượng.")
    await citizen.send(button=f"g:item:{item.id}")  # a notification's button, mid-submission
    # A reload: a new tab with the same cookie reads the menu from the server.
    menu = await citizen.send(button="g:menu")
    assert buttons(menu[-1])["✏️ Tiếp tục bản nháp (⚖️ Khiếu nại)"] == "menu:draft"
    discarded = await citizen.send(button="menu:submit")
    new = await citizen.send(button="menu:submit_new")
    assert new[-1]["text"].startswith("Bạn muốn gửi loại nào?")
    menu = await citizen.send(button="g:menu")
    assert "menu:draft" not in buttons(menu[-1]).values()
    assert discarded[0]["text"].startswith("Bạn còn một bản nháp chưa gửi (⚖️ Khiếu nại)")


async def test_discarding_a_draft_asks_nothing_more_and_old_draft_buttons_are_refused(citizen):
    await describe(citizen, "feedback")
    await citizen.send(button="g:menu")
    gone = await citizen.send(button="draft:discard")
    assert texts(gone) == ["Đã bỏ bản nháp.", MENU]
    assert (await citizen.send(button="draft:continue"))[0]["text"] == STALE
    menu = await citizen.send(button="g:menu")
    assert texts(menu) == [MENU] and "menu:draft" not in buttons(menu[0]).values()



async def test_cancel_typed_during_a_submission_keeps_no_draft_like_its_button(runtime, citizen):
    """/help lists «/cancel — huỷ thao tác đang làm»: typed halfway through a feedback it cancels it, as
    the «🗑️ Huỷ» button does; the menu then offers no draft to continue and nothing is filed."""
    await describe(citizen, "feedback")
    cancelled = await citizen.send("/cancel")
    assert texts(cancelled) == ["Đã huỷ. Bạn có thể chọn việc khác.", MENU]
    assert "menu:draft" not in buttons(cancelled[-1]).values()
    menu = await citizen.send(button="g:menu")
    assert "menu:draft" not in buttons(menu[-1]).values()
    assert await rows(runtime, Item) == []

# -- 11: contact details offered back ----------------------------------------------------------------------

async def test_a_returning_citizen_is_offered_the_same_contact_and_may_give_another(runtime, citizen):
    await file_item(citizen, "feedback", "infrastructure", DESCRIPTION, contact=CONTACT)
    await describe(citizen, "feedback", "environment", "Rác thải để ở đầu ngõ 7 phố Hàng Bạc ba ngày chưa dọn.")
    await citizen.send(button="location:skip")
    offered = await citizen.send(button="consent:yes")
    assert offered[0]["text"] == ("Lần trước bạn đã cung cấp:\n• Họ tên: Nguyễn Thị Lan\n• Địa chỉ: Số 3 Hàng Bạc, tổ 5\n"
                                  "• Điện thoại: 0912345678\n\nDùng lại thông tin này cho hồ sơ mới?")
    summary = await citizen.send(button="contact:reuse")
    assert "Người gửi: Nguyễn Thị Lan" in summary[-1]["text"]
    await citizen.send(button="submit:send")
    contacts = await rows(runtime, ItemContact)
    assert [(c.full_name, c.address, c.phone) for c in contacts] == [CONTACT, CONTACT]

    await describe(citizen, "feedback", "environment", "Đèn đường ngõ 12 Hàng Bạc bị hỏng, buổi tối rất tối.")
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:yes")
    asked = await citizen.send(button="contact:new")
    assert asked[-1]["text"] == "Họ và tên đầy đủ của bạn:"


async def test_no_contact_is_offered_before_one_was_given_or_after_it_was_erased(runtime, citizen):
    await describe(citizen, "feedback")
    await citizen.send(button="location:skip")
    asked = await citizen.send(button="consent:yes")
    assert asked[-1]["text"] == "Họ và tên đầy đủ của bạn:"
    for answer in CONTACT:
        await citizen.send(answer)
    await citizen.send(button="submit:send")
    await citizen.send("/privacy")
    await citizen.send(button="privacy:erase")
    await citizen.send(button="privacy:erase_yes")
    await citizen.send("/start")
    await citizen.send(button="lang:vi")
    await citizen.send("hoan kiem")
    await citizen.send(button="commune:70")
    await describe(citizen, "feedback")
    await citizen.send(button="location:skip")
    asked = await citizen.send(button="consent:yes")
    assert asked[-1]["text"] == "Họ và tên đầy đủ của bạn:"


# -- 10: receipts and officer screens ----------------------------------------------------------------------

async def _officer_tab(runtime, unit_id: int):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.officers import create_invite
    from tests.webchat import Browser, reach_menu
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    tab = Browser(client)
    await reach_menu(tab)
    await tab.send(f"/officer {await create_invite(runtime.uows, unit_id, 'officer')}")
    return tab


async def test_a_receipt_lists_the_laws_deadlines_first_and_the_communes_targets_as_its_own(runtime, citizen):
    receipt = (await file_feedback(citizen))[0]["text"]
    legal, own = receipt.split("Mục tiêu riêng của xã, phường (không phải thời hạn luật định):\n")
    assert "• Xử lý ban đầu, thông báo thụ lý: chậm nhất ngày" in legal and "(Luật Tiếp công dân 2013" in legal
    assert "Mục tiêu nội bộ" not in receipt  # the heading says it once, not a citation on every line
    targets = [line for line in own.split("\n\n")[0].split("\n") if line.startswith("• ")]
    assert [line.split(":")[0] for line in targets] == [
        "• Cập nhật tình hình cho bạn", "• Giải quyết", "• Báo cáo lãnh đạo nếu chưa xong"]  # by date
    dates = [line.rsplit(" ", 1)[-1] for line in targets]
    assert dates == sorted(dates, key=lambda d: tuple(reversed(d.split("/"))))


async def test_officer_screens_use_officer_words_and_photos_are_not_sent_on_every_refresh(runtime, citizen):
    from sqlalchemy import update
    await file_feedback(citizen)
    [item] = await rows(runtime, Item)
    async with runtime.uows() as uow:
        await uow.session.execute(update(Item).values(photos=["web:pothole-1", "web:pothole-2"]))
        await uow.commit()
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.request_info, "Xin gửi thêm ảnh.")
    officer = await _officer_tab(runtime, item.unit_id)
    try:
        first = await officer.send(button=f"g:oi:{item.id}")
        screen = first[-1]["text"]
        assert "Trạng thái: chờ người dân bổ sung thông tin" in screen and "cho bạn" not in screen
        assert "• Cập nhật tình hình cho người dân: trước ngày" in screen
        assert first[-1]["photos"] == ["/media/pothole-1", "/media/pothole-2"]
        again = await officer.send(button=f"g:oi:{item.id}")  # a refresh
        assert again[-1]["photos"] == [] and "📷 2 ảnh của hồ sơ đã gửi ở trên." in again[-1]["text"]
        shown = await officer.send(button="ophotos")
        assert shown[-1]["photos"] == ["/media/pothole-1", "/media/pothole-2"]
    finally:
        await officer.client.close()


async def test_the_answer_reads_once_in_the_items_detail(runtime, citizen):
    await file_feedback(citizen)
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.answer, "Đã vá ổ gà ngày 20/11.")
    [item] = await rows(runtime, Item)
    detail = await citizen.send(button=f"g:item:{item.id}")
    assert detail[-1]["text"].count("Đã vá ổ gà ngày 20/11.") == 1
