"""«Chat about this»: a public page's link opens the chat at what the page shows (bot/domain/deeplinks.py,
handlers/start.py), on the web chat and on Telegram; a mistyped or forged link is answered, never
followed into another commune's records. SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.domain import deeplinks
from bot.domain.deeplinks import Target
from storage.demo import DEMO_COMMUNE, PROVINCE_SERVED_COMMUNE
from storage.models import Consultation, Project, User
from tests.test_telegram import bot, open_bot, tg_settings  # noqa: F401 (fixtures)
from tests.webchat import Browser, buttons, describe

PROJECT = "Cải tạo vỉa hè, thoát nước phố Hàng Bạc"
CONSULTATION = "Phương án bố trí chỗ để xe máy trên phố Hàng Bạc"


@pytest.mark.parametrize("code, target", [
    ("c70", Target(70)),
    ("c70-schedule", Target(70, "schedule")),
    ("c70-p12", Target(70, "project", 12)),
    ("c583-v3", Target(583, "consultation", 3)),
    ("c70-submit", Target(70, "submit")),
])
def test_codes_round_trip(code, target):
    assert deeplinks.decode(code) == target
    assert deeplinks.encode(target.commune_code, target.place, target.record_id) == code


@pytest.mark.parametrize("code", ["", "70", "c", "c70-", "c70-x1", "c70-p", "c70-p99999999999", "c70-p-1",
                                  "c70-p12;drop", "c1234567", "c70-schedule-p1", "c70-p12 " + "x" * 60, "c７０"])
def test_anything_else_is_no_link(code):
    assert deeplinks.decode(code) is None


async def _ids(runtime) -> tuple[int, int]:
    async with runtime.uows() as uow:
        project = (await uow.session.execute(select(Project.id).where(Project.name == PROJECT))).scalar_one()
        consultation = (await uow.session.execute(
            select(Consultation.id).where(Consultation.title == CONSULTATION))).scalar_one()
    return project, consultation


async def test_a_newcomer_from_a_project_page_chooses_a_language_and_sees_the_project(runtime):
    project, _ = await _ids(runtime)
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        welcome = await tab.send(f"/start c{DEMO_COMMUNE}-p{project}")
        assert "Vui lòng chọn ngôn ngữ" in welcome[-1]["text"]
        shown = await tab.send(button="lang:vi")
        texts = [m["text"] for m in shown]
        assert "Đã chọn: Phường Hoàn Kiếm, Thành phố Hà Nội." in texts
        assert PROJECT in texts[-1] and "tiến độ 40%" in texts[-1]
        assert "follow" in buttons(shown[-1]).values()
        # The web chat's history keeps no "/start …" line of the citizen's.
        assert all(not m["text"].startswith("/start") for m in await tab.history() if m.get("from") == "me")
    async with runtime.uows() as uow:
        user = (await uow.session.execute(select(User).order_by(User.id.desc()).limit(1))).scalar_one()
        assert (user.commune_code, user.language) == (DEMO_COMMUNE, "vi")


async def test_a_returning_citizen_goes_straight_to_the_consultation(runtime, citizen):
    _, consultation = await _ids(runtime)
    shown = await citizen.send(f"/start c{DEMO_COMMUNE}-v{consultation}")
    assert CONSULTATION in shown[-1]["text"]
    assert buttons(shown[-1])["Đồng ý"] == "vote:0"
    schedule = await citizen.send(f"/start c{DEMO_COMMUNE}-schedule")
    assert "Lịch tiếp công dân — Phường Hoàn Kiếm" in schedule[-1]["text"]


async def test_a_link_to_another_commune_says_so_and_shows_only_that_communes_records(runtime, citizen):
    project, _ = await _ids(runtime)
    # Hoàn Kiếm's project through a link naming Bát Tràng: Bát Tràng's (empty) project list, not the project.
    shown = await citizen.send(f"/start c{PROVINCE_SERVED_COMMUNE}-p{project}")
    texts = [m["text"] for m in shown]
    assert any("Xã Bát Tràng" in text and "đổi lại" in text for text in texts)
    assert not any(PROJECT in text for text in texts)
    async with runtime.uows() as uow:
        user = (await uow.session.execute(select(User).order_by(User.id.desc()).limit(1))).scalar_one()
        assert user.commune_code == PROVINCE_SERVED_COMMUNE


async def test_a_forged_or_stale_link_is_answered_and_the_chat_goes_on(runtime, citizen):
    for code in ("c70-p99999999999", "c999999-p1", "xyz"):
        shown = await citizen.send(f"/start {code}")
        assert shown[0]["text"] == "Liên kết bạn mở không đúng hoặc đã cũ. Bạn vẫn dùng được mọi mục bên dưới."
        assert "Bạn muốn làm gì?" in shown[-1]["text"]
    # A project id that does not exist (or was removed): the commune's projects instead.
    shown = await citizen.send(f"/start c{DEMO_COMMUNE}-p2147483647")
    assert "Dự án, công trình — Phường Hoàn Kiếm" in shown[-1]["text"]


async def test_a_link_to_submit_keeps_a_half_written_draft(runtime, citizen):
    await describe(citizen, "feedback")
    shown = await citizen.send(f"/start c{DEMO_COMMUNE}-submit")
    assert {"menu:draft", "menu:submit_new"} <= set(buttons(shown[-1]).values())
    # Without one, the link starts a new submission at once.
    await citizen.send(button="menu:submit_new")
    await citizen.send(button="g:menu")
    shown = await citizen.send(f"/start c{DEMO_COMMUNE}-submit")
    assert "kind:feedback" in buttons(shown[-1]).values()


async def test_telegram_start_parameter_opens_the_project(bot):
    """t.me/<bot>?start=c70-p12: Telegram sends "/start c70-p12" when the citizen presses Start."""
    async with bot.runtime.uows() as uow:
        project = (await uow.session.execute(select(Project.id).where(Project.name == PROJECT))).scalar_one()
    texts = await bot.say(f"/start c{DEMO_COMMUNE}-p{project}")
    assert "Vui lòng chọn ngôn ngữ" in texts[-1]
    texts = await bot.press("lang:vi")
    assert "Đã chọn: Phường Hoàn Kiếm, Thành phố Hà Nội." in texts
    assert PROJECT in texts[-1] and "tiến độ 40%" in texts[-1]


async def test_public_pages_link_into_the_chat_at_what_they_show(runtime):
    runtime.settings.public_telegram_username = "tiepdan_demo_bot"
    project, consultation = await _ids(runtime)
    async with TestClient(TestServer(runtime.web_app)) as client:
        detail = await (await client.get(f"/c/70/projects/{project}")).text()
        assert f'href="/?start=c70-p{project}"' in detail
        assert f'href="https://t.me/tiepdan_demo_bot?start=c70-p{project}"' in detail
        votes = await (await client.get("/c/70/consultations")).text()
        assert f'href="/?start=c70-v{consultation}"' in votes
        schedule = await (await client.get("/c/70/schedule?lang=en")).text()
        assert 'href="/?start=c70-schedule"' in schedule
        home = await (await client.get("/c/phuong-hoan-kiem/")).text()
        assert re.search(r'href="/\?start=c70"', home)
