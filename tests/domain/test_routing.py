from bot.domain.routing import RoutingRule, route

HOAN_KIEM, BA_DINH = 70, 4
RULES = [
    RoutingRule(None, "land", 10),        # land goes to the địa chính office everywhere...
    RoutingRule(HOAN_KIEM, "land", 11),   # ...except in Hoàn Kiếm
    RoutingRule(HOAN_KIEM, None, 12),     # everything else in Hoàn Kiếm
    RoutingRule(BA_DINH, "roads", 13),
]


def test_commune_and_category_beats_category_alone():
    assert route(RULES, HOAN_KIEM, "land", 99) == 11


def test_category_alone_beats_commune_alone():
    assert route(RULES, BA_DINH, "land", 99) == 10


def test_commune_alone_catches_other_categories():
    assert route(RULES, HOAN_KIEM, "roads", 99) == 12


def test_nothing_fits_so_the_fallback_unit_gets_it():
    assert route(RULES, BA_DINH, "noise", 99) == 99
    assert route([], HOAN_KIEM, "land", None) is None
    assert route(RULES, None, "roads", 99) == 99


def test_the_order_of_rules_does_not_matter_across_specificity():
    assert route(list(reversed(RULES)), HOAN_KIEM, "land", 99) == 11


def test_between_equal_rules_the_first_listed_wins():
    assert route([RoutingRule(None, "land", 1), RoutingRule(None, "land", 2)], BA_DINH, "land", 99) == 1
