"""Deadlines counted by hand on the 2026–2027 calendar (Tết 2026: 16–20/02; Tết 2027: 04–10/02;
2026-08-31 given off for the working Saturday 2026-08-22; National Day 01–02/09)."""

from datetime import date

import pytest

from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import (
    ExtensionNotAllowed,
    NoRule,
    deadline_for,
    extend_denunciation,
    filing_window_ends,
    rule_for,
)
from bot.domain.kinds import ItemKind, Phase

calendar = WorkingCalendar()


def test_working_days_skip_the_weekend():
    # Friday 20/11 + 1 working day is Monday 23/11; + 2 skips 24/11, Vietnam Culture Day, a day off from 2026.
    assert calendar.add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)
    assert calendar.add_working_days(date(2026, 11, 20), 2) == date(2026, 11, 25)
    assert calendar.add_working_days(date(2026, 11, 27), 5) == date(2026, 12, 4)


def test_the_substituted_day_off_and_the_working_saturday():
    assert not calendar.is_working_day(date(2026, 8, 31))   # day off in lieu
    assert calendar.is_working_day(date(2026, 8, 22))       # Saturday made a working day
    # Thursday 20/08 + 3 working days: Fri 21, Sat 22 (working), Mon 24.
    assert calendar.add_working_days(date(2026, 8, 20), 3) == date(2026, 8, 24)
    # Friday 28/08 + 2 working days: 31/08, 01/09 and 02/09 are off → Thu 03/09, Fri 04/09.
    assert calendar.add_working_days(date(2026, 8, 28), 2) == date(2026, 9, 4)


def test_first_complaint_received_just_before_tet_2026_under_the_2011_rule():
    # Received Tuesday 10/02/2026: 10 calendar days end Friday 20/02, a Tết holiday; Sat/Sun follow,
    # so the period ends at the end of Monday 23/02 (Bộ luật Dân sự Đ.148).
    deadline = deadline_for(ItemKind.complaint_first, Phase.intake, date(2026, 2, 10))
    assert deadline.due_on == date(2026, 2, 23)
    assert deadline.rule.citation == "Luật Khiếu nại 2011, Điều 27"


def test_first_complaint_accepted_just_before_tet_2027_resolution_and_intake_in_working_days():
    # Received Friday 29/01/2027 (after 1/7/2026: 7 working days). Working days after it:
    # Mon 1, Tue 2, Wed 3 /02, then Tết 04–10/02 (Thu–Wed) → Thu 11, Fri 12, Mon 15, Tue 16.
    intake = deadline_for(ItemKind.complaint_first, Phase.intake, date(2027, 1, 29))
    assert intake.due_on == date(2027, 2, 16)
    assert "155/2026" in intake.rule.citation
    # Accepted Tuesday 05/01/2027 → 30 days → Thursday 04/02/2027, a Tết holiday → first working day 11/02.
    resolution = deadline_for(ItemKind.complaint_first, Phase.resolution, date(2027, 1, 5))
    assert resolution.due_on == date(2027, 2, 11)
    assert resolution.rule.citation == "Luật Khiếu nại 2011, Điều 28"


def test_the_intake_rule_switches_on_1_july_2026():
    assert rule_for(ItemKind.complaint_first, Phase.intake, date(2026, 6, 30)).rule_id == "complaint1.intake.2011"
    assert rule_for(ItemKind.complaint_first, Phase.intake, date(2026, 7, 1)).rule_id == "complaint1.intake.2026"
    # 30/06/2026 (Tue) + 10 days = Fri 10/07; 01/07/2026 (Wed) + 7 working days = Fri 10/07 too.
    assert deadline_for(ItemKind.complaint_first, Phase.intake, date(2026, 6, 30)).due_on == date(2026, 7, 10)
    assert deadline_for(ItemKind.complaint_first, Phase.intake, date(2026, 7, 3)).due_on == date(2026, 7, 14)


def test_remote_area_complaints_get_45_days_and_60_when_complex():
    accepted = date(2026, 3, 2)  # Monday
    assert deadline_for(ItemKind.complaint_first, Phase.resolution, accepted, remote_area=True).due_on == \
        date(2026, 4, 16)
    assert deadline_for(ItemKind.complaint_first, Phase.resolution, accepted, remote_area=True,
                        complex_case=True).due_on == date(2026, 5, 4)  # 01/05 holiday, 02–03 weekend
    second = deadline_for(ItemKind.complaint_second, Phase.resolution, accepted, remote_area=True, complex_case=True)
    assert second.due_on == date(2026, 5, 11) and "Điều 37" in second.rule.citation


def test_denunciation_with_two_extensions_when_especially_complex():
    accepted = date(2026, 3, 2)
    first = deadline_for(ItemKind.denunciation, Phase.resolution, accepted)
    assert first.due_on == date(2026, 4, 1) and "Điều 30" in first.rule.citation
    once = extend_denunciation(first.due_on, 0, especially_complex=True)
    assert once.due_on == date(2026, 5, 4)  # 01/05 → Friday holiday, weekend → Monday 04/05
    twice = extend_denunciation(once.due_on, 1, especially_complex=True)
    assert twice.due_on == date(2026, 6, 3)
    with pytest.raises(ExtensionNotAllowed):
        extend_denunciation(twice.due_on, 2, especially_complex=True)
    with pytest.raises(ExtensionNotAllowed):
        extend_denunciation(once.due_on, 1, especially_complex=False)


def test_denunciation_intake_is_longer_when_checks_at_several_places():
    received = date(2026, 3, 6)  # Friday
    assert deadline_for(ItemKind.denunciation, Phase.intake, received).due_on == date(2026, 3, 17)
    assert deadline_for(ItemKind.denunciation, Phase.intake, received, several_places=True).due_on == \
        date(2026, 3, 20)
    assert deadline_for(ItemKind.denunciation, Phase.acceptance_notice, received).due_on == date(2026, 3, 13)


def test_feedback_target_is_marked_as_not_statutory():
    deadline = deadline_for(ItemKind.feedback, Phase.resolution, date(2026, 3, 2))
    assert deadline.due_on == date(2026, 3, 17) and deadline.rule.statutory is False
    assert deadline_for(ItemKind.feedback, Phase.intake, date(2026, 3, 2)).rule.statutory is True


def test_filing_windows():
    assert filing_window_ends(ItemKind.complaint_first, date(2026, 3, 2))[0] == date(2026, 6, 1)
    assert filing_window_ends(ItemKind.complaint_second, date(2026, 3, 2), remote_area=True)[0] == date(2026, 4, 16)


def test_kinds_without_a_rule_say_so():
    with pytest.raises(NoRule):
        deadline_for(ItemKind.information, Phase.resolution, date(2026, 3, 2))
