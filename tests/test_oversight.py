"""Oversight boards end to end, on SQLite and PostgreSQL: dân kiểm tra, dân giám sát (Luật Thực hiện dân
chủ ở cơ sở 2022, Điều 36–45).

A member of Phường Hoàn Kiếm's Ban Thanh tra nhân dân reads the ward's items — never a denouncer's
identity, never a complainant's contact —, the deadlines kept or missed and the projects with progress
and budget, and records observations (kiến nghị), which the ward answers within 15 days (Điều 40 khoản 1
điểm c). Every other action is refused by the server, on a forged screen too, and changes nothing. The
project's Ban Giám sát đầu tư của cộng đồng observes its project; another commune's board sees nothing of
Hoàn Kiếm.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.domain.calendar import DEFAULT_CALENDAR
from bot.texts import t
from storage.models import (
    BoardObservation,
    Consultation,
    Item,
    OutboxMessage,
    OversightBoard,
    Project,
    User,
    utcnow,
)
from tests.province import (
    ADDRESS,
    BA_VI,
    ECONOMY,
    HOAN_KIEM,
    NAME,
    NOT_ALLOWED,
    OFFICE,
    PHONE,
    Tabs,
    database,
    every_action_on,
    file_item,
    forge,
    items,
    seen,
    unit_id,
)
from tests.webchat import buttons, chat_id, rows

TEXTS = ("Cán bộ địa chính Hoàn Kiếm nhận tiền để hợp thức hóa đất lấn chiếm.",
         "Tôi khiếu nại quyết định xử phạt số 15/QĐ-XPHC vì sai đối tượng.",
         "Hàng quán lấn chiếm vỉa hè Hàng Bạc, người đi bộ phải xuống lòng đường.")
OBSERVATION = "Đề nghị UBND phường công khai kết quả xử lý các phản ánh về lấn chiếm vỉa hè phố Hàng Bạc."
ANSWER = "UBND phường đã niêm yết kết quả xử lý tại trụ sở và đăng trên cổng thông tin ngày 20/3."


@pytest.fixture
async def tabs(runtime):
    opened = Tabs(runtime)
    yield opened
    await opened.close()


async def _board(runtime, kind: str) -> OversightBoard:
    [board] = await rows(runtime, OversightBoard, OversightBoard.commune_code == HOAN_KIEM, OversightBoard.kind == kind)
    return board


async def _member(runtime, tabs: Tabs, board_id: int, commune: int = HOAN_KIEM):
    from bot.officers import create_board_invite

    tab, _ = await tabs.open(commune)
    welcome = await tab.send(f"/officer {await create_board_invite(runtime.uows, board_id)}")
    return tab, welcome


@pytest.fixture
async def ward(runtime, tabs):
    """Hoàn Kiếm with a denunciation and a complaint (both with the sender's identity) and an anonymous
    feedback; and a member of its Ban Thanh tra nhân dân."""
    citizen, _ = await tabs.open(HOAN_KIEM)
    await file_item(citizen, "denunciation", "public_order", TEXTS[0], identity=True)
    await file_item(citizen, "complaint_first", "land", TEXTS[1], identity=True)
    await file_item(citizen, "feedback", "infrastructure", TEXTS[2], identity=False)
    member, welcome = await _member(runtime, tabs, (await _board(runtime, "inspection")).id)
    return member, welcome


async def test_a_board_member_reads_the_wards_items_without_any_identity(runtime, ward):
    member, welcome = ward
    assert welcome[0]["text"] == t("vi", "officer.welcome", role=t("vi", "role.inspection_board"),
                                   unit="Ban Thanh tra nhân dân phường Hoàn Kiếm")
    ours = await items(runtime, HOAN_KIEM)
    listed = seen(await member.send("/inbox"))
    assert all(item.tracking_code in listed for item in ours.values())
    for item in ours.values():
        screen = await member.send(button=f"g:oi:{item.id}")
        shown = seen(screen)
        assert item.tracking_code in shown and item.description in shown
        assert NAME not in shown and ADDRESS not in shown and PHONE not in shown
        offered = set(buttons(screen[-1]).values())
        assert offered == {f"ovobs:{item.id}", "oinbox"}, offered  # an observation, and back: nothing else
    complaint = seen(await member.send(button=f"g:oi:{ours[TEXTS[1]].id}"))
    assert t("vi", "oversight.contact_withheld") in complaint
    assert t("vi", "officer.identity_protected") in seen(await member.send(button=f"g:oi:{ours[TEXTS[0]].id}"))


async def test_every_action_of_a_board_member_other_than_reading_and_observing_is_refused(runtime, ward):
    member, _ = ward
    ours = await items(runtime, HOAN_KIEM)
    [economy_officer] = await rows(runtime, User, User.unit_id == await unit_id(runtime, ECONOMY))
    [project], [consultation] = await rows(runtime, Project), await rows(runtime, Consultation)
    units = [await unit_id(runtime, ECONOMY), await unit_id(runtime, OFFICE)]
    before = await database(runtime)
    for item in ours.values():
        for step, pressed, typed, data in every_action_on(item.id, units, economy_officer.id, project.id,
                                                          consultation.id):
            await forge(runtime, member, "officer", step, [pressed] if pressed else [], **data)
            replies = await member.send(button=pressed) if pressed else await member.send(typed)
            assert replies[0]["text"] == NOT_ALLOWED, (step, pressed, typed)
            assert not any(secret in seen(replies) for secret in (NAME, ADDRESS, PHONE)), (step, pressed)
    # Nor may a board answer an observation, its own or another's: that is the commune's.
    async with runtime.uows() as uow:
        observation = BoardObservation(board_id=(await _board(runtime, "inspection")).id, commune_code=HOAN_KIEM,
                                       text=OBSERVATION, due_on=utcnow().date() + timedelta(days=15),
                                       rule_id="x", citation="x")
        uow.session.add(observation)
        await uow.commit()
    before = await database(runtime)
    await forge(runtime, member, "oversight", "observation", [f"ovans:{observation.id}"],
                observation_id=observation.id)
    assert (await member.send(button=f"ovans:{observation.id}"))[0]["text"] == NOT_ALLOWED
    await forge(runtime, member, "oversight", "answer", [], observation_id=observation.id)
    assert (await member.send(ANSWER))[0]["text"] == NOT_ALLOWED
    assert await database(runtime) == before
    # The menu offers no publishing and no staff work either.
    inbox = await member.send("/inbox")
    assert "opub" not in buttons(inbox[-1]).values() and "ovhome" in buttons(inbox[-1]).values()


async def test_an_observation_is_recorded_with_the_communes_deadline_answered_and_the_board_told(runtime, ward,
                                                                                                tabs):
    member, _ = ward
    admin = await tabs.staff(await unit_id(runtime, OFFICE), "admin")
    await member.send("/inbox")
    home = await member.send(button="ovhome")
    assert "ovnew" in buttons(home[-1]).values()
    await member.send(button="ovnew")
    recorded = await member.send(OBSERVATION)
    [observation] = await rows(runtime, BoardObservation)
    today = utcnow().astimezone(runtime.settings.zone).date()
    assert observation.due_on == DEFAULT_CALENDAR.add_days(today, 15) and observation.statutory
    assert "Điều 40 khoản 1 điểm c" in observation.citation
    assert recorded[0]["text"] == t("vi", "oversight.recorded", date=observation.due_on.strftime("%d/%m/%Y"),
                                    citation=observation.citation)
    # The ward's admin is told, with the deadline and its basis.
    notices = [r for r in await rows(runtime, OutboxMessage) if r.chat_id == chat_id(admin)
               and r.dedupe_key.startswith("observation:")]
    assert len(notices) == 1 and observation.due_on.strftime("%d/%m/%Y") in notices[0].payload["text"]

    # An observation on one item, from its screen.
    [complaint] = await rows(runtime, Item, Item.description == TEXTS[1])
    await member.send(button=f"g:oi:{complaint.id}")
    await member.send(button=f"ovobs:{complaint.id}")
    await member.send("Hồ sơ này đã quá hạn thụ lý, đề nghị làm rõ trách nhiệm.")
    first, on_item = await rows(runtime, BoardObservation)
    assert (first.item_id, on_item.item_id) == (None, complaint.id)

    await admin.send("/inbox")
    await admin.send(button="ovhome")
    listing = await admin.send(button="ovlist")
    assert f"ovo:{first.id}" in buttons(listing[-1]).values()
    opened = await admin.send(button=f"ovo:{first.id}")
    assert OBSERVATION in opened[-1]["text"] and f"ovans:{first.id}" in buttons(opened[-1]).values()
    await admin.send(button=f"ovans:{first.id}")
    assert (await admin.send(ANSWER))[0]["text"] == t("vi", "oversight.answer_sent")
    first, _ = await rows(runtime, BoardObservation)
    assert first.answer == ANSWER and first.answered_at is not None
    told = [r.payload["text"] for r in await rows(runtime, OutboxMessage)
            if r.chat_id == chat_id(member) and r.dedupe_key.startswith("observation-answer:")]
    assert len(told) == 1 and ANSWER in told[0]
    # Answered once: a second answer is refused.
    await forge(runtime, admin, "oversight", "answer", [], observation_id=first.id)
    assert (await admin.send("Trả lời lần hai."))[0]["text"] == NOT_ALLOWED


async def test_another_communes_board_sees_and_observes_nothing_of_the_ward(runtime, ward, tabs):
    member, _ = ward
    await member.send("/inbox")
    await member.send(button="ovhome")
    await member.send(button="ovnew")
    await member.send(OBSERVATION)
    async with runtime.uows() as uow:
        board = OversightBoard(kind="inspection", commune_code=BA_VI, name="Ban Thanh tra nhân dân xã Ba Vì")
        uow.session.add(board)
        await uow.commit()
    stranger, _ = await _member(runtime, tabs, board.id, BA_VI)
    ours = await items(runtime, HOAN_KIEM)
    listed = seen(await stranger.send("/inbox"))
    assert not any(item.tracking_code in listed for item in ours.values())
    before = await database(runtime)
    for item in ours.values():
        assert (await stranger.send(button=f"g:oi:{item.id}"))[0]["text"] == NOT_ALLOWED
        await forge(runtime, stranger, "oversight", "observe", [], item_id=item.id)
        assert (await stranger.send("Kiến nghị về hồ sơ của phường khác."))[0]["text"] == NOT_ALLOWED
    [observation] = await rows(runtime, BoardObservation)
    await forge(runtime, stranger, "oversight", "observations", [f"ovo:{observation.id}"])
    assert (await stranger.send(button=f"ovo:{observation.id}"))[0]["text"] == NOT_ALLOWED
    await stranger.send("/inbox")
    await stranger.send(button="ovhome")
    assert OBSERVATION not in seen(await stranger.send(button="ovlist"))
    assert await database(runtime) == before


async def test_the_projects_board_follows_its_project_and_the_deadlines_kept_or_missed(runtime, ward, tabs):
    member, _ = ward
    investment = await _board(runtime, "investment")
    [project] = await rows(runtime, Project)
    assert investment.project_id == project.id
    follower, welcome = await _member(runtime, tabs, investment.id)
    assert t("vi", "role.investment_board") in welcome[0]["text"]
    await follower.send("/inbox")
    await follower.send(button="ovhome")
    shown = seen(await follower.send(button="ovproj"))
    assert project.name in shown and f"{project.progress_percent}%" in shown and "12.500.000.000 đ" in shown
    await follower.send(button="ovhome")
    await follower.send(button="ovnew")
    await follower.send("Đề nghị công khai biên bản nghiệm thu đoạn vỉa hè Hàng Đào — Đinh Liệt.")
    [observation] = await rows(runtime, BoardObservation)
    assert observation.board_id == investment.id and "Điều 45 khoản 2 điểm c" in observation.citation

    # Deadlines: one missed (an intake deadline already past), the others running.
    async with runtime.uows() as uow:
        complaint = (await uow.session.execute(select(Item).where(Item.description == TEXTS[1]))).scalar_one()
        for deadline in await uow.items.open_deadlines(complaint.id):
            deadline.due_on = utcnow().date() - timedelta(days=3)
        await uow.commit()
    await member.send("/inbox")
    await member.send(button="ovhome")
    figures = seen(await member.send(button="ovfig"))
    assert "Phường Hoàn Kiếm" in figures and "đang quá hạn 1" in figures and "Xã Ba Vì" not in figures
