"""Every role stays inside its commune, on SQLite and PostgreSQL (bot/policy.py).

Two real wards: Phường Hoàn Kiếm (70, the demo) and Phường Ba Đình (4), each with its own units, staff,
project and consultation. An admin invited for Hoàn Kiếm sees and acts on all of Hoàn Kiếm — and on
nothing of Ba Đình: not its inbox, not an item opened by its button, not an action pressed on a forged
screen (a client that forges buttons gets past the check of the buttons shown, so the server's own
check must refuse), not a denouncer's identity, not a publication. Each refusal is the polite
not-allowed text and changes nothing in the database. Picking Ba Đình as "my commune" in the settings
moves none of this: scope comes from the unit an invite appointed the admin to.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.officers import create_invite
from bot.texts import t
from scheduler.sweep import sweep
from storage.demo import seed_demo
from storage.models import (
    Consultation,
    ConversationState,
    Item,
    ItemContact,
    ItemEvent,
    OutboxMessage,
    Project,
    ProjectUpdate,
    Unit,
    User,
    utcnow,
)
from tests.webchat import file_item as file_item_of
from tests.webchat import Browser, buttons, chat_id, rows

HOAN_KIEM, BA_DINH = 70, 4
OFFICE = "Văn phòng HĐND và UBND phường"        # public-order items go here
ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"     # environment items go here
SOCIAL = "Phòng Văn hóa - Xã hội"
NAME, ADDRESS, PHONE = "Đỗ Văn Giấu Tên", "Số 8 ngõ Kín, Ba Đình", "0961234567"
NOT_ALLOWED = t("vi", "officer.not_allowed")
BA_DINH_TEXTS = ("Cán bộ phường Ba Đình thu tiền trái phép của hộ kinh doanh chợ.",
                 "Rác thải ùn ứ ở ngõ 3 phố Đội Cấn nhiều ngày.")
HOAN_KIEM_TEXTS = ("Cán bộ địa chính Hoàn Kiếm nhận tiền để hợp thức hóa đất lấn chiếm.",
                   "Cống thoát nước tắc ở ngõ 12 Hàng Bạc gây ngập.",
                   "Hàng quán lấn chiếm vỉa hè Hàng Bạc, người đi bộ phải xuống lòng đường.")


@pytest.fixture
async def tabs(runtime):
    opened: list[Browser] = []

    async def open_(commune: int = HOAN_KIEM) -> Browser:
        client = TestClient(TestServer(runtime.web_app))
        await client.start_server()
        tab = Browser(client)
        opened.append(tab)
        await tab.send("/start")
        await tab.send(button="lang:vi")
        await tab.send("hoan kiem" if commune == HOAN_KIEM else "ba dinh")
        await tab.send(button=f"commune:{commune}")
        return tab

    yield open_
    for tab in opened:
        await tab.client.close()


async def _unit(runtime, commune: int, name: str) -> int:
    [unit] = await rows(runtime, Unit, Unit.commune_code == commune, Unit.name == name)
    return unit.id


async def _file(tab: Browser, kind: str, category: str, text: str, *, identity: bool) -> None:
    await file_item_of(tab, kind, category, text, (NAME, ADDRESS, PHONE) if identity else None)


@pytest.fixture
async def wards(runtime, tabs):
    """Both wards with a denunciation (with identity) and a feedback each, a subscriber each, and an admin
    of Hoàn Kiếm appointed to its office."""
    await seed_demo(runtime.uows, runtime.settings, commune_code=BA_DINH)
    for commune, texts in ((BA_DINH, BA_DINH_TEXTS), (HOAN_KIEM, HOAN_KIEM_TEXTS)):
        citizen = await tabs(commune)
        await _file(citizen, "denunciation", "public_order", texts[0], identity=True)
        for text in texts[1:]:
            await _file(citizen, "feedback", "environment", text, identity=False)
        await citizen.send(button="menu:schedule")
        await citizen.send(button="schedule:toggle")  # someone to announce to
    admin = await tabs()
    await admin.send(f"/officer {await create_invite(runtime.uows, await _unit(runtime, HOAN_KIEM, OFFICE), 'admin')}")
    return admin


async def _items(runtime, commune: int) -> dict[str, Item]:
    return {item.description: item for item in await rows(runtime, Item, Item.commune_code == commune)}


async def _database(runtime) -> tuple:
    """Everything an action could change."""
    items = [(i.id, i.status, i.unit_id, i.assignee_id, i.accepted_at, i.closed_at, i.version)
             for i in await rows(runtime, Item)]
    events = [(e.item_id, e.action, e.note) for e in await rows(runtime, ItemEvent)]
    consultations = [(c.id, c.status) for c in await rows(runtime, Consultation)]
    projects = [(p.id, p.progress_percent, p.status) for p in await rows(runtime, Project)]
    updates = len(await rows(runtime, ProjectUpdate))
    published = sorted(r.dedupe_key for r in await rows(runtime, OutboxMessage)
                       if r.dedupe_key.startswith(("announce:", "project:")))
    return items, events, consultations, projects, updates, published


async def _forge(runtime, tab: Browser, step: str, pressed: list[str], **data) -> None:
    """The tab's chat as if the server had shown it ``step`` with the buttons ``pressed``."""
    async with runtime.uows() as uow:
        await uow.session.execute(
            update(ConversationState)
            .where(ConversationState.channel == "web", ConversationState.chat_id == chat_id(tab))
            .values(flow="officer", step=step, data=data, expected_buttons=pressed))
        await uow.commit()


def _seen(messages: list[dict]) -> str:
    return "\n".join(m["text"] + " " + " ".join(b["label"] for row in m["buttons"] for b in row) for m in messages)


# -- out of scope --------------------------------------------------------------------------------------------

async def test_an_admin_sees_nothing_of_another_communes_inbox_or_items(runtime, wards):
    admin = wards
    theirs, ours = await _items(runtime, BA_DINH), await _items(runtime, HOAN_KIEM)
    before = await _database(runtime)
    listed = _seen(await admin.send("/inbox"))
    for view in ("new", "overdue", "mine"):
        await admin.send("/inbox")
        listed += _seen(await admin.send(button=f"oview:{view}"))
    for item in ours.values():  # every unit of its own commune
        assert item.tracking_code in listed
    for item in theirs.values():
        assert item.tracking_code not in listed
        opened = await admin.send(button=f"g:oi:{item.id}")
        assert opened[0]["text"] == NOT_ALLOWED
        assert item.tracking_code not in _seen(opened) and item.description not in _seen(opened)
    assert await _database(runtime) == before


async def test_every_action_on_another_communes_item_is_refused(runtime, wards):
    admin = wards
    theirs = await _items(runtime, BA_DINH)
    denunciation, feedback = theirs[BA_DINH_TEXTS[0]], theirs[BA_DINH_TEXTS[1]]
    [their_officer] = await rows(runtime, User, User.unit_id == denunciation.unit_id, User.role == "officer")
    their_economy, our_economy = await _unit(runtime, BA_DINH, ECONOMY), await _unit(runtime, HOAN_KIEM, ECONOMY)
    before = await _database(runtime)
    attempts = []
    for item in (denunciation, feedback):
        for pressed in ("oa:accept", "oa:start", "oa:answer", "oa:refuse", "oa:request_info", "oa:extend",
                        "oa:forward", "oa:close", "oassign", "oreveal", f"oi:{item.id}"):
            attempts.append(("item", pressed, None, {"item_id": item.id}))
        attempts += [
            ("assign", f"oassign:{their_officer.id}", None, {"item_id": item.id}),
            ("forward_target", f"ofwd:{their_economy}", None, {"item_id": item.id}),
            ("forward_target", f"ofwd:{our_economy}", None, {"item_id": item.id}),
            ("extend_kind", "oext:complex", None, {"item_id": item.id}),
            ("text", "otpl:0", None, {"item_id": item.id, "action": "answer", "templates": ["Đã xử lý xong."]}),
            ("text", None, "Đã xử lý xong, trả lời công dân.", {"item_id": item.id, "action": "answer"}),
            ("text", None, "Không thuộc thẩm quyền giải quyết.", {"item_id": item.id, "action": "refuse"}),
            ("text", None, "Chuyển phòng Kinh tế xử lý.", {"item_id": item.id, "action": "forward",
                                                           "target": our_economy}),
            ("reveal", None, "Cơ quan điều tra yêu cầu xác minh nhân thân.", {"item_id": item.id}),
        ]
    for step, pressed, text, data in attempts:
        await _forge(runtime, admin, step, [pressed] if pressed else [], **data)
        replies = await admin.send(button=pressed) if pressed else await admin.send(text)
        assert replies[0]["text"] == NOT_ALLOWED, (step, pressed, text)
        shown = _seen(replies)
        assert not any(secret in shown for secret in (NAME, ADDRESS, PHONE, *BA_DINH_TEXTS)), (step, pressed)
    assert await _database(runtime) == before
    assert await rows(runtime, ItemEvent, ItemEvent.action == "reveal_identity") == []
    assert len(await rows(runtime, ItemContact)) == 2  # untouched: one per ward's denunciation


async def test_an_admin_publishes_for_no_other_commune_even_after_choosing_it_in_the_settings(runtime, wards):
    admin = wards
    [their_project] = await rows(runtime, Project, Project.commune_code == BA_DINH)
    [their_consultation] = await rows(runtime, Consultation, Consultation.commune_code == BA_DINH)
    theirs = await _items(runtime, BA_DINH)
    # The admin lives in Ba Đình and picks it as "my commune": that chooses menus, not powers.
    await admin.send(button="g:menu")
    await admin.send(button="menu:settings")
    await admin.send(button="settings:commune")
    await admin.send("ba dinh")
    await admin.send(button=f"commune:{BA_DINH}")
    async with runtime.uows() as uow:
        assert (await uow.users.by_channel_identity("web", chat_id(admin))).commune_code == BA_DINH
    before = await _database(runtime)

    listed = _seen(await admin.send("/inbox"))
    assert not any(item.tracking_code in listed for item in theirs.values())
    assert (await admin.send(button=f"g:oi:{theirs[BA_DINH_TEXTS[0]].id}"))[0]["text"] == NOT_ALLOWED
    for step, pressed, text, data in (
            ("consult_pick", f"oclose:{their_consultation.id}", None, {}),
            ("project_pick", f"oproj:{their_project.id}", None, {}),
            ("project_note", None, "Hoàn thành 90% khối lượng.", {"project_id": their_project.id, "progress": 90}),
            ("reveal", None, "Cơ quan điều tra yêu cầu xác minh nhân thân.", {"item_id": theirs[BA_DINH_TEXTS[0]].id})):
        await _forge(runtime, admin, step, [pressed] if pressed else [], **data)
        replies = await admin.send(button=pressed) if pressed else await admin.send(text)
        assert replies[0]["text"] == NOT_ALLOWED, (step, pressed)
        assert NAME not in _seen(replies)
    assert await _database(runtime) == before

    # What the admin's publishing screens offer, and where an announcement goes: its own ward.
    await admin.send("/inbox")
    await admin.send(button="opub")
    projects = await admin.send(button="opub:project")
    assert f"oproj:{their_project.id}" not in buttons(projects[-1]).values()
    await admin.send(button="oinbox")
    await admin.send(button="opub")
    consultations = await admin.send(button="opub:close")
    assert f"oclose:{their_consultation.id}" not in buttons(consultations[-1]).values()
    await admin.send(button="oinbox")
    await admin.send(button="opub")
    await admin.send(button="opub:announce")
    await admin.send("Chủ nhật này tổng vệ sinh toàn phường.")
    await admin.send(button="opub:send")  # after its preview (issue 18)
    subscribers = {commune: {i.chat_id for i in (await _items(runtime, commune)).values()}
                   for commune in (HOAN_KIEM, BA_DINH)}
    told = {r.chat_id for r in await rows(runtime, OutboxMessage) if r.dedupe_key.startswith("announce:")}
    assert told == subscribers[HOAN_KIEM]

    # Overdue items of a unit without a leader are escalated to the commune's admins: its own ward's only.
    await sweep(runtime.uows, now=utcnow() + timedelta(days=50), zone=runtime.settings.zone)
    escalations = " ".join(r.payload["text"] for r in await rows(runtime, OutboxMessage)
                           if r.chat_id == chat_id(admin) and r.dedupe_key.startswith("escalate:"))
    assert (await _items(runtime, HOAN_KIEM))[HOAN_KIEM_TEXTS[1]].tracking_code in escalations
    assert not any(item.tracking_code in escalations for item in theirs.values())


# -- in scope ------------------------------------------------------------------------------------------------

async def test_the_admin_still_does_everything_in_its_own_commune(runtime, wards):
    admin = wards
    ours = await _items(runtime, HOAN_KIEM)
    denunciation, drains, pavement = (ours[text] for text in HOAN_KIEM_TEXTS)
    economy, social = await _unit(runtime, HOAN_KIEM, ECONOMY), await _unit(runtime, HOAN_KIEM, SOCIAL)
    assert drains.unit_id == economy  # another unit than the admin's own office
    [economy_officer] = await rows(runtime, User, User.unit_id == economy, User.role == "officer")

    opened = await admin.send(button=f"g:oi:{drains.id}")
    assert drains.tracking_code in opened[-1]["text"]
    assert (await admin.send(button="oa:accept"))[0]["text"].startswith("Đã thực hiện «✅ Thụ lý»")
    choices = await admin.send(button="oassign")
    assert set(buttons(choices[-1]).values()) - {"oback"} == {
        f"oassign:{u.id}" for u in await rows(runtime, User, User.unit_id == economy)}
    assert (await admin.send(button=f"oassign:{economy_officer.id}"))[0]["text"] == t("vi", "officer.assigned")
    await admin.send(button="oa:answer")
    answered = await admin.send("Đã nạo vét cống, hết ngập.")
    assert answered[0]["text"].startswith("Đã thực hiện")

    await admin.send(button=f"g:oi:{pavement.id}")
    await admin.send(button="oa:forward")
    await admin.send(button=f"ofwd:{social}")
    forwarded = await admin.send("Thuộc lĩnh vực văn hóa - xã hội.")
    assert forwarded[0]["text"].startswith("Đã thực hiện")

    screen = await admin.send(button=f"g:oi:{denunciation.id}")
    assert NAME not in _seen(screen) and "oreveal" in buttons(screen[-1]).values()
    await admin.send(button="oreveal")
    revealed = await admin.send("Cơ quan điều tra yêu cầu xác minh nhân thân người tố cáo.")
    assert revealed[0]["text"] == t("vi", "officer.sender", name=NAME, address=ADDRESS, phone=PHONE)

    [project] = await rows(runtime, Project, Project.commune_code == HOAN_KIEM)
    [consultation] = await rows(runtime, Consultation, Consultation.commune_code == HOAN_KIEM)
    await admin.send("/inbox")
    await admin.send(button="opub")
    await admin.send(button="opub:announce")
    await admin.send("Thứ bảy cắt điện khu vực Hàng Bạc.")  # its preview first (issue 18)
    assert (await admin.send(button="opub:send"))[0]["text"] == t("vi", "publish.announced", count=1)
    await admin.send(button="opub:close")
    await admin.send(button=f"oclose:{consultation.id}")
    await admin.send("Đã đủ ý kiến để quyết định.")  # before its published end: a reason (issue 18)
    closed = await admin.send(button="opub:send")
    assert closed[0]["text"] == t("vi", "publish.closed", title=consultation.title)
    await admin.send(button="opub:project")
    await admin.send(button=f"oproj:{project.id}")
    await admin.send("75")
    await admin.send("Hoàn thành lát đá đoạn Hàng Bạc.")  # its preview first (issue 18)
    assert (await admin.send(button="opub:send"))[0]["text"].startswith("Đã cập nhật dự án")

    after = await _items(runtime, HOAN_KIEM)
    assert (after[drains.description].status, after[drains.description].assignee_id) == ("answered",
                                                                                       economy_officer.id)
    assert after[pavement.description].unit_id == social
    assert [e.item_id for e in await rows(runtime, ItemEvent, ItemEvent.action == "reveal_identity")] == [
        denunciation.id]
    [project] = await rows(runtime, Project, Project.commune_code == HOAN_KIEM)
    [consultation] = await rows(runtime, Consultation, Consultation.commune_code == HOAN_KIEM)
    assert (project.progress_percent, consultation.status) == (75, "closed")
    theirs = await rows(runtime, Project, Project.commune_code == BA_DINH)
    assert [p.progress_percent for p in theirs] == [40]
