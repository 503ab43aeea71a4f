"""What tiepdan stores about a citizen, and erasing it (Law 91/2025/QH15 on personal data protection).

Erasing removes the contact details given with items, withdraws the consents, deletes the photos the
citizen uploaded, forgets the chat identities, conversation and chat history, and detaches the items:
the items themselves stay (the commune must keep its petition records) but no longer point to anyone
nor to any photo of theirs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, delete, func, or_, select, update

from storage.models import (
    Attachment,
    ChannelIdentity,
    Consent,
    ConversationState,
    Item,
    ItemContact,
    ItemEvent,
    OutboxMessage,
    ReceptionRegistration,
    Subscription,
    ZaloUnfollow,
    utcnow,
)


@dataclass
class PersonalData:
    language: str
    commune_code: int | None
    channels: list[str]
    items: int
    contacts: list[tuple[str, str | None, str | None, str | None]]  # (tracking code, name, address, phone)
    consents: list[str]
    subscriptions: int


async def personal_data(uow, user) -> PersonalData:
    session = uow.session
    channels = (await session.execute(select(ChannelIdentity.channel).where(ChannelIdentity.user_id == user.id))).scalars()
    items = (await session.execute(select(func.count(Item.id)).where(Item.citizen_id == user.id))).scalar_one()
    contacts = (await session.execute(
        select(Item.tracking_code, ItemContact.full_name, ItemContact.address, ItemContact.phone)
        .join(ItemContact, ItemContact.item_id == Item.id).where(Item.citizen_id == user.id).order_by(Item.id))).all()
    consents = (await session.execute(select(Consent.purpose).where(
        Consent.user_id == user.id, Consent.withdrawn_at.is_(None)).distinct())).scalars()
    subscriptions = (await session.execute(
        select(func.count(Subscription.id)).where(Subscription.user_id == user.id))).scalar_one()
    return PersonalData(user.language, user.commune_code, sorted(set(channels)), items,
                        [tuple(row) for row in contacts], list(consents), subscriptions)


async def _erase_photos(session, user, web_chats: set[str]) -> None:
    """The photos the citizen sent: uploads from their web chats (with an item or never sent) and those
    their items refer to, and every reference their items and their additions to them keep (a Telegram
    file id or a Zalo link of theirs too). An officer's answer photos are the commune's and stay."""
    items = list((await session.execute(select(Item).where(Item.citizen_id == user.id))).scalars())
    refs = {ref for item in items for ref in item.photos or ()}
    for item in items:
        item.photos = []
    if items:
        additions = (await session.execute(select(ItemEvent).where(
            ItemEvent.item_id.in_([item.id for item in items]), ItemEvent.actor_id == user.id))).scalars()
        for event in additions:
            if (event.data or {}).get("photos"):
                refs.update(event.data["photos"])
                event.data = {key: value for key, value in event.data.items() if key != "photos"}
    keys = [ref[4:] for ref in refs if ref.startswith("web:")]
    await session.execute(delete(Attachment).where(or_(
        Attachment.key.in_(keys), and_(Attachment.channel == "web", Attachment.chat_id.in_(web_chats)))))


async def erase_personal_data(uow, user) -> None:
    session = uow.session
    identities = (await session.execute(
        select(ChannelIdentity.channel, ChannelIdentity.external_id, ChannelIdentity.last_chat_id)
        .where(ChannelIdentity.user_id == user.id))).all()
    web_chats = {chat for channel, external_id, last_chat_id in identities if channel == "web"
                 for chat in (external_id, last_chat_id) if chat}
    await _erase_photos(session, user, web_chats)
    item_ids = select(Item.id).where(Item.citizen_id == user.id).scalar_subquery()
    await session.execute(delete(ItemContact).where(ItemContact.item_id.in_(item_ids)))
    await session.execute(update(Item).where(Item.citizen_id == user.id)
                          .values(citizen_id=None, chat_id=None, anonymous=True))
    await session.execute(update(Consent).where(Consent.user_id == user.id, Consent.withdrawn_at.is_(None))
                          .values(withdrawn_at=utcnow()))
    await session.execute(delete(Subscription).where(Subscription.user_id == user.id))
    await session.execute(delete(ReceptionRegistration).where(ReceptionRegistration.user_id == user.id))
    for channel, external_id, chat_id in identities:
        if channel == "zalo":
            await session.execute(delete(ZaloUnfollow).where(ZaloUnfollow.user_id == external_id))
        if chat_id:
            # The chat's history: delivered messages, and those Zalo held or nobody could deliver.
            # Messages still on their way (this answer among them) are left to go out.
            await session.execute(delete(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id,
                OutboxMessage.status.in_(("sent", "held", "failed"))))
            await session.execute(delete(ConversationState).where(
                ConversationState.channel == channel, ConversationState.chat_id == chat_id))
    await session.execute(delete(ChannelIdentity).where(ChannelIdentity.user_id == user.id))
    user.display_name = None
    user.commune_code = None
