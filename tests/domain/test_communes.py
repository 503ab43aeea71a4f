import time

import pytest

from bot.domain.communes import commune_by_code, commune_label, fold, search_communes
from tests.fresh_interpreter import modules_loaded

HOAN_KIEM = "Phường Hoàn Kiếm, Thành phố Hà Nội"


def labels(query, limit=8):
    return [c.label for c in search_communes(query, limit=limit)]


def test_fold_drops_diacritics_case_and_punctuation():
    assert fold("Phường Hoàn Kiếm") == "phuong hoan kiem"
    assert fold("ĐẶC KHU  Côn Đảo,") == "dac khu con dao"


@pytest.mark.parametrize("query", ["hoan kiem", "HOÀN KIẾM", "Hoàn Kiếm", "phuong hoan kiem",
                                   "P. Hoàn Kiếm", "hoan kiem ha noi", "Hoàn Kiếm, Thành phố Hà Nội"])
def test_hoan_kiem_is_found_however_it_is_typed(query):
    assert labels(query)[0] == HOAN_KIEM


def test_ba_dinh_finds_the_hanoi_ward_and_its_namesakes():
    found = labels("ba dinh")
    assert found[0] == "Phường Ba Đình, Thành phố Hà Nội"
    assert "Xã Ba Đình, Thanh Hóa" in found


def test_a_province_at_the_end_narrows_namesakes():
    assert len(labels("tan phu")) > 1
    assert labels("tan phu dong nai") == ["Xã Tân Phú, Đồng Nai"]


def test_special_zones_are_found_without_their_prefix():
    assert labels("con dao")[0] == "Đặc khu Côn Đảo, Thành phố Hồ Chí Minh"


def test_exact_names_come_before_longer_names_and_inner_matches():
    found = labels("tan an", limit=20)
    exact = [label for label in found if fold(label.split(",")[0]).endswith(" tan an")]
    assert found[: len(exact)] == exact and len(exact) > 5
    assert "Xã Tân An Hội, Thành phố Hồ Chí Minh" in found[len(exact):]
    hoan = labels("hoan", limit=40)
    assert hoan.index(HOAN_KIEM) < hoan.index("Xã Hội Hoan, Lạng Sơn")  # name starts with it vs a later word


@pytest.mark.parametrize("query", ["zzqqxx", "", "a", "   ", "!!!"])
def test_nonsense_finds_nothing(query):
    assert search_communes(query) == []


def test_limit():
    assert len(search_communes("an", limit=3)) == 3


def test_communes_by_code_and_label():
    assert commune_by_code(70).name == "Phường Hoàn Kiếm"
    assert commune_label(70) == HOAN_KIEM
    assert commune_by_code(999_999) is None
    assert commune_label(999_999) == "999999"


def test_a_search_takes_well_under_2_ms():
    search_communes("warm up")
    queries = ["hoan kiem", "an", "tan phu dong nai", "xa tan", "zzqqxx"] * 20
    started = time.perf_counter()
    for query in queries:
        search_communes(query)
    assert (time.perf_counter() - started) / len(queries) < 0.002


def test_the_index_holds_what_the_package_holds():
    """The index is read from the package's data file; it must be what the package's own objects say."""
    from vietnam_provinces import Province, Ward

    from bot.domain.communes import _index

    provinces = {int(p.code): p.name for p in Province.iter_all()}
    expected = sorted((int(w.code), " ".join(w.name.split()), provinces[int(w.province_code)])
                      for w in Ward.iter_all())
    assert [(c.code, c.name, c.province_name) for c in _index().communes] == expected
    assert len(expected) == 3321


def test_searching_does_not_import_the_package():
    """Its WardCode enum and Ward objects are about 4 MB that a server would keep next to the index."""
    code = ("from bot.domain.communes import search_communes, commune_label; "
            "assert search_communes('hoan kiem')[0].code == 70; assert commune_label(70).startswith('Phường')")
    assert modules_loaded(code, "vietnam_provinces") == []
