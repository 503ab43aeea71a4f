"""Petition services: filing, reading and withdrawing items, each inside the caller's unit of work.

Filing writes the item, the petitioner's contact (kept apart so a denouncer's file can be shown
redacted), its deadlines with their legal basis and the first audit event, all in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.categories import DEFAULT_CATEGORIES, Category
from bot.domain.deadlines import (
    Deadline,
    DeadlineRule,
    NoRule,
    complaint_filing_window_ends,
    deadline_for,
    rule_for,
)
from bot.domain.dialog import Button, Reply
from bot.domain.kinds import ItemKind, Phase
from bot.domain.roles import UNIT_STAFF_ROLES
from bot.domain.tracking import new_tracking_code
from bot.domain.workflow import OPEN, Action, IllegalTransition, ItemStatus, is_open, transition
from bot.media import photos_for
from bot.organisation import second_complaint_unit, unit_for
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
    unit_id: int | None = None  # chosen by the caller (a second complaint's), over the routing
    learned_on: date | None = None  # when a complainant received or learned of the decision (Đ.9)


@dataclass
class Part:
    """A part of another kind split off a submission at its summary; each kind becomes its own item
    (Luật Tiếp công dân 2013, Điều 25)."""

    kind: ItemKind
    category: str
    description: str


def _names_sender(kind: ItemKind) -> bool:
    """A complaint's officer works with the complainant's name (Luật Khiếu nại 2011, Điều 8)."""
    return kind.requires_identity and not kind.identity_secret


def protects_denouncer(kinds: list[ItemKind], with_contact: bool) -> bool:
    """A denouncer gave their identity in this submission: only its denunciations may carry it. Anything
    filed beside them with it, in the same second, would name them to another officer (Luật Tố cáo
    2018, Điều 8 khoản 3, Điều 47)."""
    return with_contact and any(kind.identity_secret for kind in kinds)


def kinds_to_split_off(kinds: list[ItemKind], with_contact: bool) -> tuple[ItemKind, ...]:
    """What a citizen may split off a submission of ``kinds``. Without a contact, no complaint (it needs
    one). With one, a complaint and a denunciation never go together: one's officer sees the name the
    other's must not."""
    if with_contact and any(kind.identity_secret for kind in kinds):
        return ItemKind.feedback, ItemKind.denunciation
    if with_contact and any(_names_sender(kind) for kind in kinds):
        return ItemKind.feedback, ItemKind.complaint_first
    if with_contact:
        return ItemKind.feedback, ItemKind.complaint_first, ItemKind.denunciation
    return ItemKind.feedback, ItemKind.denunciation


def split_submission(whole: Submission, parts: list[Part]) -> list[Submission]:
    """One submission per kind: ``whole`` as described first (it keeps the photos and the pin), then
    each part. When the submission protects a denouncer, the contact goes only with its denunciations
    and the place only with the first, so no other item can be tied to the denouncer by either."""
    kinds = [whole.kind, *(part.kind for part in parts)]
    protected = protects_denouncer(kinds, whole.contact is not None)
    if protected and any(_names_sender(kind) for kind in kinds):
        raise ValueError("a complaint is never filed beside a denunciation that carries its sender's identity")
    split = [whole, *(replace(whole, kind=part.kind, category=part.category, description=part.description,
                              photos=[], latitude=None, longitude=None,
                              address=None if protected else whole.address) for part in parts)]
    if protected:
        split = [submission if submission.kind.identity_secret else replace(submission, contact=None)
                 for submission in split]
    return split


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


async def file_submission(uow, citizen_id: int | None, channel: str, chat_id: str | None, submission: Submission,
                          zone: ZoneInfo, *, received_on: date | None = None,
                          recorded_by: int | None = None) -> tuple[Item, list[DueDate]]:
    """The item with its contact, deadlines and audit event, and its unit's officers told. Nothing is
    flushed here: submissions committed together are written with one statement a table
    (``ItemRepository.add_filed``); the item has its id once the next statement runs.

    The reception register (bot/register.py) files for a citizen who came, wrote or phoned: no chat
    (``citizen_id`` and ``chat_id`` None), ``recorded_by`` the officer, and ``received_on`` the day it
    was received, from which the deadlines count exactly as for a chat filing that day."""
    kind = submission.kind
    if kind is ItemKind.denunciation and submission.contact is None:
        kind = ItemKind.information  # anonymous denunciations are information only (Luật Tố cáo 2018, Đ.25)
    # No item without a unit: NoUnit when nobody on tiepdan acts for the commune (bot/organisation.py).
    unit_id = submission.unit_id or await unit_for(uow, submission.commune_code, submission.category)
    received_at = utcnow()
    if received_on is not None and received_on != received_at.astimezone(zone).date():
        received_at = datetime.combine(received_on, time(12), zone)  # back-dated: midday of that local day
    # 45 random bits: a code already taken is too rare to look up first. The unique constraint refuses
    # it, and the pipeline runs the step again, with a new code (handlers/pipeline.py, GroupCommit).
    item = Item(tracking_code=new_tracking_code(), kind=kind.value, category=submission.category,
                commune_code=submission.commune_code, unit_id=unit_id, citizen_id=citizen_id, channel=channel,
                chat_id=chat_id, status=ItemStatus.received.value, description=submission.description,
                photos=list(submission.photos), latitude=submission.latitude, longitude=submission.longitude,
                address=submission.address, anonymous=submission.contact is None,
                remote_area=submission.remote_area, received_at=received_at, learned_on=submission.learned_on)
    rows: dict = {}
    if submission.contact is not None:
        c = submission.contact
        rows[ItemContact.__table__] = [{"full_name": c.full_name, "address": c.address, "phone": c.phone}]
        if citizen_id is not None:  # at the desk, the officer notes the consent in the register instead
            rows[Consent.__table__] = [{"user_id": citizen_id, "purpose": CONTACT_PURPOSE,
                                        "granted_at": received_at}]
    received_on = received_at.astimezone(zone).date()
    deadlines = []
    for phase in PHASES_AT_RECEIPT[kind]:
        try:
            deadline = deadline_for(kind, phase, received_on, remote_area=submission.remote_area)
        except NoRule:
            continue
        deadlines.append(DueDate(phase.value, deadline.due_on, deadline.rule.rule_id, deadline.rule.citation))
    rows[ItemDeadline.__table__] = [{**d._asdict(), "created_at": received_at} for d in deadlines]
    rows[ItemEvent.__table__] = [{"at": received_at, "actor_id": recorded_by or citizen_id, "action": "submit",
                                  "from_status": None, "to_status": ItemStatus.received.value, "note": None,
                                  "data": {"channel": channel, **({"recorded_by": recorded_by}
                                                                  if recorded_by is not None else {})}}]
    uow.items.add_filed(item, rows)
    notify_unit(uow, item, deadlines, _forwarding_deadline(kind, received_on))
    return item, deadlines


def _forwarding_deadline(kind: ItemKind, received_on: date) -> Deadline | None:
    """By when an item the commune is not competent for must be sent on to the body that is, counted
    from receipt: 5 working days (NĐ 20/2008/NĐ-CP, Điều 9 khoản 1 điểm d; Luật Tố cáo 2018, Điều 24
    khoản 2). Only the officer can tell whether it applies, so it is told to them, not set as a clock."""
    try:
        return deadline_for(kind, Phase.forwarding, received_on)
    except NoRule:
        return None


def notify_unit(uow, item: Item, deadlines: list[DueDate], forwarding: Deadline | None = None) -> None:
    """Tell every officer of the item's unit, on each channel they use, when the transaction commits
    (the message's button needs the item's id), with the first deadline and by when to forward the item
    if it is not the commune's. No personal data of the petitioner is in the message: officers open
    the item to read it (redacted for denunciations)."""
    if item.unit_id is None:
        return
    first_due = min((d.due_on for d in deadlines), default=None)
    uow.before_commit(_tell_units).append((item, first_due, forwarding))


async def _tell_units(uow, items: list[tuple[Item, date | None, Deadline | None]]) -> None:
    """The new-item notices of every item filed in one transaction: one read of the staff, one write."""
    staff: dict[int, list[tuple[int, str, str, str]]] = {}
    for unit_id, user_id, language, channel, chat_id in await uow.users.staff_chats(
            {item.unit_id for item, _, _ in items}, UNIT_STAFF_ROLES):
        staff.setdefault(unit_id, []).append((user_id, language, channel, chat_id))
    notices = []
    for item, first_due, forwarding in items:
        for user_id, language, channel, chat_id in staff.get(item.unit_id, []):
            text = t(language, "officer.new_item", code=item.tracking_code, kind=t(language, f"kind.{item.kind}"),
                     due=first_due.strftime("%d/%m/%Y") if first_due else "—")
            if forwarding is not None:
                text += t(language, "officer.new_item_forwarding", date=forwarding.due_on.strftime("%d/%m/%Y"),
                          citation=forwarding.citation)
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


# The timeline event of information a citizen sends after the first answer to a request, before «Done».
INFO_ADDED = "info_added"


async def provide_information(uow, item: Item, citizen_id: int, text: str, photos: list[str]) -> ItemEvent:
    """The citizen answers an officer's request for information, in as many messages as they need:
    the first moves the item on (its clock runs again), the next ones are added to it while it is
    open. The item's officers are told at once each time (no personal data in the notice)."""
    if item.status == ItemStatus.waiting_info.value:
        event = await move(uow, item, Action.info_provided, actor_id=citizen_id, note=text or None,
                           data={"photos": photos}, notify=False)
    elif is_open(ItemStatus(item.status)):
        event = ItemEvent(item_id=item.id, actor_id=citizen_id, action=INFO_ADDED, note=text or None,
                          data={"photos": photos})
        uow.items.record(event)
        await uow.session.flush()
    else:
        raise IllegalTransition(ItemStatus(item.status), Action.info_provided, ItemKind(item.kind))
    item.photos = [*item.photos, *photos]
    await _tell_officers_information(uow, item, event, len(photos))
    return event


async def _tell_officers_information(uow, item: Item, event: ItemEvent, photos: int) -> None:
    """The officer assigned to the item, or else every officer of its unit, on each channel they use."""
    if item.unit_id is None:
        return
    staff = await uow.users.staff_chats({item.unit_id}, UNIT_STAFF_ROLES)
    assigned = [row for row in staff if row[1] == item.assignee_id]
    notices = []
    for _, user_id, language, channel, chat_id in assigned or staff:
        extra = t(language, "conv.officer_info_photos", count=photos) if photos else ""
        reply = Reply(t(language, "conv.officer_info", code=item.tracking_code, photos=extra),
                      ((Button(t(language, "officer.open"), f"g:oi:{item.id}"),),))
        notices.append((channel, chat_id, reply, f"info:{event.id}:{user_id}:{channel}"))
    await uow.outbox.enqueue_many(notices, item_id=item.id, at_commit=True)


async def last_contact(uow, citizen_id: int) -> tuple[str, str, str] | None:
    """The name, address and phone a citizen gave with their latest item that has all three, to be
    offered back (never filled in without their say); None when there is none (or it was erased)."""
    row = (await uow.session.execute(
        select(ItemContact.full_name, ItemContact.address, ItemContact.phone)
        .join(Item, Item.id == ItemContact.item_id)
        .where(Item.citizen_id == citizen_id, ItemContact.full_name.is_not(None), ItemContact.address.is_not(None),
               ItemContact.phone.is_not(None))
        .order_by(Item.id.desc()).limit(1))).first()
    return tuple(row) if row is not None else None


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


async def unresolved_since(uow, item: Item, zone: ZoneInfo) -> date | None:
    """The last day of a first complaint's resolution period (Luật Khiếu nại 2011, Điều 28) when it ran
    out with no decision; None while it runs, while it is suspended, or once the complaint moved on."""
    if item.kind != ItemKind.complaint_first.value or not is_open(ItemStatus(item.status)):
        return None
    running = [d for d in await uow.items.open_deadlines(item.id) if d.phase == Phase.resolution.value]
    if running and running[-1].due_on < utcnow().astimezone(zone).date():
        return running[-1].due_on
    return None


async def second_complaint_window(uow, item: Item, zone: ZoneInfo) -> Deadline | None:
    """The last day to take a first complaint to a second (Luật Khiếu nại 2011, Điều 33 khoản 1: 30
    days, 45 in remote areas), counted from the day the first decision came, or, when the period of
    Điều 28 ran out without one, from the last day of that period. None while neither has happened."""
    if item.kind != ItemKind.complaint_first.value:
        return None
    answer = await latest_answer(uow, item.id)
    start = answer.at.astimezone(zone).date() if answer else await unresolved_since(uow, item, zone)
    if start is None:
        return None
    return complaint_filing_window_ends(ItemKind.complaint_second, start, remote_area=item.remote_area)


async def file_second_complaint(uow, first: Item, citizen_id: int, reason: str, zone: ZoneInfo):
    """The second complaint, filed with the first's contact and sent to the body that decides second
    complaints; the first is escalated and its clocks stop. IllegalTransition before the first was
    decided or its period ran out; FilingWindowClosed once the 30 (45) days are over."""
    window = await second_complaint_window(uow, first, zone)
    if window is None:
        raise IllegalTransition(ItemStatus(first.status), Action.escalate, ItemKind(first.kind))
    if utcnow().astimezone(zone).date() > window.due_on:
        raise FilingWindowClosed(window.due_on)
    contact = await uow.items.contact(first.id)
    submission = Submission(
        kind=ItemKind.complaint_second, category=first.category, commune_code=first.commune_code,
        description=reason, photos=list(first.photos), latitude=first.latitude, longitude=first.longitude,
        address=first.address, remote_area=first.remote_area, unit_id=await second_complaint_unit(uow, first),
        contact=Contact(contact.full_name, contact.address, contact.phone) if contact else None)
    second, deadlines = await file_submission(uow, citizen_id, first.channel, first.chat_id, submission, zone)
    second.parent_id = first.id
    await move(uow, first, Action.escalate, actor_id=citizen_id, note=second.tracking_code, notify=False)
    return second, deadlines


def filing_limit(kind: ItemKind, on: date) -> DeadlineRule | None:
    """The time a citizen has to file a first complaint (thời hiệu khiếu nại, Luật Khiếu nại 2011,
    Điều 9: 90 days from receiving or learning of the decision), for the receipt; None for other kinds."""
    if kind is not ItemKind.complaint_first:
        return None
    try:
        return rule_for(kind, Phase.filing, on)
    except NoRule:
        return None


async def record_learned_on(uow, item: Item, citizen_id: int, learned_on: date, zone: ZoneInfo) -> Deadline:
    """The complainant says when they received or learned of the contested decision: the end of their
    90 days (Luật Khiếu nại 2011, Điều 9), kept on the item and in its timeline for the officer who
    decides on acceptance (a complaint filed late is not accepted unless an obstacle kept the citizen
    from it, Điều 9, Điều 11). Given again, the later answer stands."""
    window = complaint_filing_window_ends(ItemKind(item.kind), learned_on, remote_area=item.remote_area)
    filed_on = item.received_at.astimezone(zone).date()
    item.learned_on = learned_on
    uow.items.record(ItemEvent(item_id=item.id, actor_id=citizen_id, action="learned_on",
                               note=t("vi", "event.learned_on_note", learned=learned_on, ends=window.due_on,
                                      citation=window.citation),
                               data={"learned_on": learned_on.isoformat(), "ends": window.due_on.isoformat(),
                                     "late": filed_on > window.due_on}))
    return window


def local_date(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%d/%m/%Y")
