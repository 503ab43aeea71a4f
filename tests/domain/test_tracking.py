import random

import pytest

from bot.domain.tracking import ALPHABET, new_tracking_code, normalize_tracking_code


def test_codes_are_short_and_drawn_from_the_readable_alphabet():
    code = new_tracking_code()
    assert len(code) == 14 and code[:3] == "TD-" and code[8] == "-"
    assert set(code[3:8] + code[9:]) <= set(ALPHABET)
    assert not set("OQILZSGBUVFJW") & set(ALPHABET)
    assert len(ALPHABET) ** 10 >= 2 ** 45


def test_codes_do_not_repeat_over_100k():
    rng = random.Random(20260701)
    assert len({new_tracking_code(rng) for _ in range(100_000)}) == 100_000


def test_codes_come_from_the_rng_given():
    assert new_tracking_code(random.Random(7)) == new_tracking_code(random.Random(7))
    assert new_tracking_code() != new_tracking_code()


@pytest.mark.parametrize("typed", [
    "TD-4K7QX-M9PA3".replace("Q", "0"),  # as displayed
    "td-4k70x-m9pa3",                    # lower case
    "TD 4K70X M9PA3",                    # spaces
    "TD4K70XM9PA3",                      # no dashes
    "4K70X-M9PA3",                       # no prefix
    " 4k70x m9pa3 ",
    "TD-4K7OX-M9PA3",                    # letter O read as zero
    "tđ-4k7ox-m9pa3",                    # Vietnamese keyboard đ
])
def test_what_citizens_type_is_understood(typed):
    assert normalize_tracking_code(typed) == "TD-4K70X-M9PA3"


def test_look_alikes_read_as_the_digit_they_resemble():
    assert normalize_tracking_code("TD-ILZSG-BOQ00") == "TD-11256-80000"


def test_round_trip():
    rng = random.Random(3)
    for _ in range(1000):
        code = new_tracking_code(rng)
        assert normalize_tracking_code(code.lower().replace("-", " ")) == code


@pytest.mark.parametrize("junk", [
    None, "", "hello", "TD-4K70X-M9PA", "TD-4K70X-M9PA33", "XX-4K70X-M9PA3", "TD-4K70X-M9PAU",
    "TD-VVVVV-VVVVV", "<script>alert(1)</script>", "khiếu nại đất đai", "TD-" + "4" * 500,
])
def test_impossible_codes_are_rejected(junk):
    assert normalize_tracking_code(junk) is None
