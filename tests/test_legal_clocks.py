"""Legal clocks that an officer or the citizen changes while they run, with the clock moved through
the web chat (the demo ward of tests/test_lifecycle.py; the citizen files on Monday 07/12/2026):

- a first complaint whose period ran out unresolved may be taken to a second complaint (Luật Khiếu
  nại 2011, Điều 33 khoản 1), 30 days from the end of that period;
- a denunciation checked at several places has 10 working days for its intake (Luật Tố cáo 2018,
  Điều 24 khoản 1); the officers are told the 5 working days to forward it if it is not the
  commune's (Điều 24 khoản 2);
- a first complaint is filed with its 90-day limit (Luật Khiếu nại 2011, Điều 9), computed once the
  citizen says when they learned of the decision;
- a suspended complaint's clock stops and runs on from the resumption (NĐ 124/2020/NĐ-CP, Điều 28b,
  added by NĐ 155/2026/NĐ-CP);
- an extension is refused once the period has ended;
- the working calendar follows the settings that correct the ``holidays`` package.
"""

from __future__ import annotations

from datetime import date

import pytest
import time_machine

from bot.app import Runtime
from bot.domain.calendar import DEFAULT_CALENDAR
from bot.settings import SettingsError, load_settings
from storage.models import Item, ItemEvent
from tests.test_lifecycle import Ward, _latest_item, local, ward  # noqa: F401 - ward is a fixture
from tests.webchat import COMPLAINT, buttons, describe, give_contact, rows


async def _complaint(ward: Ward, citizen) -> list[dict]:
    await describe(citizen, "complaint_first", "public_order", COMPLAINT)
    await citizen.send(button="location:skip")
    await give_contact(citizen)
    return await citizen.send(button="submit:send")


async def _denunciation(citizen) -> list[dict]:
    await describe(citizen, "denunciation", "public_order", "Cán bộ X nhận tiền để bỏ qua vi phạm xây dựng ở ngõ 5.")
    await citizen.send(button="location:skip")
    await give_contact(citizen)
    return await citizen.send(button="submit:send")


async def _act(officer, item_id: int, action: str, reason: str | None = None) -> list[dict]:
    await officer.send(button=f"g:oi:{item_id}")
    replies = await officer.send(button=f"oa:{action}")
    return await officer.send(reason) if reason is not None else replies


async def test_a_first_complaint_unresolved_when_its_period_ran_out_goes_to_a_second(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await ward.staff("leader")
    await _complaint(ward, citizen)
    first = await _latest_item(runtime)
    ward.at(date(2026, 12, 8), 9)
    await _act(officer, first.id, "accept")
    # Luật Khiếu nại 2011 Đ.28: 30 days from acceptance, Thursday 07/01/2027.
    assert (await ward.deadlines(first.id))["resolution"] == (date(2027, 1, 7), False)

    ward.at(date(2027, 1, 7), 20)  # the last day of the period: nothing to offer yet
    detail = await citizen.send(button=f"g:item:{first.id}")
    assert "track:second" not in buttons(detail[-1]).values()

    ward.at(date(2027, 1, 8), 9)
    detail = await citizen.send(button=f"g:item:{first.id}")
    # Đ.33 k1: 30 days from the end of the period, Saturday 06/02/2027 in Tết → Thursday 11/02.
    assert ("Thời hạn giải quyết khiếu nại lần đầu đã hết ngày 07/01/2027 mà chưa có quyết định giải quyết. "
            "Bạn có quyền khiếu nại lần hai đến hết ngày 11/02/2027 (Luật Khiếu nại 2011, Điều 33 khoản 1)."
            ) in detail[-1]["text"]
    assert "track:second" in buttons(detail[-1]).values()
    await citizen.send(button="track:second")
    filed = await citizen.send("Đã quá thời hạn giải quyết mà phường chưa ra quyết định giải quyết khiếu nại.")
    assert "Đã gửi khiếu nại lần hai" in filed[0]["text"]
    second = await _latest_item(runtime)
    assert (second.kind, second.parent_id) == ("complaint_second", first.id)
    # NĐ 155/2026 Đ.10: 7 working days from 08/01/2027.
    assert await ward.deadlines(second.id) == {"intake": (date(2027, 1, 19), False)}
    statuses = {item.id: item.status for item in await rows(runtime, Item)}
    assert statuses[first.id] == "escalated"
    # The first complaint's clock stopped: its leader is no longer told it is overdue.
    assert (await ward.morning(date(2027, 1, 9)))["escalate"] == []


async def test_the_second_complaint_window_of_an_unresolved_first_one_closes(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await _complaint(ward, citizen)
    first = await _latest_item(runtime)
    ward.at(date(2026, 12, 8), 9)
    await _act(officer, first.id, "accept")
    ward.at(date(2027, 2, 11), 20)  # the last day of the window: offered
    detail = await citizen.send(button=f"g:item:{first.id}")
    assert "track:second" in buttons(detail[-1]).values()
    ward.at(date(2027, 2, 12), 9)  # pressed the next morning: too late
    await citizen.send(button="track:second")
    refused = await citizen.send("Đã quá thời hạn giải quyết mà phường chưa ra quyết định giải quyết khiếu nại.")
    assert refused[0]["text"] == "Đã hết thời hạn khiếu nại lần hai (hết ngày 11/02/2027)."
    assert [item.kind for item in await rows(runtime, Item)] == ["complaint_first"]
    detail = await citizen.send(button=f"g:item:{first.id}")
    assert "track:second" not in buttons(detail[-1]).values() and "lần hai" not in detail[-1]["text"]


async def test_a_denunciation_checked_at_several_places_gets_10_working_days_to_be_taken_up(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await ward.staff("leader")
    receipt = await _denunciation(citizen)
    item = await _latest_item(runtime)
    assert "16/12/2026 (Luật Tố cáo 2018, Điều 24 khoản 1)" in receipt[0]["text"]  # 7 working days
    # The officers learn, with the new item, by when to forward it if it is not the commune's: 5 working days.
    notice = [m["text"] for m in await officer.history() if m["text"].startswith(f"📥 Hồ sơ mới {item.tracking_code}")]
    assert "chuyển đơn đến cơ quan có thẩm quyền chậm nhất ngày 14/12/2026 (Luật Tố cáo 2018, Điều 24 khoản 2)" \
        in notice[0]

    ward.at(date(2026, 12, 9), 9)
    opened = await officer.send(button=f"g:oi:{item.id}")
    assert "oa:extend_intake" in buttons(opened[-1]).values()
    await officer.send(button="oa:extend_intake")
    done = await officer.send("Phải xác minh tại ba địa điểm thuộc hai phường.")
    assert done[0]["text"] == "Hạn xử lý ban đầu mới: 21/12/2026."
    deadlines = await ward.deadlines(item.id)
    assert deadlines["intake"] == (date(2026, 12, 21), False)
    assert (await _latest_item(runtime)).several_places
    told = [m["text"] for m in await citizen.history() if "21/12/2026" in m["text"]]
    assert told and "xác minh tại nhiều địa điểm" in told[0] and "Điều 24 khoản 1" in told[0]
    # The reminders follow the new deadline; none come for 16/12.
    assert await ward.schedule(date(2026, 12, 10), date(2026, 12, 21)) == {
        date(2026, 12, 18): (1, 0), date(2026, 12, 20): (1, 0), date(2026, 12, 21): (1, 0)}
    # Once lengthened, not again.
    again = await _act(officer, item.id, "extend_intake", "Thêm một địa điểm nữa.")
    assert again[0]["text"].startswith("Không gia hạn được nữa: đã gia hạn 1 lần, luật chỉ cho phép 1 lần "
                                       "(Luật Tố cáo 2018, Điều 24 khoản 1")
    assert (await ward.deadlines(item.id))["intake"] == (date(2026, 12, 21), False)


async def test_a_complaint_is_filed_with_its_90_day_limit_computed_from_when_the_citizen_learned(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    receipt = await _complaint(ward, citizen)
    assert ("Thời hiệu khiếu nại: 90 ngày kể từ ngày bạn nhận được hoặc biết được quyết định, hành vi hành chính "
            "(Luật Khiếu nại 2011, Điều 9)") in receipt[0]["text"]
    item = await _latest_item(runtime)

    detail = await citizen.send(button=f"g:item:{item.id}")
    assert "track:learned" in buttons(detail[-1]).values()
    await citizen.send(button="track:learned")
    assert "Gõ ngày theo dạng ngày/tháng/năm" in (await citizen.send("tháng trước"))[0]["text"]
    assert "Gõ ngày theo dạng ngày/tháng/năm" in (await citizen.send("01/01/2027"))[0]["text"]  # not yet come
    # 01/09/2026 + 90 days = Monday 30/11/2026, a week before the complaint.
    late = await citizen.send("1/9/2026")
    assert late[0]["text"].startswith("Thời hiệu khiếu nại của bạn đã hết ngày 30/11/2026 (Luật Khiếu nại 2011, "
                                      "Điều 9), trước ngày gửi đơn 07/12/2026.")
    assert "ốm đau, thiên tai" in late[0]["text"]  # the time lost to an obstacle is not counted (Đ.9)
    assert (await _latest_item(runtime)).learned_on == date(2026, 9, 1)
    shown = await officer.send(button=f"g:oi:{item.id}")
    assert "01/09/2026" in shown[-1]["text"] and "30/11/2026" in shown[-1]["text"]

    # Corrected the same day: 15/10/2026 + 90 days = Wednesday 13/01/2027.
    await citizen.send(button=f"g:item:{item.id}")
    await citizen.send(button="track:learned")
    in_time = await citizen.send("15/10/2026")
    assert in_time[0]["text"] == ("Thời hiệu khiếu nại của bạn đến hết ngày 13/01/2027 (Luật Khiếu nại 2011, "
                                  "Điều 9): đơn gửi ngày 07/12/2026 còn trong thời hiệu.")
    assert [e.data["ends"] for e in await rows(runtime, ItemEvent, ItemEvent.action == "learned_on")] == \
        ["2026-11-30", "2027-01-13"]


async def test_a_suspended_complaint_stops_its_clock_and_runs_on_from_the_resumption(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await ward.staff("leader")
    await _complaint(ward, citizen)
    item = await _latest_item(runtime)
    ward.at(date(2026, 12, 10), 9)
    await _act(officer, item.id, "accept")
    # Đ.28: 30 days, Saturday 09/01/2027 → Monday 11/01.
    assert (await ward.deadlines(item.id))["resolution"] == (date(2027, 1, 11), False)

    ward.at(date(2026, 12, 15), 9)
    suspended = await _act(officer, item.id, "suspend", "Chờ kết quả giám định chữ ký của Sở Tư pháp.")
    assert suspended[0]["text"] == ("Đã tạm đình chỉ giải quyết từ ngày 15/12/2026: thời hạn giải quyết ngừng tính "
                                    "cho đến khi có quyết định tiếp tục giải quyết.")
    assert (await _latest_item(runtime)).status == "suspended"
    assert (await ward.deadlines(item.id))["resolution"] == (date(2027, 1, 11), True)
    told = (await citizen.history())[-1]["text"]
    assert told.startswith(f"⏸️ Hồ sơ {item.tracking_code}: tạm đình chỉ giải quyết từ ngày 15/12/2026.")
    assert "Chờ kết quả giám định chữ ký" in told and "Điều 28b" in told
    opened = await officer.send(button=f"g:oi:{item.id}")
    assert set(buttons(opened[-1]).values()) >= {"oa:resume"} and "oa:answer" not in buttons(opened[-1]).values()
    assert await ward.schedule(date(2026, 12, 16), date(2026, 12, 20)) == {}

    ward.at(date(2026, 12, 21), 9)
    resumed = await _act(officer, item.id, "resume", "Đã có kết luận giám định ngày 20/12/2026.")
    # 5 days ran before the suspension; the other 25 run from 21/12: Friday 15/01/2027.
    assert resumed[0]["text"] == "Tiếp tục giải quyết. Hạn giải quyết mới: 15/01/2027 (tạm đình chỉ 6 ngày)."
    assert (await _latest_item(runtime)).status == "in_progress"
    resolution = [d for d in await rows(runtime, Item) if d.id == item.id]
    assert resolution[0].paused_days == 6 and resolution[0].suspended_on is None
    told = (await citizen.history())[-1]["text"]
    assert told.startswith(f"▶️ Hồ sơ {item.tracking_code}: tiếp tục giải quyết từ ngày 21/12/2026.")
    assert "hạn giải quyết mới là ngày 15/01/2027" in told
    assert await ward.schedule(date(2026, 12, 22), date(2027, 1, 16)) == {
        date(2027, 1, 12): (1, 0), date(2027, 1, 14): (1, 0), date(2027, 1, 15): (1, 0), date(2027, 1, 16): (0, 1)}


async def test_an_extension_is_refused_once_the_resolution_period_has_ended(ward, runtime):
    citizen, officer = await ward.tab(), await ward.staff("officer")
    await _denunciation(citizen)
    item = await _latest_item(runtime)
    ward.at(date(2026, 12, 10), 9)
    await _act(officer, item.id, "accept")
    ward.at(date(2027, 1, 12), 9)  # the period ended on Monday 11/01/2027
    await _act(officer, item.id, "extend")
    await officer.send(button="oext:especially")
    refused = await officer.send("Vụ việc đặc biệt phức tạp.")
    assert refused[0]["text"] == ("Thời hạn đã hết ngày 11/01/2027: không gia hạn được một thời hạn đã hết "
                                  "(Luật Tố cáo 2018, Điều 30 khoản 1).")
    late = await _latest_item(runtime)
    assert (late.extensions, late.especially_complex) == (0, False)
    assert (await ward.deadlines(item.id))["resolution"] == (date(2027, 1, 11), False)


async def test_the_calendar_follows_the_holiday_settings(settings):
    """TIEPDAN_HOLIDAYS_REMOVE gives back a day the package marks off (here Tuesday 24/11/2026, Ngày Văn
    hóa Việt Nam); TIEPDAN_WORKING_SATURDAYS adds a Saturday worked. A denunciation filed on Friday
    20/11/2026 is then due on Monday 30/11 (23–28/11 and 30/11), not on Wednesday 02/12."""
    changed = settings.model_copy(update={"holidays_remove": "2026-11-24", "working_saturdays": "2026-11-28"})
    runtime = Runtime(changed, run_scheduler=False)
    try:
        from storage.demo import seed_demo
        from tests.test_lifecycle import Ward as _Ward

        await runtime.start(migrate=False)
        await seed_demo(runtime.uows, changed)
        with time_machine.travel(local(date(2026, 11, 20), 9), tick=True) as traveller:
            ward = _Ward(runtime, traveller)
            try:
                citizen = await ward.tab()
                receipt = await _denunciation(citizen)
                assert "30/11/2026 (Luật Tố cáo 2018, Điều 24 khoản 1)" in receipt[0]["text"]
                # The sweep counts overdue working days on the same calendar.
                assert DEFAULT_CALENDAR.working_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 6
            finally:
                await ward.close()
    finally:
        await runtime.stop()
        DEFAULT_CALENDAR.adjust()


def test_the_holiday_settings_take_iso_dates_and_name_the_variable_when_wrong(monkeypatch):
    monkeypatch.setenv("TIEPDAN_HOLIDAYS_REMOVE", "2026-11-24, 2027-11-24")
    monkeypatch.setenv("TIEPDAN_EXTRA_DAYS_OFF", "2026-12-04")
    loaded = load_settings(_env_file=None)
    assert loaded.calendar_changes == {"not_days_off": (date(2026, 11, 24), date(2027, 11, 24)),
                                       "working_days": (), "extra_days_off": (date(2026, 12, 4),)}
    monkeypatch.setenv("TIEPDAN_WORKING_SATURDAYS", "2026-11-27")
    with pytest.raises(SettingsError, match="TIEPDAN_WORKING_SATURDAYS: 2026-11-27 is a Friday"):
        load_settings(_env_file=None)
    monkeypatch.setenv("TIEPDAN_WORKING_SATURDAYS", "28/11/2026")
    with pytest.raises(SettingsError, match="TIEPDAN_WORKING_SATURDAYS: '28/11/2026' is not a date"):
        load_settings(_env_file=None)
