"""Deadlines counted by hand on the 2026–2027 calendar.

Tết 2026: Monday 16 – Friday 20 February. Tết 2027: Thursday 4 – Wednesday 10 February.
1 May 2026 is a Friday (Labour Day). 2026-08-31 is given off for the worked Saturday 2026-08-22.
"""

from datetime import date
from itertools import product

import pytest

from bot.domain.calendar import WorkingCalendar
from bot.domain.deadlines import (
    RULES,
    ExtensionNotAllowed,
    NoRule,
    complaint_filing_window_ends,
    deadline_for,
    extend_denunciation,
    rule_for,
)
from bot.domain.kinds import ItemKind, Phase

calendar = WorkingCalendar()
C1, C2, D, F = ItemKind.complaint_first, ItemKind.complaint_second, ItemKind.denunciation, ItemKind.feedback


def due(kind, phase, start, **case):
    return deadline_for(kind, phase, start, calendar=calendar, **case)


# Khiếu nại lần đầu around Tết

def test_first_complaint_received_before_tet_2026_counts_10_calendar_days():
    # Received Tuesday 10/02/2026: + 10 days = Friday 20/02, a Tết holiday, then a weekend → Monday 23/02.
    deadline = due(C1, Phase.intake, date(2026, 2, 10))
    assert deadline.due_on == date(2026, 2, 23)
    assert deadline.rule.citation == "Luật Khiếu nại 2011, Điều 27"


def test_first_complaint_accepted_before_tet_2026_resolution_moves_off_the_holiday():
    # Accepted Monday 19/01/2026: + 30 days = Wednesday 18/02 (Tết) → Monday 23/02.
    assert due(C1, Phase.resolution, date(2026, 1, 19)).due_on == date(2026, 2, 23)
    # Accepted Friday 13/02, the last working day before Tết: + 30 = Sunday 15/03 → Monday 16/03.
    assert due(C1, Phase.resolution, date(2026, 2, 13)).due_on == date(2026, 3, 16)


def test_first_complaint_received_before_tet_2027_counts_7_working_days():
    # Received Friday 29/01/2027: Mon 01, Tue 02, Wed 03/02, Tết 04–10/02, Thu 11, Fri 12, Mon 15, Tue 16.
    deadline = due(C1, Phase.intake, date(2027, 1, 29))
    assert deadline.due_on == date(2027, 2, 16)
    assert deadline.rule.citation.startswith("NĐ 155/2026/NĐ-CP, Điều 10")
    # Accepted Tuesday 05/01/2027: + 30 = Thursday 04/02/2027 (29 Tết) → Thursday 11/02.
    resolution = due(C1, Phase.resolution, date(2027, 1, 5))
    assert resolution.due_on == date(2027, 2, 11)
    assert resolution.rule.citation == "Luật Khiếu nại 2011, Điều 28"


def test_the_complaint_intake_rule_changes_on_1_july_2026():
    # Tuesday 30/06: old rule, 10 calendar days → Friday 10/07.
    old = due(C1, Phase.intake, date(2026, 6, 30))
    assert (old.due_on, old.rule.rule_id) == (date(2026, 7, 10), "complaint1.intake.2011")
    # Wednesday 01/07: new rule, 7 working days: 02, 03, 06, 07, 08, 09, 10/07.
    new = due(C1, Phase.intake, date(2026, 7, 1))
    assert (new.due_on, new.rule.rule_id) == (date(2026, 7, 10), "complaint1.intake.2026")
    # Tuesday 07/07: 08, 09, 10, 13, 14, 15, 16/07 — a day earlier than 10 calendar days (Friday 17).
    assert due(C1, Phase.intake, date(2026, 7, 7)).due_on == date(2026, 7, 16)
    # Friday 03/07: 06–10, 13, 14/07 — a day later than 10 calendar days (Monday 13).
    assert due(C1, Phase.intake, date(2026, 7, 3)).due_on == date(2026, 7, 14)


def test_the_second_complaint_intake_follows_article_36_then_the_decree():
    assert due(C2, Phase.intake, date(2026, 6, 30)).rule.citation == "Luật Khiếu nại 2011, Điều 36 khoản 1"
    assert due(C2, Phase.intake, date(2026, 7, 1)).rule.rule_id == "complaint2.intake.2026"


# Resolution periods

def test_remote_area_complaints_get_longer():
    accepted = date(2026, 3, 2)  # Monday
    assert due(C1, Phase.resolution, accepted).due_on == date(2026, 4, 1)            # 30 days
    remote = due(C1, Phase.resolution, accepted, remote_area=True)
    assert remote.due_on == date(2026, 4, 16)                                        # 45 days, Thursday
    assert remote.rule.citation == "Luật Khiếu nại 2011, Điều 28 (vùng sâu, vùng xa)"
    # 60 days = Friday 01/05, Labour Day, then a weekend → Monday 04/05.
    assert due(C1, Phase.resolution, accepted, remote_area=True, complex_case=True).due_on == date(2026, 5, 4)
    assert due(C1, Phase.resolution, accepted, complex_case=True).due_on == date(2026, 4, 16)  # 45


def test_second_complaints_take_45_60_and_70_days():
    accepted = date(2026, 3, 2)
    assert due(C2, Phase.resolution, accepted).due_on == date(2026, 4, 16)                      # 45
    assert due(C2, Phase.resolution, accepted, complex_case=True).due_on == date(2026, 5, 4)    # 60 → 01/05
    assert due(C2, Phase.resolution, accepted, remote_area=True).due_on == date(2026, 5, 4)     # 60
    remote_complex = due(C2, Phase.resolution, accepted, remote_area=True, complex_case=True)
    assert remote_complex.due_on == date(2026, 5, 11)                                           # 70, Monday
    assert "Điều 37" in remote_complex.rule.citation


# Tố cáo

def test_denunciation_intake_is_7_working_days_or_10_with_checks_at_several_places():
    received = date(2026, 3, 6)  # Friday
    assert due(D, Phase.intake, received).due_on == date(2026, 3, 17)                       # 09–13, 16, 17
    assert due(D, Phase.intake, received, several_places=True).due_on == date(2026, 3, 20)  # + 18, 19, 20
    assert due(D, Phase.forwarding, received).due_on == date(2026, 3, 13)


def test_denunciation_received_just_before_tet_waits_for_the_holidays():
    # Friday 13/02/2026: 23–27/02 and 02–03/03.
    assert due(D, Phase.intake, date(2026, 2, 13)).due_on == date(2026, 3, 3)


def test_the_denouncer_is_told_of_acceptance_within_5_working_days():
    notice = due(D, Phase.acceptance_notice, date(2026, 8, 20))  # Thursday
    # Fri 21, Sat 22 (worked), Mon 24, Tue 25, Wed 26.
    assert notice.due_on == date(2026, 8, 26)
    assert notice.rule.citation == "Luật Tố cáo 2018, Điều 29 khoản 3"


def test_an_especially_complex_denunciation_is_extended_twice_and_no_more():
    accepted = date(2026, 3, 2)
    first = due(D, Phase.resolution, accepted)
    assert first.due_on == date(2026, 4, 1) and first.rule.citation == "Luật Tố cáo 2018, Điều 30 khoản 1"
    # 60 days from acceptance = Friday 01/05 (Labour Day) → Monday 04/05.
    once = extend_denunciation(accepted, 0, especially_complex=True, decided_on=date(2026, 3, 30), calendar=calendar)
    assert once.due_on == date(2026, 5, 4)
    assert "khoản 3" in once.rule.citation
    # 90 days = Sunday 31/05 → Monday 01/06 (not 04/05 + 30 = 03/06: the moved end is not extended).
    twice = extend_denunciation(accepted, 1, especially_complex=True, decided_on=date(2026, 5, 4), calendar=calendar)
    assert twice.due_on == date(2026, 6, 1)
    with pytest.raises(ExtensionNotAllowed):
        extend_denunciation(accepted, 2, especially_complex=True, decided_on=date(2026, 5, 20), calendar=calendar)


def test_a_complex_denunciation_is_extended_once():
    once = extend_denunciation(date(2026, 3, 2), 0, decided_on=date(2026, 3, 30), calendar=calendar)
    assert once.due_on == date(2026, 5, 4) and "khoản 2" in once.rule.citation
    with pytest.raises(ExtensionNotAllowed):
        extend_denunciation(date(2026, 3, 2), 1, decided_on=date(2026, 4, 30), calendar=calendar)


# Phản ánh, kiến nghị

def test_feedback_deadlines_and_which_are_only_targets():
    received = date(2026, 3, 2)  # Monday
    intake = due(F, Phase.intake, received)
    assert intake.due_on == date(2026, 3, 16) and intake.rule.statutory               # 10 working days
    assert intake.rule.citation == "Luật Tiếp công dân 2013, Điều 28 khoản 1"
    target = due(F, Phase.resolution, received)
    assert target.due_on == date(2026, 3, 17) and not target.rule.statutory            # 15 days
    assert "không quy định" in target.rule.citation
    assert due(F, Phase.status_update, received).due_on == date(2026, 3, 11)           # 7 working days
    assert due(F, Phase.escalation, received).due_on == date(2026, 4, 16)              # 45 days
    assert due(F, Phase.forwarding, received).due_on == date(2026, 3, 9)               # 5 working days


# Filing windows

def test_complaint_filing_windows():
    learned = date(2026, 3, 2)
    # 90 days = Sunday 31/05 → Monday 01/06.
    first = complaint_filing_window_ends(C1, learned, calendar=calendar)
    assert first.due_on == date(2026, 6, 1) and first.rule.citation == "Luật Khiếu nại 2011, Điều 9"
    assert complaint_filing_window_ends(C1, learned, remote_area=True, calendar=calendar).due_on == date(2026, 6, 1)
    assert complaint_filing_window_ends(C2, learned, calendar=calendar).due_on == date(2026, 4, 1)       # 30
    assert complaint_filing_window_ends(C2, learned, remote_area=True, calendar=calendar).due_on == \
        date(2026, 4, 16)                                                                                # 45
    with pytest.raises(NoRule):
        complaint_filing_window_ends(F, learned, calendar=calendar)


# The rule table itself

def test_anonymous_information_and_dates_before_a_law_have_no_deadline():
    with pytest.raises(NoRule):
        due(ItemKind.information, Phase.resolution, date(2026, 3, 2))
    with pytest.raises(NoRule):
        due(D, Phase.resolution, date(2018, 12, 31))  # Luật Tố cáo 2018 in force 01/01/2019


def test_every_case_finds_exactly_one_closest_rule():
    days = sorted({r.effective_from for r in RULES if r.effective_from.year > 1}
                  | {r.effective_to for r in RULES if r.effective_to})
    for kind, phase in {(r.kind, r.phase) for r in RULES}:
        for day, complex_case, especially, remote, several in product(days, *[(False, True)] * 4):
            case = {"complex_case": complex_case or especially, "especially_complex": especially,
                    "remote_area": remote, "several_places": several}
            fitting = [r for r in RULES if r.kind == kind and r.phase == phase and r.in_force_on(day) and r.fits(case)]
            closest = [r for r in fitting if r.specificity == max((f.specificity for f in fitting), default=0)]
            assert len(closest) <= 1, (kind, phase, day, case, closest)


def test_replaced_rules_hand_over_without_a_gap():
    for old in (r for r in RULES if r.effective_to):
        successors = [r for r in RULES if (r.kind, r.phase) == (old.kind, old.phase)
                      and r.effective_from.toordinal() == old.effective_to.toordinal() + 1]
        assert successors, old.rule_id


def test_every_rule_cites_its_source():
    for rule in RULES:
        assert rule.rule_id and rule.amount > 0 and rule.unit in ("days", "working_days")
        assert ("Điều" in rule.citation) == rule.statutory, rule.rule_id
    assert len({r.rule_id for r in RULES}) == len(RULES)
    assert rule_for(D, Phase.resolution, date(2026, 3, 2)).rule_id == "denunciation.resolution"
