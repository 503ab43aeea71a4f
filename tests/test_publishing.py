"""A leader publishes from the bot: announcements reach subscribers once, project updates reach the
project's followers, a closed consultation shows its results; officers who are not leaders cannot."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.officers import create_invite
from storage.models import Consultation, OutboxMessage, Project, ProjectUpdate, Unit
from tests.webchat import Browser, buttons, reach_menu, rows

OFFICE = "Văn phòng HĐND và UBND phường"


async def _staff(runtime, role: str) -> Browser:
    [unit] = await rows(runtime, Unit, Unit.name == OFFICE)
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    tab = Browser(client)
    await reach_menu(tab)
    await tab.send(f"/officer {await create_invite(runtime.uows, unit.id, role)}")
    return tab


@pytest.fixture
async def leader(runtime):
    tab = await _staff(runtime, "leader")
    yield tab
    await tab.client.close()


async def _poll(tab: Browser) -> list[dict]:
    response = await tab.client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 2})
    data = await response.json()
    tab.cursor = data["cursor"]
    return data["messages"]


async def test_an_announcement_reaches_each_subscriber_once(runtime, citizen, leader):
    await citizen.send(button="menu:schedule")
    await citizen.send(button="schedule:toggle")  # subscribes to the commune's announcements
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:announce")
    preview = await leader.send("Thứ Bảy này phường tổng vệ sinh, mời bà con tham gia từ 6 giờ sáng.", message_id="a-1")
    # Nothing leaves before the preview is confirmed (issue 18): the text as received, audience, count.
    assert preview[0]["text"].startswith("👀 Xem trước — người dân sẽ nhận được:\n\n📣 Thông báo của UBND:\n\n"
                                         "Thứ Bảy này phường tổng vệ sinh")
    assert "Gửi tới: người đăng ký nhận tin của Phường Hoàn Kiếm, Thành phố Hà Nội — 1 người." in preview[0]["text"]
    assert await _poll(citizen) == []
    done = await leader.send(button="opub:send")
    assert done[0]["text"] == "Đã gửi thông báo tới 1 người."
    [notice] = await _poll(citizen)
    assert notice["text"] == "📣 Thông báo của UBND:\n\nThứ Bảy này phường tổng vệ sinh, mời bà con tham gia từ 6 giờ sáng."
    leader.cursor = 0
    await leader.send("Thứ Bảy này phường tổng vệ sinh, mời bà con tham gia từ 6 giờ sáng.", message_id="a-1")
    assert len([m for m in await rows(runtime, OutboxMessage) if m.dedupe_key.startswith("announce:")]) == 1


async def test_a_project_update_reaches_its_followers(runtime, citizen, leader):
    projects = await citizen.send(button="menu:projects")
    project_button = next(v for v in buttons(projects[-1]).values() if v.startswith("project:"))
    await citizen.send(button=project_button)
    await citizen.send(button="follow")
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:project")
    await leader.send(button="o" + project_button.replace("project:", "proj:"))
    assert (await leader.send("140"))[0]["text"] == "Hãy gõ một số từ 0 đến 100."
    await leader.send("65")
    preview = await leader.send("Hoàn thành cải tạo rãnh thoát nước đoạn Hàng Bạc – Hàng Đào.")
    assert preview[0]["text"].startswith("👀 Xem trước — người theo dõi dự án sẽ nhận được:")
    assert preview[0]["text"].endswith("Gửi tới: 1 người theo dõi dự án.")
    done = await leader.send(button="opub:send")
    assert done[0]["text"] == "Đã cập nhật dự án; 1 người theo dõi được báo."
    [notice] = await _poll(citizen)
    assert notice["text"].endswith("tiến độ 65%.\nHoàn thành cải tạo rãnh thoát nước đoạn Hàng Bạc – Hàng Đào.")
    [project] = await rows(runtime, Project)
    assert project.progress_percent == 65 and len(await rows(runtime, ProjectUpdate)) == 3


async def test_closing_a_consultation_shows_its_results(runtime, citizen, leader):
    listing = await citizen.send(button="menu:consultations")
    value = next(v for v in buttons(listing[-1]).values() if v.startswith("consult:"))
    await citizen.send(button=value)
    await citizen.send(button="vote:1")
    [consultation] = await rows(runtime, Consultation)
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:close")
    asked = await leader.send(button=f"oclose:{consultation.id}")
    # Before its published end: a reason first (issue 18), then a preview.
    assert "Kết thúc sớm hơn cần nêu lý do" in asked[0]["text"]
    preview = await leader.send("Đã đủ ý kiến để quyết định.")
    assert preview[0]["text"].startswith("👀 Kết thúc lấy ý kiến «") and "gửi tới 1 người đã góp ý" in preview[0]["text"]
    closed = await leader.send(button="opub:send")
    assert closed[0]["text"].startswith("Đã kết thúc lấy ý kiến")
    assert "(0 người)" in closed[1]["text"] and "• Không đồng ý: 1 (100%)" in closed[1]["text"]
    assert "Lý do: Đã đủ ý kiến để quyết định." in closed[1]["text"]
    notice, late, *shown = await citizen.send(button="vote:0")  # the closing notice came first
    assert notice["text"].startswith("🗳️ Cuộc lấy ý kiến «") and "• Không đồng ý: 1 (100%)" in notice["text"]
    assert "⏱️ Kết thúc sớm lúc " in notice["text"] and "Lý do: Đã đủ ý kiến để quyết định." in notice["text"]
    assert late["text"] == "Cuộc lấy ý kiến này đã kết thúc."
    assert "• Không đồng ý: 1 (100%)" in shown[-1]["text"]


async def test_an_officer_who_is_not_a_leader_cannot_publish(runtime, citizen):
    officer = await _staff(runtime, "officer")
    try:
        inbox = await officer.send("/inbox")
        assert "opub" not in buttons(inbox[-1]).values()
        forged = await officer.send(button="opub")
        assert "Nút này đã cũ" in forged[0]["text"]
    finally:
        await officer.client.close()


async def test_subscribers_hear_of_newly_published_reception_sessions_once(runtime, citizen):
    from pathlib import Path

    from bot.importer import import_file

    await citizen.send(button="menu:schedule")
    await citizen.send(button="schedule:toggle")
    example = Path(__file__).resolve().parents[1] / "examples" / "hoan-kiem.yaml"
    await import_file(runtime.uows, example, zone=runtime.settings.zone)
    notices = [m["text"] for m in await _poll(citizen)]
    assert notices and all(n.startswith("📅 Lịch tiếp công dân mới:") for n in notices)
    assert any("Người tiếp:" in n and "Địa điểm:" in n for n in notices)
    await import_file(runtime.uows, example, zone=runtime.settings.zone)  # nothing new: nothing said
    assert await _poll(citizen) == []


SESSION = """\
commune: 70
reception_sessions:
  - receiver: Chủ tịch UBND phường
    place: {place}
    start: {start}
    end: {end}
{extra}"""


def _session_file(tmp_path, name: str, *, start: str, end: str = "11:30", place: str = "Trụ sở UBND phường",
                  extra: str = ""):
    path = tmp_path / name
    path.write_text(SESSION.format(start=start, end=end, place=place, extra=extra), encoding="utf-8")
    return path


def _day(days: int) -> str:
    from datetime import date, timedelta

    return (date.today() + timedelta(days=days)).isoformat()


async def test_a_postponed_session_tells_subscribers_and_registered_citizens_the_old_and_new_time(
        runtime, citizen, tmp_path):
    from bot.importer import import_file
    from storage.models import ReceptionRegistration, ReceptionSession

    zone = runtime.settings.zone
    first = _session_file(tmp_path, "a.yaml", start=f"{_day(14)} 07:30", extra="    key: thang-12-chu-tich\n")
    await import_file(runtime.uows, first, zone=zone)
    [session] = await rows(runtime, ReceptionSession, ReceptionSession.key == "thang-12-chu-tich")

    # A second citizen registers for the session without subscribing to the schedule.
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    attendee = Browser(client)
    try:
        await reach_menu(attendee)
        shown = await attendee.send(button="menu:schedule")
        register = next(v for v in buttons(shown[-1]).values() if v.startswith(f"reg:{session.id}:"))
        await attendee.send(button=register)
        await citizen.send(button="menu:schedule")
        await citizen.send(button="schedule:toggle")
        await _poll(attendee), await _poll(citizen)

        moved = _session_file(tmp_path, "b.yaml", start=f"{_day(21)} 14:00", end="16:30",
                              place="Nhà văn hóa tổ dân phố số 2",
                              extra="    key: thang-12-chu-tich\n")
        summary = await import_file(runtime.uows, moved, zone=zone)
        assert (summary.created, summary.changed, summary.sessions_moved) == (0, 1, 1)
        assert "reception sessions moved: 1" in str(summary)
        [after] = await rows(runtime, ReceptionSession, ReceptionSession.key == "thang-12-chu-tich")
        assert after.id == session.id and after.moved_from == session.starts_at
        [registration] = await rows(runtime, ReceptionRegistration)
        assert registration.occurs_at == after.starts_at  # the registration moved with the session

        old_day = f"{session.starts_at.astimezone(zone):%d/%m/%Y}"
        new_day = f"{after.starts_at.astimezone(zone):%d/%m/%Y}"
        for tab in (citizen, attendee):
            [notice] = [m["text"] for m in await _poll(tab)]
            assert notice.startswith("📅 Lịch tiếp công dân thay đổi:")
            assert f"{old_day} lúc 07:30" in notice and f"{new_day}, 14:00–16:30" in notice
            assert "Địa điểm: Nhà văn hóa tổ dân phố số 2" in notice and "Địa điểm cũ: Trụ sở UBND phường" in notice

        # The schedule says where the session came from; importing the same file again says nothing.
        shown = await attendee.send(button="menu:schedule")
        assert f"(dời từ {session.starts_at.astimezone(zone):%d/%m} 07:30)" in shown[-1]["text"]
        again = await import_file(runtime.uows, moved, zone=zone)
        assert (again.changed, again.sessions_moved) == (0, 0)
        assert await _poll(citizen) == []
    finally:
        await client.close()


async def test_a_session_moved_from_its_old_time_without_a_key_and_then_cancelled(runtime, citizen, tmp_path):
    from bot.importer import ImportError_, import_file
    from storage.models import ReceptionSession

    zone = runtime.settings.zone
    await citizen.send(button="menu:schedule")
    await citizen.send(button="schedule:toggle")
    await import_file(runtime.uows, _session_file(tmp_path, "a.yaml", start=f"{_day(10)} 07:30"), zone=zone)
    [published] = [m["text"] for m in await _poll(citizen)]
    assert published.startswith("📅 Lịch tiếp công dân mới:")

    moved = _session_file(tmp_path, "b.yaml", start=f"{_day(12)} 07:30", extra=f"    moved_from: {_day(10)} 07:30\n")
    summary = await import_file(runtime.uows, moved, zone=zone)
    assert (summary.created, summary.sessions_moved) == (0, 1)
    ours = ReceptionSession.place == "Trụ sở UBND phường"
    assert len(await rows(runtime, ReceptionSession, ours)) == 1
    [notice] = [m["text"] for m in await _poll(citizen)]
    assert notice.startswith("📅 Lịch tiếp công dân thay đổi:") and "Địa điểm cũ" not in notice
    # The same file again (the old time no longer exists) is recognised by its new time: no change.
    assert (await import_file(runtime.uows, moved, zone=zone)).changed == 0

    wrong = _session_file(tmp_path, "c.yaml", start=f"{_day(12)} 09:00", extra=f"    moved_from: {_day(11)} 07:30\n")
    with pytest.raises(ImportError_) as refused:
        await import_file(runtime.uows, wrong, zone=zone)
    assert "line 7, reception_sessions.moved_from: no session at" in str(refused.value)

    cancelled = _session_file(tmp_path, "d.yaml", start=f"{_day(12)} 07:30", extra="    status: cancelled\n")
    summary = await import_file(runtime.uows, cancelled, zone=zone)
    assert summary.sessions_cancelled == 1
    [notice] = [m["text"] for m in await _poll(citizen)]
    assert notice.startswith("📅 Hủy lịch tiếp công dân:") and "07:30–11:30" in notice
    shown = await citizen.send(button="menu:schedule")
    assert "Trụ sở UBND phường" not in shown[-1]["text"]  # a cancelled session is not offered
