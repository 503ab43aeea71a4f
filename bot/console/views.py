"""An item as the console shows it to one reader: only what the policy lets them see (a denouncer's
identity never; a petitioner's contact only with ``may_see_contact``) and only the actions they may
take now. Plain values for the template; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot import policy
from bot.domain.kinds import ItemKind
from bot.domain.provinces import province_of
from bot.domain.workflow import Action, ItemStatus, allowed_actions
from bot.officers import unit_officers
from bot.organisation import province_units
from bot.petitions import categories_for
from bot.policy import Permission
from bot.texts import has, t
from handlers.officer import NEEDS_TEXT, OFFICER_ACTIONS, _permission as permission_for
from handlers.wording import in_reading_order, statutory
from storage.models import User


@dataclass
class ItemView:
    id: int
    code: str
    kind: str
    kind_label: str
    category: str
    status: str
    status_label: str
    unit: str
    assignee: str
    received: str
    description: str
    photos: list[str] = field(default_factory=list)  # URLs the browser may load (its /media checks again)
    photos_elsewhere: int = 0
    map_url: str | None = None
    location: str | None = None
    address: str | None = None
    sender: str = ""
    deadlines: list[dict] = field(default_factory=list)
    timeline: list[dict] = field(default_factory=list)
    actions: list[dict] = field(default_factory=list)
    assignees: list[tuple[int, str]] = field(default_factory=list)
    targets: list[tuple[int, str]] = field(default_factory=list)
    especially_found: bool = False
    may_reveal: bool = False


def _status(language: str, status: str) -> str:
    key = f"conv.officer_status.{status}"
    return t(language, key) if has(key) else t(language, f"status.{status}")


def phase_label(language: str, name: str) -> str:
    key = f"conv.officer_phase.{name}"
    return t(language, key) if has(key) else t(language, f"phase.{name}")


async def _sender(uow, actor, item, language: str) -> str:
    """As the chat's officer screen words it (handlers/officer.py ``_sender``)."""
    if ItemKind(item.kind).identity_secret:
        return t(language, "officer.identity_protected")
    if not item.anonymous and not policy.may_see_contact(actor, item):
        return t(language, "oversight.contact_withheld")
    contact = await uow.items.contact(item.id) if policy.may_see_contact(actor, item) else None
    if contact is None:
        return t(language, "officer.anonymous")
    return t(language, "officer.sender", name=contact.full_name, address=contact.address, phone=contact.phone)


async def item_view(uow, actor, item, language: str, zone, today: date) -> ItemView:
    labels = {c.key: c.label(language) for c in await categories_for(uow, item.commune_code)}
    unit = await uow.units.get(item.unit_id) if item.unit_id is not None else None
    assignee = await uow.session.get(User, item.assignee_id) if item.assignee_id is not None else None
    photos = [f"/media/{ref[4:]}" for ref in item.photos if ref.startswith("web:")]
    photos += [ref for ref in item.photos if ref.startswith("https://")]
    view = ItemView(
        id=item.id, code=item.tracking_code, kind=item.kind, kind_label=t(language, f"kind.{item.kind}"),
        category=labels.get(item.category, item.category), status=item.status,
        status_label=_status(language, item.status), unit=unit.name if unit else "—",
        assignee=(assignee.display_name or f"#{assignee.id}") if assignee else "—",
        received=item.received_at.astimezone(zone).strftime("%d/%m/%Y %H:%M"), description=item.description,
        photos=photos, photos_elsewhere=len(item.photos) - len(photos), address=item.address,
        sender=await _sender(uow, actor, item, language), especially_found=item.especially_complex)
    if item.latitude is not None and item.longitude is not None:
        lat, lon = f"{item.latitude:.5f}", f"{item.longitude:.5f}"
        view.location = f"{lat}, {lon}"
        view.map_url = f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=18/{lat}/{lon}"
    for deadline in in_reading_order(await uow.items.open_deadlines(item.id)):
        view.deadlines.append({"phase": phase_label(language, deadline.phase), "due": deadline.due_on.strftime("%d/%m/%Y"),
                               "overdue": deadline.due_on < today, "legal": statutory(deadline),
                               "citation": deadline.citation})
    names = {}
    for event in await uow.items.events(item.id):
        if event.actor_id is not None and event.actor_id not in names:
            person = await uow.session.get(User, event.actor_id)
            staff = person is not None and person.role != "citizen"
            names[event.actor_id] = (person.display_name or t(language, f"role.{person.role}")) if staff else \
                t(language, "desk.item.petitioner")
        action = next((t(language, key) for key in (f"officer.event_name.{event.action}", f"event.{event.action}")
                       if has(key)), event.action)
        attachments = [f"/media/{ref[4:]}" for ref in (event.data or {}).get("attachments", []) if ref.startswith("web:")]
        view.timeline.append({"at": event.at.astimezone(zone).strftime("%d/%m/%Y %H:%M"), "action": action,
                              "who": names.get(event.actor_id, "—"),
                              # a reveal's reason stays with the audit, as in the chat
                              "note": event.note if event.note and event.action != "reveal_identity" else "",
                              "attachments": attachments})
    for action in allowed_actions(ItemStatus(item.status), ItemKind(item.kind)):
        if action in OFFICER_ACTIONS and policy.may_act(actor, permission_for(action), item):
            view.actions.append({"name": action.value, "label": t(language, f"officer.action.{action.value}"),
                                 "text": action in NEEDS_TEXT or action is Action.forward,
                                 "photos": action is Action.answer,
                                 "especially": action is Action.extend and item.kind == ItemKind.denunciation.value})
    view.may_reveal = policy.may_reveal(actor, item)
    if policy.may_act(actor, Permission.assign, item) and item.unit_id is not None:
        view.assignees = [(o.id, o.display_name or f"#{o.id}") for o in await unit_officers(uow, item.unit_id)]
    if any(a["name"] == Action.forward.value for a in view.actions):
        units = [*await uow.units.for_commune(item.commune_code),
                 *await province_units(uow, province_of(item.commune_code))]
        view.targets = [(u.id, u.name) for u in units if u.id != item.unit_id]
    return view
