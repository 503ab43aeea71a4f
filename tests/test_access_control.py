"""Access control, on SQLite and PostgreSQL: citizens, officers of other units, officers who are not
leaders and people with made-up invite codes can neither see nor do what is not theirs, and a
denouncer's identity never reaches an officer's screen, a log line or a report.

Already covered elsewhere, not repeated here: a tracking code typed by another citizen and an item
button from another citizen's list (tests/test_submit_and_track.py); an officer of another unit
opening an item by its button, its absence from that officer's inbox and notices, a citizen pressing
an officer's item button, a used or expired invite, only a leader revealing a denouncer with the
access recorded (tests/test_officer.py); an officer forging the publish button
(tests/test_publishing.py).
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update
from telegram import Update

from bot.app import Runtime
from bot.officers import create_invite
from bot.texts import t
from scheduler.sweep import sweep
from storage.models import ChannelIdentity, Invite, Item, ItemEvent, OutboxMessage, Unit, User, utcnow
from tests.telegram_fake import RecordingBotAPI, button_update, text_update
from tests.webchat import file_item as file_item_of
from tests.webchat import Browser, chat_id, reach_menu, rows

OFFICE = "Văn phòng HĐND và UBND phường"
ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
NAME, ADDRESS, PHONE = "Trần Văn Bí Mật", "Ngõ 99 phố Kín, tổ 77", "0987654321"
SECRETS = (NAME, ADDRESS, PHONE, "Bí Mật", "phố Kín")
NOT_FOUND = t("vi", "track.not_found")
NOT_ALLOWED = t("vi", "officer.not_allowed")
NOT_STAFF = t("vi", "officer.not_staff")
BAD_CODE = t("vi", "officer.bad_code")
STALE = t("vi", "error.expired_button")


async def _unit(runtime, name: str) -> int:
    [unit] = await rows(runtime, Unit, Unit.name == name)
    return unit.id


async def _tab(runtime) -> Browser:
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    tab = Browser(client)
    await reach_menu(tab)
    return tab


async def _staff(runtime, unit: str, role: str) -> Browser:
    tab = await _tab(runtime)
    await tab.send(f"/officer {await create_invite(runtime.uows, await _unit(runtime, unit), role)}")
    return tab


async def _chat(tab: Browser) -> str:
    return chat_id(tab)


async def _file(tab: Browser, kind: str, category: str, text: str, *, identity: bool) -> None:
    await file_item_of(tab, kind, category, text, (NAME, ADDRESS, PHONE) if identity else None)


@pytest.fixture
async def tabs(runtime):
    opened: list[Browser] = []

    async def open_(unit: str | None = None, role: str = "officer") -> Browser:
        tab = await (_staff(runtime, unit, role) if unit else _tab(runtime))
        opened.append(tab)
        return tab

    yield open_
    for tab in opened:
        await tab.client.close()


def _texts(messages: list[dict]) -> str:
    return "\n".join(m["text"] + " " + " ".join(b["label"] for row in m["buttons"] for b in row) for m in messages)


# -- a citizen and someone else's item -----------------------------------------------------------------

async def test_a_citizen_cannot_open_or_act_on_anothers_item_with_a_notification_button(runtime, citizen, tabs):
    await _file(citizen, "feedback", "infrastructure", "Đèn đường hỏng cả dãy trước số 40 Hàng Bạc.", identity=False)
    [item] = await rows(runtime, Item)
    other = await tabs()
    opened = await other.send(button=f"g:item:{item.id}")  # the button under the owner's notifications
    assert opened[0]["text"] == NOT_FOUND
    assert item.tracking_code not in _texts(opened) and "Đèn đường" not in _texts(opened)
    for forged in ("track:withdraw", "track:withdraw_yes", "track:add_info", "rate:yes", "rate:no", "track:second",
                   "track:detail", f"item:{item.id}"):
        replies = await other.send(button=forged)
        assert replies[0]["text"] == STALE, forged
        assert item.tracking_code not in _texts(replies)
    [after] = await rows(runtime, Item)
    assert (after.status, after.satisfied, after.version) == (item.status, item.satisfied, item.version)
    assert [e.action for e in await rows(runtime, ItemEvent)] == ["submit"]


async def test_walking_item_numbers_and_guessing_codes_reveals_nothing(runtime, citizen, tabs):
    for text in ("Rác thải ứ đọng ở ngõ 12 Hàng Bạc ba ngày nay.", "Cống thoát nước bị tắc ở số 7 Hàng Bạc."):
        await _file(citizen, "feedback", "environment", text, identity=False)
    items = await rows(runtime, Item)
    other = await tabs()
    await other.send(button="menu:track")
    seen = []
    for number in range(0, 12):
        seen += await other.send(button=f"g:item:{number}")
    for guess in ("TD-00000-00000", "TD-AAAAA-AAAAA", items[0].tracking_code[:-1] + "0", "%", "TD-%", "' OR 1=1 --"):
        seen += await other.send(guess)
    shown = _texts(seen)
    for item in items:
        assert item.tracking_code not in shown and item.description not in shown
    assert "Hồ sơ của bạn" not in shown or "Bạn chưa gửi hồ sơ nào" in shown


# -- officers and units ----------------------------------------------------------------------------------

async def test_an_officer_cannot_act_on_an_item_once_it_has_left_the_unit(runtime, citizen, tabs):
    await _file(citizen, "feedback", "public_order", "Karaoke gây ồn sau 23 giờ ở số 20 Hàng Bạc.", identity=False)
    [item] = await rows(runtime, Item)
    office, economy = await tabs(OFFICE), await tabs(ECONOMY)
    await office.send(button=f"g:oi:{item.id}")
    await office.send(button="oa:forward")
    await office.send(button=f"ofwd:{await _unit(runtime, ECONOMY)}")
    await office.send("Thuộc lĩnh vực trật tự đô thị của phòng Kinh tế.")
    for stale in ("oa:accept", "oa:answer", "oassign", "oreveal", f"oi:{item.id}"):
        assert (await office.send(button=stale))[0]["text"] == STALE, stale
    assert (await office.send(button=f"g:oi:{item.id}"))[0]["text"] == NOT_ALLOWED
    opened = await economy.send(button=f"g:oi:{item.id}")  # the unit it went to can
    assert item.tracking_code in opened[-1]["text"]
    [after] = await rows(runtime, Item)
    assert (after.status, after.unit_id) == ("received", await _unit(runtime, ECONOMY))


async def test_actions_are_checked_on_the_server_not_only_by_the_buttons_shown(runtime, citizen, tabs):
    """An officer moved to another unit while an item of the old one is on screen, and a leader made
    an ordinary officer while writing an announcement: the buttons and the step they are at are
    still there, but the server refuses."""
    await _file(citizen, "feedback", "public_order", "Lấn chiếm vỉa hè trước số 30 Hàng Bạc.", identity=False)
    [item] = await rows(runtime, Item)
    officer, leader = await tabs(OFFICE), await tabs(OFFICE, "leader")
    await officer.send(button=f"g:oi:{item.id}")
    await leader.send("/inbox")
    await leader.send(button="opub")
    await leader.send(button="opub:announce")
    await citizen.send(button="menu:schedule")
    await citizen.send(button="schedule:toggle")  # someone to announce to
    async with runtime.uows() as uow:
        economy = await _unit(runtime, ECONOMY)
        officer_user = await uow.users.by_channel_identity("web", await _chat(officer))
        leader_user = await uow.users.by_channel_identity("web", await _chat(leader))
        await uow.session.execute(update(User).where(User.id == officer_user.id).values(unit_id=economy))
        await uow.session.execute(update(User).where(User.id == leader_user.id).values(role="officer"))
        await uow.commit()

    assert (await officer.send(button="oa:accept"))[0]["text"] == NOT_ALLOWED
    refused = await leader.send("Mai cắt nước toàn phường từ 8 giờ đến 17 giờ.")
    assert refused[0]["text"] == NOT_ALLOWED
    [after] = await rows(runtime, Item)
    assert after.status == "received" and after.assignee_id is None
    assert [r for r in await rows(runtime, OutboxMessage) if r.dedupe_key.startswith("announce:")] == []


async def test_reminders_escalations_and_digests_go_only_to_the_items_unit(runtime, citizen, tabs):
    await _file(citizen, "feedback", "public_order", "Xe tải đỗ chắn lối vào ngõ 9 Hàng Bạc cả ngày.", identity=False)
    await _file(citizen, "feedback", "land", "Tranh chấp ranh giới đất ở ngõ 15 Hàng Bạc chưa giải quyết.",
                identity=False)
    office_item, economy_item = sorted(await rows(runtime, Item), key=lambda i: i.category != "public_order")
    office, office_leader = await tabs(OFFICE), await tabs(OFFICE, "leader")
    await office.send(button=f"g:oi:{office_item.id}")
    await office.send(button="oa:accept")
    for days in (8, 20, 50):  # reminders before, on and after the deadlines: every kind of sweep message
        await sweep(runtime.uows, now=utcnow() + timedelta(days=days), zone=runtime.settings.zone)
    office_chats = {await _chat(office), await _chat(office_leader)}
    to_office = [r for r in await rows(runtime, OutboxMessage) if r.chat_id in office_chats]
    assert any(office_item.tracking_code in r.payload["text"] for r in to_office)  # the sweep did speak
    assert not any(economy_item.tracking_code in r.payload["text"] for r in to_office)
    assert not any(f"g:oi:{economy_item.id}" in str(r.payload["buttons"]) for r in to_office)


# -- a denouncer's identity ------------------------------------------------------------------------------------

async def test_a_denouncers_identity_stays_out_of_officers_screens_logs_and_reports(runtime, citizen, tabs, caplog):
    caplog.set_level(logging.DEBUG)
    officer, leader = await tabs(OFFICE), await tabs(OFFICE, "leader")
    await _file(citizen, "denunciation", "public_order", "Cán bộ địa chính nhận tiền để hợp thức hoá đất lấn chiếm.",
                identity=True)
    [item] = await rows(runtime, Item)
    assert item.kind == "denunciation"

    # The denunciation's whole life on the officer's side.
    await officer.send("/inbox")
    await officer.send(button=f"g:oi:{item.id}")
    await officer.send(button="oa:accept")
    await officer.send(button="oa:extend")
    await officer.send(button="oext:complex")
    await officer.send("Phải xác minh tại nhiều địa điểm khác nhau.")
    await officer.send(button="oassign")
    await officer.send(button="oback")
    for day in (5, 25, 70):
        await sweep(runtime.uows, now=utcnow() + timedelta(days=day), zone=runtime.settings.zone)
    await officer.send(button="oa:answer")
    await officer.send("Kết luận: tố cáo đúng, đã chuyển cơ quan có thẩm quyền xử lý kỷ luật.")
    await leader.send(button=f"g:oi:{item.id}")
    await leader.send(button="oreveal")
    revealed = await leader.send("Cơ quan điều tra yêu cầu xác minh nhân thân người tố cáo.")
    assert NAME in revealed[0]["text"]  # the leader may see it, on purpose and recorded
    for tab in (officer, leader, citizen):
        await tab.send(button="g:menu")
        await tab.send(button="menu:statistics")
        await tab.send(button="stats:year")
    await citizen.send(button="menu:track")
    await citizen.send(button=f"item:{item.id}")

    officer_saw = _texts(await officer.history())
    leader_chat = await _chat(leader)
    to_staff = [r for r in await rows(runtime, OutboxMessage)
                if r.chat_id != await _chat(citizen) and r.chat_id != leader_chat]
    leader_rows = [r for r in await rows(runtime, OutboxMessage) if r.chat_id == leader_chat]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for secret in SECRETS:
        assert secret not in officer_saw, secret
        assert not any(secret in r.payload["text"] + str(r.payload["buttons"]) for r in to_staff), secret
        assert secret not in logged, secret
    assert [r for r in leader_rows if NAME in r.payload["text"]] == [
        r for r in leader_rows if r.payload["text"].startswith("Người gửi:")]  # only the reveal itself
    assert caplog.records and logging.getLogger().level == logging.DEBUG  # everything was being captured
    [reveal] = await rows(runtime, ItemEvent, ItemEvent.action == "reveal_identity")
    assert all(secret not in (reveal.note or "") for secret in SECRETS)


async def test_a_denouncer_on_telegram_leaves_no_identity_in_the_logs(runtime, tabs, caplog):
    """The same on Telegram, where python-telegram-bot itself would log whole updates and API calls."""
    caplog.set_level(logging.DEBUG)
    api = RecordingBotAPI()
    tg = runtime.settings.model_copy(update={"telegram_token": "123:ABC", "telegram_per_chat_rate": 1000.0})
    telegram = Runtime(tg, telegram_request=api, telegram_get_updates_request=api, run_scheduler=False)
    application = telegram.telegram.application
    await application.initialize()
    officer = await tabs(OFFICE)
    chat, ids = 5557001, itertools.count(1)
    try:
        steps = [("/start", None), (None, "lang:vi"), ("hoan kiem", None), (None, "commune:70"), (None, "menu:submit"),
                 (None, "kind:denunciation"), (None, "category:public_order"),
                 ("Trưởng thôn thu tiền trái phép của các hộ kinh doanh ở chợ.", None), (None, "photos:done"),
                 (None, "location:skip"), (None, "consent:yes"), (NAME, None), (ADDRESS, None), (PHONE, None),
                 (None, "submit:send")]
        for text_, data in steps:
            update = text_update(next(ids), chat, text_) if text_ else button_update(next(ids), chat, data)
            await application.process_update(Update.de_json(update, application.bot))
            await telegram.dispatcher.drain()
        [item] = await rows(runtime, Item)
        await officer.send(button=f"g:oi:{item.id}")
        await officer.send(button="oa:accept")
        await officer.send(button="oa:answer")
        await officer.send("Đã xác minh, xử lý theo quy định.")
        await telegram.dispatcher.drain()
    finally:
        await application.shutdown()
        await telegram.engine.dispose()
    assert any(NAME in params["text"] for params in api.sent(chat))  # the summary shown to the denouncer
    assert item.kind == "denunciation"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records and logging.getLogger().level == logging.DEBUG  # everything was being captured
    for secret in SECRETS:
        assert secret not in logged, secret
    officer_saw = _texts(await officer.history())
    assert item.tracking_code in officer_saw and not any(secret in officer_saw for secret in SECRETS)


# -- staff commands and invites ----------------------------------------------------------------------------

async def test_staff_buttons_and_commands_refuse_a_citizen(runtime, citizen):
    assert (await citizen.send("/inbox"))[0]["text"] == NOT_STAFF
    for forged in ("opub", "opub:announce", "opub:project", "opub:close", "oclose:1", "oproj:1", "oa:accept",
                   "oinbox", "oview:overdue", "oreveal", "oassign:1"):
        assert (await citizen.send(button=forged))[0]["text"] == STALE, forged
    assert (await citizen.send(button="g:oi:1"))[0]["text"] == NOT_STAFF
    assert [r for r in await rows(runtime, OutboxMessage) if r.dedupe_key.startswith(("announce:", "project:"))] == []


async def test_a_made_up_invite_code_changes_nothing(runtime, citizen):
    await create_invite(runtime.uows, await _unit(runtime, OFFICE), "admin")  # a real one exists meanwhile
    for code in ("AAAA-AAAA-AAAA", "", "'; DROP TABLE invites; --", "x" * 3000, "%", "*", "ACDE-FGHJ-KMN"):
        replies = await citizen.send(f"/officer {code}".strip())
        assert replies[0]["text"] == BAD_CODE, code
        assert (await citizen.send("/inbox"))[0]["text"] == NOT_STAFF
    async with runtime.uows() as uow:
        user = await uow.users.by_channel_identity("web", await _chat(citizen))
    assert (user.role, user.unit_id) == ("citizen", None)
    assert all(i.used_at is None for i in await rows(runtime, Invite))


async def test_the_stored_hash_of_an_invite_is_not_a_code(runtime, citizen):
    await create_invite(runtime.uows, await _unit(runtime, OFFICE), "leader")
    [invite] = await rows(runtime, Invite)
    for attempt in (invite.code_hash, invite.code_hash[:12], invite.code_hash.upper()):
        assert (await citizen.send(f"/officer {attempt}"))[0]["text"] == BAD_CODE
    [invite] = await rows(runtime, Invite)
    assert invite.used_at is None


async def test_an_invite_redeemed_on_one_channel_does_not_make_another_channels_user_staff(runtime, citizen, tabs):
    code = await create_invite(runtime.uows, await _unit(runtime, OFFICE), "officer")
    other = await tabs()
    await other.send(f"/officer {code}")
    assert (await citizen.send("/inbox"))[0]["text"] == NOT_STAFF
    async with runtime.uows() as uow:
        redeemer = await uow.users.by_channel_identity("web", await _chat(other))
        bystander = await uow.users.by_channel_identity("web", await _chat(citizen))
    assert (redeemer.role, bystander.role) == ("officer", "citizen")
    [identity] = await rows(runtime, ChannelIdentity, ChannelIdentity.user_id == redeemer.id)
    assert identity.external_id == await _chat(other)


def test_buttons_named_in_this_module_exist():
    """Guards the forged-button lists above against renames: each is a real value the officer flow knows."""
    import inspect

    import handlers.officer
    import handlers.officer_publish

    source = inspect.getsource(handlers.officer) + inspect.getsource(handlers.officer_publish)
    for value in ("opub", "opub:announce", "oreveal", "oassign", "oinbox", "oext:", "ofwd:", "oclose:", "oproj:"):
        assert f'"{value}' in source, value
