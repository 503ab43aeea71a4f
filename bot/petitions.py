"""Petition services: filing, reading and withdrawing items, each inside the caller's unit of work.

Filing writes the item, the petitioner's contact (kept apart so a denouncer's file can be shown
redacted), its deadlines with their legal basis and the first audit event, all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.categories import DEFAULT_CATEGORIES, Category
from bot.domain.deadlines import NoRule, deadline_for
from bot.domain.kinds import ItemKind, Phase
from bot.domain.routing import RoutingRule, route
from bot.domain.tracking import new_tracking_code
from bot.domain.workflow import Action, ItemStatus, transition
from storage.models import CommuneCategory, Consent, Item, ItemContact, ItemDeadline, ItemEvent, utcnow

# What is due from the day of receipt; later phases (resolution of complaints and denunciations)
# start at acceptance, which an officer decides.
PHASES_AT_RECEIPT: dict[ItemKind, tuple[Phase, ...]] = {
    ItemKind.feedback: (Phase.intake, Phase.resolution, Phase.status_update, Phase.escalation),
    ItemKind.complaint_first: (Phase.intake,),
    ItemKind.complaint_second: (Phase.intake,),
    ItemKind.denunciation: (Phase.intake,),
    ItemKind.information: (),
}
DUPLICATE_WINDOW = timedelta(minutes=10)
CONTACT_PURPOSE = "petition_contact"


@dataclass
class Contact:
    full_name: str
    address: str
    phone: str


@dataclass
class Submission:
    kind: ItemKind
    category: str
    commune_code: int
    description: str
    photos: list[str] = field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    contact: Contact | None = None
    remote_area: bool = False


async def categories_for(uow, commune_code: int) -> list[Category]:
    rows = (await uow.session.execute(
        select(CommuneCategory).where(CommuneCategory.commune_code == commune_code, CommuneCategory.active.is_(True))
        .order_by(CommuneCategory.position, CommuneCategory.id))).scalars().all()
    if not rows:
        return list(DEFAULT_CATEGORIES)
    return [Category(row.key, row.label_vi, row.label_en) for row in rows]


async def recent_duplicate(uow, citizen_id: int, description: str) -> Item | None:
    """The citizen's item with the very same text filed in the last few minutes, if any."""
    since = utcnow() - DUPLICATE_WINDOW
    return (await uow.session.execute(
        select(Item).where(Item.citizen_id == citizen_id, Item.received_at >= since, Item.description == description)
        .order_by(Item.id.desc()).limit(1))).scalar_one_or_none()


async def file_submission(uow, citizen_id: int, channel: str, chat_id: str, submission: Submission,
                          zone: ZoneInfo) -> tuple[Item, list[ItemDeadline]]:
    kind = submission.kind
    if kind is ItemKind.denunciation and submission.contact is None:
        kind = ItemKind.information  # anonymous denunciations are information only (Luật Tố cáo 2018, Đ.25)
    rules = [RoutingRule(r.commune_code, r.category, r.unit_id)
             for r in await uow.units.routing_rules(submission.commune_code)]
    fallback = await uow.units.fallback_for(submission.commune_code)
    unit_id = route(rules, submission.commune_code, submission.category, fallback.id if fallback else None)
    received_at = utcnow()
    item = Item(tracking_code=await _unused_code(uow), kind=kind.value, category=submission.category,
                commune_code=submission.commune_code, unit_id=unit_id, citizen_id=citizen_id, channel=channel,
                chat_id=chat_id, status=ItemStatus.received.value, description=submission.description,
                photos=list(submission.photos), latitude=submission.latitude, longitude=submission.longitude,
                address=submission.address, anonymous=submission.contact is None,
                remote_area=submission.remote_area, received_at=received_at)
    uow.items.add(item)
    await uow.items.flush()
    if submission.contact is not None:
        c = submission.contact
        uow.items.add(item, ItemContact(item_id=item.id, full_name=c.full_name, address=c.address, phone=c.phone))
        uow.session.add(Consent(user_id=citizen_id, purpose=CONTACT_PURPOSE))
    received_on = received_at.astimezone(zone).date()
    deadlines = []
    for phase in PHASES_AT_RECEIPT[kind]:
        try:
            deadline = deadline_for(kind, phase, received_on, remote_area=submission.remote_area)
        except NoRule:
            continue
        row = ItemDeadline(item_id=item.id, phase=phase.value, due_on=deadline.due_on,
                           rule_id=deadline.rule.rule_id, citation=deadline.rule.citation)
        uow.items.add_deadline(row)
        deadlines.append(row)
    uow.items.record(ItemEvent(item_id=item.id, actor_id=citizen_id, action="submit",
                               to_status=ItemStatus.received.value, data={"channel": channel}))
    return item, deadlines


async def _unused_code(uow) -> str:
    while True:
        code = new_tracking_code()
        if await uow.items.by_tracking_code(code) is None:
            return code


async def withdraw(uow, item: Item, citizen_id: int) -> None:
    """Rút đơn: allowed at any open step; raises IllegalTransition otherwise. Open deadlines close."""
    new_status = transition(ItemStatus(item.status), Action.withdraw)
    uow.items.record(ItemEvent(item_id=item.id, actor_id=citizen_id, action="withdraw",
                               from_status=item.status, to_status=new_status.value))
    item.status = new_status.value
    item.closed_at = utcnow()
    for deadline in await uow.items.open_deadlines(item.id):
        deadline.done_at = utcnow()


def local_date(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%d/%m/%Y")
