"""Dân bàn through the web chat: vote once, change the vote, comment, results only after closing."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from storage.models import Consultation, ConsultationVote, utcnow
from tests.webchat import rows as _rows
from tests.webchat import Browser, buttons, reach_menu


async def _open_consultation(citizen: Browser) -> dict:
    listing = await citizen.send(button="menu:consultations")
    value = next(v for k, v in buttons(listing[-1]).items() if k.startswith("🗳️ Phương án bố trí"))
    return (await citizen.send(button=value))[-1]


async def test_vote_change_comment_and_see_results_after_closing(runtime, citizen):
    detail = await _open_consultation(citizen)
    assert "chỗ để xe máy" in detail["text"] and "Kết quả" not in detail["text"]
    assert buttons(detail)["Đồng ý"] == "vote:0"
    voted = await citizen.send(button="vote:0")
    assert voted[0]["text"] == "Đã ghi nhận lựa chọn «Đồng ý»."
    assert "✅ Đồng ý" in buttons(voted[-1])
    changed = await citizen.send(button="vote:1")
    assert changed[0]["text"] == "Đã đổi lựa chọn thành «Không đồng ý»."
    [vote] = await _rows(runtime, ConsultationVote)
    assert vote.option == "Không đồng ý"
    await citizen.send(button="consult:comment")
    commented = await citizen.send("Phố đã chật, nên để xe ở bãi Đinh Tiên Hoàng.")
    assert commented[0]["text"] == "Cảm ơn bạn đã góp ý."

    async with runtime.uows() as uow:
        await uow.session.execute(update(Consultation).values(closes_at=utcnow() - timedelta(minutes=1)))
        await uow.commit()
    late = await citizen.send(button="vote:0")
    assert late[0]["text"] == "Cuộc lấy ý kiến này đã kết thúc."
    [vote] = await _rows(runtime, ConsultationVote)
    assert vote.option == "Không đồng ý"
    result = await _open_consultation_closed(citizen)
    # A web chat cannot verify a resident: the vote is shown, but not as part of the official result.
    assert "📊 Kết quả chính thức — cư dân đã xác minh (0 người):" in result
    assert ("📝 Phiếu chưa xác minh — chỉ để tham khảo, không tính vào kết quả chính thức (1 phiếu):\n"
            "• Đồng ý: 0 (0%)\n• Không đồng ý: 1 (100%)") in result
    assert "bãi Đinh Tiên Hoàng" in result


async def _open_consultation_closed(citizen: Browser) -> str:
    listing = await citizen.send(button="consult:list")
    value = next(v for k, v in buttons(listing[-1]).items() if k.startswith("📊 Phương án bố trí"))
    return (await citizen.send(button=value))[-1]["text"]


async def test_one_vote_per_citizen(runtime, citizen):
    await _open_consultation(citizen)
    await citizen.send(button="vote:0")
    await citizen.send(button="vote:0")
    async with TestClient(TestServer(runtime.web_app)) as client:
        other = Browser(client)
        await reach_menu(other)
        await _open_consultation(other)
        await other.send(button="vote:2")
    votes = await _rows(runtime, ConsultationVote)
    assert sorted(v.option for v in votes) == ["Đồng ý", "Đồng ý nếu miễn phí cho người dân trong phố"]


async def test_public_figures_count_received_answered_and_on_time(runtime, citizen):

    from storage.models import Item, ItemDeadline, ItemEvent

    now = utcnow()
    async with runtime.uows() as uow:
        for n, (kind, category, answered_after, due_in) in enumerate([
                ("feedback", "infrastructure", timedelta(days=2), 15),   # answered on time
                ("feedback", "environment", timedelta(days=6), 3),      # answered late
                ("complaint_first", "land", None, 30)]):                # still open
            item = Item(tracking_code=f"TD-STAT{n}", kind=kind, category=category, commune_code=70, channel="web",
                        status="answered" if answered_after else "received", description="…",
                        received_at=now - timedelta(days=7))
            uow.session.add(item)
            await uow.session.flush()
            uow.session.add(ItemDeadline(item_id=item.id, phase="resolution", rule_id="r", citation="c",
                                         due_on=(now - timedelta(days=7)).date() + timedelta(days=due_in)))
            if answered_after:
                uow.session.add(ItemEvent(item_id=item.id, action="answer", at=now - timedelta(days=7) + answered_after))
        await uow.commit()
    replies = await citizen.send(button="menu:statistics")
    text = replies[-1]["text"]
    assert "tháng" in text.splitlines()[0]
    period_start = now.astimezone(runtime.settings.zone).date().replace(day=1)
    if (now - timedelta(days=7)).astimezone(runtime.settings.zone).date() < period_start:
        replies = await citizen.send(button="stats:year")
        text = replies[-1]["text"]
    assert "• Tổng cộng: nhận 3, đã trả lời 2, đúng hạn 50%, trung bình 4 ngày" in text
    assert "• 🏠 Đất đai, nhà ở: nhận 1, đã trả lời 0, đúng hạn —" in text
