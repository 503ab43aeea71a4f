"""Who may do what, and where: the one answer the chat, the staff console, reports and notices ask.

Since 1/7/2025 local government has two levels, the province and the commune (xã, phường, đặc khu), and a
province deploys one tiepdan for all its communes. Every member of staff acts within a scope — their
unit, their whole commune, or the whole province — and their role grants a set of permissions inside it.
A rule is a row of ``ROLES``, not a branch in a handler. Pure: no database, no web, no chat; callers pass
an ``Actor`` and what is acted on.

    role               level     what it is for
    officer            unit      works the items of their unit
    leader             unit      and reveals a denouncer, publishes, is told when an item is overdue,
                                 reads the unit's figures (reports, dashboard)
    admin              commune   văn phòng UBND: every item of the commune, its people, units and routing
    chairman,          commune   chủ tịch / phó chủ tịch UBND xã: every item of the commune, its
    vice_chairman                escalations, a denouncer's identity with a reason, the boards' observations
    province_admin     province  reads every commune of the province, its figures; manages people and units
    province_overseer  province  reads every commune, its figures, and is told of escalations from communes
    inspection_board   commune   Ban Thanh tra nhân dân (Luật Thực hiện dân chủ ở cơ sở 2022, Điều 36–40)
    investment_board   commune   Ban Giám sát đầu tư của cộng đồng of one project (Điều 41–45)

The two boards read (never a denouncer's identity, never a complainant's contact) and record
observations (kiến nghị, Điều 38 khoản 2, 5; Điều 43 khoản 2) which the commune answers within 15 days
(Điều 40 khoản 1 điểm c, Điều 45 khoản 2 điểm c); they never act on an item.

A commune's scope stops at the province's units: an item held by one (a second complaint, decided above
the commune that made the first decision — Luật Khiếu nại 2011, Điều 7) is the province's, not the
commune's, though it is about the commune. Overdue items climb a ladder (``LADDER``): the unit's leaders,
then the commune's chairman, then the province's overseer.

    actor = Actor(role="admin", unit_id=3, commune_code=70, user_id=7)
    may_see_item(actor, item)                 # item: anything with unit_id, commune_code and kind
    may_act(actor, Permission.handle, item)   # accept, answer, extend, refuse, close...
    inbox_scope(actor)                        # Scope(Level.commune, commune_code=70)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from bot.domain.kinds import ItemKind
from bot.domain.provinces import province_of


class Level(Enum):
    """How far an actor's scope reaches."""

    nothing = "nothing"
    unit = "unit"
    commune = "commune"
    province = "province"


class Permission(Enum):
    see = "see"                  # open an item, find it in an inbox, be told of it
    see_contact = "see_contact"  # a petitioner's name, address and phone; a denouncer's only through reveal
    handle = "handle"            # the workflow's moves: accept, ask for information, answer, extend, refuse, close
    assign = "assign"            # give an item to a member of its unit's staff
    forward = "forward"          # to another unit of the item's commune or of its province, or out to another authority
    reveal = "reveal"            # a denouncer's identity, with a reason, as an audit event (Luật Tố cáo 2018, Điều 47)
    publish = "publish"          # announcements, project progress and closing consultations of the commune
    figures = "figures"          # deadlines kept and missed, items by commune, of the scope
    manage = "manage"            # the scope's people, units and routing (imports, invites)
    escalation = "escalation"    # be told when an item of the scope is overdue, at the rung of the role's level
    observe = "observe"          # record an oversight board's observation (kiến nghị)
    answer_observation = "answer_observation"  # the commune's answer to a board's observation


@dataclass(frozen=True)
class Role:
    level: Level
    permissions: frozenset[Permission]


CASEWORK = frozenset({Permission.see, Permission.see_contact, Permission.handle, Permission.assign,
                      Permission.forward})
LEADERSHIP = CASEWORK | {Permission.reveal, Permission.publish}
COMMUNE_HEAD = LEADERSHIP | {Permission.figures, Permission.escalation, Permission.answer_observation}
# Read-only: items without any contact, figures, and an observation of their own.
OVERSIGHT = frozenset({Permission.see, Permission.figures, Permission.observe})

ROLES: dict[str, Role] = {
    "officer": Role(Level.unit, CASEWORK),
    # A unit's leader reads their unit's figures: the reports and the dashboard (bot/reports/).
    "leader": Role(Level.unit, LEADERSHIP | {Permission.escalation, Permission.figures}),
    "admin": Role(Level.commune, LEADERSHIP | {Permission.figures, Permission.manage, Permission.answer_observation}),
    "chairman": Role(Level.commune, COMMUNE_HEAD),
    "vice_chairman": Role(Level.commune, COMMUNE_HEAD),
    "province_admin": Role(Level.province, frozenset({Permission.see, Permission.figures, Permission.manage})),
    "province_overseer": Role(Level.province, frozenset({Permission.see, Permission.figures, Permission.escalation})),
    "inspection_board": Role(Level.commune, OVERSIGHT),
    "investment_board": Role(Level.commune, OVERSIGHT),
}
NO_ROLE = Role(Level.nothing, frozenset())  # citizens: their own items only, which their flows check
BOARD_ROLES = {"inspection": "inspection_board", "investment": "investment_board"}  # board kind → role

# The rungs an overdue item climbs (scheduler/sweep.py says after how many working days).
LADDER = (Level.unit, Level.commune, Level.province)


@dataclass(frozen=True)
class Actor:
    """A person acting, as the policy sees them: what they were appointed to — a unit (and so its
    commune, or its province for a province unit) or an oversight board (its commune, its project).
    The commune a person picks in the settings only chooses what their menus show.

    ``outside_units``: the province's units, which a commune's scope does not reach."""

    role: str
    unit_id: int | None = None
    commune_code: int | None = None
    user_id: int | None = None
    province_code: int | None = None
    board_id: int | None = None
    project_id: int | None = None
    outside_units: frozenset[int] = field(default=frozenset(), compare=False)

    @classmethod
    def of(cls, user, *, unit_commune: int | None = None, unit_province: int | None = None) -> "Actor":
        """From a stored user; ``unit_commune`` (their unit's commune, when the caller read it) wins over
        the commune on their record, which staff made by hand without a unit fall back to. A board's
        member and a province unit's staff never reach a commune through their record."""
        commune = unit_commune if unit_commune is not None else (
            None if unit_province is not None or user.role in BOARD_ROLES.values() else user.commune_code)
        return cls(role=user.role, unit_id=user.unit_id, commune_code=commune, user_id=user.id,
                   province_code=unit_province)

    @property
    def grants(self) -> Role:
        return ROLES.get(self.role, NO_ROLE)

    def holds(self, permission: Permission) -> bool:
        return permission in self.grants.permissions


@dataclass(frozen=True)
class Scope:
    """What an actor's permissions reach: one unit, one commune (short of the province's units), one
    province, or nothing."""

    level: Level
    unit_id: int | None = None
    commune_code: int | None = None
    province_code: int | None = None
    outside_units: frozenset[int] = field(default=frozenset(), compare=False)

    def covers(self, unit_id: int | None, commune_code: int | None) -> bool:
        if self.level is Level.unit:
            return self.unit_id is not None and unit_id == self.unit_id
        if self.level is Level.commune:
            return (self.commune_code is not None and commune_code == self.commune_code
                    and unit_id not in self.outside_units)
        if self.level is Level.province:
            return self.province_code is not None and province_of(commune_code) == self.province_code
        return False


NOWHERE = Scope(Level.nothing)


class Target(Protocol):
    """An item, as far as the policy cares (storage.models.Item is one)."""

    unit_id: int | None
    commune_code: int
    kind: str


def is_staff(actor: Actor) -> bool:
    return actor.role in ROLES


def is_read_only(actor: Actor) -> bool:
    """Sees without acting on items: the oversight boards and the province's readers."""
    return is_staff(actor) and not actor.holds(Permission.handle)


def scope_of(actor: Actor) -> Scope:
    """The actor's scope; one whose unit, commune or province is unknown reaches nothing."""
    level = actor.grants.level
    if level is Level.unit and actor.unit_id is not None:
        return Scope(level, unit_id=actor.unit_id, commune_code=actor.commune_code)
    if level is Level.commune and actor.commune_code is not None:
        return Scope(level, commune_code=actor.commune_code, outside_units=actor.outside_units)
    if level is Level.province and actor.province_code is not None:
        return Scope(level, province_code=actor.province_code)
    return NOWHERE


def inbox_scope(actor: Actor) -> Scope:
    """The items an actor's inbox lists: those they may see."""
    return scope_of(actor) if actor.holds(Permission.see) else NOWHERE


def figures_scope(actor: Actor) -> Scope:
    """The items whose figures (deadlines kept or missed) an actor may read."""
    return scope_of(actor) if actor.holds(Permission.figures) else NOWHERE


def may_act(actor: Actor, permission: Permission, item: Target) -> bool:
    return actor.holds(permission) and scope_of(actor).covers(item.unit_id, item.commune_code)


def may_see_item(actor: Actor, item: Target) -> bool:
    return may_act(actor, Permission.see, item)


def may_see_contact(actor: Actor, item: Target) -> bool:
    """A petitioner's contact on the item's screen; a denouncer's is never shown there (Luật Tố cáo 2018,
    Điều 47), only revealed. Boards and the province's readers never see one."""
    return not ItemKind(item.kind).identity_secret and may_act(actor, Permission.see_contact, item)


def may_reveal(actor: Actor, item: Target) -> bool:
    """A denouncer's identity: a leader of the item's unit, or an admin or the chairman of its commune,
    with a reason."""
    return ItemKind(item.kind).identity_secret and may_act(actor, Permission.reveal, item)


def may_forward(actor: Actor, item: Target, to_commune: int | None, *, to_province: int | None = None) -> bool:
    """To a unit of the item's own commune (``to_commune``: that unit's), to a unit of its own province
    (``to_province``: that unit's), or out of tiepdan (both None)."""
    if not may_act(actor, Permission.forward, item):
        return False
    if to_province is not None:
        return to_province == province_of(item.commune_code)
    return to_commune is None or to_commune == item.commune_code


def may_assign(actor: Actor, item: Target, assignee: Actor) -> bool:
    """Only to staff of the item's own unit who work items."""
    return (may_act(actor, Permission.assign, item) and assignee.holds(Permission.handle)
            and assignee.unit_id is not None and assignee.unit_id == item.unit_id)


def may_publish(actor: Actor, commune_code: int | None) -> bool:
    """On behalf of the commune the actor serves, and no other."""
    return (actor.holds(Permission.publish) and actor.grants.level in (Level.unit, Level.commune)
            and actor.commune_code is not None and commune_code == actor.commune_code)


def may_receive(actor: Actor, commune_code: int | None) -> bool:
    """Record a reception (a walk-in, a letter, a call, a reception session) in a commune's register: its
    staff who handle items, at unit or commune level. The desk is often the office's officer; the item
    then goes to the unit routing names, where the policy's other rules apply."""
    return (actor.holds(Permission.handle) and actor.grants.level in (Level.unit, Level.commune)
            and actor.commune_code is not None and commune_code == actor.commune_code)


def may_manage(actor: Actor, commune_code: int | None, province_code: int | None = None) -> bool:
    """People, units and routing: of the actor's own commune, or for a province admin of any commune of
    the province and of the province's own units (``commune_code`` None, ``province_code`` theirs)."""
    if not actor.holds(Permission.manage):
        return False
    if actor.grants.level is Level.province:
        wanted = province_code if commune_code is None else province_of(commune_code)
        return actor.province_code is not None and wanted == actor.province_code
    return actor.commune_code is not None and commune_code == actor.commune_code


def may_observe(actor: Actor, commune_code: int | None, project_id: int | None = None) -> bool:
    """A board records an observation about its own commune; a project's board about its project."""
    if not actor.holds(Permission.observe) or actor.commune_code is None or commune_code != actor.commune_code:
        return False
    return actor.project_id is None or project_id in (None, actor.project_id)


def may_answer_observation(actor: Actor, commune_code: int | None) -> bool:
    """The commune the observation is about answers it: its chairman or its admin."""
    return (actor.holds(Permission.answer_observation) and actor.commune_code is not None
            and commune_code == actor.commune_code)


def may_read_observation(actor: Actor, commune_code: int, board_id: int) -> bool:
    """A board's observation: its own members, the commune that answers it, the province's readers."""
    if actor.board_id is not None and actor.board_id == board_id and actor.holds(Permission.observe):
        return True
    if may_answer_observation(actor, commune_code):
        return True
    return actor.grants.level is Level.province and figures_scope(actor).covers(None, commune_code)


def rung_of(actor: Actor) -> Level | None:
    """The rung of ``LADDER`` at which the actor is told of overdue items, if any."""
    return actor.grants.level if actor.holds(Permission.escalation) else None


def told_at_rung(actor: Actor, item: Target, rung: Level) -> bool:
    """Whether the actor is told when an overdue item reaches ``rung``: those whose rung it is and whose
    scope covers the item."""
    return rung_of(actor) is rung and scope_of(actor).covers(item.unit_id, item.commune_code)


def stands_in_for_leaders(actor: Actor, item: Target) -> bool:
    """A unit without a leader: the admins of the item's commune are told at the unit's rung."""
    return (actor.holds(Permission.manage) and actor.grants.level is Level.commune
            and scope_of(actor).covers(item.unit_id, item.commune_code))
