"""Official reports (bot/reports/): the figures of a period, scoped by the policy, written as XLSX, PDF
and CSV, read back and checked against direct SQL counts on seeded data; no person in any file."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import bindparam, text

from bot.categories import DEFAULT_CATEGORIES
from bot.domain.communes import commune_label
from bot.policy import Actor, Level, Scope
from bot.reports.export import FORMATS, ScopeRefused, filename, render, report_scope
from bot.reports.figures import report_figures
from bot.reports.period import PeriodError, parse_period
from bot.texts import t
from storage.models import (
    Item,
    ItemContact,
    ItemDeadline,
    ItemEvent,
    ReceptionRegistration,
    ReceptionSession,
    Unit,
    User,
    UTCDateTime,
)
from storage.models_desk import ReceptionEntry, ReceptionMeeting
from storage.models_zalo import ZaloTemplateNotice

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
HOAN_KIEM, BA_VI, THUC_PHAN, HA_NOI = 70, 9700, 1273, 1
NAME, PHONE, ADDRESS = "Nguyễn Thị Bí Mật", "0912345678", "Số 99 ngõ Riêng Tư"
SECRET = "Nội dung đơn không được lộ"
KINDS = ("feedback", "complaint_first", "complaint_second", "denunciation", "information")
Q3 = parse_period("2026-Q3")


def local(day: date, hour: int = 9) -> datetime:
    return datetime.combine(day, time(hour), ZONE)


@dataclass
class Seeded:
    """What the seeding made, for the tests that need ids."""

    units: dict[str, int] = field(default_factory=dict)
    sessions_held: dict[int, int] = field(default_factory=dict)  # commune → occurrences held in Q3


async def seed_reports(runtime, *, seed: int = 16) -> Seeded:
    """Items of every kind, category and unit across Q3 2026 in two communes of Hà Nội, with some
    before and after the quarter and in a commune of another province: answered on time, late, after
    the quarter, still open, overdue; rated (some again after the quarter); with places and the
    petitioner's name, phone and address. Reception sessions (weekly, one-off, cancelled) with
    registrations. Counts come back from direct SQL, not from here."""
    rng = random.Random(seed)
    seeded = Seeded()
    async with runtime.uows() as uow:
        session = uow.session
        units = (await session.execute(text("SELECT id, commune_code, name FROM units"))).all()
        hk_units = [u.id for u in units if u.commune_code == HOAN_KIEM]
        ba_vi_units = [u.id for u in units if u.commune_code == BA_VI]
        seeded.units = {u.name: u.id for u in units if u.commune_code == HOAN_KIEM}
        other = Unit(commune_code=THUC_PHAN, name="Văn phòng phường Thục Phán", is_fallback=True)
        session.add(other)
        citizen = User(language="vi", commune_code=HOAN_KIEM, role="citizen", display_name=NAME)
        visitors = [User(language="vi", commune_code=HOAN_KIEM, role="citizen", display_name=NAME) for _ in range(7)]
        session.add_all([citizen, *visitors])
        await session.flush()
        number = 0

        def add_item(commune: int, unit: int | None, received: datetime) -> Item:
            nonlocal number
            number += 1
            item = Item(tracking_code=f"RP{seed}-{number:04d}", kind=rng.choice(KINDS),
                        category=rng.choice(DEFAULT_CATEGORIES).key, commune_code=commune, unit_id=unit,
                        channel="web", chat_id=f"chat-{number}", citizen_id=citizen.id, status="received",
                        description=f"{SECRET} #{number}", address=ADDRESS, received_at=received)
            if rng.random() < 0.6:
                item.latitude, item.longitude = 21.028 + rng.uniform(-0.01, 0.01), 105.852 + rng.uniform(-0.01, 0.01)
            session.add(item)
            return item

        plans = []
        for commune, commune_units, count in ((HOAN_KIEM, hk_units, 48), (BA_VI, ba_vi_units, 14)):
            for _ in range(count):
                day = Q3.first + timedelta(days=rng.randrange(0, 92))
                unit = rng.choice(commune_units + [None]) if rng.random() < 0.9 else None
                plans.append((add_item(commune, unit, local(day, rng.randrange(7, 18))), rng.choice(
                    ("on_time", "late", "after", "open", "overdue", "overdue_then_answered"))))
        # Outside the quarter or the province: never counted.
        for received, commune, unit in ((local(date(2026, 6, 30), 23), HOAN_KIEM, hk_units[0]),
                                        (local(date(2026, 10, 1), 0), HOAN_KIEM, hk_units[0]),
                                        (local(date(2026, 8, 10)), THUC_PHAN, None)):
            plans.append((add_item(commune, unit if unit else other.id, received), "on_time"))
        await session.flush()
        for item, plan in plans:
            session.add(ItemContact(item_id=item.id, full_name=NAME, phone=PHONE, address=ADDRESS))
            received_day = item.received_at.astimezone(ZONE).date()
            if plan == "open" or (plan == "overdue" and received_day > date(2026, 9, 20)):
                plan = "open"  # too late in the quarter to have run out
            if plan in ("on_time", "late", "after", "overdue_then_answered"):
                item.accepted_at = item.received_at + timedelta(days=1)
            if plan == "open":
                due = date(2026, 10, 20)
                session.add(ItemDeadline(item_id=item.id, phase="intake", due_on=due, rule_id="r", citation="c"))
                continue
            if plan == "overdue":
                session.add(ItemDeadline(item_id=item.id, phase="intake", due_on=received_day + timedelta(days=5),
                                         rule_id="r", citation="c"))
                continue
            answered = {"on_time": item.received_at + timedelta(days=8), "late": item.received_at + timedelta(days=25),
                        "after": local(date(2026, 10, 15)), "overdue_then_answered": local(date(2026, 10, 12))}[plan]
            due = {"on_time": received_day + timedelta(days=10), "late": received_day + timedelta(days=12),
                   "after": date(2026, 11, 30), "overdue_then_answered": received_day + timedelta(days=3)}[plan]
            # An extension: the first resolution period was replaced by a longer one before it ran out.
            if plan == "on_time" and rng.random() < 0.3:
                session.add(ItemDeadline(item_id=item.id, phase="resolution", due_on=received_day + timedelta(days=4),
                                         rule_id="r", citation="c", created_at=item.received_at,
                                         done_at=item.received_at + timedelta(days=2)))
            session.add(ItemDeadline(item_id=item.id, phase="resolution", due_on=due, rule_id="r", citation="c",
                                     created_at=item.received_at, done_at=answered))
            session.add(ItemEvent(item_id=item.id, action="answer", at=answered, from_status="accepted",
                                  to_status="answered", note=f"{SECRET} — {NAME}"))
            item.status = "answered"
            if rng.random() < 0.7:
                verdict = rng.random() < 0.6
                session.add(ItemEvent(item_id=item.id, action="rate", at=answered + timedelta(hours=5),
                                      data={"satisfied": verdict}))
                item.satisfied = verdict
                if rng.random() < 0.3:  # changed their mind after the quarter: not counted in Q3
                    session.add(ItemEvent(item_id=item.id, action="rate", at=local(date(2026, 11, 2)),
                                          data={"satisfied": not verdict}))
                    item.satisfied = not verdict
        # Reception: every Thursday from 2 July (13 in the quarter), a one-off in Ba Vì, a cancelled one.
        weekly = ReceptionSession(commune_code=HOAN_KIEM, receiver="Chủ tịch UBND phường", place="Trụ sở",
                                  starts_at=local(date(2026, 7, 2), 7), ends_at=local(date(2026, 7, 2), 11),
                                  recurrence="FREQ=WEEKLY;BYDAY=TH")
        once = ReceptionSession(commune_code=BA_VI, receiver="Chủ tịch UBND xã", place="Nhà văn hóa",
                                starts_at=local(date(2026, 8, 15), 8), ends_at=local(date(2026, 8, 15), 10))
        cancelled = ReceptionSession(commune_code=HOAN_KIEM, receiver="Phó Chủ tịch", place="Trụ sở",
                                     starts_at=local(date(2026, 8, 1), 8), ends_at=local(date(2026, 8, 1), 10),
                                     status="cancelled")
        session.add_all([weekly, once, cancelled])
        await session.flush()
        for occurs, target, gone in ((local(date(2026, 7, 9), 7), weekly, False), (local(date(2026, 7, 9), 7), weekly, False),
                                     (local(date(2026, 8, 13), 7), weekly, False), (local(date(2026, 8, 13), 7), weekly, True),
                                     (local(date(2026, 8, 15), 8), once, False), (local(date(2026, 8, 1), 8), cancelled, False),
                                     (local(date(2026, 10, 1), 7), weekly, False)):
            session.add(ReceptionRegistration(session_id=target.id, occurs_at=occurs, user_id=visitors.pop().id,
                                              topic=f"{SECRET} {NAME}",
                                              cancelled_at=local(date(2026, 8, 10)) if gone else None))
        seeded.sessions_held = {HOAN_KIEM: 13, BA_VI: 1}
        # The register: a meeting, walk-ins (one a delegation of 4), a letter, one after the quarter.
        meeting = ReceptionMeeting(session_id=weekly.id, commune_code=HOAN_KIEM, title="Tiếp định kỳ",
                                   held_on=date(2026, 7, 9), chaired_by="Chủ tịch UBND phường",
                                   attendance=[{"name": NAME}], minutes=f"{SECRET} {NAME} {PHONE}")
        session.add(meeting)
        await session.flush()
        for day, form, people in ((date(2026, 7, 9), "walk_in", 1), (date(2026, 7, 9), "walk_in", 4),
                                  (date(2026, 9, 30), "walk_in", 1), (date(2026, 8, 3), "letter", 1),
                                  (date(2026, 10, 1), "walk_in", 2)):
            session.add(ReceptionEntry(commune_code=HOAN_KIEM, meeting_id=meeting.id, form=form, received_on=day,
                                       person_name=NAME, person_address=ADDRESS, people=people,
                                       summary=SECRET, recorded_by=citizen.id))
        # Zalo template notices: two sent in the quarter, one refused, one sent after it.
        for number, (day, status, cost) in enumerate(((date(2026, 8, 1), "sent", 300), (date(2026, 9, 30), "sent", 300),
                                                      (date(2026, 8, 2), "failed", 0), (date(2026, 10, 1), "sent", 300))):
            session.add(ZaloTemplateNotice(tracking_id=f"zns-{seed}-{number}", commune_code=HOAN_KIEM,
                                           notice_type="status", template_id="t1", status=status, cost_vnd=cost,
                                           sent_on=day))
        await uow.commit()
    return seeded


# --- direct SQL, written apart from the code under test ------------------------------------------

SQL_WITHIN = """FROM items i WHERE i.commune_code IN ({communes}) {unit} AND i.received_at >= :start AND i.received_at < :end"""
ANSWER = "(SELECT min(e.at) FROM item_events e WHERE e.item_id = i.id AND e.action = 'answer' AND e.at <= :cut)"


async def sql_counts(runtime, communes: tuple[int, ...], unit: int | None = None) -> dict[str, int]:
    """Received, accepted, resolved, on time, overdue, rated, satisfied in Q3 2026, straight from SQL."""
    start, end = local(Q3.first, 0), local(Q3.end, 0)
    within = SQL_WITHIN.format(communes=",".join(map(str, communes)), unit=f"AND i.unit_id = {unit}" if unit else "")
    params = {"start": start, "end": end, "cut": end, "cut_day": Q3.end}
    due = ("(SELECT max(d.due_on) FROM item_deadlines d WHERE d.item_id = i.id AND d.phase = 'resolution')")
    last_rate = ("(SELECT e.data FROM item_events e WHERE e.item_id = i.id AND e.action = 'rate' AND e.at <= :cut "
                 "ORDER BY e.at DESC, e.id DESC LIMIT 1)")
    async with runtime.uows() as uow:
        session = uow.session

        def typed(query: str):
            # The bound moments as the tables store them (UTC; SQLite as text).
            return text(query).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in ("start", "end", "cut")
                                            if f":{name}" in query))

        async def one(query: str) -> int:
            return (await session.execute(typed(query), params)).scalar_one()

        answered = (await session.execute(typed(f"SELECT {ANSWER}, {due} {within}"), params)).all()
        ratings = [row[0] for row in (await session.execute(typed(f"SELECT {last_rate} {within}"), params)).all()]

        def aware(value):
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            return value if value.tzinfo else value.replace(tzinfo=ZoneInfo("UTC"))

        def day(value):
            return date.fromisoformat(value) if isinstance(value, str) else value

        import json

        verdicts = [(json.loads(r) if isinstance(r, str) else r)["satisfied"] for r in ratings if r is not None]
        return {
            "received": await one(f"SELECT count(*) {within}"),
            "accepted": await one(f"SELECT count(*) {within} AND i.accepted_at IS NOT NULL AND i.accepted_at <= :cut"),
            "resolved": sum(1 for a, _ in answered if a is not None),
            "on_time": sum(1 for a, d in answered if a is not None and aware(a).astimezone(ZONE).date() <= day(d)),
            "overdue": await one(
                f"SELECT count(*) {within} AND {ANSWER} IS NULL AND EXISTS (SELECT 1 FROM item_deadlines d "
                "WHERE d.item_id = i.id AND d.due_on < :cut_day AND (d.done_at IS NULL OR d.done_at > :cut))"),
            "rated": len(verdicts),
            "satisfied": sum(verdicts),
            "registrations": await one(
                f"SELECT count(*) FROM reception_registrations r JOIN reception_sessions s ON s.id = r.session_id "
                f"WHERE s.commune_code IN ({','.join(map(str, communes))}) AND s.status != 'cancelled' "
                "AND r.cancelled_at IS NULL AND r.occurs_at >= :start AND r.occurs_at < :end"),
        }


def assert_no_person(blob: str) -> None:
    for secret in (NAME, PHONE, ADDRESS, SECRET, "Nguyen Thi", "0912"):
        assert secret not in blob


# --- the period -------------------------------------------------------------------------------------

def test_periods_as_officers_write_them():
    assert (parse_period("2026-Q4").first, parse_period("2026-Q4").end) == (date(2026, 10, 1), date(2027, 1, 1))
    assert (parse_period("2026-11").first, parse_period("2026-11").last) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (parse_period("2026-h2").key, parse_period("2026-h2").months()[0]) == ("2026-H2", "2026-07")
    assert parse_period(" 2026 ").months() == [f"2026-{m:02d}" for m in range(1, 13)]
    assert parse_period("2028-2").last == date(2028, 2, 29)
    for wrong in ("2026-Q5", "2026-13", "2026-00", "26-Q1", "Q4-2026", "", "2026-Q4; DROP TABLE items", "1850"):
        with pytest.raises(PeriodError):
            parse_period(wrong)


# --- who reads what: the policy decides -------------------------------------------------------------

def test_the_policy_decides_whose_figures_a_report_holds():
    leader = Actor(role="leader", unit_id=5, commune_code=HOAN_KIEM)
    assert report_scope(leader) == Scope(Level.unit, unit_id=5, commune_code=HOAN_KIEM)
    assert report_scope(leader, HOAN_KIEM).level is Level.unit  # their commune: still only their unit
    chairman = Actor(role="chairman", unit_id=1, commune_code=HOAN_KIEM)
    assert report_scope(chairman).level is Level.commune
    overseer = Actor(role="province_overseer", unit_id=9, province_code=HA_NOI)
    assert report_scope(overseer).level is Level.province
    assert report_scope(overseer, BA_VI) == Scope(Level.commune, commune_code=BA_VI)
    board = Actor(role="inspection_board", commune_code=HOAN_KIEM, board_id=1)
    assert report_scope(board).commune_code == HOAN_KIEM
    for actor, commune in ((chairman, BA_VI), (leader, BA_VI), (overseer, THUC_PHAN),
                           (Actor(role="officer", unit_id=5, commune_code=HOAN_KIEM), None),
                           (Actor(role="citizen", commune_code=HOAN_KIEM), None)):
        with pytest.raises(ScopeRefused):
            report_scope(actor, commune)


# --- the files against the database -----------------------------------------------------------------

async def test_province_report_rolls_communes_up_and_matches_sql(runtime):
    await seed_reports(runtime)
    async with runtime.uows() as uow:
        figures = await report_figures(uow, Scope(Level.province, province_code=HA_NOI), Q3, ZONE)
    expected = await sql_counts(runtime, (HOAN_KIEM, BA_VI))
    hk, ba_vi = await sql_counts(runtime, (HOAN_KIEM,)), await sql_counts(runtime, (BA_VI,))
    total = figures.total
    assert {k: getattr(total, k) for k in ("received", "accepted", "resolved", "on_time", "overdue", "rated",
                                            "satisfied")} == {k: v for k, v in expected.items() if k != "registrations"}
    assert 0 < total.on_time < total.resolved < total.received and total.overdue > 0 and 0 < total.satisfied < total.rated
    assert set(figures.by_commune) == {HOAN_KIEM, BA_VI}  # Thục Phán is another province's
    assert figures.by_commune[HOAN_KIEM].received == hk["received"] and figures.by_commune[BA_VI].overdue == ba_vi["overdue"]
    assert sum(t.received for t in figures.by_month.values()) == total.received and len(figures.by_month) == 3
    assert sum(t.received for t in figures.by_kind.values()) == sum(t.received for t in figures.by_unit.values())
    assert figures.reception[HOAN_KIEM].sessions_held == 13 and figures.reception[BA_VI].sessions_held == 1
    reception = figures.reception_total
    assert reception.registrations == expected["registrations"] == 4
    assert (reception.meetings_recorded, reception.walk_ins, reception.citizens_received) == (1, 3, 6)
    assert figures.zalo_total == (2, 600)

    xlsx = render(figures, "xlsx", "vi", ZONE)
    sheets = read_xlsx(xlsx)
    summary = sheets[t("vi", "reports.section.summary")]
    header_row = summary[t("vi", "reports.col.label")]
    row = dict(zip(header_row, summary[t("vi", "reports.total")]))
    assert row[t("vi", "reports.col.received")] == expected["received"]
    assert isinstance(row[t("vi", "reports.col.received")], int)  # typed cells, not text
    assert row[t("vi", "reports.col.on_time")] == expected["on_time"]
    assert row[t("vi", "reports.col.overdue")] == expected["overdue"]
    assert row[t("vi", "reports.col.on_time_rate")] == pytest.approx(expected["on_time"] / expected["resolved"])
    communes = sheets[t("vi", "reports.section.commune")]
    assert communes[commune_label(BA_VI)][0] == ba_vi["received"] and communes[t("vi", "reports.total")][0] == expected["received"]
    reception = sheets[t("vi", "reports.section.reception")]
    assert reception[t("vi", "reports.total")] == [14, 1, 4, 3, 6, 2, 600]

    pdf_text = read_pdf(render(figures, "pdf", "vi", ZONE))
    assert "Thành phố Hà Nội" in pdf_text and "Tiếp nhận" in pdf_text and "Đúng hạn" in pdf_text  # diacritics intact
    assert t("vi", "reports.chart.trend") in pdf_text
    total_line = next(line for line in pdf_text.splitlines() if line.startswith(t("vi", "reports.total")))
    assert total_line.split()[2:5] == [str(expected["received"]), str(expected["accepted"]), str(expected["resolved"])]

    table = list(csv.reader(io.StringIO(render(figures, "csv", "vi", ZONE).decode("utf-8-sig"))))
    summary_row = next(r for r in table if r[0] == "summary")
    assert [int(v) for v in summary_row[2:5]] == [expected["received"], expected["accepted"], expected["resolved"]]

    for blob in (xlsx_text(xlsx), pdf_text, "\n".join(",".join(r) for r in table)):
        assert_no_person(blob)


async def test_a_leader_reads_their_unit_and_a_closed_period_never_changes(runtime):
    seeded = await seed_reports(runtime)
    economy = seeded.units["Phòng Kinh tế, Hạ tầng và Đô thị"]
    scope = report_scope(Actor(role="leader", unit_id=economy, commune_code=HOAN_KIEM))
    async with runtime.uows() as uow:
        figures = await report_figures(uow, scope, Q3, ZONE)
        later = await report_figures(uow, scope, Q3, ZONE, now=datetime(2027, 6, 1, tzinfo=ZONE))
    expected = await sql_counts(runtime, (HOAN_KIEM,), unit=economy)
    assert figures.total.received == expected["received"] > 0 and figures.total.overdue == expected["overdue"]
    assert set(figures.by_unit) == {economy} and not figures.has_reception
    assert later.total == figures.total  # counted as of the quarter's end
    assert filename(figures, "pdf") == f"bao-cao-don-vi-{economy}-2026-Q3.pdf"
    sheets = read_xlsx(render(figures, "xlsx", "en", ZONE))
    assert t("en", "reports.section.reception") not in sheets and "Summary" in sheets


async def test_the_chat_figures_still_count_the_same_items(runtime):
    from bot.statistics import commune_report

    await seed_reports(runtime)
    async with runtime.uows() as uow:
        report = await commune_report(uow, HOAN_KIEM, local(Q3.first, 0), ZONE)
    # Since the quarter's start, until now: October's item too, and answers given after the quarter.
    async with runtime.uows() as uow:
        received = (await uow.session.execute(text(
            "SELECT count(*) FROM items WHERE commune_code = :c AND received_at >= :s"),
            {"c": HOAN_KIEM, "s": local(Q3.first, 0)})).scalar_one()
        answered = (await uow.session.execute(text(
            "SELECT count(DISTINCT e.item_id) FROM item_events e JOIN items i ON i.id = e.item_id "
            "WHERE i.commune_code = :c AND i.received_at >= :s AND e.action = 'answer'"),
            {"c": HOAN_KIEM, "s": local(Q3.first, 0)})).scalar_one()
    assert (report.total.received, report.total.answered) == (received, answered)
    assert 0 < report.total.on_time < report.total.answered


def test_every_format_has_a_content_type():
    assert FORMATS["xlsx"].content_type.endswith("spreadsheetml.sheet") and FORMATS["pdf"].content_type == "application/pdf"


# --- reading the files back -------------------------------------------------------------------------

def read_xlsx(data: bytes) -> dict[str, dict[str, list]]:
    """Sheet → first-column label → the row's other values, as typed cells."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    sheets = {}
    for sheet in book.worksheets:
        rows = {}
        for row in sheet.iter_rows(values_only=True):
            if row and isinstance(row[0], str):
                rows.setdefault(row[0], list(row[1:]))
        sheets[sheet.title] = rows
    return sheets


def xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return "\n".join(str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row)


def read_pdf(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# --- the command line ------------------------------------------------------------------------------

async def test_the_report_command_writes_each_format(runtime, settings, tmp_path, monkeypatch, capsys):
    import asyncio

    from bot.cli import main as cli_main

    await seed_reports(runtime)
    expected = await sql_counts(runtime, (HOAN_KIEM,))
    monkeypatch.setenv("TIEPDAN_DATABASE_URL", settings.database_url)
    monkeypatch.chdir(tmp_path)
    assert await asyncio.to_thread(cli_main, ["report", "--period", "2026-Q3", "--commune", str(HOAN_KIEM),
                                              "--format", "xlsx"]) == 0
    assert f"{expected['received']} items received" in capsys.readouterr().out
    written = tmp_path / "bao-cao-phuong-hoan-kiem-2026-Q3.xlsx"
    summary = read_xlsx(written.read_bytes())[t("vi", "reports.section.summary")]
    assert summary[t("vi", "reports.total")][0] == expected["received"]
    out = tmp_path / "hn.pdf"
    assert await asyncio.to_thread(cli_main, ["report", "--period", "2026-q3", "--province", str(HA_NOI),
                                              "--format", "pdf", "--output", str(out)]) == 0
    assert commune_label(BA_VI) in read_pdf(out.read_bytes())
    for wrong in (["--period", "2026-Q9", "--commune", "70"], ["--period", "2026-Q3", "--commune", "999999"],
                  ["--period", "2026-Q3", "--province", "999"]):
        assert await asyncio.to_thread(cli_main, ["report", *wrong]) == 2
        assert "Traceback" not in capsys.readouterr().err


def test_starting_the_bot_loads_no_report_library():
    from tests.fresh_interpreter import modules_loaded

    loaded = modules_loaded("import bot.app, bot.reports.web, bot.reports.figures, bot.reports.export", "")
    assert not [m for m in loaded if m.split(".")[0] in ("matplotlib", "openpyxl", "fpdf", "PIL")]
