"""The web surfaces attacked over HTTP as an outsider would, on SQLite and PostgreSQL: staff sessions
of their own (never the chat cookie), cross-site writes refused, cookies another site cannot plant
or overwrite, photos only for those entitled to them, security headers, and a health check that
tells the truth. The same attacks in a real browser with a second origin: test_security_browser.py.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.app import Runtime
from bot.cli import main as cli_main
from bot.officers import create_invite
from bot.settings import Settings
from bot.texts import t
from storage.models import (
    Attachment,
    ChannelIdentity,
    ConversationState,
    Item,
    OutboxMessage,
    ProcessedUpdate,
    StaffEvent,
    StaffSession,
    Unit,
    User,
)
from tests.test_webchat_media import png
from tests.webchat import Browser, chat_id, reach_menu, rows, same_origin

OFFICE = "Văn phòng HĐND và UBND phường"
ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
SESSION_NEEDED = t("vi", "staff.session_needed")


async def _unit(runtime, name: str = OFFICE) -> int:
    [unit] = await rows(runtime, Unit, Unit.name == name)
    return unit.id


OPEN: list[TestClient] = []


@pytest.fixture(autouse=True)
async def _close_tabs():
    yield
    while OPEN:
        await OPEN.pop().close()


async def _tab(runtime, *, menu: bool = True) -> Browser:
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    OPEN.append(client)
    tab = Browser(client)
    if menu:
        await reach_menu(tab)
    return tab


async def _officer(runtime, unit: str = OFFICE, role: str = "officer") -> Browser:
    tab = await _tab(runtime)
    await tab.send(f"/officer {await create_invite(runtime.uows, await _unit(runtime, unit), role)}")
    return tab


def _cookies(tab: Browser) -> dict[str, str]:
    return {name: morsel.value for name, morsel in tab.client.session.cookie_jar.filter_cookies(
        tab.client.make_url("/")).items()}


async def _user_of(runtime, tab: Browser) -> User:
    [identity] = await rows(runtime, ChannelIdentity, ChannelIdentity.channel == "web",
                            ChannelIdentity.external_id == chat_id(tab))
    [user] = await rows(runtime, User, User.id == identity.user_id)
    return user


async def _post(tab: Browser, body: dict, **headers):
    return await tab.client.post("/api/chat/send", json={"id": uuid.uuid4().hex, **body}, headers=headers)


# -- 3. staff sessions of their own ---------------------------------------------------------------

async def test_redeeming_an_invite_issues_a_staff_session_of_the_servers_making(runtime):
    tab = await _tab(runtime)
    tab.client.session.cookie_jar.update_cookies({"tiepdan_staff": "chosen-by-the-client-0123456789"})
    code = await create_invite(runtime.uows, await _unit(runtime), "officer")
    response = await _post(tab, {"text": f"/officer {code}"})
    assert response.status == 200
    staff_cookie = response.cookies["tiepdan_staff"]
    assert staff_cookie.value != "chosen-by-the-client-0123456789" and len(staff_cookie.value) >= 40
    assert staff_cookie["httponly"] and staff_cookie["samesite"] == "Strict" and staff_cookie["path"] == "/"
    assert not staff_cookie["max-age"]  # ends with the browser at the latest; the server ends it sooner
    assert staff_cookie.value != _cookies(tab)["tiepdan_chat"]
    [session] = await rows(runtime, StaffSession)
    assert session.token_hash != staff_cookie.value and len(session.token_hash) == 64  # only a hash is kept
    assert session.expires_at - session.created_at == timedelta(hours=12)
    [event] = await rows(runtime, StaffEvent)
    assert (event.action, event.data["via"]) == ("login", "invite")
    assert (await tab.send(button="oinbox"))[-1]["text"]  # works with the session


async def test_the_chat_cookie_alone_is_not_an_officers_login(runtime):
    """A chat cookie planted in the officer's browser (session fixation) or copied from it gives its
    holder nothing of the officer's: not the transcript, not the inbox, not an upload."""
    officer = await _officer(runtime)
    stolen = _cookies(officer)["tiepdan_chat"]
    thief = await _tab(runtime, menu=False)
    thief.client.session.cookie_jar.update_cookies({"tiepdan_chat": stolen})
    response = await thief.client.get("/api/chat/messages", params={"after": 0})
    assert response.status == 401 and (await response.json())["error"] == SESSION_NEEDED
    response = await _post(thief, {"button": "oinbox"})
    assert response.status == 401 and (await response.json())["error"] == SESSION_NEEDED
    form = FormData()
    form.add_field("id", "x1")
    form.add_field("photo", png(), filename="a.png", content_type="image/png")
    response = await thief.client.post("/api/chat/photo", data=form, headers=same_origin(thief.client))
    assert response.status == 401
    assert await rows(runtime, Attachment) == []
    # The officer, with the session, is unaffected.
    assert (await officer.client.get("/api/chat/messages", params={"after": 0})).status == 200


async def test_a_chat_id_the_client_made_up_is_never_used(runtime):
    tab = await _tab(runtime, menu=False)
    tab.client.session.cookie_jar.update_cookies({"tiepdan_chat": "attacker-chosen-chat-id-000000"})
    response = await _post(tab, {"text": "/start"})
    assert response.status == 200
    issued = response.cookies["tiepdan_chat"].value
    assert not issued.startswith("attacker-chosen")
    assert await rows(runtime, ConversationState, ConversationState.chat_id == "attacker-chosen-chat-id-000000") == []


async def test_logout_ends_the_session_and_the_chat_asks_to_log_in_again(runtime):
    officer = await _officer(runtime)
    response = await _post(officer, {"text": "/logout"})
    assert response.status == 200 and (await response.json())["notice"] == t("vi", "staff.logged_out")
    assert response.cookies["tiepdan_staff"].value == ""
    [session] = await rows(runtime, StaffSession)
    assert session.end_reason == "logout" and session.ended_at is not None
    assert [e.action for e in await rows(runtime, StaffEvent)] == ["login", "logout"]
    assert (await _post(officer, {"button": "oinbox"})).status == 401
    # A new invite logs the same person in again, with a new session.
    code = await create_invite(runtime.uows, await _unit(runtime), "officer")
    assert (await _post(officer, {"text": f"/officer {code}"})).status == 200
    assert (await _post(officer, {"button": "oinbox"})).status == 200
    assert len(await rows(runtime, StaffSession)) == 2


async def test_the_logout_endpoint_refuses_another_site(runtime):
    officer = await _officer(runtime)
    response = await officer.client.post("/api/staff/logout", json={}, headers={"Origin": "https://evil.example"})
    assert response.status == 403
    response = await officer.client.post("/api/staff/logout", json={})
    assert response.status == 200
    assert (await rows(runtime, StaffSession))[0].end_reason == "logout"


@pytest.mark.parametrize("column, age, reason", [("last_seen_at", timedelta(minutes=31), "idle"),
                                                 ("expires_at", timedelta(seconds=1), "expired")])
async def test_an_idle_or_old_session_ends_and_says_so(runtime, column, age, reason):
    officer = await _officer(runtime)
    [session] = await rows(runtime, StaffSession)
    async with runtime.uows() as uow:
        when = (session.last_seen_at - age) if column == "last_seen_at" else (session.created_at - age)
        await uow.session.execute(update(StaffSession).values({column: when}))
        await uow.commit()
    response = await _post(officer, {"button": "oinbox"})
    assert response.status == 401 and (await response.json())["error"] == SESSION_NEEDED
    [session] = await rows(runtime, StaffSession)
    assert session.end_reason == reason
    assert [e.action for e in await rows(runtime, StaffEvent)] == ["login", "session_ended"]


async def test_a_session_in_use_is_renewed(runtime):
    officer = await _officer(runtime)
    async with runtime.uows() as uow:
        await uow.session.execute(update(StaffSession).values(
            last_seen_at=(await rows(runtime, StaffSession))[0].last_seen_at - timedelta(minutes=20)))
        await uow.commit()
    assert (await _post(officer, {"button": "oinbox"})).status == 200
    [session] = await rows(runtime, StaffSession)
    assert session.ended_at is None
    async with runtime.uows() as uow:  # 20 + 20 minutes since login: alive, as it was used in between
        await uow.session.execute(update(StaffSession).values(last_seen_at=session.last_seen_at - timedelta(minutes=20)))
        await uow.commit()
    assert (await _post(officer, {"button": "oinbox"})).status == 200


async def test_admin_revoke_ends_the_role_everywhere_and_every_session(runtime, settings, monkeypatch, capsys):
    from bot.channels.telegram import TelegramChannel  # noqa: F401  (Telegram is part of the person)

    first = await _officer(runtime)
    second_tab = await _tab(runtime, menu=False)
    user = await _user_of(runtime, first)
    # The same chat opened in a second browser logs in with a second invite: two live sessions.
    code = await create_invite(runtime.uows, await _unit(runtime), "officer")
    second_tab.client.session.cookie_jar.update_cookies({"tiepdan_chat": _cookies(first)["tiepdan_chat"]},
                                                        response_url=second_tab.client.make_url("/"))
    assert (await _post(second_tab, {"text": f"/officer {code}"})).status == 200
    assert len(await rows(runtime, StaffSession, StaffSession.ended_at.is_(None))) == 2
    monkeypatch.setenv("TIEPDAN_DATABASE_URL", settings.database_url)
    assert await asyncio.to_thread(cli_main, ["admin", "staff"]) == 0
    listing = capsys.readouterr().out
    assert f"{user.id:>6}  officer" in listing and " 2\n" in listing
    assert await asyncio.to_thread(cli_main, ["admin", "revoke", "--person", str(user.id)]) == 0
    assert "2 web session(s) ended" in capsys.readouterr().out
    [revoked] = await rows(runtime, User, User.id == user.id)
    assert (revoked.role, revoked.unit_id) == ("citizen", None)
    assert {s.end_reason for s in await rows(runtime, StaffSession)} == {"revoked"}
    [event] = await rows(runtime, StaffEvent, StaffEvent.action == "revoked")
    assert event.data == {"by": "cli", "role": "officer", "unit_id": await _unit(runtime), "sessions": 2}
    # No longer staff: the inbox button is an officer's, and the person is a citizen again.
    replies = await first.send(button="oinbox")
    assert t("vi", "officer.not_staff") in [r["text"] for r in replies]
    assert await asyncio.to_thread(cli_main, ["admin", "revoke", "--person", "999999"]) == 2


async def test_revoke_ends_a_telegram_officers_role_too(settings):
    from storage.demo import seed_demo
    from tests.test_telegram import TelegramBot

    bot = TelegramBot(settings.model_copy(update={"telegram_token": "123:ABC"}))
    await bot.open()
    await bot.start()
    try:
        await seed_demo(bot.runtime.uows, bot.runtime.settings)
        await bot.say("/start")
        await bot.say(f"/officer {await create_invite(bot.runtime.uows, await _unit(bot.runtime), 'leader')}")
        [identity] = await rows(bot.runtime, ChannelIdentity, ChannelIdentity.channel == "telegram")
        [leader] = await rows(bot.runtime, User, User.id == identity.user_id)
        assert leader.role == "leader"
        async with bot.runtime.uows() as uow:
            from bot.staff_sessions import revoke

            assert await revoke(uow, leader.id, by="cli") == 0  # no web session, the role all the same
            await uow.commit()
        await bot.say("/inbox", deliver=False)
        assert (await bot.outbox())[-1].payload["text"] == t("vi", "officer.not_staff")
    finally:
        await bot.close()


# -- 4. cross-site writes and cookies -------------------------------------------------------------

async def test_a_text_plain_post_is_refused_and_changes_nothing(runtime):
    """A form on another page (enctype text/plain) or a no-cors fetch: refused before anything runs,
    and no new chat cookie, so the citizen's own chat is not replaced."""
    tab = await _tab(runtime)
    before = _cookies(tab)["tiepdan_chat"]
    handled = len(await rows(runtime, ProcessedUpdate))
    response = await tab.client.post("/api/chat/send", data=b'{"id": "csrf-1", "text": "/menu"}',
                                     headers={"Content-Type": "text/plain"})
    assert response.status == 415 and "Set-Cookie" not in response.headers
    assert (await response.json())["error"] == t("vi", "error.content_type")
    assert len(await rows(runtime, ProcessedUpdate)) == handled
    assert _cookies(tab)["tiepdan_chat"] == before


@pytest.mark.parametrize("header", [{"Origin": "http://evil.xa.example"}, {"Origin": "null"},
                                    {"Referer": "http://sibling.example/page"}])
async def test_a_json_post_from_another_origin_is_refused(runtime, header):
    tab = await _tab(runtime)
    handled = len(await rows(runtime, ProcessedUpdate))
    response = await _post(tab, {"text": "/menu"}, **header)
    assert response.status == 403 and "Set-Cookie" not in response.headers
    assert (await response.json())["error"] == t("vi", "error.cross_site")
    assert len(await rows(runtime, ProcessedUpdate)) == handled


async def test_the_pages_own_origin_is_accepted(runtime):
    tab = await _tab(runtime)
    assert (await _post(tab, {"text": "/menu"}, **same_origin(tab.client))).status == 200
    referer = str(tab.client.make_url("/")) + "?from=zalo"
    assert (await _post(tab, {"text": "/menu"}, Referer=referer)).status == 200


async def test_an_upload_must_say_it_comes_from_the_page(runtime):
    tab = await _tab(runtime)
    form = FormData()
    form.add_field("id", "p1")
    form.add_field("photo", png(), filename="a.png", content_type="image/png")
    response = await tab.client.post("/api/chat/photo", data=form)  # a plain HTML form elsewhere: no Origin
    assert response.status == 403
    response = await tab.client.post("/api/chat/photo", data=form, headers={"Origin": "https://evil.example"})
    assert response.status == 403
    assert await rows(runtime, Attachment) == []


async def test_a_leaders_broadcast_cannot_be_forged_from_a_sibling_origin(runtime):
    leader = await _officer(runtime, role="leader")
    subscribers = len(await rows(runtime, OutboxMessage))
    for body in ({"button": "opub"}, {"button": "opub:announce"}, {"text": "Lừa đảo: chuyển tiền vào tài khoản X"}):
        response = await leader.client.post("/api/chat/send", data=str(body).encode(),
                                             headers={"Content-Type": "text/plain", "Origin": "http://evil.xa.example"})
        assert response.status == 415
        response = await _post(leader, body, Origin="http://evil.xa.example")
        assert response.status == 403
    assert len(await rows(runtime, OutboxMessage)) == subscribers


async def test_cookies_over_https_behind_a_trusted_proxy_are_host_only_and_secure(settings):
    runtime = Runtime(settings.model_copy(update={"trust_proxy": True}), run_scheduler=False)
    await runtime.start(migrate=False)
    try:
        from storage.demo import seed_demo

        await seed_demo(runtime.uows, settings)
        async with TestClient(TestServer(runtime.web_app)) as client:
            proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "xa.example.vn"}
            response = await client.get("/", headers=proxied)
            cookie = response.cookies["__Host-tiepdan_chat"]
            assert cookie["secure"] and cookie["httponly"] and cookie["path"] == "/" and not cookie["domain"]
            assert cookie["samesite"] == "Lax"
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
            # The proxy's origin is the page's: a post from it is accepted, one from elsewhere is not.
            ok = await client.post("/api/chat/send", json={"id": "h1", "text": "/start"},
                                   headers={**proxied, "Origin": "https://xa.example.vn",
                                            "Cookie": f"__Host-tiepdan_chat={cookie.value}"})
            assert ok.status == 200 and "Set-Cookie" not in ok.headers  # the cookie it sent was used
            refused = await client.post("/api/chat/send", json={"id": "h2", "text": "/start"},
                                        headers={**proxied, "Origin": "http://xa.example.vn"})
            assert refused.status == 403
            # A plain-named cookie (what a sibling subdomain could plant) is not read over HTTPS.
            planted = await client.post("/api/chat/send", json={"id": "h3", "text": "/start"},
                                        headers={**proxied, "Origin": "https://xa.example.vn",
                                                 "Cookie": f"tiepdan_chat={cookie.value}"})
            assert "__Host-tiepdan_chat" in planted.cookies  # a new chat, not the planted one
    finally:
        await runtime.stop()


async def test_forwarded_headers_are_ignored_without_a_trusted_proxy(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        response = await client.get("/", headers={"X-Forwarded-Proto": "https"})
        assert "tiepdan_chat" in response.cookies and "__Host-tiepdan_chat" not in response.cookies
        response = await client.post("/api/chat/send", json={"id": "f1", "text": "/start"},
                                     headers={"X-Forwarded-Host": "evil.example", "Origin": "http://evil.example"})
        assert response.status == 403


# -- 7. headers, photos, health ------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/static/chat.js", "/api/chat/messages", "/healthz", "/no-such-page"])
async def test_every_response_carries_the_security_headers(runtime, path):
    async with TestClient(TestServer(runtime.web_app)) as client:
        response = await client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: only over HTTPS


async def _photo_item(runtime, tab: Browser, category: str = "infrastructure") -> tuple[str, Item]:
    from tests.test_webchat_media import upload

    await tab.send(button="menu:submit")
    await tab.send(button="kind:feedback")
    await tab.send(button=f"category:{category}")
    await tab.send("Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
    status, _ = await upload(tab, png())
    assert status == 200
    await tab.send(button="photos:done")
    await tab.send(button="location:skip")
    await tab.send(button="consent:anonymous")
    await tab.send(button="submit:send")
    [item] = await rows(runtime, Item, Item.citizen_id == (await _user_of(runtime, tab)).id)
    return item.photos[0][4:], item


async def test_a_photo_is_served_only_to_those_entitled_to_it(runtime):
    citizen = await _tab(runtime)
    key, item = await _photo_item(runtime, citizen)
    [unit] = await rows(runtime, Unit, Unit.id == item.unit_id)
    officer = await _officer(runtime, unit.name)
    other_unit = ECONOMY if unit.name != ECONOMY else OFFICE
    outsider_officer = await _officer(runtime, other_unit)
    stranger = await _tab(runtime)
    nobody = await _tab(runtime, menu=False)
    assert (await citizen.client.get(f"/media/{key}")).status == 200
    assert (await officer.client.get(f"/media/{key}")).status == 200
    for tab in (outsider_officer, stranger, nobody):
        assert (await tab.client.get(f"/media/{key}")).status == 404
    # The officer's browser without its staff session: the chat cookie alone shows nothing.
    officer.client.session.cookie_jar.clear(lambda morsel: morsel.key == "tiepdan_staff")
    assert (await officer.client.get(f"/media/{key}")).status == 404


async def test_a_signed_link_lets_a_platform_fetch_one_photo_for_a_while(runtime):
    citizen = await _tab(runtime)
    key, _ = await _photo_item(runtime, citizen)
    nobody = await _tab(runtime, menu=False)
    query = runtime.web_security.media_query(key)
    assert (await nobody.client.get(f"/media/{key}?{query}")).status == 200
    assert (await nobody.client.get(f"/media/{key}?{query.replace('sig=', 'sig=x')}")).status == 404
    old = runtime.web_security.media_query(key, lifetime=-1)
    assert (await nobody.client.get(f"/media/{key}?{old}")).status == 404
    other = await _tab(runtime)
    other_key, _ = await _photo_item(runtime, other)
    assert (await nobody.client.get(f"/media/{other_key}?{query}")).status == 404  # one photo per link


async def test_health_says_ok_only_when_the_database_answers(runtime, settings):
    async with TestClient(TestServer(runtime.web_app)) as client:
        response = await client.get("/healthz")
        assert response.status == 200 and await response.json() == {"status": "ok", "database": "ok", "channels": {}}
    down = Runtime(Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/nowhere", _env_file=None),
                   run_scheduler=False)
    try:
        async with TestClient(TestServer(down.web_app)) as client:
            response = await client.get("/healthz")
            assert response.status == 503 and await response.json() == {"status": "degraded", "database": "down",
                                                                        "channels": {}}
    finally:
        await down.engine.dispose()
