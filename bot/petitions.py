"""Petition services: filing, reading and withdrawing items, each inside the caller's unit of work.

Filing writes the item, the petitioner's contact (kept apart so a denouncer's file can be shown
redacted), its deadlines with their legal basis and the first audit event, all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.categories import DEFAULT_CATEGORIES, Category
from bot.domain.deadlines import NoRule, complaint_filing_window_ends, deadline_for
from bot.domain.dialog import Button, Reply
from bot.domain.kinds import ItemKind, Phase
from bot.domain.roles import STAFF_ROLES
from bot.domain.routing import RoutingRule, route
from bot.domain.tracking import new_tracking_code
from bot.domain.workflow import OPEN, Action, ItemStatus, transition
from bot.media import photos_for
from bot.texts import t
from storage.models import (
    CommuneCategory,
    Consent,
    Item,
    ItemContact,
    ItemDeadline,
    ItemEvent,
    utcnow,
)

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
# Working days are Vietnam's; the day an update is given is its local day there.
STATUS_CLOCK_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
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


async def recent_duplicate(uow, citizen_id: int, description: str) -> str | None:
    """The tracking code of the citizen's item with the very same text filed in the last few minutes, if any."""
    return await uow.items.recent_by_text(citizen_id, description, utcnow() - DUPLICATE_WINDOW)


async def read_recent_for_duplicates(uow, citizen_ids: list[int]) -> None:
    """What ``recent_duplicate`` will look at for each of ``citizen_ids``, read with one statement."""
    await uow.items.prime_recent(citizen_ids, utcnow() - DUPLICATE_WINDOW)


class DueDate(NamedTuple):
    """A deadline of a newly filed item, as its receipt shows it (the row itself is written at commit)."""

    phase: str
    due_on: date
    rule_id: str
    citation: str


async def file_submission(uow, citizen_id: int, channel: str, chat_id: str, submission: Submission,
                          zone: ZoneInfo) -> tuple[Item, list[DueDate]]:
    """The item with its contact, deadlines and audit event, and its unit's officers told. Nothing is
    flushed here: submissions committed together are written with one statement a table
    (``ItemRepository.add_filed``); the item has its id once the next statement runs."""
    kind = submission.kind
    if kind is ItemKind.denunciation and submission.contact is None:
        kind = ItemKind.information  # anonymous denunciations are information only (Luật Tố cáo 2018, Đ.25)
    rules = [RoutingRule(r.commune_code, r.category, r.unit_id)
             for r in await uow.units.routing_rules(submission.commune_code)]
    fallback = await uow.units.fallback_for(submission.commune_code)
    unit_id = route(rules, submission.commune_code, submission.category, fallback.id if fallback else None)
    received_at = utcnow()
    # 45 random bits: a code already taken is too rare to look up first. The unique constraint refuses
    # it, and the pipeline runs the step again, with a new code (handlers/pipeline.py, GroupCommit).
    item = Item(tracking_code=new_tracking_code(), kind=kind.value, category=submission.category,
                commune_code=submission.commune_code, unit_id=unit_id, citizen_id=citizen_id, channel=channel,
                chat_id=chat_id, status=ItemStatus.received.value, description=submission.description,
                photos=list(submission.photos), latitude=submission.latitude, longitude=submission.longitude,
                address=submission.address, anonymous=submission.contact is None,
                remote_area=submission.remote_area, received_at=received_at)
    rows: dict = {}
    if submission.contact is not None:
        c = submission.contact
        rows[ItemContact.__table__] = [{"full_name": c.full_name, "address": c.address, "phone": c.phone}]
        rows[Consent.__table__] = [{"user_id": citizen_id, "purpose": CONTACT_PURPOSE, "granted_at": received_at}]
    received_on = received_at.astimezone(zone).date()
    deadlines = []
    for phase in PHASES_AT_RECEIPT[kind]:
        try:
            deadline = deadline_for(kind, phase, received_on, remote_area=submission.remote_area)
        except NoRule:
            continue
        deadlines.append(DueDate(phase.value, deadline.due_on, deadline.rule.rule_id, deadline.rule.citation))
    rows[ItemDeadline.__table__] = [{**d._asdict(), "created_at": received_at} for d in deadlines]
    rows[ItemEvent.__table__] = [{"at": received_at, "actor_id": citizen_id, "action": "submit", "from_status": None,
                                  "to_status": ItemStatus.received.value, "note": None,
                                  "data": {"channel": channel}}]
    uow.items.add_filed(item, rows)
    notify_unit(uow, item, deadlines)
    return item, deadlines


def notify_unit(uow, item: Item, deadlines: list[DueDate]) -> None:
    """Tell every officer of the item's unit, on each channel they use, when the transaction commits
    (the message's button needs the item's id). No personal data of the petitioner is in the message:
    officers open the item to read it (redacted for denunciations)."""
    if item.unit_id is None:
        return
    first_due = min((d.due_on for d in deadlines), default=None)
    uow.before_commit(_tell_units).append((item, first_due))


async def _tell_units(uow, items: list[tuple[Item, date | None]]) -> None:
    """The new-item notices of every item filed in one transaction: one read of the staff, one write."""
    staff: dict[int, list[tuple[int, str, str, str]]] = {}
    for unit_id, user_id, language, channel, chat_id in await uow.users.staff_chats(
            {item.unit_id for item, _ in items}, STAFF_ROLES):
        staff.setdefault(unit_id, []).append((user_id, language, channel, chat_id))
    notices = []
    for item, first_due in items:
        for user_id, language, channel, chat_id in staff.get(item.unit_id, []):
            text = t(language, "officer.new_item", code=item.tracking_code, kind=t(language, f"kind.{item.kind}"),
                     due=first_due.strftime("%d/%m/%Y") if first_due else "—")
            reply = Reply(text, ((Button(t(language, "officer.open"), f"g:oi:{item.id}"),),))
            notices.append((channel, chat_id, reply, f"new-item:{item.id}:{user_id}:{channel}"))
    await uow.outbox.enqueue_many(notices, at_commit=True)  # with the replies queued so, in one write


async def move(uow, item: Item, action: Action, *, actor_id: int | None, note: str | None = None,
               data: dict | None = None, notify: bool = True) -> ItemEvent:
    """One step of the workflow: the transition (an illegal one raises IllegalTransition), its audit
    event, and — unless the citizen is the one acting — a message to the citizen on the channel they
    used, written to the outbox in the same transaction."""
    new_status = transition(ItemStatus(item.status), action, ItemKind(item.kind))
    event = ItemEvent(item_id=item.id, actor_id=actor_id, action=action.value, from_status=item.status,
                      to_status=new_status.value, note=note, data=data or {})
    uow.items.record(event)
    item.status = new_status.value
    if action is Action.answer:
        item.satisfied = None  # a new answer (after a reopening) asks for a new verdict
    if new_status not in OPEN:
        # Answered, closed, refused, forwarded, withdrawn or escalated: no clock runs any more.
        for deadline in await uow.items.open_deadlines(item.id):
            deadline.done_at = utcnow()
        if new_status is not ItemStatus.answered:
            item.closed_at = utcnow()
    elif notify:
        await _restart_status_clock(uow, item)
    await uow.session.flush()
    if notify:
        await notify_citizen(uow, item, event)
    return event


async def _restart_status_clock(uow, item: Item) -> None:
    """The citizen is being told where things stand: the status-update period (an internal target for
    feedback, counted from the last update) starts again from today."""
    running = [d for d in await uow.items.open_deadlines(item.id) if d.phase == Phase.status_update.value]
    if running and await _start_clock(uow, item, Phase.status_update):
        for row in running:
            row.done_at = utcnow()


async def _start_clock(uow, item: Item, phase: Phase) -> ItemDeadline | None:
    """A deadline of ``phase`` counted from today, if the item's kind has one."""
    today = utcnow().astimezone(STATUS_CLOCK_ZONE).date()
    try:
        deadline = deadline_for(ItemKind(item.kind), phase, today, remote_area=item.remote_area)
    except NoRule:
        return None
    row = ItemDeadline(item_id=item.id, phase=phase.value, due_on=deadline.due_on, rule_id=deadline.rule.rule_id,
                       citation=deadline.rule.citation)
    uow.items.add_deadline(row)
    return row


async def notify_citizen(uow, item: Item, event: ItemEvent) -> None:
    if item.citizen_id is None or item.chat_id is None:
        return  # anonymous web visitors who erased their data, or items filed for someone else
    citizen = await uow.users.get(item.citizen_id)
    language = citizen.language if citizen else "vi"
    text = t(language, "notify.status", code=item.tracking_code, status=t(language, f"status.{event.to_status}"))
    if event.note:
        text += t(language, "notify.note", note=event.note)
    photos, unseen = photos_for(item.channel, (event.data or {}).get("attachments", []))
    if unseen:
        text += t(language, "notify.attachments_elsewhere", count=unseen)
    reply = Reply(text, ((Button(t(language, "notify.open"), f"g:item:{item.id}"),),), photos=tuple(photos))
    await uow.outbox.enqueue(item.channel, item.chat_id, reply, dedupe_key=f"notify:{event.id}", item_id=item.id)


async def withdraw(uow, item: Item, citizen_id: int) -> None:
    """Rút đơn: allowed at any open step; raises IllegalTransition otherwise. Open deadlines close."""
    await move(uow, item, Action.withdraw, actor_id=citizen_id, notify=False)


async def provide_information(uow, item: Item, citizen_id: int, text: str, photos: list[str]) -> None:
    """The citizen answers an officer's request for information; the clock runs again."""
    await move(uow, item, Action.info_provided, actor_id=citizen_id, note=text, data={"photos": photos},
               notify=False)
    item.photos = [*item.photos, *photos]


async def latest_answer(uow, item_id: int) -> ItemEvent | None:
    answers = [e for e in await uow.items.events(item_id) if e.action == Action.answer.value]
    return answers[-1] if answers else None


async def rate(uow, item: Item, citizen_id: int, satisfied: bool, comment: str | None) -> None:
    """The citizen's verdict on an answer. Satisfied closes the item; an unsatisfied citizen's feedback
    is reopened; a complaint stays answered so a second complaint can be filed within its window."""
    item.satisfied = satisfied
    uow.items.record(ItemEvent(item_id=item.id, actor_id=citizen_id, action="rate", note=comment,
                               data={"satisfied": satisfied}))
    if satisfied:
        await move(uow, item, Action.close, actor_id=citizen_id, notify=False)
    elif item.kind == ItemKind.feedback.value:
        await move(uow, item, Action.reopen, actor_id=citizen_id, note=comment, notify=False)
        # Answering stopped every clock; the reopened feedback gets its target and updates afresh.
        for phase in (Phase.resolution, Phase.status_update):
            await _start_clock(uow, item, phase)
    elif item.kind != ItemKind.complaint_first.value:
        await move(uow, item, Action.close, actor_id=citizen_id, notify=False)


class FilingWindowClosed(Exception):
    def __init__(self, ended_on):
        super().__init__(f"filing window ended on {ended_on.isoformat()}")
        self.ended_on = ended_on


async def second_complaint_window(uow, item: Item, zone: ZoneInfo):
    """The last day to file a second complaint against the answer to a first one (Luật Khiếu nại
    2011, Điều 33: 30 days, 45 in remote areas)."""
    answer = await latest_answer(uow, item.id)
    answered_on = (answer.at if answer else utcnow()).astimezone(zone).date()
    return complaint_filing_window_ends(ItemKind.complaint_second, answered_on, remote_area=item.remote_area)


async def file_second_complaint(uow, first: Item, citizen_id: int, reason: str, zone: ZoneInfo):
    window = await second_complaint_window(uow, first, zone)
    if utcnow().astimezone(zone).date() > window.due_on:
        raise FilingWindowClosed(window.due_on)
    contact = await uow.items.contact(first.id)
    submission = Submission(
        kind=ItemKind.complaint_second, category=first.category, commune_code=first.commune_code,
        description=reason, photos=list(first.photos), latitude=first.latitude, longitude=first.longitude,
        address=first.address, remote_area=first.remote_area,
        contact=Contact(contact.full_name, contact.address, contact.phone) if contact else None)
    second, deadlines = await file_submission(uow, citizen_id, first.channel, first.chat_id, submission, zone)
    second.parent_id = first.id
    await move(uow, first, Action.escalate, actor_id=citizen_id, note=second.tracking_code, notify=False)
    return second, deadlines


def local_date(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%d/%m/%Y")
