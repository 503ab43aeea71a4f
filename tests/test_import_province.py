"""How a province sets up its communes with the importer (bot/importer/): its own units, the communes'
remote-area status and who serves a commune without units, commune chairmen and province overseers,
oversight boards — checked whole before anything is written, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.importer import ImportError_, import_file
from storage.db import create_engine, session_factory
from storage.models import CommuneProfile, OversightBoard, Unit, User
from storage.uow import UnitOfWorkFactory

ROOT = Path(__file__).resolve().parent.parent
PROVINCE_EXAMPLE = ROOT / "examples" / "ha-noi.yaml"
WARD_EXAMPLE = ROOT / "examples" / "hoan-kiem.yaml"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
BA_VI, BAT_TRANG, SUOI_HAI = 9700, 583, 9694


@pytest.fixture
async def uows(settings):
    engine = create_engine(settings.database_url)
    yield UnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


async def _all(uows, model, *where) -> list:
    async with uows() as uow:
        query = select(model).where(*where).order_by(*model.__table__.primary_key.columns)
        return list((await uow.session.execute(query)).scalars())


def _write(tmp_path: Path, text: str, name: str = "province.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def test_the_example_province_goes_in_with_its_units_communes_people_and_board(uows):
    summary = await import_file(uows, PROVINCE_EXAMPLE, zone=ZONE)
    assert str(summary).startswith("3 units, 6 officers, 3 communes, 1 oversight board — 13 new")
    units = {unit.name: unit for unit in await _all(uows, Unit)}
    office, inspectorate = units["Ban Tiếp công dân Thành phố Hà Nội"], units["Thanh tra Thành phố Hà Nội"]
    assert (office.commune_code, office.province_code, office.is_fallback, office.takes_second_complaints) == (
        None, 1, True, True)
    assert (inspectorate.commune_code, inspectorate.is_fallback) == (None, False)
    assert units["Văn phòng HĐND và UBND xã Ba Vì"].commune_code == BA_VI
    people = {user.display_name: (user.role, user.unit_id) for user in await _all(uows, User)}
    assert people["Đỗ Minh Tâm"] == ("province_overseer", inspectorate.id)
    assert people["Phan Văn Khải"] == ("leader", office.id)
    assert people["Bùi Văn Sơn"] == ("chairman", units["Văn phòng HĐND và UBND xã Ba Vì"].id)
    profiles = {p.commune_code: p for p in await _all(uows, CommuneProfile)}
    assert (profiles[BA_VI].remote_area, profiles[BA_VI].served_by_unit_id) == (True, None)
    assert (profiles[BAT_TRANG].remote_area, profiles[BAT_TRANG].served_by_unit_id) == (False, office.id)
    assert profiles[SUOI_HAI].refer_to.startswith("Xin gửi trực tiếp") and profiles[SUOI_HAI].remote_area
    assert {p.province_code for p in profiles.values()} == {1}
    [board] = await _all(uows, OversightBoard)
    assert (board.kind, board.commune_code, board.project_id) == ("inspection", BA_VI, None)

    again = await import_file(uows, PROVINCE_EXAMPLE, zone=ZONE)
    assert (again.created, again.changed, again.unchanged) == (0, 0, 13)
    await import_file(uows, WARD_EXAMPLE, zone=ZONE)  # a commune's own file beside the province's
    assert len(await _all(uows, Unit)) == 7


async def test_a_communes_data_is_updated_in_place(uows, tmp_path):
    await import_file(uows, PROVINCE_EXAMPLE, zone=ZONE)
    edited = PROVINCE_EXAMPLE.read_text(encoding="utf-8").replace(
        "  - commune: Xã Ba Vì\n    remote: yes", "  - commune: Xã Ba Vì\n    remote: no")
    summary = await import_file(uows, _write(tmp_path, edited), zone=ZONE)
    assert summary.changed == 1
    [ba_vi] = await _all(uows, CommuneProfile, CommuneProfile.commune_code == BA_VI)
    assert ba_vi.remote_area is False


async def test_a_projects_board_follows_a_project_of_its_commune(uows, tmp_path):
    await import_file(uows, WARD_EXAMPLE, zone=ZONE)
    path = _write(tmp_path, "commune: 70\nboards:\n"
                            "  - {name: Ban Thanh tra nhân dân phường Hoàn Kiếm, type: inspection}\n"
                            "  - name: Ban GSĐTCĐ vỉa hè Hàng Bạc\n    type: investment\n"
                            "    project: Cải tạo vỉa hè, thoát nước phố Hàng Bạc\n")
    await import_file(uows, path, zone=ZONE)
    inspection, investment = await _all(uows, OversightBoard)
    assert (inspection.kind, inspection.project_id) == ("inspection", None)
    assert investment.kind == "investment" and investment.project_id is not None


async def test_communes_come_in_a_csv_too(uows, tmp_path):
    path = _write(tmp_path, "commune;remote;refer_to\n9700;có;\n9694;không;Nộp tại UBND xã Suối Hai\n",
                  name="communes.csv")
    await import_file(uows, path, zone=ZONE)
    profiles = {p.commune_code: (p.remote_area, p.refer_to) for p in await _all(uows, CommuneProfile)}
    assert profiles == {BA_VI: (True, None), SUOI_HAI: (False, "Nộp tại UBND xã Suối Hai")}


@pytest.mark.parametrize("text, where, problem", [
    ("units:\n  - {name: Ban Tiếp công dân, level: province}\n", "units.commune",
     "missing: give the commune"),
    ("province: 1\nunits:\n  - {name: Ban Tiếp công dân, level: province, commune: 70}\n", "units.commune",
     "belongs to no commune"),
    ("province: 1\nunits:\n  - {name: Văn phòng, commune: 70, second_complaints: yes}\n",
     "units.second_complaints", "only a unit of the province takes second complaints"),
    ("province: Atlantis\n", "province", "no province is 'Atlantis'"),
    ("province: 1\ncommunes:\n  - {commune: 1273, remote: yes}\n", "communes.commune",
     "not in Thành phố Hà Nội"),
    ("province: 1\ncommunes:\n  - {commune: 583, served_by: Ban Không Có}\n", "communes.served_by",
     "unknown unit of the province 'Ban Không Có'"),
    ("province: 1\nunits:\n  - {name: Ban TCD, level: province}\ncommunes:\n"
     "  - {commune: 583, served_by: Ban TCD, refer_to: Nộp tại xã}\n", "communes.refer_to", "not both"),
    ("province: 1\nunits:\n  - {name: Thanh tra, level: province}\nofficers:\n"
     "  - {name: An, unit: Thanh tra, role: chairman}\n", "officers.role", "a chairman belongs to a unit of a commune"),
    ("commune: 70\nunits:\n  - {name: Văn phòng}\nofficers:\n  - {name: An, unit: Văn phòng, role: province_overseer}\n",
     "officers.role", "a province_overseer belongs to a unit of the province"),
    ("commune: 70\nofficers:\n  - {name: An, unit: Văn phòng, role: inspection_board}\n", "officers.role",
     "unknown value 'inspection_board'"),
    ("commune: 70\nboards:\n  - {name: Ban GS, type: investment}\n", "boards.project", "follows one project"),
    ("commune: 70\nboards:\n  - {name: Ban GS, type: investment, project: Không có}\n", "boards.project",
     "unknown project 'Không có'"),
    ("commune: 70\nboards:\n  - {name: Ban TTND, type: police}\n", "boards.type", "unknown value 'police'"),
])
async def test_a_wrong_province_file_is_refused_whole_with_the_field_and_the_reason(uows, tmp_path, text, where,
                                                                                  problem):
    path = _write(tmp_path, text + "routing:\n")
    with pytest.raises(ImportError_) as refused:
        await import_file(uows, path, zone=ZONE)
    assert refused.value.field == where and problem in refused.value.problem, str(refused.value)
    assert await _all(uows, Unit) == [] and await _all(uows, CommuneProfile) == []
