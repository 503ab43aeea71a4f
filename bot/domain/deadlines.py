"""Legal deadlines as data: each rule carries its citation and the dates it is in force.

A new decree is a new record in ``RULES`` (with ``effective_from``) and an ``effective_to`` on the
record it replaces, not a change of code. ``deadline_for`` picks the rule in force on the start date
that fits the case most closely and counts the period on the working calendar.

Where the law says "ngày" without "làm việc", calendar days are counted; either way the start day
is not counted and a period ending on a day off runs to the next working day (Bộ luật Dân sự 2015,
Điều 147–148; see ``bot.domain.calendar``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Literal

from bot.domain.calendar import DEFAULT_CALENDAR, WorkingCalendar
from bot.domain.kinds import ItemKind, Phase

Unit = Literal["days", "working_days"]


class Event(str, Enum):
    """The day a period is counted from (that day itself not counted)."""

    received = "received"                # đơn received
    accepted = "accepted"                # thụ lý
    learned_of_decision = "learned_of_decision"  # nhận được hoặc biết được quyết định, hành vi hành chính
    first_decision = "first_decision"    # quyết định giải quyết lần đầu received, or its period ran out
    last_update = "last_update"          # the citizen was last told where things stand
    current_due = "current_due"          # the deadline being extended


@dataclass(frozen=True)
class DeadlineRule:
    rule_id: str
    kind: ItemKind
    phase: Phase
    amount: int
    unit: Unit
    counted_from: Event
    citation: str
    # Conditions on the case; None: the rule applies either way.
    complex_case: bool | None = None        # vụ việc phức tạp
    especially_complex: bool | None = None  # vụ việc đặc biệt phức tạp (denunciations)
    remote_area: bool | None = None         # vùng sâu, vùng xa đi lại khó khăn
    several_places: bool | None = None      # checks at several places, or checks delegated
    effective_from: date = date.min
    effective_to: date | None = None        # last day in force
    statutory: bool = True                  # False: the commune's own target, not a legal limit
    times_allowed: int = 1                  # how often the period may be used in a row (extensions)

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)

    def fits(self, case: dict[str, bool]) -> bool:
        return all(getattr(self, name) in (None, value) for name, value in case.items())

    @property
    def specificity(self) -> int:
        return sum(getattr(self, name) is not None for name in CONDITIONS)


CONDITIONS = ("complex_case", "especially_complex", "remote_area", "several_places")

F, C1, C2, D = ItemKind.feedback, ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation
LUAT_TIEP_CONG_DAN = date(2014, 7, 1)   # Luật 42/2013/QH13 in force
LUAT_KHIEU_NAI = date(2012, 7, 1)       # Luật 02/2011/QH13 in force
LUAT_TO_CAO = date(2019, 1, 1)          # Luật 25/2018/QH14 in force
ND_20_2008 = date(2008, 3, 3)
ND_155_2026 = date(2026, 7, 1)          # NĐ 155/2026/NĐ-CP, Điều 21 khoản 1
BEFORE_ND_155 = date(2026, 6, 30)

RULES: tuple[DeadlineRule, ...] = (
    # Phản ánh, kiến nghị. The law sets no resolution limit; the commune's own targets are marked.
    DeadlineRule("feedback.intake", F, Phase.intake, 10, "working_days", Event.received,
                 "Luật Tiếp công dân 2013, Điều 28 khoản 1", effective_from=LUAT_TIEP_CONG_DAN),
    # The 5 working days are NĐ 20/2008's own text, not an amendment by NĐ 92/2017 as DESIGN.md has it.
    DeadlineRule("feedback.forwarding", F, Phase.forwarding, 5, "working_days", Event.received,
                 "NĐ 20/2008/NĐ-CP, Điều 9 khoản 1 điểm d", effective_from=ND_20_2008),
    DeadlineRule("feedback.resolution.target", F, Phase.resolution, 15, "days", Event.received,
                 "Mục tiêu nội bộ của xã, phường; pháp luật không quy định thời hạn giải quyết phản ánh, kiến nghị",
                 statutory=False),
    DeadlineRule("feedback.status_update", F, Phase.status_update, 7, "working_days", Event.last_update,
                 "Mục tiêu nội bộ của xã, phường (không phải thời hạn luật định): cập nhật cho người dân", statutory=False),
    DeadlineRule("feedback.escalation", F, Phase.escalation, 45, "days", Event.received,
                 "Mục tiêu nội bộ của xã, phường (không phải thời hạn luật định): báo cáo lãnh đạo", statutory=False),

    # Khiếu nại lần đầu.
    DeadlineRule("complaint1.filing", C1, Phase.filing, 90, "days", Event.learned_of_decision,
                 "Luật Khiếu nại 2011, Điều 9", effective_from=LUAT_KHIEU_NAI),
    # Đ.27 says "10 ngày", calendar days; TT 07/2013/TT-TTCP Đ.5 (sửa đổi bởi TT 02/2016/TT-TTCP) says
    # "10 ngày làm việc". The statute's shorter reading is kept so that no deadline is shown too late.
    DeadlineRule("complaint1.intake.2011", C1, Phase.intake, 10, "days", Event.received,
                 "Luật Khiếu nại 2011, Điều 27", effective_from=LUAT_KHIEU_NAI, effective_to=BEFORE_ND_155),
    DeadlineRule("complaint1.intake.2026", C1, Phase.intake, 7, "working_days", Event.received,
                 "NĐ 155/2026/NĐ-CP, Điều 10 (sửa đổi khoản 1 Điều 16 NĐ 124/2020/NĐ-CP)",
                 effective_from=ND_155_2026),
    DeadlineRule("complaint1.resolution", C1, Phase.resolution, 30, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 28", complex_case=False, remote_area=False,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint1.resolution.complex", C1, Phase.resolution, 45, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 28 (vụ việc phức tạp)", complex_case=True, remote_area=False,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint1.resolution.remote", C1, Phase.resolution, 45, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 28 (vùng sâu, vùng xa)", complex_case=False, remote_area=True,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint1.resolution.remote_complex", C1, Phase.resolution, 60, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 28 (vùng sâu, vùng xa, vụ việc phức tạp)", complex_case=True,
                 remote_area=True, effective_from=LUAT_KHIEU_NAI),

    # Khiếu nại lần hai. Its intake is Đ.36, not Đ.27 (DESIGN.md says "as first").
    DeadlineRule("complaint2.filing", C2, Phase.filing, 30, "days", Event.first_decision,
                 "Luật Khiếu nại 2011, Điều 33 khoản 1", remote_area=False, effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint2.filing.remote", C2, Phase.filing, 45, "days", Event.first_decision,
                 "Luật Khiếu nại 2011, Điều 33 khoản 1 (vùng sâu, vùng xa)", remote_area=True,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint2.intake.2011", C2, Phase.intake, 10, "days", Event.received,
                 "Luật Khiếu nại 2011, Điều 36 khoản 1", effective_from=LUAT_KHIEU_NAI, effective_to=BEFORE_ND_155),
    DeadlineRule("complaint2.intake.2026", C2, Phase.intake, 7, "working_days", Event.received,
                 "NĐ 155/2026/NĐ-CP, Điều 10 (sửa đổi khoản 1 Điều 16 NĐ 124/2020/NĐ-CP)",
                 effective_from=ND_155_2026),
    DeadlineRule("complaint2.resolution", C2, Phase.resolution, 45, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 37", complex_case=False, remote_area=False,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint2.resolution.complex", C2, Phase.resolution, 60, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 37 (vụ việc phức tạp)", complex_case=True, remote_area=False,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint2.resolution.remote", C2, Phase.resolution, 60, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 37 (vùng sâu, vùng xa)", complex_case=False, remote_area=True,
                 effective_from=LUAT_KHIEU_NAI),
    DeadlineRule("complaint2.resolution.remote_complex", C2, Phase.resolution, 70, "days", Event.accepted,
                 "Luật Khiếu nại 2011, Điều 37 (vùng sâu, vùng xa, vụ việc phức tạp)", complex_case=True,
                 remote_area=True, effective_from=LUAT_KHIEU_NAI),

    # Tố cáo. No longer periods for remote areas.
    DeadlineRule("denunciation.intake", D, Phase.intake, 7, "working_days", Event.received,
                 "Luật Tố cáo 2018, Điều 24 khoản 1", several_places=False, effective_from=LUAT_TO_CAO),
    DeadlineRule("denunciation.intake.several_places", D, Phase.intake, 10, "working_days", Event.received,
                 "Luật Tố cáo 2018, Điều 24 khoản 1 (xác minh tại nhiều địa điểm hoặc phải ủy quyền xác minh)",
                 several_places=True, effective_from=LUAT_TO_CAO),
    DeadlineRule("denunciation.forwarding", D, Phase.forwarding, 5, "working_days", Event.received,
                 "Luật Tố cáo 2018, Điều 24 khoản 2", effective_from=LUAT_TO_CAO),
    DeadlineRule("denunciation.acceptance_notice", D, Phase.acceptance_notice, 5, "working_days", Event.accepted,
                 "Luật Tố cáo 2018, Điều 29 khoản 3", effective_from=LUAT_TO_CAO),
    DeadlineRule("denunciation.resolution", D, Phase.resolution, 30, "days", Event.accepted,
                 "Luật Tố cáo 2018, Điều 30 khoản 1", effective_from=LUAT_TO_CAO),
    # Extensions, each by written decision (Đ.30 khoản 4): complex once, especially complex twice.
    DeadlineRule("denunciation.extension.complex", D, Phase.extension, 30, "days", Event.current_due,
                 "Luật Tố cáo 2018, Điều 30 khoản 2, khoản 4 (gia hạn một lần bằng văn bản)",
                 complex_case=True, especially_complex=False, times_allowed=1, effective_from=LUAT_TO_CAO),
    DeadlineRule("denunciation.extension.especially_complex", D, Phase.extension, 30, "days", Event.current_due,
                 "Luật Tố cáo 2018, Điều 30 khoản 3, khoản 4 (gia hạn hai lần bằng văn bản)",
                 complex_case=True, especially_complex=True, times_allowed=2, effective_from=LUAT_TO_CAO),
)


@dataclass(frozen=True)
class Deadline:
    due_on: date  # the period ends at 24:00 of this day
    rule: DeadlineRule


class NoRule(LookupError):
    """No deadline rule covers this kind, phase and case on that date."""


class ExtensionNotAllowed(ValueError):
    """The law allows no further extension. ``reason`` names why (used_up, not_running, kind) for the
    text shown to the officer; ``values`` fill it in."""

    def __init__(self, message: str, *, reason: str = "used_up", **values):
        super().__init__(message)
        self.reason, self.values = reason, values


def rule_for(kind: ItemKind, phase: Phase, on: date, *, complex_case: bool = False,
             especially_complex: bool = False, remote_area: bool = False,
             several_places: bool = False) -> DeadlineRule:
    """The rule in force on ``on`` that fits the case most closely."""
    case = {"complex_case": complex_case or especially_complex, "especially_complex": especially_complex,
            "remote_area": remote_area, "several_places": several_places}
    candidates = [rule for rule in RULES
                  if rule.kind == kind and rule.phase == phase and rule.in_force_on(on) and rule.fits(case)]
    if not candidates:
        raise NoRule(f"no {phase.value} rule for {kind.value} on {on.isoformat()}")
    return max(candidates, key=lambda rule: rule.specificity)


def deadline_for(kind: ItemKind, phase: Phase, start: date, *, complex_case: bool = False,
                 remote_area: bool = False, several_places: bool = False,
                 calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """The deadline of ``phase`` counted from ``start``, the day of the rule's ``counted_from`` event."""
    rule = rule_for(kind, phase, start, complex_case=complex_case, remote_area=remote_area,
                    several_places=several_places)
    return Deadline(_count(rule, start, calendar), rule)


def extend_denunciation(current_due: date, extensions_so_far: int, *, especially_complex: bool = False,
                        calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """A denunciation found complex gets its resolution deadline pushed back once, twice if especially
    complex. The new period runs from the current deadline, as the officer's decision extends it.

    Raises ``ExtensionNotAllowed`` once the extensions allowed are used up.
    """
    rule = rule_for(D, Phase.extension, current_due, complex_case=True, especially_complex=especially_complex)
    if extensions_so_far >= rule.times_allowed:
        raise ExtensionNotAllowed(
            f"{rule.rule_id}: {extensions_so_far} extension(s) made, {rule.times_allowed} allowed ({rule.citation})",
            made=extensions_so_far, allowed=rule.times_allowed, citation=rule.citation)
    return Deadline(_count(rule, current_due, calendar), rule)


def complaint_filing_window_ends(kind: ItemKind, learned_on: date, *, remote_area: bool = False,
                                 calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """The last day a complaint may be filed: 90 days after learning of the decision for a first
    complaint; 30 (remote 45) days after the first decision, or after its period ran out, for a second.
    Time lost to illness, disaster or travel is not counted (Đ.9): the officer decides that case by case.
    """
    if kind not in (C1, C2):
        raise NoRule(f"{kind.value} has no filing window")
    return deadline_for(kind, Phase.filing, learned_on, remote_area=remote_area, calendar=calendar)


def _count(rule: DeadlineRule, start: date, calendar: WorkingCalendar) -> date:
    if rule.unit == "working_days":
        return calendar.add_working_days(start, rule.amount)
    return calendar.add_days(start, rule.amount)

