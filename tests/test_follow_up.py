"""After filing: the citizen is told of every move, adds information when asked, reads the answer,
rates it, and — for a first complaint — files a second one within the legal window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.domain.workflow import Action
from bot.petitions import move
from storage.models import Item, ItemContact, ItemEvent, utcnow
from tests.webchat import rows as _rows
from tests.webchat import file_complaint, file_feedback
from tests.webchat import buttons


async def _officer(runtime, action: Action, note: str | None = None, item_code: str | None = None) -> None:
    async with runtime.uows() as uow:
        query = select(Item).order_by(Item.id)
        if item_code:
            query = query.where(Item.tracking_code == item_code)
        item = (await uow.session.execute(query)).scalars().first()
        await move(uow, item, action, actor_id=None, note=note)
        await uow.commit()


async def _poll(citizen) -> list[dict]:
    response = await citizen.client.get("/api/chat/messages", params={"after": citizen.cursor, "wait": 2})
    data = await response.json()
    citizen.cursor = data["cursor"]
    return data["messages"]


async def test_every_move_reaches_the_citizen_who_can_open_the_item(runtime, citizen):
    await file_feedback(citizen)
    [item] = await _rows(runtime, Item)
    await _officer(runtime, Action.accept)
    [notice] = await _poll(citizen)
    assert notice["text"] == f"🔔 Hồ sơ {item.tracking_code}: đã thụ lý."
    assert buttons(notice) == {"🔎 Xem hồ sơ": f"g:item:{item.id}"}
    opened = await citizen.send(button=f"g:item:{item.id}")
    assert "Trạng thái: đã thụ lý" in opened[-1]["text"] and "Thụ lý" in opened[-1]["text"]


async def test_information_requested_then_added(runtime, citizen):
    await file_feedback(citizen)
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.request_info, "Xin gửi ảnh chụp rõ vị trí ổ gà.")
    notices = await _poll(citizen)
    assert "chờ bạn bổ sung thông tin" in notices[-1]["text"] and "Xin gửi ảnh chụp" in notices[-1]["text"]
    [item] = await _rows(runtime, Item)
    detail = await citizen.send(button=f"g:item:{item.id}")
    await citizen.send(button="track:add_info")
    done = await citizen.send("Ổ gà nằm sát vạch kẻ đường, cạnh cột điện số 12.")
    # Passed on at once; more may follow until «Xong» (issue 18).
    assert done[0]["text"] == "Đã chuyển tới cán bộ (1 tin đã gửi). Gửi tiếp hoặc bấm «✅ Xong»."
    finished = await citizen.send(button="track:info_done")
    assert finished[0]["text"] == "Cảm ơn bạn. Cán bộ đã nhận 1 tin bổ sung; hồ sơ tiếp tục được giải quyết."
    [item] = await _rows(runtime, Item)
    assert item.status == "in_progress"
    events = await _rows(runtime, ItemEvent)
    assert events[-1].action == "info_provided" and "cột điện số 12" in events[-1].note
    assert "📎 Bổ sung thông tin" in buttons(detail[-1])


async def test_answer_shown_then_rated_satisfied_closes(runtime, citizen):
    await file_feedback(citizen)
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.answer, "Đã vá ổ gà ngày 20/11.")
    [item] = await _rows(runtime, Item)
    listing = await citizen.send(button="g:menu")
    listing = await citizen.send(button="menu:track")
    assert f"• {item.tracking_code}: đã trả lời\n  💬 Đã vá ổ gà ngày 20/11." in listing[-1]["text"]
    detail = await citizen.send(button=f"g:item:{item.id}")
    assert "💬 Trả lời của cơ quan" in detail[-1]["text"] and "Đã vá ổ gà ngày 20/11." in detail[-1]["text"]
    rated = await citizen.send(button="rate:yes")
    assert rated[0]["text"] == "Cảm ơn bạn đã đánh giá. Hồ sơ đã kết thúc."
    [item] = await _rows(runtime, Item)
    assert (item.status, item.satisfied) == ("closed", True)


async def test_unsatisfied_feedback_is_reopened(runtime, citizen):
    await file_feedback(citizen)
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.answer, "Đã vá.")
    [item] = await _rows(runtime, Item)
    await citizen.send(button=f"g:item:{item.id}")
    await citizen.send(button="rate:no")
    replies = await citizen.send("Mới vá một nửa, vẫn còn hố sâu.")
    assert "được mở lại" in replies[1]["text"]
    [item] = await _rows(runtime, Item)
    assert (item.status, item.satisfied) == ("reopened", False)


async def test_an_unsatisfied_complainant_files_a_second_complaint_within_the_window(runtime, citizen):
    await file_complaint(citizen)
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.answer, "Quyết định giải quyết khiếu nại số 7/QĐ-UBND: giữ nguyên quyết định xử phạt.")
    [first] = await _rows(runtime, Item)
    await citizen.send(button=f"g:item:{first.id}")
    await citizen.send(button="rate:no")
    offered = await citizen.send(button="rate:skip")
    assert "khiếu nại lần hai đến hết ngày" in offered[-1]["text"] and "Điều 33" in offered[-1]["text"]
    await citizen.send(button="track:second")
    filed = await citizen.send("Quyết định lần đầu chưa xem xét biên bản ngày 3/10, tôi không có mặt khi vi phạm.")
    assert filed[0]["text"].startswith("✅ Đã gửi khiếu nại lần hai") and first.tracking_code in filed[0]["text"]
    first, second = await _rows(runtime, Item)
    assert (first.status, second.kind, second.parent_id) == ("escalated", "complaint_second", first.id)
    contacts = {c.item_id: c.full_name for c in await _rows(runtime, ItemContact)}
    assert contacts == {first.id: "Nguyễn Thị Lan", second.id: "Nguyễn Thị Lan"}


async def test_no_second_complaint_after_the_window(runtime, citizen):
    await file_complaint(citizen)
    await _officer(runtime, Action.accept)
    await _officer(runtime, Action.answer, "Giữ nguyên quyết định.")
    async with runtime.uows() as uow:
        await uow.session.execute(update(ItemEvent).where(ItemEvent.action == "answer")
                                  .values(at=utcnow() - timedelta(days=40)))
        await uow.commit()
    [first] = await _rows(runtime, Item)
    await citizen.send(button=f"g:item:{first.id}")
    await citizen.send(button="rate:no")
    await citizen.send(button="rate:skip")
    await citizen.send(button="track:second")
    refused = await citizen.send("Tôi vẫn không đồng ý với quyết định giải quyết lần đầu.")
    assert refused[0]["text"].startswith("Đã hết thời hạn khiếu nại lần hai")
    assert len(await _rows(runtime, Item)) == 1


async def test_a_notification_button_for_someone_elses_item_shows_nothing(runtime, citizen):
    await file_feedback(citizen)
    [item] = await _rows(runtime, Item)
    async with runtime.uows() as uow:
        await uow.session.execute(update(Item).values(citizen_id=None))
        await uow.commit()
    replies = await citizen.send(button=f"g:item:{item.id}")
    assert replies[0]["text"] == "Không tìm thấy hồ sơ có mã này trong các hồ sơ của bạn."
