"""Consultation votes cannot be stuffed: only verified residents make the official count.

An outside tester cast 300 votes in 8 seconds from one client, each with a fresh web chat cookie, and
every one counted. A consultation is of the commune's residents (Luật Thực hiện dân chủ ở cơ sở 2022,
Điều 29 khoản 1; online votes are by identified people, Nghị định 59/2023 Điều 5 khoản 2 điểm c), so
the official tally counts a verified resident once: a Telegram or Zalo OA identity whose own phone
number the platform vouched for, or a person an officer of the commune checked in person. Anyone
else may still vote, into a separately shown "unverified" tally. Both tallies are shown after closing.

On SQLite and PostgreSQL, through the channels as people use them (the web chat over HTTP, Telegram
through python-telegram-bot with a recording fake of the Bot API, Zalo OA through signed webhooks).
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update

from bot.domain.dialog import Incoming
from bot.officers import NotAllowed, create_invite
from handlers.pipeline import handle_incoming
from storage.demo import DEMO_COMMUNE, seed_demo
from storage.models import Consultation, ConsultationVote, Item, ItemEvent, Unit, User
from tests.telegram_fake import RecordingBotAPI, contact_update
from tests.test_telegram import TOKEN, TelegramBot, update_ids
from tests.test_telegram_journeys import Citizen
from tests.test_zalo_oa import LAN as ZALO_LAN
from tests.test_zalo_oa import ZaloUser, fake, open_process  # noqa: F401  (fixtures)
from tests.webchat import Browser, buttons, describe, give_contact, reach_menu, rows

TELEGRAM_LAN = 5550101
TELEGRAM_MINH = 5550102
LEADER_CHAT = 5550109
PHONE_ON_TELEGRAM = "84912345678"   # Telegram sends the number without "+"
PHONE_ON_ZALO = "0912345678"        # the same number as a Vietnamese would write it
OTHER_WARD = 4                      # any commune but the demo's Phường Hoàn Kiếm (70)

VERIFY = "🪪 Xác minh cư dân"
SHARE_PHONE = "📱 Chia sẻ số điện thoại của tôi"
VERIFIED = ("✅ Đã xác minh bạn là cư dân qua số điện thoại của tài khoản này. Phiếu của bạn được tính vào "
            "kết quả chính thức; nếu bạn đã bỏ phiếu bằng cùng số điện thoại ở kênh khác, chỉ phiếu mới nhất "
            "được tính.")
OFFICIAL = "📊 Kết quả chính thức — cư dân đã xác minh ({n} người):"
UNOFFICIAL = "📝 Phiếu chưa xác minh — chỉ để tham khảo, không tính vào kết quả chính thức ({n} phiếu):"
IN_PERSON = "🪪 Xác minh cư dân (đã kiểm tra trực tiếp)"


def official(n: int) -> str:
    return OFFICIAL.format(n=n)


def unofficial(n: int) -> str:
    return UNOFFICIAL.format(n=n)


async def the_consultation(runtime) -> Consultation:
    [consultation] = await rows(runtime, Consultation)
    return consultation


async def votes(runtime) -> list[ConsultationVote]:
    return await rows(runtime, ConsultationVote)


async def close(runtime) -> None:
    """The ward's leader (seeded with the demo) closes the consultation."""
    from bot.publishing import close_consultation

    consultation = await the_consultation(runtime)
    async with runtime.uows() as uow:
        leader = (await uow.session.execute(select(User).where(User.role == "leader"))).scalars().first()
        await close_consultation(uow, leader, consultation.id)
        await uow.commit()
    await runtime.dispatcher.drain()  # the closing notices reach the voters


# -- the web chat: one more cookie is one more unverified vote, never an official one ---------------------

async def _web_vote(tab: Browser, consultation_id: int, choice: int) -> list[dict]:
    await reach_menu(tab)
    await tab.send(button="menu:consultations")
    detail = await tab.send(button=f"consult:{consultation_id}")
    assert f"vote:{choice}" in buttons(detail[-1]).values()
    return await tab.send(button=f"vote:{choice}")


async def test_three_hundred_fresh_web_cookies_make_no_official_vote(runtime):
    consultation = await the_consultation(runtime)
    # As the tester did: every request without the cookie is a new visitor, and each one votes.
    async with TestClient(TestServer(runtime.web_app)) as client:
        for _ in range(5):
            client.session.cookie_jar.clear()
            voted = await _web_vote(Browser(client), consultation.id, 0)
            assert voted[0]["text"] == "Đã ghi nhận lựa chọn «Đồng ý»."
    # The other 295 as the web adapter hands them to the pipeline: fresh chats, all at once.
    chats = [f"stuffed-{n:03d}" for n in range(295)]
    for step in ({"text": "/start"}, {"button": "lang:vi"}, {"text": "hoan kiem"}, {"button": "commune:70"},
                 {"button": "menu:consultations"}, {"button": f"consult:{consultation.id}"}, {"button": "vote:0"}):
        await asyncio.gather(*(handle_incoming(Incoming("web", chat, chat, f"{chat}:{uuid.uuid4().hex}", **step),
                                               runtime.uows, runtime.settings) for chat in chats))
    assert len(await votes(runtime)) == 300

    await close(runtime)
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await reach_menu(tab)
        await tab.send(button="menu:consultations")
        result = (await tab.send(button=f"consult:{consultation.id}"))[-1]["text"]
    assert (f"{official(0)}\n• Đồng ý: 0 (0%)\n• Không đồng ý: 0 (0%)\n"
            f"• Đồng ý nếu miễn phí cho người dân trong phố: 0 (0%)\n{unofficial(300)}\n• Đồng ý: 300 (100%)\n"
            "• Không đồng ý: 0 (0%)\n• Đồng ý nếu miễn phí cho người dân trong phố: 0 (0%)") in result
    cast = await votes(runtime)
    assert {vote.tally for vote in cast} == {"unverified"} and {vote.voter_key for vote in cast} == {None}


# -- Telegram: the person's own number, shared with the request_contact button ----------------------------

@pytest.fixture
async def telegram(settings):
    bot = TelegramBot(settings.model_copy(update={"telegram_token": TOKEN, "telegram_per_chat_rate": 1000.0}),
                      RecordingBotAPI())
    await bot.open()
    await seed_demo(bot.runtime.uows, bot.runtime.settings)
    yield bot
    await bot.close()


async def _to_consultation(citizen: Citizen, consultation_id: int) -> str:
    await citizen.go_to_menu()
    await citizen.press("menu:consultations")
    [detail] = await citizen.press(f"consult:{consultation_id}")
    return detail


async def _share_contact(citizen: Citizen, phone: str, contact_user_id: int | None) -> list[str]:
    return await citizen.feed(contact_update(next(update_ids), citizen.chat_id, phone, contact_user_id))


async def test_a_telegram_citizen_sharing_their_own_number_votes_in_the_official_tally(telegram):
    lan = Citizen(telegram, TELEGRAM_LAN)
    await lan.start_in_hoan_kiem()
    consultation = await the_consultation(telegram.runtime)
    detail = await _to_consultation(lan, consultation.id)
    assert "kết quả chính thức chỉ tính phiếu của cư dân đã xác minh" in detail and "Bạn chưa xác minh" in detail
    assert (VERIFY, "consult:verify") in [button for row in lan.keyboard() for button in row]

    asked = await lan.press("consult:verify")
    assert "Chia sẻ số điện thoại của tôi" in asked[0] and "bộ phận tiếp công dân" in asked[0]
    # The request goes out as Telegram's reply keyboard with one request_contact button.
    [request] = [m for m in telegram.api.sent(TELEGRAM_LAN) if m["text"] == asked[0]]
    assert request["reply_markup"]["keyboard"] == [[{"text": SHARE_PHONE, "request_contact": True}]]
    assert request["reply_markup"]["one_time_keyboard"] is True

    shared = await _share_contact(lan, PHONE_ON_TELEGRAM, TELEGRAM_LAN)
    assert shared[0] == VERIFIED
    assert "✅ Bạn là cư dân đã xác minh" in shared[-1]  # back on the consultation
    assert PHONE_ON_TELEGRAM not in "".join(lan.texts()) and "0912345678" not in "".join(lan.texts())

    voted = await lan.press("vote:0")
    assert voted[0] == "Đã ghi nhận lựa chọn «Đồng ý»."
    [vote] = await votes(telegram.runtime)
    assert vote.tally == "verified" and vote.voter_key and PHONE_ON_TELEGRAM[2:] not in vote.voter_key

    await close(telegram.runtime)
    result = await _to_consultation(lan, consultation.id)
    assert f"{official(1)}\n• Đồng ý: 1 (100%)" in result and unofficial(0) in result


async def test_a_forwarded_contact_of_someone_else_does_not_verify(telegram):
    lan = Citizen(telegram, TELEGRAM_LAN)
    await lan.start_in_hoan_kiem()
    consultation = await the_consultation(telegram.runtime)
    await _to_consultation(lan, consultation.id)
    await lan.press("consult:verify")
    # Minh's card forwarded by Lan: Telegram names Minh's account in contact.user_id.
    refused = await _share_contact(lan, PHONE_ON_TELEGRAM, TELEGRAM_MINH)
    assert VERIFIED not in refused and "danh thiếp" in refused[0]
    # A card of a number that has no Telegram account carries no user_id at all.
    refused = await _share_contact(lan, "84987654321", None)
    assert VERIFIED not in refused and "danh thiếp" in refused[0]

    await lan.press("consult:detail")
    await lan.press("vote:1")
    [vote] = await votes(telegram.runtime)
    assert (vote.tally, vote.voter_key) == ("unverified", None)


async def test_the_same_number_on_telegram_and_zalo_is_one_official_vote(telegram, fake, open_process):
    """Lan votes on Telegram, then again from Zalo before and after verifying there with the same number:
    one person, one official vote, the latest choice."""
    consultation = await the_consultation(telegram.runtime)
    lan_tg = Citizen(telegram, TELEGRAM_LAN)
    await lan_tg.start_in_hoan_kiem()
    await _to_consultation(lan_tg, consultation.id)
    await lan_tg.press("consult:verify")
    assert (await _share_contact(lan_tg, PHONE_ON_TELEGRAM, TELEGRAM_LAN))[0] == VERIFIED
    await lan_tg.press("vote:0")

    zalo = await open_process()  # a second process, with the Zalo OA on, on the same database
    lan_zalo = ZaloUser(fake, zalo, ZALO_LAN)
    await lan_zalo.start_in_hoan_kiem()
    await lan_zalo.press("menu:consultations")
    await lan_zalo.press(f"consult:{consultation.id}")
    assert (await lan_zalo.press("vote:1"))[0] == "Đã ghi nhận lựa chọn «Không đồng ý»."
    assert sorted((v.tally, v.option) for v in await votes(telegram.runtime)) == [
        ("unverified", "Không đồng ý"), ("verified", "Đồng ý")]

    card = await lan_zalo.press("consult:verify")
    assert card[0] == f"[thẻ: {SHARE_PHONE}]"
    shared = [m.get("text") for m in await lan_zalo.deliver(
        fake.submit_info_event(ZALO_LAN, name="Nguyễn Thị Lan", phone=PHONE_ON_ZALO))]
    assert shared[0] == VERIFIED
    # Her Zalo vote, the later one, is now her official vote; the Telegram one it replaced is gone.
    [vote] = await votes(telegram.runtime)
    assert (vote.tally, vote.option) == ("verified", "Không đồng ý")

    # Back on Telegram she changes her mind: still one vote.
    changed = await lan_tg.press("vote:2")
    assert changed[0] == "Đã đổi lựa chọn thành «Đồng ý nếu miễn phí cho người dân trong phố»."
    [vote] = await votes(telegram.runtime)
    assert (vote.tally, vote.option) == ("verified", "Đồng ý nếu miễn phí cho người dân trong phố")

    await close(telegram.runtime)
    result = await _to_consultation(lan_tg, consultation.id)
    assert f"{official(1)}\n• Đồng ý: 0 (0%)\n• Không đồng ý: 0 (0%)\n" \
           f"• Đồng ý nếu miễn phí cho người dân trong phố: 1 (100%)\n{unofficial(0)}" in result


async def test_zalo_bot_and_web_explain_how_to_become_verified(runtime, citizen):
    consultation = await the_consultation(runtime)
    await citizen.send(button="menu:consultations")
    await citizen.send(button=f"consult:{consultation.id}")
    explained = await citizen.send(button="consult:verify")
    text = explained[0]["text"]
    assert "Telegram" in text and "Zalo" in text and "bộ phận tiếp công dân" in text
    # A number typed into the web chat proves nothing.
    typed = await citizen.send("0912345678")
    assert "gõ tay" in typed[0]["text"]
    assert not [v for v in await votes(runtime)]


# -- in person: an officer of the commune checks the citizen's papers -----------------------------------

async def _officer(runtime, unit_name: str, role: str = "officer") -> Browser:
    [unit] = await rows(runtime, Unit, Unit.name == unit_name)
    client = TestClient(TestServer(runtime.web_app))
    await client.start_server()
    tab = Browser(client)
    await reach_menu(tab)
    await tab.send(f"/officer {await create_invite(runtime.uows, unit.id, role)}")
    return tab


ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"


async def file_named_feedback(tab: Browser) -> None:
    """Feedback with the citizen's name and contact: an officer can only vouch for someone known to
    them, never for the filer of an anonymous item."""
    await describe(tab, "feedback")
    await tab.send(button="location:skip")
    await give_contact(tab)
    await tab.send(button="submit:send")


async def test_an_officer_verifies_a_resident_in_person_and_their_vote_becomes_official(runtime, citizen):
    consultation = await the_consultation(runtime)
    await citizen.send(button="menu:consultations")
    await citizen.send(button=f"consult:{consultation.id}")
    await citizen.send(button="vote:0")
    await citizen.send(button="g:menu")
    await file_named_feedback(citizen)
    [item] = await rows(runtime, Item)
    [vote] = await votes(runtime)
    assert vote.tally == "unverified"

    officer = await _officer(runtime, ECONOMY)
    try:
        await officer.send("/inbox")
        screen = await officer.send(button=f"oi:{item.id}")
        assert buttons(screen[-1])[IN_PERSON] == "oresident"
        done = await officer.send(button="oresident")
        assert done[0]["text"].startswith(f"Đã ghi nhận người gửi hồ sơ {item.tracking_code} là cư dân")
        assert IN_PERSON not in buttons(done[-1])  # done once
    finally:
        await officer.client.close()
    [officer_user] = await rows(runtime, User, User.role == "officer", User.unit_id == item.unit_id,
                                User.display_name.is_(None))
    [event] = await rows(runtime, ItemEvent, ItemEvent.action == "resident_verified")
    assert (event.item_id, event.actor_id) == (item.id, officer_user.id)
    [vote] = await votes(runtime)
    assert vote.tally == "verified" and vote.voter_key == f"u:{item.citizen_id}"
    detail = await citizen.send(button="g:menu")
    await citizen.send(button="menu:consultations")
    detail = await citizen.send(button=f"consult:{consultation.id}")
    assert "✅ Bạn là cư dân đã xác minh" in detail[-1]["text"]


async def test_in_person_verification_is_refused_outside_the_officers_commune(runtime, citizen):
    await file_named_feedback(citizen)
    [item] = await rows(runtime, Item)
    async with runtime.uows() as uow:  # the citizen has since chosen another ward as theirs
        await uow.session.execute(update(User).where(User.id == item.citizen_id).values(commune_code=OTHER_WARD))
        await uow.commit()
    officer = await _officer(runtime, ECONOMY)
    try:
        await officer.send("/inbox")
        await officer.send(button=f"oi:{item.id}")
        refused = await officer.send(button="oresident")
        assert refused[0]["text"] == "Không xác minh được: người gửi hồ sơ này không thuộc xã, phường của bạn."
    finally:
        await officer.client.close()
    assert await rows(runtime, ItemEvent, ItemEvent.action == "resident_verified") == []

    # An administrator of another ward cannot verify this ward's citizen either, whatever button is sent,
    # even with this ward picked in their own settings (the scope is their unit's commune).
    from bot.residents import Resident, verify_in_person

    await seed_demo(runtime.uows, runtime.settings, commune_code=OTHER_WARD)
    [other_unit, *_] = await rows(runtime, Unit, Unit.commune_code == OTHER_WARD)
    async with runtime.uows() as uow:
        await uow.session.execute(update(User).where(User.id == item.citizen_id).values(commune_code=DEMO_COMMUNE))
        admin = User(role="admin", unit_id=other_unit.id, commune_code=DEMO_COMMUNE)
        uow.session.add(admin)
        await uow.session.flush()
        with pytest.raises(NotAllowed):
            await verify_in_person(uow, admin, item.id)
    assert await rows(runtime, Resident) == []


# -- closing: both tallies, labelled, to the leader and to everyone who voted --------------------------

async def test_closing_shows_both_tallies_to_the_leader_and_the_voters(telegram):
    runtime = telegram.runtime
    consultation = await the_consultation(runtime)
    lan = Citizen(telegram, TELEGRAM_LAN)
    await lan.start_in_hoan_kiem()
    await _to_consultation(lan, consultation.id)
    await lan.press("consult:verify")
    await _share_contact(lan, PHONE_ON_TELEGRAM, TELEGRAM_LAN)
    await lan.press("vote:1")
    async with TestClient(TestServer(runtime.web_app)) as client:
        for choice in (0, 0):
            client.session.cookie_jar.clear()
            await _web_vote(Browser(client), consultation.id, choice)

    [unit] = await rows(runtime, Unit, Unit.name == "Văn phòng HĐND và UBND phường")
    leader = Citizen(telegram, LEADER_CHAT)
    await leader.start_in_hoan_kiem()
    await leader.say(f"/officer {await create_invite(runtime.uows, unit.id, 'leader')}")
    await leader.say("/inbox")
    await leader.press("opub")
    await leader.press("opub:close")
    await leader.press(f"oclose:{consultation.id}")
    await leader.say("Đã đủ ý kiến để quyết định.")  # before its published end: a reason (issue 18)
    closed = await leader.press("opub:send")
    tallies = (f"{official(1)}\n• Đồng ý: 0 (0%)\n• Không đồng ý: 1 (100%)\n"
               f"• Đồng ý nếu miễn phí cho người dân trong phố: 0 (0%)\n{unofficial(2)}\n• Đồng ý: 2 (100%)\n"
               "• Không đồng ý: 0 (0%)\n• Đồng ý nếu miễn phí cho người dân trong phố: 0 (0%)")
    assert closed[0].startswith("Đã kết thúc lấy ý kiến") and any(tallies in text for text in closed)
    [notice] = [text for text in lan.texts() if text.startswith("🗳️ Cuộc lấy ý kiến")]
    assert tallies in notice


async def test_erasing_personal_data_forgets_the_verification_and_the_hash_of_the_number(telegram):
    from bot.residents import Resident

    consultation = await the_consultation(telegram.runtime)
    lan = Citizen(telegram, TELEGRAM_LAN)
    await lan.start_in_hoan_kiem()
    await _to_consultation(lan, consultation.id)
    await lan.press("consult:verify")
    await _share_contact(lan, PHONE_ON_TELEGRAM, TELEGRAM_LAN)
    await lan.press("vote:0")
    assert len(await rows(telegram.runtime, Resident)) == 1

    await lan.say("/privacy")
    await lan.press("privacy:erase")
    await lan.press("privacy:erase_yes")
    assert await rows(telegram.runtime, Resident) == []
    [vote] = await votes(telegram.runtime)
    assert (vote.tally, vote.voter_key) == ("unverified", None)


@pytest.mark.parametrize("shared, number", [
    ("84912345678", "+84912345678"),     # Telegram: international, without "+"
    ("+84 91 234 5678", "+84912345678"),
    ("0912345678", "+84912345678"),      # as a Vietnamese writes it (Zalo may send it so)
    ("447911123456", "+447911123456"),   # a foreign number stays itself
    ("84123", None), ("", None), ("không có", None),
])
def test_a_shared_number_is_keyed_by_its_e164_form(shared, number):
    from bot.domain.voters import e164

    assert e164(shared) == number


async def test_the_filer_of_an_anonymous_item_cannot_be_verified_through_it(runtime, citizen):
    """An anonymous filer is nobody the officer may put a name to (and may be a denouncer whose split-off
    feedback was filed without their contact)."""
    from tests.webchat import file_feedback

    await file_feedback(citizen)  # anonymous
    [item] = await rows(runtime, Item)
    officer = await _officer(runtime, ECONOMY)
    try:
        await officer.send("/inbox")
        screen = await officer.send(button=f"oi:{item.id}")
        assert IN_PERSON not in buttons(screen[-1])
        await officer.send(button="oresident")  # forged: not among the buttons shown
    finally:
        await officer.client.close()
    assert await rows(runtime, ItemEvent, ItemEvent.action == "resident_verified") == []
