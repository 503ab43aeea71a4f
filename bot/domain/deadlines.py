"""Legal deadlines as data: each rule carries its citation and the dates it is in force.

A new decree is a new record in ``RULES`` (with ``effective_from``) and an ``effective_to`` on the
record it replaces, not a change of code. ``deadline_for`` picks the rule in force on the start date
that fits the case most closely and counts the period on the working calendar.

Where the law says "ngày" without "làm việc", calendar days are counted; either way the start day
is not counted and a period ending on a day off runs to the next working day (Bộ luật Dân sự 2015,
Điều 147 khoản 1, Điều 148 khoản 5; see ``bot.domain.calendar``).

A period can change while it runs: a denunciation's extensions (Luật Tố cáo 2018, Điều 30), a
complaint found complex (Luật Khiếu nại 2011, Điều 28, 37), a denunciation's intake checked at several
places (Luật Tố cáo 2018, Điều 24 khoản 1), a suspension and its resumption (``PAUSE_RULES``). Each
change lengthens the one period counted from its event; the end is counted again from that event
and only the new final day moves off a day off, never an end that had already been moved.
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
    # Extensions, each by written decision (Đ.30 khoản 4): complex once, especially complex twice. Each
    # adds its days to the period counted from acceptance (see ``resolution_deadline``).
    DeadlineRule("denunciation.extension.complex", D, Phase.extension, 30, "days", Event.accepted,
                 "Luật Tố cáo 2018, Điều 30 khoản 2, khoản 4 (gia hạn một lần bằng văn bản)",
                 complex_case=True, especially_complex=False, times_allowed=1, effective_from=LUAT_TO_CAO),
    DeadlineRule("denunciation.extension.especially_complex", D, Phase.extension, 30, "days", Event.accepted,
                 "Luật Tố cáo 2018, Điều 30 khoản 3, khoản 4 (gia hạn hai lần bằng văn bản)",
                 complex_case=True, especially_complex=True, times_allowed=2, effective_from=LUAT_TO_CAO),
)


@dataclass(frozen=True)
class PauseRule:
    """Tạm đình chỉ giải quyết: the resolution period stops with the decision to suspend and runs on
    after the decision to resume; the days between are not counted. The day of each decision belongs
    to the running period (suspended and resumed the same day, nothing changes), which is the shorter
    reading: no deadline is shown later than the law allows."""

    rule_id: str
    kind: ItemKind
    citation: str
    effective_from: date = date.min
    effective_to: date | None = None

    def in_force_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day <= self.effective_to)


# Luật Khiếu nại 2011 had no suspension of the resolution: Điều 11a, added by Luật 136/2025/QH15, is
# detailed by NĐ 155/2026 (Điều 28a, 28b of NĐ 124/2020), in force 1/7/2026 and applying to complaints
# accepted before (its Điều 22 khoản 1). "Thời hạn giải quyết khiếu nại tiếp tục được tính từ ngày ban
# hành quyết định tiếp tục giải quyết khiếu nại" (Điều 28b khoản 2). Not to be confused with Điều 35,
# the suspension of the contested decision's execution, which stops no clock.
_COMPLAINT_PAUSE = ("Luật Khiếu nại 2011, Điều 11a (bổ sung bởi Luật 136/2025/QH15); NĐ 124/2020/NĐ-CP, "
                    "Điều 28b (bổ sung bởi NĐ 155/2026/NĐ-CP, Điều 12)")
PAUSE_RULES: tuple[PauseRule, ...] = (
    PauseRule("complaint1.suspension", C1, _COMPLAINT_PAUSE, effective_from=ND_155_2026),
    PauseRule("complaint2.suspension", C2, _COMPLAINT_PAUSE, effective_from=ND_155_2026),
    # "thời gian tạm đình chỉ việc giải quyết tố cáo không tính vào thời hạn giải quyết tố cáo"
    PauseRule("denunciation.suspension", D, "Luật Tố cáo 2018, Điều 34 khoản 1, khoản 2", effective_from=LUAT_TO_CAO),
)


@dataclass(frozen=True)
class Deadline:
    due_on: date  # the period ends at 24:00 of this day
    rule: DeadlineRule
    pause: PauseRule | None = None  # the period stood suspended for some days

    @property
    def citation(self) -> str:
        return f"{self.rule.citation}; {self.pause.citation}" if self.pause else self.rule.citation


class NoRule(LookupError):
    """No deadline rule covers this kind, phase and case on that date."""


class PeriodChangeRefused(ValueError):
    """The law does not let this running period change now. ``reason`` names why, for the text shown
    to the officer; ``values`` fill it in."""

    def __init__(self, message: str, *, reason: str, **values):
        super().__init__(message)
        self.reason, self.values = reason, values


class ExtensionNotAllowed(PeriodChangeRefused):
    """No (further) extension: used_up, not_running, kind, or expired (the period has ended)."""

    def __init__(self, message: str, *, reason: str = "used_up", **values):
        super().__init__(message, reason=reason, **values)


class SuspensionNotAllowed(PeriodChangeRefused):
    """No suspension or resumption: not_in_force (no law suspends this kind then), not_running, expired."""


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


def resolution_deadline(kind: ItemKind, accepted_on: date, *, complex_case: bool = False,
                        especially_complex: bool = False, remote_area: bool = False, extensions: int = 0,
                        paused_days: int = 0, pause: PauseRule | None = None,
                        calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """The end of an accepted item's resolution period, as it stands.

    The period is counted from acceptance, that day not counted (BLDS Đ.147 k1): the kind's period for
    the case, plus 30 days for each extension granted (denunciations, Luật Tố cáo 2018 Đ.30 k2, k3),
    plus the days it stood suspended (``paused_days``, under ``pause``). Only the last day of the whole
    moves off a weekend or holiday (BLDS Đ.148 k5).
    """
    rule = rule_for(kind, Phase.resolution, accepted_on, complex_case=complex_case, remote_area=remote_area)
    days = rule.amount
    if extensions:
        rule = rule_for(kind, Phase.extension, accepted_on, complex_case=True, especially_complex=especially_complex)
        if extensions > rule.times_allowed:
            raise ExtensionNotAllowed(f"{rule.rule_id}: {extensions} extension(s), {rule.times_allowed} allowed",
                                      made=extensions, allowed=rule.times_allowed, citation=rule.citation)
        days += rule.amount * extensions
    return Deadline(calendar.add_days(accepted_on, days + paused_days), rule, pause if paused_days else None)


def extend_denunciation(accepted_on: date, extensions_so_far: int, *, decided_on: date,
                        especially_complex: bool = False, paused_days: int = 0, pause: PauseRule | None = None,
                        calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """The deadline after one more extension decided on ``decided_on`` (Luật Tố cáo 2018, Điều 30): once
    for a complex case, twice for an especially complex one, each lengthening the period counted from
    acceptance by 30 days.

    Raises ``ExtensionNotAllowed`` once the extensions allowed are used up, or when the period being
    extended ended before ``decided_on`` (an ended period is not extended after the fact).
    """
    case = {"especially_complex": especially_complex, "paused_days": paused_days, "pause": pause,
            "calendar": calendar}
    rule = rule_for(D, Phase.extension, accepted_on, complex_case=True, especially_complex=especially_complex)
    if extensions_so_far >= rule.times_allowed:
        raise ExtensionNotAllowed(
            f"{rule.rule_id}: {extensions_so_far} extension(s) made, {rule.times_allowed} allowed ({rule.citation})",
            made=extensions_so_far, allowed=rule.times_allowed, citation=rule.citation)
    _still_running(resolution_deadline(D, accepted_on, extensions=extensions_so_far, **case), decided_on)
    return resolution_deadline(D, accepted_on, extensions=extensions_so_far + 1, **case)


def complex_complaint_deadline(kind: ItemKind, accepted_on: date, *, decided_on: date, remote_area: bool = False,
                               paused_days: int = 0, pause: PauseRule | None = None,
                               calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """A complaint found complex in writing (NĐ 124/2020 Điều 3a, added by NĐ 155/2026 Điều 2) gets the
    longer period of Luật Khiếu nại 2011 Điều 28 (first) or 37 (second), counted from acceptance.
    Refused (``expired``) once the shorter period has ended."""
    case = {"remote_area": remote_area, "paused_days": paused_days, "pause": pause, "calendar": calendar}
    _still_running(resolution_deadline(kind, accepted_on, **case), decided_on)
    return resolution_deadline(kind, accepted_on, complex_case=True, **case)


def several_places_intake(received_on: date, *, decided_on: date,
                          calendar: WorkingCalendar = DEFAULT_CALENDAR) -> Deadline:
    """A denunciation to be checked at several places, or through another body, has 10 working days
    from receipt for its intake instead of 7 (Luật Tố cáo 2018, Điều 24 khoản 1). Refused (``expired``)
    once the 7 working days have run out."""
    _still_running(deadline_for(D, Phase.intake, received_on, calendar=calendar), decided_on)
    return deadline_for(D, Phase.intake, received_on, several_places=True, calendar=calendar)


def suspension_rule(kind: ItemKind, on: date) -> PauseRule:
    """The rule that lets ``kind``'s resolution be suspended on ``on``; NoRule if none does."""
    for rule in PAUSE_RULES:
        if rule.kind == kind and rule.in_force_on(on):
            return rule
    raise NoRule(f"no suspension of {kind.value} on {on.isoformat()}")


def suspend_resolution(kind: ItemKind, accepted_on: date, *, on: date, paused_days: int = 0,
                       calendar: WorkingCalendar = DEFAULT_CALENDAR, **case) -> PauseRule:
    """Check that the resolution period of an item accepted on ``accepted_on`` may be suspended on
    ``on``: a rule allows it and the period has not already ended (``SuspensionNotAllowed``)."""
    try:
        rule = suspension_rule(kind, on)
    except NoRule:
        raise SuspensionNotAllowed(f"no suspension of {kind.value} on {on}", reason="not_in_force") from None
    current = resolution_deadline(kind, accepted_on, paused_days=paused_days, calendar=calendar, **case)
    if on > current.due_on:
        raise SuspensionNotAllowed(f"the period ended on {current.due_on}", reason="expired", due=current.due_on)
    return rule


def resume_resolution(kind: ItemKind, accepted_on: date, *, suspended_on: date, resumed_on: date,
                      paused_days: int = 0, calendar: WorkingCalendar = DEFAULT_CALENDAR,
                      **case) -> tuple[Deadline, int]:
    """The deadline once a suspension of ``suspended_on`` is lifted on ``resumed_on``, and the days the
    period has stood suspended in all (``paused_days`` before this suspension). What remained of the
    period on the day of suspension runs on from the day of resumption."""
    rule = suspension_rule(kind, suspended_on)
    paused = paused_days + max((resumed_on - suspended_on).days, 0)
    return resolution_deadline(kind, accepted_on, paused_days=paused, pause=rule, calendar=calendar, **case), paused


def _still_running(current: Deadline, decided_on: date) -> None:
    if decided_on > current.due_on:
        raise ExtensionNotAllowed(f"the period ended on {current.due_on.isoformat()}", reason="expired",
                                  due=current.due_on, citation=current.rule.citation)


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

