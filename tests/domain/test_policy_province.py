"""The scope policy's province level (bot/policy.py): the commune's chairman, the province's admin and
overseer, and the two oversight boards — each rule refused out of its scope. No database: an item is
anything with a unit, a commune and a kind; communes are real codes of vietnam-provinces."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.policy import (
    LADDER,
    Actor,
    Level,
    Permission,
    Scope,
    figures_scope,
    inbox_scope,
    is_read_only,
    may_act,
    may_answer_observation,
    may_assign,
    may_forward,
    may_manage,
    may_observe,
    may_publish,
    may_read_observation,
    may_reveal,
    may_see_contact,
    may_see_item,
    stands_in_for_leaders,
    told_at_rung,
)

HA_NOI, CAO_BANG = 1, 4
HOAN_KIEM, BA_VI = 70, 9700                 # communes of Hà Nội
THUC_PHAN = 1273                            # a ward of Cao Bằng
OFFICE, ECONOMY, BA_VI_OFFICE = 1, 2, 3     # commune units
PROVINCE_OFFICE, INSPECTORATE = 50, 51      # units of Hà Nội
CAO_BANG_OFFICE = 60                        # a unit of Cao Bằng
PROVINCE_UNITS = frozenset({PROVINCE_OFFICE, INSPECTORATE, CAO_BANG_OFFICE})
PROJECT, OTHER_PROJECT = 7, 8


@dataclass
class Item:
    unit_id: int | None
    commune_code: int
    kind: str = "feedback"


def commune_role(role: str, commune: int = HOAN_KIEM, unit: int = OFFICE) -> Actor:
    return Actor(role=role, unit_id=unit, commune_code=commune, user_id=10, outside_units=PROVINCE_UNITS)


def province_role(role: str, province: int = HA_NOI, unit: int = INSPECTORATE) -> Actor:
    return Actor(role=role, unit_id=unit, province_code=province, user_id=20)


def board(kind: str, commune: int = HOAN_KIEM, project: int | None = None, board_id: int = 5) -> Actor:
    return Actor(role=f"{kind}_board", commune_code=commune, user_id=30, board_id=board_id, project_id=project,
                 outside_units=PROVINCE_UNITS)


CHAIRMAN, VICE, ADMIN = commune_role("chairman"), commune_role("vice_chairman"), commune_role("admin")
OVERSEER, PROVINCE_ADMIN = province_role("province_overseer"), province_role("province_admin")
INSPECTION, INVESTMENT = board("inspection"), board("investment", project=PROJECT)
LEADER = Actor(role="leader", unit_id=OFFICE, commune_code=HOAN_KIEM, user_id=40)
PROVINCE_OFFICER = Actor(role="officer", unit_id=PROVINCE_OFFICE, province_code=HA_NOI, user_id=50)

OURS = Item(ECONOMY, HOAN_KIEM)                          # another unit of the commune than the actor's
DENUNCIATION = Item(ECONOMY, HOAN_KIEM, "denunciation")
BA_VI_ITEM = Item(BA_VI_OFFICE, BA_VI)
SECOND = Item(PROVINCE_OFFICE, HOAN_KIEM, "complaint_second")  # about Hoàn Kiếm, held by the province
CAO_BANG_ITEM = Item(CAO_BANG_OFFICE, THUC_PHAN)
READ_ONLY = (OVERSEER, PROVINCE_ADMIN, INSPECTION, INVESTMENT)
ACTING = (Permission.handle, Permission.assign, Permission.forward, Permission.reveal, Permission.see_contact,
          Permission.publish)


# -- the commune's chairman ----------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [CHAIRMAN, VICE])
def test_the_chairman_sees_and_acts_on_every_item_of_the_commune_and_no_other(head):
    assert may_see_item(head, OURS) and may_act(head, Permission.handle, OURS)
    assert may_reveal(head, DENUNCIATION) and not may_see_contact(head, DENUNCIATION)
    assert not may_see_item(head, BA_VI_ITEM) and not may_reveal(head, Item(BA_VI_OFFICE, BA_VI, "denunciation"))
    assert inbox_scope(head).level is Level.commune


@pytest.mark.parametrize("actor", [CHAIRMAN, ADMIN, LEADER])
def test_a_communes_scope_stops_at_the_provinces_units(actor):
    """A second complaint is decided above the commune whose decision it contests (Luật Khiếu nại 2011,
    Điều 7): though it is about Hoàn Kiếm, Hoàn Kiếm's people neither see nor act on it."""
    assert not may_see_item(actor, SECOND) and not may_act(actor, Permission.handle, SECOND)
    assert may_see_item(PROVINCE_OFFICER, SECOND) and may_act(PROVINCE_OFFICER, Permission.handle, SECOND)
    assert may_see_item(OVERSEER, SECOND)


# -- the province ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reader", [OVERSEER, PROVINCE_ADMIN])
def test_the_provinces_readers_read_every_commune_of_their_province_and_act_on_nothing(reader):
    for item in (OURS, BA_VI_ITEM, SECOND, DENUNCIATION):
        assert may_see_item(reader, item)
        assert not any(may_act(reader, permission, item) for permission in ACTING)
        assert not may_reveal(reader, item) and not may_see_contact(reader, item)
    assert not may_see_item(reader, CAO_BANG_ITEM)
    assert not may_see_item(province_role(reader.role, CAO_BANG, CAO_BANG_OFFICE), OURS)
    assert inbox_scope(reader) == Scope(Level.province, province_code=HA_NOI)
    assert figures_scope(reader).covers(None, BA_VI) and not figures_scope(reader).covers(None, THUC_PHAN)
    assert not may_publish(reader, HOAN_KIEM) and is_read_only(reader)


def test_a_province_unit_reaches_nothing_without_its_province():
    assert inbox_scope(Actor(role="province_overseer", unit_id=INSPECTORATE)).level is Level.nothing
    assert not may_see_item(Actor(role="province_overseer", unit_id=INSPECTORATE, commune_code=HOAN_KIEM), OURS)


def test_people_units_and_routing_are_managed_by_the_communes_admin_and_the_provinces_admin_only():
    assert may_manage(ADMIN, HOAN_KIEM) and not may_manage(ADMIN, BA_VI) and not may_manage(ADMIN, None, HA_NOI)
    assert may_manage(PROVINCE_ADMIN, HOAN_KIEM) and may_manage(PROVINCE_ADMIN, BA_VI)
    assert may_manage(PROVINCE_ADMIN, None, HA_NOI) and not may_manage(PROVINCE_ADMIN, THUC_PHAN)
    assert not any(may_manage(actor, HOAN_KIEM) for actor in (CHAIRMAN, LEADER, OVERSEER, INSPECTION, INVESTMENT))


# -- oversight boards ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("member", [INSPECTION, INVESTMENT])
def test_a_board_reads_its_communes_items_without_any_contact_and_does_nothing_else(member):
    for item in (OURS, DENUNCIATION, Item(OFFICE, HOAN_KIEM, "complaint_first")):
        assert may_see_item(member, item)
        assert not any(may_act(member, permission, item) for permission in ACTING)
        assert not may_see_contact(member, item) and not may_reveal(member, item)
        assert not may_forward(member, item, None) and not may_forward(member, item, HOAN_KIEM)
        assert not may_assign(member, item, commune_role("officer", unit=ECONOMY))
    assert not may_see_item(member, BA_VI_ITEM) and not may_see_item(member, SECOND)
    assert not may_publish(member, HOAN_KIEM) and not may_manage(member, HOAN_KIEM)
    assert not may_answer_observation(member, HOAN_KIEM)
    assert is_read_only(member) and figures_scope(member).covers(None, HOAN_KIEM)


def test_a_board_observes_its_own_commune_and_a_projects_board_its_own_project():
    assert may_observe(INSPECTION, HOAN_KIEM) and not may_observe(INSPECTION, BA_VI)
    assert may_observe(INVESTMENT, HOAN_KIEM, PROJECT) and may_observe(INVESTMENT, HOAN_KIEM)
    assert not may_observe(INVESTMENT, HOAN_KIEM, OTHER_PROJECT)
    assert not any(may_observe(actor, HOAN_KIEM) for actor in (CHAIRMAN, ADMIN, LEADER, OVERSEER, PROVINCE_ADMIN))
    assert not may_observe(Actor(role="inspection_board", user_id=1), HOAN_KIEM)  # no board: nowhere


def test_observations_are_answered_by_the_commune_and_read_by_their_board_and_the_province():
    assert may_answer_observation(CHAIRMAN, HOAN_KIEM) and may_answer_observation(ADMIN, HOAN_KIEM)
    assert not may_answer_observation(CHAIRMAN, BA_VI)
    assert not any(may_answer_observation(a, HOAN_KIEM) for a in (LEADER, OVERSEER, PROVINCE_ADMIN, INSPECTION))
    assert may_read_observation(INSPECTION, HOAN_KIEM, 5) and not may_read_observation(INSPECTION, HOAN_KIEM, 6)
    assert may_read_observation(CHAIRMAN, HOAN_KIEM, 6) and may_read_observation(OVERSEER, BA_VI, 9)
    assert not may_read_observation(board("inspection", BA_VI, board_id=9), HOAN_KIEM, 5)
    assert not may_read_observation(province_role("province_overseer", CAO_BANG, CAO_BANG_OFFICE), HOAN_KIEM, 5)


# -- forwarding to the province ---------------------------------------------------------------------------------

def test_an_item_is_forwarded_to_a_unit_of_its_own_province_only():
    officer = commune_role("officer", unit=ECONOMY)
    assert may_forward(officer, OURS, None, to_province=HA_NOI)
    assert not may_forward(officer, OURS, None, to_province=CAO_BANG)


# -- the escalation ladder ------------------------------------------------------------------------------------

def test_an_overdue_item_climbs_from_the_units_leaders_to_the_chairman_to_the_provinces_overseer():
    assert LADDER == (Level.unit, Level.commune, Level.province)
    ours = Item(OFFICE, HOAN_KIEM)
    told = {rung: [a.role for a in (LEADER, ADMIN, CHAIRMAN, VICE, OVERSEER, PROVINCE_ADMIN, INSPECTION)
                   if told_at_rung(a, ours, rung)] for rung in LADDER}
    assert told == {Level.unit: ["leader"], Level.commune: ["chairman", "vice_chairman"],
                    Level.province: ["province_overseer"]}
    assert stands_in_for_leaders(ADMIN, ours) and not stands_in_for_leaders(CHAIRMAN, ours)
    # Out of scope, never told: another commune's chairman, another province's overseer, a commune's
    # chairman of an item the province holds.
    assert not told_at_rung(commune_role("chairman", BA_VI, BA_VI_OFFICE), ours, Level.commune)
    assert not told_at_rung(province_role("province_overseer", CAO_BANG, CAO_BANG_OFFICE), ours, Level.province)
    assert not told_at_rung(CHAIRMAN, SECOND, Level.commune) and told_at_rung(OVERSEER, SECOND, Level.province)
