"""A province's one tiepdan for all its communes, end to end through the web chat, on SQLite and
PostgreSQL (storage/demo.py seeds Thành phố Hà Nội around the demo ward).

- A commune without units of its own is never offered as one that will act: Xã Bát Tràng's items go to
  the province's office, and its citizens are told so before they file; Xã Suối Hai, which nobody on
  tiepdan acts for, sends its citizens elsewhere, and no item is ever created without a unit.
- Remote-area status is commune data: Xã Ba Vì's items are remote-area items.
- The commune's chairman sees every item of the commune and reveals a denouncer with a reason.
- A second complaint goes to the province, above the commune that decided the first (Luật Khiếu nại
  2011, Điều 7, 33), and leaves the commune's scope.
- The province's overseer reads every commune of the province, and acts on none.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from bot.domain.workflow import Action
from bot.officers import accept
from bot.petitions import move
from bot.texts import t
from storage.demo import PROVINCE_INSPECTORATE, PROVINCE_OFFICE
from storage.models import Consultation, Item, ItemDeadline, ItemEvent, Project, Unit, User
from tests.province import (
    ADDRESS,
    BA_VI,
    BA_VI_OFFICE,
    BAT_TRANG,
    ECONOMY,
    HOAN_KIEM,
    NAME,
    NOT_ALLOWED,
    OFFICE,
    PHONE,
    SUOI_HAI,
    THUC_PHAN,
    Tabs,
    database,
    every_action_on,
    file_item,
    forge,
    items,
    seen,
    unit_id,
)
from tests.webchat import buttons, rows

REFER = "Xin gửi trực tiếp tại Bộ phận tiếp công dân UBND xã Suối Hai (sáng thứ Ba, thứ Năm)."
HK_TEXTS = ("Cán bộ địa chính Hoàn Kiếm nhận tiền để hợp thức hóa đất lấn chiếm.",
            "Cống thoát nước tắc ở ngõ 12 Hàng Bạc gây ngập.",
            "Hàng quán lấn chiếm vỉa hè Hàng Bạc, người đi bộ phải xuống lòng đường.")
BA_VI_TEXT = "Đường liên thôn Yên Cư sạt lở sau mưa, xe máy không qua được."


@pytest.fixture
async def tabs(runtime):
    opened = Tabs(runtime)
    yield opened
    await opened.close()


async def _by_officer(runtime, item_id: int, action: Action, note: str | None = None) -> None:
    async with runtime.uows() as uow:
        await move(uow, await uow.items.get(item_id), action, actor_id=None, note=note)
        await uow.commit()


# -- communes without units ---------------------------------------------------------------------------------

async def test_a_commune_without_units_is_served_by_the_province_and_says_so_before_filing(runtime, tabs):
    citizen, chosen = await tabs.open(BAT_TRANG)
    office = await unit_id(runtime, PROVINCE_OFFICE, None)
    receipt = await file_item(citizen, "feedback", "environment", "Khói lò gốm gây ô nhiễm khu dân cư thôn 3.",
                              identity=False)
    [item] = await rows(runtime, Item)
    assert (item.commune_code, item.unit_id) == (BAT_TRANG, office)  # never an item without a unit
    assert PROVINCE_OFFICE in receipt[0]["text"]
    # It reaches the province office's inbox, and no commune's.
    officer = await tabs.staff(office, "officer", BAT_TRANG)
    assert item.tracking_code in seen(await officer.send("/inbox"))
    admin = await tabs.staff(await unit_id(runtime, OFFICE), "admin")
    assert item.tracking_code not in seen(await admin.send("/inbox"))
    # And the citizen was told so when choosing the commune and again before filing.
    told = t("vi", "start.served_by_province", commune="Xã Bát Tràng, Thành phố Hà Nội", unit=PROVINCE_OFFICE)
    assert told in [m["text"] for m in chosen]
    asked = await citizen.send(button="menu:submit")
    assert asked[0]["text"] == t("vi", "submit.by_province", commune="Xã Bát Tràng, Thành phố Hà Nội",
                                 unit=PROVINCE_OFFICE)


@pytest.mark.parametrize("commune, refer", [(SUOI_HAI, REFER), (THUC_PHAN, t("vi", "start.not_served_default"))])
async def test_a_commune_nobody_acts_for_sends_its_citizens_elsewhere_and_no_item_is_created(runtime, tabs, commune,
                                                                                            refer):
    """Suối Hai is referred elsewhere by the province; Thục Phán (Cao Bằng) lies in a province that has
    not set up tiepdan here. Neither gets a receipt promising officers who do not exist."""
    citizen, chosen = await tabs.open(commune)
    # Even a client that goes straight to the summary files nothing.
    await forge(runtime, citizen, "submit", "summary", ["submit:send"], kind="feedback", category="environment",
                category_label="Môi trường", description="Rác thải đổ trộm ven suối đầu thôn.", consent=False)
    refused = await citizen.send(button="submit:send")
    assert await rows(runtime, Item) == []
    assert refer in refused[0]["text"] and "TD-" not in seen(refused)
    # Told when choosing the commune, and when starting a petition, instead of being offered the kinds.
    assert any(m["text"].startswith("ℹ️") and refer in m["text"] for m in chosen)
    asked = await citizen.send(button="menu:submit")
    assert refer in asked[0]["text"] and "kind:feedback" not in buttons(asked[-1]).values()
    assert await rows(runtime, Item) == []


async def test_items_of_a_remote_commune_are_remote_area_items(runtime, tabs):
    """Vùng sâu, vùng xa is commune data (the province's import): it lengthens a complaint's periods
    (Luật Khiếu nại 2011, Điều 28: 45 days instead of 30 from acceptance)."""
    ba_vi, _ = await tabs.open(BA_VI)
    await file_item(ba_vi, "complaint_first", "land", BA_VI_TEXT, identity=True)
    hoan_kiem, _ = await tabs.open(HOAN_KIEM)
    await file_item(hoan_kiem, "complaint_first", "land", HK_TEXTS[0], identity=True)
    remote, = (await items(runtime, BA_VI)).values()
    near, = (await items(runtime, HOAN_KIEM)).values()
    assert (remote.remote_area, near.remote_area) == (True, False)
    assert remote.unit_id == await unit_id(runtime, BA_VI_OFFICE, BA_VI)
    async with runtime.uows() as uow:  # each accepted by an officer of its unit: the resolution clock starts
        for item in (remote, near):
            [officer] = (await uow.session.execute(
                select(User).where(User.unit_id == item.unit_id, User.role == "officer"))).scalars().all()
            await accept(uow, officer, await uow.items.get(item.id), runtime.settings.zone)
        await uow.commit()
    resolution = {d.item_id: d.due_on for d in await rows(runtime, ItemDeadline, ItemDeadline.phase == "resolution")}
    assert 13 <= (resolution[remote.id] - resolution[near.id]).days <= 17


# -- the commune's chairman -----------------------------------------------------------------------------

async def test_the_chairman_sees_every_item_of_the_commune_and_reveals_a_denouncer_with_a_reason(runtime, tabs):
    citizen, _ = await tabs.open(HOAN_KIEM)
    await file_item(citizen, "denunciation", "public_order", HK_TEXTS[0], identity=True)
    await file_item(citizen, "feedback", "environment", HK_TEXTS[1], identity=False)
    await file_item(citizen, "feedback", "infrastructure", HK_TEXTS[2], identity=True)
    ba_vi, _ = await tabs.open(BA_VI)
    await file_item(ba_vi, "feedback", "infrastructure", BA_VI_TEXT, identity=False)
    ours, theirs = await items(runtime, HOAN_KIEM), await items(runtime, BA_VI)
    assert len({item.unit_id for item in ours.values()}) > 1  # several units of the ward

    chairman = await tabs.staff(await unit_id(runtime, OFFICE), "chairman")
    listed = seen(await chairman.send("/inbox"))
    assert all(item.tracking_code in listed for item in ours.values())
    assert theirs[BA_VI_TEXT].tracking_code not in listed
    assert (await chairman.send(button=f"g:oi:{theirs[BA_VI_TEXT].id}"))[0]["text"] == NOT_ALLOWED

    screen = await chairman.send(button=f"g:oi:{ours[HK_TEXTS[0]].id}")
    assert NAME not in seen(screen) and "oreveal" in buttons(screen[-1]).values()
    await chairman.send(button="oreveal")
    revealed = await chairman.send("Cơ quan điều tra yêu cầu xác minh nhân thân người tố cáo.")
    assert revealed[0]["text"] == t("vi", "officer.sender", name=NAME, address=ADDRESS, phone=PHONE)
    [event] = await rows(runtime, ItemEvent, ItemEvent.action == "reveal_identity")
    assert event.item_id == ours[HK_TEXTS[0]].id and event.note.startswith("Cơ quan điều tra")
    # The chairman acts too: the commune's complaints are the chairman's to decide (Luật Khiếu nại 2011, Điều 17).
    await chairman.send(button=f"g:oi:{ours[HK_TEXTS[1]].id}")
    assert (await chairman.send(button="oa:accept"))[0]["text"].startswith("Đã thực hiện")


# -- second complaints --------------------------------------------------------------------------------------

async def test_a_second_complaint_goes_to_the_province_and_leaves_the_communes_scope(runtime, tabs):
    office = await unit_id(runtime, PROVINCE_OFFICE, None)
    async with runtime.uows() as uow:  # as examples/ha-noi.yaml sets it: ``second_complaints: yes``
        (await uow.units.get(office)).takes_second_complaints = True
        await uow.commit()
    citizen, _ = await tabs.open(HOAN_KIEM)
    await file_item(citizen, "complaint_first", "land", "Tôi khiếu nại quyết định thu hồi đất số 12/QĐ-UBND.",
                    identity=True)
    [first] = await rows(runtime, Item)
    assert first.unit_id == await unit_id(runtime, ECONOMY)
    await _by_officer(runtime, first.id, Action.accept)
    await _by_officer(runtime, first.id, Action.answer, "Giữ nguyên quyết định thu hồi đất.")
    await citizen.send(button=f"g:item:{first.id}")
    await citizen.send(button="rate:no")
    await citizen.send(button="rate:skip")
    await citizen.send(button="track:second")
    await citizen.send("Quyết định lần đầu chưa xét hồ sơ địa chính năm 1994 của gia đình tôi.")
    first, second = await rows(runtime, Item)
    assert (second.kind, second.parent_id, second.commune_code, second.unit_id) == (
        "complaint_second", first.id, HOAN_KIEM, office)

    admin = await tabs.staff(await unit_id(runtime, OFFICE), "admin")
    assert second.tracking_code not in seen(await admin.send("/inbox"))
    assert (await admin.send(button=f"g:oi:{second.id}"))[0]["text"] == NOT_ALLOWED
    province = await tabs.staff(office, "officer")
    screen = await province.send(button=f"g:oi:{second.id}")
    assert second.tracking_code in screen[-1]["text"] and "oa:accept" in buttons(screen[-1]).values()


# -- the province's overseer ---------------------------------------------------------------------------------

async def test_the_province_overseer_reads_every_commune_of_the_province_and_acts_on_none(runtime, tabs):
    citizen, _ = await tabs.open(HOAN_KIEM)
    await file_item(citizen, "denunciation", "public_order", HK_TEXTS[0], identity=True)
    await file_item(citizen, "feedback", "infrastructure", HK_TEXTS[2], identity=True)
    ba_vi, _ = await tabs.open(BA_VI)
    await file_item(ba_vi, "feedback", "infrastructure", BA_VI_TEXT, identity=False)
    async with runtime.uows() as uow:  # a ward of another province, with a unit and an item of its own
        unit = Unit(commune_code=THUC_PHAN, name="Văn phòng UBND phường Thục Phán", is_fallback=True)
        uow.session.add(unit)
        await uow.session.flush()
        uow.session.add(Item(tracking_code="TD-CAOBANG1", kind="feedback", category="other", commune_code=THUC_PHAN,
                             unit_id=unit.id, channel="web", status="received",
                             description="Đèn đường tổ 4 phường Thục Phán hỏng."))
        await uow.commit()
    [elsewhere] = await rows(runtime, Item, Item.commune_code == THUC_PHAN)
    ours, theirs = await items(runtime, HOAN_KIEM), await items(runtime, BA_VI)

    overseer = await tabs.staff(await unit_id(runtime, PROVINCE_INSPECTORATE, None), "province_overseer")
    listed = seen(await overseer.send("/inbox"))
    assert all(item.tracking_code in listed for item in [*ours.values(), *theirs.values()])
    assert "TD-CAOBANG1" not in listed
    assert (await overseer.send(button=f"g:oi:{elsewhere.id}"))[0]["text"] == NOT_ALLOWED

    for item in ours.values():
        screen = await overseer.send(button=f"g:oi:{item.id}")
        shown = seen(screen)
        assert item.tracking_code in shown and NAME not in shown and PHONE not in shown
        assert not any(value.startswith(("oa:", "oassign", "oreveal", "oresident"))
                       for value in buttons(screen[-1]).values())
    pavement = ours[HK_TEXTS[2]]
    assert t("vi", "oversight.contact_withheld") in seen(await overseer.send(button=f"g:oi:{pavement.id}"))

    [economy_officer] = await rows(runtime, User, User.unit_id == await unit_id(runtime, ECONOMY))
    [project] = await rows(runtime, Project)
    [consultation] = await rows(runtime, Consultation)
    before = await database(runtime)
    for item in ours.values():
        for step, pressed, typed, data in every_action_on(item.id, [await unit_id(runtime, ECONOMY)],
                                                          economy_officer.id, project.id, consultation.id):
            await forge(runtime, overseer, "officer", step, [pressed] if pressed else [], **data)
            replies = await overseer.send(button=pressed) if pressed else await overseer.send(typed)
            assert replies[0]["text"] == NOT_ALLOWED, (step, pressed, typed)
            assert NAME not in seen(replies) and PHONE not in seen(replies)
    assert await database(runtime) == before

    # The figures of every commune of the province: deadlines kept or missed, no person named.
    await overseer.send("/inbox")
    await overseer.send(button="ovhome")
    figures = seen(await overseer.send(button="ovfig"))
    assert "Phường Hoàn Kiếm" in figures and "Xã Ba Vì" in figures and "Thục Phán" not in figures
    assert NAME not in figures


# -- the migration --------------------------------------------------------------------------------------------

async def test_units_of_the_province_have_no_commune_and_every_reference_survives_the_migration(runtime):
    """0016 makes ``units.commune_code`` nullable; SQLite rebuilds the table with its references intact."""
    async with runtime.uows() as uow:
        [office] = (await uow.session.execute(
            text("SELECT commune_code, province_code, is_fallback, takes_second_complaints FROM units "
                 "WHERE name = :name"), {"name": PROVINCE_OFFICE})).all()
        assert (office[0], office[1], bool(office[2]), bool(office[3])) == (None, 1, True, False)
        if uow.dialect == "sqlite":
            assert (await uow.session.execute(text("PRAGMA foreign_key_check"))).all() == []
            assert (await uow.session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_an_invite_gives_only_a_role_that_fits_its_unit(runtime):
    """A province role sits in a province unit, a commune's chairman or admin in a commune's unit, and a
    board's member is invited to the board, never to a unit."""
    from bot.officers import WrongRole, create_invite

    office, inspectorate = await unit_id(runtime, OFFICE), await unit_id(runtime, PROVINCE_INSPECTORATE, None)
    for unit, role in ((office, "province_overseer"), (inspectorate, "chairman"), (inspectorate, "admin"),
                       (office, "inspection_board"), (office, "investment_board"), (office, "superuser")):
        with pytest.raises(WrongRole):
            await create_invite(runtime.uows, unit, role)
    for unit, role in ((office, "chairman"), (office, "vice_chairman"), (inspectorate, "province_overseer"),
                       (inspectorate, "province_admin"), (inspectorate, "officer")):
        assert len(await create_invite(runtime.uows, unit, role)) == 14


async def test_an_item_is_forwarded_above_the_commune_to_a_unit_of_its_own_province_only(runtime, tabs):
    citizen, _ = await tabs.open(HOAN_KIEM)
    await file_item(citizen, "feedback", "environment", HK_TEXTS[1], identity=False)
    [item] = await rows(runtime, Item)
    async with runtime.uows() as uow:
        far = Unit(commune_code=None, province_code=4, name="Ban Tiếp công dân tỉnh Cao Bằng")
        uow.session.add(far)
        await uow.commit()
    office = await unit_id(runtime, PROVINCE_OFFICE, None)
    admin = await tabs.staff(await unit_id(runtime, OFFICE), "admin")
    await admin.send(button=f"g:oi:{item.id}")
    targets = buttons((await admin.send(button="oa:forward"))[-1]).values()
    assert f"ofwd:{office}" in targets and f"ofwd:{far.id}" not in targets
    before = await database(runtime)
    await forge(runtime, admin, "officer", "forward_target", [f"ofwd:{far.id}"], item_id=item.id)
    await admin.send(button=f"ofwd:{far.id}")
    assert (await admin.send("Thuộc thẩm quyền của tỉnh khác."))[0]["text"] == NOT_ALLOWED
    assert await database(runtime) == before
    await admin.send(button=f"g:oi:{item.id}")
    await admin.send(button="oa:forward")
    await admin.send(button=f"ofwd:{office}")
    assert (await admin.send("Vượt thẩm quyền cấp xã, chuyển Ban Tiếp công dân Thành phố."))[0]["text"].startswith(
        "Đã thực hiện")
    [item] = await rows(runtime, Item)
    assert item.unit_id == office
    assert (await admin.send(button=f"g:oi:{item.id}"))[0]["text"] == NOT_ALLOWED  # the province's now
