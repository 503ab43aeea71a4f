"""The officer's side: invites, the inbox, and the actions whose legal effects go beyond a
status change (acceptance starts the resolution clock; extensions follow the law of the kind).

Every screen and action asks the scope policy (bot/policy.py) here, on the server, whatever buttons a
client shows; ``actor_for`` gives it the commune of the unit a person was appointed to.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, func, or_, select, update

from bot import policy
from bot.domain.deadlines import (
    Deadline,
    ExtensionNotAllowed,
    NoRule,
    PauseRule,
    SuspensionNotAllowed,
    complex_complaint_deadline,
    deadline_for,
    extend_denunciation,
    resume_resolution,
    several_places_intake,
    suspend_resolution,
    suspension_rule,
)
from bot.domain.dialog import Button, Reply
from bot.domain.kinds import ItemKind, Phase
from bot.domain.provinces import communes_of
from bot.domain.roles import UNIT_STAFF_ROLES
from bot.domain.workflow import OPEN, Action, ItemStatus
from bot.petitions import move
from bot.organisation import province_unit_ids
from bot.policy import BOARD_ROLES, Actor, Level, Permission, Scope
from bot.texts import t
from storage.models import (
    BoardInvite,
    Invite,
    Item,
    ItemDeadline,
    ItemEvent,
    OversightBoard,
    Unit,
    User,
    utcnow,
)

INVITE_ALPHABET = "ACDEFGHJKMNPQRTWXY34679"


class UnknownUnit(LookupError):
    pass


class NotAllowed(PermissionError):
    """The user may not see or act on this item."""


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


class WrongRole(ValueError):
    """A role no invite to this unit can give: a board's (invited to its board), a province's role in a
    commune's unit, a commune's (admin, chairman) in a province unit."""


def role_fits(role: str, unit: Unit) -> bool:
    grants = policy.ROLES.get(role)
    if grants is None or role in BOARD_ROLES.values():
        return False
    if grants.level is Level.province:
        return unit.at_province
    return grants.level is Level.unit or not unit.at_province


async def create_invite(uows, unit_id: int, role: str, *, days: int = 7) -> str:
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(12))
    async with uows() as uow:
        unit = await uow.units.get(unit_id)
        if unit is None:
            raise UnknownUnit(unit_id)
        if not role_fits(role, unit):
            raise WrongRole(f"{role} cannot be appointed to {unit.name}")
        uow.session.add(Invite(code_hash=_hash(code), unit_id=unit_id, role=role,
                               expires_at=utcnow() + timedelta(days=days)))
        await uow.commit()
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


async def create_board_invite(uows, board_id: int, *, days: int = 7) -> str:
    """A one-time code that makes its redeemer a member of an oversight board (bot/oversight.py)."""
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(12))
    async with uows() as uow:
        if await uow.session.get(OversightBoard, board_id) is None:
            raise UnknownUnit(board_id)
        uow.session.add(BoardInvite(code_hash=_hash(code), board_id=board_id, expires_at=utcnow() + timedelta(days=days)))
        await uow.commit()
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


async def redeem_invite(uow, user: User, code: str) -> Unit | OversightBoard | None:
    """Make ``user`` staff of the invite's unit, or a member of the invite's board; None when the code
    is unknown, used or expired.

    One conditional UPDATE claims the invite: of people redeeming one code at once, the database lets
    exactly one row change (PostgreSQL re-checks the condition once the first claim commits)."""
    now = utcnow()
    claimed = (await uow.session.execute(
        update(Invite)
        .where(Invite.code_hash == _hash(code), Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now, used_by=user.id)
        .returning(Invite.unit_id, Invite.role)
        .execution_options(synchronize_session=False))).one_or_none()
    if claimed is None:
        return await _redeem_board_invite(uow, user, code, now)
    unit = await uow.units.get(claimed.unit_id)
    user.role, user.unit_id, user.board_id = claimed.role, unit.id, None
    if unit.commune_code is not None:  # a province unit's staff keep the commune they browse
        user.commune_code = unit.commune_code
    return unit


async def _redeem_board_invite(uow, user: User, code: str, now) -> OversightBoard | None:
    claimed = (await uow.session.execute(
        update(BoardInvite)
        .where(BoardInvite.code_hash == _hash(code), BoardInvite.used_at.is_(None), BoardInvite.expires_at > now)
        .values(used_at=now, used_by=user.id)
        .returning(BoardInvite.board_id)
        .execution_options(synchronize_session=False))).one_or_none()
    if claimed is None:
        return None
    board = await uow.session.get(OversightBoard, claimed.board_id)
    user.role, user.board_id, user.unit_id, user.commune_code = BOARD_ROLES[board.kind], board.id, None, board.commune_code
    return board


def is_staff(user: User) -> bool:
    return policy.is_staff(Actor.of(user))


async def actor_for(uow, user: User) -> Actor:
    """``user`` as the scope policy sees them: their commune is their unit's, or their board's, which
    only an invite sets (the commune on their record is the one they browse, and they may change it in
    the settings); a province unit's staff reach its province. A commune's scope stops at the
    province's units (bot/policy.py)."""
    if user.role in BOARD_ROLES.values():
        board = await uow.session.get(OversightBoard, user.board_id) if user.board_id is not None else None
        if board is None or BOARD_ROLES[board.kind] != user.role:
            return Actor(role=user.role, user_id=user.id)  # reaches nothing
        return Actor(role=user.role, commune_code=board.commune_code, user_id=user.id, board_id=board.id,
                     project_id=board.project_id if board.kind == "investment" else None,
                     outside_units=await province_unit_ids(uow))
    unit = await uow.units.get(user.unit_id) if user.unit_id is not None else None
    if unit is not None and unit.at_province:
        return Actor.of(user, unit_province=unit.province_code)
    actor = Actor.of(user, unit_commune=unit.commune_code if unit is not None else None)
    if actor.grants.level is Level.commune:
        return replace(actor, outside_units=await province_unit_ids(uow))
    return actor


async def may_see(uow, user: User, item: Item) -> bool:
    return policy.may_see_item(await actor_for(uow, user), item)


async def handled_item(uow, user: User, item_id: int, permission: Permission = Permission.see) -> Item:
    """The item, if ``user`` may do ``permission`` on it; NotAllowed otherwise (and for no such item)."""
    item = await uow.items.get(item_id)
    if item is None or not policy.may_act(await actor_for(uow, user), permission, item):
        raise NotAllowed(item_id)
    return item


async def _require(uow, user: User, permission: Permission, item: Item) -> None:
    if not policy.may_act(await actor_for(uow, user), permission, item):
        raise NotAllowed(item.id)


@dataclass
class InboxEntry:
    item: Item
    next_due: date | None


def items_within(scope: Scope):
    """The items a scope covers, as a condition on the items table."""
    if scope.level is Level.unit:
        return Item.unit_id == scope.unit_id
    if scope.level is Level.commune:
        within = Item.commune_code == scope.commune_code
        if scope.outside_units:
            within = and_(within, or_(Item.unit_id.is_(None), Item.unit_id.not_in(sorted(scope.outside_units))))
        return within
    if scope.level is Level.province:
        return Item.commune_code.in_(communes_of(scope.province_code))
    return false()


async def inbox(uow, user: User, view: str, today: date, limit: int = 50) -> list[InboxEntry]:
    """The open items of the user's scope (their unit, their commune, their province), nearest deadline first.
    Views: open, new, mine, overdue."""
    next_due = (select(ItemDeadline.item_id, func.min(ItemDeadline.due_on).label("due"))
                .where(ItemDeadline.done_at.is_(None)).group_by(ItemDeadline.item_id).subquery())
    query = (select(Item, next_due.c.due).outerjoin(next_due, next_due.c.item_id == Item.id)
             .where(Item.status.in_([s.value for s in OPEN]),
                    items_within(policy.inbox_scope(await actor_for(uow, user)))))
    if view == "new":
        query = query.where(Item.status == ItemStatus.received.value)
    elif view == "mine":
        query = query.where(Item.assignee_id == user.id)
    elif view == "overdue":
        query = query.where(next_due.c.due < today)
    query = query.order_by(next_due.c.due.is_(None), next_due.c.due, Item.id).limit(limit)
    return [InboxEntry(item, due) for item, due in (await uow.session.execute(query)).all()]


async def unit_officers(uow, unit_id: int) -> list[User]:
    rows = await uow.session.execute(select(User).where(User.unit_id == unit_id, User.role.in_(UNIT_STAFF_ROLES))
                                     .order_by(User.id))
    return list(rows.scalars())


def _local_today(zone: ZoneInfo) -> date:
    return utcnow().astimezone(zone).date()


async def _add_deadline(uow, item: Item, phase: Phase, start: date, **case) -> ItemDeadline | None:
    try:
        deadline = deadline_for(ItemKind(item.kind), phase, start, remote_area=item.remote_area, **case)
    except NoRule:
        return None
    row = ItemDeadline(item_id=item.id, phase=phase.value, due_on=deadline.due_on, rule_id=deadline.rule.rule_id,
                       citation=deadline.rule.citation)
    uow.items.add_deadline(row)
    return row


async def assign(uow, officer: User, item: Item, assignee_id: int) -> None:
    """Give the item to a member of its own unit's staff."""
    actor = await actor_for(uow, officer)
    assignee = await uow.users.get(assignee_id)
    if assignee is None or not policy.may_assign(actor, item, Actor.of(assignee)):
        raise NotAllowed(assignee_id)
    item.assignee_id = assignee.id


async def accept(uow, officer: User, item: Item, zone: ZoneInfo) -> None:
    """Thụ lý: the intake deadline is met and the resolution clock starts from today."""
    await _require(uow, officer, Permission.handle, item)
    await move(uow, item, Action.accept, actor_id=officer.id)
    item.accepted_at = utcnow()
    if item.assignee_id is None:
        item.assignee_id = officer.id
    today = _local_today(zone)
    for deadline in await uow.items.open_deadlines(item.id):
        if deadline.phase == Phase.intake.value:
            deadline.done_at = utcnow()
    if item.kind != ItemKind.feedback.value:  # feedback's target runs from receipt, set when filed
        await _add_deadline(uow, item, Phase.resolution, today, complex_case=item.complex_case)
    if item.kind == ItemKind.denunciation.value:
        notice = await _add_deadline(uow, item, Phase.acceptance_notice, today)
        if notice is not None and item.citizen_id is not None and item.chat_id is not None:
            # Đ.29 k3: the denouncer is told of the acceptance; ``move`` above has just written that
            # message to their chat. Without a chat (data erased) the officer must send it in writing,
            # and the deadline runs until the item is answered.
            notice.done_at = utcnow()


async def answer(uow, officer: User, item: Item, text: str, *, attachments: list[str] = ()) -> None:
    """The decision or reply, with photos attached if any; answering ends every running clock of the
    item (see ``move``)."""
    await _require(uow, officer, Permission.handle, item)
    await move(uow, item, Action.answer, actor_id=officer.id, note=text,
               data={"attachments": list(attachments)} if attachments else None)


async def extend(uow, officer: User, item: Item, reason: str, *, especially_complex: bool, zone: ZoneInfo) -> date:
    """Denunciations: the period counted from acceptance lengthens by 30 days, once for a complex case,
    twice for an especially complex one (Luật Tố cáo 2018, Điều 30 khoản 2, 3), each by a written
    decision the denouncer is told of (khoản 4); the finding stays on the item and allows the second.
    Complaints: the case is found complex in writing and gets the longer period of Luật Khiếu nại 2011
    Điều 28/37 from acceptance. Either is refused once the period has ended."""
    await _require(uow, officer, Permission.handle, item)
    current = await _running(uow, item, Phase.resolution)
    if current is None:
        raise ExtensionNotAllowed("no resolution deadline is running", reason="not_running")
    today, kind = _local_today(zone), ItemKind(item.kind)
    accepted_on, pause = _accepted_on(item, zone), _pause_of(item, today)
    if kind is ItemKind.denunciation:
        especially = item.especially_complex or especially_complex
        new = extend_denunciation(accepted_on, item.extensions, decided_on=today, especially_complex=especially,
                                  paused_days=item.paused_days, pause=pause)
        item.extensions += 1
        item.complex_case, item.especially_complex = True, especially
    elif kind in (ItemKind.complaint_first, ItemKind.complaint_second) and not item.complex_case:
        new = complex_complaint_deadline(kind, accepted_on, decided_on=today, remote_area=item.remote_area,
                                         paused_days=item.paused_days, pause=pause)
        item.complex_case = True
    else:
        raise ExtensionNotAllowed(f"{item.kind} cannot be extended", reason="kind")
    event = await move(uow, item, Action.extend, actor_id=officer.id, note=reason, notify=False,
                       data={"from": current.due_on.isoformat(), "to": new.due_on.isoformat(),
                             "rule": new.rule.rule_id})
    _replace(uow, item, current, Phase.resolution, new)
    await _tell_citizen(uow, item, event, "notify.extended", due=new.due_on, citation=new.citation, reason=reason)
    return new.due_on


async def extend_intake(uow, officer: User, item: Item, reason: str, *, zone: ZoneInfo) -> date:
    """A denunciation to be checked at several places, or through another body, has 10 working days from
    receipt for its intake instead of 7 (Luật Tố cáo 2018, Điều 24 khoản 1); the denouncer is told the
    new date. Once only, and not after the 7 working days have run out."""
    await _require(uow, officer, Permission.handle, item)
    current = await _running(uow, item, Phase.intake)
    if current is None:
        raise ExtensionNotAllowed("no intake deadline is running", reason="not_running")
    if item.several_places:
        raise ExtensionNotAllowed("the intake was lengthened already", reason="used_up", made=1, allowed=1,
                                  citation=current.citation)
    new = several_places_intake(item.received_at.astimezone(zone).date(), decided_on=_local_today(zone))
    event = await move(uow, item, Action.extend_intake, actor_id=officer.id, note=reason, notify=False,
                       data={"from": current.due_on.isoformat(), "to": new.due_on.isoformat(),
                             "rule": new.rule.rule_id})
    item.several_places = True
    _replace(uow, item, current, Phase.intake, new)
    await _tell_citizen(uow, item, event, "notify.intake_extended", due=new.due_on, citation=new.citation,
                        reason=reason)
    return new.due_on


async def suspend(uow, officer: User, item: Item, reason: str, *, zone: ZoneInfo) -> date:
    """Tạm đình chỉ giải quyết (Luật Tố cáo 2018, Điều 34 khoản 1; Luật Khiếu nại 2011, Điều 11a as
    detailed by NĐ 124/2020 Điều 28b): the resolution deadline stops, so no reminder or escalation
    comes while the item waits; the citizen is told why. Not once the period has ended."""
    await _require(uow, officer, Permission.handle, item)
    current = await _running(uow, item, Phase.resolution)
    if current is None:
        raise SuspensionNotAllowed("no resolution deadline is running", reason="not_running")
    today = _local_today(zone)
    rule = suspend_resolution(ItemKind(item.kind), _accepted_on(item, zone), on=today, paused_days=item.paused_days,
                              **_case(item))
    event = await move(uow, item, Action.suspend, actor_id=officer.id, note=reason, notify=False,
                       data={"due": current.due_on.isoformat(), "rule": rule.rule_id})
    current.done_at = utcnow()
    item.suspended_on = today
    await _tell_citizen(uow, item, event, "notify.suspended", date=today, reason=reason, citation=rule.citation)
    return today


async def resume(uow, officer: User, item: Item, reason: str, *, zone: ZoneInfo) -> tuple[date, int]:
    """Tiếp tục giải quyết: what remained of the resolution period on the day of suspension runs on from
    today (NĐ 124/2020 Điều 28b khoản 2; Luật Tố cáo 2018, Điều 34 khoản 2); the citizen is told the new
    deadline. The new deadline and the days this suspension lasted."""
    await _require(uow, officer, Permission.handle, item)
    today = _local_today(zone)
    suspended_on = item.suspended_on or today
    new, paused = resume_resolution(ItemKind(item.kind), _accepted_on(item, zone), suspended_on=suspended_on,
                                    resumed_on=today, paused_days=item.paused_days, **_case(item))
    lasted = paused - item.paused_days
    event = await move(uow, item, Action.resume, actor_id=officer.id, note=reason, notify=False,
                       data={"to": new.due_on.isoformat(), "rule": new.rule.rule_id, "paused_days": lasted})
    item.suspended_on, item.paused_days = None, paused
    _replace(uow, item, None, Phase.resolution, new)
    await _tell_citizen(uow, item, event, "notify.resumed", date=today, due=new.due_on, citation=new.citation,
                        reason=reason)
    return new.due_on, lasted


async def _running(uow, item: Item, phase: Phase) -> ItemDeadline | None:
    rows = [d for d in await uow.items.open_deadlines(item.id) if d.phase == phase.value]
    return rows[-1] if rows else None


def _accepted_on(item: Item, zone: ZoneInfo) -> date:
    return (item.accepted_at or utcnow()).astimezone(zone).date()


def _case(item: Item) -> dict:
    """What the resolution period of ``item`` depends on, besides its acceptance and its suspensions."""
    return {"complex_case": item.complex_case, "especially_complex": item.especially_complex,
            "remote_area": item.remote_area, "extensions": item.extensions}


def _pause_of(item: Item, today: date) -> PauseRule | None:
    """The rule under which the item's period stood suspended, cited beside its deadline."""
    if not item.paused_days:
        return None
    try:
        return suspension_rule(ItemKind(item.kind), today)
    except NoRule:
        return None


def _replace(uow, item: Item, current: ItemDeadline | None, phase: Phase, new: Deadline) -> None:
    if current is not None:
        current.done_at = utcnow()
    uow.items.add_deadline(ItemDeadline(item_id=item.id, phase=phase.value, due_on=new.due_on,
                                        rule_id=new.rule.rule_id, citation=new.citation))


async def _tell_citizen(uow, item: Item, event: ItemEvent, key: str, **values) -> None:
    """A change of a running period, told to the citizen in the chat they used, through the outbox of
    this transaction (with the dedupe key ``move``'s notices have: one message per event)."""
    if item.citizen_id is None or item.chat_id is None:
        return
    citizen = await uow.users.get(item.citizen_id)
    language = citizen.language if citizen else "vi"
    reply = Reply(t(language, key, code=item.tracking_code, **values),
                  ((Button(t(language, "notify.open"), f"g:item:{item.id}"),),))
    await uow.outbox.enqueue(item.channel, item.chat_id, reply, dedupe_key=f"notify:{event.id}", item_id=item.id)


async def forward(uow, officer: User, item: Item, reason: str, unit_id: int | None) -> None:
    """To another unit of the commune (it stays open there) or out to another authority (closed here)."""
    target = await uow.units.get(unit_id) if unit_id is not None else None
    if unit_id is not None and target is None:
        raise NotAllowed(unit_id)
    to_province = target.province_code if target is not None and target.at_province else None
    if not policy.may_forward(await actor_for(uow, officer), item, target.commune_code if target else None,
                              to_province=to_province):
        raise NotAllowed(item.id)
    if target is not None:
        uow.items.record(ItemEvent(item_id=item.id, actor_id=officer.id, action="reassign_unit", note=reason,
                                   data={"from_unit": item.unit_id, "to_unit": unit_id}))
        item.unit_id, item.assignee_id = unit_id, None
        return
    await move(uow, item, Action.forward, actor_id=officer.id, note=reason)


async def reveal_identity(uow, leader: User, item: Item, reason: str):
    """A denouncer's identity, to a leader of the item's unit or an admin of its commune, with a reason;
    the access is an audit event."""
    if not policy.may_reveal(await actor_for(uow, leader), item):
        raise NotAllowed(item.id)
    uow.items.record(ItemEvent(item_id=item.id, actor_id=leader.id, action="reveal_identity", note=reason))
    return await uow.items.contact(item.id)


