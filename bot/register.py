"""The reception register (sổ tiếp công dân): what an officer records for a citizen who came to the
office, wrote a letter or phoned, and the reception meetings (the chairman's periodic reception, a
recurring dialogue) with attendance, the items raised and minutes.

A visit is filed as an item through ``petitions.file_submission``, the chat's own path, dated the day
it was received: its deadlines are then those of a chat filing that day (the legal clocks start at
receipt). Its row follows the columns of Mẫu số 03/TCD «Sổ tiếp công dân» of Nghị định 154/2026/NĐ-CP
(Phụ lục; Điều 29 khoản 1: every reception is written into the register, on paper or electronic). A
denouncer's identity goes only to the item's contact, never to the register row, which every officer of
the commune reads (Luật Tố cáo 2018, Điều 47). Published minutes carry no personal data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select

from bot import policy
from bot.domain.kinds import ItemKind
from bot.officers import NotAllowed, actor_for, items_within
from bot.organisation import is_remote, unit_for
from bot.petitions import Contact, DueDate, Submission, file_submission
from bot.policy import Level
from bot.staff_sessions import record
from storage.models import Item, ReceptionSession, Unit, User, utcnow
from storage.models_desk import ReceptionEntry, ReceptionMeeting

FORMS = ("walk_in", "letter", "phone")
BACKDATE_LIMIT = timedelta(days=365)  # older papers are an archive's work, not a register entry
MAX_CO = 50


class Invalid(ValueError):
    """What the officer must correct, as a text key of the desk area (and its values)."""

    def __init__(self, key: str, **values):
        super().__init__(key)
        self.key, self.values = key, values


@dataclass
class Visit:
    form: str
    received_on: date
    kind: ItemKind
    category: str
    summary: str
    person_name: str = ""
    person_address: str = ""
    phone: str = ""
    id_document: str = ""
    representative: str = ""
    co_complainants: list[str] = field(default_factory=list)
    consent_noted: bool = False
    settled_by: str = ""
    within_competence: bool = True
    guidance: str = ""
    note: str = ""
    meeting_id: int | None = None
    address: str = ""  # where the matter is


def check(visit: Visit, today: date) -> None:
    if visit.form not in FORMS:
        raise Invalid("desk.register.bad_form")
    if visit.received_on > today:
        raise Invalid("desk.register.future")
    if visit.received_on < today - BACKDATE_LIMIT:
        raise Invalid("desk.register.too_old", days=BACKDATE_LIMIT.days)
    if len(visit.summary) < 10:
        raise Invalid("desk.register.summary_short", minimum=10)
    # a complaint names its sender (Luật Khiếu nại 2011, Điều 8); a denunciation without one is information
    if visit.kind.requires_identity and not visit.kind.identity_secret and not (visit.person_name and visit.person_address):
        raise Invalid("desk.register.identity_needed", kind=visit.kind.value)
    if (visit.co_complainants or visit.representative) and not visit.consent_noted:
        raise Invalid("desk.register.consent_needed")
    if len(visit.co_complainants) > MAX_CO:
        raise Invalid("desk.register.too_many", limit=MAX_CO)


async def record_visit(uow, officer: User, commune_code: int, visit: Visit, zone: ZoneInfo
                       ) -> tuple[ReceptionEntry, Item, list[DueDate]]:
    """File the visit as an item dated the day received, and write its register row. NotAllowed unless
    the policy lets ``officer`` receive citizens for ``commune_code`` (``policy.may_receive``)."""
    check(visit, utcnow().astimezone(zone).date())
    if not policy.may_receive(await actor_for(uow, officer), commune_code):
        raise NotAllowed(commune_code)
    unit_id = await unit_for(uow, commune_code, visit.category)
    meeting = None
    if visit.meeting_id is not None:
        meeting = await uow.session.get(ReceptionMeeting, visit.meeting_id)
        if meeting is None or meeting.commune_code != commune_code:
            raise NotAllowed(visit.meeting_id)
    contact = Contact(visit.person_name, visit.person_address, visit.phone) if visit.person_name else None
    submission = Submission(kind=visit.kind, category=visit.category, commune_code=commune_code,
                            description=visit.summary, address=visit.address or None, contact=contact,
                            remote_area=await is_remote(uow, commune_code), unit_id=unit_id)
    item, deadlines = await file_submission(uow, None, "reception", None, submission, zone,
                                            received_on=visit.received_on, recorded_by=officer.id)
    secret = ItemKind(item.kind).identity_secret
    entry = ReceptionEntry(
        commune_code=commune_code, meeting_id=meeting.id if meeting else None, form=visit.form,
        received_on=visit.received_on,
        # a denouncer's identity is on the item's contact only, which the audited reveal opens
        person_name=None if secret else (visit.person_name or None),
        person_address=None if secret else (visit.person_address or None),
        id_document=None if secret else (visit.id_document or None),
        representative=None if secret else (visit.representative or None),
        co_complainants=[] if secret else visit.co_complainants, people=1 + len(visit.co_complainants),
        consent_noted=visit.consent_noted, summary=visit.summary, settled_by=visit.settled_by or None,
        within_competence=visit.within_competence, guidance=visit.guidance or None, note=visit.note or None,
        recorded_by=officer.id)
    await uow.session.flush()  # the item's id, for the row
    entry.item_id = item.id
    uow.session.add(entry)
    return entry, item, deadlines


# -- reading the register ---------------------------------------------------------------------------
@dataclass
class RegisterRow:
    number: int
    entry: ReceptionEntry
    item: Item | None
    unit: str
    identity: tuple[str, str, str] | None  # name, address, representative; None: withheld from this reader


async def register_rows(uow, officer: User, first: date, last: date) -> list[RegisterRow]:
    """The register between two days, as ``officer`` may read it: rows of items in their scope (a
    commune's whole register for a commune role) and the rows they recorded themselves; a person's data
    only where the policy shows the item's contact to them, or to the officer who wrote it down."""
    actor = await actor_for(uow, officer)
    scope = policy.inbox_scope(actor)
    within = or_(items_within(scope), ReceptionEntry.recorded_by == officer.id)
    if scope.level is Level.commune:  # entries with no item (guidance only) are the commune's
        within = or_(within, and_(ReceptionEntry.item_id.is_(None), ReceptionEntry.commune_code == scope.commune_code))
    rows = (await uow.session.execute(
        select(ReceptionEntry, Item, Unit.name).outerjoin(Item, Item.id == ReceptionEntry.item_id)
        .outerjoin(Unit, Unit.id == Item.unit_id)
        .where(ReceptionEntry.received_on >= first, ReceptionEntry.received_on <= last, within)
        .order_by(ReceptionEntry.received_on, ReceptionEntry.id))).all()
    result = []
    for number, (entry, item, unit) in enumerate(rows, start=1):
        shown = entry.recorded_by == officer.id or (
            policy.may_see_contact(actor, item) if item is not None else actor.grants.level is Level.commune)
        result.append(RegisterRow(number, entry, item, unit or "", _identity(entry) if shown else None))
    return result


def _identity(entry: ReceptionEntry) -> tuple[str, str, str]:
    return entry.person_name or "", entry.person_address or "", entry.representative or ""


# -- meetings -------------------------------------------------------------------------------------------
def may_keep_register(actor: policy.Actor, commune_code: int | None) -> bool:
    """Meetings are the commune's: recorded by whoever receives citizens for it."""
    return policy.may_receive(actor, commune_code)


async def record_meeting(uow, officer: User, *, title: str, held_on: date, chaired_by: str,
                         attendance: list[dict], minutes: str, session_id: int | None = None) -> ReceptionMeeting:
    actor = await actor_for(uow, officer)
    if not may_keep_register(actor, actor.commune_code):
        raise NotAllowed(0)
    if session_id is not None:
        session = await uow.session.get(ReceptionSession, session_id)
        if session is None or session.commune_code != actor.commune_code:
            raise NotAllowed(session_id)
    if len(title.strip()) < 3 or len(chaired_by.strip()) < 2:
        raise Invalid("desk.meeting.title_needed")
    meeting = ReceptionMeeting(session_id=session_id, commune_code=actor.commune_code, title=title.strip()[:300],
                               held_on=held_on, chaired_by=chaired_by.strip()[:200], attendance=attendance[:500],
                               minutes=minutes.strip()[:20000], recorded_by=officer.id)
    uow.session.add(meeting)
    await uow.session.flush()
    return meeting


async def published_sessions(uow, commune_code: int | None, limit: int = 50) -> list[ReceptionSession]:
    """The commune's published reception sessions, newest first: those a recorded meeting may be."""
    return list((await uow.session.execute(
        select(ReceptionSession).where(ReceptionSession.commune_code == commune_code,
                                       ReceptionSession.published_at.is_not(None))
        .order_by(ReceptionSession.starts_at.desc()).limit(limit))).scalars())


async def meeting_for(uow, officer: User, meeting_id: int) -> ReceptionMeeting:
    meeting = await uow.session.get(ReceptionMeeting, meeting_id)
    actor = await actor_for(uow, officer)
    if meeting is None or not (may_keep_register(actor, meeting.commune_code)
                               or policy.inbox_scope(actor).covers(None, meeting.commune_code)):
        raise NotAllowed(meeting_id)
    return meeting


async def meeting_entries(uow, meeting_id: int) -> list[tuple[ReceptionEntry, Item | None]]:
    return list((await uow.session.execute(
        select(ReceptionEntry, Item).outerjoin(Item, Item.id == ReceptionEntry.item_id)
        .where(ReceptionEntry.meeting_id == meeting_id).order_by(ReceptionEntry.id))).all())


PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
ID_NUMBER = re.compile(r"(?<!\d)\d{9,12}(?!\d)")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
REDACTED = "[…]"


def public_minutes(minutes: str, names: list[str]) -> str:
    """The minutes with personal data taken out: every attendee's and petitioner's name (longest first,
    so a full name goes before a part of it), phone and ID numbers, e-mail addresses."""
    text = minutes
    for name in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = re.sub(re.escape(name), REDACTED, text, flags=re.IGNORECASE)
    for pattern in (EMAIL, PHONE, ID_NUMBER):
        text = pattern.sub(REDACTED, text)
    return text


async def publish_minutes(uow, officer: User, meeting_id: int) -> ReceptionMeeting:
    """Publish the meeting's minutes, redacted; an audit event records who published them."""
    meeting = await meeting_for(uow, officer, meeting_id)
    if not may_keep_register(await actor_for(uow, officer), meeting.commune_code):
        raise NotAllowed(meeting_id)
    names = [person.get("name", "") for person in meeting.attendance] + [meeting.chaired_by]
    for entry, _ in await meeting_entries(uow, meeting.id):
        names += [entry.person_name or "", entry.representative or "", *entry.co_complainants]
    meeting.public_minutes = public_minutes(meeting.minutes, names)
    meeting.published_at = utcnow()
    record(uow, officer.id, "minutes_published", meeting_id=meeting.id)
    return meeting


async def entry_for(uow, officer: User, entry_id: int) -> tuple[ReceptionEntry, Item | None, bool]:
    """A register row for its receipt page: to the officer who recorded it, or to whoever may see its
    item; with whether the reader may open the item itself."""
    entry = await uow.session.get(ReceptionEntry, entry_id)
    if entry is None:
        raise NotAllowed(entry_id)
    actor = await actor_for(uow, officer)
    item = await uow.items.get(entry.item_id) if entry.item_id is not None else None
    sees_item = item is not None and policy.may_see_item(actor, item)
    if entry.recorded_by != officer.id and not sees_item:
        raise NotAllowed(entry_id)
    return entry, item, sees_item
