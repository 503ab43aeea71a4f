"""The web chat through its JSON API, on both databases: /start, restarts, redelivery, bad input."""

from __future__ import annotations


import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Runtime
from storage.demo import seed_demo
from tests.webchat import Browser, buttons, reach_menu


@pytest.fixture
async def runtime(settings):
    runtime = Runtime(settings, run_scheduler=False)
    await runtime.start(migrate=False)
    yield runtime
    await runtime.stop()


@pytest.fixture
async def browser(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield Browser(client)


async def test_page_is_served_with_an_anonymous_chat_identity(browser):
    response = await browser.client.get("/")
    assert response.status == 200
    assert "tiepdan_chat" in response.cookies
    assert response.cookies["tiepdan_chat"]["httponly"]


async def test_start_flow_choose_language_and_commune_then_menu(browser):
    welcome = await browser.send("/start")
    assert "Xin chào" in welcome[-1]["text"]
    assert buttons(welcome[-1]) == {"🇻🇳 Tiếng Việt": "lang:vi", "🇬🇧 English": "lang:en"}
    asked = await browser.send(button="lang:vi")
    assert "xã, phường" in asked[-1]["text"]
    found = await browser.send("HOÀN KIẾM")
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in buttons(found[-1])
    menu = await browser.send(button=buttons(found[-1])["Phường Hoàn Kiếm, Thành phố Hà Nội"])
    assert "Đã chọn: Phường Hoàn Kiếm" in menu[0]["text"]
    assert "📅 Lịch tiếp công dân" in buttons(menu[-1])
    again = await browser.send("/start")
    assert "Chào mừng bạn quay lại" in again[0]["text"]


async def test_english_is_the_second_language(browser):
    await browser.send("/start")
    asked = await browser.send(button="lang:en")
    assert asked[0]["text"] == "English selected."
    assert "Which commune" in asked[-1]["text"]


async def test_first_message_that_is_not_start_is_greeted(browser):
    reply = await browser.send("chào anh")
    assert "Xin chào" in reply[-1]["text"] and "lang:vi" in buttons(reply[-1]).values()


async def test_restart_mid_flow_resumes_where_the_citizen_was(settings):
    first = Runtime(settings, run_scheduler=False)
    await first.start(migrate=False)
    async with TestClient(TestServer(first.web_app)) as client:
        tab = Browser(client)
        await tab.send("/start")
        await tab.send(button="lang:vi")
        cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))["tiepdan_chat"].value
    await first.stop()

    second = Runtime(settings, run_scheduler=False)
    await second.start(migrate=False)
    try:
        async with TestClient(TestServer(second.web_app)) as client:
            client.session.cookie_jar.update_cookies({"tiepdan_chat": cookie})
            tab = Browser(client)
            history = await tab.history()
            assert "Bạn sống ở xã, phường nào?" in history[-1]["text"]
            tab.cursor = history[-1]["id"]
            found = await tab.send("hoan kiem")
            assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in buttons(found[-1])
    finally:
        await second.stop()


async def test_a_resent_message_is_processed_once(browser):
    await browser.send("/start", message_id="m-1")
    cursor = browser.cursor
    browser.cursor = 0
    resent = await browser.send("/start", message_id="m-1")
    assert browser.cursor == cursor
    assert len(resent) == 1  # the one welcome, not a second one


@pytest.mark.parametrize("text, expected", [
    ("", "Tin nhắn trống"),
    ("   \n\t ", "Tin nhắn trống"),
    ("x" * 4001, "Tin nhắn quá dài (4001 ký tự)"),
    ("/foo", "Không có lệnh «/foo»"),
])
async def test_bad_text_gets_a_clear_answer_and_the_step_again(browser, text, expected):
    await browser.send("/start")
    await browser.send(button="lang:vi")
    replies = await browser.send(text)
    assert expected in replies[0]["text"]
    assert "Bạn sống ở xã, phường nào?" in replies[-1]["text"]
    found = await browser.send("hoan kiem")
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in buttons(found[-1])


async def test_forged_or_expired_button_is_refused_and_the_menu_shown_again(browser):
    await reach_menu(browser)
    replies = await browser.send(button="commune:70")  # from a menu no longer on screen
    assert "Nút này đã cũ" in replies[0]["text"]
    assert "📅 Lịch tiếp công dân" in buttons(replies[-1])
    replies = await browser.send(button="admin:delete-all")
    assert "Nút này đã cũ" in replies[0]["text"]


async def test_unknown_commune_and_nonsense_answers_keep_the_flow_usable(browser):
    await browser.send("/start")
    await browser.send(button="lang:vi")
    replies = await browser.send("zzqqxx")
    assert "Không tìm thấy" in replies[0]["text"]
    replies = await browser.send("h")
    assert "ít nhất 2 chữ cái" in replies[0]["text"]


async def test_cancel_and_help_from_inside_a_flow(browser):
    await browser.send("/start")
    await browser.send(button="lang:vi")
    help_replies = await browser.send("/help")
    assert "/cancel" in help_replies[0]["text"]
    assert "Bạn sống ở xã, phường nào?" in help_replies[-1]["text"]


async def test_demo_content_fills_every_menu(runtime, browser):
    await seed_demo(runtime.uows, runtime.settings)
    await reach_menu(browser)
    schedule = await browser.send(button="menu:schedule")
    assert "Chủ tịch UBND phường Hoàn Kiếm" in schedule[-1]["text"]
    assert "hằng tuần vào Thứ Năm" in schedule[-1]["text"]
    await browser.send(button="g:menu")
    await browser.send(button="menu:disclosures")
    disclosures = await browser.send(button="dcat:*")
    assert "Dự toán ngân sách phường năm 2026" in disclosures[-1]["text"]
    await browser.send(button="g:menu")
    projects = await browser.send(button="menu:projects")
    [(label, value)] = [(k, v) for k, v in buttons(projects[-1]).items() if v.startswith("project:")]
    assert label == "Cải tạo vỉa hè, thoát nước phố Hàng Bạc — 40%"
    project = await browser.send(button=value)
    assert "12.500.000.000 đồng" in project[-1]["text"]


JSON = {"Content-Type": "application/json"}


async def test_malformed_requests_get_a_json_error(browser):
    response = await browser.client.post("/api/chat/send", data=b"{not json", headers=JSON)
    assert response.status == 400 and "error" in await response.json()
    response = await browser.client.post("/api/chat/send", json={"text": "no id"})
    assert response.status == 400
    response = await browser.client.post("/api/chat/send", json={"id": "x", "button": "b" * 65})
    assert response.status == 400
    response = await browser.client.post("/api/chat/send", data=b"x" * (70 * 1024), headers=JSON)
    assert response.status == 413
    response = await browser.client.get("/api/chat/messages", params={"after": "abc"})
    assert response.status in (200, 400)


async def test_long_poll_returns_when_a_message_arrives(runtime, browser):
    import asyncio

    await browser.send("/start")
    cursor = browser.cursor
    poll = asyncio.create_task(browser.client.get("/api/chat/messages", params={"after": cursor, "wait": 10}))
    await asyncio.sleep(0.2)
    assert not poll.done()
    await browser.send(button="lang:vi")
    response = await asyncio.wait_for(poll, 5)
    assert (await response.json())["messages"]


async def test_database_down_gets_try_again_shortly(runtime, browser, monkeypatch):
    from sqlalchemy.exc import OperationalError

    async def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("db down"))

    monkeypatch.setattr("bot.channels.web.handle_incoming", broken)
    data = await browser.send("/start", status=503)
    assert "thử lại" in data["error"]


async def test_a_bug_in_a_flow_gets_a_polite_answer_and_the_conversation_survives(browser, monkeypatch):
    from handlers.core import FLOWS

    await browser.send("/start")
    await browser.send(button="lang:vi")

    async def broken(ctx):
        raise RuntimeError("a bug")

    monkeypatch.setattr(FLOWS["start"], "handle", broken)
    replies = await browser.send("hoan kiem")
    assert replies[0]["text"].startswith("Xin lỗi, đã có lỗi")
    monkeypatch.undo()
    found = await browser.send("hoan kiem")
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in buttons(found[-1])


async def test_request_errors_speak_the_language_the_citizen_chose(browser):
    response = await browser.client.post("/api/chat/send", json={"text": "no id"})
    assert (await response.json())["error"].startswith("Tin nhắn không hợp lệ")
    await browser.send("/start")
    await browser.send(button="lang:en")
    response = await browser.client.post("/api/chat/send", json={"text": "no id"})
    assert (await response.json())["error"].startswith("That message could not be read")
    response = await browser.client.post("/api/chat/send", data=b"x" * (70 * 1024), headers=JSON)
    assert response.status == 413 and "too large" in (await response.json())["error"]
    response = await browser.client.post("/api/chat/send", json={"id": "b1", "text": "/menu", "after": True})
    assert response.status == 200
