"""The officer's side: invites, the unit inbox, and the actions whose legal effects go beyond a
status change (acceptance starts the resolution clock; extensions follow the law of the kind).

Every action checks the role and the unit here, on the server, whatever buttons a client shows.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.domain.deadlines import ExtensionNotAllowed, NoRule, deadline_for, extend_denunciation
from bot.domain.kinds import ItemKind, Phase
from bot.domain.roles import LEADER_ROLES, STAFF_ROLES
from bot.domain.workflow import OPEN, Action, ItemStatus
from bot.petitions import move
from storage.models import Invite, Item, ItemDeadline, ItemEvent, Unit, User, utcnow

INVITE_ALPHABET = "ACDEFGHJKMNPQRTWXY34679"


class UnknownUnit(LookupError):
    pass


class NotAllowed(PermissionError):
    """The user may not see or act on this item."""


def _hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().replace("-", "").encode()).hexdigest()


async def create_invite(uows, unit_id: int, role: str, *, days: int = 7) -> str:
    code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(12))
    async with uows() as uow:
        if await uow.units.get(unit_id) is None:
            raise UnknownUnit(unit_id)
        uow.session.add(Invite(code_hash=_hash(code), unit_id=unit_id, role=role,
                               expires_at=utcnow() + timedelta(days=days)))
        await uow.commit()
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


async def redeem_invite(uow, user: User, code: str) -> Unit | None:
    """Make ``user`` staff of the invite's unit; None when the code is unknown, used or expired."""
    invite = (await uow.session.execute(select(Invite).where(Invite.code_hash == _hash(code)))).scalar_one_or_none()
    if invite is None or invite.used_at is not None:
        return None
    if invite.expires_at < utcnow():
        return None
    unit = await uow.units.get(invite.unit_id)
    invite.used_at, invite.used_by = utcnow(), user.id
    user.role, user.unit_id, user.commune_code = invite.role, unit.id, unit.commune_code
    return unit


def is_staff(user: User) -> bool:
    return user.role in STAFF_ROLES


def may_handle(user: User, item: Item) -> bool:
    return is_staff(user) and (user.role == "admin" or item.unit_id == user.unit_id)


async def handled_item(uow, user: User, item_id: int) -> Item:
    item = await uow.items.get(item_id)
    if item is None or not may_handle(user, item):
        raise NotAllowed(item_id)
    return item


@dataclass
class InboxEntry:
    item: Item
    next_due: date | None


async def inbox(uow, user: User, view: str, today: date, limit: int = 50) -> list[InboxEntry]:
    """The unit's open items, nearest deadline first. Views: open, new, mine, overdue."""
    next_due = (select(ItemDeadline.item_id, func.min(ItemDeadline.due_on).label("due"))
                .where(ItemDeadline.done_at.is_(None)).group_by(ItemDeadline.item_id).subquery())
    query = (select(Item, next_due.c.due).outerjoin(next_due, next_due.c.item_id == Item.id)
             .where(Item.status.in_([s.value for s in OPEN])))
    if user.role != "admin":
        query = query.where(Item.unit_id == user.unit_id)
    if view == "new":
        query = query.where(Item.status == ItemStatus.received.value)
    elif view == "mine":
        query = query.where(Item.assignee_id == user.id)
    elif view == "overdue":
        query = query.where(next_due.c.due < today)
    query = query.order_by(next_due.c.due.is_(None), next_due.c.due, Item.id).limit(limit)
    return [InboxEntry(item, due) for item, due in (await uow.session.execute(query)).all()]


async def unit_officers(uow, unit_id: int) -> list[User]:
    rows = await uow.session.execute(select(User).where(User.unit_id == unit_id, User.role.in_(STAFF_ROLES))
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


async def accept(uow, officer: User, item: Item, zone: ZoneInfo) -> None:
    """Thụ lý: the intake deadline is met and the resolution clock starts from today."""
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
    await move(uow, item, Action.answer, actor_id=officer.id, note=text,
               data={"attachments": list(attachments)} if attachments else None)


async def extend(uow, officer: User, item: Item, reason: str, *, especially_complex: bool, zone: ZoneInfo) -> date:
    """Denunciations: +30 days once (complex) or twice (especially complex), Luật Tố cáo 2018 Đ.30.
    Complaints: the case is marked complex and gets the longer period of Đ.28/Đ.37 from acceptance."""
    resolution = [d for d in await uow.items.open_deadlines(item.id) if d.phase == Phase.resolution.value]
    if not resolution:
        raise ExtensionNotAllowed("no resolution deadline is running", reason="not_running")
    current = resolution[-1]
    if item.kind == ItemKind.denunciation.value:
        new = extend_denunciation(current.due_on, item.extensions, especially_complex=especially_complex)
        item.extensions += 1
    elif item.kind in (ItemKind.complaint_first.value, ItemKind.complaint_second.value) and not item.complex_case:
        accepted_on = (item.accepted_at or utcnow()).astimezone(zone).date()
        new = deadline_for(ItemKind(item.kind), Phase.resolution, accepted_on, complex_case=True,
                           remote_area=item.remote_area)
        item.complex_case = True
    else:
        raise ExtensionNotAllowed(f"{item.kind} cannot be extended", reason="kind")
    await move(uow, item, Action.extend, actor_id=officer.id, note=reason,
               data={"from": current.due_on.isoformat(), "to": new.due_on.isoformat(), "rule": new.rule.rule_id})
    current.done_at = utcnow()
    uow.items.add_deadline(ItemDeadline(item_id=item.id, phase=Phase.resolution.value, due_on=new.due_on,
                                        rule_id=new.rule.rule_id, citation=new.rule.citation))
    return new.due_on


async def forward(uow, officer: User, item: Item, reason: str, unit_id: int | None) -> None:
    """To another unit of the commune (it stays open there) or out to another authority (closed here)."""
    if unit_id is not None:
        target = await uow.units.get(unit_id)
        if target is None or target.commune_code != item.commune_code:
            raise NotAllowed(unit_id)
        uow.items.record(ItemEvent(item_id=item.id, actor_id=officer.id, action="reassign_unit", note=reason,
                                   data={"from_unit": item.unit_id, "to_unit": unit_id}))
        item.unit_id, item.assignee_id = unit_id, None
        return
    await move(uow, item, Action.forward, actor_id=officer.id, note=reason)


async def reveal_identity(uow, leader: User, item: Item, reason: str):
    """Only a leader may see a denouncer's identity, with a reason; the access is an audit event."""
    if leader.role not in LEADER_ROLES:
        raise NotAllowed(item.id)
    uow.items.record(ItemEvent(item_id=item.id, actor_id=leader.id, action="reveal_identity", note=reason))
    return await uow.items.contact(item.id)


