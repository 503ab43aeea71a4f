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
    done = await leader.send("Thứ Bảy này phường tổng vệ sinh, mời bà con tham gia từ 6 giờ sáng.", message_id="a-1")
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
    done = await leader.send("Hoàn thành cải tạo rãnh thoát nước đoạn Hàng Bạc – Hàng Đào.")
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
    closed = await leader.send(button=f"oclose:{consultation.id}")
    assert closed[0]["text"].startswith("Đã kết thúc lấy ý kiến")
    late = await citizen.send(button="vote:0")
    assert late[0]["text"] == "Cuộc lấy ý kiến này đã kết thúc."
    assert "• Không đồng ý: 1 (100%)" in late[-1]["text"]


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
