"""Demo data: one real ward (Phường Hoàn Kiếm, Hà Nội) with units, officers, routing rules, a weekly
reception schedule, two disclosures and a project, so every menu has something to show — and, around
it, the province level a real deployment has since 1/7/2025 (``seed_province``): Thành phố Hà Nội with
its own units, a remote commune with its own office (Xã Ba Vì), a commune without units whose items go
to the province (Xã Bát Tràng), one whose citizens are sent elsewhere (Xã Suối Hai), and Hoàn Kiếm's
two oversight boards."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import select

from bot.settings import Settings
from storage.models import (
    CommuneProfile,
    Consultation,
    Disclosure,
    OversightBoard,
    Project,
    ProjectUpdate,
    ReceptionSession,
    RoutingRule,
    Unit,
    User,
)
from storage.uow import UnitOfWorkFactory

DEMO_COMMUNE = 70  # Phường Hoàn Kiếm, Thành phố Hà Nội (code from vietnam-provinces)
DEMO_PROVINCE = 1  # Thành phố Hà Nội
REMOTE_COMMUNE = 9700  # Xã Ba Vì: mountain villages, vùng sâu, vùng xa (commune data, not a law's list)
PROVINCE_SERVED_COMMUNE = 583  # Xã Bát Tràng: no units of its own on tiepdan; the province takes its items
REFERRED_COMMUNE = 9694  # Xã Suối Hai: not on tiepdan; its citizens are told where to go
PROVINCE_OFFICE = "Ban Tiếp công dân Thành phố Hà Nội"
PROVINCE_INSPECTORATE = "Thanh tra Thành phố Hà Nội"


def _next_weekday(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7)


async def seed_demo(uows: UnitOfWorkFactory, settings: Settings, commune_code: int = DEMO_COMMUNE) -> bool:
    """Seed once; returns False when the commune already has units. The demo ward comes with the
    province around it (``seed_province``); another commune (a test's second ward) comes alone."""
    zone = settings.zone
    today = datetime.now(zone).date()

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone).astimezone(timezone.utc)

    async with uows() as uow:
        session = uow.session
        if (await session.execute(select(Unit.id).where(Unit.commune_code == commune_code))).first():
            return False
        office = Unit(commune_code=commune_code, name="Văn phòng HĐND và UBND phường", is_fallback=True)
        economy = Unit(commune_code=commune_code, name="Phòng Kinh tế, Hạ tầng và Đô thị")
        social = Unit(commune_code=commune_code, name="Phòng Văn hóa - Xã hội")
        service = Unit(commune_code=commune_code, name="Trung tâm Phục vụ hành chính công phường")
        session.add_all([office, economy, social, service])
        await session.flush()
        session.add_all([
            User(language="vi", commune_code=commune_code, role="leader", unit_id=office.id,
                 display_name="Chủ tịch UBND phường (demo)"),
            User(language="vi", commune_code=commune_code, role="officer", unit_id=office.id,
                 display_name="Cán bộ tiếp công dân (demo)"),
            User(language="vi", commune_code=commune_code, role="officer", unit_id=economy.id,
                 display_name="Cán bộ địa chính (demo)"),
            User(language="vi", commune_code=commune_code, role="officer", unit_id=social.id,
                 display_name="Cán bộ văn hóa - xã hội (demo)"),
        ])
        for category, unit in (("land", economy), ("environment", economy), ("infrastructure", economy),
                               ("public_order", office), ("social_policy", social),
                               ("administrative_procedures", service)):
            session.add(RoutingRule(commune_code=commune_code, category=category, unit_id=unit.id))
        thursday = _next_weekday(today, 3)
        session.add(ReceptionSession(
            commune_code=commune_code, receiver="Chủ tịch UBND phường Hoàn Kiếm",
            place="Phòng tiếp công dân, trụ sở UBND phường Hoàn Kiếm", topics="Tiếp công dân định kỳ",
            starts_at=at(thursday, 7, 30), ends_at=at(thursday, 11, 30), recurrence="FREQ=WEEKLY;BYDAY=TH",
            published_at=datetime.now(timezone.utc)))
        special = _next_weekday(today + timedelta(days=7), 1)
        session.add(ReceptionSession(
            commune_code=commune_code, receiver="Phó Chủ tịch UBND phường phụ trách đô thị",
            place="Hội trường tổ dân phố số 5", topics="Giải phóng mặt bằng, cải tạo vỉa hè phố Hàng Bạc",
            starts_at=at(special, 14), ends_at=at(special, 16, 30), published_at=datetime.now(timezone.utc)))
        session.add_all([
            Disclosure(commune_code=commune_code, category="budget",
                       title="Dự toán ngân sách phường năm 2026",
                       body="Tổng thu ngân sách trên địa bàn và dự toán chi thường xuyên, chi đầu tư năm 2026 "
                            "đã được HĐND phường thông qua.",
                       url="https://example.gov.vn/hoankiem/du-toan-2026.pdf",
                       decided_on=today - timedelta(days=10), published_at=at(today - timedelta(days=6), 9),
                       board_until=today + timedelta(days=24)),
            Disclosure(commune_code=commune_code, category="land",
                       title="Phương án bồi thường, hỗ trợ khi cải tạo vỉa hè phố Hàng Bạc",
                       body="Danh sách hộ bị ảnh hưởng, mức hỗ trợ và thời gian thực hiện.",
                       decided_on=today - timedelta(days=4), published_at=at(today - timedelta(days=2), 8),
                       board_until=today + timedelta(days=28)),
        ])
        project = Project(commune_code=commune_code, name="Cải tạo vỉa hè, thoát nước phố Hàng Bạc",
                          description="Lát lại vỉa hè đá tự nhiên, cải tạo rãnh thoát nước, hạ ngầm cáp.",
                          status="in_progress", progress_percent=40, budget_vnd=12_500_000_000,
                          starts_on=today - timedelta(days=60), ends_on=today + timedelta(days=90))
        session.add(project)
        await session.flush()
        session.add_all([
            ProjectUpdate(project_id=project.id, on=today - timedelta(days=60), progress_percent=0,
                          note="Khởi công"),
            ProjectUpdate(project_id=project.id, on=today - timedelta(days=14), progress_percent=40,
                          note="Hoàn thành lát vỉa hè đoạn từ Hàng Đào đến Đinh Liệt"),
        ])
        # Consultations run at least 20 days (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 28).
        session.add(Consultation(
            commune_code=commune_code, title="Phương án bố trí chỗ để xe máy trên phố Hàng Bạc",
            body="UBND phường lấy ý kiến người dân về việc dành một làn vỉa hè phía số chẵn làm chỗ để xe máy "
                 "có thu phí theo giờ, từ 7:00 đến 22:00, sau khi hoàn thành cải tạo vỉa hè.",
            options=["Đồng ý", "Không đồng ý", "Đồng ý nếu miễn phí cho người dân trong phố"],
            opens_at=at(today - timedelta(days=2), 8), closes_at=at(today + timedelta(days=23), 17)))
        if commune_code == DEMO_COMMUNE:
            await seed_province(session, project)
        await uow.commit()
    return True


async def seed_province(session, project: Project) -> None:
    """The province level and three other communes of Hà Nội, and the demo ward's oversight boards
    (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 36–45). No leader is added anywhere: the demo ward's
    leader stays the one leader a test finds."""
    # Second complaints stay with the ward's routing in the demo (its tests follow one complaint through
    # both rounds); ``second_complaints: yes`` in an import sends them here (examples/ha-noi.yaml).
    office = Unit(commune_code=None, province_code=DEMO_PROVINCE, name=PROVINCE_OFFICE, is_fallback=True)
    inspectorate = Unit(commune_code=None, province_code=DEMO_PROVINCE, name=PROVINCE_INSPECTORATE)
    ba_vi = Unit(commune_code=REMOTE_COMMUNE, name="Văn phòng HĐND và UBND xã Ba Vì", is_fallback=True)
    session.add_all([office, inspectorate, ba_vi])
    await session.flush()
    session.add_all([
        User(language="vi", role="officer", unit_id=office.id, display_name="Cán bộ Ban Tiếp công dân Thành phố (demo)"),
        User(language="vi", role="province_overseer", unit_id=inspectorate.id,
             display_name="Thanh tra viên Thành phố (demo)"),
        User(language="vi", role="province_admin", unit_id=inspectorate.id, display_name="Quản trị cấp tỉnh (demo)"),
        User(language="vi", commune_code=REMOTE_COMMUNE, role="officer", unit_id=ba_vi.id,
             display_name="Cán bộ tiếp công dân xã Ba Vì (demo)"),
        User(language="vi", commune_code=REMOTE_COMMUNE, role="chairman", unit_id=ba_vi.id,
             display_name="Chủ tịch UBND xã Ba Vì (demo)"),
        CommuneProfile(commune_code=REMOTE_COMMUNE, province_code=DEMO_PROVINCE, remote_area=True),
        CommuneProfile(commune_code=PROVINCE_SERVED_COMMUNE, province_code=DEMO_PROVINCE, served_by_unit_id=office.id),
        CommuneProfile(commune_code=REFERRED_COMMUNE, province_code=DEMO_PROVINCE,
                       refer_to="Xin gửi trực tiếp tại Bộ phận tiếp công dân UBND xã Suối Hai (sáng thứ Ba, thứ Năm)."),
        OversightBoard(kind="inspection", commune_code=DEMO_COMMUNE, name="Ban Thanh tra nhân dân phường Hoàn Kiếm"),
        OversightBoard(kind="investment", commune_code=DEMO_COMMUNE, project_id=project.id,
                       name="Ban Giám sát đầu tư của cộng đồng — vỉa hè phố Hàng Bạc"),
    ])
