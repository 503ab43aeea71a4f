"""Verified residents: whose consultation votes make the official tally (bot/domain/voters.py).

Two ways to become one:
- ``verify_by_platform``: the person shared their own phone number through their platform (Telegram's
  request_contact button, whose contact names the sender's own account; the Zalo OA's user-info card).
  The same number from Telegram and from Zalo is the same person, so they are keyed by the number:
  an HMAC-SHA256 of its E.164 form under a key kept in the database (every process shares it), so a
  leaked table does not give the numbers back. The number itself is never stored and never logged.
- ``verify_in_person``: an officer of the commune checked the person's papers at reception, on the
  screen of an item the person filed from their chat; an audit event on the item names the officer.

Either one counts the person's votes in open consultations again (bot/consultations.py).
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import delete, select

from bot.consultations import forget_voter, recount
from bot.domain.communes import commune_label
from bot.domain.dialog import Reply
from bot.domain.kinds import ItemKind
from bot.domain.voters import e164
from bot.officers import NotAllowed, is_staff
from bot.texts import t
from storage.app_secrets import shared_secret
from storage.models import Consent, Item, ItemEvent, Resident, User, utcnow

PHONE_KEY = "resident_phone_key"  # made by migration 0014
PURPOSE = "resident_verification"  # the consent the person gives by sharing their number


class OutsideCommune(PermissionError):
    """The citizen is not of the officer's commune: an officer vouches only for their own."""


async def _phone_key(session) -> bytes:
    return (await shared_secret(session, PHONE_KEY)).encode()


def phone_digest(key: bytes, number: str) -> str:
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()


async def _resident(session, user_id: int) -> Resident:
    resident = await session.get(Resident, user_id)
    if resident is None:
        resident = Resident(user_id=user_id)
        session.add(resident)
    return resident


async def checked_in_person(session, user_id: int, commune_code: int) -> bool:
    resident = await session.get(Resident, user_id)
    return resident is not None and resident.checked_in_commune == commune_code


async def verify_by_platform(uow, user: User, channel: str, phone: str) -> bool:
    """``phone``: a number the platform vouches is ``user``'s own. False when it is not a number."""
    number = e164(phone)
    if number is None:
        return False
    session = uow.session
    resident = await _resident(session, user.id)
    resident.phone_digest = phone_digest(await _phone_key(session), number)
    resident.phone_channel, resident.phone_verified_at = channel, utcnow()
    consented = (await session.execute(select(Consent.id).where(
        Consent.user_id == user.id, Consent.purpose == PURPOSE, Consent.withdrawn_at.is_(None)))).first()
    if consented is None:
        session.add(Consent(user_id=user.id, purpose=PURPOSE))
    await session.flush()
    await recount(uow, user)
    return True


async def verify_in_person(uow, officer: User, item_id: int) -> tuple[Item, User]:
    """The officer checked, at the commune's reception, the papers of the person who filed ``item_id``
    from their chat. Only for the officer's own commune (their unit's, not the one their menus show):
    the item's and the citizen's."""
    item = await uow.items.get(item_id)
    unit = await uow.units.get(officer.unit_id) if is_staff(officer) and officer.unit_id is not None else None
    commune = unit.commune_code if unit is not None else None
    if (item is None or commune is None or item.commune_code != commune or item.citizen_id is None
            # An anonymous item's filer is nobody the officer may put a name to; a denouncer's identity
            # is kept from the officers who handle the case (Luật Tố cáo 2018, Đ.47).
            or item.anonymous or item.kind == ItemKind.denunciation.value):
        raise NotAllowed(item_id)
    citizen = await uow.users.get(item.citizen_id)
    if citizen is None or citizen.commune_code != commune:
        raise OutsideCommune(item_id)
    resident = await _resident(uow.session, citizen.id)
    resident.checked_in_commune, resident.checked_by, resident.checked_at = commune, officer.id, utcnow()
    uow.items.record(ItemEvent(item_id=item.id, actor_id=officer.id, action="resident_verified",
                               data={"commune": commune}))
    if item.chat_id is not None:
        notice = Reply(t(citizen.language, "resident.checked_in_person", commune=commune_label(commune)))
        await uow.outbox.enqueue(item.channel, item.chat_id, notice, item_id=item.id,
                                 dedupe_key=f"resident-checked:{item.id}:{citizen.id}:{officer.id}")
    await uow.session.flush()
    await recount(uow, citizen)
    return item, citizen


async def forget_resident(uow, user: User) -> None:
    """Erasure (Law 91/2025/QH15): the verification and the hash of the number go."""
    await forget_voter(uow, user)
    await uow.session.execute(delete(Resident).where(Resident.user_id == user.id))
