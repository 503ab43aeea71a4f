"""A denouncer's identity never reaches an officer through a split submission, on SQLite and PostgreSQL.

At the summary a citizen may split off a part of another kind, each kind becoming its own item (Luật
Tiếp công dân 2013, Điều 25). When one of the kinds is a denunciation whose sender gave their name,
address and phone, only the denunciations carry them (Luật Tố cáo 2018, Điều 8, 47): a feedback item
filed in the same second with the denouncer's contact would name them to its officer. A complaint,
which cannot be anonymous (Luật Khiếu nại 2011, Điều 8), is not offered beside a denunciation.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.domain.kinds import ItemKind
from bot.officers import create_invite
from bot.petitions import Contact, Part, Submission, split_submission
from bot.texts import t
from storage.models import Item, ItemContact, ItemEvent, OutboxMessage, Unit
from tests.webchat import Browser, buttons, chat_id, describe, reach_menu, rows

OFFICE = "Văn phòng HĐND và UBND phường"  # public-order items go here
ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"  # environment items go here
NAME, ADDRESS, PHONE = "Phạm Thị Kín Đáo", "Số 42 ngõ Ẩn Danh, tổ 13", "0976543210"
PLACE = "Bãi đất trống cạnh đình Kim Ngân"
SECRETS = (NAME, ADDRESS, PHONE, "Kín Đáo", "ngõ Ẩn Danh", "0976543210")
DENUNCIATION = "Cán bộ phường nhận tiền để làm ngơ cho việc đổ phế thải trái phép."
COMPLAINT = "Tôi khiếu nại quyết định thu hồi đất số 12/QĐ-UBND vì sai diện tích."
FEEDBACK = "Phế thải xây dựng đổ đống ở bãi đất trống, bốc mùi và chắn lối đi."


@pytest.fixture
async def tabs(runtime):
    opened: list[Browser] = []

    async def open_(unit: str | None = None, role: str = "officer") -> Browser:
        client = TestClient(TestServer(runtime.web_app))
        await client.start_server()
        tab = Browser(client)
        opened.append(tab)
        await reach_menu(tab)
        if unit is not None:
            [row] = await rows(runtime, Unit, Unit.name == unit)
            welcome = await tab.send(f"/officer {await create_invite(runtime.uows, row.id, role)}")
            assert welcome[0]["text"].startswith("Bạn đã được ghi nhận là")
        return tab

    yield open_
    for tab in opened:
        await tab.client.close()


async def _contact(citizen: Browser) -> list[dict]:
    await citizen.send(button="consent:yes")
    await citizen.send(NAME)
    await citizen.send(ADDRESS)
    return await citizen.send(PHONE)


async def _split_off(citizen: Browser, kind: str, category: str, text: str) -> list[dict]:
    kinds = await citizen.send(button="submit:split")
    assert f"part:{kind}" in buttons(kinds[-1]).values()
    await citizen.send(button=f"part:{kind}")
    await citizen.send(button=f"pcat:{category}")
    return await citizen.send(text)


def _seen(messages: list[dict]) -> str:
    return "\n".join(m["text"] + " " + " ".join(b["label"] for row in m["buttons"] for b in row) for m in messages)


async def _item(runtime, kind: str) -> Item:
    [item] = await rows(runtime, Item, Item.kind == kind)
    return item


async def _assert_the_officers_see_no_identity(runtime, tabs, item: Item, unit: str, *, place: bool) -> None:
    """Every member of the item's unit opens it (the button of the new-item notice): nothing of the
    denouncer is on screen, in the notices or in the item's events."""
    for role in ("officer", "leader"):
        tab = await tabs(unit, role)
        opened = await tab.send(button=f"g:oi:{item.id}")
        screen = opened[-1]["text"]
        assert item.tracking_code in screen and item.description in screen
        assert t("vi", "officer.anonymous") in screen
        shown = _seen(await tab.history())
        for secret in SECRETS + ((PLACE,) if place else ()):
            assert secret not in shown, (role, secret)
        to_staff = [r for r in await rows(runtime, OutboxMessage) if r.chat_id == chat_id(tab)]
        assert to_staff and not any(s in str(r.payload) for r in to_staff for s in SECRETS)
    for event in await rows(runtime, ItemEvent, ItemEvent.item_id == item.id):
        assert not any(s in f"{event.note} {event.data}" for s in SECRETS)


async def test_a_feedback_split_off_a_denunciation_goes_without_the_denouncers_contact(runtime, citizen, tabs):
    await describe(citizen, "denunciation", "public_order", DENUNCIATION)
    await citizen.send(PLACE)  # the place, typed at the location step
    await _contact(citizen)
    kinds = await citizen.send(button="submit:split")
    await citizen.send(button="submit:summary")
    summary = await _split_off(citizen, "feedback", "environment", FEEDBACK)
    receipts = await citizen.send(button="submit:send")
    assert sum(r["text"].startswith("✅ Đã tiếp nhận") for r in receipts) == 2

    denunciation, feedback = await _item(runtime, "denunciation"), await _item(runtime, "feedback")
    contacts = await rows(runtime, ItemContact)
    assert [(c.item_id, c.full_name, c.phone) for c in contacts] == [(denunciation.id, NAME, PHONE)]
    assert feedback.anonymous is True and denunciation.anonymous is False
    assert feedback.address is None and denunciation.address == PLACE
    await _assert_the_officers_see_no_identity(runtime, tabs, feedback, ECONOMY, place=True)

    # The citizen was told at the summary, and told why no complaint could be split off here.
    assert set(buttons(kinds[-1]).values()) == {"part:feedback", "part:denunciation", "submit:summary"}
    assert t("vi", "submit.split_goes_anonymous") in summary[-1]["text"]
    assert t("vi", "submit.complaint_apart") in kinds[-1]["text"]


async def test_a_feedback_with_a_denunciation_split_off_loses_the_contact_too(runtime, citizen, tabs):
    await describe(citizen, "feedback", "environment", FEEDBACK)
    await citizen.send(button="location:skip")
    before = await _contact(citizen)
    assert NAME in before[-1]["text"]
    summary = await _split_off(citizen, "denunciation", "public_order", DENUNCIATION)
    kinds = await citizen.send(button="submit:split")  # a complaint beside a denunciation: not any more
    await citizen.send(button="submit:summary")
    await citizen.send(button="submit:send")

    denunciation, feedback = await _item(runtime, "denunciation"), await _item(runtime, "feedback")
    contacts = await rows(runtime, ItemContact)
    assert [(c.item_id, c.full_name, c.address, c.phone) for c in contacts] == [(denunciation.id, NAME, ADDRESS, PHONE)]
    assert feedback.anonymous is True
    await _assert_the_officers_see_no_identity(runtime, tabs, feedback, ECONOMY, place=False)

    assert set(buttons(kinds[-1]).values()) == {"part:feedback", "part:denunciation", "submit:summary"}
    text = summary[-1]["text"]
    assert t("vi", "submit.split_goes_anonymous") in text
    assert f"{t('vi', 'submit.sender_anonymous')}" in text and NAME not in text  # the feedback's sender line


async def test_a_complaint_and_a_denunciation_are_never_filed_together(runtime, citizen):
    await describe(citizen, "complaint_first", "land", COMPLAINT)
    await citizen.send(button="location:skip")
    await _contact(citizen)
    kinds = await citizen.send(button="submit:split")
    assert set(buttons(kinds[-1]).values()) == {"part:feedback", "part:complaint_first", "submit:summary"}
    assert t("vi", "submit.denunciation_apart") in kinds[-1]["text"]
    forged = await citizen.send(button="part:denunciation")
    assert forged[0]["text"] == t("vi", "error.expired_button")


async def test_a_split_without_a_denunciation_still_carries_the_contact(runtime, citizen):
    """Only a denouncer's identity needs the protection: a complaint and its feedback both keep theirs."""
    await describe(citizen, "complaint_first", "land", COMPLAINT)
    await citizen.send(button="location:skip")
    await _contact(citizen)
    summary = await _split_off(citizen, "feedback", "environment", FEEDBACK)
    assert t("vi", "submit.split_goes_anonymous") not in summary[-1]["text"]
    await citizen.send(button="submit:send")
    assert len(await rows(runtime, ItemContact)) == 2
    assert not any(item.anonymous for item in await rows(runtime, Item))


def test_splitting_gives_a_denouncers_contact_and_place_to_the_denunciations_alone():
    contact = Contact(NAME, ADDRESS, PHONE)
    whole = Submission(ItemKind.feedback, "environment", 70, FEEDBACK, photos=["web:abc"], latitude=21.03,
                       longitude=105.85, address=PLACE, contact=contact)
    feedback, denunciation, more = split_submission(whole, [
        Part(ItemKind.denunciation, "public_order", DENUNCIATION), Part(ItemKind.feedback, "land", "Thêm một ý.")])
    assert (feedback.contact, feedback.photos, feedback.address) == (None, ["web:abc"], PLACE)
    assert (denunciation.contact, denunciation.photos, denunciation.address, denunciation.latitude) == (
        contact, [], None, None)
    assert (more.contact, more.address) == (None, None)
    with pytest.raises(ValueError):  # no path may file a complaint beside a named denunciation
        split_submission(replace(whole, kind=ItemKind.complaint_first), [Part(ItemKind.denunciation, "land", "x" * 20)])
    # Without a denunciation nothing changes: each part carries the contact and the place.
    assert [(s.contact, s.address) for s in split_submission(
        replace(whole, kind=ItemKind.complaint_first), [Part(ItemKind.feedback, "land", "y" * 20)])] == [
        (contact, PLACE), (contact, PLACE)]
