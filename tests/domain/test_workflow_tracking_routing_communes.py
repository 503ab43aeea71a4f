import random

import pytest

from bot.domain.communes import commune_by_code, commune_label, fold, search_communes
from bot.domain.routing import RoutingRule, route
from bot.domain.tracking import ALPHABET, new_tracking_code, normalize_tracking_code
from bot.domain.workflow import TRANSITIONS, Action, IllegalTransition, ItemStatus, is_open, transition


@pytest.mark.parametrize("source, action, target", [(s, a, t) for (s, a), t in TRANSITIONS.items()])
def test_every_allowed_transition(source, action, target):
    assert transition(source, action) is target


@pytest.mark.parametrize("source, action", [
    (ItemStatus.received, Action.answer),
    (ItemStatus.received, Action.close),
    (ItemStatus.closed, Action.accept),
    (ItemStatus.closed, Action.withdraw),
    (ItemStatus.withdrawn, Action.reopen),
    (ItemStatus.refused, Action.accept),
    (ItemStatus.answered, Action.accept),
    (ItemStatus.waiting_info, Action.answer),
    (ItemStatus.escalated, Action.answer),
])
def test_forbidden_transitions_raise(source, action):
    with pytest.raises(IllegalTransition):
        transition(source, action)


def test_withdrawal_is_possible_at_every_open_step_and_never_after():
    for status in ItemStatus:
        allowed = (status, Action.withdraw) in TRANSITIONS
        assert allowed == is_open(status), status


def test_refuse_and_forward_need_a_reason():
    assert Action.refuse.requires_reason and Action.forward.requires_reason
    assert not Action.accept.requires_reason


def test_tracking_codes_are_unique_readable_and_normalised():
    codes = {new_tracking_code() for _ in range(100_000)}
    assert len(codes) == 100_000
    code = next(iter(codes))
    assert code.startswith("TD-") and len(code) == 14
    assert all(ch in ALPHABET for ch in code[3:].replace("-", ""))
    assert not set("0O1IL2Z5S8BUV") & set(ALPHABET)
    assert normalize_tracking_code(code.lower()) == code
    assert normalize_tracking_code(code.replace("-", " ")) == code
    assert normalize_tracking_code(code[3:].replace("-", "")) == code


@pytest.mark.parametrize("junk", ["", "hello", "TD-00000-00000", "TD-KCMJ7-F9NG", "<script>", "TD-KCMJ7-F9NGKX"])
def test_impossible_codes_are_rejected(junk):
    assert normalize_tracking_code(junk) is None


def test_tracking_codes_use_the_rng_given():
    assert new_tracking_code(random.Random(1)) == new_tracking_code(random.Random(1))


def test_routing_prefers_the_most_specific_rule_and_falls_back():
    rules = [RoutingRule(None, "land", 10), RoutingRule(70, "land", 11), RoutingRule(70, None, 12),
             RoutingRule(71, "roads", 13)]
    assert route(rules, 70, "land", 99) == 11
    assert route(rules, 72, "land", 99) == 10
    assert route(rules, 70, "roads", 99) == 12
    assert route(rules, 72, "roads", 99) == 99
    assert route([], 70, "land", None) is None


def test_commune_search_forgives_missing_diacritics_and_case():
    assert fold("Phường Hoàn Kiếm") == "phuong hoan kiem"
    for query in ("hoan kiem", "HOÀN KIẾM", "Phuong Hoan Kiem", "hoan kiem ha noi"):
        assert search_communes(query)[0].label == "Phường Hoàn Kiếm, Thành phố Hà Nội", query
    assert search_communes("ba dinh")[0].label == "Phường Ba Đình, Thành phố Hà Nội"
    assert "Phường Đống Đa, Thành phố Hà Nội" in [c.label for c in search_communes("dong da")]
    assert search_communes("zzqqxx") == []
    assert search_communes("a") == []


def test_communes_by_code():
    assert commune_by_code(70).name == "Phường Hoàn Kiếm"
    assert commune_label(70) == "Phường Hoàn Kiếm, Thành phố Hà Nội"
    assert commune_by_code(999999) is None
