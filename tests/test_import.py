"""The publishing importer as the ward office uses it: the example file goes in with the right values,
importing again updates instead of duplicating, a wrong file is refused whole with the line and the
field, legal time limits are enforced or warned about, CSV from a spreadsheet, and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.domain.calendar import DEFAULT_CALENDAR
from bot.importer import ImportError_, import_file
from storage.db import create_engine, session_factory
from storage.models import (
    CommuneCategory,
    Consultation,
    Disclosure,
    Project,
    ProjectUpdate,
    ReceptionSession,
    ResponseTemplate,
    RoutingRule,
    Unit,
    User,
)
from storage.uow import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "hoan-kiem.yaml"
EXAMPLE_CSV = ROOT / "examples" / "disclosures.csv"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
TABLES = (Unit, User, RoutingRule, CommuneCategory, ReceptionSession, Disclosure, Project, ProjectUpdate,
          Consultation, ResponseTemplate)
SUMMARY = ("4 units, 4 officers, 8 routing rules, 2 reception sessions, 2 disclosures, 1 project (2 updates), "
           "1 consultation, 8 categories, 3 response templates")


@pytest.fixture
async def uows(settings):
    engine = create_engine(settings.database_url)
    yield UnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


async def _counts(uows) -> dict[str, int]:
    async with uows() as uow:
        return {model.__tablename__: await uow.session.scalar(select(func.count()).select_from(model))
                for model in TABLES}


async def _all(uows, model, *conditions) -> list:
    async with uows() as uow:
        return list((await uow.session.execute(select(model).where(*conditions).order_by(model.id))).scalars())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE).astimezone(timezone.utc)


def _write(tmp_path: Path, text: str, name: str = "commune.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_example_ward_goes_in_with_its_values(uows):
    summary = await import_file(uows, EXAMPLE, zone=ZONE)
    assert str(summary).startswith(SUMMARY)

    units = {unit.name: unit for unit in await _all(uows, Unit)}
    assert len(units) == 4 and {unit.commune_code for unit in units.values()} == {70}
    assert [name for name, unit in units.items() if unit.is_fallback] == ["Văn phòng HĐND và UBND phường"]
    office, economy = units["Văn phòng HĐND và UBND phường"], units["Phòng Kinh tế, Hạ tầng và Đô thị"]
    officers = {user.display_name: user for user in await _all(uows, User)}
    assert (officers["Nguyễn Thị Thu Hà"].role, officers["Nguyễn Thị Thu Hà"].unit_id) == ("leader", office.id)
    assert (officers["Lê Quang Huy"].role, officers["Lê Quang Huy"].unit_id) == ("officer", economy.id)
    rules = {rule.category: rule.unit_id for rule in await _all(uows, RoutingRule)}
    assert rules["land"] == economy.id and rules[None] == office.id  # "*" routes any other category
    categories = await _all(uows, CommuneCategory)
    assert [(c.key, c.position) for c in categories][:2] == [("land", 0), ("environment", 1)]
    assert ("walking_street", "🚶 Phố đi bộ, lễ hội") in {(c.key, c.label_vi) for c in categories}

    templates = {t.key: t for t in await _all(uows, ResponseTemplate)}
    assert (templates["answer_road_fixed"].kind, templates["answer_road_fixed"].category) == ("feedback",
                                                                                              "infrastructure")
    assert templates["answer_road_fixed"].text.endswith("05 ngày làm việc. Cảm ơn ông/bà đã phản ánh.")
    assert (templates["info_photos"].action, templates["info_photos"].kind) == ("request_info", None)

    weekly, special = await _all(uows, ReceptionSession)
    assert weekly.recurrence == "FREQ=WEEKLY;BYDAY=TH"  # every: thursday
    assert (_utc(weekly.starts_at), _utc(weekly.ends_at)) == (_local(date(2026, 12, 3), 7, 30),
                                                              _local(date(2026, 12, 3), 11, 30))
    assert weekly.receiver == "Chủ tịch UBND phường Hoàn Kiếm" and weekly.status == "scheduled"
    assert weekly.published_at is not None
    assert special.recurrence is None and special.online_url == "https://meet.hoankiem.hanoi.gov.vn/tiep-dan"

    budget = (await _all(uows, Disclosure, Disclosure.category == "budget"))[0]
    assert budget.title == "Dự toán ngân sách phường năm 2027"
    assert budget.body.startswith("HĐND phường đã thông qua") and "\n" not in budget.body
    assert (budget.decided_on, budget.board_until) == (date(2026, 11, 18), date(2026, 12, 20))
    assert _utc(budget.published_at) == _local(date(2026, 11, 20), 0)

    project = (await _all(uows, Project))[0]
    assert (project.status, project.progress_percent, project.budget_vnd) == ("in_progress", 40, 12_500_000_000)
    assert (project.starts_on, project.ends_on) == (date(2026, 9, 15), date(2027, 2, 28))
    updates = await _all(uows, ProjectUpdate, ProjectUpdate.project_id == project.id)
    assert [(u.on, u.progress_percent, u.note) for u in updates] == [
        (date(2026, 9, 15), 0, "Khởi công"),
        (date(2026, 11, 10), 40, "Hoàn thành lát vỉa hè đoạn từ Hàng Đào đến Đinh Liệt")]

    consultation = (await _all(uows, Consultation))[0]
    assert consultation.options == ["Đồng ý", "Không đồng ý", "Đồng ý nếu miễn phí cho người dân trong phố"]
    assert _utc(consultation.opens_at) == _local(date(2026, 11, 25), 8)
    # "closes: 2026-12-20" runs to the end of that day.
    assert _utc(consultation.closes_at) == _local(date(2026, 12, 21), 0)
    assert consultation.status == "open"


async def test_importing_again_updates_in_place_instead_of_duplicating(uows, tmp_path):
    await import_file(uows, EXAMPLE, zone=ZONE)
    before = await _counts(uows)
    sessions = await _all(uows, ReceptionSession)

    again = await import_file(uows, EXAMPLE, zone=ZONE)
    assert await _counts(uows) == before
    assert (again.created, again.changed, again.unchanged) == (0, 0, sum(before.values()))
    assert [_utc(s.published_at) for s in await _all(uows, ReceptionSession)] == \
           [_utc(s.published_at) for s in sessions]  # first publication time kept

    edited = EXAMPLE.read_text(encoding="utf-8")
    for old, new in (
        ("receiver: Chủ tịch UBND phường Hoàn Kiếm", "receiver: Phó Chủ tịch UBND phường Hoàn Kiếm"),
        ("Danh sách 14 hộ kinh doanh", "Danh sách 15 hộ kinh doanh"),
        ("    role: leader\n", "    role: admin\n"),
        ("note: Khởi công}", "note: Khởi công xây dựng}"),
    ):
        assert old in edited
        edited = edited.replace(old, new)
    edited = edited.replace(
        "note: Hoàn thành lát vỉa hè đoạn từ Hàng Đào đến Đinh Liệt}",
        "note: Hoàn thành lát vỉa hè đoạn từ Hàng Đào đến Đinh Liệt}\n"
        "      - {date: 2026-11-20, progress: 55, note: Hạ ngầm xong cáp viễn thông}")
    second = await import_file(uows, _write(tmp_path, edited), zone=ZONE)
    assert (second.created, second.changed) == (1, 5)  # the new update; session, disclosure, officer,
    after = await _counts(uows)                       # project (progress 55) and the first update
    assert after == {**before, "project_updates": before["project_updates"] + 1}

    weekly = (await _all(uows, ReceptionSession))[0]
    assert (weekly.id, weekly.receiver) == (sessions[0].id, "Phó Chủ tịch UBND phường Hoàn Kiếm")
    land = (await _all(uows, Disclosure, Disclosure.category == "land"))[0]
    assert land.body.startswith("Danh sách 15 hộ")
    assert (await _all(uows, User, User.display_name == "Nguyễn Thị Thu Hà"))[0].role == "admin"
    project = (await _all(uows, Project))[0]
    assert project.progress_percent == 55  # from the latest update
    notes = [u.note for u in await _all(uows, ProjectUpdate)]
    assert notes[0] == "Khởi công xây dựng" and notes[-1] == "Hạ ngầm xong cáp viễn thông"


def _broken(old: str, new: str, *, count: int = 1) -> tuple[str, int]:
    """The example with one change, and the line (1-based) where the change starts."""
    text = EXAMPLE.read_text(encoding="utf-8")
    position = text.index(old)
    return text[:position] + new + text[position + len(old):], text[:position].count("\n") + 1


BROKEN = [
    ("unknown field", "  - name: Phòng Văn hóa - Xã hội\n", "  - name: Phòng Văn hóa - Xã hội\n    colour: red\n",
     1, "units.colour", "unknown field"),
    ("unknown section", "\ndisclosures:\n", "\nannouncements:\n  - x\ndisclosures:\n", 1, "announcements",
     "unknown section"),
    ("unknown unit", "    unit: Phòng Văn hóa - Xã hội\n", "    unit: Phòng Văn hoá Xã hội\n", 0, "officers.unit",
     "unknown unit"),
    ("unknown routing category", "  walking_street: Phòng", "  walking_streets: Phòng", 0, "routing.category",
     "unknown category"),
    ("bad date", "start: 2026-12-03 07:30", "start: 2026-12-33 07:30", 0, "reception_sessions.start",
     "expected a date and time"),
    ("end before start", "    end: 16:30\n", "    end: 13:30\n", 0, "reception_sessions.end",
     "before it starts"),
    ("day not in every", "    every: thursday", "    every: [monday, friday]", -2, "reception_sessions.start",
     "not one of the days"),
    ("unknown disclosure category", "  - category: budget\n", "  - category: budgets\n", 0,
     "disclosures.category", "unknown category"),
    ("missing body", "    body: Danh sách 14 hộ kinh doanh bị ảnh hưởng, mức hỗ trợ di dời tạm và thời gian thực hiện.\n",
     "", -2, "disclosures.body", "missing"),
    ("progress over 100", "progress: 40, note", "progress: 140, note", 0, "projects.updates.progress",
     "between 0 and 100"),
    ("negative budget", "    budget: 12_500_000_000", "    budget: -12_500_000_000", 0, "projects.budget",
     "negative"),
    ("one option", "      - Không đồng ý\n      - Đồng ý nếu miễn phí cho người dân trong phố\n", "", -2,
     "consultations.options", "at least 2 options"),
]


@pytest.mark.parametrize("old, new, shift, field, problem", [case[1:] for case in BROKEN],
                         ids=[case[0] for case in BROKEN])
async def test_a_wrong_file_is_refused_whole_with_its_line_and_field(uows, tmp_path, old, new, shift, field,
                                                                     problem):
    text, line = _broken(old, new)
    line += shift  # the field's line counted from the change; a missing field is named on its entry's line
    path = _write(tmp_path, text)
    with pytest.raises(ImportError_) as refused:
        await import_file(uows, path, zone=ZONE)
    message = str(refused.value)
    assert message.startswith(f"{path}, line {line}, {field}: ") and problem in message, message
    assert "\n" not in message
    assert set((await _counts(uows)).values()) == {0}  # nothing written, not even the valid entries


CONSULTATION = """\
commune: 70
consultations:
  - title: Đặt tên vườn hoa trước nhà văn hóa tổ dân phố số 3
    body: Xin ý kiến người dân về tên gọi.
    options: [Vườn hoa Hàng Bạc, Vườn hoa Hạnh Phúc]
    opens: {opens}
    closes: {closes}
"""


@pytest.mark.parametrize("opens, closes, runs", [
    ("2026-12-01 08:00", "2026-12-21 08:00", True),    # exactly 20 days
    ("2026-12-01 08:00", "2026-12-21 07:59", False),
    ("2026-12-01", "2026-12-20", True),                # to the end of the 20th day
    ("2026-12-01", "2026-12-19", False),
])
async def test_a_consultation_runs_at_least_20_days(uows, tmp_path, opens, closes, runs):
    path = _write(tmp_path, CONSULTATION.format(opens=opens, closes=closes))
    if runs:
        await import_file(uows, path, zone=ZONE)
        assert len(await _all(uows, Consultation)) == 1
        return
    with pytest.raises(ImportError_) as refused:
        await import_file(uows, path, zone=ZONE)
    assert "line 7, consultations.closes: a consultation runs at least 20 days" in str(refused.value)
    assert "Điều 28" in str(refused.value)
    assert (await _counts(uows))["consultations"] == 0


SESSION = """\
commune: Phường Hoàn Kiếm
reception_sessions:
  - receiver: Chủ tịch UBND phường
    place: Trụ sở UBND phường
    start: {start} 07:30
    end: 11:30
"""


async def test_a_session_announced_less_than_5_working_days_ahead_is_imported_with_a_warning(uows, tmp_path):
    today = datetime.now(ZONE).date()
    earliest = DEFAULT_CALENDAR.add_working_days(today, 5)
    late = _write(tmp_path, SESSION.format(start=earliest - timedelta(days=1)), "late.yaml")
    summary = await import_file(uows, late, zone=ZONE)
    assert len(summary.warnings) == 1
    assert summary.warnings[0].startswith(f"{late}, line 5, reception_sessions.start: ")
    assert "Điều 24" in summary.warnings[0] and str(earliest) in summary.warnings[0]
    assert "warning: " in str(summary)
    assert len(await _all(uows, ReceptionSession)) == 1  # a warning, not a refusal

    in_time = _write(tmp_path, SESSION.format(start=earliest), "in_time.yaml")
    assert (await import_file(uows, in_time, zone=ZONE)).warnings == []


async def test_disclosures_from_a_spreadsheet_saved_with_a_bom(uows, tmp_path):
    path = tmp_path / "disclosures.csv"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_CSV.read_bytes())
    summary = await import_file(uows, path, zone=ZONE)
    assert str(summary).startswith("3 disclosures")
    fees = (await _all(uows, Disclosure, Disclosure.category == "fees"))[0]
    assert fees.title == "Mức thu phí sử dụng tạm thời lòng đường, hè phố năm 2027" and fees.commune_code == 70
    assert (fees.decided_on, fees.board_until) == (date(2026, 11, 17), date(2026, 12, 21))
    procedures = (await _all(uows, Disclosure, Disclosure.category == "procedures"))[0]
    assert procedures.decided_on is None and procedures.board_until is None
    again = await import_file(uows, path, zone=ZONE)
    assert (again.created, again.changed, len(await _all(uows, Disclosure))) == (0, 0, 3)


async def test_a_reception_schedule_csv_is_told_by_its_columns(uows, tmp_path):
    path = _write(tmp_path, "commune,receiver,place,start,end,every\n"
                            "70,Chủ tịch UBND phường,Trụ sở UBND phường,2026-12-03 07:30,11:30,monday|thursday\n"
                            "70,Phó Chủ tịch UBND phường,Nhà văn hóa tổ dân phố số 2,2026-12-09 14:00,16:30,\n",
                  "lich.csv")
    summary = await import_file(uows, path, zone=ZONE)
    assert str(summary).startswith("2 reception sessions")
    weekly, once = await _all(uows, ReceptionSession)
    assert weekly.recurrence == "FREQ=WEEKLY;BYDAY=MO,TH" and once.recurrence is None
    assert _utc(once.ends_at) == _local(date(2026, 12, 9), 16, 30)


async def test_a_wrong_csv_row_is_named_by_its_line(uows, tmp_path):
    rows = EXAMPLE_CSV.read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2].replace("70,social_policy,", "70,poverty,")
    path = _write(tmp_path, "\n".join(rows) + "\n", "disclosures.csv")
    with pytest.raises(ImportError_) as refused:
        await import_file(uows, path, zone=ZONE)
    assert str(refused.value).startswith(f"{path}, line 3, disclosures.category: unknown category 'poverty'")
    assert (await _counts(uows))["disclosures"] == 0


def _tiepdan(*args: str, database: Path) -> subprocess.CompletedProcess:
    # bot.cli:main is what the installed `tiepdan` command runs.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env.update(PYTHONPATH=str(ROOT), TIEPDAN_DATABASE_URL=f"sqlite+aiosqlite:///{database}")
    return subprocess.run([sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main(sys.argv[1:]))",
                           *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_admin_command_imports_the_example_and_refuses_a_broken_file(tmp_path):
    database = tmp_path / "cli.db"
    imported = _tiepdan("admin", "import", "examples/hoan-kiem.yaml", database=database)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.splitlines()[0].startswith(f"tiepdan: imported {SUMMARY}")

    text, _ = _broken("    budget: 12_500_000_000", "    budget: -1")
    broken = _write(tmp_path, text)
    refused = _tiepdan("admin", "import", str(broken), database=database)
    assert refused.returncode == 2
    said = [line for line in refused.stderr.splitlines() if line.startswith("tiepdan:")]
    assert said == [refused.stderr.strip().splitlines()[-1]]
    assert said[0].startswith(f"tiepdan: {broken}, line ") and "projects.budget: must not be negative" in said[0]
    assert "Traceback" not in refused.stderr and refused.stdout == ""
