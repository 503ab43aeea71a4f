"""What anonymous traffic leaves behind is not kept for ever (a daily job).

Anyone can open the web chat, and each browser that writes gets a person, an identity, a
conversation and its messages. Those of a browser that never filed, consented, subscribed,
registered or voted and has not come back for ``TIEPDAN_RETENTION_ANONYMOUS_DAYS`` are deleted;
so are photos uploaded but never attached to an item or an answer (a cancelled submission) after
``TIEPDAN_RETENTION_UPLOAD_HOURS``. Inbound delivery records go after a week (scheduler/jobs.py).
Items, their events and their photos are the commune's records and are never touched here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import String, and_, cast, delete, exists, func, or_, select
from sqlalchemy.orm import aliased

from storage.models import (
    Attachment,
    ChannelIdentity,
    Consent,
    ConsultationVote,
    ConversationState,
    Invite,
    Item,
    ItemEvent,
    OutboxMessage,
    ReceptionRegistration,
    Resident,
    StaffEvent,
    Subscription,
    User,
    utcnow,
)

log = logging.getLogger(__name__)
BATCH = 500  # rows a transaction: a long purge never holds locks long


@dataclass
class Purged:
    anonymous_people: int = 0
    uploads: int = 0


def _abandoned_web_people(cutoff):
    """Web chat people with nothing of theirs the commune must keep, unseen since ``cutoff``."""
    other = aliased(ChannelIdentity)
    owns = [exists().where(Item.citizen_id == User.id), exists().where(Consent.user_id == User.id),
            exists().where(Subscription.user_id == User.id), exists().where(ReceptionRegistration.user_id == User.id),
            exists().where(ConsultationVote.user_id == User.id),
            exists().where(and_(other.user_id == User.id, other.channel != "web")),
            exists().where(ItemEvent.actor_id == User.id), exists().where(Resident.user_id == User.id),
            # anyone who was ever staff stays: their sessions and audit events are records too
            exists().where(Invite.used_by == User.id), exists().where(StaffEvent.user_id == User.id)]
    return (select(User.id, ChannelIdentity.external_id).join(ChannelIdentity, ChannelIdentity.user_id == User.id)
            .where(ChannelIdentity.channel == "web", ChannelIdentity.last_seen_at < cutoff, User.role == "citizen",
                   *[~condition for condition in owns])
            .limit(BATCH))


async def purge_anonymous(uows, *, older_than: timedelta) -> int:
    cutoff, removed = utcnow() - older_than, 0
    while True:
        async with uows() as uow:
            people = (await uow.session.execute(_abandoned_web_people(cutoff))).all()
            if not people:
                return removed
            user_ids, chats = [p for p, _ in people], [chat for _, chat in people]
            await uow.session.execute(delete(OutboxMessage).where(OutboxMessage.channel == "web",
                                                                  OutboxMessage.chat_id.in_(chats)))
            await uow.session.execute(delete(ConversationState).where(ConversationState.channel == "web",
                                                                      ConversationState.chat_id.in_(chats)))
            await uow.session.execute(delete(Attachment).where(Attachment.channel == "web",
                                                               Attachment.chat_id.in_(chats)))
            await uow.session.execute(delete(ChannelIdentity).where(ChannelIdentity.user_id.in_(user_ids)))
            await uow.session.execute(delete(User).where(User.id.in_(user_ids)))
            await uow.commit()
            removed += len(user_ids)


async def _referenced(session, attachment: Attachment) -> bool:
    """Whether the photo is part of an item, an answer, or a draft still open in its chat."""
    ref = f"web:{attachment.key}"
    if attachment.channel == "console":  # an officer's upload in the staff console: chat_id is their user id
        uploader = select(User.id).where(User.id == (int(attachment.chat_id) if attachment.chat_id.isdigit() else -1))
    else:
        uploader = select(ChannelIdentity.user_id).where(ChannelIdentity.channel == attachment.channel,
                                                         ChannelIdentity.external_id == attachment.chat_id)
    in_item = exists().where(Item.citizen_id.in_(uploader), cast(Item.photos, String).contains(ref, autoescape=True))
    in_event = exists().where(ItemEvent.actor_id.in_(uploader),
                              cast(ItemEvent.data, String).contains(ref, autoescape=True))
    in_draft = exists().where(ConversationState.channel == attachment.channel,
                              ConversationState.chat_id == attachment.chat_id,
                              cast(ConversationState.data, String).contains(ref, autoescape=True))
    return bool((await session.execute(select(or_(in_item, in_event, in_draft)))).scalar())


async def purge_orphan_uploads(uows, *, older_than: timedelta) -> int:
    cutoff, removed, after = utcnow() - older_than, 0, 0
    while True:
        async with uows() as uow:
            batch = (await uow.session.execute(
                select(Attachment.id, Attachment.key, Attachment.channel, Attachment.chat_id)
                .where(Attachment.created_at < cutoff, Attachment.id > after).order_by(Attachment.id).limit(BATCH)
            )).all()
            if not batch:
                return removed
            after = batch[-1].id
            orphans = [row.id for row in batch if not await _referenced(uow.session, row)]
            if orphans:
                await uow.session.execute(delete(Attachment).where(Attachment.id.in_(orphans)))
                await uow.commit()
                removed += len(orphans)


async def purge(uows, *, anonymous_days: int, upload_hours: int) -> Purged:
    report = Purged(await purge_anonymous(uows, older_than=timedelta(days=anonymous_days)),
                    await purge_orphan_uploads(uows, older_than=timedelta(hours=upload_hours)))
    if report.anonymous_people or report.uploads:
        log.info("retention: removed %d abandoned anonymous web chats and %d unattached photos",
                 report.anonymous_people, report.uploads)
    return report


async def stored_counts(uows) -> dict[str, int]:
    """Rows of the tables anonymous traffic grows, for the tests and the operator."""
    async with uows() as uow:
        counts = {}
        for name, model in (("users", User), ("identities", ChannelIdentity), ("conversations", ConversationState),
                            ("outbox", OutboxMessage), ("attachments", Attachment)):
            counts[name] = (await uow.session.execute(select(func.count()).select_from(model))).scalar_one()
        return counts
