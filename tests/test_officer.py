"""The officer's side through the web chat: invites, the inbox, actions with their legal deadlines,
denouncer secrecy, and access control — with a citizen in another tab seeing every move."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.domain.calendar import DEFAULT_CALENDAR
from bot.officers import create_invite
from storage.models import Invite, Item, ItemDeadline, ItemEvent, Unit, utcnow
from tests.webchat import Browser, buttons, describe, give_contact, reach_menu, rows

ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
OFFICE = "Văn phòng HĐND và UBND phường"


async def _unit(runtime, name: str) -> int:
    [unit] = await rows(runtime, Unit, Unit.name == name)
    return unit.id


@pytest.fixture
async def officer_tab(runtime):
    """A second browser, made an officer of the office unit (where public-order items go)."""
    async with TestClient(TestServer(runtime.web_app)) as client:
        tab = Browser(client)
        await reach_menu(tab)
        code = await create_invite(runtime.uows, await _unit(runtime, OFFICE), "officer")
        replies = await tab.send(f"/officer {code}")
        assert replies[0]["text"] == f"Bạn đã được ghi nhận là cán bộ của {OFFICE}."
        yield tab


async def _poll(tab: Browser) -> list[dict]:
    response = await tab.client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 2})
    data = await response.json()
    tab.cursor = data["cursor"]
    return data["messages"]


async def _public_order_feedback(citizen: Browser, text: str) -> None:
    """Anonymous feedback that the demo ward routes to the office unit (the officer_tab's)."""
    await describe(citizen, "feedback", "public_order", text)
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:anonymous")
    await citizen.send(button="submit:send")


async def _denounce(citizen: Browser) -> None:
    await describe(citizen, "denunciation", "public_order", "Cán bộ X nhận tiền để bỏ qua vi phạm xây dựng ở ngõ 5.")
    await citizen.send(button="location:skip")
    await give_contact(citizen)
    await citizen.send(button="submit:send")


async def test_an_invite_works_once_and_not_after_it_expires(runtime, citizen):
    code = await create_invite(runtime.uows, await _unit(runtime, OFFICE), "officer")
    assert (await citizen.send(f"/officer {code.lower()}"))[0]["text"].startswith("Bạn đã được ghi nhận là cán bộ")
    async with TestClient(TestServer(runtime.web_app)) as client:
        other = Browser(client)
        await reach_menu(other)
        assert (await other.send(f"/officer {code}"))[0]["text"] == "Mã mời không đúng, đã dùng hoặc đã hết hạn."
        late = await create_invite(runtime.uows, await _unit(runtime, OFFICE), "officer")
        async with runtime.uows() as uow:
            await uow.session.execute(update(Invite).where(Invite.used_at.is_(None))
                                      .values(expires_at=utcnow() - timedelta(minutes=1)))
            await uow.commit()
        assert (await other.send(f"/officer {late}"))[0]["text"] == "Mã mời không đúng, đã dùng hoặc đã hết hạn."
        assert (await other.send("/inbox"))[0]["text"].startswith("Chức năng này chỉ dành cho cán bộ")
    [invite] = [i for i in await rows(runtime, Invite) if i.used_at]
    assert len(invite.code_hash) == 64 and code.replace("-", "") not in invite.code_hash


async def test_a_denunciation_from_receipt_to_answer_with_identity_kept_secret(runtime, citizen, officer_tab):
    await _denounce(citizen)
    [item] = await rows(runtime, Item)
    [notice] = await _poll(officer_tab)
    assert notice["text"].startswith(f"📥 Hồ sơ mới {item.tracking_code} (🛡️ Tố cáo)")
    opened = await officer_tab.send(button=f"g:oi:{item.id}")
    view = opened[-1]["text"]
    assert "Danh tính người tố cáo được bảo mật" in view and "Cán bộ X nhận tiền" in view
    assert "Luật Tố cáo 2018, Điều 24" in view  # intake deadline with its basis

    accepted = await officer_tab.send(button="oa:accept")
    assert accepted[0]["text"] == f"Đã thực hiện «✅ Thụ lý» cho hồ sơ {item.tracking_code}."
    phases = {d.phase: d for d in await rows(runtime, ItemDeadline, ItemDeadline.done_at.is_(None))}
    assert set(phases) == {"resolution"}  # the acceptance notice (Đ.29 k3) went to the denouncer's chat
    [notice] = await rows(runtime, ItemDeadline, ItemDeadline.phase == "acceptance_notice")
    assert notice.done_at is not None and "Điều 29" in notice.citation
    assert "Điều 30" in phases["resolution"].citation
    assert any("đã thụ lý" in m["text"] for m in await _poll(citizen))

    first_due = phases["resolution"].due_on
    for expected_extensions in (1, 2):
        await officer_tab.send(button="oa:extend")
        await officer_tab.send(button="oext:especially")
        done = await officer_tab.send("Cần xác minh tại ba địa điểm và trưng cầu giám định.")
        assert done[0]["text"].startswith("Hạn giải quyết mới:")
        [item] = await rows(runtime, Item)
        assert item.extensions == expected_extensions
    [resolution] = await rows(runtime, ItemDeadline, ItemDeadline.done_at.is_(None), ItemDeadline.phase == "resolution")
    # Đ.30: 30 + 30 + 30 days counted from acceptance; only the last day moves off a day off.
    accepted_on = item.accepted_at.astimezone(runtime.settings.zone).date()
    assert resolution.due_on == DEFAULT_CALENDAR.add_days(accepted_on, 90) > first_due
    await officer_tab.send(button="oa:extend")
    await officer_tab.send(button="oext:especially")
    third = await officer_tab.send("Lần gia hạn thứ ba.")
    assert third[0]["text"] == ("Không gia hạn được nữa: đã gia hạn 2 lần, luật chỉ cho phép 2 lần "
                                "(Luật Tố cáo 2018, Điều 30 khoản 3, khoản 4 (gia hạn hai lần bằng văn bản)).")

    await officer_tab.send(button="oa:answer")
    await officer_tab.send("Kết luận nội dung tố cáo: tố cáo đúng một phần, đã xử lý kỷ luật cán bộ X.")
    notices = await _poll(citizen)
    assert any("đã trả lời" in m["text"] and "tố cáo đúng một phần" in m["text"] for m in notices)
    everything_the_officer_saw = " ".join(m["text"] for m in await officer_tab.history())
    for secret in ("Nguyễn Thị Lan", "Số 3 Hàng Bạc", "0912345678"):
        assert secret not in everything_the_officer_saw


async def test_only_a_leader_reveals_a_denouncers_identity_and_it_is_logged(runtime, citizen, officer_tab):
    await _denounce(citizen)
    [item] = await rows(runtime, Item)
    opened = await officer_tab.send(button=f"g:oi:{item.id}")
    assert "oreveal" not in buttons(opened[-1]).values()
    forged = await officer_tab.send(button="oreveal")
    assert "Nút này đã cũ" in forged[0]["text"]
    async with TestClient(TestServer(runtime.web_app)) as client:
        leader = Browser(client)
        await reach_menu(leader)
        code = await create_invite(runtime.uows, await _unit(runtime, OFFICE), "leader")
        await leader.send(f"/officer {code}")
        await leader.send(button=f"g:oi:{item.id}")
        await leader.send(button="oreveal")
        shown = await leader.send("Cần xác minh nhân thân theo yêu cầu của cơ quan điều tra.")
        assert shown[0]["text"] == "Người gửi: Nguyễn Thị Lan, Số 3 Hàng Bạc, tổ 5, 0912345678"
    [log] = await rows(runtime, ItemEvent, ItemEvent.action == "reveal_identity")
    assert "cơ quan điều tra" in log.note


async def test_an_officer_of_another_unit_cannot_see_or_act(runtime, citizen, officer_tab):
    await describe(citizen, "feedback", "land")  # routed to the economy unit, not the office
    await citizen.send(button="location:skip")
    await citizen.send(button="consent:anonymous")
    await citizen.send(button="submit:send")
    [item] = await rows(runtime, Item)
    assert item.unit_id == await _unit(runtime, ECONOMY)
    assert await _poll(officer_tab) == []  # not told about another unit's item
    refused = await officer_tab.send(button=f"g:oi:{item.id}")
    assert refused[0]["text"] == "Bạn không có quyền xem hoặc xử lý hồ sơ này."
    inbox = await officer_tab.send("/inbox")
    assert item.tracking_code not in inbox[-1]["text"] + str(buttons(inbox[-1]))
    citizen_tries = await citizen.send(button=f"g:oi:{item.id}")
    assert citizen_tries[0]["text"].startswith("Chức năng này chỉ dành cho cán bộ")
    [item] = await rows(runtime, Item)
    assert item.status == "received"


async def test_inbox_orders_by_nearest_deadline_and_filters(runtime, citizen, officer_tab):
    for text in ("Trộm cắp xe máy liên tục ở ngõ 8 Hàng Bạc.", "Karaoke gây ồn sau 23 giờ ở số 20 Hàng Bạc."):
        await _public_order_feedback(citizen, text)
    first, second = await rows(runtime, Item)
    async with runtime.uows() as uow:
        for deadline in await uow.items.open_deadlines(second.id):
            deadline.due_on -= timedelta(days=30)
        await uow.commit()
    inbox = await officer_tab.send("/inbox")
    listed = [v for v in buttons(inbox[-1]).values() if v.startswith("oi:")]
    assert listed == [f"oi:{second.id}", f"oi:{first.id}"]  # the overdue one first
    overdue = await officer_tab.send(button="oview:overdue")
    assert [v for v in buttons(overdue[-1]).values() if v.startswith("oi:")] == [f"oi:{second.id}"]
    await officer_tab.send(button="oview:open")
    await officer_tab.send(button=f"oi:{first.id}")
    await officer_tab.send(button="oa:accept")
    await officer_tab.send(button="oinbox")
    mine = await officer_tab.send(button="oview:mine")
    assert [v for v in buttons(mine[-1]).values() if v.startswith("oi:")] == [f"oi:{first.id}"]


async def test_an_officer_answers_with_a_template_in_one_tap(runtime, citizen, officer_tab):
    await _public_order_feedback(citizen, "Karaoke gây ồn sau 23 giờ ở số 20 Hàng Bạc.")
    [item] = await rows(runtime, Item)
    await officer_tab.send(button=f"g:oi:{item.id}")
    await officer_tab.send(button="oa:accept")
    ask = await officer_tab.send(button="oa:answer")
    templates = {k: v for k, v in buttons(ask[-1]).items() if v.startswith("otpl:")}
    assert len(templates) == 2 and all(k.startswith("📋 ") for k in templates)
    await officer_tab.send(button="otpl:0")
    [item] = await rows(runtime, Item)
    [answer] = await rows(runtime, ItemEvent, ItemEvent.action == "answer")
    assert item.status == "answered" and answer.note.startswith("UBND đã kiểm tra hiện trường")
    assert any("UBND đã kiểm tra hiện trường" in m["text"] for m in await _poll(citizen))


async def test_a_commune_imports_its_own_templates_which_replace_the_defaults_for_that_action(
        runtime, citizen, officer_tab, tmp_path):
    from bot.importer import import_file

    path = tmp_path / "templates.yaml"
    path.write_text("""\
commune: 70
templates:
  - {key: any_answer, action: answer, text: Phường đã tiếp nhận và xử lý xong., position: 0}
  - {key: noise_answer, action: answer, kind: feedback, category: public_order, position: 5,
     text: Công an phường đã nhắc nhở cơ sở karaoke và lập biên bản.}
  - {key: land_answer, action: answer, category: land, text: Đã chuyển Phòng Tài nguyên.}
  - {key: old_answer, action: answer, text: Không dùng nữa., active: false}
""", encoding="utf-8")
    await import_file(runtime.uows, path, zone=runtime.settings.zone)

    await _public_order_feedback(citizen, "Karaoke gây ồn sau 23 giờ ở số 20 Hàng Bạc.")
    [item] = await rows(runtime, Item)
    await officer_tab.send(button=f"g:oi:{item.id}")
    await officer_tab.send(button="oa:accept")
    ask = await officer_tab.send(button="oa:answer")
    offered = [k for k, v in buttons(ask[-1]).items() if v.startswith("otpl:")]
    # The most specific first; other categories and inactive ones are not offered; no built-in ones.
    assert offered == ["📋 Công an phường đã nhắc nhở cơ sở karaoke…", "📋 Phường đã tiếp nhận và xử lý xong."]

    # Re-imported in between: the tap still sends the text the officer saw.
    path.write_text(path.read_text(encoding="utf-8").replace("lập biên bản", "xử phạt"), encoding="utf-8")
    await import_file(runtime.uows, path, zone=runtime.settings.zone)
    await officer_tab.send(button="otpl:0")
    [answer] = await rows(runtime, ItemEvent, ItemEvent.action == "answer")
    assert answer.note == "Công an phường đã nhắc nhở cơ sở karaoke và lập biên bản."

    # Request-info has no commune templates: the built-in ones stay.
    await _public_order_feedback(citizen, "Xe tải đỗ chắn lối đi ở ngõ 12 Hàng Bạc cả ngày.")
    second = max(await rows(runtime, Item), key=lambda row: row.id)
    await officer_tab.send(button=f"g:oi:{second.id}")
    await officer_tab.send(button="oa:accept")
    ask = await officer_tab.send(button="oa:request_info")
    assert len([v for v in buttons(ask[-1]).values() if v.startswith("otpl:")]) == 2


async def test_a_template_naming_an_unknown_category_is_refused_with_its_line(runtime, tmp_path):
    from bot.importer import ImportError_, import_file

    path = tmp_path / "templates.yaml"
    path.write_text("commune: 70\ntemplates:\n  - key: a\n    action: answer\n    category: weather\n    text: x\n",
                    encoding="utf-8")
    with pytest.raises(ImportError_) as refused:
        await import_file(runtime.uows, path, zone=runtime.settings.zone)
    assert "line 5, templates.category: unknown category 'weather'" in str(refused.value)
    path.write_text("commune: 70\ntemplates:\n  - {key: a, action: close, text: x}\n", encoding="utf-8")
    with pytest.raises(ImportError_) as refused:
        await import_file(runtime.uows, path, zone=runtime.settings.zone)
    assert "line 3, templates.action: unknown value 'close'" in str(refused.value)


async def test_an_answer_goes_with_photos_the_citizen_sees_in_their_chat(runtime, citizen, officer_tab):
    from tests.test_webchat_media import png, upload

    await _public_order_feedback(citizen, "Biển quảng cáo lấn chiếm vỉa hè trước số 30 Hàng Bạc.")
    [item] = await rows(runtime, Item)
    await officer_tab.send(button=f"g:oi:{item.id}")
    await officer_tab.send(button="oa:accept")
    ask = await officer_tab.send(button="oa:answer")
    assert "gửi kèm tối đa 5 ảnh" in ask[0]["text"]
    for n in (1, 2):
        status, body = await upload(officer_tab, png(3 + n, 3))
        assert status == 200 and body["messages"][0]["text"].startswith(f"Đã đính kèm {n}/5 ảnh.")
    await officer_tab.send("Đã tháo dỡ biển quảng cáo, ảnh chụp sau khi tháo dỡ gửi kèm.")

    [answer] = await rows(runtime, ItemEvent, ItemEvent.action == "answer")
    assert len(answer.data["attachments"]) == 2 and all(a.startswith("web:") for a in answer.data["attachments"])
    [told] = [m for m in await _poll(citizen) if "Đã tháo dỡ biển quảng cáo" in m["text"]]
    assert told["photos"] == [f"/media/{a[4:]}" for a in answer.data["attachments"]]
    served = await citizen.client.get(told["photos"][0])
    assert served.status == 200 and (await served.read()) == png(4, 3)


def test_each_channel_gets_the_photos_it_can_show():
    from bot.media import photos_for

    refs = ["web:k1", "AgACAgIAAxkBAAI", "https://photo-stal.zadn.vn/a.jpg"]
    assert photos_for("web", refs) == (["/media/k1", "https://photo-stal.zadn.vn/a.jpg"], 1)
    assert photos_for("telegram", refs) == (["AgACAgIAAxkBAAI", "https://photo-stal.zadn.vn/a.jpg"], 1)
    # Zalo OA's sender turns a stored photo (an upload, or a Zalo photo copied on receipt) into a signed
    # /media link on TIEPDAN_ZALO_OA_PUBLIC_URL (bot/channels/zalo_oa_sender.py photo_url)
    assert photos_for("zalo", refs) == (["web:k1", "https://photo-stal.zadn.vn/a.jpg"], 1)
    assert photos_for("zalobot", refs) == (["web:k1", "https://photo-stal.zadn.vn/a.jpg"], 1)
