"""Ids as an outsider writes them into addresses and forms — a superscript digit ("²" passes
``str.isdigit`` and fails ``int``), full-width digits, a number past the 32-bit ids of PostgreSQL —
get a plain 400/404 answer on every web surface, on SQLite and PostgreSQL, never a 500."""

from __future__ import annotations

from datetime import datetime

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.domain.ids import record_id
from bot.channels.web import STAFF_COOKIE
from tests.test_console import clients  # noqa: F401  (a fixture)
from tests.test_reports_web import staff

ODD = ("²", "１２", "99999999999", "2147483648", "-1", "1e3")


def test_record_id_takes_ascii_digits_within_an_id_and_nothing_else():
    assert record_id("42") == 42 and record_id("2147483647") == 2 ** 31 - 1
    for text in (*ODD, "", " 1", "1 ", None, ["1"], ("1",)):
        assert record_id(text) is None, text


@pytest.fixture
async def http(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


@pytest.mark.parametrize("odd", ODD)
async def test_public_pages_and_open311(http, odd):
    for path in (f"/c/{odd}", f"/c/{odd}/schedule", f"/c/{odd}/schedule.ics", f"/c/{odd}/feed.rss",
                 f"/c/phuong-hoan-kiem/projects/{odd}", f"/c/phuong-hoan-kiem/files/{odd}/a.pdf", f"/minutes/{odd}",
                 f"/open311/v2/requests/{odd}.json"):
        response = await http.get(path)
        assert response.status == 404, (path, response.status)
    for params in ({"service_request_id": odd}, {"service_request_id": f"1,{odd}"}):
        response = await http.get("/open311/v2/requests.json", params={"jurisdiction_id": "70", **params})
        assert response.status == 200 and await response.json() == [], (params, response.status)
    response = await http.get("/open311/v2/services.json", params={"jurisdiction_id": odd})
    assert response.status == 404, response.status


@pytest.mark.parametrize("odd", ODD)
async def test_console_addresses_and_reports(runtime, http, odd):
    token = await staff(runtime, "leader")
    http.session.cookie_jar.update_cookies({STAFF_COOKIE: token})
    for path in (f"/console/items/{odd}", f"/console/register/entries/{odd}", f"/console/register/meetings/{odd}"):
        response = await http.get(path, allow_redirects=False)
        assert response.status == 404, (path, response.status)
    for path in ("/console/reports", "/console/dashboard", "/console/reports/download"):
        response = await http.get(path, params={"period": "2026-Q3", "commune": odd, "format": "csv"},
                                  allow_redirects=False)
        assert response.status in (400, 403), (path, response.status)


async def test_a_nul_in_an_address_is_refused_in_the_readers_language(http):
    from bot.texts import t

    page = await http.get("/console?q=%00", headers={"Accept-Language": "en-GB,en"})
    assert page.status == 400 and await page.text() == t("en", "error.bad_address")
    api = await http.get("/api/chat/messages?after=0&x=a%00b")
    assert api.status == 400 and (await api.json())["error"] == t("vi", "error.bad_address")


async def test_an_open311_post_with_a_nul_byte_is_filed_without_it(runtime, http):
    from urllib.parse import urlencode

    from bot.public.open311 import issue_key
    from storage.models import Item
    from tests.webchat import rows

    key = await issue_key(runtime.uows, 70, "Cổng dịch vụ công")
    body = urlencode({"api_key": key, "jurisdiction_id": "70", "service_code": "infrastructure", "lat": "21.03",
                      "long": "105.85", "description": "Cống\x00 thoát nước bị tắc."})
    response = await http.post("/open311/v2/requests.json", data=body,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 201, await response.text()
    [item] = await rows(runtime, Item)
    assert item.description == "Cống thoát nước bị tắc."


NUL = "Cống\x00 thoát nước\x00"


async def test_console_forms_with_a_nul_byte(runtime, clients, citizen):
    """A form field is text a person typed or pasted; a NUL byte in it (PostgreSQL refuses it in
    text) is dropped, and the rest is saved — a walk-in, a meeting's minutes, an answer."""
    from sqlalchemy import select

    from storage.models import Item, ItemEvent
    from storage.models_desk import ReceptionMeeting
    from tests.test_console import OFFICE, csrf_of, logged_in
    from tests.webchat import file_item, rows, same_origin

    browser = await logged_in(runtime, clients, OFFICE, "officer")
    form = await (await browser.get("/console/register/new")).text()
    today = datetime.now(runtime.settings.zone).date().isoformat()
    saved = await browser.post("/console/register", headers=same_origin(browser), data={
        "csrf": csrf_of(form), "form": "walk_in", "received_on": today, "kind": "feedback",
        "category": "infrastructure", "summary": NUL + " bị tắc ở ngõ 45.", "person_name": "Lê\x00 Thị Hoa"})
    assert saved.status == 200, await saved.text()
    [walk_in] = await rows(runtime, Item)
    assert "\x00" not in walk_in.description and "Cống thoát nước bị tắc" in walk_in.description

    form = await (await browser.get("/console/register/meetings/new")).text()
    created = await browser.post("/console/register/meetings", headers=same_origin(browser), allow_redirects=False,
                                 data={"csrf": csrf_of(form), "title": "Tiếp\x00 công dân", "held_on": today,
                                       "chaired_by": "Phạm\x00 Quang Huy", "minutes": NUL})
    assert created.status == 303, await created.text()
    [meeting] = await rows(runtime, ReceptionMeeting)
    assert meeting.title == "Tiếp công dân"

    await file_item(citizen, "feedback", "infrastructure", "Đèn đường hỏng cả dãy ngõ 45 phố Hàng Bạc từ tuần trước.")
    async with runtime.uows() as uow:
        chat_item = (await uow.session.execute(select(Item).where(Item.channel != "reception"))).scalar_one()
    browser = await logged_in(runtime, clients)  # an officer of the unit the item went to
    page = await browser.get(f"/console/items/{chat_item.id}")
    assert page.status == 200
    for action, text in (("accept", ""), ("request_info", "Xin\x00 bổ sung ảnh chụp đèn hỏng.")):
        done = await browser.post(f"/console/items/{chat_item.id}", headers=same_origin(browser),
                                  allow_redirects=False,
                                  data={"csrf": csrf_of(await page.text()), "action": action, "text": text})
        assert done.status == 303, (action, done.status, await done.text())
    async with runtime.uows() as uow:
        notes = list((await uow.session.execute(
            select(ItemEvent.note).where(ItemEvent.item_id == chat_item.id, ItemEvent.note.is_not(None)))).scalars())
    assert "Xin bổ sung ảnh chụp đèn hỏng." in notes


async def test_a_text_field_named_photos_is_no_photo(runtime, clients, citizen):
    """The answer form's photos are files; a forged form sending ``photos`` as text was read as the
    photo list and answered 500. The answer is given, without photos."""
    from sqlalchemy import select

    from storage.models import Item, ItemEvent
    from tests.test_console import csrf_of, logged_in
    from tests.webchat import file_item, same_origin

    await file_item(citizen, "feedback", "infrastructure", "Đèn đường hỏng cả dãy ngõ 45 phố Hàng Bạc từ tuần trước.")
    async with runtime.uows() as uow:
        item = (await uow.session.execute(select(Item))).scalar_one()
    browser = await logged_in(runtime, clients)
    for fields in ({"action": "accept"}, {"action": "answer", "text": "Đã thay bóng đèn cả dãy.", "photos": "ab"}):
        page = await (await browser.get(f"/console/items/{item.id}")).text()
        done = await browser.post(f"/console/items/{item.id}", headers=same_origin(browser), allow_redirects=False,
                                  data={"csrf": csrf_of(page), **fields})
        assert done.status == 303, (fields, done.status)
    async with runtime.uows() as uow:
        answered = (await uow.session.execute(select(ItemEvent).where(
            ItemEvent.item_id == item.id, ItemEvent.note == "Đã thay bóng đèn cả dãy."))).scalar_one()
    assert not (answered.data or {}).get("attachments")
