"""The Zalo Official Account channel, end to end against the local fake of Zalo (tests/zalo_fake.py), on
SQLite and PostgreSQL: signed webhook events in, through the flows, out through the outbox to the fake
OA API, which records what a citizen's Zalo would show.

This module covers the channel's mechanics — signatures, retried deliveries, answering before the
work is done, splitting and paging, Zalo's error bodies, the OAuth token's refresh and rotation
across processes, the 7-day window and unfollows. test_zalo_oa_journeys.py walks the journeys.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select, update

from bot.app import Runtime
from bot.channels import zalo_oa
from bot.channels.zalo_oa import REQUEST_INFO, render, to_incoming
from bot.domain.dialog import Button, Location, Photo, Reply
from bot.settings import SettingsError, load_settings
from storage.demo import seed_demo
from storage.models import (
    ChannelIdentity,
    ConversationState,
    OutboxMessage,
    ProcessedUpdate,
    ZaloToken,
    ZaloUnfollow,
    utcnow,
)
from tests.zalo_fake import APP_ID, APP_SECRET, OA_SECRET, FakeZalo

WELCOME = ("Xin chào! Đây là kênh tiếp nhận phản ánh, kiến nghị của người dân với UBND xã, phường.\n"
           "Vui lòng chọn ngôn ngữ / Please choose a language:")
HOAN_KIEM = "Phường Hoàn Kiếm, Thành phố Hà Nội"
MENU = "Bạn muốn làm gì? Chọn một mục bên dưới."
MORE = "Lựa chọn khác:"
MENU_BUTTONS = [("📝 Gửi phản ánh, khiếu nại, tố cáo", "menu:submit"), ("🔎 Hồ sơ của tôi", "menu:track"),
                ("📅 Lịch tiếp công dân", "menu:schedule"), ("📢 Thông tin công khai", "menu:disclosures"),
                ("🏗️ Dự án, công trình", "menu:projects"), ("🗳️ Lấy ý kiến người dân", "menu:consultations"),
                ("📊 Kết quả giải quyết", "menu:statistics"), ("⚙️ Ngôn ngữ, xã phường", "menu:settings"),
                ("❓ Hướng dẫn", "g:help")]
LAN = "8421000000000000001"    # Zalo user ids (per OA), as strings
MINH = "8421000000000000002"
INFO_IMAGE = "https://ubnd.example.vn/zalo-card.png"


# -- reading what a citizen's Zalo shows ----------------------------------------------------------------

def shown(message: dict) -> str:
    """A message as a person sees it: its text, or what the card or picture is."""
    payload = (message.get("attachment") or {}).get("payload") or {}
    if payload.get("template_type") == "media":
        return f"[ảnh {payload['elements'][0]['url']}]"
    if payload.get("template_type") == "request_user_info":
        return f"[thẻ: {payload['elements'][0]['title']}]"
    return message["text"]


def buttons(message: dict) -> list[tuple[str, str]]:
    """The buttons under a message as (title, the value our flows gave it)."""
    payload = (message.get("attachment") or {}).get("payload") or {}
    return [(b["title"], b["payload"].removeprefix("#b:")) for b in payload.get("buttons", [])]


# -- one tiepdan process with the Zalo OA channel on ------------------------------------------------------

class Process:
    """A tiepdan process on the test's database: its web app listens on 127.0.0.1 for the fake's
    webhook calls; its outbox is drained by the test (the dispatcher task is not running)."""

    def __init__(self, settings, fake: FakeZalo):
        self.fake = fake
        self.runtime = Runtime(settings, run_scheduler=False)
        self.channel = self.runtime.zalo
        self.server = TestServer(self.runtime.web_app, host="127.0.0.1")

    async def open(self) -> "Process":
        await self.server.start_server()
        await self.channel.start()
        return self

    @property
    def webhook_url(self) -> str:
        return str(self.server.make_url(self.runtime.settings.zalo_oa_webhook_path))

    async def settle(self) -> None:
        """Every webhook event handled, every due outbox row sent."""
        await self.channel.idle()
        await self.runtime.dispatcher.drain()

    async def close(self) -> None:
        await self.channel.stop()
        await self.server.close()
        await self.runtime.engine.dispose()

    async def rows(self, model, *where) -> list:
        async with self.runtime.uows() as uow:
            query = select(model).where(*where).order_by(*model.__mapper__.primary_key)
            found = list((await uow.session.execute(query)).scalars())
            uow.session.expunge_all()
            return found

    async def execute(self, statement) -> None:
        async with self.runtime.uows() as uow:
            await uow.session.execute(statement)
            await uow.commit()


class ZaloUser:
    """A person writing to the commune's OA from their Zalo app."""

    def __init__(self, fake: FakeZalo, process: Process, user_id: str):
        self.fake, self.process, self.id = fake, process, user_id
        self.screen: list[dict] = []  # what the latest event brought

    async def deliver(self, event: dict) -> list[dict]:
        """Zalo delivers the event; our process handles it and sends; returns what reached this user."""
        before = len(self.fake.messages(self.id))
        assert await self.fake.deliver(event) == 200
        await self.process.settle()
        self.screen = self.fake.messages(self.id)[before:]
        return self.screen

    async def say(self, text: str) -> list[str]:
        return [shown(m) for m in await self.deliver(self.fake.text_event(self.id, text))]

    async def press(self, value: str) -> list[str]:
        """Tap a button this user has been shown (its hidden payload comes back as a text event)."""
        offered = {v for message in self.fake.messages(self.id) for _, v in buttons(message)}
        assert value in offered, f"no button {value!r} was shown to this user"
        return await self.say("#b:" + value)

    async def follow(self) -> list[str]:
        return [shown(m) for m in await self.deliver(self.fake.event("follow", self.id))]

    async def unfollow(self) -> None:
        assert await self.deliver(self.fake.event("unfollow", self.id)) == []

    def last_buttons(self) -> list[tuple[str, str]]:
        """The buttons the latest event brought, pages included, in order."""
        return [button for message in self.screen for button in buttons(message)]

    async def start_in_hoan_kiem(self) -> None:
        assert await self.follow() == [WELCOME]
        await self.press("lang:vi")
        await self.say("hoan kiem")
        assert await self.press("commune:70") == [f"Đã chọn: {HOAN_KIEM}.", MENU, MORE]
        assert self.last_buttons() == MENU_BUTTONS


# -- fixtures ---------------------------------------------------------------------------------------------

@pytest.fixture
async def fake():
    fake = await FakeZalo().start()
    yield fake
    await fake.stop()


def zalo_settings(settings, fake: FakeZalo, access: str | None, refresh: str):
    return settings.model_copy(update={
        "zalo_oa_app_id": APP_ID, "zalo_oa_secret_key": OA_SECRET, "zalo_oa_app_secret": APP_SECRET,
        "zalo_oa_access_token": access, "zalo_oa_refresh_token": refresh, "zalo_oa_api_url": fake.url,
        "zalo_oa_oauth_url": fake.url, "zalo_oa_requests_per_second": 1000.0, "zalo_oa_info_image_url": INFO_IMAGE,
        # Template notices and photo copies go to the fake too; its CDN is on 127.0.0.1.
        "zalo_zns_url": fake.url, "zalo_oa_photo_hosts": "127.0.0.1", "zalo_oa_public_url": "https://tiepdan.example.vn",
        # A test citizen taps far faster than a person; the flood limit has its own tests.
        "flood_burst": 100_000})


@pytest.fixture
async def open_process(settings, fake):
    """Opens tiepdan processes on the test's database, configured with the OA's first token pair."""
    access, refresh = fake.issue()
    base = zalo_settings(settings, fake, access, refresh)
    opened: list[Process] = []

    async def open_(settings=None) -> Process:
        process = await Process(settings or base, fake).open()
        opened.append(process)
        fake.webhook_url = fake.webhook_url or process.webhook_url
        return process

    open_.settings = base
    yield open_
    for process in opened:
        await process.close()


@pytest.fixture
async def zalo(open_process) -> Process:
    process = await open_process()
    await seed_demo(process.runtime.uows, process.runtime.settings)
    return process


@pytest.fixture
async def lan(fake, zalo) -> ZaloUser:
    """Lan follows the OA, chooses Vietnamese and Phường Hoàn Kiếm, and sees the main menu."""
    user = ZaloUser(fake, zalo, LAN)
    await user.start_in_hoan_kiem()
    return user


# -- the webhook ------------------------------------------------------------------------------------------

async def test_forged_or_missing_signatures_are_refused_and_nothing_is_processed(fake, zalo, caplog):
    event = fake.text_event(LAN, "/start")
    body = json.dumps(event).encode()
    assert await fake.deliver(event, mac="") == 401                               # no header
    assert await fake.deliver(event, mac="mac=" + "0" * 64) == 401                  # a made-up one
    tampered = json.dumps({**event, "message": {**event["message"], "text": "/menu"}}).encode()
    assert await fake.deliver(event, raw=tampered, mac="mac=" + zalo_oa.signature(
        APP_ID, body, event["timestamp"], OA_SECRET)) == 401                        # a body other than the signed one
    assert await fake.deliver(event, mac="mac=" + zalo_oa.signature(
        APP_ID, body, event["timestamp"], APP_SECRET)) == 401                       # signed with the app secret
    assert await fake.deliver(event, raw=b"not json", mac="mac=00") == 401
    await zalo.settle()
    assert fake.sent == [] and await zalo.rows(ProcessedUpdate) == [] and await zalo.rows(ConversationState) == []
    assert "zalo webhook: missing or wrong signature" in caplog.text
    # The genuine one, signed as Zalo signs it (the header's "mac=" prefix and all), is taken.
    assert await fake.deliver(event) == 200
    await zalo.settle()
    assert [shown(m) for m in fake.messages(LAN)] == [WELCOME]


async def test_a_retried_delivery_is_processed_once(fake, zalo):
    user = ZaloUser(fake, zalo, LAN)
    await user.follow()
    event = fake.text_event(LAN, "#b:lang:vi")
    assert await fake.deliver(event) == 200
    assert await fake.deliver(event) == 200                 # Zalo did not hear our 200 and retries
    statuses = await asyncio.gather(fake.deliver(event), fake.deliver(event))  # or retries twice at once
    assert statuses == [200, 200]
    await zalo.settle()
    assert [shown(m) for m in fake.messages(LAN)][1:] == [
        "Đã chọn tiếng Việt.", "Bạn sống ở xã, phường nào? Hãy gõ tên, ví dụ: «Hoàn Kiếm» hoặc «xa Tan Lap»."]
    assert [r.update_key for r in await zalo.rows(ProcessedUpdate)].count(event["message"]["msg_id"]) == 1


async def test_the_webhook_answers_before_the_work_is_done(fake, zalo, monkeypatch):
    """Zalo gives us 2 seconds: the 200 goes back at once and the event is handled afterwards."""
    gate = asyncio.Event()
    real = zalo_oa.handle_incoming

    async def slow(*args, **kwargs):
        await gate.wait()
        return await real(*args, **kwargs)

    monkeypatch.setattr(zalo_oa, "handle_incoming", slow)
    status = await asyncio.wait_for(fake.deliver(fake.event("follow", LAN)), timeout=2)
    assert status == 200 and await zalo.rows(ConversationState) == []
    gate.set()
    await zalo.settle()
    assert [shown(m) for m in fake.messages(LAN)] == [WELCOME]


async def test_events_we_do_not_handle_are_acknowledged_and_ignored(fake, zalo):
    for name in ("user_seen_message", "user_received_message", "oa_send_text", "oa_send_image"):
        assert await fake.deliver(fake.event(name, LAN, message={"msg_id": fake.message_id()})) == 200
    await zalo.settle()
    assert fake.sent == [] and await zalo.rows(ProcessedUpdate) == []


async def test_events_of_one_user_are_handled_in_the_order_they_came(fake, zalo):
    user = ZaloUser(fake, zalo, LAN)
    await user.follow()
    events = [fake.text_event(LAN, "#b:lang:vi"), fake.text_event(LAN, "hoan kiem"), fake.text_event(LAN, "#b:commune:70")]
    assert await asyncio.gather(*(fake.deliver(e) for e in events)) == [200, 200, 200]
    await zalo.settle()
    assert [shown(m) for m in fake.messages(LAN)][-3:] == [f"Đã chọn: {HOAN_KIEM}.", MENU, MORE]


# -- what comes in ----------------------------------------------------------------------------------------

def test_events_become_neutral_incoming_values(fake):
    image = to_incoming(fake.image_event(LAN, "https://photo.zdn.vn/a.jpg", "Ổ gà"), LAN)
    assert image.photos == (Photo("https://photo.zdn.vn/a.jpg", "Ổ gà"),) and image.text == "Ổ gà"
    pin = to_incoming(fake.location_event(LAN, 21.02851, 105.85422), LAN)
    assert pin.location == Location(21.02851, 105.85422)
    other_shape = fake.event("user_send_location", LAN, message={"msg_id": "m1", "attachments": [
        {"type": "location", "payload": {"coordinates": {"lat": 10.76, "long": 106.66}}}]})
    assert to_incoming(other_shape, LAN).location == Location(10.76, 106.66)
    assert to_incoming(fake.file_event(LAN, "anh-hien-truong.JPG", "https://f.zdn.vn/1"), LAN).photos == (
        Photo("https://f.zdn.vn/1"),)
    assert to_incoming(fake.file_event(LAN, "don.pdf", "https://f.zdn.vn/2"), LAN).unsupported == "document"
    tapped = to_incoming(fake.text_event(LAN, "#b:menu:submit"), LAN)
    assert (tapped.button, tapped.text) == ("menu:submit", None)
    assert to_incoming(fake.text_event(LAN, "#khong phai nut"), LAN).text == "#khong phai nut"
    assert to_incoming(fake.event("user_send_text", LAN, message={"text": "no msg_id"}), LAN) is None


async def test_a_file_that_is_not_a_picture_is_politely_declined(fake, lan):
    replies = await lan.deliver(fake.file_event(LAN, "don-khieu-nai.pdf", "https://f.zdn.vn/9"))
    assert [shown(m) for m in replies] == [
        "Xin lỗi, tôi chưa nhận được loại tin nhắn này (tệp đính kèm). Hãy gửi chữ, ảnh hoặc vị trí.", MENU, MORE]


async def test_a_tap_on_an_old_button_is_refused_not_taken_as_text(fake, lan):
    await lan.press("menu:submit")
    await lan.press("kind:feedback")
    await lan.press("category:infrastructure")
    # The kind buttons are still on screen; tapping one now must not become the description.
    stale = await lan.say("#b:kind:complaint_first")
    assert stale[0] == "Nút này đã cũ hoặc không còn hiệu lực. Đây là bước hiện tại của bạn:"
    [state] = await lan.process.rows(ConversationState)
    assert (state.step, state.data.get("description")) == ("description", None)
    # Typing a value the step offers as a button is that button (here: back to the menu, where the
    # half-written petition is offered as a draft), not the description.
    menu = await lan.say("g:menu")
    [state] = await lan.process.rows(ConversationState)
    assert (state.flow, state.step) != ("submit", "description") and "g:menu" not in str(state.data)
    assert menu[-1].endswith("Bạn muốn làm gì?") or menu[-2:] == [MENU, MORE]


# -- what goes out ----------------------------------------------------------------------------------------

async def test_a_text_over_2000_characters_is_split_and_the_buttons_ride_on_the_last_part(fake, lan):
    paragraphs = [f"Đoạn {n}: " + "ổ gà trên phố Hàng Bạc " * 20 for n in range(10)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 4000
    before = len(fake.messages(LAN))
    await lan.process.channel.sender.send(LAN, Reply(text, ((Button("⬅️ Về menu chính", "g:menu"),),)))
    parts = fake.messages(LAN)[before:]
    assert len(parts) == 3 and all(len(m["text"]) <= 2000 for m in parts)
    assert "\n\n".join(m["text"] for m in parts) == text          # cut between paragraphs, nothing lost
    assert [buttons(m) for m in parts] == [[], [], [("⬅️ Về menu chính", "g:menu")]]


async def test_more_than_five_buttons_continue_five_a_message_and_every_one_works(fake, lan):
    menu, more = fake.messages(LAN)[-2:]
    assert (menu["text"], more["text"]) == (MENU, MORE)
    assert [len(buttons(menu)), len(buttons(more))] == [5, 4]
    assert all(b["type"] == "oa.query.hide" for b in menu["attachment"]["payload"]["buttons"])
    assert (await lan.press("menu:settings"))[0] == "Bạn muốn thay đổi gì?"


def test_render_uses_the_contact_card_and_keeps_photos_first():
    card = render(Reply("Chia sẻ?", ((Button("📇 Chia sẻ", REQUEST_INFO),),)), "vi", INFO_IMAGE)
    assert card == [{"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [
        {"title": "📇 Chia sẻ", "subtitle": "Chia sẻ?", "image_url": INFO_IMAGE}]}}}]
    messages = render(Reply("Hồ sơ", photos=("https://photo.zdn.vn/a.jpg", "web:abc", "AgADtelegram")), "vi", None)
    assert [shown(m) for m in messages] == ["[ảnh https://photo.zdn.vn/a.jpg]", "Hồ sơ"]


async def test_an_error_in_a_200_body_is_a_failure_with_its_code(fake, lan):
    sender = lan.process.channel.sender
    fake.fail_next(-201, "message.text is invalid")
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply("Một"), dedupe_key="t:1")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == "t:1")
    assert row.status == "failed" and "zalo error -201: message.text is invalid" in row.last_error

    # Over the app's rate limit: retried later, the attempt not counted, and the next sends wait too.
    before = utcnow()
    fake.fail_next(-32, "Your application reached limit call api")
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply("Hai"), dedupe_key="t:2")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == "t:2")
    assert (row.status, row.attempts) == ("pending", 0) and "-32" in row.last_error
    assert (row.next_attempt_at - before).total_seconds() >= 59
    calls = fake.send_calls
    with pytest.raises(zalo_oa.DeliveryRetry):
        await sender.send(LAN, Reply("Ba"))
    assert fake.send_calls == calls  # paused: not even tried

    # An unknown error: retried with back-off, the attempt counted.
    lan.process.channel.client._paused_until = 0.0
    fake.fail_next(-999, "Unexpected")
    await lan.process.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == "t:2")
                              .values(next_attempt_at=utcnow()))
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == "t:2")
    assert (row.status, row.attempts) == ("pending", 1) and "-999" in row.last_error


# -- the OA's access token ----------------------------------------------------------------------------------

async def test_an_expired_token_is_refreshed_once_while_two_processes_send(fake, open_process, zalo):
    first_refresh = fake.refresh_token
    other = await open_process()  # a second `serve` on the same database
    for user in (LAN, MINH):
        await ZaloUser(fake, zalo, user).follow()
    fake.advance(hours=26)  # the configured access token has expired on Zalo's side
    for user in (LAN, MINH):
        fake._last_interaction[user] = fake.now
    await asyncio.gather(zalo.channel.sender.send(LAN, Reply("Một")), other.channel.sender.send(MINH, Reply("Hai")),
                         zalo.channel.sender.send(MINH, Reply("Ba")), other.channel.sender.send(LAN, Reply("Bốn")))
    assert fake.refresh_calls == 1 and fake.refused_refreshes == []
    assert {shown(m) for m in fake.messages(LAN)[-2:]} == {"Một", "Bốn"}
    assert {shown(m) for m in fake.messages(MINH)[-2:]} == {"Hai", "Ba"}
    # The rotated pair is what the database holds; Zalo no longer takes the old refresh token.
    [row] = await zalo.rows(ZaloToken)
    assert row.refresh_token == fake.refresh_token != first_refresh and fake.valid(row.access_token)
    assert row.expires_at > utcnow() + timedelta(hours=24)
    async with aiohttp.ClientSession() as http:
        async with http.post(fake.url + "/v4/oa/access_token", headers={"secret_key": APP_SECRET}, data={
                "app_id": APP_ID, "grant_type": "refresh_token", "refresh_token": first_refresh}) as response:
            answer = await response.json()
    assert "access_token" not in answer and answer["error"] == -14014


async def test_a_token_about_to_expire_is_refreshed_before_sending(fake, lan):
    await lan.process.execute(update(ZaloToken).values(expires_at=utcnow() + timedelta(minutes=2)))
    lan.process.channel.client.tokens._current = None  # as a freshly started process would read it
    calls = fake.send_calls
    await lan.process.channel.sender.send(LAN, Reply("Một"))
    assert fake.refresh_calls == 1 and fake.send_calls == calls + 1  # no refused call first
    [row] = await lan.process.rows(ZaloToken)
    assert row.refresh_token == fake.refresh_token


async def test_a_restart_keeps_the_rotated_pair_and_a_newly_authorised_one_replaces_it(fake, open_process, lan):
    fake.advance(hours=26)
    await lan.say("/menu")
    assert fake.refresh_calls == 1
    await lan.process.close()
    restarted = await open_process(open_process.settings)  # the configured, now retired, pair again
    await restarted.channel.sender.send(LAN, Reply("Sau khi khởi động lại"))
    assert fake.refresh_calls == 1 and fake.refused_refreshes == []
    # The OA is authorised again and the new pair configured: it replaces the stored one.
    access, refresh = fake.issue()
    await restarted.close()
    again = await open_process(open_process.settings.model_copy(
        update={"zalo_oa_access_token": access, "zalo_oa_refresh_token": refresh}))
    [row] = await again.rows(ZaloToken)
    assert (row.access_token, row.refresh_token, row.expires_at) == (access, refresh, None)
    await again.channel.sender.send(LAN, Reply("Cặp mới"))
    assert shown(fake.messages(LAN)[-1]) == "Cặp mới"


async def test_a_quiet_oa_still_refreshes_ahead_of_expiry(fake, zalo, monkeypatch):
    """With nobody writing, the channel's own round refreshes within the last hour, and only then."""
    monkeypatch.setattr(zalo_oa, "KEEP_FRESH_EVERY", 0.01)
    await zalo.channel.stop()
    await zalo.channel.start()
    await asyncio.sleep(0.3)  # the configured token's expiry is unknown: refreshed on the first round
    assert fake.refresh_calls == 1
    [row] = await zalo.rows(ZaloToken)
    assert row.expires_at > utcnow() + timedelta(hours=24)
    await asyncio.sleep(0.1)
    assert fake.refresh_calls == 1  # a day ahead: nothing to do
    await zalo.execute(update(ZaloToken).values(expires_at=utcnow() + timedelta(minutes=50)))
    await asyncio.sleep(0.3)
    assert fake.refresh_calls == 2
    [row] = await zalo.rows(ZaloToken)
    assert row.refresh_token == fake.refresh_token and row.expires_at > utcnow() + timedelta(hours=24)


def test_settings_name_the_missing_zalo_variable():
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_OA_SECRET_KEY is required"):
        load_settings(zalo_oa_app_id=APP_ID, _env_file=None)
    with pytest.raises(SettingsError, match="TIEPDAN_ZALO_OA_WEBHOOK_PATH"):
        load_settings(zalo_oa_webhook_path="zalo", _env_file=None)
    settings = load_settings(zalo_oa_app_id=APP_ID, zalo_oa_secret_key=OA_SECRET, zalo_oa_app_secret=APP_SECRET,
                             zalo_oa_refresh_token="RT", _env_file=None)
    assert settings.zalo_oa_enabled and not load_settings(_env_file=None).zalo_oa_enabled


# -- who can be reached ---------------------------------------------------------------------------------------

async def test_a_chat_whose_window_we_know_is_closed_is_held_without_calling_zalo(fake, lan):
    await lan.process.execute(update(ChannelIdentity).where(ChannelIdentity.external_id == LAN)
                              .values(last_seen_at=utcnow() - timedelta(days=7, minutes=1)))
    calls = fake.send_calls
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply("Một"), dedupe_key="t:1")
        await uow.outbox.enqueue("zalo", LAN, Reply("Hai"), dedupe_key="t:2")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    assert fake.send_calls == calls
    held = await lan.process.rows(OutboxMessage, OutboxMessage.status == "held")
    assert [(r.payload["text"], r.last_error) for r in held] == [
        ("Một", "window_closed: not attempted"), ("Hai", "window_closed: not attempted")]
    # Lan writes again: both leave, in order, the first saying they were held, then the answer to her.
    assert await lan.say("/menu") == [
        "⏳ 2 tin nhắn dưới đây chưa gửi được cho bạn lúc trước nên đã được giữ lại; nay gửi lại theo thứ tự."
        "\n\nMột", "Hai", MENU, MORE]


async def test_after_an_unfollow_nothing_is_attempted_and_a_follow_delivers_what_was_held(fake, lan):
    await lan.unfollow()
    assert [r.user_id for r in await lan.process.rows(ZaloUnfollow)] == [LAN]
    calls = fake.send_calls
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply("Thông báo"), dedupe_key="t:1")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == "t:1")
    assert (row.status, row.last_error, fake.send_calls) == ("held", "unfollowed: not attempted", calls)
    replies = await lan.follow()
    assert replies[0].endswith("\n\nThông báo") and replies[1:] == [
        f"Chào mừng bạn quay lại! Bạn đang dùng kênh của {HOAN_KIEM}.", MENU, MORE]
    assert await lan.process.rows(ZaloUnfollow) == []


async def test_zalo_refusing_an_unfollower_holds_the_message_too(fake, lan):
    fake._unfollowed.add(LAN)  # we missed the unfollow event; Zalo tells us with -213
    async with lan.process.runtime.uows() as uow:
        await uow.outbox.enqueue("zalo", LAN, Reply("Một"), dedupe_key="t:1")
        await uow.commit()
    await lan.process.runtime.dispatcher.drain()
    [row] = await lan.process.rows(OutboxMessage, OutboxMessage.dedupe_key == "t:1")
    assert row.status == "held" and row.last_error.startswith("unfollowed: zalo error -213")


async def test_the_offered_contact_card_is_zalos_request_user_info(fake, lan):
    await lan.press("menu:submit")
    await lan.press("kind:complaint_first")
    await lan.press("category:land")
    await lan.say("Tôi khiếu nại quyết định xử phạt số 15/QĐ-XPHC vì sai đối tượng.")
    await lan.press("photos:done")
    await lan.press("location:skip")
    assert await lan.press("consent:yes") == ["Họ và tên đầy đủ của bạn:", "[thẻ: 📇 Chia sẻ thông tin liên hệ]"]
    card = fake.messages(LAN)[-1]["attachment"]["payload"]["elements"][0]
    assert card["image_url"] == INFO_IMAGE and card["subtitle"].startswith("Hoặc bấm nút để chia sẻ họ tên")


async def test_odd_but_signed_events_are_acknowledged_without_harm(fake, lan):
    """Whatever shape a signed event has, Zalo gets its 200 and the citizen's conversation is intact."""
    odd = [fake.event("user_send_image", LAN, message={"msg_id": "x1", "attachments": 7}),
           fake.event("user_send_location", LAN, message={"msg_id": "x2", "attachments": [
               {"type": "location", "payload": {"coordinates": {"latitude": "north", "longitude": None}}}]}),
           fake.event("user_send_text", LAN, message={"msg_id": "x3", "text": ["not", "text"]}),
           fake.event("user_submit_info", LAN, info="not a dict"),
           {**fake.event("user_send_text", LAN), "sender": "nobody"},
           fake.text_event(LAN, "x" * 150_000)]
    before = len(fake.messages(LAN))
    for event in odd:
        assert await fake.deliver(event) == 200
    await lan.process.settle()
    answered = [shown(m) for m in fake.messages(LAN)[before:]]
    assert not any(text.startswith("Xin lỗi, đã có lỗi") for text in answered)
    assert answered[-3:] == ["Tin nhắn quá dài (150000 ký tự). Vui lòng gửi tối đa 4000 ký tự mỗi lần.", MENU, MORE]
    assert await lan.say("/menu") == [MENU, MORE]
