"""An overdue item climbs, on SQLite and PostgreSQL (scheduler/sweep.py, bot/policy.py ``LADDER``): the
unit's leaders every day from the first overdue day, then the commune's chairman and vice-chairmen
once after 5 working days, then the province's overseers once after 10 — nobody outside the item's
scope at any rung. A board's observation left unanswered past its deadline is put to the commune."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.domain.calendar import DEFAULT_CALENDAR
from scheduler.sweep import sweep
from storage.db import create_engine, session_factory
from storage.models import (
    BoardObservation,
    ChannelIdentity,
    Item,
    ItemDeadline,
    OutboxMessage,
    OversightBoard,
    Unit,
    User,
)
from storage.uow import UnitOfWorkFactory

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
HA_NOI, CAO_BANG = 1, 4
HOAN_KIEM, BA_VI = 70, 9700
DUE = date(2026, 3, 12)  # a Thursday
CITATION = "Điều 28 Luật Khiếu nại 2011"


def at(day: date, hour: int = 8) -> datetime:
    return datetime.combine(day, time(hour), ZONE).astimezone(timezone.utc)


def after_working_days(count: int) -> date:
    return DEFAULT_CALENDAR.add_working_days(DUE, count)


@pytest.fixture
async def uows(settings):
    engine = create_engine(settings.database_url)
    yield UnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


async def _unit(uows, name: str, commune: int | None, province: int | None = None) -> int:
    async with uows() as uow:
        row = Unit(commune_code=commune, province_code=province, name=name)
        uow.session.add(row)
        await uow.commit()
        return row.id


async def _person(uows, chat: str, role: str, unit_id: int | None, board_id: int | None = None) -> int:
    async with uows() as uow:
        user = User(role=role, unit_id=unit_id, board_id=board_id, language="vi", commune_code=HOAN_KIEM)
        uow.session.add(user)
        await uow.session.flush()
        uow.session.add(ChannelIdentity(channel="telegram", external_id=chat, user_id=user.id, last_chat_id=chat))
        await uow.commit()
        return user.id


async def _overdue(uows, unit_id: int, code: str) -> int:
    async with uows() as uow:
        item = Item(tracking_code=code, kind="complaint_first", category="land", commune_code=HOAN_KIEM,
                    unit_id=unit_id, channel="telegram", chat_id="citizen", status="accepted",
                    description="Tranh chấp ranh giới đất")
        uow.session.add(item)
        await uow.session.flush()
        uow.session.add(ItemDeadline(item_id=item.id, phase="resolution", due_on=DUE, rule_id="complaint1.resolution",
                                     citation=CITATION))
        await uow.commit()
        return item.id


async def _told(uows, prefix: str = "escalate:") -> dict[str, list[str]]:
    async with uows() as uow:
        found = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(prefix))
                                           .order_by(OutboxMessage.id))).scalars()
        told: dict[str, list[str]] = {}
        for row in found:
            told.setdefault(row.chat_id, []).append(row.payload["text"])
        return told


@pytest.fixture
async def province(uows):
    """Hoàn Kiếm's economy office (with a leader), its office (admin, chairman, vice-chairman), Ba Vì's
    chairman, Hà Nội's overseer and admin, Cao Bằng's overseer."""
    economy = await _unit(uows, "Phòng Kinh tế", HOAN_KIEM)
    office = await _unit(uows, "Văn phòng UBND phường", HOAN_KIEM)
    ba_vi = await _unit(uows, "Văn phòng UBND xã Ba Vì", BA_VI)
    reception = await _unit(uows, "Ban Tiếp công dân Thành phố", None, HA_NOI)
    inspectorate = await _unit(uows, "Thanh tra Thành phố", None, HA_NOI)
    far = await _unit(uows, "Thanh tra tỉnh Cao Bằng", None, CAO_BANG)
    await _person(uows, "leader", "leader", economy)
    await _person(uows, "officer", "officer", economy)
    for chat, role in (("admin", "admin"), ("chairman", "chairman"), ("vice", "vice_chairman")):
        await _person(uows, chat, role, office)
    await _person(uows, "ba-vi-chairman", "chairman", ba_vi)
    await _person(uows, "overseer", "province_overseer", inspectorate)
    await _person(uows, "province-admin", "province_admin", inspectorate)
    await _person(uows, "far-overseer", "province_overseer", far)
    return {"economy": economy, "office": office, "reception": reception}


async def test_an_overdue_item_climbs_to_the_chairman_then_the_province_once_each(uows, province):
    await _overdue(uows, province["economy"], "KN-CLIMB")
    day = DUE + timedelta(days=1)
    while day <= DUE + timedelta(days=24):
        await sweep(uows, now=at(day), zone=ZONE)
        day += timedelta(days=1)
    told = await _told(uows)
    assert len(told["leader"]) == 24  # every day, as before
    assert len(told["chairman"]) == len(told["vice"]) == 1 and len(told["overseer"]) == 1
    assert "KN-CLIMB" in told["chairman"][0] and "5 ngày làm việc" in told["chairman"][0]
    assert "lãnh đạo UBND xã" in told["chairman"][0] and CITATION in told["chairman"][0]
    assert "10 ngày làm việc" in told["overseer"][0] and "cấp tỉnh" in told["overseer"][0]
    for outsider in ("admin", "officer", "ba-vi-chairman", "province-admin", "far-overseer"):
        assert outsider not in told, outsider


@pytest.mark.parametrize("rung, chat, reached", [("commune", "chairman", 5), ("province", "overseer", 10)])
async def test_each_rung_is_told_on_the_working_day_it_is_reached(uows, province, rung, chat, reached):
    await _overdue(uows, province["economy"], "KN-STEP")
    await sweep(uows, now=at(after_working_days(reached - 1)), zone=ZONE)
    assert chat not in await _told(uows)
    await sweep(uows, now=at(after_working_days(reached)), zone=ZONE)
    assert len((await _told(uows))[chat]) == 1


async def test_the_steps_are_the_provinces_to_set(uows, province):
    from scheduler.sweep import EscalationLadder

    await _overdue(uows, province["economy"], "KN-FAST")
    await sweep(uows, now=at(after_working_days(2)), zone=ZONE,
                ladder=EscalationLadder(commune_after=1, province_after=2))
    told = await _told(uows)
    assert {"leader", "chairman", "vice", "overseer"} <= set(told)


async def test_an_item_the_province_holds_skips_the_communes_rung(uows, province):
    """A second complaint held by the province's unit is not the commune's to be told of."""
    await _overdue(uows, province["reception"], "KN-LAN2")
    for working_days in (1, 5, 10):
        await sweep(uows, now=at(after_working_days(working_days)), zone=ZONE)
    told = await _told(uows)
    assert set(told) == {"overseer"}


async def test_an_observation_unanswered_past_its_deadline_is_put_to_the_commune_once(uows, province):
    async with uows() as uow:
        board = OversightBoard(kind="inspection", commune_code=HOAN_KIEM, name="Ban Thanh tra nhân dân")
        uow.session.add(board)
        await uow.session.flush()
        uow.session.add(BoardObservation(board_id=board.id, commune_code=HOAN_KIEM, text="Đề nghị công khai ...",
                                         due_on=DUE, rule_id="ldcs-2022-d40-k1c",
                                         citation="Luật Thực hiện dân chủ ở cơ sở 2022, Điều 40 khoản 1 điểm c"))
        await uow.commit()
    await _person(uows, "member", "inspection_board", None, board.id)
    await sweep(uows, now=at(DUE), zone=ZONE)
    assert await _told(uows, "observation-overdue:") == {}
    report = await sweep(uows, now=at(DUE + timedelta(days=1)), zone=ZONE)
    again = await sweep(uows, now=at(DUE + timedelta(days=2)), zone=ZONE)
    told = await _told(uows, "observation-overdue:")
    assert set(told) == {"admin", "chairman", "vice"} and report.observations == 3 and again.observations == 0
    assert "Điều 40 khoản 1 điểm c" in told["chairman"][0] and "12/03/2026" in told["chairman"][0]


def test_the_ladder_is_a_setting(settings):
    from bot.app import Runtime
    from scheduler.sweep import EscalationLadder

    runtime = Runtime(settings.model_copy(update={"escalate_commune_after_working_days": 3,
                                                  "escalate_province_after_working_days": 7}))
    assert runtime.scheduler.get_job("sweep").args[2] == EscalationLadder(3, 7)
