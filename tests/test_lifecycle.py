"""The full life of each kind of petition with the clock moved (time-machine), through the web chat:
a citizen files, an officer of the routed unit acts, the unit's leader is told when a deadline is
missed, and the production sweep job (``scheduler.jobs.run_sweep``, which reads the real clock) runs
every morning in between. Reminders and escalations must fire on the days the law's deadlines say and
on no other day; acting on an item stops them.

Dates are fixed: the citizen files on Monday 07/12/2026 at 09:00 in Hà Nội (no public holiday in the
weeks that follow until 01/01/2027, which the calendar knows).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.officers import create_invite
from bot.staff_sessions import SessionPolicy
from scheduler.jobs import run_sweep
from storage.models import Item, ItemDeadline, OutboxMessage, Unit
from tests.webchat import COMPLAINT, Browser, buttons, describe, give_contact, reach_menu, rows

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
FILED = date(2026, 12, 7)
OFFICE = "Văn phòng HĐND và UBND phường"  # where public-order items are routed in the demo ward


def local(day: date, hour: int = 8, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE)


class Ward:
    """The demo ward with a citizen, an officer and a leader of the office unit, and a movable clock."""

    def __init__(self, runtime, traveller):
        self.runtime, self.traveller = runtime, traveller
        # The clock jumps weeks between an officer's steps; a real officer would log in again each
        # day. Staff session expiry has its own tests (tests/test_security_web.py).
        runtime.web_chat.policy = SessionPolicy(idle=timedelta(days=3650), lifetime=timedelta(days=3650))
        self.tabs: list[Browser] = []
        self.seen: set[int] = set()

    async def tab(self) -> Browser:
        client = TestClient(TestServer(self.runtime.web_app))
        await client.start_server()
        tab = Browser(client)
        self.tabs.append(tab)
        await reach_menu(tab)
        return tab

    async def staff(self, role: str) -> Browser:
        tab = await self.tab()
        [unit] = await rows(self.runtime, Unit, Unit.name == OFFICE)
        await tab.send(f"/officer {await create_invite(self.runtime.uows, unit.id, role)}")
        return tab

    async def close(self) -> None:
        for tab in self.tabs:
            await tab.client.close()

    def at(self, day: date, hour: int = 8, minute: int = 0) -> None:
        self.traveller.move_to(local(day, hour, minute))

    async def morning(self, day: date) -> dict[str, list[str]]:
        """Move to 08:00 of ``day``, run the sweep job; the reminders and escalations it enqueued."""
        self.at(day)
        await run_sweep(self.runtime.uows, self.runtime.settings.timezone)
        async with self.runtime.uows() as uow:
            new = (await uow.session.execute(
                select(OutboxMessage).where(OutboxMessage.id.not_in(self.seen) if self.seen else True)
                .order_by(OutboxMessage.id))).scalars().all()
        self.seen.update(row.id for row in new)
        found: dict[str, list[str]] = {"remind": [], "escalate": []}
        for row in new:
            prefix = row.dedupe_key.split(":", 1)[0]
            if prefix in found:
                found[prefix].append(row.payload["text"])
        return found

    async def schedule(self, first: date, last: date) -> dict[date, tuple[int, int]]:
        """(reminders, escalations) enqueued on each morning from ``first`` to ``last`` where any were."""
        days = {}
        day = first
        while day <= last:
            found = await self.morning(day)
            if found["remind"] or found["escalate"]:
                days[day] = (len(found["remind"]), len(found["escalate"]))
            day += timedelta(days=1)
        return days

    async def deadlines(self, item_id: int) -> dict[str, tuple[date, bool]]:
        return {d.phase: (d.due_on, d.done_at is not None)
                for d in await rows(self.runtime, ItemDeadline, ItemDeadline.item_id == item_id)}


@pytest.fixture
async def ward(runtime):
    with time_machine.travel(local(FILED, 9), tick=True) as traveller:
        ward = Ward(runtime, traveller)
        try:
            yield ward
        finally:
            await ward.close()


async def _latest_item(runtime) -> Item:
    return max(await rows(runtime, Item), key=lambda item: item.id)


async def _chat_of_last_reply(runtime) -> str:
    async with runtime.uows() as uow:
        return (await uow.session.execute(select(OutboxMessage.chat_id).order_by(OutboxMessage.id.desc())
                                          .limit(1))).scalar_one()


async def test_feedback_from_filing_to_closing_with_a_late_answer_and_a_reopening(ward, runtime):
    citizen = await ward.tab()
    officer = await ward.staff("officer")
    officer_chat = await _chat_of_last_reply(runtime)
    leader = await ward.staff("leader")
    leader_chat = await _chat_of_last_reply(runtime)

    await describe(citizen, "feedback", "public_order", "Karaoke gây ồn sau 23 giờ ở số 20 Hàng Bạc.")
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:anonymous")
    receipt = await citizen.send(button="submit:send")
    item = await _latest_item(runtime)
    assert item.tracking_code in receipt[0]["text"]
    # Luật Tiếp công dân 2013 Đ.28 k1: 10 working days to take it up; the ward's own targets: an update
    # every 7 working days and an answer within 15 days.
    assert await ward.deadlines(item.id) == {"intake": (date(2026, 12, 21), False),
                                             "resolution": (date(2026, 12, 22), False),
                                             "status_update": (date(2026, 12, 16), False),
                                             "escalation": (date(2027, 1, 21), False)}

    ward.at(date(2026, 12, 8), 9)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:accept")
    deadlines = await ward.deadlines(item.id)
    assert deadlines["intake"][1] and deadlines["status_update"] == (date(2026, 12, 17), False)  # told today

    # Reminders 3 days, 1 day before and on the day; from the day after, the leader daily.
    assert await ward.schedule(date(2026, 12, 8), date(2026, 12, 23)) == {
        date(2026, 12, 14): (1, 0), date(2026, 12, 16): (1, 0), date(2026, 12, 17): (1, 0),  # update due 17/12
        date(2026, 12, 18): (0, 1),
        date(2026, 12, 19): (1, 1), date(2026, 12, 20): (0, 1), date(2026, 12, 21): (1, 1),  # answer due 22/12
        date(2026, 12, 22): (1, 1),
        date(2026, 12, 23): (0, 2),  # both overdue
    }
    async with runtime.uows() as uow:
        chats = dict((await uow.session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.chat_id)
            .where(OutboxMessage.dedupe_key.like("remind:%") | OutboxMessage.dedupe_key.like("escalate:%")))).all())
    assert {chat for key, chat in chats.items() if key.startswith("remind:")} == {officer_chat}
    assert {chat for key, chat in chats.items() if key.startswith("escalate:")} == {leader_chat}
    escalations = [m["text"] for m in await leader.history() if m["text"].startswith(f"⚠️ Hồ sơ {item.tracking_code}")]
    assert len(escalations) == 7 and "Đề nghị lãnh đạo chỉ đạo xử lý" in escalations[-1]

    ward.at(date(2026, 12, 23), 10)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:answer")
    await officer.send("Công an phường đã làm việc với chủ cơ sở karaoke, cam kết không hát sau 22 giờ.")
    assert await ward.schedule(date(2026, 12, 24), date(2026, 12, 24)) == {}  # an answer stops every clock

    # Not satisfied: the feedback is reopened with fresh clocks (answer by 08/01; update by 05/01, the
    # New Year holiday and the weekend not counted).
    ward.at(date(2026, 12, 24), 20)
    await citizen.send(button=f"g:item:{item.id}")
    await citizen.send(button="rate:no")
    await citizen.send("Tuần này vẫn hát đến 1 giờ sáng.")
    deadlines = await ward.deadlines(item.id)
    assert deadlines["resolution"] == (date(2027, 1, 8), False)
    assert deadlines["status_update"] == (date(2027, 1, 5), False)
    assert await ward.schedule(date(2026, 12, 25), date(2027, 1, 6)) == {
        date(2027, 1, 2): (1, 0), date(2027, 1, 4): (1, 0), date(2027, 1, 5): (2, 0),  # and the answer's 3 days
        date(2027, 1, 6): (0, 1),
    }
    ward.at(date(2027, 1, 6), 10)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:answer")
    await officer.send("Đã lập biên bản xử phạt cơ sở karaoke.")
    await citizen.send(button=f"g:item:{item.id}")
    closed = await citizen.send(button="rate:yes")
    assert closed[0]["text"] == "Cảm ơn bạn đã đánh giá. Hồ sơ đã kết thúc."
    assert (await _latest_item(runtime)).status == "closed"
    assert await ward.schedule(date(2027, 1, 7), date(2027, 1, 31)) == {}  # nothing after closing, not even
    #                                                                        the 45-day report of 21/01


async def test_a_first_complaint_made_complex_then_a_second_complaint_to_its_closing(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await ward.staff("leader")
    await describe(citizen, "complaint_first", "public_order", COMPLAINT)
    await citizen.send(button="location:skip")
    await give_contact(citizen)
    await citizen.send(button="submit:send")
    first = await _latest_item(runtime)
    # NĐ 155/2026 Đ.10 (from 01/07/2026): 7 working days to accept or refuse.
    assert await ward.deadlines(first.id) == {"intake": (date(2026, 12, 16), False)}
    assert await ward.schedule(date(2026, 12, 8), date(2026, 12, 14)) == {date(2026, 12, 13): (1, 0)}

    ward.at(date(2026, 12, 14), 9)
    await officer.send(button=f"g:oi:{first.id}")
    await officer.send(button="oa:accept")
    # Luật Khiếu nại 2011 Đ.28: 30 days from acceptance; nothing is due until 3 days before.
    assert await ward.deadlines(first.id) == {"intake": (date(2026, 12, 16), True),
                                              "resolution": (date(2027, 1, 13), False)}
    assert await ward.schedule(date(2026, 12, 15), date(2027, 1, 5)) == {}

    ward.at(date(2027, 1, 5), 9)
    await officer.send(button=f"g:oi:{first.id}")
    await officer.send(button="oa:extend")
    extended = await officer.send("Vụ việc phức tạp, cần xác minh tại nhiều nơi.")
    assert any("28/01/2027" in m["text"] for m in extended)  # Đ.28: 45 days for a complex case
    # The reminders of 10/01 and 12/01 for the old deadline do not come; those of the new one do.
    assert await ward.schedule(date(2027, 1, 6), date(2027, 1, 26)) == {date(2027, 1, 25): (1, 0)}

    ward.at(date(2027, 1, 26), 9)
    await officer.send(button=f"g:oi:{first.id}")
    await officer.send(button="oa:answer")
    await officer.send("Quyết định giải quyết khiếu nại số 7/QĐ-UBND: giữ nguyên quyết định xử phạt.")
    assert await ward.schedule(date(2027, 1, 27), date(2027, 1, 27)) == {}

    ward.at(date(2027, 1, 27), 9)
    await citizen.send(button=f"g:item:{first.id}")
    await citizen.send(button="rate:no")
    offered = await citizen.send(button="rate:skip")
    assert "khiếu nại lần hai đến hết ngày 25/02/2027" in offered[-1]["text"]  # Đ.33 k1: 30 days
    await citizen.send(button="track:second")
    await citizen.send("Quyết định lần đầu chưa xem xét biên bản ngày 3/10, tôi không có mặt khi vi phạm.")
    second = await _latest_item(runtime)
    assert (second.kind, second.parent_id) == ("complaint_second", first.id)
    # 7 working days from 27/01/2027 run over the Tết holiday (05–10/02/2027 off): 12/02/2027.
    assert await ward.deadlines(second.id) == {"intake": (date(2027, 2, 12), False)}
    assert await ward.schedule(date(2027, 1, 28), date(2027, 2, 12)) == {
        date(2027, 2, 9): (1, 0), date(2027, 2, 11): (1, 0), date(2027, 2, 12): (1, 0)}

    ward.at(date(2027, 2, 12), 9)
    await officer.send(button=f"g:oi:{second.id}")
    await officer.send(button="oa:accept")
    # Đ.37: 45 days from acceptance.
    assert (await ward.deadlines(second.id))["resolution"] == (date(2027, 3, 29), False)
    assert await ward.schedule(date(2027, 2, 13), date(2027, 3, 1)) == {}
    ward.at(date(2027, 3, 1), 9)
    await officer.send(button=f"g:oi:{second.id}")
    await officer.send(button="oa:answer")
    await officer.send("Quyết định giải quyết khiếu nại lần hai số 2/QĐ-UBND: hủy quyết định xử phạt.")
    await citizen.send(button=f"g:item:{second.id}")
    closed = await citizen.send(button="rate:yes")
    assert closed[0]["text"] == "Cảm ơn bạn đã đánh giá. Hồ sơ đã kết thúc."
    assert await ward.schedule(date(2027, 3, 2), date(2027, 3, 31)) == {}  # not even the 26/03 reminder
    statuses = {item.id: item.status for item in await rows(runtime, Item)}
    assert (statuses[first.id], statuses[second.id]) == ("escalated", "closed")


async def test_a_denunciation_extended_twice_then_a_third_time_refused_answered_late(ward, runtime):
    citizen, officer, leader = await ward.tab(), await ward.staff("officer"), await ward.staff("leader")
    await describe(citizen, "denunciation", "public_order", "Cán bộ X nhận tiền để bỏ qua vi phạm xây dựng ở ngõ 5.")
    await citizen.send(button="location:skip")
    await give_contact(citizen)
    receipt = await citizen.send(button="submit:send")
    item = await _latest_item(runtime)
    assert "16/12/2026 (Luật Tố cáo 2018, Điều 24 khoản 1)" in receipt[0]["text"]  # 7 working days
    assert await ward.schedule(date(2026, 12, 8), date(2026, 12, 10)) == {}

    ward.at(date(2026, 12, 10), 9)
    opened = await officer.send(button=f"g:oi:{item.id}")
    assert "Nguyễn Thị Lan" not in opened[-1]["text"] and "0912345678" not in opened[-1]["text"]
    await officer.send(button="oa:accept")
    # Đ.30 k1: 30 days from acceptance, 09/01/2027 a Saturday, so Monday 11/01. The acceptance notice
    # of Đ.29 k3 went to the denouncer's chat with the acceptance itself.
    assert await ward.deadlines(item.id) == {"intake": (date(2026, 12, 16), True),
                                             "acceptance_notice": (date(2026, 12, 17), True),
                                             "resolution": (date(2027, 1, 11), False)}
    assert any("đã thụ lý" in m["text"] for m in await citizen.history())
    assert await ward.schedule(date(2026, 12, 11), date(2027, 1, 6)) == {}

    ward.at(date(2027, 1, 6), 9)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:extend")
    await officer.send(button="oext:especially")
    first = await officer.send("Vụ việc đặc biệt phức tạp, liên quan nhiều cơ quan.")
    # Đ.30 k3, k4: the period is now 60 days from acceptance, Monday 08/02/2027, in the Tết holiday
    # (04–10/02/2027) → Thursday 11/02. The finding is kept on the item.
    assert first[0]["text"] == "Hạn giải quyết mới: 11/02/2027."
    assert (await _latest_item(runtime)).especially_complex
    assert await ward.schedule(date(2027, 1, 7), date(2027, 2, 1)) == {}  # none of 08/01 and 10/01

    ward.at(date(2027, 2, 1), 9)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:extend")  # especially complex already: no need to say it again
    second = await officer.send("Chờ kết quả giám định.")
    # 90 days from acceptance: Wednesday 10/03/2027. (Adding 30 days to the moved 11/02 gave Saturday
    # 13/03 → Monday 15/03, five days too late: only the final day moves, Bộ luật Dân sự 2015 Đ.148 k5.)
    assert second[0]["text"] == "Hạn giải quyết mới: 10/03/2027."
    await officer.send(button="oa:extend")
    third = await officer.send("Lần thứ ba.")
    assert third[0]["text"].startswith("Không gia hạn được nữa: đã gia hạn 2 lần, luật chỉ cho phép 2 lần")
    assert (await ward.deadlines(item.id))["resolution"] == (date(2027, 3, 10), False)

    assert await ward.schedule(date(2027, 2, 2), date(2027, 3, 12)) == {
        date(2027, 3, 7): (1, 0), date(2027, 3, 9): (1, 0), date(2027, 3, 10): (1, 0),
        date(2027, 3, 11): (0, 1), date(2027, 3, 12): (0, 1)}
    escalation = [m["text"] for m in await leader.history() if m["text"].startswith(f"⚠️ Hồ sơ {item.tracking_code}")]
    assert len(escalation) == 2 and "Nguyễn Thị Lan" not in escalation[0]

    ward.at(date(2027, 3, 12), 10)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:answer")
    await officer.send("Kết luận nội dung tố cáo số 3/KL-UBND: tố cáo đúng một phần.")
    await citizen.send(button=f"g:item:{item.id}")
    assert (await citizen.send(button="rate:yes"))[0]["text"] == "Cảm ơn bạn đã đánh giá. Hồ sơ đã kết thúc."
    assert await ward.schedule(date(2027, 3, 13), date(2027, 4, 15)) == {}
    assert (await _latest_item(runtime)).status == "closed"


async def test_anonymous_information_has_no_clock_and_is_never_chased(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await ward.staff("leader")
    await describe(citizen, "denunciation", "public_order", "Cán bộ X nhận tiền để bỏ qua vi phạm xây dựng ở ngõ 5.")
    await citizen.send(button="location:skip")
    explained = await citizen.send(button="consent:anonymous")
    assert "Điều 25 Luật Tố cáo" in explained[0]["text"]
    receipt = await citizen.send(button="submit:send")
    assert "pháp luật không quy định thời hạn trả lời" in receipt[0]["text"]
    item = await _latest_item(runtime)
    assert (item.kind, await ward.deadlines(item.id)) == ("information", {})

    ward.at(date(2026, 12, 9), 9)
    await officer.send(button=f"g:oi:{item.id}")
    accepted = await officer.send(button="oa:accept")
    offered = set(buttons(accepted[-1]).values())
    assert "oa:answer" in offered and "oa:extend" not in offered  # nothing to extend
    assert await ward.deadlines(item.id) == {}
    assert await ward.schedule(date(2026, 12, 10), date(2027, 2, 10)) == {}  # no reminder, no escalation

    ward.at(date(2027, 2, 10), 9)
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:answer")
    await officer.send("Đã kiểm tra, chuyển Thanh tra phường theo dõi.")
    assert (await _latest_item(runtime)).status == "answered"
    assert any("Đã kiểm tra, chuyển Thanh tra phường theo dõi." in m["text"] for m in await citizen.history())
