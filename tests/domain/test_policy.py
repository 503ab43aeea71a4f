"""The scope policy on its own (bot/policy.py): who may see, act, reveal, assign, forward and publish,
within which unit or commune. No database: an item is anything with a unit, a commune and a kind."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import pytest

from bot.domain.roles import STAFF_ROLES
from bot.policy import (
    NOWHERE,
    ROLES,
    Actor,
    Level,
    Permission,
    Scope,
    inbox_scope,
    is_staff,
    may_act,
    may_assign,
    may_forward,
    may_publish,
    may_reveal,
    may_see_contact,
    may_see_item,
    scope_of,
)
from tests.fresh_interpreter import modules_loaded

HOAN_KIEM, BA_DINH = 70, 4
OFFICE, ECONOMY, THEIR_OFFICE = 1, 2, 11  # units: two of Hoàn Kiếm, one of Ba Đình


@dataclass
class Item:
    unit_id: int | None
    commune_code: int
    kind: str = "feedback"


def staff(role: str, unit_id: int = OFFICE, commune_code: int = HOAN_KIEM) -> Actor:
    return Actor(role=role, unit_id=unit_id, commune_code=commune_code, user_id=100 + unit_id)


OFFICER, LEADER, ADMIN = staff("officer"), staff("leader"), staff("admin")
CITIZEN = Actor(role="citizen", commune_code=HOAN_KIEM, user_id=1)
OURS, OTHER_UNIT, THEIRS = Item(OFFICE, HOAN_KIEM), Item(ECONOMY, HOAN_KIEM), Item(THEIR_OFFICE, BA_DINH)
UNROUTED = Item(None, HOAN_KIEM)


def test_every_staff_role_has_a_row_and_nobody_else_does():
    assert set(ROLES) == set(STAFF_ROLES)
    assert [is_staff(a) for a in (OFFICER, LEADER, ADMIN, CITIZEN)] == [True, True, True, False]
    assert not is_staff(Actor(role="superuser", unit_id=OFFICE, commune_code=HOAN_KIEM))


@pytest.mark.parametrize("actor, ours, other_unit, theirs, unrouted", [
    (OFFICER, True, False, False, False),
    (LEADER, True, False, False, False),
    (ADMIN, True, True, False, True),
    (CITIZEN, False, False, False, False),
])
def test_officers_and_leaders_see_their_unit_and_admins_their_commune_only(actor, ours, other_unit, theirs,
                                                                           unrouted):
    assert [may_see_item(actor, item) for item in (OURS, OTHER_UNIT, THEIRS, UNROUTED)] == [
        ours, other_unit, theirs, unrouted]
    for permission in (Permission.handle, Permission.assign, Permission.forward):
        assert [may_act(actor, permission, item) for item in (OURS, OTHER_UNIT, THEIRS)] == [ours, other_unit, theirs]


def test_the_inbox_scope_is_the_unit_or_the_commune():
    assert inbox_scope(OFFICER) == Scope(Level.unit, unit_id=OFFICE, commune_code=HOAN_KIEM)
    assert inbox_scope(ADMIN) == Scope(Level.commune, commune_code=HOAN_KIEM)
    assert inbox_scope(CITIZEN) == NOWHERE
    # Without a unit or a commune there is nothing to reach: never "every item whose unit is unknown".
    assert scope_of(Actor(role="officer", commune_code=HOAN_KIEM)) == NOWHERE
    assert scope_of(Actor(role="admin", unit_id=OFFICE)) == NOWHERE
    assert not may_see_item(Actor(role="officer", commune_code=HOAN_KIEM), UNROUTED)


def test_a_denouncers_identity_only_by_reveal_and_only_by_leaders_of_the_unit_or_admins_of_the_commune():
    denunciation, elsewhere = Item(OFFICE, HOAN_KIEM, "denunciation"), Item(THEIR_OFFICE, BA_DINH, "denunciation")
    other_unit = Item(ECONOMY, HOAN_KIEM, "denunciation")
    assert [may_reveal(a, denunciation) for a in (OFFICER, LEADER, ADMIN, CITIZEN)] == [False, True, True, False]
    assert [may_reveal(a, other_unit) for a in (LEADER, ADMIN)] == [False, True]
    assert not any(may_reveal(a, elsewhere) for a in (OFFICER, LEADER, ADMIN))
    assert not any(may_see_contact(a, denunciation) for a in (OFFICER, LEADER, ADMIN))
    assert not may_reveal(LEADER, OURS)  # nothing to reveal: a feedback's contact is on its screen
    assert [may_see_contact(a, OURS) for a in (OFFICER, LEADER, ADMIN, CITIZEN)] == [True, True, True, False]
    assert not may_see_contact(ADMIN, THEIRS)


def test_forwarding_stays_within_the_items_commune():
    assert may_forward(OFFICER, OURS, HOAN_KIEM) and may_forward(OFFICER, OURS, None)  # a unit, or out
    assert not may_forward(OFFICER, OURS, BA_DINH)
    assert not may_forward(ADMIN, THEIRS, BA_DINH) and not may_forward(ADMIN, THEIRS, None)


def test_an_item_is_assigned_only_to_staff_of_its_own_unit():
    colleague, economist = staff("officer"), staff("officer", ECONOMY)
    assert may_assign(OFFICER, OURS, colleague) and may_assign(ADMIN, OTHER_UNIT, economist)
    assert not may_assign(ADMIN, OTHER_UNIT, colleague)
    assert not may_assign(OFFICER, OURS, CITIZEN)
    assert not may_assign(ADMIN, THEIRS, staff("officer", THEIR_OFFICE, BA_DINH))


def test_leaders_and_admins_publish_for_their_own_commune_only():
    assert [may_publish(a, HOAN_KIEM) for a in (OFFICER, LEADER, ADMIN, CITIZEN)] == [False, True, True, False]
    assert not may_publish(ADMIN, BA_DINH) and not may_publish(LEADER, None)
    assert not may_publish(Actor(role="admin", unit_id=OFFICE), None)


def test_an_actor_is_scoped_by_the_commune_of_its_unit_not_the_one_it_browses():
    admin = SimpleNamespace(id=7, role="admin", unit_id=OFFICE, commune_code=BA_DINH)  # chose Ba Đình to browse
    assert Actor.of(admin, unit_commune=HOAN_KIEM) == Actor("admin", OFFICE, HOAN_KIEM, 7)
    assert may_see_item(Actor.of(admin, unit_commune=HOAN_KIEM), OURS)
    assert not may_see_item(Actor.of(admin, unit_commune=HOAN_KIEM), THEIRS)
    assert Actor.of(admin).commune_code == BA_DINH  # made by hand, without a unit read: the record's


def test_the_policy_loads_no_framework():
    loaded = modules_loaded("import bot.policy", "")
    assert not [m for m in loaded if m.split(".")[0] in ("sqlalchemy", "aiohttp", "telegram", "storage")]
