"""The periodic sweep on a real database (SQLite and PostgreSQL): what officers, leaders and citizens
would find in their chats, day by day, and that nothing is ever sent twice."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.orm import Session

from scheduler.jobs import build_scheduler
from scheduler.sweep import SWEEP_LOCK, sweep
from storage.db import create_engine, session_factory
from storage.models import (
    ChannelIdentity,
    Item,
    ItemDeadline,
    OutboxMessage,
    ReceptionRegistration,
    ReceptionSession,
    Subscription,
    Unit,
    User,
)
from storage.uow import UnitOfWorkFactory

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
COMMUNE, OTHER_COMMUNE = 10105, 10108
DUE = date(2026, 3, 12)  # a Thursday
CITATION = "Điều 28 Luật Khiếu nại 2011"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A local wall-clock moment, as the UTC instant the scheduler would pass."""
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(timezone.utc)


@pytest.fixture
async def uows(settings):
    engine = create_engine(settings.database_url)
    yield UnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


async def run(uows, moment: datetime):
    return await sweep(uows, now=moment, zone=ZONE)


# --- building a commune ------------------------------------------------------------------------

async def unit(uows, name: str = "Địa chính - Xây dựng", commune: int = COMMUNE) -> int:
    async with uows() as uow:
        row = Unit(commune_code=commune, name=name)
        uow.session.add(row)
        await uow.commit()
        return row.id


async def person(uows, chat: str, *, role: str = "citizen", unit_id: int | None = None, language: str = "vi",
                 commune: int = COMMUNE, channels: tuple[str, ...] = ("telegram",)) -> int:
    """A user reachable in ``chat`` on each of ``channels``."""
    async with uows() as uow:
        user = User(role=role, unit_id=unit_id, language=language, commune_code=commune)
        uow.session.add(user)
        await uow.session.flush()
        for channel in channels:
            uow.session.add(ChannelIdentity(channel=channel, external_id=chat, user_id=user.id, last_chat_id=chat))
        await uow.commit()
        return user.id


async def item_due(uows, unit_id: int | None, due_on: date, *, code: str, assignee: int | None = None,
                   status: str = "accepted", phase: str = "resolution", commune: int = COMMUNE) -> tuple[int, int]:
    async with uows() as uow:
        item = Item(tracking_code=code, kind="complaint_first", category="land", commune_code=commune,
                    unit_id=unit_id, assignee_id=assignee, channel="telegram", chat_id="citizen", status=status,
                    description="Tranh chấp ranh giới đất")
        uow.session.add(item)
        await uow.session.flush()
        deadline = ItemDeadline(item_id=item.id, phase=phase, due_on=due_on, rule_id="complaint1.resolution",
                                citation=CITATION)
        uow.session.add(deadline)
        await uow.commit()
        return item.id, deadline.id


async def outbox(uows, prefix: str = "") -> list[OutboxMessage]:
    async with uows() as uow:
        rows = await uow.session.execute(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(prefix)).order_by(OutboxMessage.id))
        return list(rows.scalars())


async def texts_to(uows, chat: str, prefix: str = "") -> list[str]:
    return [row.payload["text"] for row in await outbox(uows, prefix) if row.chat_id == chat]


async def set_deadline_done(uows, deadline_id: int) -> None:
    async with uows() as uow:
        await uow.session.execute(update(ItemDeadline).where(ItemDeadline.id == deadline_id)
                                  .values(done_at=datetime.now(timezone.utc)))
        await uow.commit()


# --- deadline reminders ------------------------------------------------------------------------

async def test_the_assigned_officer_is_reminded_three_days_before_one_day_before_and_on_the_day(uows):
    office = await unit(uows)
    officer = await person(uows, "officer", role="officer", unit_id=office)
    await person(uows, "colleague", role="officer", unit_id=office)
    _, deadline = await item_due(uows, office, DUE, code="KN-7Q2X", assignee=officer)

    new_per_day = {}
    for offset in range(6, -1, -1):
        before = len(await outbox(uows, "remind:"))
        report = await run(uows, at(DUE - timedelta(days=offset), 8))
        new_per_day[offset] = len(await outbox(uows, "remind:")) - before
        assert report.reminders == new_per_day[offset]

    assert new_per_day == {6: 0, 5: 0, 4: 0, 3: 1, 2: 0, 1: 1, 0: 1}
    reminders = await texts_to(uows, "officer", "remind:")
    assert len(reminders) == 3
    for reminder in reminders:
        assert "KN-7Q2X" in reminder and "Giải quyết" in reminder and "12/03/2026" in reminder
        assert CITATION in reminder
    assert "còn 3 ngày" in reminders[0] and "còn 1 ngày" in reminders[1] and "hôm nay" in reminders[2]
    assert await texts_to(uows, "colleague", "remind:") == []
    assert {row.dedupe_key.rsplit(":", 2)[0] for row in await outbox(uows, "remind:")} == {
        f"remind:{deadline}:3d", f"remind:{deadline}:1d", f"remind:{deadline}:0d"}


async def test_an_unassigned_item_reminds_every_officer_of_its_unit_on_each_of_their_channels(uows):
    office, other = await unit(uows), await unit(uows, "Văn phòng")
    await person(uows, "officer-a", role="officer", unit_id=office, channels=("telegram", "web"))
    await person(uows, "officer-b", role="officer", unit_id=office, language="en")
    await person(uows, "leader", role="leader", unit_id=office)
    await person(uows, "elsewhere", role="officer", unit_id=other)
    await item_due(uows, office, DUE, code="KN-AAAA", phase="intake")

    report = await run(uows, at(DUE - timedelta(days=1), 8))

    rows = await outbox(uows, "remind:")
    assert report.reminders == 3
    assert sorted((row.channel, row.chat_id) for row in rows) == [
        ("telegram", "officer-a"), ("telegram", "officer-b"), ("web", "officer-a")]
    english = await texts_to(uows, "officer-b", "remind:")
    assert english and "Intake and acceptance" in english[0] and "1 day left" in english[0]


async def test_no_reminder_for_a_closed_item_or_a_met_deadline(uows):
    office = await unit(uows)
    officer = await person(uows, "officer", role="officer", unit_id=office)
    await item_due(uows, office, DUE, code="KN-CLOS", assignee=officer, status="closed")
    await item_due(uows, office, DUE, code="KN-ANSW", assignee=officer, status="answered")
    _, met = await item_due(uows, office, DUE, code="KN-DONE", assignee=officer)
    await set_deadline_done(uows, met)
    await item_due(uows, office, DUE, code="KN-OPEN", assignee=officer)

    for offset in (3, 1, 0, -1):
        await run(uows, at(DUE - timedelta(days=offset), 9))

    reminded = " ".join(await texts_to(uows, "officer"))
    assert "KN-OPEN" in reminded
    assert "KN-CLOS" not in reminded and "KN-ANSW" not in reminded and "KN-DONE" not in reminded


async def test_a_pending_reminder_is_withdrawn_once_its_deadline_is_met(uows):
    office = await unit(uows)
    officer = await person(uows, "officer", role="officer", unit_id=office)
    _, deadline = await item_due(uows, office, DUE, code="KN-STAL", assignee=officer)
    await run(uows, at(DUE - timedelta(days=3), 8))
    [delivered] = await outbox(uows, "remind:")
    async with uows() as uow:
        await uow.outbox.mark_sent(delivered.id)
        await uow.commit()
    await run(uows, at(DUE - timedelta(days=1), 8))
    assert len(await outbox(uows, "remind:")) == 2

    await set_deadline_done(uows, deadline)
    report = await run(uows, at(DUE - timedelta(days=1), 8, 1))

    assert report.cancelled == 1
    [kept] = await outbox(uows, "remind:")
    assert kept.id == delivered.id and kept.status == "sent"
    assert (await run(uows, at(DUE, 8))).reminders == 0


async def test_a_pending_escalation_is_withdrawn_when_the_item_is_closed(uows):
    office = await unit(uows)
    await person(uows, "leader", role="leader", unit_id=office)
    item_id, _ = await item_due(uows, office, DUE, code="KN-SHUT")
    assert (await run(uows, at(DUE + timedelta(days=1), 8))).escalations == 1
    async with uows() as uow:
        await uow.session.execute(update(Item).where(Item.id == item_id).values(status="closed"))
        await uow.commit()

    report = await run(uows, at(DUE + timedelta(days=1), 8, 5))

    assert report.cancelled == 1 and await outbox(uows, "escalate:") == []
    assert (await run(uows, at(DUE + timedelta(days=2), 8))).escalations == 0


# --- escalation --------------------------------------------------------------------------------

async def test_an_overdue_deadline_is_escalated_to_the_leader_once_a_day_until_met(uows):
    office = await unit(uows)
    officer = await person(uows, "officer", role="officer", unit_id=office)
    await person(uows, "leader", role="leader", unit_id=office)
    _, deadline = await item_due(uows, office, DUE, code="KN-LATE", assignee=officer)

    assert (await run(uows, at(DUE, 20))).escalations == 0
    day_after = [await run(uows, at(DUE + timedelta(days=1), hour)) for hour in (0, 6, 9, 13, 23)]
    assert [report.escalations for report in day_after] == [1, 0, 0, 0, 0]
    assert (await run(uows, at(DUE + timedelta(days=2), 0, 30))).escalations == 1

    escalations = await texts_to(uows, "leader", "escalate:")
    assert len(escalations) == 2
    assert "KN-LATE" in escalations[0] and "quá hạn 1 ngày" in escalations[0] and CITATION in escalations[0]
    assert "quá hạn 2 ngày" in escalations[1] and "Địa chính - Xây dựng" in escalations[1]
    assert await texts_to(uows, "officer", "escalate:") == []
    assert {row.dedupe_key.rsplit(":", 2)[0] for row in await outbox(uows, "escalate:")} == {
        f"escalate:{deadline}:{DUE + timedelta(days=1)}", f"escalate:{deadline}:{DUE + timedelta(days=2)}"}

    await set_deadline_done(uows, deadline)
    assert (await run(uows, at(DUE + timedelta(days=3), 9))).escalations == 0


async def test_without_a_leader_the_communes_admins_are_told(uows):
    office = await unit(uows)
    await person(uows, "admin", role="admin", unit_id=await unit(uows, "Văn phòng UBND"))
    await person(uows, "other-admin", role="admin", commune=OTHER_COMMUNE,
                 unit_id=await unit(uows, "Văn phòng", commune=OTHER_COMMUNE))
    await item_due(uows, office, DUE, code="KN-NOLD")

    report = await run(uows, at(DUE + timedelta(days=4), 9))

    assert report.escalations == 1
    assert len(await texts_to(uows, "admin", "escalate:")) == 1
    assert await texts_to(uows, "other-admin") == []


# --- morning digest ----------------------------------------------------------------------------

async def test_officers_get_one_morning_digest_a_day_from_seven(uows):
    office, quiet = await unit(uows), await unit(uows, "Tư pháp")
    for chat in ("officer-a", "officer-b"):
        await person(uows, chat, role="officer", unit_id=office)
    await person(uows, "leader", role="leader", unit_id=office)
    await person(uows, "idle", role="officer", unit_id=quiet)
    today = DUE
    await item_due(uows, office, today + timedelta(days=20), code="KN-NEW1", status="received")
    await item_due(uows, office, today + timedelta(days=2), code="KN-SOON")
    await item_due(uows, office, today - timedelta(days=5), code="KN-LATE")
    await item_due(uows, quiet, today + timedelta(days=20), code="KN-CALM")

    assert (await run(uows, at(today, 6, 59))).digests == 0
    assert (await run(uows, at(today, 7))).digests == 2
    assert (await run(uows, at(today, 12))).digests == 0
    assert (await run(uows, at(today, 23, 59))).digests == 0

    [digest] = await texts_to(uows, "officer-a", "digest:")
    assert "12/03/2026" in digest and "Địa chính - Xây dựng" in digest
    assert "chưa thụ lý: 1" in digest and "3 ngày tới: 1" in digest and "Quá hạn: 1" in digest
    assert await texts_to(uows, "leader", "digest:") == [] and await texts_to(uows, "idle") == []

    assert (await run(uows, at(today + timedelta(days=1), 6))).digests == 0
    assert (await run(uows, at(today + timedelta(days=1), 7, 30))).digests == 2


# --- reception days ----------------------------------------------------------------------------

async def reception_commune(uows):
    """A weekly Thursday-morning session, its subscribers, attendees and the officers on duty."""
    office = await unit(uows)
    await person(uows, "duty", role="officer", unit_id=office)
    await person(uows, "far-officer", role="officer", unit_id=await unit(uows, "Văn phòng", commune=OTHER_COMMUNE))
    follower = await person(uows, "follower", language="en")
    attendee = await person(uows, "attendee")
    changed_mind = await person(uows, "changed-mind")
    stranger = await person(uows, "stranger", commune=OTHER_COMMUNE)
    async with uows() as uow:
        weekly = ReceptionSession(
            commune_code=COMMUNE, receiver="Chủ tịch UBND xã", place="Phòng tiếp công dân",
            starts_at=at(DUE - timedelta(days=7), 7, 30), ends_at=at(DUE - timedelta(days=7), 11, 30),
            recurrence="FREQ=WEEKLY;BYDAY=TH", published_at=at(DUE - timedelta(days=20), 9))
        draft = ReceptionSession(
            commune_code=COMMUNE, receiver="Phó Chủ tịch", place="Hội trường",
            starts_at=at(DUE, 14), ends_at=at(DUE, 16))
        uow.session.add_all([weekly, draft])
        await uow.session.flush()
        for user_id in (follower, attendee):
            uow.session.add(Subscription(user_id=user_id, topic="reception", commune_code=COMMUNE))
        uow.session.add(Subscription(user_id=stranger, topic="reception", commune_code=OTHER_COMMUNE))
        uow.session.add(ReceptionRegistration(session_id=weekly.id, occurs_at=at(DUE, 7, 30), user_id=attendee))
        uow.session.add(ReceptionRegistration(session_id=weekly.id, occurs_at=at(DUE, 7, 30), user_id=changed_mind,
                                              cancelled_at=at(DUE - timedelta(days=3), 10)))
        await uow.commit()
        return weekly.id, draft.id


def reception_total(report) -> int:
    return report.reception_subscribers + report.reception_attendees + report.reception_duty


async def test_reception_day_is_announced_the_day_before_and_that_morning_once_each(uows):
    weekly, draft = await reception_commune(uows)

    assert reception_total(await run(uows, at(DUE - timedelta(days=2), 10))) == 0
    assert reception_total(await run(uows, at(DUE - timedelta(days=1), 5, 59))) == 0
    eve = await run(uows, at(DUE - timedelta(days=1), 6))
    assert (eve.reception_duty, eve.reception_attendees, eve.reception_subscribers) == (1, 1, 1)
    assert reception_total(await run(uows, at(DUE - timedelta(days=1), 21))) == 0
    assert reception_total(await run(uows, at(DUE, 5, 30))) == 0
    morning = await run(uows, at(DUE, 6, 15))
    assert (morning.reception_duty, morning.reception_attendees, morning.reception_subscribers) == (1, 1, 1)
    assert reception_total(await run(uows, at(DUE, 9))) == 0
    assert reception_total(await run(uows, at(DUE, 12))) == 0

    follower = await texts_to(uows, "follower", "reception:")
    assert len(follower) == 2
    assert follower[0].startswith("📅 Tomorrow (12/03/2026)") and "07:30–11:30" in follower[0]
    assert follower[1].startswith("📅 Today (12/03/2026)") and "Chủ tịch UBND xã" in follower[1]
    attendee = await texts_to(uows, "attendee", "reception:")
    assert len(attendee) == 2 and all("bạn đã đăng ký" in message for message in attendee)
    duty = await texts_to(uows, "duty", "reception:")
    assert len(duty) == 2 and all("Lịch trực tiếp công dân" in message for message in duty)
    for chat in ("changed-mind", "stranger", "far-officer"):
        assert await texts_to(uows, chat) == []
    assert not [row for row in await outbox(uows, f"reception:{draft}:")]

    next_eve = await run(uows, at(DUE + timedelta(days=6), 6))
    assert (next_eve.reception_duty, next_eve.reception_attendees, next_eve.reception_subscribers) == (1, 0, 2)
    assert len(await texts_to(uows, "attendee", f"reception:{weekly}:")) == 3


# --- never twice -------------------------------------------------------------------------------

async def test_two_sweeps_at_once_enqueue_each_message_once(settings, uows):
    await reception_commune(uows)
    office = await unit(uows, "Kinh tế")
    await person(uows, "officer", role="officer", unit_id=office)
    await person(uows, "leader", role="leader", unit_id=office)
    for number, offset in enumerate((3, 1, 0, -1, -2)):
        await item_due(uows, office, DUE - timedelta(days=1) + timedelta(days=offset), code=f"KN-PAR{number}")

    engines = [create_engine(settings.database_url) for _ in range(2)]
    try:
        factories = [UnitOfWorkFactory(session_factory(engine)) for engine in engines]
        reports = await asyncio.gather(*(run(factory, at(DUE - timedelta(days=1), 7, 15)) for factory in factories))
    finally:
        for engine in engines:
            await engine.dispose()

    rows = await outbox(uows)
    assert len(rows) == len({row.dedupe_key for row in rows}) == sum(report.enqueued for report in reports)
    # 3 reminders, 2 escalations, 1 digest, and the reception eve: 2 officers on duty, 1 attendee, 1 follower.
    assert len(rows) == 10


async def test_a_sweep_steps_aside_while_another_process_sweeps(settings, uows):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("SQLite has a single writer; the advisory lock is PostgreSQL's")
    office = await unit(uows)
    await person(uows, "officer", role="officer", unit_id=office)
    await item_due(uows, office, DUE, code="KN-LOCK")
    engine = create_engine(settings.database_url)
    try:
        async with engine.connect() as other_process:
            await other_process.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK})
            report = await run(uows, at(DUE, 8))
            assert report.skipped and report.enqueued == 0
            await other_process.rollback()
    finally:
        await engine.dispose()
    assert await outbox(uows) == []
    assert (await run(uows, at(DUE, 8))).reminders == 1


async def test_a_sweep_reads_the_due_deadlines_not_every_open_item(uows):
    office = await unit(uows)
    officer = await person(uows, "officer", role="officer", unit_id=office)
    async with uows() as uow:
        items = [Item(tracking_code=f"KN-{number:05d}", kind="feedback", category="land", commune_code=COMMUNE,
                      unit_id=office, assignee_id=officer, channel="web", status="in_progress", description="…")
                 for number in range(2000)]
        uow.session.add_all(items)
        await uow.session.flush()
        uow.session.add_all([ItemDeadline(item_id=item.id, phase="resolution", rule_id="feedback.target",
                                          citation=CITATION, due_on=DUE + timedelta(days=1 if number < 5 else 30))
                             for number, item in enumerate(items)])
        await uow.commit()
    loaded: list[object] = []

    def count_loaded(session, instance):
        loaded.append(instance)

    event.listen(Session, "loaded_as_persistent", count_loaded)
    try:
        report = await run(uows, at(DUE, 6, 30))
    finally:
        event.remove(Session, "loaded_as_persistent", count_loaded)

    assert report.reminders == 5 and report.enqueued == 5
    codes = sorted(message.split(":")[0].rsplit(" ", 1)[1] for message in await texts_to(uows, "officer"))
    assert codes == [f"KN-0000{n}" for n in range(5)]
    assert sum(isinstance(instance, Item) for instance in loaded) == 5


# --- the scheduler -----------------------------------------------------------------------------

async def test_the_sweep_runs_every_interval_and_wakes_nothing(uows):
    wakes = []
    waking = UnitOfWorkFactory(uows.sessions, on_commit=lambda: wakes.append(1))
    scheduler = build_scheduler(waking, "Asia/Ho_Chi_Minh", sweep_interval_seconds=30)
    job = scheduler.get_job("sweep")
    assert job.trigger.interval == timedelta(seconds=30)
    assert job.coalesce is True and job.max_instances == 1
    assert build_scheduler(waking, "Asia/Ho_Chi_Minh").get_job("sweep").trigger.interval == timedelta(seconds=60)

    office = await unit(uows)
    officer = await person(uows, "officer", role="officer", unit_id=office)
    today = datetime.now(ZONE).date()
    await item_due(uows, office, today + timedelta(days=1), code="KN-JOB1", assignee=officer)
    report = await job.func(*job.args, **job.kwargs)

    assert report.reminders == 1 and len(await outbox(uows, "remind:")) == 1
    assert wakes == []
