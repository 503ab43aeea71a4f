"""The staff console at /console, through real HTTP on SQLite and PostgreSQL: the one-time login link
asked for with /console, the inbox and search, an item's page and actions with the chat's checks, and
what an outsider tries (another commune's item by URL, a replayed link, a cross-origin post, a missing
CSRF token, a citizen's chat cookie)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.officers import create_invite
from bot.texts import t
from storage.models import Item, StaffEvent, Unit, User, utcnow
from storage.models_desk import ConsoleLogin
from tests.webchat import Browser, file_item, reach_menu, rows, same_origin

OFFICE = "Văn phòng HĐND và UBND phường"
ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
LINK = re.compile(r"(/console/login/[A-Za-z0-9_-]+)")
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


async def _unit(runtime, name: str) -> int:
    [unit] = await rows(runtime, Unit, Unit.name == name)
    return unit.id


@pytest.fixture
async def clients(runtime):
    opened: list[TestClient] = []

    async def open_() -> TestClient:
        client = TestClient(TestServer(runtime.web_app))
        await client.start_server()
        opened.append(client)
        return client

    yield open_
    for client in opened:
        await client.close()


async def staff_tab(runtime, clients, unit: str = ECONOMY, role: str = "officer") -> Browser:
    """A web chat tab that became staff with an invite (its browser holds a live staff session)."""
    tab = Browser(await clients())
    await reach_menu(tab)
    await tab.send(f"/officer {await create_invite(runtime.uows, await _unit(runtime, unit), role)}")
    return tab


async def ask_link(tab: Browser) -> str:
    messages = await tab.send("/console")
    found = LINK.search(messages[-1]["text"])
    assert found, messages[-1]["text"]
    return found.group(1)


async def console_login(client: TestClient, link: str) -> None:
    page = await client.get(link)
    assert page.status == 200 and t("vi", "desk.login.button") in await page.text()
    answer = await client.post(link, data={}, headers=same_origin(client), allow_redirects=False)
    assert answer.status == 303 and answer.headers["Location"] == "/console"


async def logged_in(runtime, clients, unit: str = ECONOMY, role: str = "officer") -> TestClient:
    browser = await clients()
    await console_login(browser, await ask_link(await staff_tab(runtime, clients, unit, role)))
    return browser


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def events(runtime, action: str) -> list[StaffEvent]:
    return await rows(runtime, StaffEvent, StaffEvent.action == action)


# -- logging in ----------------------------------------------------------------------------------------
async def test_console_without_a_session_explains_how_to_log_in(runtime, clients, citizen):
    browser = await clients()
    answer = await browser.get("/console", allow_redirects=False)
    assert answer.status == 302 and answer.headers["Location"] == "/console/login"
    page = await (await browser.get("/console/login")).text()
    assert "/console" in page and t("vi", "desk.login.step2") in page and 'type="password"' not in page
    # a citizen's chat cookie is no login either
    assert (await citizen.client.get("/console", allow_redirects=False)).status == 302
    assert (await citizen.client.get("/console/items/1", allow_redirects=False)).status == 302


async def test_a_login_link_opens_one_session_once_and_only_its_hash_is_kept(runtime, clients):
    tab = await staff_tab(runtime, clients)
    link = await ask_link(tab)
    token = link.rsplit("/", 1)[1]
    [stored] = await rows(runtime, ConsoleLogin)
    assert stored.token_hash != token and token not in stored.token_hash
    assert stored.expires_at - stored.created_at == timedelta(minutes=runtime.settings.console_login_minutes)

    first, second = await clients(), await clients()
    await first.get(link)  # a link previewer's GET spends nothing
    await console_login(first, link)
    inbox = await first.get("/console")
    assert inbox.status == 200 and t("vi", "desk.inbox.title") in await inbox.text()

    replay = await second.post(link, data={}, headers=same_origin(second), allow_redirects=False)
    assert replay.status == 403 and t("vi", "desk.login.refused") in await replay.text()
    assert (await second.get("/console", allow_redirects=False)).status == 302
    assert [e.data["via"] for e in await events(runtime, "login")].count("console_link") == 1
    assert [e.data["reason"] for e in await events(runtime, "console_link_refused")] == ["used"]


async def test_an_expired_or_made_up_link_is_refused(runtime, clients):
    link = await ask_link(await staff_tab(runtime, clients))
    async with runtime.uows() as uow:
        await uow.session.execute(update(ConsoleLogin).values(expires_at=utcnow() - timedelta(seconds=1)))
        await uow.commit()
    browser = await clients()
    expired = await browser.post(link, data={}, headers=same_origin(browser), allow_redirects=False)
    made_up = await browser.post("/console/login/" + "A" * 32, data={}, headers=same_origin(browser),
                                 allow_redirects=False)
    assert (expired.status, made_up.status) == (403, 403)
    assert sorted(e.data["reason"] for e in await events(runtime, "console_link_refused")) == ["expired", "unknown"]


async def test_a_login_posted_from_another_site_is_refused(runtime, clients):
    link = await ask_link(await staff_tab(runtime, clients))
    browser = await clients()
    forged = await browser.post(link, data={}, headers={"Origin": "https://evil.example"}, allow_redirects=False)
    assert forged.status == 403
    await console_login(browser, link)  # the link was not spent by the forged post


async def test_a_citizen_asking_for_a_link_gets_none(runtime, citizen):
    messages = await citizen.send("/console")
    assert messages[-1]["text"] == t("vi", "desk.login.not_staff")
    assert await rows(runtime, ConsoleLogin) == []


async def test_logout_ends_the_session_and_needs_the_token(runtime, clients):
    browser = await logged_in(runtime, clients)
    csrf = csrf_of(await (await browser.get("/console")).text())
    refused = await browser.post("/console/logout", data={"csrf": "x" * 20}, headers=same_origin(browser))
    assert refused.status == 403
    assert (await browser.get("/console", allow_redirects=False)).status == 200
    await browser.post("/console/logout", data={"csrf": csrf}, headers=same_origin(browser), allow_redirects=False)
    assert (await browser.get("/console", allow_redirects=False)).status == 302
    assert len(await events(runtime, "logout")) == 1


# -- working items -----------------------------------------------------------------------------------------
async def test_an_officer_finds_an_item_by_code_and_answers_with_a_photo_the_citizen_is_told(runtime, clients,
                                                                                            citizen):
    await file_item(citizen, "feedback", "infrastructure", "Đèn đường hỏng cả dãy ngõ 45 phố Hàng Bạc từ tuần trước.")
    [item] = await rows(runtime, Item)
    browser = await logged_in(runtime, clients)
    found = await (await browser.get("/console", params={"q": item.tracking_code.lower()})).text()
    assert f"/console/items/{item.id}" in found
    by_text = await (await browser.get("/console", params={"q": "đèn đường"})).text()
    assert f"/console/items/{item.id}" in by_text
    none = await (await browser.get("/console", params={"q": "không có gì như thế"})).text()
    assert f"/console/items/{item.id}" not in none

    page = await (await browser.get(f"/console/items/{item.id}")).text()
    assert item.tracking_code in page and "Điều" in page  # deadlines with their articles
    accepted = await browser.post(f"/console/items/{item.id}", data={"csrf": csrf_of(page), "action": "accept"},
                                  headers=same_origin(browser))
    assert 'data-action="answer"' in await accepted.text()
    form = FormData()
    form.add_field("csrf", csrf_of(page))
    form.add_field("action", "answer")
    form.add_field("text", "Đã thay bóng đèn cả dãy ngõ 45, mời bà kiểm tra.")
    form.add_field("photos", PNG, filename="den.png", content_type="image/png")
    answer = await browser.post(f"/console/items/{item.id}", data=form, headers=same_origin(browser))
    assert answer.status == 200 and t("vi", "desk.done.answer") in await answer.text()

    [item] = await rows(runtime, Item)
    assert item.status == "answered"
    told = [m for m in await citizen.history() if "Đã thay bóng đèn" in m["text"]]
    assert told and told[0]["photos"], told
    photo = await citizen.client.get(told[0]["photos"][0])  # the citizen may open the officer's photo
    assert photo.status == 200 and await photo.read() == PNG
    stranger = await clients()
    assert (await stranger.get(told[0]["photos"][0])).status == 404
    from scheduler.retention import purge_orphan_uploads
    assert await purge_orphan_uploads(runtime.uows, older_than=timedelta(0)) == 0  # part of an answer: kept
    assert (await citizen.client.get(told[0]["photos"][0])).status == 200


async def test_another_communes_item_by_url_is_not_found_and_the_attempt_is_audited(runtime, clients, citizen):
    await file_item(citizen, "feedback", "infrastructure", "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã.")
    [item] = await rows(runtime, Item)
    [ba_vi] = await rows(runtime, User, User.display_name == "Cán bộ tiếp công dân xã Ba Vì (demo)")
    async with runtime.uows() as uow:
        from bot.console.login import create_login_link
        token = await create_login_link(uow, await uow.session.get(User, ba_vi.id), channel="test", minutes=5)
        await uow.commit()
    outsider = await clients()
    await console_login(outsider, f"/console/login/{token}")
    page = await outsider.get(f"/console/items/{item.id}")
    missing = await outsider.get("/console/items/999999")
    assert (page.status, missing.status) == (404, 404)
    assert await page.text() == (await missing.text()).replace("/999999", f"/{item.id}")  # nothing to tell apart
    assert f"/console/items/{item.id}" not in await (await outsider.get("/console", params={"q": item.tracking_code})).text()
    csrf = csrf_of(await (await outsider.get("/console")).text())
    act = await outsider.post(f"/console/items/{item.id}", data={"csrf": csrf, "action": "accept"},
                              headers=same_origin(outsider))
    assert act.status == 404
    [item] = await rows(runtime, Item)
    assert item.status == "received"
    assert len(await events(runtime, "console_refused")) == 3


async def test_a_cross_origin_post_or_one_without_the_token_changes_nothing(runtime, clients, citizen):
    await file_item(citizen, "feedback", "infrastructure", "Cống thoát nước tắc ở ngõ 45 Hàng Bạc, ngập khi mưa.")
    [item] = await rows(runtime, Item)
    browser = await logged_in(runtime, clients)
    csrf = csrf_of(await (await browser.get(f"/console/items/{item.id}")).text())
    cross = await browser.post(f"/console/items/{item.id}", data={"csrf": csrf, "action": "accept"},
                               headers={"Origin": "https://evil.example"})
    no_token = await browser.post(f"/console/items/{item.id}", data={"action": "accept"}, headers=same_origin(browser))
    other_token = await browser.post(f"/console/items/{item.id}", data={"csrf": "A" * 22, "action": "accept"},
                                     headers=same_origin(browser))
    assert (cross.status, no_token.status, other_token.status) == (403, 403, 403)
    [item] = await rows(runtime, Item)
    assert item.status == "received"
    accepted = await browser.post(f"/console/items/{item.id}", data={"csrf": csrf, "action": "accept"},
                                  headers=same_origin(browser))
    assert accepted.status == 200 and t("vi", "desk.done.accept") in await accepted.text()
    [item] = await rows(runtime, Item)
    assert item.status == "accepted"


async def test_an_action_the_status_does_not_allow_is_refused_with_the_reason(runtime, clients, citizen):
    await file_item(citizen, "feedback", "infrastructure", "Vỉa hè phố Hàng Bạc bị lấn chiếm để xe suốt ngày.")
    [item] = await rows(runtime, Item)
    browser = await logged_in(runtime, clients)
    csrf = csrf_of(await (await browser.get(f"/console/items/{item.id}")).text())
    short = await browser.post(f"/console/items/{item.id}", data={"csrf": csrf, "action": "refuse", "text": "x"},
                               headers=same_origin(browser))
    assert short.status == 400 and t("vi", "desk.problem.text_needed") in await short.text()
    resume = await browser.post(f"/console/items/{item.id}", data={"csrf": csrf, "action": "extend", "text": "Cần xác minh thêm"},
                                headers=same_origin(browser))
    assert resume.status == 409  # the chat's own refusal text, no stack trace
    assert "Traceback" not in await resume.text()
    [item] = await rows(runtime, Item)
    assert item.status == "received"


async def test_a_denouncers_identity_never_reaches_the_console(runtime, clients, citizen):
    name, address, phone = "Trần Văn Bí Mật", "Ngõ 99 phố Kín", "0987654321"
    await file_item(citizen, "denunciation", "public_order", "Cán bộ phường thu tiền trái phép của hộ kinh doanh.",
                    (name, address, phone))
    [item] = await rows(runtime, Item)
    leader = await logged_in(runtime, clients, OFFICE, "leader")
    page = await (await leader.get(f"/console/items/{item.id}")).text()
    assert item.tracking_code in page
    for secret in (name, address, phone, "Bí Mật"):
        assert secret not in page
    assert t("vi", "officer.identity_protected") in page


async def test_only_a_leader_reveals_a_denouncer_with_a_reason_and_the_access_is_recorded(runtime, clients, citizen):
    name = "Trần Văn Bí Mật"
    await file_item(citizen, "denunciation", "public_order", "Cán bộ phường thu tiền trái phép của hộ kinh doanh.",
                    (name, "Ngõ 99 phố Kín", "0987654321"))
    [item] = await rows(runtime, Item)
    officer, leader = await logged_in(runtime, clients, OFFICE), await logged_in(runtime, clients, OFFICE, "leader")
    officer_page = await (await officer.get(f"/console/items/{item.id}")).text()
    assert 'data-action="reveal"' not in officer_page
    forged = await officer.post(f"/console/items/{item.id}", data={
        "csrf": csrf_of(officer_page), "action": "reveal", "text": "Tôi muốn biết người tố cáo là ai"},
        headers=same_origin(officer))
    assert forged.status == 404 and name not in await forged.text()
    page = await (await leader.get(f"/console/items/{item.id}")).text()
    short = await leader.post(f"/console/items/{item.id}", data={"csrf": csrf_of(page), "action": "reveal",
                                                                 "text": "xem"}, headers=same_origin(leader))
    assert short.status == 400 and name not in await short.text()
    shown = await leader.post(f"/console/items/{item.id}", data={
        "csrf": csrf_of(page), "action": "reveal", "text": "Cần xác minh trực tiếp với người tố cáo về số tiền."},
        headers=same_origin(leader), allow_redirects=False)
    assert shown.status == 200 and name in await shown.text()  # on this answer only, never in a URL
    assert name not in await (await leader.get(f"/console/items/{item.id}")).text()
    from storage.models import ItemEvent
    [access] = await rows(runtime, ItemEvent, ItemEvent.action == "reveal_identity")
    assert access.note.startswith("Cần xác minh")
