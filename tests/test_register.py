"""The reception register (bot/register.py) and its pages, on SQLite and PostgreSQL: a walk-in, a
letter or a call recorded by an officer gets the deadlines of a chat filing on the day it was received;
the register follows Mẫu số 03/TCD of Nghị định 154/2026/NĐ-CP; a denouncer's identity stays off it;
published minutes carry no personal data."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import select

from bot.domain.kinds import ItemKind
from bot.officers import NotAllowed
from bot.register import Invalid, Visit, public_minutes, record_visit
from bot.texts import t
from storage.models import Item, ItemContact, ItemDeadline, ItemEvent, User
from storage.models_desk import ReceptionEntry
from tests.test_console import OFFICE, clients, csrf_of, logged_in  # noqa: F401  (clients is a fixture)
from tests.webchat import file_item, rows, same_origin

DEMO_COMMUNE = 70
NAME, ADDRESS, PHONE, CCCD = "Lê Thị Hoa", "Số 8 ngõ Tạm Thương", "0912000111", "001190012345"


def _weekday_before(today: date, days: int) -> date:
    day = today - timedelta(days=days)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


async def _officer(runtime, name: str = "Cán bộ tiếp công dân (demo)") -> User:
    [user] = await rows(runtime, User, User.display_name == name)
    return user


async def _record(runtime, officer: User, visit: Visit, commune: int = DEMO_COMMUNE):
    async with runtime.uows() as uow:
        entry, item, _ = await record_visit(uow, await uow.session.get(User, officer.id), commune, visit,
                                            runtime.settings.zone)
        await uow.commit()
    return entry, item


def _deadlines(found: list[ItemDeadline]) -> list[tuple]:
    return sorted((d.phase, d.due_on, d.rule_id, d.citation) for d in found)


async def test_a_backdated_walk_in_has_the_deadlines_of_a_chat_filing_on_that_day(runtime, citizen):
    zone = runtime.settings.zone
    today = datetime.now(zone).date()
    received = _weekday_before(today, 9)
    text = "Đèn đường hỏng cả dãy ngõ 45 phố Hàng Bạc từ tuần trước."
    with time_machine.travel(datetime.combine(received, time(10), zone), tick=False):
        await file_item(citizen, "feedback", "infrastructure", text)
    [chat_item] = await rows(runtime, Item)
    officer = await _officer(runtime)
    entry, item = await _record(runtime, officer, Visit(form="walk_in", received_on=received, kind=ItemKind.feedback,
                                                        category="infrastructure", summary=text))
    assert item.received_at.astimezone(zone).date() == received == entry.received_on
    chat = _deadlines(await rows(runtime, ItemDeadline, ItemDeadline.item_id == chat_item.id))
    desk = _deadlines(await rows(runtime, ItemDeadline, ItemDeadline.item_id == item.id))
    assert chat and desk == chat
    [submit] = await rows(runtime, ItemEvent, ItemEvent.item_id == item.id)
    assert submit.actor_id == officer.id and submit.data == {"channel": "reception", "recorded_by": officer.id}
    assert (item.citizen_id, item.chat_id, item.channel) == (None, None, "reception")


async def test_a_letter_complaint_counts_from_the_day_it_arrived_not_the_day_it_was_typed_in(runtime):
    zone = runtime.settings.zone
    today = datetime.now(zone).date()
    received = _weekday_before(today, 6)
    officer = await _officer(runtime)
    visit = Visit(form="letter", received_on=received, kind=ItemKind.complaint_first, category="land",
                  summary="Khiếu nại quyết định thu hồi đất số 12/QĐ-UBND vì sai diện tích.", person_name=NAME,
                  person_address=ADDRESS, id_document=CCCD, co_complainants=["Lê Văn Nam", "Phạm Thị Thu"],
                  consent_noted=True)
    _, item = await _record(runtime, officer, visit)
    from bot.domain.deadlines import deadline_for
    from bot.domain.kinds import Phase
    [intake] = await rows(runtime, ItemDeadline, ItemDeadline.item_id == item.id)
    expected = deadline_for(ItemKind.complaint_first, Phase.intake, received)
    assert (intake.due_on, intake.citation) == (expected.due_on, expected.rule.citation)
    assert intake.due_on != deadline_for(ItemKind.complaint_first, Phase.intake, today).due_on
    [contact] = await rows(runtime, ItemContact)
    assert (contact.full_name, contact.address) == (NAME, ADDRESS)
    [entry] = await rows(runtime, ReceptionEntry)
    assert (entry.people, entry.co_complainants, entry.id_document) == (3, ["Lê Văn Nam", "Phạm Thị Thu"], CCCD)


async def test_what_an_officer_must_correct_is_refused_before_anything_is_written(runtime):
    officer = await _officer(runtime)
    today = datetime.now(runtime.settings.zone).date()
    base = dict(form="walk_in", kind=ItemKind.feedback, category="infrastructure",
                summary="Cống thoát nước tắc ở ngõ 45 Hàng Bạc, ngập khi mưa.")
    cases = {"desk.register.future": Visit(received_on=today + timedelta(days=1), **base),
             "desk.register.identity_needed": Visit(received_on=today, **{**base, "kind": ItemKind.complaint_first}),
             "desk.register.consent_needed": Visit(received_on=today, representative="Luật sư Trần Minh", **base),
             "desk.register.bad_form": Visit(received_on=today, **{**base, "form": "pigeon"})}
    for key, visit in cases.items():
        with pytest.raises(Invalid) as refused:
            await _record(runtime, officer, visit)
        assert refused.value.key == key
    with pytest.raises(NotAllowed):  # an officer of Ba Vì does not receive for Hoàn Kiếm
        await _record(runtime, await _officer(runtime, "Cán bộ tiếp công dân xã Ba Vì (demo)"),
                      Visit(received_on=today, **base))
    assert await rows(runtime, Item) == [] and await rows(runtime, ReceptionEntry) == []


async def test_a_denouncers_identity_stays_on_the_item_never_on_the_register_or_its_export(runtime, clients):
    officer = await _officer(runtime)
    today = datetime.now(runtime.settings.zone).date()
    await _record(runtime, officer, Visit(form="walk_in", received_on=today, kind=ItemKind.denunciation,
                                          category="public_order", person_name=NAME, person_address=ADDRESS,
                                          phone=PHONE, id_document=CCCD,
                                          summary="Tố cáo cán bộ phường thu tiền trái phép của hộ kinh doanh."))
    [entry] = await rows(runtime, ReceptionEntry)
    assert (entry.person_name, entry.person_address, entry.id_document) == (None, None, None)
    [contact] = await rows(runtime, ItemContact)
    assert contact.full_name == NAME  # for the audited reveal only
    leader = await logged_in(runtime, clients, OFFICE, "leader")
    page = await (await leader.get("/console/register")).text()
    exported = (await (await leader.get("/console/register/export", params={"format": "csv"})).read()).decode("utf-8-sig")
    for shown in (page, exported):
        assert t("vi", "desk.register.protected") in shown
        for secret in (NAME, ADDRESS, PHONE, CCCD):
            assert secret not in shown


async def test_the_export_has_the_thirteen_columns_of_form_03_tcd(runtime, clients):
    officer = await _officer(runtime)
    today = datetime.now(runtime.settings.zone).date()
    await _record(runtime, officer, Visit(
        form="phone", received_on=today, kind=ItemKind.feedback, category="public_order", person_name=NAME,
        person_address=ADDRESS, id_document=CCCD, representative="Luật sư Trần Minh", consent_noted=True,
        summary="=HYPERLINK(\"http://evil.example\") karaoke ồn ào sau 23 giờ ở ngõ Tạm Thương."))
    browser = await logged_in(runtime, clients, OFFICE, "officer")
    answer = await browser.get("/console/register/export", params={"format": "csv"})
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    table = list(csv.reader(io.StringIO((await answer.read()).decode("utf-8-sig"))))
    assert table[0] == ["STT", "Ngày tiếp", "Họ tên, địa chỉ", "CCCD/CMND/Hộ chiếu", "Nội dung đơn",
                        "Loại đơn (KN/TC/KN/PA)", "Số người cùng nội dung", "Cơ quan đã giải quyết",
                        "Thuộc thẩm quyền (x)", "Hướng dẫn công dân đến cơ quan có thẩm quyền",
                        "Cơ quan, đơn vị thụ lý", "Theo dõi kết quả giải quyết", "Ghi chú"]
    [row] = table[1:]
    assert row[0] == "1" and row[1] == today.strftime("%d/%m/%Y") and NAME in row[2] and row[3] == CCCD
    assert row[4].startswith("'=HYPERLINK")  # a spreadsheet shows the citizen's words, never runs them
    assert row[5] == "Kiến nghị, phản ánh" and row[8] == "x" and row[10] == OFFICE
    xlsx = await browser.get("/console/register/export", params={"format": "xlsx"})
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(await xlsx.read())).active
    assert [c.value for c in sheet[2]] == table[0] and [c.value for c in sheet[3]] == list(range(1, 14))
    assert sheet["C4"].value == row[2]


async def test_the_register_shows_a_unit_officer_only_their_units_rows_and_their_own(runtime, clients):
    officer = await _officer(runtime)  # the office's reception officer records for every unit
    today = datetime.now(runtime.settings.zone).date()
    await _record(runtime, officer, Visit(form="walk_in", received_on=today, kind=ItemKind.feedback,
                                          category="social_policy", person_name=NAME, person_address=ADDRESS,
                                          summary="Đề nghị xem lại danh sách hộ nghèo của tổ dân phố 5."))
    desk = await logged_in(runtime, clients, OFFICE, "officer")
    economy = await logged_in(runtime, clients)
    assert NAME not in await (await desk.get("/console/register")).text()  # another unit's item: not theirs
    assert "hộ nghèo" not in await (await economy.get("/console/register")).text()
    async with runtime.uows() as uow:
        from bot.register import register_rows
        mine = await register_rows(uow, await uow.session.get(User, officer.id), today, today)
    assert len(mine) == 1 and mine[0].identity[0] == NAME  # the officer who wrote it down reads it


async def test_a_walk_in_recorded_in_the_browser_form_shows_its_receipt(runtime, clients):
    browser = await logged_in(runtime, clients, OFFICE, "officer")
    form = await (await browser.get("/console/register/new")).text()
    today = datetime.now(runtime.settings.zone).date()
    posted = {"csrf": csrf_of(form), "form": "walk_in", "received_on": (today + timedelta(days=2)).isoformat(),
              "kind": "feedback", "category": "public_order", "summary": "Karaoke ồn ào sau 23 giờ ở ngõ Tạm Thương."}
    future = await browser.post("/console/register", data=posted, headers=same_origin(browser))
    assert future.status == 400 and t("vi", "desk.register.future") in await future.text()
    assert "Karaoke ồn ào" in await future.text()  # what was typed is kept
    posted["received_on"] = today.isoformat()
    saved = await browser.post("/console/register", data=posted, headers=same_origin(browser))
    assert saved.status == 200 and t("vi", "desk.done.recorded") in await saved.text()
    [item] = await rows(runtime, Item)
    assert item.tracking_code in await saved.text()
    no_token = await browser.post("/console/register", data={**posted, "csrf": ""}, headers=same_origin(browser))
    assert no_token.status == 403 and len(await rows(runtime, Item)) == 1


def test_minutes_lose_names_phones_ids_and_addresses_of_mail():
    text = ("Ông Nguyễn Văn An (0912 345 678, an@example.vn) nêu việc lấn chiếm vỉa hè; bà nguyễn thị bình, "
            "CCCD 001190012345, đề nghị lắp đèn. Công ty TNHH Minh Phát đề nghị đối thoại tiếp.")
    public = public_minutes(text, ["Nguyễn Văn An", "Nguyễn Thị Bình"])
    for gone in ("Nguyễn Văn An", "nguyễn thị bình", "0912 345 678", "an@example.vn", "001190012345"):
        assert gone not in public
    assert "lấn chiếm vỉa hè" in public and "Công ty TNHH Minh Phát" in public


async def test_published_minutes_carry_no_personal_data_and_are_public_only_once_published(runtime, clients):
    browser = await logged_in(runtime, clients, OFFICE, "officer")
    form = await (await browser.get("/console/register/meetings/new")).text()
    today = datetime.now(runtime.settings.zone).date()
    created = await browser.post("/console/register/meetings", data={
        "csrf": csrf_of(form), "title": "Đối thoại doanh nghiệp thứ Bảy đầu tháng", "held_on": today.isoformat(),
        "chaired_by": "Phạm Quang Huy", "attendance": "Đỗ Minh Tâm - Công ty TNHH Minh Phát\nVũ Thị Lan",
        "minutes": "Ông Đỗ Minh Tâm (0988 111 222) đề nghị mở rộng giờ bốc dỡ hàng; bà Vũ Thị Lan hỏi về thuế."},
        headers=same_origin(browser), allow_redirects=False)
    assert created.status == 303
    meeting = created.headers["Location"]
    number = meeting.rsplit("/", 1)[1]
    anyone = await clients()
    assert (await anyone.get(f"/minutes/{number}")).status == 404
    page = await (await browser.get(meeting)).text()
    await browser.post(f"{meeting}/publish", data={"csrf": csrf_of(page)}, headers=same_origin(browser))
    public = await anyone.get(f"/minutes/{number}")
    text = await public.text()
    assert public.status == 200 and "giờ bốc dỡ hàng" in text
    for secret in ("Đỗ Minh Tâm", "Vũ Thị Lan", "0988 111 222", "Phạm Quang Huy"):
        assert secret not in text



async def test_a_meeting_is_recorded_as_one_of_the_communes_published_sessions_and_no_other(runtime, clients):
    """The chairman's periodic reception held today is the published weekly session: the meeting says so;
    a session of another commune, posted by hand, is refused and nothing is written."""
    from storage.models import ReceptionSession
    from storage.models_desk import ReceptionMeeting

    async with runtime.uows() as uow:
        ours = (await uow.session.execute(select(ReceptionSession).where(
            ReceptionSession.commune_code == DEMO_COMMUNE, ReceptionSession.published_at.is_not(None),
            ReceptionSession.recurrence.is_not(None)))).scalars().first()
        theirs = ReceptionSession(commune_code=583, receiver="Chủ tịch UBND xã Bát Tràng", place="Trụ sở UBND xã",
                                  starts_at=ours.starts_at, ends_at=ours.ends_at, published_at=ours.published_at)
        uow.session.add(theirs)
        await uow.commit()
        ours_id, theirs_id, receiver = ours.id, theirs.id, ours.receiver
    browser = await logged_in(runtime, clients, OFFICE, "officer")
    form = await (await browser.get("/console/register/meetings/new")).text()
    assert f'<option value="{ours_id}">' in form and f'value="{theirs_id}"' not in form
    today = datetime.now(runtime.settings.zone).date()
    fields = {"csrf": csrf_of(form), "title": "Chủ tịch UBND phường tiếp công dân định kỳ",
              "held_on": today.isoformat(), "chaired_by": receiver, "minutes": "Tiếp 3 lượt công dân."}
    forged = await browser.post("/console/register/meetings", data={**fields, "session": str(theirs_id)},
                                headers=same_origin(browser), allow_redirects=False)
    assert forged.status == 403
    async with runtime.uows() as uow:
        assert (await uow.session.execute(select(ReceptionMeeting))).scalars().all() == []
    created = await browser.post("/console/register/meetings", data={**fields, "session": str(ours_id)},
                                 headers=same_origin(browser), allow_redirects=False)
    assert created.status == 303
    page = await (await browser.get(created.headers["Location"])).text()
    assert "Theo lịch tiếp đã công bố" in page and receiver in page
    async with runtime.uows() as uow:
        [meeting] = (await uow.session.execute(select(ReceptionMeeting))).scalars().all()
        assert meeting.session_id == ours_id

async def test_a_denunciation_given_without_an_identity_is_recorded_as_information(runtime):
    today = datetime.now(runtime.settings.zone).date()
    _, item = await _record(runtime, await _officer(runtime), Visit(
        form="phone", received_on=today, kind=ItemKind.denunciation, category="public_order",
        summary="Người gọi điện báo cán bộ phường nhận tiền của hộ kinh doanh, không nói tên."))
    assert item.kind == "information" and item.anonymous
