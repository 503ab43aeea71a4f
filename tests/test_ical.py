"""The iCalendar feed of the reception schedule, read back with a second library (vobject) the way a
subscribed phone reads it: a postponement or a cancellation made by a commune's import keeps the
event's UID and raises its SEQUENCE, so the phone replaces its copy instead of adding a second one."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import vobject
from aiohttp.test_utils import TestClient, TestServer

from bot.importer import import_file

SESSION = """commune: 70
reception_sessions:
  - receiver: Phó Chủ tịch UBND phường phụ trách đô thị
    place: Hội trường tổ dân phố số 5, 32 Hàng Bạc
    start: {day} 14:00
    end: 16:30
    key: gpmb-hang-bac
    status: {status}
"""


@pytest.fixture
async def client(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


async def events(client, path: str = "/c/phuong-hoan-kiem/schedule.ics") -> dict[str, object]:
    response = await client.get(path)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/calendar")
    calendar = vobject.readOne(await response.text())
    assert calendar.method.value == "PUBLISH"
    assert calendar.vtimezone.tzid.value == "Asia/Ho_Chi_Minh"
    return {event.uid.value: event for event in calendar.vevent_list}


def _import(runtime, tmp_path, day: date, status: str = "scheduled"):
    path = tmp_path / f"s-{day}-{status}.yaml"
    path.write_text(SESSION.format(day=day.isoformat(), status=status), encoding="utf-8")
    return import_file(runtime.uows, path, zone=runtime.settings.zone)


async def test_weekly_session_is_one_event_with_its_rule_in_local_time(client):
    found = await events(client)
    weekly = next(e for e in found.values() if hasattr(e, "rrule"))
    assert weekly.rrule.value == "FREQ=WEEKLY;BYDAY=TH"
    start = weekly.dtstart.value
    assert str(start.tzinfo) in ("Asia/Ho_Chi_Minh", "ICT") or start.utcoffset() == timedelta(hours=7)
    assert (start.hour, start.minute, start.weekday()) == (7, 30, 3)
    assert weekly.location.value == "Phòng tiếp công dân, trụ sở UBND phường Hoàn Kiếm"
    assert weekly.status.value == "CONFIRMED" and weekly.sequence.value == "0"
    english = await events(client, "/c/70/schedule.ics?lang=en")
    assert set(english) == set(found)  # same UIDs whatever the language
    assert next(iter(english.values())).summary.value.startswith("Citizen reception")


async def test_postponement_and_cancellation_keep_the_uid(runtime, client, tmp_path):
    first_day = datetime.now(runtime.settings.zone).date() + timedelta(days=14)
    await _import(runtime, tmp_path, first_day)
    before = await events(client)
    uid = next(u for u, e in before.items() if e.location.value.endswith("32 Hàng Bạc"))
    assert before[uid].sequence.value == "0"
    assert before[uid].dtstart.value.date() == first_day

    await _import(runtime, tmp_path, first_day + timedelta(days=2))  # postponed by two days
    moved = await events(client)
    assert set(moved) == set(before)  # no second event: the phone replaces its copy
    assert moved[uid].dtstart.value.date() == first_day + timedelta(days=2)
    assert int(moved[uid].sequence.value) == 1
    assert moved[uid].dtstamp.value >= before[uid].dtstamp.value

    await _import(runtime, tmp_path, first_day + timedelta(days=2))  # the same file again: nothing changes
    assert int((await events(client))[uid].sequence.value) == 1

    await _import(runtime, tmp_path, first_day + timedelta(days=2), status="cancelled")
    cancelled = await events(client)
    assert cancelled[uid].status.value == "CANCELLED" and int(cancelled[uid].sequence.value) == 2


async def test_feed_is_cached_and_conditional(client):
    response = await client.get("/c/70/schedule.ics")
    again = await client.get("/c/70/schedule.ics", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert (await client.get("/c/khong-co-xa-nay/schedule.ics")).status == 404
