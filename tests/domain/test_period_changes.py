"""Periods that change while they run, counted by hand on the 2026–2027 calendar: a denunciation's
extensions (Luật Tố cáo 2018, Điều 30), a complaint found complex (Luật Khiếu nại 2011, Điều 28), the
longer intake of a denunciation checked at several places (Luật Tố cáo 2018, Điều 24 khoản 1), and
suspension then resumption (Luật Tố cáo 2018, Điều 34; NĐ 124/2020, Điều 28b as added by NĐ 155/2026).

Tết 2027 as the ``holidays`` package has it: Thursday 4 (29 Tết) – Wednesday 10 February 2027. Each
period is counted from the day of its event, that day not counted, and only its final day moves off
a weekend or holiday (Bộ luật Dân sự 2015, Điều 147 khoản 1, Điều 148 khoản 5).
"""

from datetime import date

import holidays
import pytest

import bot.domain.deadlines as deadlines
from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import ExtensionNotAllowed, NoRule
from bot.domain.kinds import ItemKind

calendar = WorkingCalendar()
C1, C2, D, F = ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation, ItemKind.feedback
ACCEPTED = date(2026, 12, 10)  # Thursday


def test_tet_2027_is_what_the_holidays_package_says():
    tet = {day for day, name in holidays.country_holidays("VN", years=2027).items() if day.month == 2}
    assert tet == {date(2027, 2, day) for day in range(4, 11)}
    assert not any(calendar.is_working_day(day) for day in tet)
    assert calendar.is_working_day(date(2027, 2, 3)) and calendar.is_working_day(date(2027, 2, 11))


# Tố cáo: extensions lengthen the period counted from acceptance

def test_a_denunciation_extended_twice_runs_90_days_from_acceptance_across_tet_2027():
    def extended(times: int, accepted: date = ACCEPTED):
        return deadlines.resolution_deadline(D, accepted, extensions=times, especially_complex=True,
                                             calendar=calendar).due_on

    # 30 days: Saturday 09/01/2027 → Monday 11/01.
    assert extended(0) == date(2027, 1, 11)
    # 60 days: Monday 08/02/2027, the third day of Tết → Thursday 11/02.
    assert extended(1) == date(2027, 2, 11)
    # 90 days: Wednesday 10/03/2027. Adding 30 days to the moved 11/02 would give Saturday 13/03 → 15/03.
    assert extended(2) == date(2027, 3, 10)
    # Accepted Monday 07/12/2026: 60 days end on Friday 05/02 (Tết) → 11/02; 90 days on Sunday 07/03 →
    # Monday 08/03, a week before the 15/03 that counting from the moved end gives.
    assert extended(1, date(2026, 12, 7)) == date(2027, 2, 11)
    assert extended(2, date(2026, 12, 7)) == date(2027, 3, 8)


def test_each_extension_decision_gives_the_lengthened_period_with_its_citation():
    once = deadlines.extend_denunciation(ACCEPTED, 0, especially_complex=True, decided_on=date(2027, 1, 6),
                                         calendar=calendar)
    assert once.due_on == date(2027, 2, 11) and once.rule.rule_id == "denunciation.extension.especially_complex"
    assert once.citation == "Luật Tố cáo 2018, Điều 30 khoản 3, khoản 4 (gia hạn hai lần bằng văn bản)"
    twice = deadlines.extend_denunciation(ACCEPTED, 1, especially_complex=True, decided_on=date(2027, 2, 1),
                                          calendar=calendar)
    assert twice.due_on == date(2027, 3, 10)
    with pytest.raises(ExtensionNotAllowed) as third:
        deadlines.extend_denunciation(ACCEPTED, 2, especially_complex=True, decided_on=date(2027, 3, 1),
                                      calendar=calendar)
    assert (third.value.reason, third.value.values["made"], third.value.values["allowed"]) == ("used_up", 2, 2)


def test_a_case_found_only_complex_is_extended_once():
    once = deadlines.extend_denunciation(ACCEPTED, 0, decided_on=date(2027, 1, 6), calendar=calendar)
    assert once.due_on == date(2027, 2, 11) and "khoản 2" in once.citation
    with pytest.raises(ExtensionNotAllowed) as second:
        deadlines.extend_denunciation(ACCEPTED, 1, decided_on=date(2027, 2, 1), calendar=calendar)
    assert second.value.reason == "used_up"


def test_an_extension_is_refused_once_the_period_has_ended():
    # The period ends at 24:00 of Monday 11/01/2027 (its Saturday end moved): extending that day is
    # still in time, on Tuesday 12/01 it is too late.
    on_the_last_day = deadlines.extend_denunciation(ACCEPTED, 0, especially_complex=True,
                                                    decided_on=date(2027, 1, 11), calendar=calendar)
    assert on_the_last_day.due_on == date(2027, 2, 11)
    with pytest.raises(ExtensionNotAllowed) as late:
        deadlines.extend_denunciation(ACCEPTED, 0, especially_complex=True, decided_on=date(2027, 1, 12),
                                      calendar=calendar)
    assert late.value.reason == "expired" and late.value.values["due"] == date(2027, 1, 11)
    # The second extension, after the first extended period ended on 11/02/2027.
    with pytest.raises(ExtensionNotAllowed) as late_again:
        deadlines.extend_denunciation(ACCEPTED, 1, especially_complex=True, decided_on=date(2027, 2, 12),
                                      calendar=calendar)
    assert late_again.value.reason == "expired"


def test_a_complaint_is_found_complex_only_while_its_period_runs():
    accepted = date(2026, 12, 14)  # Monday: 30 days → Wednesday 13/01/2027, 45 days → Thursday 28/01
    found = deadlines.complex_complaint_deadline(C1, accepted, decided_on=date(2027, 1, 5), calendar=calendar)
    assert found.due_on == date(2027, 1, 28) and found.citation == "Luật Khiếu nại 2011, Điều 28 (vụ việc phức tạp)"
    with pytest.raises(ExtensionNotAllowed) as late:
        deadlines.complex_complaint_deadline(C1, accepted, decided_on=date(2027, 1, 14), calendar=calendar)
    assert late.value.reason == "expired" and late.value.values["due"] == date(2027, 1, 13)


# Tố cáo: intake at several places

def test_checks_at_several_places_give_10_working_days_from_receipt():
    received = date(2026, 12, 7)  # Monday: 7 working days → Wednesday 16/12, 10 → Monday 21/12
    longer = deadlines.several_places_intake(received, decided_on=date(2026, 12, 9), calendar=calendar)
    assert longer.due_on == date(2026, 12, 21)
    assert longer.citation.startswith("Luật Tố cáo 2018, Điều 24 khoản 1 (xác minh tại nhiều địa điểm")
    with pytest.raises(ExtensionNotAllowed) as late:
        deadlines.several_places_intake(received, decided_on=date(2026, 12, 17), calendar=calendar)
    assert late.value.reason == "expired" and late.value.values["due"] == date(2026, 12, 16)


# Suspension and resumption

def test_a_resumed_complaint_has_the_rest_of_its_period_counted_from_the_resumption():
    # Accepted 10/12/2026: 30 days end on Saturday 09/01/2027, so the deadline is Monday 11/01.
    # Suspended on 15/12 (5 days used), resumed on 21/12: 25 days from 21/12 end on Friday 15/01.
    # Adding the 6 days to the moved deadline would give Sunday 17/01 → Monday 18/01.
    resumed, paused = deadlines.resume_resolution(C1, ACCEPTED, suspended_on=date(2026, 12, 15),
                                                  resumed_on=date(2026, 12, 21), calendar=calendar)
    assert (resumed.due_on, paused) == (date(2027, 1, 15), 6)
    assert resumed.citation.startswith("Luật Khiếu nại 2011, Điều 28; ")
    assert "Điều 28b" in resumed.citation and "NĐ 155/2026/NĐ-CP" in resumed.citation
    # Suspended and resumed the same day: nothing changes.
    same_day, paused = deadlines.resume_resolution(C1, ACCEPTED, suspended_on=date(2026, 12, 15),
                                                   resumed_on=date(2026, 12, 15), calendar=calendar)
    assert (same_day.due_on, paused) == (date(2027, 1, 11), 0)


def test_a_second_suspension_adds_to_the_first_and_the_end_moves_off_tet():
    # 6 days paused already (15–21/12); suspended again on 04/01/2027 and resumed on 26/01: 22 more.
    # 30 + 28 days from 10/12/2026: Saturday 06/02/2027, in Tết → Thursday 11/02.
    resumed, paused = deadlines.resume_resolution(C1, ACCEPTED, suspended_on=date(2027, 1, 4),
                                                  resumed_on=date(2027, 1, 26), paused_days=6, calendar=calendar)
    assert (resumed.due_on, paused) == (date(2027, 2, 11), 28)


def test_a_denunciation_suspended_after_an_extension_keeps_both():
    # Luật Tố cáo 2018, Điều 34 khoản 2: the suspended days are not counted. 30 + 30 + 10 days from
    # 10/12/2026: Thursday 18/02/2027.
    resumed, paused = deadlines.resume_resolution(D, ACCEPTED, suspended_on=date(2027, 1, 20),
                                                  resumed_on=date(2027, 1, 30), extensions=1, calendar=calendar)
    assert (resumed.due_on, paused) == (date(2027, 2, 18), 10)
    assert "Luật Tố cáo 2018, Điều 34" in resumed.citation


def test_what_may_be_suspended_and_when():
    assert deadlines.suspension_rule(D, date(2026, 3, 2)).citation == "Luật Tố cáo 2018, Điều 34 khoản 1, khoản 2"
    assert "Điều 11a" in deadlines.suspension_rule(C2, date(2026, 7, 1)).citation
    with pytest.raises(NoRule):  # Luật Khiếu nại 2011 had no suspension before the 2026 amendments
        deadlines.suspension_rule(C1, date(2026, 6, 30))
    for kind in (F, ItemKind.information):
        with pytest.raises(NoRule):
            deadlines.suspension_rule(kind, date(2027, 1, 4))
    # A period that has already ended is not suspended (it could not then be lengthened after the fact).
    deadlines.suspend_resolution(C1, ACCEPTED, on=date(2027, 1, 11), calendar=calendar)
    with pytest.raises(deadlines.SuspensionNotAllowed) as late:
        deadlines.suspend_resolution(C1, ACCEPTED, on=date(2027, 1, 12), calendar=calendar)
    assert late.value.reason == "expired" and late.value.values["due"] == date(2027, 1, 11)


# The working calendar's changes by setting

def test_a_day_the_package_marks_off_can_be_given_back_and_a_saturday_worked():
    # The package gives Tuesday 24/11/2026 off (Ngày Văn hóa Việt Nam); a commune whose law in force
    # does not takes it back, and a Saturday worked in an exchange of days counts.
    assert not calendar.is_working_day(date(2026, 11, 24))
    changed = WorkingCalendar(not_days_off=[date(2026, 11, 24)], working_days=[date(2026, 11, 28)],
                              extra_days_off=[date(2026, 12, 4)])
    assert changed.is_working_day(date(2026, 11, 24)) and changed.is_working_day(date(2026, 11, 28))
    assert not changed.is_working_day(date(2026, 12, 4))
    # Friday 20/11 + 7 working days: 23, 25, 26, 27, 30/11, 01, 02/12 with the package; with the changes
    # 23, 24, 25, 26, 27, 28, 30/11.
    assert calendar.add_working_days(date(2026, 11, 20), 7) == date(2026, 12, 2)
    assert changed.add_working_days(date(2026, 11, 20), 7) == date(2026, 11, 30)


def test_adjusting_a_calendar_replaces_its_changes_and_recounts():
    adjusted = WorkingCalendar()
    assert adjusted.add_working_days(date(2026, 11, 20), 7) == date(2026, 12, 2)  # the year is now loaded
    adjusted.adjust(not_days_off=[date(2026, 11, 24)])
    assert adjusted.add_working_days(date(2026, 11, 20), 7) == date(2026, 12, 1)
    adjusted.adjust()
    assert adjusted.add_working_days(date(2026, 11, 20), 7) == date(2026, 12, 2)


def test_every_suspension_rule_cites_its_article_and_a_kind_has_one_at_a_time():
    for rule in deadlines.PAUSE_RULES:
        assert "Điều" in rule.citation and rule.kind in (C1, C2, D), rule.rule_id
    for kind in (C1, C2, D):
        for day in (date(2026, 6, 30), date(2026, 7, 1), date(2030, 1, 1)):
            assert len([r for r in deadlines.PAUSE_RULES if r.kind == kind and r.in_force_on(day)]) <= 1
