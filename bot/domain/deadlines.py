"""Legal deadlines as data: each rule carries its citation and the dates it is in force.

Adding a new decree is adding a record here, not changing code. ``deadline_for`` picks the rule in
force on the start date (receipt for intake, acceptance for resolution) that matches the case.
Where the law says "ngày" without "làm việc", calendar days are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from bot.domain.kinds import ItemKind, Phase

DAYS = "days"
WORKING_DAYS = "working_days"


@dataclass(frozen=True)
class DeadlineRule:
    rule_id: str
    kind: ItemKind
    phase: Phase
    amount: int
    unit: str
    citation: str
    complex_case: bool | None = None   # None: applies whether or not the case is complex
    remote_area: bool | None = None
    several_places: bool | None = None
    effective_from: date = date(2000, 1, 1)
    effective_to: date | None = None   # last day in force
    statutory: bool = True

    def applies(self, on: date, complex_case: bool, remote_area: bool, several_places: bool) -> bool:
        return (
            self.effective_from <= on
            and (self.effective_to is None or on <= self.effective_to)
            and self.complex_case in (None, complex_case)
            and self.remote_area in (None, remote_area)
            and self.several_places in (None, several_places)
        )


F, C1, C2, D = ItemKind.feedback, ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation
NĐ155_FROM = date(2026, 7, 1)

RULES: tuple[DeadlineRule, ...] = (
    # Phản ánh, kiến nghị
    DeadlineRule("feedback.intake", F, Phase.intake, 10, WORKING_DAYS,
                 "Luật Tiếp công dân 2013, Điều 28 khoản 1 (thông báo kết quả xử lý trong 10 ngày làm việc)"),
    DeadlineRule("feedback.resolution.target", F, Phase.resolution, 15, DAYS,
                 "Mục tiêu nội bộ của xã, phường (pháp luật không quy định thời hạn giải quyết phản ánh, kiến nghị)",
                 statutory=False),
    DeadlineRule("feedback.status_update", F, Phase.status_update, 7, WORKING_DAYS,
                 "Quy chế tiếp nhận của xã, phường: cập nhật tình hình cho người dân mỗi 7 ngày làm việc",
                 statutory=False),
    DeadlineRule("feedback.escalation", F, Phase.escalation, 45, DAYS,
                 "Quy chế tiếp nhận của xã, phường: báo cáo lãnh đạo khi quá 45 ngày", statutory=False),
    # Khiếu nại lần đầu
    DeadlineRule("complaint1.intake.2011", C1, Phase.intake, 10, DAYS, "Luật Khiếu nại 2011, Điều 27",
                 effective_to=date(2026, 6, 30)),
    DeadlineRule("complaint1.intake.2026", C1, Phase.intake, 7, WORKING_DAYS,
                 "NĐ 155/2026/NĐ-CP, Điều 10 (sửa đổi khoản 1 Điều 16 NĐ 124/2020/NĐ-CP)",
                 effective_from=NĐ155_FROM),
    DeadlineRule("complaint1.resolution", C1, Phase.resolution, 30, DAYS, "Luật Khiếu nại 2011, Điều 28",
                 complex_case=False, remote_area=False),
    DeadlineRule("complaint1.resolution.complex", C1, Phase.resolution, 45, DAYS, "Luật Khiếu nại 2011, Điều 28",
                 complex_case=True, remote_area=False),
    DeadlineRule("complaint1.resolution.remote", C1, Phase.resolution, 45, DAYS,
                 "Luật Khiếu nại 2011, Điều 28 (vùng sâu, vùng xa)", complex_case=False, remote_area=True),
    DeadlineRule("complaint1.resolution.remote_complex", C1, Phase.resolution, 60, DAYS,
                 "Luật Khiếu nại 2011, Điều 28 (vùng sâu, vùng xa, vụ việc phức tạp)", complex_case=True,
                 remote_area=True),
    # Khiếu nại lần hai
    DeadlineRule("complaint2.intake.2011", C2, Phase.intake, 10, DAYS, "Luật Khiếu nại 2011, Điều 36",
                 effective_to=date(2026, 6, 30)),
    DeadlineRule("complaint2.intake.2026", C2, Phase.intake, 7, WORKING_DAYS,
                 "NĐ 155/2026/NĐ-CP, Điều 10 (sửa đổi khoản 1 Điều 16 NĐ 124/2020/NĐ-CP)",
                 effective_from=NĐ155_FROM),
    DeadlineRule("complaint2.resolution", C2, Phase.resolution, 45, DAYS, "Luật Khiếu nại 2011, Điều 37",
                 complex_case=False, remote_area=False),
    DeadlineRule("complaint2.resolution.complex", C2, Phase.resolution, 60, DAYS, "Luật Khiếu nại 2011, Điều 37",
                 complex_case=True, remote_area=False),
    DeadlineRule("complaint2.resolution.remote", C2, Phase.resolution, 60, DAYS,
                 "Luật Khiếu nại 2011, Điều 37 (vùng sâu, vùng xa)", complex_case=False, remote_area=True),
    DeadlineRule("complaint2.resolution.remote_complex", C2, Phase.resolution, 70, DAYS,
                 "Luật Khiếu nại 2011, Điều 37 (vùng sâu, vùng xa, vụ việc phức tạp)", complex_case=True,
                 remote_area=True),
    # Tố cáo
    DeadlineRule("denunciation.intake", D, Phase.intake, 7, WORKING_DAYS, "Luật Tố cáo 2018, Điều 24 khoản 1",
                 several_places=False),
    DeadlineRule("denunciation.intake.several_places", D, Phase.intake, 10, WORKING_DAYS,
                 "Luật Tố cáo 2018, Điều 24 khoản 1 (xác minh tại nhiều địa điểm)", several_places=True),
    DeadlineRule("denunciation.acceptance_notice", D, Phase.acceptance_notice, 5, WORKING_DAYS,
                 "Luật Tố cáo 2018, Điều 29 khoản 3"),
    DeadlineRule("denunciation.resolution", D, Phase.resolution, 30, DAYS, "Luật Tố cáo 2018, Điều 30 khoản 1"),
)


@dataclass(frozen=True)
class Deadline:
    due_on: date
    rule: DeadlineRule


class NoRule(LookupError):
    """No deadline rule covers this kind and phase on that date."""


class ExtensionNotAllowed(ValueError):
    """The law allows no further extension."""


def rule_for(kind: ItemKind, phase: Phase, on: date, *, complex_case: bool = False, remote_area: bool = False,
             several_places: bool = False) -> DeadlineRule:
    for rule in RULES:
        if rule.kind == kind and rule.phase == phase and rule.applies(on, complex_case, remote_area, several_places):
            return rule
    raise NoRule(f"no {phase.value} rule for {kind.value} on {on.isoformat()}")


def deadline_for(kind: ItemKind, phase: Phase, start: date, *, complex_case: bool = False, remote_area: bool = False,
                 several_places: bool = False, calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """The deadline of a phase counted from ``start`` (the day of receipt or acceptance, not counted)."""
    rule = rule_for(kind, phase, start, complex_case=complex_case, remote_area=remote_area,
                    several_places=several_places)
    if rule.unit == WORKING_DAYS:
        return Deadline(calendar.add_working_days(start, rule.amount), rule)
    return Deadline(calendar.add_days(start, rule.amount), rule)


# Luật Tố cáo 2018, Điều 30 khoản 2–3: complex: one extension; especially complex: two; each ≤ 30 days.
DENUNCIATION_EXTENSION = DeadlineRule(
    "denunciation.extension", D, Phase.resolution, 30, DAYS,
    "Luật Tố cáo 2018, Điều 30 khoản 2, 3 (gia hạn bằng văn bản)")


def extend_denunciation(current_due: date, extensions_so_far: int, *, especially_complex: bool,
                        calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    allowed = 2 if especially_complex else 1
    if extensions_so_far >= allowed:
        raise ExtensionNotAllowed(
            f"{'especially complex' if especially_complex else 'complex'} denunciations may be extended "
            f"{allowed} time(s) ({DENUNCIATION_EXTENSION.citation})")
    return Deadline(calendar.add_days(current_due, DENUNCIATION_EXTENSION.amount), DENUNCIATION_EXTENSION)


# Filing windows (thời hiệu): first complaint 90 days from learning of the decision (Đ.9); second
# complaint 30 days from the first decision or the end of its period, 45 in remote areas (Đ.33).
FILING_WINDOWS = {
    (C1, False): (90, "Luật Khiếu nại 2011, Điều 9"),
    (C1, True): (90, "Luật Khiếu nại 2011, Điều 9"),
    (C2, False): (30, "Luật Khiếu nại 2011, Điều 33 khoản 1"),
    (C2, True): (45, "Luật Khiếu nại 2011, Điều 33 khoản 1 (vùng sâu, vùng xa)"),
}


def filing_window_ends(kind: ItemKind, learned_on: date, *, remote_area: bool = False,
                       calendar: WorkingCalendar = DEFAULT_CALENDAR) -> tuple[date, str]:
    days, citation = FILING_WINDOWS[(kind, remote_area)]
    return calendar.add_days(learned_on, days), citation
