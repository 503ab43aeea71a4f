"""Zalo template notices (ZNS): the fallback for a notice the 7-day window holds, sent exactly once,
outside quiet hours, and what they cost each commune — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.channels.zalo_notices import TemplateNotices, charged_message_counts, phone_for_zalo, template_notice_costs
from bot.domain.workflow import Action
from bot.petitions import move
from storage.db import create_engine, session_factory
from storage.models import ChannelIdentity, Item, ItemEvent, OutboxMessage, utcnow
from storage.models_zalo import ZaloNoticeTemplate, ZaloTemplateNotice
from storage.uow import UnitOfWorkFactory
from tests import test_zalo_oa
from tests.test_telegram_journeys import COMPLAINT
from tests.test_zalo_oa import LAN
from tests.test_zalo_oa_journeys import describe

# The fake Zalo, a tiepdan process and Lan at the main menu, as in the channel's own tests.
fake, open_process, zalo, lan = test_zalo_oa.fake, test_zalo_oa.open_process, test_zalo_oa.zalo, test_zalo_oa.lan


@pytest.fixture
async def uows(settings):
    engine = create_engine(settings.database_url)
    yield UnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


def _notice(key: str, commune: int, on: date, cost: int, status: str = "sent") -> ZaloTemplateNotice:
    return ZaloTemplateNotice(tracking_id=key, commune_code=commune, notice_type="accepted", template_id="1001",
                              status=status, cost_vnd=cost, sent_on=on if status == "sent" else None,
                              sent_at=datetime(2026, 12, 1, tzinfo=timezone.utc) if status == "sent" else None)


async def test_costs_are_summed_per_commune_over_local_dates_inclusive_and_only_for_notices_zalo_accepted(uows):
    async with uows() as uow:
        uow.session.add_all([
            _notice("a", 70, date(2026, 12, 1), 300), _notice("b", 70, date(2026, 12, 3), 250),
            _notice("c", 70, date(2026, 11, 30), 300),          # the day before the period
            _notice("d", 70, date(2026, 12, 4), 300),           # the day after
            _notice("e", 70, None, 0, status="failed"),         # refused by Zalo: not billed
            _notice("f", 70, None, 0, status="sending"),        # not yet answered
            _notice("g", 73, date(2026, 12, 2), 200),
        ])
        await uow.commit()
    async with uows() as uow:
        every = await template_notice_costs(uow, None, date(2026, 12, 1), date(2026, 12, 3))
        only = await template_notice_costs(uow, [73, 99], date(2026, 12, 1), date(2026, 12, 3))
        none = await template_notice_costs(uow, [], date(2026, 12, 1), date(2026, 12, 3))
        one_day = await template_notice_costs(uow, [70], date(2026, 12, 3), date(2026, 12, 3))
    assert every == {70: (2, 550), 73: (1, 200)}
    assert only == {73: (1, 200)}
    assert none == {}
    assert one_day == {70: (1, 250)}


# -- end to end: a held notice goes as a template --------------------------------------------------------------

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0912345678"


def local(hour: int, days: int = 0) -> datetime:
    """Today's ``hour`` o'clock in Hà Nội (plus ``days``), as the UTC moment a clock would give."""
    day = datetime.now(ZONE).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=ZONE).astimezone(timezone.utc)


async def file_with_phone(lan) -> Item:
    """Lan files a complaint and gives her name, address and phone with consent."""
    await describe(lan, "complaint_first", "land", COMPLAINT)
    await lan.press("photos:done")
    await lan.press("location:skip")
    await lan.press("consent:yes")
    await lan.say("Nguyễn Thị Lan")
    await lan.say("Số 3 Hàng Bạc, tổ 5")
    await lan.say(PHONE)
    await lan.press("submit:send")
    [item] = await lan.process.rows(Item)
    return item


async def configure(process, notice: str, template_id: str, *, price: int = 300, band: bool = False,
                    date_param: str | None = "ngay") -> None:
    async with process.runtime.uows() as uow:
        uow.session.add(ZaloNoticeTemplate(commune_code=70, notice=notice, template_id=template_id, price_vnd=price,
                                           code_param="ma_ho_so", date_param=date_param, in_charged_band=band))
        await uow.commit()


async def act(process, item_id: int, *actions: Action) -> None:
    async with process.runtime.uows() as uow:
        item = await uow.session.get(Item, item_id)
        for action in actions:
            await move(uow, item, action, actor_id=None, note="Đã xử lý." if action is Action.answer else None)
        await uow.commit()
    await process.runtime.dispatcher.drain()


def notices_at(process, moment: datetime) -> TemplateNotices:
    return TemplateNotices(process.channel.client, process.runtime.uows, process.runtime.settings,
                           clock=lambda: moment)


async def test_a_notice_held_by_the_window_goes_as_a_template_once_outside_quiet_hours(fake, lan):
    item = await file_with_phone(lan)
    await configure(lan.process, "accepted", "301234", price=300)
    fake.advance(days=8)  # Lan has not written for eight days when the commune accepts and answers
    await act(lan.process, item.id, Action.accept, Action.answer)
    held = await lan.process.rows(OutboxMessage, OutboxMessage.item_id == item.id)
    assert [row.status for row in held] == ["held", "held"]

    # At night nothing leaves (quiet hours 21:00–07:00 local by default).
    assert await notices_at(lan.process, local(23)).run_once() == 0
    assert await notices_at(lan.process, local(6, days=1)).run_once() == 0
    assert fake.templates == []

    # In the morning the acceptance goes as its template; the answer has none configured: skipped.
    morning = local(9, days=1)
    assert await notices_at(lan.process, morning).run_once() == 1
    [(phone, template, data, tracking)] = fake.templates
    accept = next(row for row in held if row.id == min(r.id for r in held))
    assert (phone, template, tracking) == ("84912345678", "301234", accept.dedupe_key)
    # Only the tracking code and the date: nothing that names or reaches Lan.
    assert data == {"ma_ho_so": item.tracking_code, "ngay": datetime.now(ZONE).strftime("%d/%m/%Y")}
    rows = {row.notice_type: row for row in await lan.process.rows(ZaloTemplateNotice)}
    assert (rows["accepted"].status, rows["accepted"].cost_vnd, rows["accepted"].sent_on) == ("sent", 300,
                                                                                               morning.astimezone(ZONE).date())
    assert (rows["decided"].status, rows["decided"].cost_vnd) == ("skipped", 0)
    [event] = await lan.process.rows(ItemEvent, ItemEvent.action == "notice_template_sent")
    assert event.data == {"notice": "accepted", "template": "301234"}
    async with lan.process.runtime.uows() as uow:
        day = morning.astimezone(ZONE).date()
        assert await template_notice_costs(uow, [70], day, day) == {70: (1, 300)}

    # Later rounds send nothing more; the messages stay held for the chat, and Lan's return releases them.
    assert await notices_at(lan.process, local(10, days=1)).run_once() == 0
    assert len(fake.templates) == 1 and fake.template_calls == 1
    assert [row.status for row in await lan.process.rows(OutboxMessage, OutboxMessage.item_id == item.id)] == [
        "held", "held"]
    back = await lan.say("/menu")
    assert back[0].startswith("⏳ 2 tin nhắn dưới đây chưa gửi được")


async def test_a_crash_between_zalos_answer_and_our_record_does_not_send_the_template_twice(fake, lan, monkeypatch):
    item = await file_with_phone(lan)
    await configure(lan.process, "accepted", "301234")
    fake.advance(days=8)
    await act(lan.process, item.id, Action.accept)
    morning = local(9, days=1)
    first = notices_at(lan.process, morning)

    async def die(*args, **kwargs):
        raise SystemExit("the process died before recording Zalo's answer")

    monkeypatch.setattr(first, "_outcome", die)
    with pytest.raises(SystemExit):
        await first.run_once()
    assert len(fake.templates) == 1
    [claim] = await lan.process.rows(ZaloTemplateNotice)
    assert claim.status == "sending"
    # Another process a minute later leaves the claim alone (the first may still be waiting for Zalo) ...
    assert await notices_at(lan.process, morning + timedelta(minutes=1)).run_once() == 0
    assert fake.template_calls == 1
    # ... and once the claim has lapsed, sends again with the same tracking id: Zalo does not send twice.
    assert await notices_at(lan.process, morning + timedelta(minutes=3)).run_once() == 1
    assert fake.template_calls == 2 and len(fake.templates) == 1
    [done] = await lan.process.rows(ZaloTemplateNotice)
    assert (done.status, done.attempts, done.tracking_id) == ("sent", 2, claim.tracking_id)


async def test_zalos_refusals_are_recorded_and_a_notice_without_a_usable_phone_is_skipped(fake, lan):
    item = await file_with_phone(lan)
    await configure(lan.process, "accepted", "301234")
    fake.advance(days=8)
    fake.zns_script.extend([-115])  # the commune's ZNS balance ran out: try again in an hour
    await act(lan.process, item.id, Action.accept)
    morning = local(9, days=1)
    assert await notices_at(lan.process, morning).run_once() == 0
    [row] = await lan.process.rows(ZaloTemplateNotice)
    assert (row.status, row.error_code) == ("retry", -115)
    assert await notices_at(lan.process, morning + timedelta(minutes=30)).run_once() == 0
    fake.zns_phones = set()  # Lan's number has no Zalo account: refused for good, never billed
    assert await notices_at(lan.process, morning + timedelta(hours=2)).run_once() == 0
    [row] = await lan.process.rows(ZaloTemplateNotice)
    assert (row.status, row.error_code, row.cost_vnd) == ("failed", -118, 0)
    [event] = await lan.process.rows(ItemEvent, ItemEvent.action == "notice_template_failed")
    assert event.data["error"] == -118
    async with lan.process.runtime.uows() as uow:
        assert await template_notice_costs(uow, None, morning.date() - timedelta(days=1),
                                           morning.date() + timedelta(days=1)) == {}


def test_phone_numbers_are_read_as_zns_takes_them():
    assert phone_for_zalo("0912 345 678") == "84912345678"
    assert phone_for_zalo("+84 912.345.678") == "84912345678"
    assert phone_for_zalo("84912345678") == "84912345678"
    assert phone_for_zalo("024 3825 1234") is None  # a landline has no Zalo
    assert phone_for_zalo("") is None and phone_for_zalo(None) is None


# -- the charged band (48 hours to 7 days) ------------------------------------------------------------------------

async def backdate(process, user: str, hours: float) -> None:
    await process.execute(update(ChannelIdentity).where(ChannelIdentity.external_id == user)
                          .values(last_seen_at=utcnow() - timedelta(hours=hours)))


async def test_messages_in_the_charged_band_are_counted_and_a_commune_may_send_its_template_instead(fake, lan):
    item = await file_with_phone(lan)
    async with lan.process.runtime.uows() as uow:
        today = datetime.now(ZONE).date()
        assert await charged_message_counts(uow, None, today, today) == {}  # Lan wrote minutes ago: free
    await backdate(lan.process, LAN, hours=72)
    # The acceptance has no template: it goes as an OA message, billed by Zalo, counted for the commune.
    before = len(fake.messages(LAN))
    await act(lan.process, item.id, Action.accept)
    assert len(fake.messages(LAN)) == before + 1
    async with lan.process.runtime.uows() as uow:
        assert await charged_message_counts(uow, [70], today, today) == {70: 1}
        assert await charged_message_counts(uow, [73], today, today) == {}

    # The commune chose its template for decisions in this band: the answer is held and goes as a template.
    await configure(lan.process, "decided", "301240", band=True, date_param=None)
    await act(lan.process, item.id, Action.answer)
    assert len(fake.messages(LAN)) == before + 1
    answer = (await lan.process.rows(OutboxMessage, OutboxMessage.item_id == item.id))[-1]
    assert (answer.status, answer.last_error.split(":")[0]) == ("held", "charged_band")
    assert await notices_at(lan.process, local(10)).run_once() == 1
    [(_, template, data, tracking)] = fake.templates
    assert (template, data, tracking) == ("301240", {"ma_ho_so": item.tracking_code}, answer.dedupe_key)
    async with lan.process.runtime.uows() as uow:
        assert await charged_message_counts(uow, [70], today, today) == {70: 1}  # the template is not an OA message
    # Lan reads the template and writes: the answer itself arrives in the chat.
    back = await lan.say("/menu")
    assert "đã trả lời" in back[0]


# -- the import file configures them --------------------------------------------------------------------------

async def test_the_import_file_configures_each_notices_template_and_refuses_a_wrong_entry_by_line(uows, tmp_path):
    from bot.importer import ImportError_, import_file

    good = tmp_path / "zalo.yaml"
    good.write_text("commune: 70\nzalo_templates:\n"
                    "  - {notice: accepted, template_id: \"301234\", price: 300, date_param: ngay}\n"
                    "  - {notice: decided, template_id: \"301240\", price: \"1.200\", status_param: ket_qua,"
                    " in_charged_band: template}\n", encoding="utf-8")
    summary = await import_file(uows, good, zone=ZONE)
    assert "2 Zalo templates" in str(summary)
    async with uows() as uow:
        rows = (await uow.session.execute(select(ZaloNoticeTemplate).order_by(ZaloNoticeTemplate.notice))).scalars().all()
    assert [(r.commune_code, r.notice, r.template_id, r.price_vnd, r.code_param, r.date_param, r.status_param,
             r.in_charged_band) for r in rows] == [
        (70, "accepted", "301234", 300, "ma_ho_so", "ngay", None, False),
        (70, "decided", "301240", 1200, "ma_ho_so", None, "ket_qua", True)]
    # Imported again with a new price: updated in place, not duplicated.
    good.write_text(good.read_text(encoding="utf-8").replace("price: 300", "price: 350"), encoding="utf-8")
    await import_file(uows, good, zone=ZONE)
    async with uows() as uow:
        assert sorted((await uow.session.execute(select(ZaloNoticeTemplate.price_vnd))).scalars()) == [350, 1200]

    for entry, problem in (("{notice: thanks, template_id: \"1\"}", "unknown value 'thanks'"),
                           ("{notice: accepted, template_id: abc}", "a ZNS template id is a number"),
                           ("{notice: accepted, template_id: \"1\", code_param: \"mã hồ sơ\"}", "template parameter"),
                           ("{notice: accepted, template_id: \"1\", in_charged_band: always}", "unknown value 'always'")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(f"commune: 70\nzalo_templates:\n  - {entry}\n", encoding="utf-8")
        with pytest.raises(ImportError_, match=problem) as refused:
            await import_file(uows, bad, zone=ZONE)
        assert refused.value.line == 3


async def test_a_running_process_sends_the_template_by_itself(fake, lan, open_process):
    item = await file_with_phone(lan)
    await configure(lan.process, "accepted", "301234")
    fake.advance(days=8)
    await act(lan.process, item.id, Action.accept)
    # A second process on the same database, looking every 50 ms, with no quiet hours.
    await open_process(open_process.settings.model_copy(update={
        "zalo_zns_poll_seconds": 0.05, "zalo_zns_quiet_from": 0, "zalo_zns_quiet_until": 0}))
    for _ in range(100):
        if fake.templates:
            break
        await asyncio.sleep(0.05)
    assert [(template, tracking.startswith("notify:")) for _, template, _, tracking in fake.templates] == [
        ("301234", True)]


async def test_the_example_file_configures_every_notice_type(uows):
    from pathlib import Path

    from bot.channels.zalo_notices import NOTICE_TYPES
    from bot.importer import import_file

    await import_file(uows, Path(__file__).parent.parent / "examples" / "zalo-templates.yaml", zone=ZONE)
    async with uows() as uow:
        rows = (await uow.session.execute(select(ZaloNoticeTemplate))).scalars().all()
    assert sorted(row.notice for row in rows) == sorted(NOTICE_TYPES)
    assert [row.notice for row in rows if row.in_charged_band] == ["decided"]
