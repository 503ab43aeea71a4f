"""Where a commune's items go when a province deploys one tiepdan for all its communes
(bot/domain/routing.py), and the clock of an oversight board's observation (bot/domain/oversight.py)."""

from __future__ import annotations

from datetime import date

from bot.domain.oversight import OWN_TARGET, answer_due, answer_rule
from bot.domain.routing import RoutingRule, handler_for, second_complaint_handler
from bot.domain.provinces import communes_of, province_by_name, province_name, province_of

HOAN_KIEM, BAT_TRANG = 70, 583
OWN_FALLBACK, LAND_UNIT, PROVINCE_FALLBACK, SERVING_UNIT = 1, 2, 50, 51
RULES = [RoutingRule(HOAN_KIEM, "land", LAND_UNIT)]


def test_a_commune_with_units_keeps_its_items():
    assert handler_for(RULES, HOAN_KIEM, "land", commune_fallback=OWN_FALLBACK,
                       province_fallback=PROVINCE_FALLBACK) == LAND_UNIT
    assert handler_for(RULES, HOAN_KIEM, "noise", commune_fallback=OWN_FALLBACK,
                       province_fallback=PROVINCE_FALLBACK) == OWN_FALLBACK


def test_a_commune_without_units_goes_to_the_unit_named_for_it_then_the_provinces_fallback():
    assert handler_for([], BAT_TRANG, "land", commune_fallback=None, served_by=SERVING_UNIT,
                       province_fallback=PROVINCE_FALLBACK) == SERVING_UNIT
    assert handler_for([], BAT_TRANG, "land", commune_fallback=None,
                       province_fallback=PROVINCE_FALLBACK) == PROVINCE_FALLBACK


def test_a_commune_whose_citizens_are_sent_elsewhere_has_no_unit_on_tiepdan():
    assert handler_for([], BAT_TRANG, "land", commune_fallback=None, referred=True,
                       province_fallback=PROVINCE_FALLBACK) is None
    assert handler_for([], BAT_TRANG, "land", commune_fallback=None) is None


def test_a_second_complaint_goes_to_the_provinces_unit_when_there_is_one():
    assert second_complaint_handler(PROVINCE_FALLBACK, LAND_UNIT) == PROVINCE_FALLBACK
    assert second_complaint_handler(None, LAND_UNIT) == LAND_UNIT


def test_provinces_come_from_the_package():
    assert province_of(HOAN_KIEM) == province_of(BAT_TRANG) == 1 and province_name(1) == "Thành phố Hà Nội"
    assert HOAN_KIEM in communes_of(1) and len(communes_of(1)) == 126
    assert province_by_name("ha noi") == province_by_name("Thành phố Hà Nội") == 1
    assert province_of(99_999_999) is None and province_by_name("Atlantis") is None


def test_the_commune_answers_a_boards_observation_within_15_days_counted_as_the_civil_code_counts():
    due, rule = answer_due("inspection", date(2026, 3, 2))  # a Monday
    assert due == date(2026, 3, 17) and rule.statutory and "Điều 40 khoản 1 điểm c" in rule.citation
    due, rule = answer_due("investment", date(2026, 3, 6))  # day 15 is Saturday 21/3: the period ends Monday
    assert due == date(2026, 3, 23) and "Điều 45 khoản 2 điểm c" in rule.citation


def test_a_board_the_law_sets_no_period_for_gets_the_communes_own_target_marked_as_such():
    assert answer_rule("neighbourhood_watch") is OWN_TARGET and not OWN_TARGET.statutory
    due, rule = answer_due("neighbourhood_watch", date(2026, 3, 2))
    assert rule is OWN_TARGET and due == date(2026, 3, 23)  # 15 working days
